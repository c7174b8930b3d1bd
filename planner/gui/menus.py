"""The window's menu bar (File, Edit, Project, View with their shortcuts) and its lists of recent
plan files and projects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from planner.gui.settings import as_list, remember, settings
from planner.gui.steps import STEPS

if TYPE_CHECKING:
    from planner.gui.main_window import MainWindow


class Menus:
    """Builds the window's menus on its actions and keeps the recent lists (``gui.ini``) filled."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        bar = window.menuBar()
        self._file_menu(bar.addMenu("&File"))
        self._edit_menu(bar.addMenu("&Edit"))
        self._project_menu(bar.addMenu("&Project"))
        self._view_menu(bar.addMenu("&View"))
        self._fill_recent()

    def action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None) -> QAction:
        """Add an action ``text`` to ``menu`` that calls ``slot`` (with its keyboard ``shortcut``)."""
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def remember_file(self, path: Path) -> None:
        """Put ``path`` first in the recent plan files."""
        remember("recent", str(path.resolve()))
        self._fill_recent()

    def remember_project(self, name: str) -> None:
        """Put ``name`` first in the recent projects."""
        remember("recent_projects", name)
        self._fill_recent()

    def _file_menu(self, file: QMenu) -> None:
        files, keys = self.window.files, QKeySequence.StandardKey
        self.action(file, "&New plan", files.new_plan, keys.New)
        self.action(file, "&Open plan or project file...", files.open_dialog, keys.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_projects_menu = file.addMenu("Recent &projects")
        self.action(file, "&Save plan", files.save, keys.Save)
        self.action(file, "Save plan &as (YAML or JSON)...", files.save_as, keys.SaveAs)
        file.addSeparator()
        self.action(file, "Export the TCO &workbook...", files.export_workbook_dialog, "Ctrl+E")
        self.action(file, "Recover the last autosave", files.recover_autosave)
        file.addSeparator()
        self.action(file, "&Quit", self.window.close, keys.Quit)

    def _edit_menu(self, edit: QMenu) -> None:
        stack = self.window.undo_stack
        undo = stack.createUndoAction(self.window, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = stack.createRedoAction(self.window, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addActions([undo, redo])

    def _project_menu(self, project: QMenu) -> None:
        projects = self.window.projects
        self.action(project, "&New project from this plan...", projects.new_project_dialog)
        self.action(project, "&Open project...", projects.open_project_dialog)
        self.action(project, "Save &revision...", projects.save_revision_dialog, "Ctrl+R")
        self.action(project, "&History and diff...", projects.history_dialog, "Ctrl+H")
        project.addSeparator()
        self.action(project, "&Import project file...", projects.import_project_dialog)
        self.action(project, "E&xport project file...", projects.export_project_dialog)

    def _view_menu(self, view: QMenu) -> None:
        window = self.window
        for step in STEPS:
            shortcut = f"Ctrl+{step.number % 10}" if step.number <= 10 else None
            self.action(view, step.label, lambda _=False, n=step.number: window.go_to_step(n), shortcut)
        self.action(view, "Plugins", window.show_plugins)

    def _fill_recent(self) -> None:
        files, projects = self.window.files, self.window.projects
        self.recent_menu.clear()
        for name in as_list(settings().value("recent")):
            self.action(self.recent_menu, name, lambda _=False, p=name: files.open_path(Path(p)))
        self.recent_projects_menu.clear()
        for name in as_list(settings().value("recent_projects")):
            self.action(self.recent_projects_menu, name, lambda _=False, n=name: projects.open_recent_project(n))
