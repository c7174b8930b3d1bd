"""Take a screenshot of each main view of the desktop app, offscreen, for docs/screenshots/.

    python packaging/screenshots.py [--out docs/screenshots] [--plan PLAN] [--runs FILE...]
                                    [--dark] [--views NAME...]

With ``--runs`` the plan is saved as a project in a throw-away planner home and the benchmark
result files are imported into it, so step 10's measured view has runs to draw. With ``--dark``
the app runs in a dark palette (what it takes from a system in dark mode; the offscreen platform
reports no colour scheme of its own) and each file is named ``*-dark.png``; ``--views`` takes
only the named ones (``sizing.png``...).

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


#: The palette Qt's Fusion style derives from a dark window colour (the one the app shows under a dark scheme).
DARK_WINDOW = "#353535"


def take_screenshots(
    out: Path,
    plan: Path | None = None,
    views: dict[str, tuple[int, int]] | None = None,
    runs: list[Path] = (),
    dark: bool = False,
) -> list[Path]:
    """Open the app on ``plan`` (the bundled example by default), wait for its sizing, and save
    each view in ``views`` as a PNG under ``out`` (``*-dark.png`` in a dark palette with ``dark``);
    with ``runs``, import them into a project of the plan first; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLANNER_PERF_BACKEND", "builtin")
    if runs:  # never into the user's own projects
        os.environ["PLANNER_HOME"] = tempfile.mkdtemp(prefix="planner-screenshots-")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QTabWidget

    from planner.gui.app import application, open_window

    app = application()
    if dark:
        from PySide6.QtGui import QColor, QPalette

        app.setPalette(QPalette(QColor(DARK_WINDOW)))
    window = open_window(plan, os.environ["PLANNER_PERF_BACKEND"])
    window.resize(1400, 860)
    window.show()
    if window.report is None:
        loop = QEventLoop()
        window.sized.connect(loop.quit)
        QTimer.singleShot(SIZING_TIMEOUT_MS, loop.quit)
        loop.exec()
    if runs and window.projects.new_project("screenshots") and window.projects.save_revision("predicted"):
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
        path = out / (name.replace(".png", "-dark.png") if dark else name)
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
    parser.add_argument("--dark", action="store_true", help="a dark palette; files named *-dark.png")
    parser.add_argument("--views", nargs="*", choices=sorted(VIEWS), default=None, help="only these views")
    args = parser.parse_args(argv)
    views = {name: VIEWS[name] for name in args.views} if args.views else None
    for path in take_screenshots(args.out, args.plan, views, runs=args.runs, dark=args.dark):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
