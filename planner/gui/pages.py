"""The pages of the step navigator: a form per input step, the result pages of steps 6 and 11,
the plugins page; and the navigator itself with each step's state."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from planner import workflows
from planner.errors import PlannerError
from planner.gui.candidates import COST_COLUMN, CandidateModel, candidate_proxy
from planner.gui.charts import Curves, Line, Marker, Plot
from planner.gui.forms import StepForm
from planner.gui.results import CapacityPanel, FleetPanel, PerformancePanel
from planner.gui.steps import LOOP, STEPS, Step, StepState
from planner.gui.viewmodels import cost_curves, growth_events, growth_lines, load_curve

STATE_COLOURS = {
    StepState.NOT_STARTED: "#8c8c8c",
    StepState.COMPLETE: "#2ca02c",
    StepState.ERRORS: "#d62728",
    StepState.WARNINGS: "#e6a700",
}
STATE_MARKS = {StepState.NOT_STARTED: "○", StepState.COMPLETE: "●", StepState.ERRORS: "✖", StepState.WARNINGS: "▲"}


class Navigator(QListWidget):
    """The 11 steps, the 5-9 loop marked, each with its state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("navigator")
        for step in STEPS:
            item = QListWidgetItem(step.label)
            loop = " (loop 5-9)" if LOOP[0] <= step.number <= LOOP[1] else ""
            item.setToolTip(step.summary + loop)
            self.addItem(item)
        self.addItem(QListWidgetItem("Plugins"))
        self.setMaximumWidth(260)

    def show_states(self, states: dict[int, StepState]) -> None:
        """Mark each step with its state (colour, sign and tooltip)."""
        for step in STEPS:
            state = states[step.number]
            item = self.item(step.number - 1)
            loop = "  ↻" if LOOP[0] <= step.number <= LOOP[1] else ""
            item.setText(f"{STATE_MARKS[state]} {step.label}{loop}")
            item.setForeground(QBrush(QColor(STATE_COLOURS[state])))
            item.setData(Qt.ItemDataRole.UserRole, state.value)
            item.setToolTip(f"{step.summary}\nState: {state.value}")


def scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area (long forms on a small laptop screen)."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


def tabbed(name: str, *pages: tuple[QWidget, str]) -> QTabWidget:
    """A step's pages as tabs, each ``(widget, title)``."""
    tabs = QTabWidget()
    tabs.setObjectName(name)
    for widget, title in pages:
        tabs.addTab(widget, title)
    return tabs


class SizingPage(QSplitter):
    """Step 6: capacity (6a) beside performance (6b)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.capacity = CapacityPanel(self)
        self.performance = PerformancePanel(self)
        self.addWidget(self.capacity)
        self.addWidget(self.performance)

    def show_report(self, report: workflows.PlanReport) -> None:
        """Show the newest sizing."""
        self.capacity.show_report(report)
        self.performance.show_report(report)


class BaselinePage(QWidget):
    """Step 10: the measured baseline's form and the envelope simulated on demand."""

    simulate_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, form: StepForm, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addWidget(form)
        row = QHBoxLayout()
        self.run = QPushButton("Simulate the envelope")
        self.run.setObjectName("simulate-envelope")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("envelope-progress")
        self.progress.setTextVisible(True)
        row.addWidget(self.run)
        row.addWidget(self.cancel)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)
        self.plot = Plot(self)
        self.plot.setObjectName("envelope-chart")
        layout.addWidget(self.plot, 1)
        self.run.clicked.connect(self.simulate_requested)
        self.cancel.clicked.connect(self.cancel_requested)

    def set_running(self, running: bool) -> None:
        """Enable cancel while a simulation runs."""
        self.run.setEnabled(not running)
        self.cancel.setEnabled(running)
        if not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def show_progress(self, done: int, total: int, message: str) -> None:
        """Advance the bar (busy indicator when the total is unknown)."""
        self.progress.setRange(0, total)
        self.progress.setValue(done if total else 0)
        self.progress.setFormat(f"{message} ({done})")

    def show_envelope(self, report: workflows.EnvelopeReport, slo_e2e_ms: float | None) -> None:
        """Draw E2E against load, p50 to tail band, the SLO and Cr_closed."""
        points = [p for p in load_curve(report.curve, "e2e") if p.mode == "closed"]
        median = Line("E2E p50", [(p.load, p.p50_ms) for p in points])
        tail = Line("E2E tail", [(p.load, p.tail_ms) for p in points])
        markers = [Marker(f"Cr_closed {report.cr_closed}", x=report.cr_closed)]
        if slo_e2e_ms is not None:
            markers.append(Marker(f"E2E SLO {slo_e2e_ms:,.0f} ms", y=slo_e2e_ms))
        title = f"{report.deployment}: Cr_closed {report.cr_closed}, Cr_open {report.cr_open_req_s:,.3f} req/s"
        self.plot.show_curves(Curves(title, "requests in flight per replica", "ms", [median], (median, tail), markers))


class DecisionPage(QWidget):
    """Step 11: the fleet summary and the candidates, filterable and sortable; apply one."""

    apply_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.fleet = FleetPanel(self)
        layout.addWidget(self.fleet)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter candidates (GPU, runtime, precision...)")
        self.filter.setObjectName("candidate-filter")
        self.model = CandidateModel(self)
        self.proxy = candidate_proxy(self.model, self)
        self.table = QTableView()
        self.table.setObjectName("candidates")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COST_COLUMN, Qt.SortOrder.AscendingOrder)  # the search's own order
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.apply = QPushButton("Apply the selected candidate (pins it, new revision in a project)")
        self.apply.setObjectName("apply-candidate")
        self.apply.clicked.connect(self._apply_selected)
        candidates = QWidget()
        box = QVBoxLayout(candidates)
        box.addWidget(QLabel("Candidates that meet the plan, cheapest first:"))
        box.addWidget(self.filter)
        box.addWidget(self.table, 1)
        box.addWidget(self.apply)
        self.cost_plot = Plot(self)
        self.cost_plot.setObjectName("cost-chart")
        self.growth_plot = Plot(self)
        self.growth_plot.setObjectName("growth-chart")
        self.growth_events = QLabel()
        self.growth_events.setWordWrap(True)
        growth = QWidget()
        growth_box = QVBoxLayout(growth)
        growth_box.addWidget(self.growth_plot, 1)
        growth_box.addWidget(self.growth_events)
        self.tabs = QTabWidget()
        self.tabs.addTab(candidates, "Candidates")
        self.tabs.addTab(self.cost_plot, "EUR per 1M tokens vs utilisation")
        self.tabs.addTab(growth, "Growth per quarter")
        layout.addWidget(self.tabs, 1)

    def show_report(self, report: workflows.PlanReport) -> None:
        """Show the chosen fleet and every feasible candidate."""
        self.fleet.show_report(report)
        best = report.sizing.best
        self.model.set_candidates(([best] if best else []) + list(report.sizing.alternatives))
        self._show_costs(report)

    def _show_costs(self, report: workflows.PlanReport) -> None:
        try:
            costed = workflows.price(report)
        except PlannerError as exc:
            self.cost_plot.clear(exc.message)
            self.growth_plot.clear(exc.message)
            self.growth_events.setText(exc.fix)
            return
        owned, markers = cost_curves(costed)
        self.cost_plot.show_curves(Curves("EUR per 1M output tokens (every cost line)", "utilisation %", "EUR", [owned],
                                          markers=markers))  # fmt: skip
        self.growth_plot.show_curves(Curves(f"Cumulative cost over {costed.years} years as the traffic grows",
                                            "quarter", "thousand EUR", growth_lines(costed)))  # fmt: skip
        self.growth_events.setText("\n".join(growth_events(costed)) or "No replica, node or GPU class change needed.")

    def _apply_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            source = self.proxy.mapToSource(rows[0])
            self.apply_requested.emit(self.model.candidates[source.row()])


class PluginsPage(QWidget):
    """Loaded plugins, what each contributes, and the problems of broken ones."""

    def __init__(self, report: workflows.PluginReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        headers = ["plugin", "version", "hook API", "status", "contributes", "problems"]
        table = QTableWidget(len(report.rows), len(headers), self)
        table.setObjectName("plugins")
        table.setHorizontalHeaderLabels(headers)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, row in enumerate(report.rows):
            contributes = ", ".join(f"{n} {k}" for k, n in row.contributes.items() if n)
            if row.performance_models:
                contributes = ", ".join(filter(None, [contributes, "models: " + ", ".join(row.performance_models)]))
            problems = "; ".join(row.problems)
            values: list[Any] = [row.name, row.version, row.hook_api or "?", row.status, contributes, problems]
            for j, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if row.problems:
                    item.setForeground(QBrush(QColor("#d62728")))
                table.setItem(i, j, item)
        table.resizeColumnsToContents()
        layout.addWidget(table)
        if report.orphan_problems:
            orphans = QLabel("Plugins that could not be loaded:\n" + "\n".join(report.orphan_problems))
            orphans.setObjectName("plugin-problems")
            orphans.setStyleSheet("color: #d62728;")
            orphans.setWordWrap(True)
            layout.addWidget(orphans)


def form_page(step: Step, picks: dict[str, list[tuple[str, str]]]) -> StepForm:
    """The form of an input step."""
    return StepForm(step, picks)
