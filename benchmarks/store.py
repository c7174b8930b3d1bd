"""Speed and size of the project store, through the workflows the desktop app and the CLI call.

Builds a project of 200 revisions (the demo plan's real report, sized with the built-in model)
and 50 benchmark runs of 1,000 requests each, then prints: saving one revision (the whole
action: open the file, record the catalog versions, write, commit with fsync), opening the
project (the project with its revision and run lists, and its head revision in full),
``history``, ``diff`` of the first and last revisions, export and import, the file size per
revision and per run, and the same commands as fresh processes (start-up included).
Targets: save under 20 ms, open under 200 ms, history under 100 ms.

    python benchmarks/store.py
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))
os.environ["PLANNER_PERF_BACKEND"] = "builtin"

from planner import workflows
from planner.store import RevisionDraft, RunDraft
from planner.store import projects as stored
from planner.store import runs as measured
from planner.store.database import open_store
from planner.workflows.projects import catalog_versions

REVISIONS, RUNS, REQUESTS = 200, 50, 1000
TARGETS_MS = {"save one revision": 20.0, "open the project": 200.0, "history": 100.0}


def timed_ms(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall times in milliseconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def report_line(label: str, times: list[float]) -> None:
    """Print the median and the worst of ``times``, against the target when there is one."""
    median = statistics.median(times)
    target = TARGETS_MS.get(label)
    verdict = f"target {target:g} ms: {'met' if median < target else 'MISSED'}" if target else ""
    print(f"{label:34s} median {median:8.1f} ms   max {max(times):8.1f} ms   {verdict}")


def file_bytes(db: Path) -> int:
    """The database's size once the write-ahead log is folded into it."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db.stat().st_size


def run_records(run: int) -> list[dict[str, Any]]:
    """1,000 per-request records shaped like a benchmark tool's output."""
    return [
        {"start_s": i * 0.05, "ttft_ms": 180.0 + (i * 37 + run) % 400, "itl_ms": 18.0 + (i * 13) % 9,
         "e2e_ms": 9000.0 + (i * 71) % 3000, "input_tokens": 2500 + i % 3500, "output_tokens": 250 + i % 450,
         "error": None if i % 200 else "timeout"}
        for i in range(REQUESTS)
    ]  # fmt: skip


def build(session: workflows.Session, report: workflows.PlanReport, db: Path) -> tuple[float, float]:
    """The project of 200 revisions and 50 runs; returns bytes per revision and per run."""
    workflows.create_project("Bench", db=db)
    empty = file_bytes(db)
    for i in range(REVISIONS):
        workflows.save_revision(session, report, "Bench", f"iteration {i + 1}: what changed and why", db=db)
    after_revisions = file_bytes(db)
    with open_store(db) as store:
        for run in range(RUNS):
            draft = RunDraft(f"closed loop c={8 * (run + 1)}", "vllm bench serve", {"concurrency": 8 * (run + 1)},
                             run_records(run))  # fmt: skip
            measured.add_run(store, "Bench", draft)
    after_runs = file_bytes(db)
    return (after_revisions - empty) / REVISIONS, (after_runs - after_revisions) / RUNS


def open_project(db: Path) -> None:
    """What opening a project costs: its lists, and its head revision in full with the plan read back."""
    workflows.show_project("Bench", db)
    workflows.open_revision("Bench", "head", db)


def fresh_process_ms(*args: str) -> float:
    """Median wall time of ``planner ARGS`` in a new process (start-up included), in ms."""
    command = [sys.executable, "-m", "planner", *args]
    return statistics.median(timed_ms(lambda: subprocess.run(command, capture_output=True, check=True), 5))


def main() -> None:
    """Build the project and print the figures."""
    session = workflows.open_session()
    report = workflows.plan(session, workflows.read_plan(workflows.example_plan_path()), "demo", backend="builtin")
    folder = Path(tempfile.mkdtemp(prefix="planner-store-bench-"))
    db = folder / "bench.db"
    per_revision, per_run = build(session, report, db)
    print(f"project: {REVISIONS} revisions (the demo plan's report), {RUNS} runs of {REQUESTS} requests")
    print(f"file size: {file_bytes(db) / 1e6:.1f} MB; {per_revision / 1024:.1f} KiB per revision, "
          f"{per_run / 1024:.1f} KiB per run of {REQUESTS} requests")  # fmt: skip
    report_line(
        "save one revision", timed_ms(lambda: workflows.save_revision(session, report, "Bench", "x", db=db), 30)
    )
    with open_store(db) as store:
        catalog = catalog_versions(session)
        whole = report.to_json()
        findings, plan = whole.pop("findings"), whole.pop("plan")
        store_only = timed_ms(
            lambda: stored.add_revision(store, "Bench", RevisionDraft(plan, whole, findings, "builtin", catalog, "x")),
            30,
        )
    report_line("  of which the store's write", store_only)
    report_line("open the project", timed_ms(lambda: open_project(db), 10))
    report_line("history", timed_ms(lambda: workflows.history("Bench", db), 10))
    report_line("diff of revisions 1 and 200", timed_ms(lambda: workflows.diff("Bench", "1", "200", db), 10))
    out = folder / "bench.planner.json"
    report_line("export", timed_ms(lambda: workflows.export_project("Bench", out, db), 3))
    print(f"{'':34s} {out.stat().st_size / 1e6:.1f} MB project file")
    report_line("import into a new database", timed_ms(lambda: workflows.import_project(out, db=folder / "b.db"), 1))
    report_line("import again (nothing new)", timed_ms(lambda: workflows.import_project(out, db=folder / "b.db"), 3))
    print("fresh processes (Python start-up and imports included):")
    for label, args in (("planner history", ("history", "Bench")), ("planner project list", ("project", "list")),
                        ("planner diff 1 200", ("diff", "Bench", "1", "200"))):  # fmt: skip
        print(f"  {label:32s} median {fresh_process_ms(*args, '--db', str(db)):8.1f} ms")


if __name__ == "__main__":
    main()
