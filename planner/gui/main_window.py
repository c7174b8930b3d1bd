"""The main window: the step navigator and its pages, live re-sizing, findings, files and projects."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from planner import workflows
from planner.errors import PlannerError
from planner.gui.candidates import candidate_pins
from planner.gui.commands import SetField
from planner.gui.deploy import DeployPanel
from planner.gui.document import FieldPath, PlanDocument
from planner.gui.forms import StepForm
from planner.gui.measured import MeasuredPanel
from planner.gui.pages import BaselinePage, DecisionPage, Navigator, PluginsPage, SizingPage, scrolled, tabbed
from planner.gui.projects import HistoryDialog
from planner.gui.results import FindingsPanel, FleetPanel
from planner.gui.settings import as_list, autosave_path, key_figures, remember, settings
from planner.gui.steps import STEPS, StepState, field_named, step_of, step_state
from planner.gui.viewmodels import finding_field
from planner.gui.whatif import WhatIfPanel
from planner.gui.worker import Runner
from planner.plan import Plan

PLAN_FILTER = "Plan files (*.yaml *.yml *.json)"
PROJECT_FILTER = "Project files (*.planner.json *.json)"
#: Steps the pages are built for in order; index 11 is the plugins page.
PLUGINS_PAGE = len(STEPS)


@dataclass(frozen=True)
class Sized:
    """A live sizing's report and where its simulations stopped early (the CLI warns of the same)."""

    report: workflows.PlanReport
    stops: list[str]


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
        self._build_pages(key_figures(session))
        self._build_docks()
        self._build_menus()
        self._build_status()
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

    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New plan", self.new_plan, QKeySequence.StandardKey.New)
        self._action(file, "&Open plan or project file...", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_projects_menu = file.addMenu("Recent &projects")
        self._action(file, "&Save plan", self.save, QKeySequence.StandardKey.Save)
        self._action(file, "Save plan &as (YAML or JSON)...", self.save_as, QKeySequence.StandardKey.SaveAs)
        file.addSeparator()
        self._action(file, "Export the TCO &workbook...", self.export_workbook_dialog, "Ctrl+E")
        self._action(file, "Recover the last autosave", self.recover_autosave)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addActions([undo, redo])
        project = bar.addMenu("&Project")
        self._action(project, "&New project from this plan...", self.new_project_dialog)
        self._action(project, "&Open project...", self.open_project_dialog)
        self._action(project, "Save &revision...", self.save_revision_dialog, "Ctrl+R")
        self._action(project, "&History and diff...", self.history_dialog, "Ctrl+H")
        project.addSeparator()
        self._action(project, "&Import project file...", self.import_project_dialog)
        self._action(project, "E&xport project file...", self.export_project_dialog)
        view = bar.addMenu("&View")
        for step in STEPS:
            self._action(view, step.label, lambda _=False, n=step.number: self.go_to_step(n), f"Ctrl+{step.number % 10}"
                         if step.number <= 10 else None)  # fmt: skip
        self._action(view, "Plugins", lambda: self.navigator.setCurrentRow(PLUGINS_PAGE))
        self._fill_recent()

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
        self.sizer.finished.connect(self._show_sized)
        self.sizer.previewed.connect(self._show_estimate)
        self.sizer.failed.connect(self._show_failure)
        self.sizer.busy_changed.connect(self._show_busy)
        self.decision_page.apply_requested.connect(self.apply_candidate)
        self.baseline_page.simulate_requested.connect(self.simulate_envelope)
        self.baseline_page.cancel_requested.connect(self.simulator.cancel)
        self.simulator.busy_changed.connect(self.baseline_page.set_running)
        self.simulator.progressed.connect(self.baseline_page.show_progress)
        self.simulator.finished.connect(self._show_envelope)
        self.simulator.failed.connect(self._show_simulation_failure)
        self.measured.failed.connect(self.error)
        self.deploy.failed.connect(self.error)
        self.whatif.failed.connect(self.error)
        self.measured.calibrated.connect(self.apply_calibration)
        # Bound methods, not lambdas: Qt drops a method's connections when the window dies, so a
        # signal sent while its children are deleted never reaches a half-deleted window.
        self.undo_stack.cleanChanged.connect(self._update_title)

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
        self._autosave()
        self._update_title()
        self._show_states()
        plan = self.document.checked.plan
        if plan is not None:
            source = self.document.source
            self.sizer.request(lambda progress, preview: self._sized(plan, source, progress, preview))
        else:
            self.sizer.cancel()
            self.state_label.setText(f"{len(self.document.checked.problems)} field problem(s): not sized")

    def _sized(self, plan: Plan, source: str, progress: workflows.Progress, preview: Callable[[object], None]) -> Sized:
        """Size and check ``plan`` on the worker thread (under the worker's simulation budget, the
        command line's).

        The sizing's search by estimate is shown as soon as it is ranked (``preview``); the simulation
        that settles the replicas, and the rules, follow.
        """
        report = workflows.plan(
            self.session, plan, source, backend=self.backend, progress=progress, on_estimate=preview
        )
        return Sized(report, list(workflows.active_budget().stops))

    def _show_estimate(self, search: workflows.SearchReport) -> None:
        plan = self.document.checked.plan
        best = search.ranked[0] if search.ranked else None
        if best is None or plan is None:
            return
        self.sizing_page.capacity.show_estimate(best)
        self.sizing_page.performance.show_estimate(best, plan.slo)
        self.fleet.show_estimate(search)
        self.decision_page.fleet.show_estimate(search)
        self.decision_page.model.set_candidates(search.ranked)
        self.state_label.setText("estimate shown; simulating...")
        self.estimated.emit(search)

    def _show_sized(self, sized: Sized) -> None:
        if sized.stops:
            self.statusBar().showMessage("simulation stopped early: " + "; ".join(sized.stops), 15_000)
        self._show_report(sized.report)

    def _show_report(self, report: workflows.PlanReport) -> None:
        self.report = report
        self.sizing_page.show_report(report)
        self.decision_page.show_report(report)
        self.measured.show_predicted(report)
        self.fleet.show_report(report)
        self.findings.show_findings(report.validation.findings)
        self._show_states()
        if self.pending_revision is not None and self.project:
            message, self.pending_revision = self.pending_revision, None
            self.save_revision(message)
        self.sized.emit(report)

    def _show_busy(self, busy: bool) -> None:
        self.state_label.setText("sizing..." if busy else "up to date")

    def _show_simulation_failure(self, message: str) -> None:
        self.error("The simulation failed", message)

    def _show_failure(self, message: str) -> None:
        self.report = None
        self.state_label.setText("sizing failed")
        self.error("The plan cannot be sized", message)

    def _show_states(self) -> None:
        warned = set()
        if self.report is not None:
            for f in self.report.validation.findings:
                where = finding_field(f.rule_id, f.evidence)
                step = step_of(where) if where else None
                if step and f.severity in ("error", "warning"):
                    warned.add(step.number)
        states = {s.number: step_state(s, self.document.data, self.document.checked, warned) for s in STEPS}
        if self.report is None:
            states[6] = states[11] = StepState.NOT_STARTED
        elif self.report.sizing.best is None:
            states[6] = states[11] = StepState.ERRORS
        self.navigator.show_states(states)

    def go_to_step(self, number: int) -> None:
        """Show the page of step ``number``."""
        self.navigator.setCurrentRow(number - 1)

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

    # ------------------------------------------------------------------ files

    def open_path(self, path: Path) -> bool:
        """Open a plan file or a project file (``*.planner.json``); errors are shown, never raised."""
        if not self.maybe_save():
            return False
        try:
            if path.name.endswith(".planner.json"):
                imported = workflows.import_project(path, db=self.db)
                return self.open_project(imported.imported.name)
            else:
                self.set_document(PlanDocument.open(path))
                self.project = None
        except PlannerError as exc:
            self.error("Cannot open the file", exc.render())
            return False
        self._remember(path)
        return True

    def open_dialog(self) -> None:
        """Ask for a plan or project file and open it."""
        name, _ = QFileDialog.getOpenFileName(self, "Open", "", f"{PLAN_FILTER};;{PROJECT_FILTER}")
        if name:
            self.open_path(Path(name))

    def new_plan(self) -> None:
        """Start from the bundled example plan (use case 1), unsaved."""
        if self.maybe_save():
            document = PlanDocument.open(workflows.example_plan_path())
            document.path = None
            self.set_document(document)
            self.project = None

    def save(self) -> bool:
        """Save the plan to its file (asks for one when it has none); False when nothing was saved."""
        if self.document.path is None:
            return self.save_as()
        return self.write_plan(self.document.path)

    def save_as(self) -> bool:
        """Ask for a file (``.yaml`` or ``.json``) and save the plan to it."""
        name, _ = QFileDialog.getSaveFileName(self, "Save plan", self.document.source, PLAN_FILTER)
        return bool(name) and self.write_plan(Path(name))

    def write_plan(self, path: Path) -> bool:
        """Write the plan to ``path`` when every field holds; otherwise say what to fix and write nothing."""
        plan = self.document.checked.plan
        if plan is None:
            problems = "\n".join(str(p) for p in self.document.checked.problems)
            self.error("The plan was not saved", f"Fix these fields first:\n{problems}")
            return False
        try:
            workflows.write_plan(plan, path)
        except PlannerError as exc:
            self.error("The plan was not saved", exc.render())
            return False
        self.document.path, self.document.dirty = path, False
        self.undo_stack.setClean()
        self._remember(path)
        self._update_title()
        return True

    def export_workbook_dialog(self) -> None:
        """Ask for an ``.xlsx`` path and write the TCO workbook there."""
        name, _ = QFileDialog.getSaveFileName(self, "Export workbook", "plan-tco.xlsx", "Excel workbook (*.xlsx)")
        if name:
            self.export_workbook(Path(name))

    def export_workbook(self, path: Path) -> workflows.ExportResult | None:
        """Write the Excel TCO workbook of the plan (sized again for its costs)."""
        plan = self.document.checked.plan
        if plan is None:
            self.error("Nothing exported", "Fix the fields marked in red first.")
            return None
        try:
            result = workflows.export(self.session, plan, path, self.document.source, backend=self.backend)
        except PlannerError as exc:
            self.error("The workbook was not written", exc.render())
            return None
        self.statusBar().showMessage(f"wrote {result.path} ({result.size_bytes:,} bytes)", 5000)
        return result

    def recover_autosave(self) -> None:
        """Reopen the fields as they were at the last edit (after a crash)."""
        try:
            data = json.loads(autosave_path().read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.error("Nothing to recover", str(exc))
            return
        self.set_document(PlanDocument(data))

    def _autosave(self) -> None:
        try:
            path = autosave_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(self.document.data, indent=1), encoding="utf-8")
            partial.replace(path)
        except OSError as exc:
            self.statusBar().showMessage(f"autosave failed: {exc}", 5000)

    # ------------------------------------------------------------------ projects

    def new_project_dialog(self) -> None:
        """Ask for a name, create the project and save the current sizing as its first revision."""
        name, ok = QInputDialog.getText(self, "New project", "Project name:")
        if ok and name.strip():
            self.new_project(name.strip())

    def new_project(self, name: str) -> bool:
        """Create the project ``name`` from the plan and make it the current project."""
        try:
            workflows.create_project(name, plan_=self.document.checked.plan, db=self.db)
        except PlannerError as exc:
            self.error("The project was not created", exc.render())
            return False
        self.project = name
        self._remember_project(name)
        self._update_title()
        return True

    def save_revision_dialog(self) -> None:
        """Ask for a message and save the current sizing as the project's next revision."""
        if not self.project and not self.new_project_dialog_needed():
            return
        message, ok = QInputDialog.getText(self, "Save revision", "What changed:")
        if ok:
            self.save_revision(message)

    def new_project_dialog_needed(self) -> bool:
        """Ask for a project first when none is open; True when one is open afterwards."""
        self.new_project_dialog()
        return self.project is not None

    def save_revision(self, message: str) -> workflows.SavedRevision | None:
        """Store the newest sizing as the project's next revision (shown, never raised, on failure)."""
        if self.report is None or self.project is None:
            self.error("No revision saved", "Open a project and wait for a sizing of a plan without field problems.")
            return None
        try:
            saved = workflows.save_revision(self.session, self.report, self.project, message, backend=self.backend,
                                            db=self.db)  # fmt: skip
        except PlannerError as exc:
            self.error("The revision was not saved", exc.render())
            return None
        self.undo_stack.setClean()
        self.document.dirty = False
        self.statusBar().showMessage(f"saved revision {saved.revision.number} of {self.project}", 5000)
        self._update_title()
        return saved

    def open_project(self, name: str, ref: str = "head") -> bool:
        """Open a project's revision (``head`` by default) for editing."""
        try:
            opened = workflows.open_revision(name, ref, self.db)
        except PlannerError as exc:
            self.error("Cannot open the project", exc.render())
            return False
        self.set_document(PlanDocument.from_plan(opened.plan))
        self.project = name
        self._remember_project(name)
        self._update_title()
        return True

    def open_project_dialog(self) -> None:
        """Pick a project of the database and open its newest revision."""
        try:
            names = [p.name for p in workflows.list_projects(self.db).projects]
        except PlannerError as exc:
            self.error("Cannot list the projects", exc.render())
            return
        if not names:
            self.error("No projects", "Create one with Project > New project.")
            return
        name, ok = QInputDialog.getItem(self, "Open project", "Project:", names, 0, False)
        if ok and self.maybe_save():
            self.open_project(name)

    def history_dialog(self) -> None:
        """Show the project's revisions and the diff of any two; open one if asked."""
        if self.project is None:
            self.error("No project", "Open or create a project first.")
            return
        try:
            dialog = HistoryDialog(self.project, self.db, self)
        except PlannerError as exc:
            self.error("Cannot read the history", exc.render())
            return
        if dialog.exec() and dialog.opened is not None and self.maybe_save():
            self.open_project(self.project, str(dialog.opened))

    def import_project_dialog(self) -> None:
        """Add a project file to the database."""
        name, _ = QFileDialog.getOpenFileName(self, "Import project", "", PROJECT_FILTER)
        if name:
            try:
                report = workflows.import_project(Path(name), db=self.db)
            except PlannerError as exc:
                self.error("The project was not imported", exc.render())
                return
            self.statusBar().showMessage(f"imported into {report.path}", 5000)

    def export_project_dialog(self) -> None:
        """Write the current project with all its revisions to one project file."""
        if self.project is None:
            self.error("No project", "Open or create a project first.")
            return
        name, _ = QFileDialog.getSaveFileName(self, "Export project", f"{self.project}.planner.json", PROJECT_FILTER)
        if name:
            try:
                workflows.export_project(self.project, Path(name), self.db)
            except PlannerError as exc:
                self.error("The project was not exported", exc.render())

    # ------------------------------------------------------------------ simulation

    def simulate_envelope(self) -> None:
        """Simulate the chosen deployment's envelope off the UI thread (cancellable)."""
        plan = self.document.checked.plan
        if plan is None:
            self.error("Nothing to simulate", "Fix the fields marked in red first.")
            return
        source = self.document.source
        backend = self.backend
        self.simulator.request(
            lambda progress, _preview: workflows.envelope(
                self.session, plan, source, backend=backend, progress=progress
            )
        )

    def _show_envelope(self, report: workflows.EnvelopeReport) -> None:
        plan = self.document.checked.plan
        self.baseline_page.show_envelope(report, plan.slo.e2e_ms if plan else None)

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
                self.save_revision(self.pending_revision or "saved on close") is not None
                if self.project
                else self.save()
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

    def _update_title(self, _clean: bool = True) -> None:
        where = f"project {self.project}" if self.project else self.document.source
        star = "" if self.undo_stack.isClean() and not self.document.dirty else " *"
        self.setWindowTitle(f"LLM inference planner - {where}{star}")

    def _remember(self, path: Path) -> None:
        remember("recent", str(path.resolve()))
        self._fill_recent()

    def _remember_project(self, name: str) -> None:
        remember("recent_projects", name)
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in as_list(settings().value("recent")):
            self._action(self.recent_menu, name, lambda _=False, p=name: self.open_path(Path(p)))
        self.recent_projects_menu.clear()
        for name in as_list(settings().value("recent_projects")):
            self._action(self.recent_projects_menu, name, lambda _=False, n=name: self.open_recent_project(n))

    def open_recent_project(self, name: str) -> bool:
        """Open a project of the recent list (after the dirty-state prompt)."""
        return self.maybe_save() and self.open_project(name)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept dragged plan and project files."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the first dropped file."""
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.open_path(Path(urls[0].toLocalFile()))
