"""Take a screenshot of each main view of the desktop app, offscreen, for docs/screenshots/.

    python packaging/screenshots.py [--out docs/screenshots] [--plan PLAN]

Runs without a display (Qt's offscreen platform) and with the built-in performance model, so
the pictures are the same on every machine. The README shows them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: The views shown: the file each is saved to, the navigator row it is on and, on step 11, its tab.
VIEWS: dict[str, tuple[int, int]] = {
    "use-case.png": (0, 0),
    "sizing.png": (5, 0),
    "serving-stack.png": (8, 0),
    "scaling-decision.png": (10, 0),
    "cost.png": (10, 1),
    "growth.png": (10, 2),
    "plugins.png": (11, 0),
}
SIZING_TIMEOUT_MS = 120_000


def take_screenshots(
    out: Path, plan: Path | None = None, views: dict[str, tuple[int, int]] | None = None
) -> list[Path]:
    """Open the app on ``plan`` (the bundled example by default), wait for its sizing, and save
    each view in ``views`` as a PNG under ``out``; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLANNER_PERF_BACKEND", "builtin")
    from PySide6.QtCore import QEventLoop, QTimer

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
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (row, tab) in (views or VIEWS).items():
        window.navigator.setCurrentRow(row)
        window.decision_page.tabs.setCurrentIndex(tab)
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
    args = parser.parse_args(argv)
    for path in take_screenshots(args.out, args.plan):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
