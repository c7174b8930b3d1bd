"""The File menu's actions on the plan: open (plan or project file), new, save, export the TCO
workbook, and the autosave that a crash loses at most the last edit to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from planner import workflows
from planner.errors import PlannerError
from planner.gui.document import PlanDocument
from planner.gui.settings import autosave_path

if TYPE_CHECKING:
    from planner.gui.main_window import MainWindow

PLAN_FILTER = "Plan files (*.yaml *.yml *.json)"
PROJECT_FILTER = "Project files (*.planner.json *.json)"


class PlanFiles:
    """Opens, saves and exports the window's plan; every error is a dialog, never raised."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def open_path(self, path: Path) -> bool:
        """Open a plan file or a project file (``*.planner.json``); errors are shown, never raised."""
        window = self.window
        if not window.maybe_save():
            return False
        try:
            if path.name.endswith(".planner.json"):
                imported = workflows.import_project(path, db=window.db)
                return window.projects.open_project(imported.imported.name)
            else:
                window.set_document(PlanDocument.open(path))
                window.project = None
        except PlannerError as exc:
            window.error("Cannot open the file", exc.render())
            return False
        window.menus.remember_file(path)
        return True

    def open_dialog(self) -> None:
        """Ask for a plan or project file and open it."""
        name, _ = QFileDialog.getOpenFileName(self.window, "Open", "", f"{PLAN_FILTER};;{PROJECT_FILTER}")
        if name:
            self.open_path(Path(name))

    def new_plan(self) -> None:
        """Start from the bundled example plan (use case 1), unsaved."""
        if self.window.maybe_save():
            document = PlanDocument.open(workflows.example_plan_path())
            document.path = None
            self.window.set_document(document)
            self.window.project = None

    def save(self) -> bool:
        """Save the plan to its file (asks for one when it has none); False when nothing was saved."""
        path = self.window.document.path
        return self.save_as() if path is None else self.write_plan(path)

    def save_as(self) -> bool:
        """Ask for a file (``.yaml`` or ``.json``) and save the plan to it."""
        name, _ = QFileDialog.getSaveFileName(self.window, "Save plan", self.window.document.source, PLAN_FILTER)
        return bool(name) and self.write_plan(Path(name))

    def write_plan(self, path: Path) -> bool:
        """Write the plan to ``path`` when every field holds; otherwise say what to fix and write nothing."""
        window, document = self.window, self.window.document
        plan = document.checked.plan
        if plan is None:
            problems = "\n".join(str(p) for p in document.checked.problems)
            window.error("The plan was not saved", f"Fix these fields first:\n{problems}")
            return False
        try:
            workflows.write_plan(plan, path)
        except PlannerError as exc:
            window.error("The plan was not saved", exc.render())
            return False
        document.path, document.dirty = path, False
        window.undo_stack.setClean()
        window.menus.remember_file(path)
        window.update_title()
        return True

    def export_workbook_dialog(self) -> None:
        """Ask for an ``.xlsx`` path and write the TCO workbook there."""
        name, _ = QFileDialog.getSaveFileName(
            self.window, "Export workbook", "plan-tco.xlsx", "Excel workbook (*.xlsx)"
        )
        if name:
            self.export_workbook(Path(name))

    def export_workbook(self, path: Path) -> workflows.ExportResult | None:
        """Write the Excel TCO workbook of the plan (sized again for its costs)."""
        window = self.window
        plan = window.document.checked.plan
        if plan is None:
            window.error("Nothing exported", "Fix the fields marked in red first.")
            return None
        try:
            result = workflows.export(window.session, plan, path, window.document.source, backend=window.backend)
        except PlannerError as exc:
            window.error("The workbook was not written", exc.render())
            return None
        window.statusBar().showMessage(f"wrote {result.path} ({result.size_bytes:,} bytes)", 5000)
        return result

    def recover_autosave(self) -> None:
        """Reopen the fields as they were at the last edit (after a crash)."""
        try:
            data = json.loads(autosave_path().read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.window.error("Nothing to recover", str(exc))
            return
        self.window.set_document(PlanDocument(data))

    def autosave(self) -> None:
        """Write the fields as they are now to the autosave file (written beside it and moved over)."""
        try:
            path = autosave_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(self.window.document.data, indent=1), encoding="utf-8")
            partial.replace(path)
        except OSError as exc:
            self.window.statusBar().showMessage(f"autosave failed: {exc}", 5000)
