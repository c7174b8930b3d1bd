"""Project dialogs: the history of a project's revisions and the side-by-side diff of two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from planner import workflows


def _cell(value: Any) -> QTableWidgetItem:
    return QTableWidgetItem("" if value is None else str(value))


class HistoryDialog(QDialog):
    """A project's revisions, newest last; pick two and compare them side by side, or open one."""

    def __init__(self, project: str, db: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"History of {project}")
        self.project, self.db = project, db
        self.opened: int | None = None
        entries = workflows.history(project, db).entries
        layout = QVBoxLayout(self)
        self.revisions = QTableWidget(len(entries), 7, self)
        self.revisions.setObjectName("revisions")
        self.revisions.setHorizontalHeaderLabels(["#", "message", "when", "GPU", "replicas", "EUR/1M tok", "errors"])
        self.revisions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.revisions.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, entry in enumerate(entries):
            r = entry.revision
            eur = f"{r.eur_per_1m_tokens:,.3f}" if r.eur_per_1m_tokens is not None else "-"
            for col, value in enumerate((r.number, r.message, r.created_at, r.gpu, r.replicas, eur, r.errors)):
                self.revisions.setItem(row, col, _cell(value))
        self.diff = QTableWidget(0, 4, self)
        self.diff.setObjectName("diff")
        self.diff.setHorizontalHeaderLabels(["section", "field", "before", "after"])
        self.diff.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QHBoxLayout()
        compare = QPushButton("Compare the two selected")
        compare.clicked.connect(self.compare_selected)
        open_one = QPushButton("Open the selected revision")
        open_one.clicked.connect(self._open_selected)
        buttons.addWidget(compare)
        buttons.addWidget(open_one)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(QLabel("Select two revisions to compare them field by field."))
        layout.addWidget(self.revisions)
        layout.addLayout(buttons)
        layout.addWidget(self.diff)
        layout.addWidget(close)
        self.resize(900, 600)

    def _selected_numbers(self) -> list[int]:
        rows = sorted({index.row() for index in self.revisions.selectedIndexes()})
        items = [self.revisions.item(row, 0) for row in rows]
        return [int(item.text()) for item in items if item is not None]

    def compare_selected(self) -> None:
        """Fill the diff table with the changes between the two selected revisions."""
        numbers = self._selected_numbers()
        if len(numbers) == 2:
            self.show_diff(numbers[0], numbers[1])

    def show_diff(self, before: int, after: int) -> None:
        """Show revision ``before`` against ``after``: inputs, configuration, figures, provenance, findings."""
        d = workflows.diff(self.project, str(before), str(after), self.db)
        rows = [(section, c.field, c.before, c.after) for section, changes in (
            ("inputs", d.inputs), ("configuration", d.configuration), ("figures", d.figures),
            ("provenance", d.provenance), ("findings", d.findings_changed)) for c in changes]  # fmt: skip
        rows += [("findings", f.get("rule_id", ""), "", "added") for f in d.findings_added]
        rows += [("findings", f.get("rule_id", ""), "resolved", "") for f in d.findings_resolved]
        self.diff.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                self.diff.setItem(i, j, _cell(value))

    def _open_selected(self) -> None:
        numbers = self._selected_numbers()
        if numbers:
            self.opened = numbers[-1]
            self.accept()
