"""The desktop app's fixtures: offscreen Qt, the built-in performance model, one session per module,
and a window whose dialogs are recorded instead of shown (a modal dialog would block the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
from tests.conftest import CLI_BACKEND, PLANS

#: The demo use case most GUI tests size (use case 2 of shared/examples.md).
CODE_ASSISTANT = PLANS / "code-assistant.yaml"
#: The code assistant with longer prompts: sized as prefill/decode pools while disaggregation is open.
LONG_PROMPTS = PLANS / "code-assistant-long-prompts.yaml"
#: Long enough for the example's sizing on two busy cores.
CLI_TIMEOUT_S = 180

#: GUI tests time deployments with the built-in model: it is what they check, and it keeps them fast.
BACKEND = "builtin"


@pytest.fixture(scope="session")
def gui_session(tmp_path_factory: pytest.TempPathFactory) -> workflows.Session:
    """Plugins and catalog loaded once for every GUI test, as the app keeps one session for its lifetime.

    Its performance model is what the decision memo (planner/decision.py) keys on, so the example plan
    is simulated once for the whole run, not once per test module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_HOME", str(tmp_path_factory.mktemp("gui-home")))
        return workflows.open_session()


class CliPlan:
    """``planner plan PLAN --json`` in a subprocess, started at once and read when a test needs it."""

    def __init__(self, plan: Path) -> None:
        env = {**os.environ, **CLI_BACKEND}
        command = [sys.executable, "-m", "planner", "plan", str(plan), "--json"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self._answer: dict[str, Any] | None = None

    def answer(self) -> dict[str, Any]:
        """The command's JSON answer (waits for it; fails the test when the command failed)."""
        if self._answer is None:
            out, err = self.process.communicate(timeout=CLI_TIMEOUT_S)
            assert self.process.returncode == 0, err
            self._answer = json.loads(out)
        return self._answer


@pytest.fixture(scope="session", autouse=True)
def _cli_started_first(request: pytest.FixtureRequest) -> None:
    """Start the command line's sizing with the first GUI test when a test compares with it, so the
    subprocess runs on the other core while the tests before that one run."""
    if any("cli_code_assistant" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("cli_code_assistant")


@pytest.fixture(scope="session")
def cli_code_assistant() -> Iterator[CliPlan]:
    """The command line's sizing of the example plan, running beside the GUI's sizing of it."""
    cli = CliPlan(CODE_ASSISTANT)
    yield cli
    if cli.process.poll() is None:
        cli.process.kill()
    cli.process.communicate()


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
        for runner in window.runners:
            runner.cancel()
        assert all(runner.wait() for runner in window.runners), "a worker thread outlived its window"
