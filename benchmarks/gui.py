"""The desktop app's responsiveness, offscreen: launch, edit to updated sizing, memory.

Prints:

- launch to an interactive window: a fresh process from its start to the main window shown
  with its forms filled (target under 2 s), the median of ``--runs``;
- edit to updated sizing and findings, median over ``--edits`` edits of the demo plan, for an
  edit of the plan's words (no simulation needed) and of a number (the plan simulated again),
  with the built-in model (target under 150 ms) and the default model (``auto``);
- memory (resident) after opening a project with 200 revisions and its history.

    python benchmarks/gui.py [--runs 3] [--edits 5] [--revisions 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LAUNCH = """
import time; start = time.perf_counter()
from planner.gui.app import application
from planner.gui.main_window import MainWindow
from planner import workflows
app = application()
window = MainWindow(workflows.open_session(), "builtin")
window.files.new_plan()
window.show()
app.processEvents()
print(time.perf_counter() - start)
window.undo_stack.setClean(); window.sizer.cancel(); window.sizer.wait()
"""


def launch_s(runs: int) -> list[float]:
    """Seconds from a fresh process's start to its window shown (interpreter start-up included)."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "PLANNER_HOME": home}
            began = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True, env=env, check=True)
            float(out.stdout.split()[-1])
            times.append(time.perf_counter() - began)
    return times


def edit_ms(backend: str, edits: int) -> dict[str, float]:
    """Median ms from an edit to what it updates, in wall-clock time and in the process's CPU time (all
    its threads; on a shared machine the steadier figure): ``words`` (an edit of words to the sizing and
    findings), ``estimate`` (an edit of a number to the search's estimate shown) and ``numbers`` (an
    edit of a number to the sizing and findings), each also as ``*_cpu``."""
    from PySide6.QtCore import QEventLoop, QTimer

    from planner import workflows
    from planner.gui.main_window import MainWindow

    window = MainWindow(workflows.open_session(), backend)
    window.files.new_plan()

    def timed(path: tuple[str, ...], value: object) -> dict[str, float]:
        marks: dict[str, tuple[float, float]] = {}
        loop = QEventLoop()

        def estimated(_: object) -> None:
            marks.setdefault("estimate", (time.perf_counter(), time.process_time()))

        def sized(_: object) -> None:
            marks["sized"] = (time.perf_counter(), time.process_time())
            loop.quit()

        window.estimated.connect(estimated)
        window.sized.connect(sized)
        began = (time.perf_counter(), time.process_time())
        window.edit(path, value)
        QTimer.singleShot(600_000, loop.quit)
        loop.exec()
        window.estimated.disconnect(estimated)
        window.sized.disconnect(sized)
        done = marks.get("sized", (float("nan"), float("nan")))
        estimate = marks.get("estimate", done)
        return {
            "estimate": (estimate[0] - began[0]) * 1000,
            "estimate_cpu": (estimate[1] - began[1]) * 1000,
            "sized": (done[0] - began[0]) * 1000,
            "sized_cpu": (done[1] - began[1]) * 1000,
        }

    timed(("name",), "warm-up")
    words = [timed(("name",), f"Knowledge assistant {i}") for i in range(edits)]
    numbers = [timed(("traffic", "users"), 20_000 + 500 * (i + 1)) for i in range(edits)]
    window.undo_stack.setClean()
    window.document.dirty = False
    window.close()

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    return {
        "words": median(words, "sized"),
        "words_cpu": median(words, "sized_cpu"),
        "estimate": median(numbers, "estimate"),
        "estimate_cpu": median(numbers, "estimate_cpu"),
        "numbers": median(numbers, "sized"),
        "numbers_cpu": median(numbers, "sized_cpu"),
    }


def project_rss_mib(revisions: int) -> tuple[float, float, float]:
    """Resident memory (MiB) before and after opening a project of ``revisions`` revisions and its history,
    and the seconds the opening took."""
    from planner import workflows
    from planner.gui.main_window import MainWindow
    from planner.gui.projects import HistoryDialog

    session = workflows.open_session()
    report = workflows.plan(session, workflows.read_plan(workflows.example_plan_path()), "demo", backend="builtin")
    db = Path(os.environ["PLANNER_HOME"]) / "bench.db"
    workflows.create_project("big", plan_=report.resolved.plan, db=db)
    for i in range(revisions):
        workflows.save_revision(session, report, "big", f"revision {i}", backend="builtin", db=db)
    before = _rss_mib()
    began = time.perf_counter()
    window = MainWindow(session, "builtin", db=db)
    window.projects.open_project("big")
    dialog = HistoryDialog("big", db, window)
    dialog.show_diff(1, revisions)
    took = time.perf_counter() - began
    after = _rss_mib()
    window.undo_stack.setClean()
    window.document.dirty = False
    window.close()
    return before, after, took


def _rss_mib() -> float:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Print every figure."""
    parser = argparse.ArgumentParser(description="desktop app responsiveness")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--backends", default="builtin,auto", help="performance models to time edits with")
    args = parser.parse_args()
    times = launch_s(args.runs)
    print(
        f"launch to interactive window: median {statistics.median(times):.2f} s, best {min(times):.2f} s (target < 2 s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as home:
        os.environ["PLANNER_HOME"] = home
        from planner.gui.app import application

        application()
        for backend in args.backends.split(","):
            ms = edit_ms(backend, args.edits)
            print(
                f"edit to updated sizing and findings ({backend}): {ms['words']:,.0f} ms median for a word "
                f"(CPU {ms['words_cpu']:,.0f} ms); for a number {ms['estimate']:,.0f} ms to the estimate shown "
                f"(CPU {ms['estimate_cpu']:,.0f} ms), {ms['numbers']:,.0f} ms to the simulated sizing and findings "
                f"(CPU {ms['numbers_cpu']:,.0f} ms) (target < 150 ms with builtin); load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
        before, after, took = project_rss_mib(args.revisions)
        print(
            f"project with {args.revisions} revisions: opened with its history in {took:.2f} s; resident memory "
            f"{before:,.0f} MiB before, {after:,.0f} MiB after",
            flush=True,
        )


if __name__ == "__main__":
    main()
