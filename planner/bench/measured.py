"""Envelopes from measured runs: Cr_closed, Cr_open, goodput and the latency-vs-load curve (step 10).

The same definitions as the simulated envelope (:mod:`planner.envelope`): a run meets the SLOs
when its percentiles meet every target and no request failed (:func:`planner.simulate.meets`);
goodput is the share of requests that met every target themselves
(:meth:`planner.simulate.Targets.met_by`); Cr_closed is the largest closed-loop concurrency
that meets them, Cr_open the largest open-loop rate, the queue included. A measurement
differs from a simulation in two ways, each handled here and said in the notes:

- a file may not give the SLO's percentile: the next higher one it gives stands in for it
  (p99 for p95, which can only be worse), else the run cannot be judged;
- an open loop whose served rate falls well short of the offered one had a growing queue that
  a finite run hides in its percentiles: it does not meet the SLOs (the simulated envelope
  holds rates to what a replica sustains for the same reason).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from planner.envelope import curve_point
from planner.measured_run import MeasuredRun
from planner.simulate import PERCENTILES, Targets, slo_misses

#: An open loop serving less than this share of its offered rate was not keeping up: its
#: queue grew. A finite run completes a little under the offered rate even when it keeps up
#: (the last requests drain after the arrivals stop, and Poisson arrivals vary); 15% short is
#: beyond that at the run lengths the benchmark plan asks for (hundreds of requests per point).
SUSTAINED_SHARE = 0.85


@dataclass
class JudgedRun:
    """One measured run against the SLOs."""

    run: MeasuredRun
    meets_slo: bool | None  # None: the run lacks the figures to judge
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def point(self) -> dict[str, Any]:
        """The run as a point of the latency-vs-load curve (the simulated curve's fields)."""
        out = curve_point(self.run.mode, self.run.load, self.summary)
        return out | {"source": self.run.source, "judged": self.meets_slo is not None, "notes": self.notes}


def slo_key(targets: Targets) -> str:
    """The statistic the SLO percentile reads (``p95``...), as :func:`planner.simulate.meets` reads it."""
    return f"p{int(targets.percentile)}" if int(targets.percentile) in PERCENTILES else "p95"


def _at_or_above(stats: dict[str, float], key: str) -> tuple[float | None, str | None]:
    """The SLO percentile, or the next higher one the run gives (a stricter reading)."""
    if key in stats:
        return stats[key], None
    higher = [f"p{q}" for q in PERCENTILES if q > int(key[1:]) and f"p{q}" in stats]
    return (stats[higher[0]], higher[0]) if higher else (None, None)


def judge(run: MeasuredRun, targets: Targets) -> JudgedRun:
    """The run's summary in the simulator's shape, whether it meets the SLOs, and why not."""
    key, notes = slo_key(targets), []
    itl_name = "itl_ms" if "itl_ms" in run.latency else "tpot_ms"
    summary: dict[str, Any] = {"requests": run.completed, "dropped": run.errors}
    judgeable = True
    for ours, theirs, target in (("ttft_ms", "ttft_ms", targets.ttft_s), ("itl_ms", itl_name, targets.itl_s),
                                 ("e2e_ms", "e2e_ms", targets.e2e_s)):  # fmt: skip
        stats = run.latency.get(theirs, {})
        value, stand_in = _at_or_above(stats, key)
        if target is not None and value is None:
            judgeable = False
            notes.append(f"no {theirs} at {key} or above: cannot judge the {ours[:-3].upper()} target")
        elif target is not None and stand_in:
            notes.append(f"{theirs} {stand_in} stands in for {key} (the file has no {key})")
        summary[ours] = {"p50": stats.get("p50"), "p95": stats.get("p95"), key: value}
    summary |= {
        "output_tok_s": run.output_tok_s,
        "throughput_req_s": run.request_s,
        "goodput_share": goodput_share(run, targets),
    }
    summary["slo_misses"] = slo_misses(summary, targets) if judgeable else []
    met: bool | None = not summary["slo_misses"] if judgeable else None
    if run.errors and judgeable:
        notes.append(f"{run.errors} failed requests: a run with failures does not meet the SLOs")
    if met and not sustained(run):
        met = False
        notes.append(f"served {run.request_s:.3g} of {run.load:.3g} req/s offered: the queue grew")
    summary["meets_slo"] = bool(met)
    return JudgedRun(run, met, summary, notes)


def sustained(run: MeasuredRun) -> bool:
    """False when an open loop served clearly less than it was offered (see :data:`SUSTAINED_SHARE`)."""
    if run.mode != "open" or math.isinf(run.load) or run.request_s is None:
        return True
    return run.request_s >= SUSTAINED_SHARE * run.load


def goodput_share(run: MeasuredRun, targets: Targets) -> float | None:
    """Share of the run's requests that met every target themselves; ``None`` without full records."""
    if not run.records or run.records_sampled:
        return None
    good = 0
    for r in run.records:
        if r.get("error") or r.get("ttft_ms") is None or r.get("e2e_ms") is None:
            continue
        good += targets.met_by(r["ttft_ms"] / 1000, (r.get("tpot_ms") or 0.0) / 1000, r["e2e_ms"] / 1000)
    return good / len(run.records)


@dataclass
class MeasuredEnvelope:
    """Cr_closed and Cr_open from measured runs, with the curve and how sure each figure is."""

    cr_closed: float | None
    cr_open_req_s: float | None
    closed_bracket: tuple[float | None, float | None]
    open_bracket: tuple[float | None, float | None]
    goodput_req_s: float | None
    curve: list[dict[str, Any]]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        """Every field by name (brackets as ``[largest that meets, smallest that misses]``)."""
        return {
            "cr_closed": self.cr_closed,
            "cr_open_req_s": self.cr_open_req_s,
            "closed_bracket": list(self.closed_bracket),
            "open_bracket": list(self.open_bracket),
            "goodput_req_s": self.goodput_req_s,
            "curve": self.curve,
            "notes": self.notes,
        }


def measured_envelope(runs: Sequence[MeasuredRun], targets: Targets) -> MeasuredEnvelope:
    """Cr_closed (largest closed-loop concurrency meeting the SLOs) and Cr_open (largest rate), measured.

    Each is the largest load below which every measured load met the SLOs: a load that misses
    caps it even when a larger one happened to pass (a noisy point is not capacity).
    """
    judged = sorted((judge(run, targets) for run in runs), key=lambda j: (j.run.mode, j.run.load))
    notes: list[str] = []
    closed = [j for j in judged if j.run.mode == "closed"]
    open_ = [j for j in judged if j.run.mode == "open" and not math.isinf(j.run.load)]
    cr_closed, closed_bracket = _largest_holding(closed, "closed loop", "users", notes)
    cr_open, open_bracket = _largest_holding(open_, "open loop", "req/s", notes)
    good = [j for j in judged if j.meets_slo and j.summary["goodput_share"] is not None and j.run.request_s]
    goodput = max((j.summary["goodput_share"] * (j.run.request_s or 0.0) for j in good), default=None)
    return MeasuredEnvelope(
        cr_closed, cr_open, closed_bracket, open_bracket, goodput, [j.point() for j in judged], notes
    )


def _largest_holding(
    judged: list[JudgedRun], what: str, unit: str, notes: list[str]
) -> tuple[float | None, tuple[float | None, float | None]]:
    """The largest load of a monotone run of passes from the smallest, and the first miss above it."""
    usable = [j for j in judged if j.meets_slo is not None]
    if not usable:
        if judged:
            notes.append(f"{what}: no run has the figures the SLOs need")
        return None, (None, None)
    largest: float | None = None
    for j in usable:
        if not j.meets_slo:
            missed_at = j.run.load
            later = [k.run.load for k in usable if k.meets_slo and k.run.load > missed_at]
            if later:
                notes.append(f"{what}: {missed_at:g} {unit} misses but {later[0]:g} meets; capped at the first miss")
            if largest is None:
                notes.append(f"{what}: even the lightest load measured ({missed_at:g} {unit}) misses the SLOs")
            return largest, (largest, missed_at)
        largest = j.run.load
    notes.append(f"{what}: every load measured meets the SLOs; measure above {largest:g} {unit} to find the limit")
    return largest, (largest, None)
