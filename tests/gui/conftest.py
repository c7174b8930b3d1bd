"""The desktop app's fixtures: offscreen Qt, the built-in performance model, one session per module,
and a window whose dialogs are recorded instead of shown (a modal dialog would block the test)."""

from __future__ import annotations

import os

# Before any QApplication exists: plain `pytest` runs the GUI tests without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6.QtCharts", reason="the desktop app needs PySide6 (Essentials and Addons)")

from PySide6.QtWidgets import QMessageBox

from planner import workflows
from planner.gui.main_window import MainWindow

#: GUI tests time deployments with the built-in model: it is what they check, and it keeps them fast.
BACKEND = "builtin"


@pytest.fixture(scope="module")
def gui_session(tmp_path_factory: pytest.TempPathFactory) -> workflows.Session:
    """Plugins and catalog loaded once per module (the app keeps one session for its lifetime)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_HOME", str(tmp_path_factory.mktemp("gui-home")))
        return workflows.open_session()


class Dialogs:
    """What the window would have shown in message boxes, and the answer to 'save changes?'."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.save_answer = QMessageBox.StandardButton.Discard


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    """Record error dialogs and answer the dirty-state prompt without showing either."""
    seen = Dialogs()
    monkeypatch.setattr(MainWindow, "error", lambda self, title, message: seen.errors.append((title, message)))
    monkeypatch.setattr(MainWindow, "ask_save", lambda self: seen.save_answer)
    return seen


@pytest.fixture
def make_window(
    qtbot: Any, gui_session: workflows.Session, dialogs: Dialogs, planner_home: Path
) -> Iterator[Callable[..., MainWindow]]:
    """Build main windows over the module's session, closed and deleted at teardown."""
    made: list[MainWindow] = []

    def make(session: workflows.Session | None = None) -> MainWindow:
        window = MainWindow(session or gui_session, BACKEND, db=planner_home / "projects.db")
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.sizer.cancel()
        window.simulator.cancel()
        assert window.sizer.wait() and window.simulator.wait(), "a worker thread outlived its window"
