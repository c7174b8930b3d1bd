"""Starting the desktop app: ``planner-gui [PLAN]`` and ``planner gui [PLAN]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from planner import __version__, workflows
from planner.gui.main_window import MainWindow


def application(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created once), high-DPI, in Qt's Fusion style with the system's
    light or dark palette."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(argv or sys.argv[:1])
    app.setApplicationName("LLM inference planner")
    app.setApplicationVersion(__version__)
    # Fusion draws the system's colour scheme (light or dark, Qt >= 6.5) the same on every platform.
    app.setStyle("Fusion")
    return app


def open_window(plan: Path | None = None, backend: str | None = None, disabled: tuple[str, ...] = ()) -> MainWindow:
    """The main window over a fresh session (``disabled`` plugins blocked), showing ``plan`` or the
    bundled example."""
    window = MainWindow(workflows.open_session(disabled), backend)
    if plan is not None:
        window.files.open_path(plan)
    else:
        window.files.new_plan()
    return window


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app until its window closes; returns the exit code."""
    parser = argparse.ArgumentParser(prog="planner-gui", description="The planner's desktop app.")
    parser.add_argument("plan", nargs="?", type=Path, help="a plan file (YAML/JSON) or project file to open")
    parser.add_argument(
        "--perf-backend", default=None, help="performance model (default: PLANNER_PERF_BACKEND or auto)"
    )
    parser.add_argument("--disable-plugin", action="append", default=[], metavar="NAME", help="do not load plugin NAME")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="open the window, wait for it to size the plan, print the answer and exit (checks an install or a "
        "bundle; with QT_QPA_PLATFORM=offscreen it needs no display)",
    )
    args = parser.parse_args(argv)
    app = application()
    window = open_window(args.plan, args.perf_backend, tuple(args.disable_plugin))
    window.show()
    return smoke_test(app, window) if args.smoke_test else int(app.exec())


#: How long ``--smoke-test`` waits for the window's first sizing (the demo plan takes seconds).
SMOKE_TEST_TIMEOUT_S = 180.0


def smoke_test(app: QApplication, window: MainWindow, timeout_s: float = SMOKE_TEST_TIMEOUT_S) -> int:
    """Run the event loop until the window has sized its plan, print the chosen fleet, stop the work.

    :returns: 0 when the plan was sized, 1 when nothing fits or the sizing did not finish in time.
    """
    deadline = time.monotonic() + timeout_s
    timer = QTimer()
    timer.timeout.connect(lambda: (window.report is not None or time.monotonic() > deadline) and app.quit())
    timer.start(100)
    app.exec()
    timer.stop()
    for worker in (window.sizer, window.simulator):
        worker.cancel()
        worker.wait()
    report = window.report
    if report is None:
        print(f"planner-gui {__version__}: the plan was not sized within {timeout_s:g} s", file=sys.stderr)
        return 1
    best = report.sizing.best
    if best is None:
        print(f"planner-gui {__version__}: nothing fits the plan: {report.sizing.why_none[:1]}", file=sys.stderr)
        return 1
    print(
        f"planner-gui {__version__}: {report.resolved.plan.name}: {best.sizing.deployment.label}, "
        f"{best.sizing.replicas} replicas"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
