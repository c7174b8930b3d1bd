"""Step 10 with measured runs: benchmark files imported into the open project, the measured latency
against load beside the plan's prediction, the built-in model calibrated on them, and step 11's
recommendation of the next lever."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from planner import workflows
from planner.errors import PlannerError
from planner.gui.charts import Curves, Plot
from planner.gui.viewmodels import (
    calibration_summary,
    measured_summary,
    measured_vs_predicted,
    recommendation_summary,
)

BENCHMARK_FILTER = "Benchmark results (*.json *.jsonl *.csv *.yaml *.yml);;All files (*)"
RUN_COLUMNS = ("run", "name", "mode", "load", "requests", "source")


def _text_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


class MeasuredPanel(QWidget):
    """The open project's benchmark runs and what they say (every figure from ``planner.workflows``).

    ``failed(title, message)`` carries an error for the window's dialog; ``calibrated(report)`` offers
    the fitted factors for the window to write into the plan.
    """

    failed = Signal(str, str)
    calibrated = Signal(object)

    def __init__(
        self, session: workflows.Session, backend: str | None, db: Path | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session, self.backend, self.db = session, backend, db
        self.project: str | None = None
        self.predicted: workflows.PlanReport | None = None
        self.calibration: workflows.CalibrationReport | None = None
        layout = QVBoxLayout(self)
        self.hint = _text_label("measured-hint")
        layout.addWidget(self.hint)
        buttons = QGridLayout()  # two by two: the panel fits beside the navigator on a small screen
        self.import_button = QPushButton("Import benchmark files...")
        self.calibrate_button = QPushButton("Calibrate the model on the runs")
        self.apply_button = QPushButton("Use the calibrated factors")
        self.recommend_button = QPushButton("Recommend the next step (11)")
        named = {"import-benchmarks": self.import_button, "calibrate": self.calibrate_button,
                 "apply-calibration": self.apply_button, "recommend": self.recommend_button}  # fmt: skip
        for i, (name, button) in enumerate(named.items()):
            button.setObjectName(name)
            buttons.addWidget(button, i // 2, i % 2)
        layout.addLayout(buttons)
        self.runs = QTableWidget(0, len(RUN_COLUMNS))
        self.runs.setObjectName("measured-runs")
        self.runs.setHorizontalHeaderLabels(list(RUN_COLUMNS))
        self.runs.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.runs)
        self.summary = _text_label("measured-summary")
        layout.addWidget(self.summary)
        self.plot = Plot(self)
        self.plot.setObjectName("measured-chart")
        layout.addWidget(self.plot, 1)
        self.calibration_text = _text_label("calibration")
        self.recommendation = _text_label("recommendation")
        layout.addWidget(self.calibration_text)
        layout.addWidget(self.recommendation)
        self.import_button.clicked.connect(self.import_dialog)
        self.calibrate_button.clicked.connect(self.calibrate)
        self.apply_button.clicked.connect(self._offer_calibration)
        self.recommend_button.clicked.connect(self.recommend)
        self.set_project(None)

    # ------------------------------------------------------------------ what the window tells it

    def set_project(self, project: str | None) -> None:
        """Show ``project``'s runs (none: the buttons wait for a project)."""
        self.project, self.calibration = project, None
        self.hint.setText(
            f"Runs of project {project}." if project else "Open or create a project (Project menu) to import runs."
        )
        self.calibration_text.clear()
        self.recommendation.clear()
        self.refresh()

    def show_predicted(self, report: workflows.PlanReport) -> None:
        """Keep the newest sizing for the predicted curve, and redraw beside the runs."""
        self.predicted = report
        if self.project and self.runs.rowCount():
            self.show_measured()

    def refresh(self) -> None:
        """Re-read the project's runs and redraw what they measure."""
        summaries = self._runs()
        self.runs.setRowCount(len(summaries))
        for row, s in enumerate(summaries):
            meta = s.metadata
            for column, value in enumerate((s.number, s.name, meta.get("mode", ""), meta.get("load", ""),
                                            meta.get("completed", s.records), s.source)):  # fmt: skip
                self.runs.setItem(row, column, QTableWidgetItem(str(value)))
        self.runs.resizeColumnsToContents()
        has_runs = bool(summaries)
        for button in (self.calibrate_button, self.recommend_button):
            button.setEnabled(has_runs)
        self.import_button.setEnabled(self.project is not None)
        self.apply_button.setEnabled(self.calibration is not None)
        if has_runs:
            self.show_measured()
        else:
            self.summary.clear()
            self.plot.clear("No measured runs yet")

    # ------------------------------------------------------------------ actions

    def import_dialog(self) -> None:
        """Pick result files (vLLM bench, GuideLLM, AIPerf/GenAI-Perf, llmperf) and import them."""
        names, _ = QFileDialog.getOpenFileNames(self, "Import benchmark results", "", BENCHMARK_FILTER)
        if names:
            self.import_files([Path(n) for n in names])

    def import_files(self, files: list[Path]) -> workflows.BenchImportReport | None:
        """Store the runs of ``files`` in the project (each file's format detected); None when refused."""
        if self.project is None:
            self.failed.emit("No project", "Open or create a project first: runs are stored in a project.")
            return None
        try:
            report = workflows.import_benchmarks(self.session, files, project=self.project, db=self.db)
        except PlannerError as exc:
            self.failed.emit("The benchmark files were not imported", exc.render())
            return None
        self.refresh()
        return report

    def show_measured(self) -> workflows.BenchEnvelopeReport | None:
        """Draw the runs' TTFT against load beside the plan's predicted curve, with both Cr_closed."""
        try:
            measured = workflows.bench_envelope(self.session, project=self.project, db=self.db)
        except PlannerError as exc:
            self.summary.setText(exc.render())
            self.plot.clear(exc.message)
            return None
        lines, markers = measured_vs_predicted(measured, self.predicted)
        self.summary.setText(measured_summary(measured))
        title = "Measured vs predicted TTFT against requests in flight"
        self.plot.show_curves(Curves(title, "requests in flight per replica", "ms", lines, markers=markers))
        return measured

    def calibrate(self) -> workflows.CalibrationReport | None:
        """Fit the built-in model's factors to the runs (nothing saved until they are used in the plan)."""
        if self.project is None:
            return None
        try:
            self.calibration = workflows.calibrate(self.session, self.project, save=False, db=self.db)
        except PlannerError as exc:
            self.failed.emit("The model was not calibrated", exc.render())
            return None
        self.calibration_text.setText(calibration_summary(self.calibration))
        self.apply_button.setEnabled(True)
        return self.calibration

    def recommend(self) -> workflows.ScaleReport | None:
        """Step 11: the bottleneck in the runs and the next lever, recorded as the project's decision."""
        if self.project is None:
            return None
        try:
            report = workflows.scale(self.session, self.project, backend=self.backend, db=self.db)
        except PlannerError as exc:
            self.failed.emit("No recommendation", exc.render())
            return None
        self.recommendation.setText(recommendation_summary(report))
        return report

    def _offer_calibration(self) -> None:
        if self.calibration is not None:
            self.calibrated.emit(self.calibration)

    def _runs(self) -> list[workflows.RunSummary]:
        if self.project is None:
            return []
        try:
            return workflows.list_runs(self.project, self.db)
        except PlannerError as exc:
            self.failed.emit("Cannot read the project's runs", exc.render())
            return []
