"""A separate process writing to a project database, for the reliability tests.

``python tests/store_writer.py big DB REPORT``: saves one large revision and one large run,
printing ``BEGIN`` and ``COMMIT`` as SQLite runs them and ``saved KIND DIGEST`` once a save
has returned (the test kills it at a random moment).
``python tests/store_writer.py many DB REPORT COUNT TAG``: saves COUNT revisions with the
messages ``TAG 0`` ... as fast as it can, next to another writer doing the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

from planner.store import RevisionDraft, RunDraft
from planner.store import projects as stored
from planner.store import runs as measured
from planner.store.database import open_store

PROJECT = "P"


def draft(report: dict[str, Any], message: str, padding: int = 0) -> RevisionDraft:
    """A revision from a report's JSON, with ``padding`` KB of extra result to make it large."""
    whole = dict(report)
    findings, plan = whole.pop("findings"), whole.pop("plan")
    result = {**whole, "padding": ["x" * 1000] * padding}
    return RevisionDraft(plan, result, findings, "builtin", {"writer": "store_writer"}, message)


def big(db: Path, report: dict[str, Any]) -> None:
    """One large revision (a third of a megabyte) and one large run (10,000 requests), then exit.

    Prints ``BEGIN`` when SQLite opens the write transaction and ``COMMIT`` when it commits
    (from SQLite's own trace), so the test knows whether its kill landed inside one.
    """
    with open_store(db) as store:
        store.db.conn.set_trace_callback(_print_transaction_edges)
        print("ready", flush=True)
        summary = stored.add_revision(store, PROJECT, draft(report, "big", padding=300))
        print(f"saved revision {summary.digest}", flush=True)
        records = [{"seq": i, "ttft_ms": 100.0 + i % 97, "itl_ms": 20.0 + i % 7} for i in range(10_000)]
        run, _ = measured.add_run(store, PROJECT, RunDraft(f"run {summary.digest[:8]}", "writer", {}, records))
        print(f"saved run {run.digest}", flush=True)


def _print_transaction_edges(statement: str) -> None:
    if statement.startswith(("BEGIN", "COMMIT")):
        print(statement.split()[0], flush=True)


def many(db: Path, report: dict[str, Any], count: int, tag: str) -> None:
    """``count`` small saves as fast as possible (another process does the same)."""
    with open_store(db) as store:
        for i in range(count):
            stored.add_revision(store, PROJECT, draft(report, f"{tag} {i}"))
    print("done", flush=True)


if __name__ == "__main__":
    mode, database, report_file = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    content = json.loads(report_file.read_text(encoding="utf-8"))
    if mode == "big":
        big(database, content)
    else:
        many(database, content, int(sys.argv[4]), sys.argv[5])
