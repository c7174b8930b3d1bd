"""Step 9's tuning plan: start from the engine's defaults, then one lever at a time.

The levers come in three families (throughput/prefill, latency/decode, VRAM/capacity); the
family of the plan's dominant constraint goes first. Each experiment changes exactly one
knob, names the engine metric to watch (from the runtime catalog for the engine version),
and says what the sizing model predicts when the knob moves (the same capacity and
estimate functions the plan was sized with), and when to stop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from planner.decision import PoolDecision
from planner.deploy.observability import runtime_metric
from planner.resolve import ResolvedPlan
from planner.sizing.capacity import caches_prefixes, knob, size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import Estimate, estimate
from planner.sizing.fleet import FleetSizing

THROUGHPUT, LATENCY, CAPACITY = "throughput/prefill", "latency/decode", "VRAM/capacity"
#: Which family attacks each dominant constraint first (the others follow in this order).
FIRST_FAMILY = {"latency": LATENCY, "memory": CAPACITY, "capacity": CAPACITY, "throughput": THROUGHPUT}
#: A change is kept when the watched percentile improves by at least this share of what the
#: model predicts (measurement noise of a repeated benchmark run is typically a few percent).
KEEP_SHARE = 0.5
#: How far the KV budget knob is raised in one step, and its ceiling: above ~0.95 the CUDA
#: context, graphs and NCCL buffers outside the budget no longer fit (see the vLLM knob notes).
BUDGET_STEP, BUDGET_CEILING = 0.05, 0.95


@dataclass(frozen=True)
class Experiment:
    """One run of the tuning plan: one lever moved, what to watch, what the model expects, when to stop."""

    step: int
    family: str
    lever: str
    change: str
    watch: list[str]
    expect: str
    stop: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(vars(self))


@dataclass(frozen=True)
class Skipped:
    """A lever the plan does not try, and why."""

    family: str
    lever: str
    why: str


@dataclass(frozen=True)
class TuningPlan:
    """The ordered experiments and the levers left out."""

    deployment: str
    dominant: str
    experiments: list[Experiment]
    skipped: list[Skipped]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "deployment": self.deployment,
            "dominant_constraint": self.dominant,
            "experiments": [e.to_json() for e in self.experiments],
            "skipped": [vars(s) for s in self.skipped],
        }


@dataclass(frozen=True)
class _Context:
    resolved: ResolvedPlan
    fleet: FleetSizing
    version: str
    concurrency: int
    #: The prefill and decode pools the plan serves disaggregated (None: aggregated replicas).
    pools: PoolDecision | None = None

    @property
    def dep(self) -> Deployment:
        return self.fleet.deployment

    @property
    def percentile(self) -> float:
        """The SLO's percentile, at which the expectations quote TTFT and ITL beside the mean."""
        return float(self.resolved.plan.slo.percentile)

    def metric(self, role: str) -> str:
        return runtime_metric(self.dep.runtime, self.version, role).name

    def run(self, dep: Deployment, isl: int | None = None, concurrency: int | None = None) -> Estimate:
        return estimate(
            dep,
            isl or self.fleet.isl,
            self.fleet.osl,
            model=self.fleet.model,
            concurrency=concurrency or self.concurrency,
            population=self.fleet.population,
        )

    def knob_name(self, role: str) -> str:
        return self.dep.runtime.knob_roles.get(role, role)  # type: ignore[call-overload, no-any-return]

    def with_knob(self, name: str, value: Any) -> Deployment:
        return replace(self.dep, knobs={**self.dep.knobs, name: value})


def tuning_plan(
    resolved: ResolvedPlan, fleet: FleetSizing, version: str, pools: PoolDecision | None = None
) -> TuningPlan:
    """The plan's one-lever-at-a-time experiments, the dominant constraint's family first.

    :param pools: the prefill and decode pools the plan serves disaggregated: the baseline then
        expects what their simulation gave, and the running-batch lever, which trades sequences for
        ITL where prefill steps stall an aggregated replica's decodes, is left out.
    """
    ctx = _Context(resolved, fleet, version, max(fleet.per_replica, 1), pools)
    built: dict[str, list[Experiment | Skipped]] = {
        THROUGHPUT: [_batched_tokens(ctx), _chunked_prefill(ctx)],
        LATENCY: [_max_sequences(ctx), _speculative(ctx)],
        CAPACITY: [_kv_budget(ctx), _kv_dtype(ctx), _prefix_caching(ctx)],
    }
    first = FIRST_FAMILY.get(fleet.dominant, LATENCY)
    order = [first, *(f for f in (THROUGHPUT, LATENCY, CAPACITY) if f != first)]
    experiments = [_baseline(ctx)]
    skipped: list[Skipped] = []
    for family in order:
        for item in built[family]:
            if isinstance(item, Skipped):
                skipped.append(item)
            else:
                experiments.append(replace(item, step=len(experiments) + 1))
    label = fleet.deployment.label
    if pools is not None:
        label += f" served disaggregated {pools.layouts_text(0)} for the load"
    return TuningPlan(label, fleet.dominant, experiments, skipped)


def _pct(before: float, after: float) -> str:
    if before <= 0 or before == float("inf") or after == float("inf"):
        return "n/a"
    return f"{(after - before) / before:+.0%}"


def _budget_change(before: Estimate, after: Estimate, percentile: float) -> str:
    """TTFT and ITL at the SLO's percentile before and after a token-budget change (the model times
    the prompt chunks a step carries, so both move with the budget), or that neither moves."""
    p = f"p{percentile:g}"
    ttft = before.ttft_at_percentile_ms(percentile), after.ttft_at_percentile_ms(percentile)
    itl = before.itl_at_percentile_ms(percentile), after.itl_at_percentile_ms(percentile)
    if all(abs(b - a) <= 0.005 * b for b, a in (ttft, itl)):
        return f"TTFT {p} {ttft[0]:.0f} ms and ITL {p} {itl[0]:.1f} ms: no change the model sees at this load (measure)"
    return (
        f"TTFT {p} {ttft[0]:.0f} -> {ttft[1]:.0f} ms ({_pct(*ttft)}), "
        f"ITL {p} {itl[0]:.1f} -> {itl[1]:.1f} ms ({_pct(*itl)})"
    )


def _slo_stop(ctx: _Context, metric: str) -> str:
    p = ctx.resolved.plan.slo.percentile
    return (
        f"keep it if p{p:g} of {metric} improves by at least {KEEP_SHARE:.0%} of the predicted change and no other "
        "SLO breaks at the planned peak; otherwise revert before the next experiment"
    )


def _baseline(ctx: _Context) -> Experiment:
    dep = replace(ctx.dep, knobs={})
    est = ctx.run(dep)
    p = f"p{ctx.percentile:g}"
    expect = (
        f"at {ctx.concurrency} concurrent requests per replica the model predicts TTFT {est.ttft_ms:.0f} ms "
        f"({p} {est.ttft_at_percentile_ms(ctx.percentile):.0f} ms), ITL {est.itl_ms:.1f} ms "
        f"({p} {est.itl_at_percentile_ms(ctx.percentile):.1f} ms), {est.output_tok_s:.0f} output tok/s per replica"
    )
    if ctx.pools is not None:
        # the figures the plan prints for its pools: each at the SLO's percentile, ITL the worse of the gaps'
        # and the requests' mean gap (as the target is judged)
        at, q = ctx.pools.summary["at_percentile_ms"], f"p{int(ctx.pools.summary['percentile'])}"
        expect = (
            f"served disaggregated at {ctx.pools.rate_req_s:,.1f} requests/s, the simulation that sized the pools "
            f"gives TTFT {q} {at['ttft']:,.0f} ms, ITL {q} {at['itl']:,.1f} ms, E2E {q} {at['e2e'] / 1000:,.1f} s "
            f"(the levers below are estimated on one replica served aggregated at {ctx.concurrency} requests: "
            "read them for their direction and size)"
        )
    return Experiment(
        1,
        "baseline",
        "none (engine defaults)",
        f"{ctx.dep.runtime.name} {ctx.version} defaults with the plan's parallelism, model and max context",
        [ctx.metric("ttft"), ctx.metric("itl"), ctx.metric("kv_usage"), ctx.metric("waiting")],
        expect,
        "measure Cr_closed and Cr_open (planner bench) and record the baseline; every later run compares to it",
    )


def _batched_tokens(ctx: _Context) -> Experiment:
    """The token budget a step: from the engine's default to the plan's where the plan (or the search)
    set another, else doubled; the baseline runs the default, so the plan's value is a lever too."""
    name = ctx.knob_name("batched_tokens")
    now = int(knob(ctx.dep, "batched_tokens"))
    default = int(knob(replace(ctx.dep, knobs={k: v for k, v in ctx.dep.knobs.items() if k != name}), "batched_tokens"))
    start, new = (default, now) if default != now else (now, now * 2)
    from_dep, to_dep = ctx.with_knob(name, start), ctx.with_knob(name, new)
    before, after = ctx.run(from_dep), ctx.run(to_dep)
    context = ctx.fleet.isl + ctx.fleet.osl
    cap_before = size_capacity(from_dep, context).max_concurrency
    cap_after = size_capacity(to_dep, context).max_concurrency
    p = ctx.percentile
    # watch the figure the model expects to improve most; TTFT where neither moves
    itl_gain = 1 - after.itl_at_percentile_ms(p) / before.itl_at_percentile_ms(p)
    ttft_gain = 1 - after.ttft_at_percentile_ms(p) / before.ttft_at_percentile_ms(p)
    watched = ctx.metric("itl") if itl_gain > max(ttft_gain, 0.005) else ctx.metric("ttft")
    planned = default != now
    return Experiment(
        0,
        THROUGHPUT,
        name,
        f"{start} (the engine's default) -> {new} (the plan's)" if planned else f"{now} -> {new}",
        [ctx.metric("ttft"), ctx.metric("itl")],
        f"{_budget_change(before, after, p)}; larger prefill chunks raise the activation peak: "
        f"sequences held {cap_before} -> {cap_after}",
        _slo_stop(ctx, watched) + ("" if planned else f"; stop doubling when p{p:g} ITL crosses its SLO"),
    )


def _chunked_prefill(ctx: _Context) -> Experiment | Skipped:
    flags = [f for f in ctx.dep.runtime.flags if f.role == "chunked_prefill"]
    if not flags:
        return Skipped(THROUGHPUT, "chunked prefill", f"{ctx.dep.runtime.name} sets it through the chunk size")
    return Experiment(
        0,
        THROUGHPUT,
        flags[0].flag,
        "on -> off (only if long prompts dominate TTFT)",
        [ctx.metric("ttft"), ctx.metric("itl")],
        "direction from the method, size not modelled: whole prompts in one step lower TTFT of long prompts and "
        "raise ITL for the running decodes",
        _slo_stop(ctx, ctx.metric("ttft")) + "; revert at once if ITL breaks its SLO",
    )


def _max_sequences(ctx: _Context) -> Experiment | Skipped:
    name = ctx.knob_name("max_sequences")
    cap, latency = ctx.fleet.capacity_cap, ctx.fleet.latency_cap
    if ctx.pools is not None:
        decode = ctx.pools.decode_capacity
        held = f" (its Cr_closed {decode.cr_closed:,})" if decode is not None else ""
        return Skipped(
            LATENCY,
            name,
            f"served disaggregated: each decode replica runs up to what its KV cache holds{held} without prefill "
            f"steps stalling its decodes, which is how the pools were sized; lowering it toward {latency} (what an "
            "aggregated replica holds within the SLOs) would only call for more decode replicas",
        )
    if latency >= cap:
        return Skipped(
            LATENCY,
            name,
            f"the KV cache holds {cap} sequences, no more than the {latency} that meet the SLOs: the running batch "
            "already stops at what memory holds, and raising it would preempt (the VRAM/capacity levers raise it)",
        )
    at_cap, at_latency = ctx.run(ctx.dep, concurrency=cap), ctx.run(ctx.dep, concurrency=max(latency, 1))
    return Experiment(
        0,
        LATENCY,
        name,
        f"{cap} (what the KV cache holds) -> {latency} (what meets the SLOs)",
        [ctx.metric("itl"), ctx.metric("waiting")],
        f"ITL {at_cap.itl_ms:.1f} -> {at_latency.itl_ms:.1f} ms ({_pct(at_cap.itl_ms, at_latency.itl_ms)}) when "
        f"a replica runs full; requests beyond {latency} wait instead (the fleet was sized so they do not at peak)",
        _slo_stop(ctx, ctx.metric("itl")) + f"; stop lowering when {ctx.metric('waiting')} stays above 0 at the "
        "planned peak (then add replicas, not tuning)",
    )


def _speculative(ctx: _Context) -> Skipped:
    return Skipped(
        LATENCY,
        "speculative decoding",
        f"the model catalog records no draft model or MTP head for {ctx.dep.model.id}, so the planner cannot "
        "predict its acceptance rate; add one to the catalog to plan it",
    )


def _kv_budget(ctx: _Context) -> Experiment | Skipped:
    name = ctx.dep.runtime.kv_budget_knob
    now = float(knob(ctx.dep, name))
    new = round(min(now + BUDGET_STEP, BUDGET_CEILING), 3)
    if new <= now:
        return Skipped(CAPACITY, name, f"already at {now:g}, the ceiling of {BUDGET_CEILING:g}")
    context = ctx.fleet.isl + ctx.fleet.osl
    before, after = size_capacity(ctx.dep, context), size_capacity(ctx.with_knob(name, new), context)
    return Experiment(
        0,
        CAPACITY,
        name,
        f"{now:g} -> {new:g}",
        [ctx.metric("kv_usage"), ctx.metric("waiting")],
        f"KV cache {before.kv_budget_gib_per_gpu:.1f} -> {after.kv_budget_gib_per_gpu:.1f} GiB per GPU: "
        f"sequences of {context} tokens held {before.max_concurrency} -> {after.max_concurrency} "
        f"({_pct(before.max_concurrency, after.max_concurrency)})",
        f"stop at the first out-of-memory at start-up or under load, or when {ctx.metric('kv_usage')} stays "
        "below 90% at the planned peak (memory no longer limits)",
    )


def _kv_dtype(ctx: _Context) -> Experiment | Skipped:
    if ctx.dep.kv_dtype not in ("bf16", "fp16"):
        return Skipped(CAPACITY, "KV-cache dtype", f"the plan already stores KV in {ctx.dep.kv_dtype}")
    if "fp8" not in ctx.dep.runtime.kv_dtypes or not ctx.dep.gpu.supports("fp8"):
        return Skipped(CAPACITY, "KV-cache dtype", f"no fp8 KV cache for {ctx.dep.runtime.id} on {ctx.dep.gpu.id}")
    fp8 = replace(ctx.dep, kv_dtype="fp8")
    context = ctx.fleet.isl + ctx.fleet.osl
    held_before, held_after = (
        size_capacity(ctx.dep, context).max_concurrency,
        size_capacity(fp8, context).max_concurrency,
    )
    before, after = ctx.run(ctx.dep), ctx.run(fp8)
    return Experiment(
        0,
        CAPACITY,
        "kv_cache_dtype",
        f"{ctx.dep.kv_dtype} -> fp8",
        [ctx.metric("kv_usage"), ctx.metric("itl")],
        f"sequences held {held_before} -> {held_after} ({_pct(held_before, held_after)}); ITL {before.itl_ms:.1f} -> "
        f"{after.itl_ms:.1f} ms at {ctx.concurrency} requests; check answer quality on the plan's evaluation set",
        _slo_stop(ctx, ctx.metric("itl")) + "; revert if answer quality drops",
    )


def _prefix_caching(ctx: _Context) -> Experiment | Skipped:
    shared = ctx.resolved.plan.workload.shared_prefix_tokens
    flags = [f for f in ctx.dep.runtime.flags if f.role == "prefix_caching"]
    if not shared or not flags:
        why = "the workload declares no shared prefix" if not shared else f"{ctx.dep.runtime.name} has no such flag"
        return Skipped(CAPACITY, "prefix caching", why)
    before, after = ctx.run(ctx.dep), ctx.run(ctx.dep, isl=max(ctx.fleet.isl - shared, 1))
    return Experiment(
        0,
        CAPACITY,
        flags[0].flag,
        "off -> on (the generated configuration turns it on; this run measures what it brings)"
        if caches_prefixes(ctx.dep)
        else "off -> on (the plan turns it off in runtime.knobs, and so does the generated configuration; this run "
        "measures what turning it on would bring)",
        [ctx.metric("ttft")],
        f"{shared} shared prefix tokens skip prefill when cached: TTFT {before.ttft_ms:.0f} -> {after.ttft_ms:.0f} "
        f"ms ({_pct(before.ttft_ms, after.ttft_ms)}) at a full hit rate",
        _slo_stop(ctx, ctx.metric("ttft")),
    )
