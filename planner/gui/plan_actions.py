"""What the step 9 and step 11 panels share: long actions on the plan in the form, on a worker of
their own, with errors handed to the window's dialog."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from planner import workflows
from planner.gui.worker import Runner

#: The plan in the form and the source its messages name, or None (the window says why) while a field does not hold.
PlanSource = Callable[[], workflows.PlanInput | None]


class PlanActionPanel(QWidget):
    """A panel that runs actions on the plan on its own ``runner``; ``failed(title, message)`` carries
    an error for the window's dialog."""

    failed = Signal(str, str)
    #: The dialog's title when an action fails.
    failure_title = "The action failed"

    def __init__(self, session: workflows.Session, backend: str | None, plan_input: PlanSource,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session, self.backend, self.plan_input = session, backend, plan_input
        self.runner = Runner(self)
        self.runner.failed.connect(self._fail)

    def _fail(self, message: str) -> None:
        self.failed.emit(self.failure_title, message)
