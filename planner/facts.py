"""Facts: a sized plan flattened into the records the rules engine reasons over.

Each fact is a flat dict with ``kind`` and ``id``; numbers are plain floats or ints and
comparisons that need two fields are precomputed here (``headroom_gap``,
``ttft_margin_ms``), so rule conditions stay simple patterns. A rule pack author can
rely on the kinds and fields documented in ``docs/rules.md``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from planner.brownfield import existing_fleet, existing_for
from planner.catalog import Catalog
from planner.decision import FleetDecision, PoolDecision
from planner.performance_models import BUILTIN
from planner.resolve import ResolvedPlan
from planner.sizing.capacity import size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import calibrated_range
from planner.sizing.estimate import estimate
from planner.sizing.fleet import FleetSizing, size_fleet
from planner.sizing.pins import nearest_divisor
from planner.sizing.plan_sizing import PlanSizing
from planner.sizing.search import candidate_deployments, gpu_runs, search
from planner.traffic import SPREAD_ORDER, demand_of, sizing_shape, spread_needed

Fact = dict[str, Any]

#: Licences known to forbid commercial use, and user caps of licences that have one
#: (Llama 2/3.x/4 community licences: 700 million monthly active users).
NON_COMMERCIAL_LICENCES = ("cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0", "research-only", "non-commercial")
USER_CAPS = {"llama2": 700_000_000, "llama3": 700_000_000, "llama3.1": 700_000_000, "llama3.2": 700_000_000,
             "llama3.3": 700_000_000, "llama4": 700_000_000}  # fmt: skip
#: KV transports that move the cache over RDMA (NIXL picks UCX/RDMA under the hood).
RDMA_TRANSPORTS = ("rdma", "nixl", "ucx", "mooncake", "nvlink")
#: Inter-node fabrics without RDMA, too slow for expert all-to-all (an unspecified fabric is sized
#: as InfiniBand, as the search assumes).
SLOW_FABRICS = ("ethernet", "none")


def _fact(kind: str, **fields: Any) -> Fact:
    return {"kind": kind, "id": kind, **{k: _plain(v) for k, v in fields.items()}}


def _plain(value: Any) -> Any:
    """The rules engine stores JSON: no None (use -1 / ''), floats rounded for stable text."""
    if value is None:
        return -1
    if isinstance(value, float):
        return round(value, 6)
    return value


def evaluated_deployment(
    resolved: ResolvedPlan, catalog: Catalog, sizing: PlanSizing
) -> tuple[Deployment | None, FleetSizing | None]:
    """The deployment the facts describe: the chosen one, else the first the plan allows (built-in model)."""
    if sizing.best is not None:
        return sizing.best.sizing.deployment, sizing.best.sizing
    first = next(iter(candidate_deployments(resolved, catalog)), None)
    return first, (size_fleet(first, BUILTIN, demand_of(resolved.plan)) if first else None)


def plan_facts(resolved: ResolvedPlan, catalog: Catalog, sizing: PlanSizing) -> list[Fact]:
    """Build every fact for one sized plan."""
    plan = resolved.plan
    dep, fleet = evaluated_deployment(resolved, catalog, sizing)
    facts = [
        _workload(resolved),
        _traffic(resolved),
        _slo(resolved),
        _observability(resolved),
        _baseline(resolved),
        _exit(resolved),
        _licence(resolved),
        _precision(resolved),
        _parallelism(resolved, dep, fleet),
        _disaggregation(resolved, sizing),
        _cost(resolved, sizing),
        _sizing(sizing),
    ]
    if dep is not None and fleet is not None:
        fleet_fact = _fleet(resolved, dep, fleet, sizing.best.decision if sizing.best else None)
        facts += [fleet_fact, _prediction(resolved, dep, fleet), _knobs(resolved, dep)]
    facts += _efficiency_overrides(resolved)
    if plan.hardware.gpu and sizing.best is not None:
        facts.append(_cheaper_class(resolved, catalog, sizing))
    return facts


def _workload(r: ResolvedPlan) -> Fact:
    w, slo = r.plan.workload, r.plan.slo
    _, _, used = sizing_shape(r.plan)
    only_averages = not w.has_percentiles
    return _fact(
        "workload",
        has_p95=w.has_percentiles,
        only_averages=only_averages,
        sizing_percentile=used,
        slo_percentile=float(slo.percentile),
        percentile_gap=float(slo.percentile) - used,
        context_p95=w.context_p95_tokens,
        model=r.model.id,
        model_max_context=r.model.max_context,
        context_exceeds_model=w.context_p95_tokens > r.model.max_context,
    )


def _traffic(r: ResolvedPlan) -> Fact:
    t = r.plan.traffic
    return _fact(
        "traffic",
        headroom=t.headroom,
        required_headroom=t.required_headroom,
        headroom_gap=t.required_headroom - t.headroom,
        explicit_headroom=t.provisioning_headroom is not None,
        growth=t.growth if t.growth is not None else 0.0,
        burst_factor=t.burst_factor if t.burst_factor is not None else 1.0,
    )


def _slo(r: ResolvedPlan) -> Fact:
    s = r.plan.slo
    return _fact(
        "slo",
        availability_pct=s.availability_pct,
        critical=s.critical,
        scenario=s.effective_scenario,
        spares_needed=s.spare_failure_domains,
        bounds_latency=s.ttft_ms is not None or s.itl_ms is not None,
    )


def _observability(r: ResolvedPlan) -> Fact:
    o = r.plan.serving_stack.observability
    stack_metrics = r.stack.metrics_endpoint if r.stack else ""
    return _fact(
        "observability",
        metrics_endpoint=bool(o and o.metrics_endpoint),
        dashboards=bool(o and o.dashboards),
        alerts=bool(o and o.alerts),
        stack_metrics=stack_metrics or "none chosen",
    )


def _baseline(r: ResolvedPlan) -> Fact:
    b = r.plan.baseline
    scenario = r.plan.slo.effective_scenario
    to_run = {
        "latency-first": "an open-loop sweep (Poisson arrivals) for Cr_open, queue included in E2E",
        "throughput-first": "a closed-loop concurrency sweep for Cr_closed",
        "full-envelope": "both a closed-loop sweep (Cr_closed) and an open-loop sweep (Cr_open)",
    }[scenario]
    return _fact(
        "baseline",
        measured=b is not None and (b.cr_closed_output_tok_s is not None or b.cr_open_requests_per_s is not None),
        scenario=scenario,
        benchmark=to_run,
    )


def _exit(r: ResolvedPlan) -> Fact:
    e = r.plan.exit_plan
    recorded = e is not None and bool(e.alternative_models or e.alternative_runtimes or e.alternative_hardware)
    return _fact("exit", recorded=recorded)


def _licence(r: ResolvedPlan) -> Fact:
    licence = r.model.license.lower()
    cap = USER_CAPS.get(licence, -1)
    users = r.plan.use_case.monthly_active_users
    forbids = licence in NON_COMMERCIAL_LICENCES and r.plan.use_case.commercial_use
    over_cap = cap > 0 and users is not None and users > cap
    return _fact(
        "licence",
        model=r.model.id,
        license=licence,
        commercial_use=r.plan.use_case.commercial_use,
        forbids_use=forbids or over_cap,
        reason=("the licence forbids commercial use" if forbids else f"more than {cap:,} monthly active users")
        if (forbids or over_cap)
        else "",
        unknown=licence in ("unknown", ""),
    )


def _precision(r: ResolvedPlan) -> Fact:
    gpu = r.gpu
    weights, kv = r.weights_dtype, r.kv_dtype
    return _fact(
        "precision",
        gpu=gpu.id if gpu else "open",
        generation=gpu.generation if gpu else "open",
        weights=weights,
        kv=kv,
        weights_unsupported=bool(gpu and r.plan.model.weights and not gpu_runs(gpu, weights)),
        kv_unsupported=bool(gpu and r.plan.model.kv_cache and not gpu_runs(gpu, kv)),
    )


def _parallelism(r: ResolvedPlan, dep: Deployment | None, fleet: FleetSizing | None) -> Fact:
    rt, m = r.plan.runtime, r.model
    tp, ep, pp = rt.tp or (dep.tp if dep else 1), rt.ep or (dep.ep if dep else 1), rt.pp or (dep.pp if dep else 1)
    experts = m.moe.num_experts if m.moe else 0
    gpu = r.gpu or (dep.gpu if dep else None)
    op = fleet.operating_point if fleet else None
    load = op.timing.batch if op and op.timing else -1
    per_node = r.plan.hardware.gpus_per_node or (gpu.gpus_per_node if gpu else 8)
    domain = gpu.nvlink_domain if gpu else 1
    replica_gpus = dep.gpus if dep else (rt.attention_dp_ranks or tp * pp)
    fabric = r.plan.hardware.inter_node_fabric or "unspecified"
    # Expert all-to-all leaves the NVLink domain when the replica's GPUs span nodes beyond it.
    ep_spans_nodes = ep > 1 and replica_gpus > per_node and replica_gpus > domain
    return _fact(
        "parallelism",
        tp=tp,
        pp=pp,
        ep=ep,
        heads=m.num_attention_heads,
        tp_divides_heads=m.num_attention_heads % tp == 0,
        nearest_tp=nearest_divisor(m.num_attention_heads, tp),
        experts=experts,
        ep_divides_experts=experts == 0 or experts % ep == 0,
        nearest_ep=nearest_divisor(experts, ep) if experts else 1,
        replica_gpus=replica_gpus,
        ep_exceeds_replica=ep > 1 and ep > replica_gpus,
        ep_spans_nodes=ep_spans_nodes,
        ep_over_ethernet=ep_spans_nodes and fabric in SLOW_FABRICS,
        ep_over_rdma=ep_spans_nodes and fabric not in SLOW_FABRICS,
        gpus_per_node=per_node,
        nvlink_domain=domain,
        tp_spans_nodes=tp > per_node,
        tp_outside_nvlink=tp > per_node and tp > domain,
        inter_node_fabric=r.plan.hardware.inter_node_fabric or "unspecified",
        per_replica=load,
        pp_underfilled=pp > 1 and 0 <= load < 2 * pp,
    )


def _disaggregation(r: ResolvedPlan, sizing: PlanSizing) -> Fact:
    s = r.plan.serving_stack
    pools = _served_pools(sizing)
    transport: str = s.kv_transport or (r.stack.kv_transfer[0] if r.stack and r.stack.kv_transfer else "unspecified")
    if pools is not None:
        transport = pools.transport
    return _fact(
        "disaggregation",
        disaggregated=bool(s.disaggregated) or pools is not None,
        kv_transport=transport,
        rdma=transport in RDMA_TRANSPORTS,
        stack=r.stack.id if r.stack else "open",
        stack_supports=bool(r.stack and r.stack.disaggregated_prefill_decode),
        stack_lacks_disaggregation=bool(s.disaggregated and r.stack and not r.stack.disaggregated_prefill_decode),
        stack_transports=", ".join(r.stack.kv_transfer) if r.stack and r.stack.kv_transfer else "none",
        stack_lacks_transport=bool(s.kv_transport and r.stack and s.kv_transport not in r.stack.kv_transfer),
    )


def _cost(r: ResolvedPlan, sizing: PlanSizing) -> Fact:
    b = r.plan.baseline
    measured = b is not None and b.cr_closed_output_tok_s is not None
    cost = sizing.best.eur_per_m_tokens if sizing.best else None
    # a simulated Cr_closed is still the model's, not a measurement; but it is not the estimate's
    simulated = sizing.best is not None and sizing.best.decision is not None
    basis = "measured Cr_closed" if measured else "simulated" if simulated else "estimated"
    return _fact("cost", basis=basis, measured=measured, eur_per_1m_tokens=cost)


def _sizing(sizing: PlanSizing) -> Fact:
    """Whether anything met the plan, and how far the simulation moved the estimate's replicas: aggregated
    replicas against aggregated ones (the estimate sizes no pools), with the pools that serve the load
    instead where the plan chose disaggregated serving."""
    decision = sizing.best.decision if sizing.best else None
    estimated = decision.estimated_replicas if decision else -1
    simulated = decision.simulated_aggregated_replicas if decision else -1
    pools = _served_pools(sizing)
    return _fact(
        "sizing",
        feasible=sizing.best is not None,
        tried=sizing.tried,
        why="; ".join(sizing.why_none[:3]) or "no candidate configuration",
        estimated_replicas=estimated,
        simulated_replicas=simulated,
        off_by_pct=round(100 * off_by) if decision and (off_by := decision.estimate_off_by) is not None else 0,
        corrected=decision is not None and estimated != simulated,
        served_by=(
            f"; the plan serves the load disaggregated instead, with {pools.prefill_replicas} prefill and "
            f"{pools.decode_replicas} decode replicas"
            if pools is not None
            else ""
        ),
    )


def _served_pools(sizing: PlanSizing) -> PoolDecision | None:
    """The prefill and decode pools the chosen configuration serves the load from; None when aggregated."""
    decision = sizing.best.decision if sizing.best else None
    return decision.pools if decision else None


def _fleet(r: ResolvedPlan, dep: Deployment, fleet: FleetSizing, decision: FleetDecision | None) -> Fact:
    hw, slo = r.plan.hardware, r.plan.slo
    spares = slo.spare_failure_domains
    pools = decision.pools if decision is not None else None
    # Sizing adds the spares itself; only a fleet the plan pins (brownfield nodes) can fall short.
    available, surviving, shortfall, needed, units, to_add = -1, -1, 0, fleet.replicas_for_load, "replica(s)", ""
    if decision is not None:  # the fleet the simulation settled (pools of two layouts counted in GPUs)
        existing = existing_for(r.plan, decision)
    else:
        existing = existing_fleet(r.plan, dep, fleet.replicas_for_load, spares, 0.0) if fleet.feasible else None
    if existing is not None:
        available, surviving, shortfall = existing.replicas, existing.for_load, existing.shortfall
        needed, units = existing.needed, existing.units
        gpus, _ = existing.to_add(dep)
        to_add = (
            f"{gpus} GPU(s) to the prefill and decode pools"
            if existing.in_gpus
            else f"{shortfall} replica(s) of {dep.label}"
        )
    capacity = size_capacity(dep, fleet.isl + fleet.osl)
    return _fact(
        "fleet",
        deployment=dep.label,
        replicas=fleet.replicas,
        replicas_for_load=fleet.replicas_for_load,
        spares=fleet.spares,
        spares_needed=spares,
        available_replicas=available,
        surviving_replicas=surviving,
        shortfall=shortfall,
        # the existing fleet in the units it is counted in: replicas, or GPUs of prefill and decode pools
        existing_units=units,
        existing_needed=needed,
        to_add=to_add,
        nodes=hw.nodes or fleet.nodes,
        placement=hw.placement or ("one-node" if fleet.nodes <= 1 else "unspecified"),
        one_failure_domain=_too_concentrated(hw.placement, fleet, slo.availability_pct),
        spares_share_domain=spares >= 2 and (hw.placement or ("one-node" if fleet.nodes <= 1 else "")) == "one-node",
        availability_pct=slo.availability_pct,
        per_replica=fleet.per_replica,
        capacity_cap=fleet.capacity_cap,
        latency_cap=fleet.latency_cap,
        dominant=fleet.dominant,
        axes_differ=fleet.capacity_cap != fleet.latency_cap,
        # the axes above are an aggregated replica's; pools each have their own
        served_as_pools=pools is not None,
        pools_axes=pools.axes_text() if pools is not None else "",
        weights_fit=capacity.binding_cap != "weights",
        weights_gib_per_gpu=capacity.weights_gib_per_gpu,
        hbm_gib=dep.gpu.hbm_gib,
        feasible=fleet.feasible,
    )


def _too_concentrated(placement: str | None, fleet: FleetSizing, availability: float) -> bool:
    """True when the replicas sit in fewer failure domains than the availability target needs."""
    where = placement or ("one-node" if fleet.nodes <= 1 else None)
    if where is None:
        return False
    return SPREAD_ORDER.index(where) < SPREAD_ORDER.index(spread_needed(availability))


def _prediction(r: ResolvedPlan, dep: Deployment, fleet: FleetSizing) -> Fact:
    slo = r.plan.slo
    op = fleet.operating_point or estimate(
        dep, fleet.isl, fleet.osl, model=fleet.model, concurrency=1, ignore_capacity=True, population=fleet.population
    )
    fields: dict[str, Any] = {"percentile": slo.percentile, "concurrency": op.clients}
    figures = op.slo_figures_ms(slo.percentile)  # as the target reads them: ITL, the gap at the percentile
    for name, target, value in zip(("ttft", "itl", "e2e"), (slo.ttft_ms, slo.itl_ms, slo.e2e_ms), figures, strict=True):
        # the band is the point's; a figure read at a percentile keeps its relative width
        high = (op.band_at(f"{name}_ms", value) or (value, value))[1]
        fields |= {
            f"{name}_ms": value if value != float("inf") else 1e12,
            f"{name}_target_ms": target if target is not None else -1,
            f"{name}_margin_ms": (value - target) if target is not None and value != float("inf") else -1e12,
            f"{name}_band_high_ms": high if high != float("inf") else 1e12,
        }
    return _fact("prediction", **fields)


def _knobs(r: ResolvedPlan, dep: Deployment) -> Fact:
    knobs, roles = r.plan.runtime.knobs, dep.runtime.knob_roles
    context = r.plan.workload.context_p95_tokens
    max_len = knobs.get(roles.get("max_context", "max_model_len"))
    seqs = knobs.get(roles.get("max_sequences", "max_num_seqs"))
    kv_knob = next((str(v) for k, v in knobs.items() if k in ("kv_cache_dtype", "kv_cache_config.dtype")), "")
    holds = size_capacity(dep, context).memory_cap
    plan_kv = r.kv_dtype
    return _fact(
        "runtime_knobs",
        runtime=dep.runtime.id,
        context_p95=context,
        max_model_len=int(max_len) if isinstance(max_len, int | float) else -1,
        max_model_len_short=isinstance(max_len, int | float) and max_len < context,
        max_num_seqs=int(seqs) if isinstance(seqs, int | float) else -1,
        kv_holds=holds,
        seqs_exceed_kv=isinstance(seqs, int | float) and seqs > holds,
        kv_cache_dtype=kv_knob or "auto",
        plan_kv=plan_kv,
        kv_mismatch=bool(kv_knob) and kv_knob not in ("auto",) and not kv_knob.startswith(plan_kv),
    )


def _efficiency_overrides(r: ResolvedPlan) -> list[Fact]:
    facts = []
    for name, value in r.plan.runtime.efficiency.items():
        low, high = calibrated_range(name)
        fact = _fact(
            "efficiency_override", factor=name, value=value, low=low, high=high, outside=not low <= value <= high
        )
        fact["id"] = f"efficiency_override:{name}"
        facts.append(fact)
    return facts


def _cheaper_class(r: ResolvedPlan, catalog: Catalog, sizing: PlanSizing) -> Fact:
    """Would another GPU class be cheaper for this plan? (Screened with the built-in model; see `planner mix`.)"""
    open_gpu = dataclasses.replace(r, gpu=None)
    ranked, _ = search(open_gpu, catalog)
    pinned = sizing.best.eur_per_m_tokens if sizing.best else None
    other = next((c for c in ranked if c.sizing.deployment.gpu.id != (r.gpu.id if r.gpu else "")), None)
    saving = 0.0
    if other and pinned and other.eur_per_m_tokens is not None:
        saving = (pinned - other.eur_per_m_tokens) / pinned
    return _fact(
        "gpu_class",
        pinned=r.gpu.id if r.gpu else "open",
        alternative=other.sizing.deployment.label if other else "",
        saving=saving,
        cheaper_found=saving > 0.05,
    )
