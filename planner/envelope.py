"""Operating envelopes by simulation: Cr_closed, Cr_open and the latency-vs-load curve.

Cr_closed is the largest closed-loop concurrency per replica whose simulated percentiles
meet the SLOs; Cr_open the largest open-loop rate (queue included in E2E). Both are
found by bracketed search over simulated loads; every point tried is kept for the curve.
:func:`size_on_envelope` sizes a full-envelope plan's replicas on the simulated Cr_closed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from planner.perfmodel import PerformanceModel
from planner.plan import Plan
from planner.plan_simulation import DEFAULT_DURATION_S, LoadSpec, context_of, simulate_plan
from planner.sizing.capacity import size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import FleetSizing


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
    model: PerformanceModel,
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
        summary = simulate_plan(
            plan, dep, model, LoadSpec("closed", concurrency=int(n)), duration_s=duration_s, seed=seed
        )
        curve.append(_point("closed", n, summary))
        if progress:
            progress(f"closed loop, {int(n)} users: {'meets' if summary['meets_slo'] else 'misses'} the SLOs")
        return bool(summary["meets_slo"])

    def open_(rate: float) -> bool:
        summary = simulate_plan(plan, dep, model, LoadSpec("open", rate=rate), duration_s=duration_s, seed=seed)
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


#: Simulated seconds per point when a full-envelope plan is sized on its envelope.
PLAN_ENVELOPE_S = 60.0


@dataclass(frozen=True)
class EnvelopeSizing:
    """Replicas sized on the simulated Cr_closed instead of the analytic estimate."""

    simulated_s: float
    cr_closed: int
    cr_open_req_s: float
    replicas_for_load: int
    spares: int
    replicas: int
    curve: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the figures and the curve."""
        return {
            "simulated_s": self.simulated_s,
            "cr_closed": self.cr_closed,
            "cr_open_req_s": self.cr_open_req_s,
            "replicas_for_load": self.replicas_for_load,
            "spares": self.spares,
            "replicas": self.replicas,
            "curve": self.curve,
        }


def size_on_envelope(
    plan: Plan,
    fleet: FleetSizing,
    duration_s: float = PLAN_ENVELOPE_S,
    progress: Callable[[str], None] | None = None,
) -> EnvelopeSizing:
    """Replicas for the fleet's provisioned concurrency at the simulated Cr_closed per replica."""
    result = envelopes(plan, fleet.deployment, fleet.model, duration_s=duration_s, progress=progress)
    per_replica = max(result["cr_closed"], 0)
    replicas = math.ceil(fleet.provisioned_concurrency / per_replica) if per_replica else 0
    spares = plan.slo.spare_failure_domains
    return EnvelopeSizing(
        simulated_s=duration_s,
        cr_closed=result["cr_closed"],
        cr_open_req_s=result["cr_open_req_s"],
        replicas_for_load=replicas,
        spares=spares,
        replicas=replicas + spares if replicas else 0,
        curve=result["curve"],
    )
