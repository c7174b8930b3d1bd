"""The live results: capacity, performance, the fleet summary and the findings panel.

Each view takes a :class:`~planner.workflows.PlanReport` and shows what the view-model
functions read off it; none of them computes a figure of its own.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from planner import workflows
from planner.gui.charts import Bars, Curves, Line, Marker, Plot
from planner.gui.viewmodels import (
    CapacityView,
    FleetSummary,
    LatencyRow,
    capacity_of,
    capacity_view,
    finding_field,
    fleet_of,
    fleet_summary,
    latency_of,
    latency_rows,
    load_curve,
    why_nothing_fits,
)

SEVERITY_COLOURS = {"error": "#d62728", "warning": "#e6a700", "info": "#4e79a7"}


def _money(value: float | None) -> str:
    return f"{value:,.3f} EUR" if value is not None else "no price (give costs.server_price_eur)"


class CapacityPanel(QWidget):
    """Step 6a: memory per GPU as a stacked bar, with the binding cap named."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.plot = Plot(self)
        self.plot.setObjectName("capacity-chart")
        self.caption = QLabel("Not sized yet.")
        self.caption.setObjectName("capacity-caption")
        self.caption.setWordWrap(True)
        layout.addWidget(self.plot)
        layout.addWidget(self.caption)

    def show_report(self, report: workflows.PlanReport) -> None:
        """Draw the chosen deployment's memory, or say why nothing was sized."""
        view = capacity_view(report)
        if view is None:
            self.plot.clear("Nothing sized")
            self.caption.setText("\n".join(why_nothing_fits(report)) or "Nothing sized.")
            return
        self._draw(view, "")

    def show_estimate(self, best: Any) -> None:
        """Draw the search's cheapest candidate while the simulation checks it."""
        view = capacity_of(best)
        if view is not None:
            self._draw(view, " (estimate; simulation running)")

    def _draw(self, view: CapacityView, note: str) -> None:
        segments = [(s.name, s.gib) for s in view.segments]
        title = f"Memory per GPU ({view.gpu}, {view.total_gib:,.0f} GiB){note}"
        self.plot.show_bars(Bars(title, view.gpu, segments, "GiB"))
        self.caption.setText(
            f"Binding memory cap: {view.binding_cap}. Dominant constraint: {view.dominant}. {view.to_move}"
        )


class PerformancePanel(QWidget):
    """Step 6b: TTFT, ITL and E2E with their bands against the SLO, and latency vs load."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 5, self)
        self.table.setObjectName("latency-table")
        self.table.setHorizontalHeaderLabels(["metric", "estimate ms", "band ms (p10-p90 error)", "SLO ms", "meets"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(140)
        self.throughput = QLabel()
        self.plot = Plot(self)
        self.plot.setObjectName("latency-chart")
        layout.addWidget(self.table)
        layout.addWidget(self.throughput)
        layout.addWidget(self.plot, 1)

    def show_report(self, report: workflows.PlanReport) -> None:
        """Fill the table and draw the simulated TTFT against load with the SLO and the envelopes."""
        self._fill(latency_rows(report))
        best = report.sizing.best
        self.throughput.setText(
            f"Fleet output: {best.sizing.fleet_output_tok_s:,.0f} tok/s" if best else "Nothing meets the plan."
        )
        self._draw_curve(report)

    def show_estimate(self, best: Any, slo: Any) -> None:
        """The search's cheapest candidate by the estimate, while the simulation runs."""
        self._fill(latency_of(best, slo))
        self.throughput.setText("Estimate shown; the simulation is checking it.")
        self.plot.clear("Simulating...")

    def _fill(self, rows: list[LatencyRow]) -> None:
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            band = f"{row.band_ms[0]:,.1f} - {row.band_ms[1]:,.1f}" if row.band_ms else "-"
            slo = f"{row.slo_ms:,.0f}" if row.slo_ms is not None else "-"
            meets = {True: "yes", False: "no", None: "-"}[row.meets]
            for j, text in enumerate((row.metric, f"{row.value_ms:,.1f}", band, slo, meets)):
                self.table.setItem(i, j, QTableWidgetItem(text))

    def _draw_curve(self, report: workflows.PlanReport) -> None:
        decision = report.decision
        points = [p for p in load_curve(decision.curve, "ttft") if p.mode == "closed"] if decision else []
        if not decision or not points:
            self.plot.clear("No simulated curve")
            return
        slo = report.resolved.plan.slo
        markers = [Marker(f"Cr_closed {decision.cr_closed}", x=decision.cr_closed)]
        if slo.ttft_ms is not None:
            markers.append(Marker(f"TTFT SLO {slo.ttft_ms:,.0f} ms", y=slo.ttft_ms))
        median = Line("TTFT p50", [(p.load, p.p50_ms) for p in points])
        tail = Line("TTFT tail", [(p.load, p.tail_ms) for p in points])
        title = f"TTFT vs requests in flight per replica (Cr_open {decision.cr_open_req_s:,.2f} req/s)"
        self.plot.show_curves(Curves(title, "requests in flight per replica", "ms", [median], (median, tail), markers))


class FleetPanel(QWidget):
    """Steps 7-8 and 11: replicas, spares, GPUs, nodes and EUR per 1M output tokens."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for key in ("deployment", "replicas", "GPUs", "nodes", "EUR per 1M tokens", "TCO per 1M tokens", "envelope"):
            label = QLabel("-")
            label.setObjectName(f"fleet:{key}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.values[key] = label
            self.form.addRow(key, label)

    def show_report(self, report: workflows.PlanReport) -> None:
        """Fill the summary from the chosen fleet (dashes when nothing meets the plan)."""
        self._fill(fleet_summary(report), report, "")

    def show_estimate(self, search: workflows.SearchReport) -> None:
        """The search's cheapest candidate, by the estimate, while the simulation runs."""
        best = search.ranked[0] if search.ranked else None
        self._fill(fleet_of(best, None, len(search.ranked), search.tried), None, " (estimate; simulating)")

    def _fill(self, fleet: FleetSummary | None, report: workflows.PlanReport | None, note: str) -> None:
        if fleet is None:
            for label in self.values.values():
                label.setText("-")
            why = "; ".join(why_nothing_fits(report))[:400] if report else ""
            self.values["deployment"].setText("Nothing meets the plan: " + why)
            return
        texts = {
            "deployment": f"{fleet.deployment} (cheapest of {fleet.feasible} feasible out of {fleet.tried}){note}",
            "replicas": f"{fleet.replicas} = {fleet.replicas_for_load} for the load + {fleet.spares} spare",
            "GPUs": f"{fleet.gpus}",
            "nodes": f"{fleet.nodes}",
            "EUR per 1M tokens": _money(fleet.eur_per_m_tokens) + " (GPU servers and power)",
            "TCO per 1M tokens": _money(fleet.tco_eur_per_m_tokens) + " (every cost line)"
            if report is not None
            else "after the simulation",
            "envelope": _envelope_text(fleet),
        }
        for key, text in texts.items():
            self.values[key].setText(text)


def _envelope_text(fleet: FleetSummary) -> str:
    """Cr_closed and Cr_open per replica; where pools serve the load, theirs first and the single
    replica's as served aggregated."""
    if fleet.cr_closed is None or fleet.cr_open_req_s is None:
        return "-"
    replica = f"Cr_closed {fleet.cr_closed} in flight, Cr_open {fleet.cr_open_req_s:,.3f} req/s per replica"
    return f"{fleet.pools_cr_closed} (served aggregated: {replica})" if fleet.pools_cr_closed else replica


class FindingsPanel(QTreeWidget):
    """The rules' findings by severity; activating one asks to go to the field it concerns."""

    field_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findings")
        self.setHeaderLabels(["finding", "fix"])
        self.setColumnWidth(0, 420)
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._activated)

    def show_findings(self, findings: list[Any]) -> None:
        """Group ``findings`` (rule findings) under error, warning and info."""
        self.clear()
        for severity in ("error", "warning", "info"):
            items = [f for f in findings if f.severity == severity]
            group = QTreeWidgetItem(self, [f"{severity} ({len(items)})", ""])
            group.setForeground(0, QBrush(QColor(SEVERITY_COLOURS[severity])))
            for f in items:
                item = QTreeWidgetItem(group, [f"{f.rule_id}: {f.message}", f.remedy])
                item.setToolTip(0, f.message)
                item.setToolTip(1, f.remedy)
                item.setData(0, Qt.ItemDataRole.UserRole, finding_field(f.rule_id, f.evidence))
            group.setExpanded(severity != "info")

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        where = item.data(0, Qt.ItemDataRole.UserRole)
        if where:
            self.field_requested.emit(str(where))
