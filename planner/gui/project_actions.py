"""The Project menu's actions: new, open, save a revision, history and diff, import and export
a project file; the store's errors (locked, damaged, newer version) are dialogs, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog

from planner import workflows
from planner.errors import PlannerError
from planner.gui.document import PlanDocument
from planner.gui.plan_files import PROJECT_FILTER
from planner.gui.projects import HistoryDialog

if TYPE_CHECKING:
    from planner.gui.main_window import MainWindow


class ProjectActions:
    """Keeps the window's plan in a project of the store: its revisions, history and files."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def new_project_dialog(self) -> None:
        """Ask for a name, create the project and save the current sizing as its first revision."""
        name, ok = QInputDialog.getText(self.window, "New project", "Project name:")
        if ok and name.strip():
            self.new_project(name.strip())

    def new_project(self, name: str) -> bool:
        """Create the project ``name`` from the plan and make it the current project."""
        window = self.window
        try:
            workflows.create_project(name, plan_=window.document.checked.plan, db=window.db)
        except PlannerError as exc:
            window.error("The project was not created", exc.render())
            return False
        window.project = name
        window.menus.remember_project(name)
        window.update_title()
        return True

    def save_revision_dialog(self) -> None:
        """Ask for a message and save the current sizing as the project's next revision."""
        if not self.window.project and not self.new_project_dialog_needed():
            return
        message, ok = QInputDialog.getText(self.window, "Save revision", "What changed:")
        if ok:
            self.save_revision(message)

    def new_project_dialog_needed(self) -> bool:
        """Ask for a project first when none is open; True when one is open afterwards."""
        self.new_project_dialog()
        return self.window.project is not None

    def save_revision(self, message: str) -> workflows.SavedRevision | None:
        """Store the newest sizing as the project's next revision (shown, never raised, on failure)."""
        window = self.window
        if window.report is None or window.project is None:
            window.error("No revision saved", "Open a project and wait for a sizing of a plan without field problems.")
            return None
        try:
            saved = workflows.save_revision(window.session, window.report, window.project, message,
                                            backend=window.backend, db=window.db)  # fmt: skip
        except PlannerError as exc:
            window.error("The revision was not saved", exc.render())
            return None
        window.undo_stack.setClean()
        window.document.dirty = False
        window.statusBar().showMessage(f"saved revision {saved.revision.number} of {window.project}", 5000)
        window.update_title()
        return saved

    def open_project(self, name: str, ref: str = "head") -> bool:
        """Open a project's revision (``head`` by default) for editing."""
        window = self.window
        try:
            opened = workflows.open_revision(name, ref, window.db)
        except PlannerError as exc:
            window.error("Cannot open the project", exc.render())
            return False
        window.set_document(PlanDocument.from_plan(opened.plan))
        window.project = name
        window.menus.remember_project(name)
        window.update_title()
        return True

    def open_project_dialog(self) -> None:
        """Pick a project of the database and open its newest revision."""
        window = self.window
        try:
            names = [p.name for p in workflows.list_projects(window.db).projects]
        except PlannerError as exc:
            window.error("Cannot list the projects", exc.render())
            return
        if not names:
            window.error("No projects", "Create one with Project > New project.")
            return
        name, ok = QInputDialog.getItem(window, "Open project", "Project:", names, 0, False)
        if ok and window.maybe_save():
            self.open_project(name)

    def open_recent_project(self, name: str) -> bool:
        """Open a project of the recent list (after the dirty-state prompt)."""
        return self.window.maybe_save() and self.open_project(name)

    def history_dialog(self) -> None:
        """Show the project's revisions and the diff of any two; open one if asked."""
        window = self.window
        if window.project is None:
            window.error("No project", "Open or create a project first.")
            return
        try:
            dialog = HistoryDialog(window.project, window.db, window)
        except PlannerError as exc:
            window.error("Cannot read the history", exc.render())
            return
        if dialog.exec() and dialog.opened is not None and window.maybe_save():
            self.open_project(window.project, str(dialog.opened))

    def import_project_dialog(self) -> None:
        """Add a project file to the database."""
        name, _ = QFileDialog.getOpenFileName(self.window, "Import project", "", PROJECT_FILTER)
        if name:
            try:
                report = workflows.import_project(Path(name), db=self.window.db)
            except PlannerError as exc:
                self.window.error("The project was not imported", exc.render())
                return
            self.window.statusBar().showMessage(f"imported into {report.path}", 5000)

    def export_project_dialog(self) -> None:
        """Write the current project with all its revisions to one project file."""
        window = self.window
        if window.project is None:
            window.error("No project", "Open or create a project first.")
            return
        name, _ = QFileDialog.getSaveFileName(
            window, "Export project", f"{window.project}.planner.json", PROJECT_FILTER
        )
        if name:
            try:
                workflows.export_project(window.project, Path(name), window.db)
            except PlannerError as exc:
                window.error("The project was not exported", exc.render())
