"""Calibrating the efficiency factors on a project's own measured runs (step 10 back into 5-9).

The same factors (MFU prefill, MBU decode, MFU decode, per-step overhead, front end) and the same fitter
(:func:`planner.bench.fit.fit_efficiency`, a coordinate search of the capped mean absolute log error)
as the calibration on published measurements; each run becomes a
:class:`~planner.bench.calibration.Measurement` of the project's deployment at its load and
its mean request shape. A share of the runs is held out of the fit and reported apart, so the
improvement is not the fit's own residual. Too few runs, or two runs at the same load that
disagree, are refused with the reason instead of fitted.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from planner.bench.calibration import Measurement
from planner.bench.fit import BOUNDS, MIN_ROWS, Residual, fit_efficiency, residuals
from planner.catalog import Catalog
from planner.errors import PlannerError
from planner.measured_run import MeasuredRun
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Efficiency

#: Every HELD_OUT_EVERY-th run (by load) is kept out of the fit: a quarter of them.
HELD_OUT_EVERY = 4
#: Two runs at the same load and shape whose figures differ by more than this factor contradict
#: each other: the deployment or the harness changed between them.
CONTRADICTION_RATIO = 1.5


class CalibrationRefused(PlannerError):
    """The runs cannot support a fit: too few, or contradicting each other."""


@dataclass(frozen=True)
class ProjectCalibration:
    """Factors before and after, and the median error on the fitted and the held-out runs."""

    before: Efficiency
    after: Efficiency
    fitted_runs: int
    held_out_runs: int
    fitted_error_pct: tuple[float, float]
    held_out_error_pct: tuple[float | None, float | None]
    skipped: list[str]

    def factors(self) -> dict[str, float]:
        """The fitted factors as a plan's ``runtime.efficiency`` overrides."""
        a = self.after
        return {"mfu_prefill": round(a.mfu_prefill, 4), "mbu_decode": round(a.mbu_decode, 4),
                "mfu_decode": round(a.mfu_decode, 4), "overhead_ms": round(a.overhead_ms, 3),
                "frontend_ms": round(a.frontend_ms, 3)}  # fmt: skip


def measurement_of(run: MeasuredRun, dep: Deployment, index: int) -> Measurement | str:
    """The run as a measurement of ``dep`` (one replica), or why it cannot be one."""
    if run.input_tokens_mean is None or run.output_tokens_mean is None:
        return f"{run.name} ({run.source}): no mean input and output tokens"
    measured = {
        "ttft_ms": run.figure("ttft_ms", "mean") or run.figure("ttft_ms", "p50"),
        "itl_ms": run.figure("tpot_ms", "mean") or run.figure("tpot_ms", "p50"),
        "output_tok_s": run.output_tok_s,
    }
    figures = {k: float(v) for k, v in measured.items() if v}
    if not figures:
        return f"{run.name} ({run.source}): no figure to fit"
    closed = run.mode == "closed"
    return Measurement(
        row_id=f"{run.source}#{index}", source_type="project", source=run.source, model_id=dep.model.id,
        gpu_id=dep.gpu.id, runtime_id=dep.runtime.id, weights_dtype=dep.weights_dtype, kv_dtype=dep.kv_dtype,
        tp=dep.tp, pp=dep.pp, ep=dep.ep, attention_dp=dep.attention_dp, replicas=1, num_gpus=dep.gpus,
        mode="concurrency" if closed else "rate", isl=round(run.input_tokens_mean),
        osl=max(round(run.output_tokens_mean), 2), batch=run.load if closed else None,
        rate_per_s=None if closed else run.load, measured=figures, harness=run.format,
    )  # fmt: skip


def contradictions(rows: Sequence[Measurement]) -> list[str]:
    """Pairs of runs at the same load and shape whose figures disagree by more than CONTRADICTION_RATIO."""
    found = []
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            same = (a.mode, a.batch, a.rate_per_s) == (b.mode, b.batch, b.rate_per_s)
            if not same or abs(a.isl - b.isl) > 0.1 * a.isl or abs(a.osl - b.osl) > 0.1 * a.osl:
                continue
            for metric in a.measured.keys() & b.measured.keys():
                ratio = a.measured[metric] / b.measured[metric]
                if max(ratio, 1 / ratio) > CONTRADICTION_RATIO:
                    found.append(
                        f"{a.source} and {b.source}: {metric} {a.measured[metric]:.4g} vs {b.measured[metric]:.4g}"
                    )
    return found


def median_error_pct(found: Sequence[Residual]) -> float:
    """Median |predicted - measured| / measured over every figure, in percent."""
    return statistics.median(r.abs_pct for r in found) if found else float("nan")


def calibrate_on_runs(
    runs: Sequence[MeasuredRun], dep: Deployment, catalog: Catalog, before: Efficiency, where: str
) -> ProjectCalibration:
    """Fit the factors to the runs (a quarter held out), or refuse with the reason.

    :param before: the factors the planner uses now for ``dep`` (the fit starts from them).
    :raises CalibrationRefused: with fewer than ``MIN_ROWS`` usable runs, or contradicting ones.
    """
    rows: list[Measurement] = []
    skipped: list[str] = []
    for i, run in enumerate(sorted(runs, key=lambda r: (r.mode, r.load))):
        made = measurement_of(run, dep, i)
        if isinstance(made, str):
            skipped.append(made)
        else:
            rows.append(made)
    if len(rows) < MIN_ROWS:
        raise CalibrationRefused(
            f"{len(rows)} usable runs: a fit needs at least {MIN_ROWS} (as the published-data calibration)"
            + (f"; skipped {'; '.join(skipped)}" if skipped else ""),
            path=where,
            fix="import more loads (planner bench plan lists a sweep) and calibrate again",
        )
    clashes = contradictions(rows)
    if clashes:
        raise CalibrationRefused(
            "runs at the same load contradict each other: " + "; ".join(clashes),
            path=where,
            fix="make the runs of one deployment and harness the baseline (planner bench baseline) and calibrate again",
        )
    held = rows[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    fitted = [r for r in rows if r not in held]
    # The front end stays as calibrated: a handful of a project's runs does not separate it from
    # the prefill's efficiency, and searching both left the decode bandwidth where it started.
    engine = {name: bounds for name, bounds in BOUNDS.items() if name != "frontend_ms"}
    after = replace(
        fit_efficiency(fitted, catalog, start=before, bounds=engine),
        source=f"calibrated on {len(rows)} runs of {where}",
    )

    def error(subset: Sequence[Measurement], eff: Efficiency) -> float:
        return median_error_pct(residuals(subset, catalog, lambda _m: eff))

    return ProjectCalibration(
        before, after, len(fitted), len(held), (error(fitted, before), error(fitted, after)),
        (error(held, before), error(held, after)) if held else (None, None), skipped,
    )  # fmt: skip
