"""What the result views show, read off the workflow layer's reports; Qt-free and decision-free.

Every figure here is one the report already holds (``planner plan`` prints the same ones);
these functions only pick and label them for a view, so the views hold no sizing logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner import workflows
from planner.gui.charts_data import Line, Marker

#: Evidence keys of findings that name a plan field, and the field a user changes to act on them.
EVIDENCE_FIELDS: dict[str, str] = {
    "tp": "runtime.tp",
    "pp": "runtime.pp",
    "ep": "runtime.ep",
    "gpus_per_node": "hardware.gpus_per_node",
    "inter_node_fabric": "hardware.inter_node_fabric",
    "placement": "hardware.placement",
    "nodes": "hardware.nodes",
    "disaggregated": "serving_stack.disaggregated",
    "kv_transport": "serving_stack.kv_transport",
    "growth": "traffic.growth",
    "burst_factor": "traffic.burst_factor",
    "headroom": "traffic.provisioning_headroom",
    "required_headroom": "traffic.provisioning_headroom",
    "availability_pct": "slo.availability_pct",
    "scenario": "slo.scenario",
    "metrics_endpoint": "serving_stack.observability.metrics_endpoint",
    "dashboards": "serving_stack.observability.dashboards",
    "alerts": "serving_stack.observability.alerts",
    "license": "model.id",
    "commercial_use": "use_case.commercial_use",
    "weights_gib_per_gpu": "model.weights",
    "hbm_gib": "hardware.gpu",
    "pinned": "hardware.gpu",
    "cr_closed": "baseline.cr_closed_concurrency",
    "basis": "baseline.cr_closed_output_tok_s",
    "recorded": "exit_plan",
}

#: Rule-id prefixes that point at a step's section when the evidence names no field.
RULE_FIELDS: dict[str, str] = {
    "worst-case": "workload.input_tokens.p95",
    "slo": "slo.ttft_ms",
    "headroom": "traffic.growth",
    "trap": "runtime.tp",
    "resilience": "slo.availability_pct",
    "observability": "serving_stack.observability.metrics_endpoint",
    "tco": "baseline.cr_closed_output_tok_s",
    "assumptions": "baseline.cr_closed_concurrency",
    "exit": "exit_plan",
    "license": "model.id",
}


def finding_field(rule_id: str, evidence: dict[str, Any]) -> str | None:
    """The plan field a user changes to act on a finding: the first evidence key naming one, else
    the field of the rule's family, else ``None``."""
    for key in evidence:
        if key in EVIDENCE_FIELDS:
            return EVIDENCE_FIELDS[key]
    family = rule_id.split(".", 1)[0]
    return RULE_FIELDS.get(family)


@dataclass(frozen=True)
class MemorySegment:
    """One part of a GPU's memory in the capacity bar."""

    name: str
    gib: float


@dataclass(frozen=True)
class CapacityView:
    """Memory per GPU at the operating point, as the stacked bar draws it, and what binds."""

    gpu: str
    total_gib: float
    segments: list[MemorySegment]
    binding_cap: str
    dominant: str
    to_move: str


def capacity_view(report: workflows.PlanReport) -> CapacityView | None:
    """The chosen deployment's memory per GPU: weights, KV of the sequences it holds, activations,
    runtime reserve and what stays free; ``None`` when nothing was sized."""
    return capacity_of(report.sizing.best)


def capacity_of(best: Any) -> CapacityView | None:
    """:func:`capacity_view` of one candidate (the search's cheapest, while the simulation runs)."""
    op = best.sizing.operating_point if best else None
    if best is None or op is None:
        return None
    cap = op.capacity
    kv_in_use_gib = cap.kv_bytes_per_sequence_per_gpu * best.sizing.per_replica / 2**30
    used = [
        MemorySegment("weights", cap.weights_gib_per_gpu),
        MemorySegment("KV cache in use", kv_in_use_gib),
        MemorySegment("activations", cap.activation_gib_per_gpu),
        MemorySegment("runtime reserve", cap.reserve_gib_per_gpu),
    ]
    free = max(cap.gpu_memory_gib - sum(s.gib for s in used), 0.0)
    return CapacityView(
        best.sizing.deployment.gpu.id,
        cap.gpu_memory_gib,
        [*used, MemorySegment("free", free)],
        cap.binding_cap,
        best.sizing.dominant,
        best.sizing.to_move,
    )


@dataclass(frozen=True)
class LatencyRow:
    """One latency metric at the operating point: the estimate, its band, and the SLO."""

    metric: str
    value_ms: float
    band_ms: tuple[float, float] | None
    slo_ms: float | None

    @property
    def meets(self) -> bool | None:
        """Whether the estimate meets the SLO (``None`` without one)."""
        return None if self.slo_ms is None else self.value_ms <= self.slo_ms


def latency_rows(report: workflows.PlanReport) -> list[LatencyRow]:
    """TTFT, ITL and E2E of one replica at its operating point against the plan's SLO."""
    return latency_of(report.sizing.best, report.resolved.plan.slo)


def latency_of(best: Any, slo: Any) -> list[LatencyRow]:
    """:func:`latency_rows` of one candidate against ``slo`` (the plan's): each figure as the target
    judges it, at the SLO's percentile (TTFT over the requests, ITL over the token gaps, E2E of the
    sizing's request), its band moved with it, as ``planner plan`` and ``planner estimate`` print them."""
    op = best.sizing.operating_point if best else None
    if op is None:
        return []
    ttft, itl, e2e = op.slo_figures_ms(slo.percentile)
    q = f"p{slo.percentile:g}"
    return [
        LatencyRow(name, value, op.band_at(key, value), getattr(slo, key))
        for name, key, value in ((f"TTFT {q}", "ttft_ms", ttft), (f"ITL {q}", "itl_ms", itl), ("E2E", "e2e_ms", e2e))
    ]


@dataclass(frozen=True)
class FleetSummary:
    """The fleet as the summary panel lists it."""

    deployment: str
    replicas_for_load: int
    spares: int
    replicas: int
    gpus: int
    nodes: int
    eur_per_m_tokens: float | None
    tco_eur_per_m_tokens: float | None
    output_tok_s: float
    cr_closed: int | None
    cr_open_req_s: float | None
    feasible: int
    tried: int
    #: The pools' Cr_closed where disaggregated pools serve the load ('' otherwise): ``cr_closed`` is
    #: then that of one replica served aggregated.
    pools_cr_closed: str = ""


def fleet_summary(report: workflows.PlanReport) -> FleetSummary | None:
    """Replicas, spares, GPUs, nodes and EUR per 1M output tokens of the chosen fleet."""
    tco = report.tco.eur_per_million_output if report.tco else None
    return fleet_of(report.sizing.best, tco, report.sizing.feasible, report.sizing.tried)


def fleet_of(best: Any, tco_eur: float | None, feasible: int, tried: int) -> FleetSummary | None:
    """:func:`fleet_summary` of one candidate: by the estimate until the simulation settled it."""
    if best is None:
        return None
    s, d = best.sizing, best.decision
    return FleetSummary(
        d.label if d else s.deployment.label,
        s.replicas_for_load,
        s.spares,
        s.replicas,
        s.gpus,
        s.nodes,
        best.eur_per_m_tokens,
        tco_eur,
        s.fleet_output_tok_s,
        d.cr_closed if d else None,
        d.cr_open_req_s if d else None,
        feasible,
        tried,
        d.pools.cr_closed_text() if d and d.pools else "",
    )


def why_nothing_fits(report: workflows.PlanReport) -> list[str]:
    """What each configuration missed, when none meets the plan (as ``planner plan`` lists it)."""
    return [] if report.sizing.best else list(report.sizing.why_none)


@dataclass(frozen=True)
class LoadPoint:
    """One simulated load of the latency-vs-load curve: its median and its tail."""

    mode: str  # closed (requests in flight per replica) or open (requests/s per replica)
    load: float
    p50_ms: float
    tail_ms: float  # p99 where the simulation kept it, else p95
    meets_slo: bool


def load_curve(curve: list[dict[str, Any]], metric: str = "ttft") -> list[LoadPoint]:
    """The points of a decision's simulated curve for one latency metric (``ttft``, ``itl``, ``e2e``)."""
    points = []
    for point in curve:
        tail = point.get(f"{metric}_p99_ms", point.get(f"{metric}_p95_ms"))
        if tail is None:
            continue
        median = point.get(f"{metric}_p50_ms", tail)
        points.append(LoadPoint(str(point["mode"]), float(point["load"]), median, tail, bool(point.get("meets_slo"))))
    return points


def cost_curves(costed: workflows.TcoReport) -> tuple[Line, list[Marker]]:
    """EUR per 1M output tokens against utilisation at the plan's electricity price, with renting
    and the API as the lines to beat."""
    grid = costed.sensitivity
    column = min(range(len(grid.eur_per_kwh)), key=lambda i: abs(grid.eur_per_kwh[i] - costed.tco.costs.eur_per_kwh))
    costs = [(u * 100, row[column]) for u, row in zip(grid.utilisations, grid.grid, strict=True)]
    points = [(u, cost) for u, cost in costs if cost is not None]
    markers = [Marker(f"rented {grid.rented:,.2f} EUR", y=grid.rented)] if grid.rented is not None else []
    if grid.api is not None:
        markers.append(Marker(f"API {grid.api:,.2f} EUR", y=grid.api))
    markers.append(Marker(f"plan {costed.tco.costs.utilisation:.0%}", x=costed.tco.costs.utilisation * 100))
    return Line(f"owned at {grid.eur_per_kwh[column]:.2f} EUR/kWh", points), markers


def growth_lines(costed: workflows.TcoReport) -> list[Line]:
    """Cumulative cost per quarter (thousand EUR) of owning, renting and the API as traffic grows."""
    quarters = costed.growth.quarters
    lines = [Line("owned", [(q.number, q.cumulative_owned_eur / 1000) for q in quarters])]
    for name, attr in (("rented", "cumulative_rented_eur"), ("API", "cumulative_api_eur")):
        values = [(q.number, getattr(q, attr)) for q in quarters]
        if all(v is not None for _, v in values):
            lines.append(Line(name, [(n, v / 1000) for n, v in values]))
    return lines


def growth_events(costed: workflows.TcoReport) -> list[str]:
    """The quarters in which a replica, a node or a change of GPU class is needed."""
    return list(costed.growth.events)


def measured_vs_predicted(
    measured: workflows.BenchEnvelopeReport, predicted: workflows.PlanReport | None
) -> tuple[list[Line], list[Marker]]:
    """TTFT at the SLO's percentile against requests in flight: the closed-loop runs as measured, and
    the plan's simulated curve beside them; the SLO and both Cr_closed as markers."""
    percentile = f"p{measured.targets.percentile:g}"
    runs = sorted(
        (float(p["load"]), float(p[f"ttft_{percentile}_ms"]))
        for p in measured.envelope.curve
        if p["mode"] == "closed" and p.get(f"ttft_{percentile}_ms") is not None
    )
    lines = [Line(f"measured TTFT {percentile}", runs)]
    markers = []
    if measured.targets.ttft_s is not None:
        markers.append(Marker(f"TTFT SLO {measured.targets.ttft_s * 1000:,.0f} ms", y=measured.targets.ttft_s * 1000))
    if measured.envelope.cr_closed is not None:
        markers.append(Marker(f"measured Cr_closed {measured.envelope.cr_closed:g}", x=measured.envelope.cr_closed))
    decision = predicted.decision if predicted is not None else None
    if decision is not None:
        closed = [p for p in load_curve(decision.curve, "ttft") if p.mode == "closed"]
        lines.append(Line("predicted TTFT (tail)", [(p.load, p.tail_ms) for p in closed]))
        markers.append(Marker(f"predicted Cr_closed {decision.cr_closed}", x=decision.cr_closed))
    return lines, markers


def measured_summary(report: workflows.BenchEnvelopeReport) -> str:
    """Cr_closed, Cr_open and goodput as measured, the SLOs they were judged on, and the notes."""
    env = report.envelope
    figures = [
        f"Cr_closed {env.cr_closed:g}" if env.cr_closed is not None else "Cr_closed: no closed-loop run meets the SLOs",
        f"Cr_open {env.cr_open_req_s:g} req/s" if env.cr_open_req_s is not None else "Cr_open: no open-loop run holds",
    ]
    if env.goodput_req_s is not None:
        figures.append(f"goodput {env.goodput_req_s:,.2f} req/s")
    lines = [f"{report.runs} runs judged on the SLOs of {report.slo_from}: " + ", ".join(figures)]
    return "\n".join(lines + env.notes)


def calibration_summary(report: workflows.CalibrationReport) -> str:
    """The built-in model's factors before and after, and its error on the fitted and held-out runs."""
    c = report.calibration
    lines = [f"{report.deployment}: {c.fitted_runs} runs fitted, {c.held_out_runs} held out"]
    for name in ("mfu_prefill", "mbu_decode", "mfu_decode", "overhead_ms", "frontend_ms"):
        lines.append(f"{name}: {getattr(c.before, name):.4g} -> {getattr(c.after, name):.4g}")
    lines.append(f"median error on the fitted runs: {c.fitted_error_pct[0]:.1f}% -> {c.fitted_error_pct[1]:.1f}%")
    held = c.held_out_error_pct
    if held[0] is not None and held[1] is not None:
        lines.append(f"median error on the held-out runs: {held[0]:.1f}% -> {held[1]:.1f}%")
    lines.extend(f"skipped: {s}" for s in c.skipped)
    return "\n".join(lines)


def recommendation_summary(report: workflows.ScaleReport) -> str:
    """Step 11: the bottleneck the runs show, the next lever with its expected effect, and the ladder."""
    d = report.decision
    lines = [f"{report.deployment}, reading {report.runs_from}", f"Bottleneck: {d.bottleneck} ({d.why})"]
    if d.lever is None:
        lines.append("No lever: " + ("nothing to change." if d.bottleneck == "none" else "every lever was decided."))
        return "\n".join(lines)
    lever = d.lever
    change = f"{lever.knob}: {lever.old} -> {lever.new}" if lever.knob else lever.action
    lines.append(f"Next lever ({lever.family}): {change}; {lever.action}")
    if "before" in d.expected:
        before, after = d.expected["before"], d.expected["after"]
        lines.extend(f"  expected {k}: {before[k]} -> {after[k]}" for k in before if k != "meets_slo")
    rest = [f"{lv.family}: {lv.knob or lv.action}" for lv in d.ladder if lv.id != lever.id and lv.id not in d.tried]
    if rest:
        lines.append("Then, one at a time: " + "; ".join(rest))
    return "\n".join(lines)
