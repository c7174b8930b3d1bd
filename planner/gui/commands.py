"""Undoable edits: every change to a plan field goes through the window's QUndoStack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from planner.gui.document import FieldPath, PlanDocument, dotted


class SetField(QUndoCommand):
    """Set one plan field; undo puts the value before back. ``applied`` re-shows and re-sizes."""

    def __init__(self, document: PlanDocument, path: FieldPath, value: Any, applied: Callable[[], None]) -> None:
        super().__init__(f"set {dotted(path)}")
        self.document, self.path, self.applied = document, path, applied
        self.before, self.after = document.get(path), value

    def redo(self) -> None:
        """Apply the new value."""
        self.document.set(self.path, self.after)
        self.applied()

    def undo(self) -> None:
        """Restore the value before."""
        self.document.set(self.path, self.before)
        self.applied()
