"""Text renderings of the benchmark actions' results: formatting only, no decisions."""

from __future__ import annotations

import math
from typing import Any

from planner.render import table
from planner.render_projects import safe
from planner.workflows import (
    BaselineReport,
    BenchEnvelopeReport,
    BenchImportReport,
    BenchmarkPlan,
    BenchRunReport,
    CalibrationReport,
    ScaleReport,
)


def _ms(stats: dict[str, float] | None, key: str) -> str:
    value = (stats or {}).get(key)
    return "-" if value is None else f"{value:,.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def imported_runs_text(report: BenchImportReport, *, styled: bool = False) -> str:
    """One row per run read, then what was stored in the project."""
    rows: list[list[Any]] = []
    for run in report.runs:
        latency = run.latency
        rows.append(
            [
                safe(run.format),
                safe(run.name),
                run.completed,
                run.errors,
                _ms(latency.get("ttft_ms"), "p50"),
                _ms(latency.get("ttft_ms"), "p99"),
                _ms(latency.get("tpot_ms"), "p50" if "p50" in latency.get("tpot_ms", {}) else "mean"),
                _ms(latency.get("e2e_ms"), "p50"),
                _num(run.output_tok_s),
                _num(run.request_s, 2),
                f"{len(run.records)}{' (sample)' if run.records_sampled else ''}",
            ]
        )
    headers = ["format", "run", "ok", "errors", "TTFT p50", "TTFT p99", "TPOT p50", "E2E p50", "out tok/s",
               "req/s", "records"]  # fmt: skip
    lines = [table(headers, rows, styled=styled)]
    for run in report.runs:
        lines.extend(f"  {safe(run.source)}: {safe(note)}" for note in run.notes)
    if report.project is not None:
        added = ", ".join(str(s.number) for s in report.stored) or "none"
        lines.append(f"project {safe(report.project)}: stored runs {added}")
        if report.already:
            known = ", ".join(str(s.number) for s in report.already)
            lines.append(f"  already stored (same file, same place): runs {known}")
    else:
        lines.append("not stored: give --project NAME to keep these runs in a project")
    return "\n".join(lines)


def measured_runs_text(report: BenchRunReport, *, styled: bool = False) -> str:
    """One row per load level measured, the errors by kind, then what was stored."""
    rows: list[list[Any]] = []
    for run in report.runs:
        latency = run.latency
        rows.append(
            [
                safe(run.name), run.completed, run.errors, _ms(latency.get("ttft_ms"), "p50"),
                _ms(latency.get("ttft_ms"), "p99"), _ms(latency.get("itl_ms"), "p50"),
                _ms(latency.get("tpot_ms"), "p50"), _ms(latency.get("e2e_ms"), "p50"),
                _num(run.input_tokens_mean), _num(run.output_tokens_mean),
                _num(run.output_tok_s), _num(run.request_s, 2),
            ]
        )  # fmt: skip
    headers = ["run", "ok", "errors", "TTFT p50", "TTFT p99", "ITL p50", "TPOT p50", "E2E p50", "in tok", "out tok",
               "out tok/s", "req/s"]  # fmt: skip
    lines = [f"prompts: {safe(report.prompts_from)}", table(headers, rows, styled=styled)]
    for run in report.runs:
        lines.extend(f"  {safe(run.name)}: {safe(note)}" for note in run.notes)
    if report.stopped:
        lines.append(f"{safe(report.stopped)}: the sweep ended early; what was measured is kept")
    if report.project is not None:
        added = ", ".join(str(s.number) for s in report.stored) or "none"
        lines.append(f"project {safe(report.project)}: stored runs {added}")
    else:
        lines.append("not stored: give --project NAME to keep these runs in a project")
    return "\n".join(lines)


def _load(mode: str, load: float) -> str:
    return f"c={load:g}" if mode == "closed" else ("all at once" if math.isinf(load) else f"{load:.4g} req/s")


def _verdict(point: dict[str, Any]) -> str:
    if not point["judged"]:
        return "cannot judge"
    return "meets" if point["meets_slo"] else "misses"


def measured_envelope_text(report: BenchEnvelopeReport, *, styled: bool = False) -> str:
    """The SLOs, Cr_closed and Cr_open with their brackets, the curve, and the notes."""
    t = report.targets
    shown = [f"{name} {value * 1000:g} ms" for name, value in (("TTFT", t.ttft_s), ("ITL", t.itl_s), ("E2E", t.e2e_s))
             if value is not None]  # fmt: skip
    env = report.envelope
    lines = [f"SLOs at p{t.percentile:g}: {', '.join(shown)} (from {safe(report.slo_from)}); {report.runs} runs"]
    lines.append(f"Cr_closed: {_bracket(env.cr_closed, env.closed_bracket, 'users')}")
    lines.append(f"Cr_open:   {_bracket(env.cr_open_req_s, env.open_bracket, 'req/s')}")
    if env.goodput_req_s is not None:
        lines.append(f"goodput:   {env.goodput_req_s:.3g} req/s meeting every target (best run that meets the SLOs)")
    rows = [
        [p["mode"], _load(p["mode"], p["load"]), _verdict(p), _num(p["ttft_p50_ms"]), _num(p["ttft_p95_ms"]),
         _num(p["itl_p95_ms"]), _num(p["e2e_p95_ms"]), _num(p["output_tok_s"]), _num(p["throughput_req_s"], 2),
         "-" if p["goodput_share"] is None else f"{p['goodput_share']:.0%}"]
        for p in env.curve
    ]  # fmt: skip
    headers = ["mode", "load", "SLOs", "TTFT p50", "TTFT p95", "ITL p95", "E2E p95", "out tok/s", "req/s", "goodput"]
    lines.append(table(headers, rows, styled=styled))
    for p in env.curve:
        lines.extend(f"  {_load(p['mode'], p['load'])}: {safe(note)}" for note in p["notes"])
    lines.extend(f"note: {safe(n)}" for n in env.notes)
    return "\n".join(lines)


def _bracket(value: float | None, bracket: tuple[float | None, float | None], unit: str) -> str:
    if value is None:
        return "none measured meets the SLOs" if bracket[1] is not None else "not measured"
    above = f", {bracket[1]:g} {unit} misses" if bracket[1] is not None else ", no load measured misses"
    return f"{value:g} {unit} (largest measured that meets{above})"


def baseline_text(report: BaselineReport, *, styled: bool = False) -> str:
    """The baseline set, its envelope, measured against predicted, and the plan section."""
    lines = [
        f"project {safe(report.project)}: baseline of {len(report.baseline.runs)} runs set "
        f"({report.baseline.digest[:12]})",
        measured_envelope_text(report.envelope, styled=styled),
        f"measured against the prediction for {safe(report.deployment)} (one replica, simulated at each run's load):",
    ]
    if report.served_as_pools:
        lines.append(
            f"  the plan serves the load from {report.served_as_pools}, and this prediction is one replica served "
            "aggregated: a run against the pools reads a later TTFT (its first token waits for the KV's handoff "
            "to the decode pool) and other gaps; `planner simulate` runs the pools at a load"
        )
    rows = [
        [safe(c.run), c.figure, _num(c.measured), _num(c.predicted), f"{_num(c.band[0])}-{_num(c.band[1])}",
         f"{c.error_pct:+.0f}%", "yes" if c.inside else "NO"]
        for c in report.comparisons
    ]  # fmt: skip
    lines.append(table(["run", "figure", "measured", "predicted", "band", "error", "in band"], rows, styled=styled))
    inside = sum(c.inside for c in report.comparisons)
    lines.append(f"{inside} of {len(report.comparisons)} figures lie in the predicted band")
    if report.plan_baseline:
        fields = ", ".join(f"{k}: {v}" for k, v in report.plan_baseline.items())
        lines.append(f"plan baseline section: {safe(fields)}")
    if report.saved is not None:
        lines.append(f"saved as revision {report.saved.saved.revision.number} (TCO and rules now use the measurement)")
    elif report.plan_baseline:
        lines.append("give --save to store the plan with this baseline as the next revision")
    return "\n".join(lines)


def benchmark_plan_text(report: BenchmarkPlan, *, styled: bool = False) -> str:
    """The scenario, the request shape, the load points and the commands per tool."""
    s = report.shape
    lines = [
        f"scenario: {report.scenario}",
        f"request shape: input {s.input_p50:,} tokens p50 / {s.input_p95:,} p95, mean {s.input_mean:,}; "
        f"output {s.output_p50:,} p50 / {s.output_p95:,} p95, mean {s.output_mean:,} (the tools draw around "
        f"the mean, stdev {s.input_stdev:,} in / {s.output_stdev:,} out, so they send the plan's tokens)",
    ]
    rows = [[p.mode, _load(p.mode, p.load), p.requests, p.warmup, _num(p.duration_s, 0), p.why] for p in report.points]
    lines.append(table(["mode", "load", "requests", "warm-up", "about s", "why"], rows, styled=styled))
    for tool, commands in report.commands.items():
        lines.append(f"\n# {tool}")
        lines.extend(commands)
    lines.extend(f"note: {safe(n)}" for n in report.notes)
    lines.append("then: planner bench import RESULTS... --project NAME")
    return "\n".join(lines)


def scale_text(report: ScaleReport) -> str:
    """The signals, the bottleneck, the lever with its effect and cost, and the ladder after it."""
    d, s = report.decision, report.decision.signals
    lines = [
        f"project {safe(report.project)}, {safe(report.deployment)}, reading {report.runs_from}",
        f"at {safe(s.run)}: KV {_share(s.kv_pressure)} full ({_num(s.in_flight)} in flight of {s.kv_capacity}), "
        f"queue {_share(s.queue_share)} of E2E, TTFT {_times(s.ttft_vs_target)} and ITL {_times(s.itl_vs_target)} "
        f"their targets, output {_times(s.throughput_vs_predicted)} the prediction",
        f"bottleneck: {d.bottleneck} ({safe(d.why)})",
    ]
    if d.lever is None:
        lines.append("no lever: " + ("nothing to change" if d.bottleneck == "none" else "every lever was decided"))
        return "\n".join(lines)
    lever = d.lever
    change = f"{lever.knob}: {lever.old} -> {lever.new}" if lever.knob else lever.action
    lines.append(f"next lever ({lever.family}): {safe(change)}; {safe(lever.action)}")
    if "before" in d.expected:
        b, a = d.expected["before"], d.expected["after"]
        lines.extend(f"  expected {k}: {_num(b[k])} -> {_num(a[k])}" for k in b if k != "meets_slo")
        lines.append(f"  expected to meet the SLOs: {a['meets_slo']}")
    cost = d.cost_eur_per_year
    lines.append(
        "  cost: " + ("none (a setting)" if cost == 0 else "unknown" if cost is None else f"{cost:,.0f} EUR/year")
    )
    rest = [f"{lv.family}: {lv.knob or lv.action}" for lv in d.ladder if lv.id != lever.id and lv.id not in d.tried]
    if rest:
        lines.append("then, one at a time: " + "; ".join(safe(r) for r in rest))
    lines.append("recorded as a decision" if report.recorded else "not recorded (--dry-run)")
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


def _times(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}x"


def calibration_text(report: CalibrationReport) -> str:
    """Factors before and after, the errors on the fitted and held-out runs, and the revision saved."""
    c = report.calibration
    lines = [f"project {safe(report.project)}, {safe(report.deployment)}: {c.fitted_runs} runs fitted, "
             f"{c.held_out_runs} held out"]  # fmt: skip
    for name in ("mfu_prefill", "mbu_decode", "mfu_decode", "overhead_ms", "frontend_ms"):
        lines.append(f"  {name:<12} {getattr(c.before, name):.4g} -> {getattr(c.after, name):.4g}")
    lines.append(f"median error on the fitted runs: {c.fitted_error_pct[0]:.1f}% -> {c.fitted_error_pct[1]:.1f}%")
    held = c.held_out_error_pct
    if held[0] is not None and held[1] is not None:
        lines.append(f"median error on the held-out runs: {held[0]:.1f}% -> {held[1]:.1f}%")
    lines.extend(f"skipped: {safe(s)}" for s in c.skipped)
    if report.saved is not None:
        r = report.saved.saved.revision
        lines.append(f"saved as revision {r.number}: {safe(r.message)} (the plan re-sized with these factors)")
    else:
        lines.append("not saved (--dry-run)")
    return "\n".join(lines)
