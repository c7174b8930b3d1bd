"""Speed and size of the Excel TCO workbook of the demo plan.

Prints, with the built-in performance model: the export in one process (sizing with the
fleet's simulation, checks, TCO and writing; then the same plan again, when the session
reuses its decision as the desktop app does; then the writing alone), ``planner export`` in
a fresh process, the workbook's size, and, when LibreOffice is installed, how long it takes
to recalculate the workbook headless (what the tests do). Target: the demo's export under 1 s.

    python benchmarks/export.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEMO_PLAN = Path(__file__).resolve().parent.parent / "planner" / "examples" / "knowledge-assistant.yaml"


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Wall times in seconds of ``runs`` calls of ``action``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def line(label: str, times: list[float]) -> str:
    """One printed figure: the median and the best of the runs."""
    return f"{label:52s} median {statistics.median(times):6.3f} s   best {min(times):6.3f} s   ({len(times)} runs)"


def main() -> None:
    """Time the demo's export and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    os.environ["PLANNER_PERF_BACKEND"] = "builtin"
    from planner import decision, workflows
    from planner.export import write_workbook
    from planner.workflows.costs import revision_of, workbook_content

    folder = Path(tempfile.mkdtemp(prefix="planner-export-"))
    out = folder / "demo.xlsx"
    session = workflows.open_session()
    plan = workflows.read_plan(DEMO_PLAN)
    workflows.export(session, plan, out, "demo")  # warm the session: catalog, rules, imports

    def first_export() -> None:
        decision._memo.clear()  # as for a plan this session has not decided yet
        workflows.export(session, plan, out, "demo")

    print(line("export in one process (size, simulate, check, price, write)", timed(first_export, runs)))
    print(line("  the same plan again (decision reused)", timed(
        lambda: workflows.export(session, plan, out, "demo"), runs)))  # fmt: skip
    content = workbook_content(workflows.tco(session, plan, "demo"), revision_of(plan))
    print(line("  of which writing the workbook", timed(lambda: write_workbook(content, out), runs)))
    command = [sys.executable, "-m", "planner", "export", str(DEMO_PLAN), "--xlsx", str(out)]
    print(line("planner export (fresh process)", timed(
        lambda: subprocess.run(command, check=True, capture_output=True), runs)))  # fmt: skip
    print(f"{'workbook size':52s} {out.stat().st_size / 1024:6.1f} KiB ({out.stat().st_size:,} bytes)")
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("LibreOffice is not installed: no recalculation time")
        return
    recalc = [soffice, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--norestore",
              "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(folder / "out"), str(out)]  # fmt: skip
    subprocess.run(recalc, check=True, capture_output=True)  # the first run creates the profile
    print(line("LibreOffice headless recalculation (warm profile)", timed(
        lambda: subprocess.run(recalc, check=True, capture_output=True), runs)))  # fmt: skip


if __name__ == "__main__":
    main()
