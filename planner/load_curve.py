"""The latency-vs-load curve as the analytic estimate gives it, for a plan whose envelope
was not simulated (only full-envelope plans are sized on the simulated one).

One replica of the sized deployment, timed by the model that sized it, at 1, 2, 4, ...
concurrent requests up to what memory holds, and at the concurrency the sizing settled on.
The estimate has no queue, so this is Cr_closed's analytic twin (``per_replica``) and the
rate one replica completes at the operating point stands for Cr_open; the workbook says so.
Each point has the keys of a simulated envelope point (:func:`planner.envelope.envelopes`).
"""

from __future__ import annotations

from typing import Any

from planner.sizing.estimate import estimate
from planner.sizing.fleet import FleetSizing, meets_targets
from planner.traffic import SloTargets

#: The analytic curve stops here even when memory would hold more.
MAX_POINTS = 14


def estimated_curve(fleet: FleetSizing, targets: SloTargets) -> list[dict[str, Any]]:
    """Closed-loop points of the analytic estimate, ascending in load."""
    limit = max(fleet.capacity_cap, 1)
    loads = sorted({2**i for i in range(MAX_POINTS) if 2**i <= limit} | {max(fleet.per_replica, 1)})
    points = []
    for load in loads:
        est = estimate(
            fleet.deployment, fleet.isl, fleet.osl, model=fleet.model, concurrency=load, population=fleet.population
        )
        # TTFT over the requests at p50 and p95; the rest at the sizing's request shape, no goodput share.
        points.append(
            {
                "mode": "closed",
                "load": load,
                "meets_slo": meets_targets(targets, est),
                "ttft_p50_ms": est.ttft_at_percentile_ms(50),
                "ttft_p95_ms": est.ttft_at_percentile_ms(95),
                "itl_p95_ms": est.itl_p95_ms,
                "e2e_p50_ms": None,
                "e2e_p95_ms": est.e2e_ms,
                "output_tok_s": est.output_tok_s,
                "goodput_share": None,
            }
        )
    return points
