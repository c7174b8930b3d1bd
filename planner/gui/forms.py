"""A step's form: one editor per plan field, its unit, its help, and its problem shown inline.

The form never changes the plan itself: an edit is announced with ``edited(path, value)``
and the window applies it through the undo stack, then calls :meth:`StepForm.show_document`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from planner.gui.document import Checked, FieldPath, PlanDocument
from planner.gui.steps import FieldSpec, Kind, Step

#: The pick-list entry that leaves a choice to the planner's search.
OPEN = "(open: the planner chooses)"
#: The choice-list entry that leaves a field out of the plan (its default applies).
UNSET = "(default)"
ERROR_STYLE = "color: #d62728;"


def value_from_text(kind: Kind, text: str) -> Any:
    """What a typed value means for a field of ``kind``: a number when it reads as one, else the
    text as typed, so the plan's validation names the mistake (as it does for a file)."""
    text = text.strip()
    if not text:
        return None
    if kind is Kind.INTEGER:
        for convert in (int, float):
            try:
                return convert(text)
            except ValueError:
                pass
    if kind is Kind.NUMBER:
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            pass
    return text


def text_of(value: Any) -> str:
    """A plan value as a form shows it (``1500.0`` as ``1500``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class StepForm(QWidget):
    """The editors of one step's fields."""

    edited = Signal(tuple, object)  # field path, new value (None: leave the field out)

    def __init__(self, step: Step, picks: dict[str, list[tuple[str, str]]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = step
        self.editors: dict[FieldPath, QWidget] = {}
        self.specs = {spec.path: spec for spec in step.fields}
        self.errors: dict[FieldPath, QLabel] = {}
        self._showing = False
        layout = QVBoxLayout(self)
        intro = QLabel(step.summary)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.section_errors = QLabel()
        self.section_errors.setObjectName(f"section-errors:{step.number}")
        self.section_errors.setStyleSheet(ERROR_STYLE)
        self.section_errors.setWordWrap(True)
        layout.addWidget(self.section_errors)
        for spec in step.fields:
            self._add_field(spec, picks.get(spec.catalog, []))
        layout.addStretch(1)

    def _add_field(self, spec: FieldSpec, picks: list[tuple[str, str]]) -> None:
        editor = self._editor(spec, picks)
        editor.setObjectName(spec.name)
        editor.setToolTip(spec.help)
        error = QLabel()
        error.setObjectName(f"error:{spec.name}")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.hide()
        row = QWidget()
        box = QVBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        line = QHBoxLayout()
        line.addWidget(editor, 1)
        if spec.unit:
            line.addWidget(QLabel(spec.unit))
        box.addLayout(line)
        box.addWidget(error)
        label = QLabel(spec.label + (" *" if spec.required else ""))
        label.setToolTip(spec.help)
        label.setBuddy(editor)
        self.form.addRow(label, row)
        self.editors[spec.path] = editor
        self.errors[spec.path] = error

    def _editor(self, spec: FieldSpec, picks: list[tuple[str, str]]) -> QWidget:
        kind = spec.kind
        if kind is Kind.FLAG:
            box = QCheckBox()
            box.toggled.connect(lambda on, p=spec.path: self._emit(p, on))
            return box
        if kind in (Kind.CHOICE, Kind.OPEN_FLAG, Kind.PICK):
            return self._combo(spec, picks)
        line = QLineEdit()
        line.setPlaceholderText("required" if spec.required else "optional")
        line.editingFinished.connect(lambda p=spec.path, w=line, k=kind: self._emit(p, value_from_text(k, w.text())))
        return line

    def _combo(self, spec: FieldSpec, picks: list[tuple[str, str]]) -> QComboBox:
        combo = QComboBox()
        entries: list[tuple[str, Any]]
        if spec.kind is Kind.OPEN_FLAG:
            entries = [(OPEN, None), ("yes", True), ("no", False)]
        elif spec.kind is Kind.PICK:
            combo.setEditable(True)  # an alias or a Hugging Face id is accepted too
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            entries = [] if spec.required else [(OPEN, None)]
            entries += [(f"{i}  {figures}", i) for i, figures in picks]
        else:
            entries = [(UNSET, None), *((c, c) for c in spec.choices)]
        for text, value in entries:
            combo.addItem(text, value)
        combo.activated.connect(lambda index, p=spec.path, c=combo: self._emit(p, c.itemData(index)))
        edit = combo.lineEdit()
        if edit is not None:
            edit.editingFinished.connect(lambda p=spec.path, c=combo: self._emit_typed_pick(p, c))
        return combo

    def _emit_typed_pick(self, path: FieldPath, combo: QComboBox) -> None:
        index = combo.findText(combo.currentText())
        typed = combo.currentText().strip() or None
        value = combo.itemData(index) if index >= 0 else typed
        self._emit(path, value)

    def _emit(self, path: FieldPath, value: Any) -> None:
        if not self._showing:
            self.edited.emit(path, value)

    def show_document(self, document: PlanDocument) -> None:
        """Show the document's values and problems (without announcing edits)."""
        self._showing = True
        try:
            for path, editor in self.editors.items():
                value = document.get(path)
                _show_value(editor, self.specs[path].default if value is None else value)
        finally:
            self._showing = False
        self.show_problems(document.checked)

    def show_problems(self, checked: Checked) -> None:
        """Each field's problems under it; problems of the whole section (no single field) on top."""
        for path, label in self.errors.items():
            found = checked.problems_at(path)
            label.setText("\n".join(_problem_text(p.what, p.fix) for p in found))
            label.setVisible(bool(found))
        fields = {f.name for f in self.step.fields}
        loose = [p for s in self.step.sections for p in checked.problems_under(s) if p.where not in fields]
        self.section_errors.setText("\n".join(f"{p.where}: " + _problem_text(p.what, p.fix) for p in loose))
        self.section_errors.setVisible(bool(loose))

    def focus_field(self, path: FieldPath) -> bool:
        """Give the keyboard to the field at ``path``; False when this form has none."""
        editor = self.editors.get(path)
        if editor is None:
            return False
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return True


def _problem_text(what: str, fix: str) -> str:
    return f"{what}. Fix: {fix}" if fix else what


def _show_value(editor: QWidget, value: Any) -> None:
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QComboBox):
        index = editor.findData(value)
        if index >= 0:
            editor.setCurrentIndex(index)
        elif editor.isEditable():
            editor.setEditText(text_of(value))
    elif isinstance(editor, QLineEdit) and editor.text() != text_of(value):
        editor.setText(text_of(value))
