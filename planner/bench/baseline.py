"""Measured against predicted on the same axes (step 10's baseline).

Each measured run is predicted by simulating the plan's chosen deployment (one replica, as a
benchmark of one server measures it) at the run's own load: a closed loop of the same
concurrency, or an open loop at the same rate. Each figure is then compared with its
prediction: the error, and whether the measurement lies in the prediction's held-out error
band (:func:`planner.performance_models.error_band`, the band ``planner estimate`` prints).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from planner.catalog import Catalog
from planner.measured_run import MeasuredRun
from planner.perfmodel import PerformanceModel
from planner.performance_models import answering_models, choose, error_band
from planner.plan import Plan
from planner.plan_simulation import LoadSpec, RunLength, simulate_plan
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import METRIC_GROUP

#: Figures compared: (name shown, the run's figure and statistic, the simulator's, the band's metric).
COMPARED = (
    ("TTFT p50 (ms)", ("ttft_ms", "p50"), ("ttft_ms", "p50"), "ttft_ms"),
    ("TTFT p95 (ms)", ("ttft_ms", "p95"), ("ttft_ms", "p95"), "ttft_ms"),
    ("TPOT p50 (ms)", ("tpot_ms", "p50"), ("itl_ms", "p50"), "itl_ms"),
    ("E2E p50 (ms)", ("e2e_ms", "p50"), ("e2e_ms", "p50"), "e2e_ms"),
    ("E2E p95 (ms)", ("e2e_ms", "p95"), ("e2e_ms", "p95"), "e2e_ms"),
    ("output tok/s", ("output_tok_s", None), ("output_tok_s", None), "output_tok_s"),
)


def stored_deployment(plan: Plan, chosen: dict[str, Any], catalog: Catalog) -> Deployment:
    """The deployment a stored revision chose (``sizing.chosen.operating_point.deployment``), rebuilt
    with the plan's runtime knobs and fabric as the search built it."""
    return Deployment(
        model=catalog.models.get(chosen["model"]),
        gpu=catalog.gpus.get(chosen["gpu"]),
        runtime=catalog.runtimes.get(chosen["runtime"]),
        weights_dtype=chosen["weights_dtype"],
        kv_dtype=chosen["kv_dtype"],
        tp=int(chosen["tp"]),
        pp=int(chosen["pp"]),
        ep=int(chosen["ep"]),
        attention_dp=bool(chosen["attention_dp"]),
        knobs=dict(plan.runtime.knobs),
        efficiency={str(k): v for k, v in plan.runtime.efficiency.items()},
        inter_node_fabric=plan.hardware.inter_node_fabric or "infiniband",
        inter_node_gb_s=plan.hardware.inter_node_gb_s,
        runtime_version=plan.runtime.version,
    )


@dataclass(frozen=True)
class Comparison:
    """One figure of one run: measured, predicted, the error and the predicted band."""

    run: str
    figure: str
    measured: float
    predicted: float
    band: tuple[float, float]

    @property
    def error_pct(self) -> float:
        """(measured - predicted) / predicted, in percent."""
        return (self.measured - self.predicted) / self.predicted * 100

    @property
    def inside(self) -> bool:
        """True when the measurement lies in the predicted band."""
        return self.band[0] <= self.measured <= self.band[1]

    def to_json(self) -> dict[str, Any]:
        """Every field, the error and whether it is inside the band."""
        return {
            "run": self.run, "figure": self.figure, "measured": self.measured, "predicted": self.predicted,
            "band": list(self.band), "error_pct": self.error_pct, "inside_band": self.inside,
        }  # fmt: skip


def predicted_summary(plan: Plan, dep: Deployment, model: PerformanceModel, run: MeasuredRun) -> dict[str, Any]:
    """The simulator's summary of one replica at the run's load (300 requests after the warm-up: the p95
    rests on 15 of them)."""
    if run.mode == "closed":
        load = LoadSpec("closed", concurrency=max(round(run.load), 1))
    else:
        load = LoadSpec("open", rate=run.load)
    e2e_s = (run.figure("e2e_ms", "p50") or 1000.0) / 1000
    length = RunLength(requests=300, e2e_s=e2e_s)
    return simulate_plan(plan, dep, model, load, duration_s=length.for_load(load), stretch_to_s=length.stretch_to_s)


def _measured(run: MeasuredRun, figure: str, statistic: str | None) -> float | None:
    if statistic is None:
        value = getattr(run, figure)
        return float(value) if value is not None else None
    return run.figure(figure, statistic)


def compare(plan: Plan, dep: Deployment, model: PerformanceModel, runs: Sequence[MeasuredRun]) -> list[Comparison]:
    """Each run's figures against the simulated prediction at its load (runs sent all at once are skipped)."""
    timing = choose(model, dep)
    answering = answering_models(timing, dep)
    bands = {
        name: error_band(timing, answering[METRIC_GROUP[name]], dep, METRIC_GROUP[name])[0]
        for _, _, _, name in COMPARED
    }
    out = []
    for run in runs:
        if math.isinf(run.load):
            continue
        predicted = predicted_summary(plan, dep, timing, run)
        for label, (figure, statistic), (sim_figure, sim_statistic), band_metric in COMPARED:
            measured = _measured(run, figure, statistic)
            guess = predicted[sim_figure] if sim_statistic is None else predicted[sim_figure].get(sim_statistic)
            if measured is None or guess is None or not guess > 0:
                continue
            out.append(Comparison(run.name, label, measured, float(guess), bands[band_metric].apply(float(guess))))
    return out
