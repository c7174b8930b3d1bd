"""Take a screenshot of each main view of the desktop app, offscreen, for docs/screenshots/.

    python packaging/screenshots.py [--out docs/screenshots] [--plan PLAN] [--runs FILE...]

With ``--runs`` the plan is saved as a project in a throw-away planner home and the benchmark
result files are imported into it, so step 10's measured view has runs to draw.

Runs without a display (Qt's offscreen platform) and with the built-in performance model, so
the pictures are the same on every machine. The README shows them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

#: The views shown: the file each is saved to, the navigator row it is on and, on a page of tabs, its tab.
VIEWS: dict[str, tuple[int, int]] = {
    "use-case.png": (0, 0),
    "sizing.png": (5, 0),
    "serving-stack.png": (8, 0),
    "configuration.png": (8, 1),
    "baseline.png": (9, 0),
    "measured.png": (9, 1),
    "scaling-decision.png": (10, 0),
    "cost.png": (10, 1),
    "growth.png": (10, 2),
    "what-if.png": (10, 3),
    "plugins.png": (11, 0),
}
SIZING_TIMEOUT_MS = 120_000


def take_screenshots(
    out: Path, plan: Path | None = None, views: dict[str, tuple[int, int]] | None = None, runs: list[Path] = ()
) -> list[Path]:
    """Open the app on ``plan`` (the bundled example by default), wait for its sizing, and save
    each view in ``views`` as a PNG under ``out``; with ``runs``, import them into a project of
    the plan first; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLANNER_PERF_BACKEND", "builtin")
    if runs:  # never into the user's own projects
        os.environ["PLANNER_HOME"] = tempfile.mkdtemp(prefix="planner-screenshots-")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QTabWidget

    from planner.gui.app import application, open_window

    app = application()
    window = open_window(plan, os.environ["PLANNER_PERF_BACKEND"])
    window.resize(1400, 860)
    window.show()
    if window.report is None:
        loop = QEventLoop()
        window.sized.connect(loop.quit)
        QTimer.singleShot(SIZING_TIMEOUT_MS, loop.quit)
        loop.exec()
    if runs and window.new_project("screenshots") and window.save_revision("predicted"):
        window.measured.import_files(list(runs))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (row, tab) in (views or VIEWS).items():
        window.navigator.setCurrentRow(row)
        page = window.stack.currentWidget()
        tabs = page if isinstance(page, QTabWidget) else page.findChild(QTabWidget)
        if tabs is not None:
            tabs.setCurrentIndex(tab)
        app.processEvents()
        path = out / name
        window.grab().save(str(path))
        written.append(path)
    window.undo_stack.setClean()
    window.close()
    window.deleteLater()
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; prints each file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "docs" / "screenshots")
    parser.add_argument("--plan", type=Path, default=None, help="plan file (default: the bundled example)")
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="benchmark result files for step 10")
    args = parser.parse_args(argv)
    for path in take_screenshots(args.out, args.plan, runs=args.runs):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
