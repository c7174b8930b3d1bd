"""Operating envelopes by simulation: Cr_closed, Cr_open and the latency-vs-load curve.

Cr_closed is the largest closed-loop concurrency per replica whose simulated percentiles
meet the SLOs; Cr_open the largest open-loop rate (queue included in E2E). Both are
found by bracketed search over simulated loads from a guess; every point tried is kept
for the curve. The sizing decision (:mod:`planner.decision`) runs this search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from planner.perfmodel import PerformanceModel
from planner.plan import Plan
from planner.plan_simulation import DEFAULT_DURATION_S, LoadSpec, RunLength, context_of, simulate_plan
from planner.sizing.capacity import size_capacity
from planner.sizing.deployment import Deployment

#: How close to the edge the envelope search stops: the answer is within this share of the largest load that holds.
PRECISION = 0.1


def largest_that_holds(
    ok: Callable[[float], bool], start: float, *, integer: bool, floor: float, limit: float
) -> float:
    """The largest value in [floor, limit] where ``ok`` holds (0 when even ``floor`` fails).

    Searched from ``start``, a guess: up by doubling while it holds, down by halving while
    it fails, then bisection to within ``PRECISION`` of the answer (and one unit for
    integers). A good guess (the estimate's) needs only a few simulations.
    """
    value = min(max(start, floor), limit)
    if ok(value):
        low, high = value, value * 2
        while high <= limit and ok(high):
            low, high = high, high * 2
        if high > limit:  # doubled past the limit: the answer lies between the last that held and it
            if low >= limit or ok(limit):
                return limit
            high = limit
    else:
        high, low = value, (value // 2 if integer else value / 2)
        while low >= floor and not ok(low):
            high, low = low, (low // 2 if integer else low / 2)
        if low < floor:
            return 0.0
    while high - low > max(PRECISION * low, 1 if integer else 0):
        middle = (low + high) // 2 if integer else (low + high) / 2
        if ok(middle):
            low = middle
        else:
            high = middle
    return low


def envelopes(
    plan: Plan,
    dep: Deployment,
    model: PerformanceModel,
    *,
    length: RunLength | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    start: int = 1,
) -> dict[str, Any]:
    """Cr_closed (largest closed-loop concurrency meeting the SLOs) and Cr_open (largest rate), per replica.

    :param length: how long each point runs (default: ``DEFAULT_DURATION_S`` seconds each).
    :param start: a guess of Cr_closed (the estimate's per-replica concurrency); Cr_open is
        searched from Cr_closed over its end-to-end latency (Little's law).
    :returns: both envelopes and the latency-vs-load curve of every point tried.
    """
    length = length or RunLength(fixed_s=DEFAULT_DURATION_S)
    curve: list[dict[str, Any]] = []

    def closed(n: float) -> bool:
        load = LoadSpec("closed", concurrency=int(n))
        summary = simulate_plan(
            plan, dep, model, load, duration_s=length.for_load(load), seed=seed, stretch_to_s=length.stretch_to_s
        )
        curve.append(curve_point("closed", n, summary))
        if progress:
            progress(f"closed loop, {int(n)} users: {'meets' if summary['meets_slo'] else 'misses'} the SLOs")
        return bool(summary["meets_slo"])

    def open_(rate: float) -> bool:
        if rate > sustainable:
            # A finite run would pass while the queue grows, when the E2E target is long against the run.
            if progress:
                progress(f"open loop, {rate:.3g} req/s: above the {sustainable:.3g} req/s one replica sustains")
            return False
        load = LoadSpec("open", rate=rate)
        summary = simulate_plan(plan, dep, model, load, duration_s=length.for_load(load), seed=seed)
        curve.append(curve_point("open", rate, summary))
        if progress:
            progress(f"open loop, {rate:.3g} req/s: {'meets' if summary['meets_slo'] else 'misses'} the SLOs")
        return bool(summary["meets_slo"])

    cap = size_capacity(dep, context_of(plan)).max_concurrency
    cr_closed = int(largest_that_holds(closed, max(start, 1), integer=True, floor=1, limit=max(cap * 4, 8)))
    sustainable = sustainable_req_s(curve, cr_closed)
    guess = max(cr_closed, 1) / max(_mean_e2e_s(curve), 0.1)
    cr_open = largest_that_holds(open_, min(guess, sustainable), integer=False, floor=guess / 64, limit=guess * 64)
    curve.sort(key=lambda p: (p["mode"], p["load"]))
    return {
        "cr_closed": cr_closed,
        "cr_open_req_s": cr_open,
        "sustainable_req_s": sustainable,
        "curve": curve,
        "deployment": dep.label,
    }


def sustainable_req_s(curve: list[dict[str, Any]], cr_closed: int) -> float:
    """The most requests/s one replica can sustain within the SLOs (inf when unknown).

    In open loop at a rate above what the replica completes with the first closed-loop
    concurrency that misses the SLOs, the requests in flight settle above that concurrency
    (Little's law), so the percentiles miss too; the queue only grows. A finite run does
    not always show it (a ten-minute E2E target outlasts the run), so the envelope and the
    fleet search hold rates to this bound.
    """
    missing = [p for p in curve if p["mode"] == "closed" and not p["meets_slo"] and p["load"] > cr_closed]
    if not missing:
        return math.inf
    return float(min(missing, key=lambda p: p["load"])["throughput_req_s"]) or math.inf


def _mean_e2e_s(curve: list[dict[str, Any]]) -> float:
    closed = [p for p in curve if p["mode"] == "closed" and p["meets_slo"]]
    return closed[-1]["e2e_p50_ms"] / 1000 if closed else 1.0


def curve_point(mode: str, load: float, s: dict[str, Any]) -> dict[str, Any]:
    """One point of a latency-vs-load curve from a run's summary (simulated, or measured: ``planner.bench``)."""
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
        "throughput_req_s": s["throughput_req_s"],
        "goodput_share": s["goodput_share"],
        # why a point misses the SLOs: the figure and percentile that break them (the columns above
        # are at p95, and an ITL target also holds each request's TPOT)
        "misses": "; ".join(s.get("slo_misses") or []),
    }
