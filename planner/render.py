"""Text renderings of the workflows' results for the terminal: formatting only, no decisions.

Every function takes a result the application layer returned (:mod:`planner.workflows`)
and returns text. Tables go through :func:`table`: rich's tables, styled on a terminal
(``styled=True``) and plain aligned columns elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from planner.resolve import ResolvedPlan
from planner.specs import GpuSpec, ModelSpec, RuntimeSpec, ServingStackSpec
from planner.workflows import (
    CheckReport,
    EnvelopeReport,
    ExportResult,
    MixReport,
    PlanReport,
    PluginReport,
    SearchReport,
    SimulationReport,
    TcoReport,
)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, styled: bool = False) -> str:
    """Format rows under their headers (see :func:`planner.terminal.render_table`)."""
    from planner.terminal import render_table

    return render_table(headers, rows, styled=styled)


def billions(count: int) -> str:
    """Format a parameter count in billions."""
    return f"{count / 1e9:.1f}B"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def gpus_table(specs: Sequence[GpuSpec], *, styled: bool = False) -> str:
    """Render GPU specs with their main figures and source."""
    rows = [
        (
            g.id,
            g.name,
            _num(g.hbm_gib, 1),
            _num(g.hbm_tb_s, 2),
            _num(g.dense_tflops.get("bf16") or g.dense_tflops.get("fp16")),
            _num(g.dense_tflops.get("fp8")),
            _num(g.dense_tflops.get("fp4")),
            _num(g.tdp_w),
            f"{g.interconnect.kind} {g.interconnect.gb_s_per_gpu:g}",
            g.nvlink_domain,
            f"~{g.price.eur:,.0f}" if g.price else "-",
            g.source,
        )
        for g in specs
    ]
    headers = (
        "id",
        "name",
        "GiB",
        "TB/s",
        "bf16 TF",
        "fp8 TF",
        "fp4 TF",
        "TDP W",
        "link GB/s/dir",
        "domain",
        "EUR (est.)",
        "source",
    )
    return table(headers, rows, styled=styled)


def models_table(specs: Sequence[ModelSpec], *, styled: bool = False) -> str:
    """Render model specs: architecture, parameters, context, licence, source."""
    rows = [
        (
            m.id,
            m.name,
            _attention(m),
            f"{m.moe.num_experts}x top-{m.moe.experts_per_token}" if m.moe else "dense",
            billions(m.total_params),
            billions(m.active_params),
            f"{m.max_context:,}",
            m.native_weight_dtype,
            m.license,
            m.source,
        )
        for m in specs
    ]
    return table(
        ("id", "name", "attention", "MoE", "total", "active", "context", "weights", "licence", "source"),
        rows,
        styled=styled,
    )


def _attention(m: ModelSpec) -> str:
    text = f"{m.attention} {m.num_attention_heads}/{m.num_kv_heads}" if m.attention != "mla" else "mla"
    if m.sliding_window:
        text += f" +SWA {m.sliding_window.window} x{m.sliding_window.layers}"
    return text


def runtimes_table(specs: Sequence[RuntimeSpec], *, styled: bool = False) -> str:
    """Render runtimes: parallelism, KV dtypes, KV budget rule and knob."""
    rows = [
        (
            r.id,
            r.name,
            ",".join(r.parallelism),
            ",".join(r.kv_dtypes),
            f"{r.kv_budget_rule} ({r.kv_budget_knob}={r.knob(r.kv_budget_knob).default})",
            ",".join(r.vendors),
            r.source,
        )
        for r in specs
    ]
    return table(("id", "name", "parallelism", "KV dtypes", "KV budget", "vendors", "source"), rows, styled=styled)


def stacks_table(specs: Sequence[ServingStackSpec], *, styled: bool = False) -> str:
    """Render serving stacks: disaggregation, KV transport, autoscaling, metrics."""
    rows = [
        (
            s.id,
            s.name,
            "yes" if s.disaggregated_prefill_decode else "no",
            ",".join(s.kv_transfer) or "-",
            "yes" if s.requires_rdma_for_disaggregation else "no",
            s.metrics_endpoint,
            s.source,
        )
        for s in specs
    ]
    return table(("id", "name", "P/D disagg.", "KV transfer", "needs RDMA", "metrics", "source"), rows, styled=styled)


CATALOG_TABLES: dict[str, Callable[..., str]] = {
    "gpus": gpus_table,
    "models": models_table,
    "runtimes": runtimes_table,
    "stacks": stacks_table,
}


#: How ``planner plugins`` names the hooks beyond the catalog kinds.
_HOOK_LABELS = {
    "planner_model_from_config": "config.json import",
    "planner_rule_packs": "rule packs",
    "planner_benchmark_importers": "benchmark importers",
    "planner_performance_models": "performance models",
}


def plugins_table(report: PluginReport, *, styled: bool = False) -> str:
    """Render each plugin: version, status, what it contributes, and its problems; then orphan problems."""
    rows = []
    for row in report.rows:
        provides = ", ".join(f"{n} {kind}" for kind, n in sorted(row.contributes.items()))
        extras = []
        for hook in row.hooks:
            label = _HOOK_LABELS[hook]
            if hook == "planner_performance_models" and row.performance_models:
                label += ": " + ", ".join(row.performance_models)
            extras.append(label)
        provides = ", ".join(filter(None, [provides, *extras]))
        origin = "built-in" if row.builtin else row.distribution
        rows.append(
            (
                row.name,
                row.version,
                row.hook_api or "?",
                row.status,
                origin,
                provides or "-",
                "; ".join(row.problems) or "-",
            )
        )
    text = table(("plugin", "version", "hook API", "status", "from", "contributes", "problems"), rows, styled=styled)
    return "\n".join([text, *(f"problem: {problem}" for problem in report.orphan_problems)])


def resolved_plan_text(resolved: ResolvedPlan, filename: str) -> str:
    """Render a resolved plan step by step, then the open choices."""
    p, m = resolved.plan, resolved.model
    w, t = p.workload, p.traffic
    lines = [f"Plan: {p.name}  ({filename}, schema {p.schema_version})", ""]
    lines.append(f"1 Use case   {p.use_case.title}: {p.use_case.task}, {p.use_case.deployment}, {p.use_case.hosting}")
    lines.append(
        f"2 Workload   input {_tokens_text(w.input_tokens)}, output {_tokens_text(w.output_tokens)} tokens; "
        f"p95 context {w.context_p95_tokens:,}; shared prefix {w.shared_prefix_tokens:,}"
    )
    if not w.has_percentiles:
        lines.append(
            "             note: no p95 given, so sizing falls back to the largest figure (worst case, not average)"
        )
    lines.append(f"3 Traffic    {_traffic_text(p)}; headroom {t.headroom:.0%} = max(growth, burst)")
    lines.append(f"4 SLO        {_slo_text(p)}")
    lines.append(
        f"5 Model      {m.id} ({m.name}): {_attention(m)}, "
        + (f"MoE {m.moe.num_experts} experts top-{m.moe.experts_per_token}, " if m.moe else "")
        + f"{billions(m.total_params)} total / {billions(m.active_params)} active; "
        f"{_precision_text(resolved)}, context {resolved.context_tokens:,}; "
        f"licence {m.license}"
    )
    lines += [f"             note: {note}" for note in resolved.notes]
    lines.append(f"7 Runtime    {_runtime_text(resolved)}")
    lines.append(f"8 Hardware   {_hardware_text(resolved)}")
    lines.append(f"9 Stack      {_stack_text(resolved)}")
    lines.append("")
    if resolved.open_choices:
        lines.append("Open choices (the planner chooses these): " + ", ".join(resolved.open_choices))
    else:
        lines.append("No open choices: every step 5-9 choice is pinned.")
    return "\n".join(lines)


def _precision_text(r: ResolvedPlan) -> str:
    """Weights and KV as pinned, or open (the planner chooses) with the checkpoint's precision."""
    pinned = r.plan.model
    weights = f"weights {pinned.weights}" if pinned.weights else f"weights open (checkpoint {r.weights_dtype})"
    kv = f"KV {pinned.kv_cache}" if pinned.kv_cache else "KV open"
    return f"{weights}, {kv}"


def _tokens_text(d: Any) -> str:
    figures = (("mean", d.mean), ("p50", d.p50), ("p95", d.p95), ("p99", d.p99))
    return " / ".join(f"{name} {value:,}" for name, value in figures if value is not None)


def _traffic_text(p: Any) -> str:
    t = p.traffic
    if t.users is not None:
        base = f"{t.users:,} users x {t.active_fraction:.0%} active x duty cycle {t.duty_cycle:g}"
    elif t.requests_per_s is not None:
        base = f"{t.requests_per_s:g} requests/s"
    elif t.batch is not None:
        base = f"batch of {t.batch.items:,} items in {t.batch.window_hours:g} h ({t.batch.rate_req_s:,.3g} requests/s)"
    else:
        base = f"{t.concurrency} concurrent requests"
    extras = [f"peak factor {t.peak_factor:g}"]
    if t.growth is not None:
        extras.append(f"growth {t.growth:.0%} in {t.horizon_months} months")
    if t.burst_factor is not None:
        extras.append(f"burst x{t.burst_factor:g}")
    return f"{base}; " + ", ".join(extras)


def _slo_text(p: Any) -> str:
    s = p.slo
    targets = [
        f"{label} <= {value:,.0f} ms"
        for label, value in (("TTFT", s.ttft_ms), ("ITL", s.itl_ms), ("E2E", s.e2e_ms))
        if value is not None
    ]
    spares = "N+2" if s.critical else "N+1"
    return (
        f"p{s.percentile:g} "
        + ", ".join(targets)
        + (f"; availability {s.availability_pct:g}%; {spares}; {s.effective_scenario}")
    )


def _runtime_text(r: ResolvedPlan) -> str:
    rt = r.plan.runtime
    axes = ", ".join(f"{a.upper()} {getattr(rt, a) or 'open'}" for a in ("tp", "pp", "ep", "dp"))
    if (
        ranks := rt.attention_dp_ranks
    ):  # (the pin sets the whole layout: see planner.sizing.search.attention_dp_allowed)
        axes = f"attention data parallel over {ranks} GPUs (DP {ranks}, EP {ranks}, TP 1, PP 1)"
    name = f"{r.runtime.id} ({r.runtime.name})" if r.runtime else "open"
    knobs = ", ".join(f"{k}={v}" for k, v in rt.knobs.items())
    return f"{name}; {axes}" + (f"; knobs {knobs}" if knobs else "")


def _hardware_text(r: ResolvedPlan) -> str:
    g = r.gpu
    if g is None:
        return "GPU open"
    hw = r.plan.hardware
    text = (
        f"{g.id} ({g.name}): {g.hbm_gib:g} GiB at {g.hbm_tb_s:g} TB/s, "
        f"{g.interconnect.kind} {g.interconnect.gb_s_per_gpu:g} GB/s/dir, {g.gpus_per_node} per node"
    )
    if hw.nodes:
        text += f"; {hw.nodes} nodes"
    if hw.inter_node_fabric:
        text += f"; inter-node {hw.inter_node_fabric}"
    return text


def _stack_text(r: ResolvedPlan) -> str:
    st = r.plan.serving_stack
    name = f"{r.stack.id} ({r.stack.name})" if r.stack else "open"
    disagg = {None: "disaggregation open", True: "disaggregated prefill/decode", False: "aggregated"}
    return f"{name}; {disagg[st.disaggregated]}" + (f"; KV transport {st.kv_transport}" if st.kv_transport else "")


# ------------------------------------------------------------------ sizing


def _clients_text(est: Any) -> str:
    """Where an estimate's clients are, beside its batch: a closed loop's requests spend the front end's
    latency between two requests outside the engine, and wait in its queue beyond its capacity."""
    clients = est.requested_concurrency
    if not clients:
        return " (offline, largest batch)"
    if est.timing is None or clients - est.timing.batch < 0.05:
        return f" ({clients:,} clients in a closed loop)"
    elsewhere = "in the front end between requests" + (" or queued" if est.queue_s > 0 else "")
    return f" ({clients:,} clients in a closed loop, the rest {elsewhere})"


def _band_text(est: Any, metric: str, digits: int = 0, value: float | None = None) -> str:
    """`` [low-high]`` of ``metric``'s band ('' without one); moved to ``value`` where given (a figure
    read at a percentile: :meth:`Estimate.band_at`)."""
    band = est.bands.get(metric) if value is None else est.band_at(metric, value)
    if not band:
        return ""
    return f" [{band[0]:,.{digits}f}-{band[1]:,.{digits}f}]"


def estimate_text(est: Any) -> str:
    """Render one estimate: the memory budget term by term, then performance with bands."""
    dep, cap = est.deployment, est.capacity
    compute = dep.compute_dtype
    if dep.expert_compute_dtype != compute:
        compute += f" (experts {dep.expert_compute_dtype})"
    lines = [f"{dep.label}: {dep.gpus} GPU(s), compute {compute}, ISL {est.isl:,} / OSL {est.osl:,}", ""]
    lines.append("Capacity (6a), per GPU")
    for term in cap.terms:
        lines.append(f"  {term.name:17s} {term.gib:9.2f} GiB  {term.formula}  [{term.provenance}]")
    lines.append(
        f"  KV per token {cap.kv_bytes_per_token_per_gpu:,.0f} B, per sequence at {cap.context_tokens:,} tokens "
        f"{cap.kv_bytes_per_sequence_per_gpu / 2**20:,.1f} MiB; "
        f"{cap.kv_blocks_per_gpu:,} blocks of {cap.kv_block_tokens}"
    )
    lines.append(
        f"  max concurrency {cap.max_concurrency:,} (memory {cap.memory_cap:,}, batch limit "
        f"{cap.sequence_cap:,}); binding cap: {cap.binding_cap}"
    )
    lines.append("")
    if est.timing is None:
        lines.append(
            f"Performance (6b): not estimated, the replica holds no sequence of this length ({cap.binding_cap} "
            "binds: see its term above)"
        )
        return "\n".join(lines)
    t = est.timing
    lines.append(f"Performance (6b) at batch {t.batch:,.1f}{_clients_text(est)}")
    if t.population is not None:
        lines.append(f"  the {est.isl:,} / {est.osl:,} request in a batch of requests of {t.population.describe()}")
    lines.append(f"  TTFT   {est.ttft_ms:10,.1f} ms{_band_text(est, 'ttft_ms', 1)}")
    spread = " / ".join(f"{est.ttft_at_percentile_ms(q):,.0f}" for q in (50, 95, 99))
    lines.append(
        f"         p50 / p95 / p99 over the requests {spread} ms (where each lands among the steps and the "
        "prompts queued ahead of it)"
    )
    lines.append(f"  ITL    {est.itl_ms:10,.2f} ms{_band_text(est, 'itl_ms', 2)}")
    lines.append(f"  E2E    {est.e2e_ms:10,.0f} ms{_band_text(est, 'e2e_ms')}")
    lines.append(
        f"  output {est.output_tok_s:10,.0f} tok/s{_band_text(est, 'output_tok_s')} "
        f"({est.output_tok_s / dep.gpus:,.0f} per GPU)"
    )
    lines.append(f"  total  {t.total_tok_s:10,.0f} tok/s")
    lines.append(
        f"  prefill of the batch {t.prefill_s * 1000:,.1f} ms, decode step {t.decode_step_s * 1000:,.2f} ms, "
        f"queue {est.queue_s * 1000:,.0f} ms"
    )
    lines.append(
        f"  token budget {t.token_budget:,} a step{_parenthesised(_per_rank_text(dep, t))}: "
        f"{t.prefill_step_share:.0%} of steps "
        f"carry a prompt chunk ({t.prefill_step_s * 1000:,.2f} ms){_whole_prompts_text(t)}, "
        f"ITL p95 {t.itl_p95_s * 1000:,.2f} ms"
    )
    lines.append("")
    lines.append(f"Performance model: {est.model.source(dep)}")
    if est.efficiency is not None:
        lines.append(
            f"  MFU prefill {est.efficiency.mfu_prefill:.2f}, MBU decode {est.efficiency.mbu_decode:.2f}, "
            f"MFU decode {est.efficiency.mfu_decode:.2f}, step overhead {est.efficiency.overhead_ms:.2f} ms, "
            f"front end {est.efficiency.frontend_ms:.1f} ms (added to TTFT)"
        )
    if est.band_sources:
        sources = dict.fromkeys(est.band_sources.values())
        lines.append(f"Bands: 10th-90th percentile of measured/predicted on held-out rows, {'; '.join(sources)}")
    return "\n".join(lines)


def budget_text(dep: Any, timing: Any) -> str:
    """The token budget per step a deployment runs with, where it comes from, and what it does to ITL."""
    name = dep.runtime.knob_roles.get("batched_tokens", "max_num_batched_tokens")
    origin = "set by the plan or the search" if name in dep.knobs else f"{dep.runtime.id}'s default on {dep.gpu.id}"
    if per_rank := _per_rank_text(dep, timing):
        name = f"{name} {per_rank}"
    return (
        f"token budget {timing.token_budget:,} a step ({name}, {origin}): "
        f"{timing.prefill_step_share:.0%} of steps "
        f"carry a prompt chunk{_whole_prompts_text(timing)}, ITL p95 {timing.itl_p95_s * 1000:,.1f} ms"
    )


def _per_rank_text(dep: Any, timing: Any) -> str:
    """What each attention-DP rank schedules of a replica's budget, said as the runtime's knob reads:
    '8,192 per attention-DP rank x 8' where the knob is a rank's (vLLM), '16,384 split over 8
    attention-DP ranks: 2,048 each' where the runtime divides it (SGLang); '' without attention DP."""
    if not dep.attention_dp:
        return ""
    per_rank = timing.token_budget // dep.ep
    if dep.budget_split_ranks > 1:
        return f"{timing.token_budget:,} split over {dep.ep} attention-DP ranks: {per_rank:,} each"
    return f"{per_rank:,} per attention-DP rank x {dep.ep}"


def _parenthesised(text: str) -> str:
    """' (text)', or '' for no text."""
    return f" ({text})" if text else ""


def _whole_prompts_text(timing: Any) -> str:
    """Where prefill runs first (SGLang), that a prompt's chunks stretch one gap together ('' elsewhere)."""
    if not timing.prompts_per_gap:
        return ""
    return (
        f"; prefill runs first, so a gap takes every prompt that arrived, all its chunks"
        f" ({timing.prompts_per_gap:.2f} a gap on average)"
    )


def fleet_text(candidate: Any, slo_percentile: float = 95) -> str:
    """Render the chosen fleet: both axes by the estimate, the simulation's check (its percentiles at
    the SLO's ``slo_percentile``), replicas and cost."""
    s, d = candidate.sizing, candidate.decision
    pooled = d is not None and d.pools is not None
    # (the pools that serve the load instead each have their own axis: decision_lines)
    served = " served aggregated" if pooled else ""
    lines = [
        f"6 Sizing     {s.deployment.label}",
        f"             p{s.percentile} request: {s.isl:,} in / {s.osl:,} out; peak concurrency "
        f"{s.peak_concurrency:,.1f} ({s.concurrency_source}); +{s.headroom:.0%} headroom -> "
        f"{s.provisioned_concurrency:,.1f} provisioned",
        f"             estimate per replica{served}: memory holds {s.capacity_cap:,}, SLOs hold {s.latency_cap:,} -> "
        f"{s.per_replica:,} (dominant: {s.dominant})",
        f"             {s.to_move}",
    ]
    op = s.operating_point
    if op is not None:
        lines.append(
            f"             at {op.clients:,.0f} per replica: "
            f"TTFT p{s.percentile:g} {(ttft := op.ttft_at_percentile_ms(s.percentile)):,.0f} ms"
            f"{_band_text(op, 'ttft_ms', value=ttft)}, "
            f"ITL {op.itl_ms:,.1f} ms{_band_text(op, 'itl_ms', 1)}, E2E {op.e2e_ms / 1000:,.1f} s, "
            f"{op.output_tok_s:,.0f} output tok/s per replica"
        )
        if s.population is not None:
            lines.append(
                f"             (the p{s.percentile} request in a batch of the workload's requests: "
                f"{s.population.describe()})"
            )
        lines.append(f"             {budget_text(s.deployment, op.timing)}")
    if d is not None:
        lines += decision_lines(d, slo_percentile)
    spares = spares_label(s.spares, pooled=pooled)
    per_replica = f"x {s.deployment.gpus} GPU"
    if pooled:
        per_replica = d.pools.layouts_text(s.spares // 2)
    packed = d.packed_nodes if d is not None else s.packed_nodes
    lines.append(
        f"7-8 Fleet    {s.replicas_for_load} replicas for the load + {s.spares} spare ({spares}) "
        f"= {s.replicas} replicas "
        f"{per_replica} = {s.gpus} x {s.deployment.gpu.id} in {s.nodes} node(s)"
        + (
            f" (they pack into {packed}: spread for the failure domains, the spares apart and the placement the "
            "availability target needs; `hardware.placement: one-node` keeps them together)"
            if s.nodes > packed
            else ""
        )
    )
    cost = candidate.eur_per_m_tokens
    basis = "at Cr_closed" if d is not None else "at the estimate's operating point"
    if d is not None and d.pools is not None:
        basis = "at the pools' Cr_closed"
    lines.append(
        "             cost: "
        + (
            f"{cost:,.3f} EUR per 1M output tokens {basis} for GPU servers and GPU power (what search ranks by)"
            if cost is not None
            else "no price hint for this GPU (give a quote: costs.server_price_eur)"
        )
    )
    return "\n".join(lines)


def _share_text(summary: dict[str, Any], replicas: int) -> str:
    """', on N of them with their share of the load' where a run simulated fewer replicas than the
    fleet's (a closed loop split evenly, a fleet beyond one run's most), else ''."""
    simulated = summary.get("simulated_replicas", replicas)
    return f", on {simulated:,} of them with their share of the load" if simulated < replicas else ""


def decision_lines(d: Any, slo_percentile: float = 95) -> list[str]:
    """The simulation's check of a fleet: per-replica envelopes, the fleet at its peak (percentiles at
    the SLO's, p95 where the simulator keeps no such percentile), the estimate's error."""
    served = " served aggregated" if d.pools is not None else ""  # the pools' own envelopes follow
    lines = [
        f"10 Envelope  simulated per replica{served}: Cr_closed {d.cr_closed:,} requests in flight, "
        f"Cr_open {d.cr_open_req_s:,.3f} requests/s (queue included)"
    ]
    for check in d.final_checks():
        p = check.summary
        q = f"p{int(slo_percentile)}" if f"p{int(slo_percentile)}" in p["ttft_ms"] else "p95"
        lines.append(
            f"             {check.replicas} replicas at {check.load.describe()}{_as_run_text(check)}: "
            f"{'meet' if check.meets else 'miss'} the SLOs ({q} TTFT {p['ttft_ms'][q]:,.0f} ms, "
            f"ITL {p['itl_ms'][q]:,.1f} ms{_tpot_text(p, q)}, E2E {p['e2e_ms'][q] / 1000:,.1f} s; "
            f"{p['requests']:,} requests, "
            f"{check.duration_s:,.0f} s simulated{_share_text(p, check.replicas)})"
        )
    if d.pools is not None:
        lines.append(f"             disaggregated: {d.pools.describe(d.deployment)}")
        if axes := d.pools.axes_text():
            lines.append(f"             each pool's own axis: {axes}")
    fewer = [c for c in d.checks if c.replicas == d.replicas_for_load - 1 and not c.meets]
    if fewer:
        lines.append(f"             {fewer[0].replicas} replicas miss them at {fewer[0].load.describe()}")
    off = d.estimate_off_by
    if off is not None and d.estimated_replicas != d.simulated_aggregated_replicas:
        direction = "too many" if off > 0 else "too few"
        against = f" against {d.simulated_aggregated_replicas} aggregated in simulation" if d.pools else ""
        lines.append(
            f"             the estimate said {d.estimated_replicas} replicas, {abs(off):.0%} {direction}{against}; "
            "the simulation decides"
        )
    return lines


#: Marks a candidate whose figures are the built-in model's screen's (see ``Candidate.screened_only``).
SCREENED_MARK = "*"


def _budget_cell(dep: Any, timing: Any) -> str:
    """Tokens a step may carry, as the runtime's knob reads: times the ranks where attention-DP ranks
    each schedule the knob's tokens ('8,192 x8'); the knob itself where the runtime splits it."""
    if dep.attention_dp and dep.budget_split_ranks == 1:
        return f"{timing.token_budget // dep.ep:,} x{dep.ep}"
    return f"{timing.token_budget:,}"


def _cost_cell(candidate: Any) -> str:
    """EUR per 1M tokens to three places ('-' unpriced), marked where only the screen timed it."""
    cost = candidate.eur_per_m_tokens
    mark = SCREENED_MARK if candidate.screened_only else ""
    return ("-" if cost is None else f"{cost:.3f}") + mark


def candidates_table(candidates: Sequence[Any], limit: int, *, styled: bool = False) -> str:
    """Render ranked search results."""
    rows = []
    for rank, c in enumerate(candidates[:limit], start=1):
        s = c.sizing
        d = s.deployment
        par = (
            f"DP-attn EP{d.ep}"
            if d.attention_dp
            else f"TP{d.tp}" + (f" PP{d.pp}" if d.pp > 1 else "") + (f" EP{d.ep}" if d.ep > 1 else "")
        )
        rows.append(
            (
                rank,
                d.gpu.id,
                d.runtime.id,
                f"{d.weights_dtype}/{d.kv_dtype}",
                par,
                _budget_cell(d, s.operating_point.timing) if s.operating_point and s.operating_point.timing else "-",
                s.per_replica,
                s.dominant,
                s.replicas,
                s.gpus,
                _cost_cell(c),
                f"{s.operating_point.ttft_at_percentile_ms(95):,.0f}" if s.operating_point else "-",
                f"{s.operating_point.itl_ms:,.1f}" if s.operating_point else "-",
                f"{s.operating_point.itl_p95_ms:,.1f}" if s.operating_point else "-",
            )
        )
    # TTFT and ITL p95: the TTFT over the requests and the gap or a request's mean gap at the 95th
    # percentile, what a target at p95 judges
    headers = ("#", "gpu", "runtime", "weights/KV", "parallel", "tok/step", "per replica", "dominant", "replicas",
               "GPUs", "EUR/1M tok", "TTFT p95 ms", "ITL ms", "ITL p95 ms")  # fmt: skip
    return table(headers, rows, styled=styled)


def findings_text(validation: Any) -> str:
    """Render findings grouped by severity, each with its remedy and evidence."""
    groups = validation.by_severity()
    counts = ", ".join(f"{len(items)} {name}{'s' if len(items) != 1 else ''}" for name, items in groups.items())
    lines = [f"Checks: {counts}"]
    for severity, items in groups.items():
        for f in items:
            lines.append(f"  {severity.upper():7s} {f.rule_id}  [{f.principle}]")
            lines.append(f"          {f.message}")
            lines.append(f"          fix: {f.remedy}")
            if f.evidence:
                evidence = ", ".join(f"{k}={v}" for k, v in f.evidence.items())
                lines.append(f"          evidence: {evidence}")
    return "\n".join(lines)


# ---------------------------------------------------------------- reports


def plan_report_text(report: PlanReport) -> str:
    """Render ``planner plan``: the resolved plan, the sizing (or why nothing fits), the envelope, the checks."""
    sizing = report.sizing
    lines = [resolved_plan_text(report.resolved, report.source), ""]
    if sizing.best is None and sizing.tried == 0 and sizing.why_none:
        lines.append("6 Sizing     nothing sized: the plan pins what cannot hold")
        lines += [f"             - {line}" for line in sizing.why_none]
    elif sizing.best is None:
        lines.append(f"6 Sizing     none of the {sizing.tried} candidate configurations meets the SLOs on both axes:")
        lines += [f"             - {line}" for line in sizing.why_none]
        lines.append("             pin fewer choices (`planner search` shows what else is possible) or relax the SLOs")
    else:
        lines.append(fleet_text(sizing.best, report.resolved.plan.slo.percentile))
        lines += _tco_lines(report)
        lines.append(
            f"             chosen as the cheapest of {sizing.feasible} feasible configurations out of {sizing.tried}"
            " (the cheapest by estimate checked in simulation); `planner search` lists them"
        )
        lines += _existing_fleet_lines(report)
    lines.append(_assumptions_line(report))
    lines += ["", findings_text(report.validation)]
    return "\n".join(lines)


def _existing_fleet_lines(report: PlanReport) -> list[str]:
    existing, decision = report.existing_fleet, report.decision
    if existing is None or decision is None:
        return []
    lines = [f"Existing     {existing.describe(decision.deployment)}"]
    for alternative in report.alternatives:
        lines.append(f"  instead    {alternative.describe()}")
    if report.alternatives:
        lines.append(
            "             (a smaller model or 4-bit weights trade quality for capacity: check them on the task first)"
        )
    return lines


def _tco_lines(report: PlanReport) -> list[str]:
    tco = report.tco
    if tco is None or tco.eur_per_million_output is None:
        return []
    return [
        f"             total cost of ownership: {tco.eur_per_million_output:,.3f} EUR per 1M output tokens with "
        f"every cost line ({tco.throughput.kind} Cr_closed x utilisation {tco.costs.utilisation:.0%}; `planner tco`)"
    ]


def _assumptions_line(report: PlanReport) -> str:
    rows = [a for a in report.assumptions if a.value is not None and a.plan_field]
    given = [f"{a.plan_field} {a.value:g}" for a in rows if a.origin == "plan"]
    defaults = [f"{a.plan_field} {a.value:g}" for a in rows if a.origin == "catalog"]
    text = "Costs        " + (f"from the plan: {', '.join(given)}; " if given else "")
    return text + f"catalog defaults: {', '.join(defaults)} (set any under `costs:` in the plan)"


def check_text(report: CheckReport) -> str:
    """Render ``planner check``: findings by severity."""
    return findings_text(report.validation)


def search_text(report: SearchReport, top: int, *, styled: bool = False) -> str:
    """Render ``planner search``: how many meet the plan, then the ranked table, and a note under it
    where rows carry the built-in model's screening figures rather than the chosen model's."""
    head = (
        f"{len(report.ranked)} of {report.tried} configurations meet the SLOs on both axes; "
        "ranked by EUR per 1M tokens, then GPUs"
    )
    if report.conflicts:
        return "\n".join(["No configuration can be searched: the plan pins what cannot hold", *report.conflicts])
    if not report.ranked:
        return head
    lines = [head, candidates_table(report.ranked, top, styled=styled)]
    screened = [c for c in report.ranked[:top] if c.screened_only]
    if screened:
        chosen = report.backend
        lines.append(
            f"{SCREENED_MARK} {len(screened)} row(s) with the built-in model's screening figures, ranked after "
            f"those {chosen} timed: {chosen} re-timed the candidates that could rank among the first "
            f"{report.settled}"
        )
    lines.append(_search_basis(report.disaggregated))
    return "\n".join(lines)


def _search_basis(disaggregated: bool | None) -> str:
    """What the search's rows are, beside what ``planner plan`` makes of the cheapest."""
    pools = {
        None: ", and sizes prefill and decode pools where they need fewer GPUs (serving_stack.disaggregated is "
        "left open)",
        True: ", served as the prefill and decode pools the plan asks for (serving_stack.disaggregated: true)",
    }.get(disaggregated, "")
    return (
        "Each row is the estimate of aggregated replicas at the planned load; `planner plan` settles the "
        f"cheapest in simulation{pools}, so its fleet and EUR per 1M tokens are the ones to quote."
    )


def simulation_text(report: SimulationReport) -> str:
    """Render ``planner simulate``: load, percentiles, throughput and goodput, KV use; failure and P/D."""
    s = report.summary
    load = s["load"]
    applied = (
        f"open loop, {load['rate']:,.3g} requests/s ({load['arrival']} arrivals)"
        if load["mode"] == "open"
        else f"closed loop, {load['concurrency']:,} users"
    )
    d = report.decision
    pools = d.pools
    per_replica = f"per replica Cr_closed {d.cr_closed:,}, Cr_open {d.cr_open_req_s:,.3f} requests/s"
    if pools is not None and pools.cr_closed_text():
        per_replica = (
            f"{pools.prefill_replicas} prefill + {pools.decode_replicas} decode; {pools.cr_closed_text()} "
            f"(served aggregated: {per_replica})"
        )
    lines = [
        f"plan: {d.replicas_for_load} replicas for the load + {d.spares} spare; {per_replica}",
        f"{report.deployment}: {s['replicas']} replica(s), {s['gpus']} GPU(s); {applied}",
        f"requests measured {s['requests']}, dropped {s['dropped']}, unfinished {s['unfinished']}, "
        f"preemptions {s['preemptions']}",
    ]
    if s.get("stopped_early"):
        lines.append(f"stopped early: {s['stopped_early']} (raise --time-limit for a complete run)")
    for name in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        if name not in s:  # (a summary read back from an older project has no TPOT)
            continue
        d = s[name]
        lines.append(
            f"{name[:-3].upper():5s} p50 {d['p50']:9,.1f}  p90 {d['p90']:9,.1f}  "
            f"p95 {d['p95']:9,.1f}  p99 {d['p99']:9,.1f} ms"
        )
    lines.append(
        f"throughput {s['throughput_req_s']:.3f} req/s, {s['output_tok_s']:,.0f} output tok/s; goodput "
        f"{s['goodput_share']:.1%} of requests ({s['goodput_req_s']:.3f} req/s)"
    )
    lines.append(
        f"KV use mean {s['kv_utilisation']['mean']:.0%} max {s['kv_utilisation']['max']:.0%}; "
        f"batch mean {s['batch']['mean']:.1f} max {s['batch']['max']}"
    )
    lines.append("meets the SLOs" if report.meets_slo else "misses the SLOs")
    f = report.failure
    if f:
        lines.append(
            f"fleet at peak: {f['all_up']['replicas']} replicas "
            f"{'meet' if f['all_up']['meets_slo'] else 'miss'} the SLOs; "
            f"with spares down ({f['spares_down']['replicas']} left) they "
            f"{'still meet them' if f['survives_failure'] else 'miss them: N+1/N+2 fails'}"
        )
    pd = report.disaggregation
    if pd and pd.best:
        lines.append(f"P/D: {pd.best['prefill']} + {pd.best['decode']}: {pd.verdict}")
    return "\n".join(lines)


#: Columns of the latency-vs-load curve, in the order ``planner envelope`` prints them.
ENVELOPE_COLUMNS = (
    "mode",
    "load",
    "meets_slo",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "itl_p95_ms",
    "e2e_p50_ms",
    "e2e_p95_ms",
    "output_tok_s",
    "goodput_share",
    "misses",
)


def envelope_csv(report: EnvelopeReport) -> str:
    """The latency-vs-load curve as CSV."""
    lines = [",".join(ENVELOPE_COLUMNS)]
    lines += [",".join(str(point[c]) for c in ENVELOPE_COLUMNS) for point in report.curve]
    return "\n".join(lines)


def envelope_text(report: EnvelopeReport, *, styled: bool = False) -> str:
    """Render ``planner envelope``: Cr_closed, Cr_open, then every simulated point."""
    rows = [[p[c] if not isinstance(p[c], float) else f"{p[c]:,.1f}" for c in ENVELOPE_COLUMNS] for p in report.curve]
    return "\n".join(
        [
            report.deployment,
            f"Cr_closed = {report.cr_closed} concurrent requests (closed loop, per replica)",
            f"Cr_open   = {report.cr_open_req_s:.3f} requests/s (open loop, queue included, per replica)",
            f"plan: {report.replicas_for_load} replicas for the load + {report.spares} spare"
            + (
                f" (disaggregated: {report.pools}; the envelope below is of one replica served aggregated)"
                if report.pools
                else ""
            ),
            table(ENVELOPE_COLUMNS, rows, styled=styled),
        ]
    )


def mix_text(report: MixReport) -> str:
    """Render ``planner mix``: each bucket's class, each pool, the mix's cost against the plan's own
    fleet (the best single class)."""
    result = report.result
    lines = []
    for bucket in report.buckets:
        demand = report.bucket_demand(bucket)
        load = (
            f"{demand.peak_rate_req_s:.3f} req/s at peak"
            if demand.peak_rate_req_s
            else f"{demand.peak_concurrency or 0:.1f} in flight at peak"
        )
        batch = f" ({demand.population.describe()})" if demand.population else ""
        lines.append(
            f"bucket {bucket.name}: {bucket.share:.0%} of requests, {load}{batch}, sized at "
            f"{demand.isl:,} in / {demand.osl:,} out -> {result.mix.get(bucket.name, '-')}"
        )
    if result.pools:
        lines.append("mix:")
        lines += [f"  {_pool_text(pool, report.buckets)}" for pool in result.pools]
        gpus = " + ".join(f"{p.sizing.gpus:,} x {p.gpu}" for p in result.pools)
        lines.append(f"  {gpus} GPUs at {result.eur_per_hour:.2f} EUR/hour")
    elif result.feasible:
        lines.append(
            f"mix: {result.feasible:,} assignments meet the SLOs by estimate, "
            "but the cheapest do not hold in simulation"
        )
    else:
        lines.append("mix: no assignment of the buckets to the GPU classes meets the SLOs")
    if result.single is not None:
        lines.append(f"best single class (`planner plan`): {_pool_text(result.single, report.buckets)}")
    else:
        lines.append("best single class: none serves every request within the SLOs")
    if result.saving is not None:
        lines.append(_saving_text(result, report.plan.hardware.gpu))
    lines.append(
        "(each pool is the plan of the requests it serves: their input lengths, their share of the traffic, "
        "the plan's SLOs and spares; `planner mix --write-plans DIR` writes them, and `planner plan` on each "
        "gives its fleet. Every assignment is ranked by its pools' estimates and the cheapest are settled in "
        "simulation, as `planner plan` settles the plan's own fleet, the best single class)"
    )
    return "\n".join(lines)


def _saving_text(result: Any, pinned_gpu: str | None) -> str:
    """What the mix saves an hour against the plan's own fleet (the best single class), or that it
    saves nothing; where one other class serves every request cheaper, why the plan did not choose
    it (the plan pins its GPU, ``pinned_gpu``, or ranks by EUR per 1M tokens at Cr_closed)."""
    single, pools = result.single, result.pools
    if len(pools) == 1 and pools[0].gpu == single.gpu:
        return "the mix is the single class: splitting the requests over classes saves nothing here"
    if result.saving <= 0:
        return (
            f"the mix costs {-result.saving:.1%} more an hour than the plan's own fleet: "
            f"serve every request from {single.gpu}"
        )
    if len(pools) > 1:
        return f"saving of the mix: {result.saving:.1%} an hour against the plan's own fleet"
    other = pools[0].gpu
    why = (
        f"the plan pins hardware.gpu to {pinned_gpu}"
        if pinned_gpu
        else f"`planner plan` ranks by EUR per 1M tokens at Cr_closed (what a fleet costs over what it can carry), "
        f"where {single.gpu} comes first; for the planned load an hour, {other} does"
    )
    return (
        f"serving every request from {other} costs {result.saving:.1%} less an hour than the plan's own fleet "
        f"of {single.gpu}: {why}"
    )


def _pool_text(pool: Any, buckets: list[Any]) -> str:
    """One pool of a mix: the class, the buckets it serves (by their number), its replicas (and its
    prefill and decode pools where it serves disaggregated), deployment, GPUs, cost, and whether
    simulation settled it."""
    s = pool.sizing
    numbers = [str(i) for i, b in enumerate(buckets, start=1) if b.name in pool.buckets]
    serves = "every bucket" if len(numbers) == len(buckets) else "bucket " + ", ".join(numbers)
    spares = f" + {s.spares} spare" if s.spares else ""
    pools = pool.decision.pools if pool.decision is not None else None
    layout = f" {pools.layouts_text(s.spares // 2)}" if pools is not None else ""
    basis = "settled in simulation" if pool.settled else "by estimate"
    return (
        f"{pool.gpu} for {serves}: {s.replicas} replicas ({s.replicas_for_load} for the load{spares}){layout} of "
        f"{pool.decision.label if pool.decision is not None else s.deployment.label} = {s.gpus:,} GPUs, "
        f"{pool.eur_per_hour:.2f} EUR/hour ({basis})"
    )


def imported_model_text(imported: Any) -> str:
    """Render ``planner model import``: what was imported, through which plugin."""
    spec = imported.spec
    return (
        f"imported {spec.id} ({spec.architecture}, via plugin {imported.plugin}): "
        f"{billions(spec.total_params)} total, {billions(spec.active_params)} active parameters, "
        f"weights {spec.native_weight_dtype}, context {spec.max_context:,}"
    )


# ------------------------------------------------------------------ costs


def _eur(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def spares_label(spares: int, *, pooled: bool) -> str:
    """N+1 or N+2 for a fleet's ``spares``; with prefill/decode pools the spares are split, so many
    in each pool."""
    return f"N+{spares // 2} in each pool" if pooled else ("N+2" if spares == 2 else "N+1")


def tco_text(report: TcoReport, *, styled: bool = False) -> str:
    """Render ``planner tco``: the fleet, each cost line, EUR per token against renting and the API,
    break-even utilisations, the growth view quarter by quarter, and the assumptions."""
    t, f = report.tco, report.tco.fleet
    best = report.plan.sizing.best
    spares = spares_label(f.spares, pooled=bool(best and best.decision and best.decision.pools))
    lines = [
        f"{report.plan.resolved.plan.name}: {f.label}",
        f"Fleet: {f.replicas_for_load} replicas for the load + {f.spares} spare ({spares}) = {f.gpus} x "
        f"{f.deployment.gpu.id} in {f.nodes} node(s)",
        f"EUR per token at {t.throughput.label}: {t.output_tok_s:,.0f} output tok/s for the fleet x utilisation "
        f"{t.costs.utilisation:.0%}",
        "",
    ]
    rows = [(label, _eur(value), _eur(spares)) for label, value, spares in t.line_items()]
    rows.append(("total", _eur(t.eur_per_year), _eur(t.spare_lines.total)))
    lines.append(table(("cost line", "EUR a year", "of which spares"), rows, styled=styled))
    lines += ["", *_alternatives_lines(t), "", *_growth_lines(report, styled), "", "Assumptions"]
    assumptions = [(a.plan_field or a.key, "-" if a.value is None else f"{a.value:,g}", a.unit, a.origin)
                   for a in report.plan.assumptions]  # fmt: skip
    lines.append(table(("input (costs.)", "value", "unit", "from"), assumptions, styled=styled))
    return "\n".join(lines)


def _alternatives_lines(t: Any) -> list[str]:
    rent = t.costs.rent(t.gpu)
    api_in, api_out = t.costs.api_eur_per_million_input_tokens, t.costs.api_eur_per_million_output_tokens
    rented = (
        f"rented {_eur(t.rented_eur_per_million_output, 3)} ({rent:.2f} EUR per GPU-hour)"
        if rent
        else "rented: no price (costs.rented_eur_per_gpu_hour)"
    )
    api = (
        f"API {_eur(t.api_eur_per_million_output, 3)} ({api_in:g} in / {api_out:g} out per 1M tokens)"
        if t.api_eur_per_million_output is not None
        else "API: no price (costs.api_eur_per_million_input_tokens and _output_tokens)"
    )
    return [
        f"EUR per 1M output tokens: owned {_eur(t.eur_per_million_output, 3)} (GPU servers and GPU power alone "
        f"{_eur(t.ranked_eur_per_million_output, 3)}), {rented}, {api}",
        f"EUR per 1M tokens, input and output: owned {_eur(t.eur_per_million_total, 3)}",
        f"owned cost per GPU-hour {t.eur_per_gpu_hour:.2f} EUR; the spares (N+1/N+2) cost "
        f"{_eur(t.spare_lines.total)} EUR a year",
        f"break-even utilisation (owning is cheaper above it): against renting {_share(t.break_even_vs_rent)}, "
        f"against the API {_share(t.break_even_vs_api)}; cheapest at {t.costs.utilisation:.0%}: {t.cheapest}",
    ]


def _growth_lines(report: TcoReport, styled: bool) -> list[str]:
    g = report.growth
    head = (
        f"Growth over {report.years} year(s): traffic +{g.growth_per_year:.0%} a year, each quarter provisioned "
        f"for its peak + {g.inputs.burst_headroom:.0%} burst at {_num(g.inputs.concurrency_per_replica, 1)} in "
        "flight per replica"
    )
    rows = [
        (f"Q{q.number}", q.replicas, q.gpus, q.nodes, _eur(q.cumulative_owned_eur), _eur(q.cumulative_rented_eur),
         _eur(q.cumulative_api_eur), "yes" if q.class_change_needed else "")
        for q in g.quarters
    ]  # fmt: skip
    headers = ("quarter", "replicas", "GPUs", "nodes", "owned EUR (cum.)", "rented EUR (cum.)", "API EUR (cum.)",
               "class change")  # fmt: skip
    return [head, table(headers, rows, styled=styled), "Events:", *(f"  {e}" for e in g.events)]


def export_text(result: ExportResult) -> str:
    """Render ``planner export``: what was written."""
    return (
        f"wrote {result.path} ({result.size_bytes / 1024:,.0f} KiB; sheets {', '.join(result.sheets)}; "
        f"plan revision {result.revision})"
    )


def _tpot_text(summary: dict[str, Any], q: str) -> str:
    """ ", TPOT x ms" where the requests' mean gap at ``q`` is worse than the gaps' (then it judges ITL)."""
    tpot = summary.get("tpot_ms", {}).get(q)
    return f" (TPOT {tpot:,.1f} ms)" if tpot is not None and tpot > summary["itl_ms"][q] else ""


def _as_run_text(check: Any) -> str:
    """ ", run as N (k on each replica)" where a closed loop's users were rounded up to fill every replica alike."""
    run = check.summary.get("load", {}).get("concurrency")
    if check.load.mode != "closed" or check.load.per_replica or not run or run == check.load.concurrency:
        return ""
    return f", run as {run:,} ({run // check.replicas:,} on each replica)"
