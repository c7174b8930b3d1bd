"""Simulating a plan's deployment: percentiles with the queue, envelopes, fleets, P/D, mixes.

Builds simulator replicas from a :class:`Deployment` (KV blocks from the capacity
sizing, step times from the shared performance physics, the runtime's knobs), then:
``simulate_plan`` runs one load, ``envelopes`` finds Cr_closed and Cr_open by bracketed
search, ``fleet_check`` runs the fleet behind a router with N+1 (N+2) replicas down,
``disaggregation`` compares separate prefill and decode pools with the aggregated
fleet, and ``heterogeneous_mix`` assigns request-size buckets to GPU classes.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from planner.perfmodel import BUILTIN, PerformanceModel, choose
from planner.plan import Plan
from planner.simulate import (
    ROUTERS,
    Replica,
    SchedulerConfig,
    Targets,
    Workload,
    daily_arrivals,
    gamma_arrivals,
    lognormal_lengths,
    meets,
    percentile,
    poisson_arrivals,
    run,
    summarise,
)
from planner.sizing.capacity import knob, size_capacity
from planner.sizing.deployment import Deployment

DEFAULT_DURATION_S = 300.0


def scheduler_for(dep: Deployment, context: int) -> SchedulerConfig:
    """Scheduler limits of one replica: batch limit, step token budget, KV blocks."""
    cap = size_capacity(dep, context)
    ranks = dep.ep if dep.attention_dp else 1
    return SchedulerConfig(
        max_num_seqs=int(knob(dep, "max_sequences")) * ranks,
        token_budget=max(int(knob(dep, "batched_tokens")), 1) * ranks,
        block_tokens=cap.kv_block_tokens,
        kv_blocks=cap.kv_blocks_per_gpu * ranks,
    )


def make_replicas(dep: Deployment, count: int, context: int) -> list[Replica]:
    """``count`` simulator replicas of ``dep``, timed by its performance model."""
    step = partial(dep.perf.mixed_step_s, dep)
    return [Replica(i, scheduler_for(dep, context), step) for i in range(count)]


def workload_of(plan: Plan, dep: Deployment) -> Workload:
    """Request lengths fitted to the plan's p50/p95, and its shared prefix."""
    w = plan.workload
    p50_in, p50_out = w.input_tokens.typical, w.output_tokens.typical
    p95_in = w.input_tokens.p95 or w.input_tokens.worst_case
    p95_out = w.output_tokens.p95 or w.output_tokens.worst_case
    lengths = lognormal_lengths(p50_in, p95_in, p50_out, p95_out, dep.model.max_context)
    hit = (w.prefix_cache_hit_rate if w.prefix_cache_hit_rate is not None else 1.0) if w.shared_prefix_tokens else 0.0
    return Workload(lengths=lengths, shared_prefix_tokens=w.shared_prefix_tokens, prefix_hit_rate=hit)


def targets_of(plan: Plan) -> Targets:
    """The plan's SLO targets in seconds."""
    s = plan.slo

    def to_s(ms: float | None) -> float | None:
        return ms / 1000 if ms is not None else None

    return Targets(to_s(s.ttft_ms), to_s(s.itl_ms), to_s(s.e2e_ms), s.percentile)


def context_of(plan: Plan) -> int:
    """The p95 context that sizes KV."""
    return plan.workload.context_p95_tokens


@dataclass(frozen=True)
class LoadSpec:
    """How load is applied: open loop at a rate, or closed loop with users."""

    mode: str  # open or closed
    rate: float | None = None
    concurrency: int | None = None
    arrival: str = "poisson"  # poisson, gamma, daily
    cv: float = 2.0
    peak_factor: float = 1.0
    think_s: float = 0.0


def simulate_plan(
    plan: Plan,
    dep: Deployment,
    load: LoadSpec,
    *,
    replicas: int = 1,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
    router: str = "least-outstanding",
    lengths: Any = None,
) -> dict[str, Any]:
    """Simulate ``replicas`` replicas of ``dep`` under ``load``; return the summary.

    :param lengths: a JSONL/CSV path of input/output token counts to replay instead of
        the plan's fitted distribution.
    """
    from planner.simulate import replay_lengths

    fleet = make_replicas(dep, replicas, context_of(plan))
    workload = workload_of(plan, dep)
    if lengths is not None:
        workload = Workload(replay_lengths(lengths), workload.shared_prefix_tokens, workload.prefix_hit_rate)
    rng = random.Random(seed + 1)
    gaps = None
    users = None
    if load.mode == "open":
        rate = load.rate or 1.0
        gaps = {
            "poisson": lambda: poisson_arrivals(rate, rng),
            "gamma": lambda: gamma_arrivals(rate, load.cv, rng),
            "daily": lambda: daily_arrivals(rate, load.peak_factor, rng, period_s=duration_s),
        }[load.arrival]()
    else:
        users = load.concurrency or 1
    result = run(
        fleet,
        workload,
        duration_s=duration_s,
        seed=seed,
        gaps=gaps,
        users=users,
        think_s=load.think_s,
        router=ROUTERS[router],
    )
    summary = summarise(result, targets_of(plan))
    summary["load"] = {"mode": load.mode, "rate": load.rate, "concurrency": load.concurrency, "arrival": load.arrival}
    summary["replicas"] = replicas
    summary["gpus"] = replicas * dep.gpus
    summary["meets_slo"] = meets(summary, targets_of(plan))
    return summary


# ------------------------------------------------------------------ envelopes


def _largest(ok: Callable[[float], bool], start: float, integer: bool, limit: float) -> float:
    """Bracketed search for the largest value where ``ok`` holds (0 when even ``start`` fails)."""
    if not ok(start):
        return 0.0
    low, high = start, start * 2
    while high <= limit and ok(high):
        low, high = high, high * 2
    if high > limit:
        return low
    for _ in range(12 if not integer else 40):
        if (integer and high - low <= 1) or (not integer and high - low <= 0.02 * low):
            break
        middle = (low + high) // 2 if integer else (low + high) / 2
        if ok(middle):
            low = middle
        else:
            high = middle
    return low


def envelopes(
    plan: Plan,
    dep: Deployment,
    *,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cr_closed (largest closed-loop concurrency meeting the SLOs) and Cr_open (largest rate).

    Also returns the latency-vs-load curve of every point tried, for plotting.
    """
    curve: list[dict[str, Any]] = []

    def closed(n: float) -> bool:
        summary = simulate_plan(plan, dep, LoadSpec("closed", concurrency=int(n)), duration_s=duration_s, seed=seed)
        curve.append(_point("closed", n, summary))
        if progress:
            progress(f"closed loop, {int(n)} users: {'meets' if summary['meets_slo'] else 'misses'} the SLOs")
        return bool(summary["meets_slo"])

    def open_(rate: float) -> bool:
        summary = simulate_plan(plan, dep, LoadSpec("open", rate=rate), duration_s=duration_s, seed=seed)
        curve.append(_point("open", rate, summary))
        if progress:
            progress(f"open loop, {rate:.3g} req/s: {'meets' if summary['meets_slo'] else 'misses'} the SLOs")
        return bool(summary["meets_slo"])

    cap = size_capacity(dep, context_of(plan)).max_concurrency
    cr_closed = int(_largest(closed, 1, True, max(cap * 4, 8)))
    first_guess = max(cr_closed, 1) / max(_mean_e2e_s(curve), 0.1)
    cr_open = _largest(open_, max(first_guess / 4, 0.01), False, first_guess * 64)
    curve.sort(key=lambda p: (p["mode"], p["load"]))
    return {"cr_closed": cr_closed, "cr_open_req_s": cr_open, "curve": curve, "deployment": dep.label}


def _mean_e2e_s(curve: list[dict[str, Any]]) -> float:
    closed = [p for p in curve if p["mode"] == "closed" and p["meets_slo"]]
    return closed[-1]["e2e_p50_ms"] / 1000 if closed else 1.0


def _point(mode: str, load: float, s: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": mode,
        "load": load,
        "meets_slo": s["meets_slo"],
        "ttft_p50_ms": s["ttft_ms"]["p50"],
        "ttft_p95_ms": s["ttft_ms"]["p95"],
        "itl_p95_ms": s["itl_ms"]["p95"],
        "e2e_p50_ms": s["e2e_ms"]["p50"],
        "e2e_p95_ms": s["e2e_ms"]["p95"],
        "output_tok_s": s["output_tok_s"],
        "goodput_share": s["goodput_share"],
    }


def fleet_check(plan: Plan, dep: Deployment, replicas: int, spares: int, rate: float, **kw: Any) -> dict[str, Any]:
    """Run the whole fleet at the peak rate with every replica, then with ``spares`` down."""
    full = simulate_plan(plan, dep, LoadSpec("open", rate=rate), replicas=replicas, **kw)
    degraded = simulate_plan(plan, dep, LoadSpec("open", rate=rate), replicas=max(replicas - spares, 1), **kw)
    return {"all_up": full, "spares_down": degraded, "survives_failure": bool(degraded["meets_slo"])}


# ------------------------------------------------------ disaggregated serving


#: Per-GPU bandwidth (GB/s) and latency (s) of KV transports between pools.
TRANSPORTS = {
    "nvlink": (450.0, 10e-6),
    "rdma": (50.0, 20e-6),
    "nixl": (50.0, 20e-6),
    "ucx": (50.0, 20e-6),
    "mooncake": (50.0, 20e-6),
    "tcp": (5.0, 200e-6),
}


def kv_transfer_s(dep: Deployment, tokens: int, transport: str) -> float:
    """Time to move one request's KV cache (all of its GPUs in parallel) between pools."""
    from planner.sizing.capacity import kv_bytes_per_sequence

    gb_s, latency = TRANSPORTS[transport]
    return kv_bytes_per_sequence(dep, tokens) / (gb_s * 1e9) + latency


def disaggregation(
    plan: Plan,
    prefill: Deployment,
    decode: Deployment,
    rate: float,
    prefill_replicas: int,
    decode_replicas: int,
    transport: str,
    *,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
) -> dict[str, Any]:
    """Separate prefill and decode pools with KV transfer between them, at ``rate`` requests/s.

    Prefill replicas run the prompts (each request leaves with its first token); its KV
    then crosses ``transport``; a decode replica holds that KV (its prompt arrives cached)
    and generates the rest. Returns percentiles, goodput per GPU, and the transfer time.
    """
    rng = random.Random(seed + 1)
    sampler = workload_of(plan, prefill).lengths
    count = int(rate * duration_s * 1.5) + 10
    lengths = [sampler(rng) for _ in range(count)]
    prompts = Workload(lengths=_replay([(isl, 1) for isl, _ in lengths]))
    first = run(
        make_replicas(prefill, prefill_replicas, context_of(plan)),
        prompts,
        duration_s=duration_s,
        seed=seed,
        gaps=poisson_arrivals(rate, random.Random(seed + 2)),
    )
    handoffs = sorted(((r.finish_s or 0.0) + kv_transfer_s(prefill, r.isl, transport), r.id, r) for r in first.requests)
    times = [0.0, *[t for t, _, _ in handoffs]]
    decode_lengths = [lengths[request_id] for _, request_id, _ in handoffs]
    cached = Workload(lengths=_replay(decode_lengths), shared_prefix_tokens=10**9, prefix_hit_rate=1.0)
    second = run(
        make_replicas(decode, decode_replicas, context_of(plan)),
        cached,
        duration_s=times[-1] + 1e-6,
        seed=seed,
        gaps=iter([b - a for a, b in itertools.pairwise(times)]),
        warmup_s=0.0,
    )
    finished = {r.id: r for r in second.requests}
    targets = targets_of(plan)
    ttfts, e2es, gaps, good = [], [], [], 0
    window = duration_s * 0.9
    for order, (_handoff, _, p) in enumerate(handoffs):
        d = finished.get(order)
        if d is None or p.arrival_s < duration_s * 0.1:
            continue
        ttft = (p.finish_s or 0.0) - p.arrival_s
        e2e = (d.finish_s or 0.0) - p.arrival_s
        itl = sum(d.gaps_s) / len(d.gaps_s) if d.gaps_s else 0.0
        ttfts.append(ttft)
        e2es.append(e2e)
        gaps += d.gaps_s
        checks = ((targets.ttft_s, ttft), (targets.itl_s, itl), (targets.e2e_s, e2e))
        good += all(t is None or v <= t for t, v in checks)
    gpus = prefill_replicas * prefill.gpus + decode_replicas * decode.gpus
    transfer = [kv_transfer_s(prefill, r.isl, transport) for r in first.requests]
    return {
        "prefill": f"{prefill_replicas} x {prefill.label}",
        "decode": f"{decode_replicas} x {decode.label}",
        "transport": transport,
        "gpus": gpus,
        "prefill_gpus": prefill_replicas * prefill.gpus,
        "decode_gpus": decode_replicas * decode.gpus,
        "requests": len(ttfts),
        "ttft_p95_ms": percentile(ttfts, 95) * 1000,
        "itl_p95_ms": percentile(gaps, 95) * 1000,
        "itl_p99_ms": percentile(gaps, 99) * 1000,
        "e2e_p95_ms": percentile(e2es, 95) * 1000,
        "goodput_req_s": good / window,
        "goodput_per_gpu": good / window / gpus,
        "kv_transfer_ms_mean": sum(transfer) / max(len(transfer), 1) * 1000,
    }


def _replay(pairs: list[tuple[int, int]]) -> Any:
    """A length sampler that returns ``pairs`` in order."""
    queue = iter(pairs)

    def draw(_rng: random.Random) -> tuple[int, int]:
        return next(queue, pairs[-1])

    return draw


# ---------------------------------------------------------- heterogeneous mix


def heterogeneous_mix(
    buckets: list[tuple[str, float, int, int]],
    classes: list[tuple[str, float, Callable[[int, int], float]]],
) -> dict[str, Any]:
    """Assign request-size buckets to GPU classes at least cost (after Mélange, arXiv 2404.14527).

    :param buckets: (name, requests/s, input tokens, output tokens) per bucket.
    :param classes: (GPU class, EUR per GPU-hour, throughput(isl, osl) -> requests/s one
        GPU sustains within the SLOs for that bucket, 0 when it cannot).
    :returns: the cheapest mix (fractional GPUs rounded up per class) against the best
        single class, with the saving.
    """

    def cost_of(assignment: dict[str, str]) -> tuple[float, dict[str, float]]:
        gpus: dict[str, float] = {}
        for name, rate, isl, osl in buckets:
            cls = assignment[name]
            capacity = next(f for c, _, f in classes if c == cls)(isl, osl)
            if capacity <= 0:
                return math.inf, {}
            gpus[cls] = gpus.get(cls, 0.0) + rate / capacity
        price = {c: p for c, p, _ in classes}
        return sum(math.ceil(g - 1e-9) * price[c] for c, g in gpus.items()), gpus

    best_mix, best_cost, best_gpus = {}, math.inf, {}
    names = [b[0] for b in buckets]
    options = [c for c, _, _ in classes]
    for combo in _product(options, len(names)):
        assignment = dict(zip(names, combo, strict=True))
        cost, gpus = cost_of(assignment)
        if cost < best_cost:
            best_mix, best_cost, best_gpus = assignment, cost, gpus
    singles = {}
    for cls in options:
        cost, gpus = cost_of(dict.fromkeys(names, cls))
        singles[cls] = cost
    single_cls = min(singles, key=lambda c: singles[c])
    return {
        "mix": best_mix,
        "mix_gpus": {c: math.ceil(g - 1e-9) for c, g in best_gpus.items()},
        "mix_eur_per_hour": best_cost,
        "best_single_class": single_cls,
        "single_eur_per_hour": singles[single_cls],
        "saving": (singles[single_cls] - best_cost) / singles[single_cls]
        if math.isfinite(singles[single_cls])
        else None,
    }


def _product(options: list[str], length: int) -> list[tuple[str, ...]]:
    import itertools

    return list(itertools.product(options, repeat=length))


def size_buckets(plan: Plan, count: int = 3, samples: int = 4000, seed: int = 0) -> list[tuple[str, float, int, int]]:
    """Split the plan's traffic into ``count`` buckets by input length (equal shares of requests).

    Each bucket carries its share of the peak request rate and its p95 input and output.
    """
    from planner.traffic import declared_concurrency

    rng = random.Random(seed)
    draw = lognormal_lengths(
        plan.workload.input_tokens.typical,
        plan.workload.input_tokens.p95 or plan.workload.input_tokens.worst_case,
        plan.workload.output_tokens.typical,
        plan.workload.output_tokens.p95 or plan.workload.output_tokens.worst_case,
        10**7,
    )
    pairs = sorted(draw(rng) for _ in range(samples))
    peak, _ = declared_concurrency(plan)
    rate = (plan.traffic.requests_per_s or 0.0) * plan.traffic.peak_factor
    if not rate:
        mean_osl = sum(o for _, o in pairs) / len(pairs)
        rate = (peak or 1.0) / max(mean_osl * 0.03, 1.0)  # rough: ~30 ms a token while in flight
    rate *= 1 + plan.traffic.headroom
    size = len(pairs) // count
    buckets = []
    for i in range(count):
        part = pairs[i * size : (i + 1) * size if i < count - 1 else len(pairs)]
        isl = sorted(p[0] for p in part)[int(0.95 * (len(part) - 1))]
        osl = sorted(p[1] for p in part)[int(0.95 * (len(part) - 1))]
        buckets.append((f"{i + 1}: input <= {part[-1][0]:,}", rate * len(part) / len(pairs), isl, osl))
    return buckets


def class_throughput(
    plan: Plan, deployments: list[Deployment], performance: PerformanceModel | None = None
) -> Callable[[int, int], float]:
    """Requests/s one GPU of a class sustains within the SLOs, for a bucket's (isl, osl).

    Every deployment of the class is rated with its own performance model (the built-in
    one unless set). With ``performance`` given, the best-rated deployment is then timed
    again with that model (``choose``: the built-in one where it does not cover it), as
    search does for its shortlist, so that a slow backend times one deployment per class
    and bucket, not all of them.
    """
    from planner.sizing.estimate import estimate
    from planner.traffic import latency_cap, slo_targets

    targets = slo_targets(plan)

    def rate(dep: Deployment, isl: int, osl: int) -> float:
        cap = estimate(dep, isl, osl, offline=True).capacity.max_concurrency
        held = min(cap, latency_cap(dep, isl, osl, targets)) if cap else 0
        if held <= 0:
            return 0.0
        at = estimate(dep, isl, osl, concurrency=held)
        return held / (at.e2e_ms / 1000) / dep.gpus

    def per_gpu(isl: int, osl: int) -> float:
        rated = [(rate(dep, isl, osl), i) for i, dep in enumerate(deployments)]
        best, index = max(rated, default=(0.0, -1))
        if best <= 0 or performance is None or performance is BUILTIN:
            return best
        dep = deployments[index]
        return rate(replace(dep, performance=choose(performance, dep)), isl, osl)

    return per_gpu
