"""Long actions off the UI thread: each request numbered, only the newest one's answer shown.

One worker thread runs the workflow calls in turn (the session's rules engine and caches are
not shared between threads). A request superseded or cancelled before it starts is skipped; one
superseded while it runs stops at its next progress report or at the next check of its
simulation budget (every 1,024 events of a simulated run), so an edit never waits behind stale
work and Cancel stops the computation, not only its answer.
"""

from __future__ import annotations

import gc
import math
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from planner import workflows
from planner.errors import PlannerError
from planner.workflows import Progress

_gc_lock = threading.Lock()
_gc_holds = 0


def _hold_collector() -> None:
    """Keep Python's cycle collector off while a worker runs: a collection started on a worker
    thread would destroy unreachable Qt widgets there, and Qt crashes when a widget dies off the
    UI thread. Collections then happen on the UI thread, between jobs."""
    global _gc_holds
    with _gc_lock:
        if _gc_holds == 0:
            gc.disable()
        _gc_holds += 1


def _release_collector() -> None:
    global _gc_holds
    with _gc_lock:
        _gc_holds -= 1
        if _gc_holds == 0:
            gc.enable()


#: A long action: called with a progress callback and a preview callback (a first answer to show
#: while the rest runs, e.g. the estimate before the simulation).
Action = Callable[[Progress, Callable[[object], None]], Any]


#: Progress reaches the UI thread at most this often: a bar moved ten times a second looks smooth, and
#: each report crossing threads lets the UI thread take the GIL from the worker (a search reports
#: every candidate, hundreds in a tenth of a second).
PROGRESS_INTERVAL_S = 0.1
#: How long a worker waits for the UI thread to show a preview before it goes on: the work after a
#: preview (a simulation) holds the GIL, and the UI thread drawing the preview waits for it at each
#: Qt call that lets it go, so without the wait an estimate takes several times longer to appear.
PREVIEW_WAIT_S = 0.5


class Superseded(Exception):
    """Raised inside a running action whose answer nobody waits for any more."""


class _Signals(QObject):
    progressed = Signal(int, int, int, str)  # ticket, done, total (0 when unknown), message
    previewed = Signal(int, object, object)  # ticket, partial, the threading.Event set once it is shown
    finished = Signal(int, object)
    failed = Signal(int, str)


class _Job(QRunnable):
    def __init__(self, runner: Runner, ticket: int, action: Action) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.runner, self.ticket, self.action = runner, ticket, action
        self._reported_s = -math.inf

    def run(self) -> None:
        _hold_collector()
        try:
            self._run()
        finally:
            _release_collector()  # last: nothing after it allocates on this thread

    def _run(self) -> None:
        signals, ticket = self.runner.signals, self.ticket
        if not self.runner.is_current(ticket):
            return
        try:
            # Every action runs under one simulation budget, as a command of the CLI does; its checks
            # are where a superseded or cancelled action stops inside a simulated run.
            with workflows.simulation_budget(on_check=self._stop_if_superseded):
                result = self.action(self._progress, self._preview)
        except Superseded:
            return
        except PlannerError as exc:
            signals.failed.emit(ticket, exc.render())
        except Exception:  # a bug in the planner or a plugin: reported, never a crash
            signals.failed.emit(ticket, "internal error (please report it):\n" + traceback.format_exc(limit=6))
        else:
            signals.finished.emit(ticket, result)

    def _stop_if_superseded(self) -> None:
        if not self.runner.is_current(self.ticket):
            raise Superseded

    def _preview(self, partial: object) -> None:
        self._stop_if_superseded()
        shown = threading.Event()
        self.runner.signals.previewed.emit(self.ticket, partial, shown)
        shown.wait(PREVIEW_WAIT_S)

    def _progress(self, done: int, total: int | None, message: str) -> None:
        self._stop_if_superseded()
        now_s = time.monotonic()
        if now_s - self._reported_s >= PROGRESS_INTERVAL_S:
            self._reported_s = now_s
            self.runner.signals.progressed.emit(self.ticket, done, total or 0, message)


class Runner(QObject):
    """Runs actions on its own worker thread and reports only the newest one's result.

    ``finished(result)``, ``previewed(partial)``, ``failed(message)`` and ``progressed(done, total,
    message)`` are emitted on the UI thread, and only for the request made last.
    """

    finished = Signal(object)
    previewed = Signal(object)
    failed = Signal(str)
    progressed = Signal(int, int, str)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.signals = _Signals(self)
        self.signals.finished.connect(self._on_finished)
        self.signals.failed.connect(self._on_failed)
        self.signals.progressed.connect(self._on_progress)
        self.signals.previewed.connect(self._on_preview)
        self._ticket = 0
        self.busy = False

    def is_current(self, ticket: int) -> bool:
        """True while ``ticket`` is the newest request (read from the worker thread)."""
        return ticket == self._ticket

    def request(self, action: Action) -> int:
        """Run ``action(progress, preview)`` after the running one; any older request's answer is dropped."""
        self._ticket += 1
        self._set_busy(True)
        self.pool.start(_Job(self, self._ticket, action))
        return self._ticket

    def cancel(self) -> None:
        """Drop the running request's answer and stop it at its next progress report or budget check."""
        self._ticket += 1
        self._set_busy(False)

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the worker is idle (closing the window, tests); True when it is."""
        return bool(self.pool.waitForDone(timeout_ms))

    def _on_finished(self, ticket: int, result: object) -> None:
        if ticket == self._ticket:
            self._set_busy(False)
            self.finished.emit(result)

    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self._set_busy(False)
            self.failed.emit(message)

    def _on_preview(self, ticket: int, partial: object, shown: threading.Event) -> None:
        try:
            if ticket == self._ticket:
                self.previewed.emit(partial)
        finally:
            shown.set()

    def _on_progress(self, ticket: int, done: int, total: int, message: str) -> None:
        if ticket == self._ticket:
            self.progressed.emit(done, total, message)

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busy_changed.emit(busy)
