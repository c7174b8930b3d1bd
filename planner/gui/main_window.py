"""The main window: the step navigator and its pages, live re-sizing, findings, files and projects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from planner import workflows
from planner.gui.candidates import candidate_pins
from planner.gui.commands import SetField
from planner.gui.deploy import DeployPanel
from planner.gui.document import FieldPath, PlanDocument
from planner.gui.forms import StepForm
from planner.gui.live_sizing import LiveSizing
from planner.gui.measured import MeasuredPanel
from planner.gui.menus import Menus
from planner.gui.pages import BaselinePage, DecisionPage, Navigator, PluginsPage, SizingPage, scrolled, tabbed
from planner.gui.plan_files import PlanFiles
from planner.gui.project_actions import ProjectActions
from planner.gui.results import FindingsPanel, FleetPanel
from planner.gui.settings import key_figures, settings
from planner.gui.steps import STEPS, field_named, step_of
from planner.gui.whatif import WhatIfPanel
from planner.gui.worker import Runner

#: Steps the pages are built for in order; index 11 is the plugins page.
PLUGINS_PAGE = len(STEPS)


class MainWindow(QMainWindow):
    """The planner's desktop window over one long-lived :class:`~planner.workflows.Session`."""

    #: Emitted after each sizing is shown (tests and the benchmark wait on it).
    sized = Signal(object)
    #: Emitted when the search's estimate of an edit is shown, before its simulation ends.
    estimated = Signal(object)

    def __init__(self, session: workflows.Session, backend: str | None = None, db: Path | None = None) -> None:
        super().__init__()
        self.session, self.backend, self.db = session, backend, db
        self.document = PlanDocument()
        self.report: workflows.PlanReport | None = None
        self._project: str | None = None
        self.pending_revision: str | None = None
        self.undo_stack = QUndoStack(self)
        self.sizer = Runner(self)
        self.simulator = Runner(self)
        self.setAcceptDrops(True)
        self.files = PlanFiles(self)
        self.projects = ProjectActions(self)
        self._build_pages(key_figures(session))
        self._build_docks()
        self.menus = Menus(self)
        self._build_status()
        self.live = LiveSizing(self)
        self._connect()
        self.navigator.setCurrentRow(0)
        self._restore_state()
        self.refresh()

    # ------------------------------------------------------------------ building

    def _build_pages(self, picks: dict[str, list[tuple[str, str]]]) -> None:
        self.navigator = Navigator()
        self.stack = QStackedWidget()
        self.forms: dict[int, StepForm] = {}
        self.sizing_page = SizingPage()
        self.decision_page = DecisionPage()
        for step in STEPS:
            form = StepForm(step, picks) if step.fields else None
            if form is not None:
                self.forms[step.number] = form
            if step.number == 6:
                page: QWidget = self.sizing_page
            elif step.number == 9 and form is not None:
                self.deploy = DeployPanel(self.session, self.backend, self.plan_input)
                page = tabbed("step-9-tabs", (scrolled(form), "Serving stack"),
                              (self.deploy, "Configuration"))  # fmt: skip
            elif step.number == 10 and form is not None:
                self.baseline_page = BaselinePage(form)
                self.measured = MeasuredPanel(self.session, self.backend, self.db)
                page = tabbed("step-10-tabs", (scrolled(self.baseline_page), "Baseline, predicted envelope"),
                              (self.measured, "Measured runs"))  # fmt: skip
            elif step.number == 11:
                page = self.decision_page
            else:
                assert form is not None
                page = scrolled(form)
            self.stack.addWidget(page)
        self.whatif = WhatIfPanel(self.session, self.backend, self.plan_input)
        self.decision_page.tabs.addTab(self.whatif, "Failure and disaggregation")
        self.stack.addWidget(PluginsPage(workflows.plugin_report(self.session)))
        split = QSplitter()
        split.addWidget(self.navigator)
        split.addWidget(self.stack)
        split.setStretchFactor(1, 1)
        self.setCentralWidget(split)

    def _build_docks(self) -> None:
        self.findings = FindingsPanel()
        self.fleet = FleetPanel()
        for title, widget, name in (("Findings", self.findings, "findings-dock"), ("Fleet", self.fleet, "fleet-dock")):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _build_status(self) -> None:
        model = self.session.performance_model(self.backend)
        self.backend_label = QLabel(f"performance model: {model.name}")
        self.backend_label.setObjectName("backend")
        self.state_label = QLabel()
        self.state_label.setObjectName("sizing-state")
        self.statusBar().addPermanentWidget(self.state_label)
        self.statusBar().addPermanentWidget(self.backend_label)
        problems = self.session.problems
        if problems:
            self.statusBar().showMessage(f"{len(problems)} plugin problem(s): see the Plugins page", 15_000)

    def _connect(self) -> None:
        self.navigator.currentRowChanged.connect(self.stack.setCurrentIndex)
        for form in self.forms.values():
            form.edited.connect(self.edit)
        self.findings.field_requested.connect(self.focus_field)
        self.decision_page.apply_requested.connect(self.apply_candidate)
        self.measured.failed.connect(self.error)
        self.deploy.failed.connect(self.error)
        self.whatif.failed.connect(self.error)
        self.measured.calibrated.connect(self.apply_calibration)
        # Bound methods, not lambdas: Qt drops a method's connections when the window dies, so a
        # signal sent while its children are deleted never reaches a half-deleted window.
        self.undo_stack.cleanChanged.connect(self.update_title)

    # ------------------------------------------------------------------ the plan

    @property
    def project(self) -> str | None:
        """The open project's name (None: a plan file or a new plan)."""
        return self._project

    @project.setter
    def project(self, name: str | None) -> None:
        if name != self._project:
            self._project = name
            self.measured.set_project(name)

    def edit(self, path: FieldPath, value: Any) -> None:
        """Change one field (undoable), then re-check and re-size."""
        if self.document.get(path) == value:
            return
        self.undo_stack.push(SetField(self.document, path, value, self.refresh))

    def set_document(self, document: PlanDocument) -> None:
        """Show another plan (undo history starts again)."""
        self.document = document
        self.undo_stack.clear()
        self.report = None
        self.refresh()

    def refresh(self) -> None:
        """Show the document's values and problems, autosave it, and re-size it when it holds."""
        for form in self.forms.values():
            form.show_document(self.document)
        self.files.autosave()
        self.update_title()
        self.live.show_states()
        self.live.resize()

    def go_to_step(self, number: int) -> None:
        """Show the page of step ``number``."""
        self.navigator.setCurrentRow(number - 1)

    def show_plugins(self) -> None:
        """Show the plugins page."""
        self.navigator.setCurrentRow(PLUGINS_PAGE)

    def focus_field(self, where: str) -> None:
        """Go to the step holding the field named ``where`` and give it the keyboard."""
        spec = field_named(where)
        step = step_of(spec.name) if spec else None
        if spec is None or step is None:
            return
        self.go_to_step(step.number)
        self.forms[step.number].focus_field(spec.path)

    def apply_candidate(self, candidate: Any) -> None:
        """Pin a search candidate's configuration in the plan (one undoable step); in a project the
        next sizing is saved as a new revision."""
        self.undo_stack.beginMacro(f"apply {candidate.sizing.deployment.label}")
        for path, value in candidate_pins(candidate).items():
            self.undo_stack.push(SetField(self.document, path, value, lambda: None))
        self.undo_stack.endMacro()
        if self.project:
            self.pending_revision = f"applied candidate {candidate.sizing.deployment.label}"
        self.refresh()

    def plan_input(self) -> workflows.PlanInput | None:
        """The plan as the configuration actions take it; None (and a dialog) while a field does not hold."""
        plan = self.document.checked.plan
        if plan is None:
            self.error("The plan has field problems", "Fix the fields marked in red first.")
            return None
        return workflows.PlanInput(plan, self.document.source, self.project)

    def apply_calibration(self, report: workflows.CalibrationReport) -> None:
        """Write calibrated efficiency factors into the plan (undoable); in a project the sizing with them
        is saved as a revision, as ``planner bench calibrate`` does."""
        c = report.calibration
        if self.project:
            self.pending_revision = f"calibrated on {c.fitted_runs + c.held_out_runs} runs of project {self.project}"
        self.edit(("runtime", "efficiency"), c.factors())

    # ------------------------------------------------------------------ window

    def error(self, title: str, message: str) -> None:
        """Show an error the user can act on (a dialog; the status bar says it too)."""
        self.statusBar().showMessage(title, 8000)
        QMessageBox.warning(self, title, message)

    def ask_save(self) -> QMessageBox.StandardButton:
        """Ask whether to save unsaved edits (Save, Discard or Cancel)."""
        buttons = QMessageBox.StandardButton
        return QMessageBox.question(self, "Unsaved changes", "Save the changes to the plan?",
                                    buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)  # fmt: skip

    def maybe_save(self) -> bool:
        """True when the window may drop the plan: saved, nothing to save, or the user discards."""
        if self.undo_stack.isClean() and not self.document.dirty:
            return True
        answer = self.ask_save()
        if answer == QMessageBox.StandardButton.Save:
            return (
                self.projects.save_revision(self.pending_revision or "saved on close") is not None
                if self.project
                else self.files.save()
            )
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        """Offer to save, keep the window state, and let running work finish."""
        if not self.maybe_save():
            event.ignore()
            return
        store = settings()
        store.setValue("geometry", self.saveGeometry())
        store.setValue("state", self.saveState())
        for runner in self.runners:
            runner.cancel()
        for runner in self.runners:
            runner.wait()
        event.accept()

    @property
    def runners(self) -> tuple[Runner, ...]:
        """Every worker of the window: live sizing, simulations on demand, configurations."""
        return (self.sizer, self.simulator, self.deploy.runner, self.whatif.runner)

    def _restore_state(self) -> None:
        store = settings()
        geometry, state = store.value("geometry"), store.value("state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        if state is not None:
            self.restoreState(state)

    def update_title(self, _clean: bool = True) -> None:
        """Name the plan or project in the title, with a star while it has unsaved edits."""
        where = f"project {self.project}" if self.project else self.document.source
        star = "" if self.undo_stack.isClean() and not self.document.dirty else " *"
        self.setWindowTitle(f"LLM inference planner - {where}{star}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept dragged plan and project files."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the first dropped file."""
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.files.open_path(Path(urls[0].toLocalFile()))
