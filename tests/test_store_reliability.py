"""The store under the failures that happen on a laptop: a writer killed mid-save (SIGKILL,
no chance to clean up) and two programs (the desktop app and the command line) writing the
same file at once. Each writer is a real process (``tests/store_writer.py``)."""

from __future__ import annotations

import itertools
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from planner.store import projects as stored
from planner.store import runs as measured
from planner.store.database import open_store
from tests.conftest import REPO
from tests.test_store import draft_of

WRITER = REPO / "tests" / "store_writer.py"
#: Kills that must land inside a save (a transaction begun, not committed): each is a fresh writer
#: process (about a second), and 25 random points over both transactions already cover their steps.
KILLS = 25


def _database(tmp_path: Path, report_json: dict[str, Any]) -> tuple[Path, Path]:
    """A database whose project 'P' has three revisions, and the report file writers save."""
    db, report = tmp_path / "p.db", tmp_path / "report.json"
    report.write_text(json.dumps(report_json), encoding="utf-8")
    with open_store(db, create=True) as store:
        stored.create_project(store, "P")
        for i in range(3):
            stored.add_revision(store, "P", draft_of(report_json, f"before {i}"))
    return db, report


def _check(db: Path, revisions: set[str], runs: set[str]) -> tuple[int, int]:
    """integrity_check is ok, every committed revision and run is there, whole and loadable;
    returns how many revisions and runs the file holds."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        half = conn.execute(
            "SELECT count(*) FROM runs r WHERE record_count != (SELECT count(*) FROM run_records WHERE run_id = r.id)"
        ).fetchone()[0]
        assert half == 0, "a run without all its records"
    finally:
        conn.close()
    with open_store(db) as store:
        summaries = stored.revision_summaries(store, "P")
        assert {s.digest for s in summaries} >= revisions
        assert [s.number for s in summaries] == list(range(1, len(summaries) + 1))
        for summary in summaries:
            assert stored.load_revision(store, "P", summary.number).intact, summary.number
        held_runs = measured.run_summaries(store, "P")
        assert {r.digest for r in held_runs} >= runs
        for run in held_runs:
            assert measured.load_run(store, "P", run.number).intact
    return len(summaries), len(held_runs)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_writer_killed_mid_save_loses_nothing_committed(tmp_path: Path, report_json: dict[str, Any]) -> None:
    db, report = _database(tmp_path, report_json)
    with open_store(db) as store:
        revisions = {s.digest for s in stored.revision_summaries(store, "P")}
    rng = random.Random(15)
    lines, spans = _write(db, report, None)  # one whole save: how long each transaction takes here
    revisions |= {word for kind, word in itertools.pairwise(lines) if kind == "revision"}
    runs = {word for kind, word in itertools.pairwise(lines) if kind == "run"}
    mid_save = attempts = 0
    while mid_save < KILLS and attempts < 10 * KILLS:
        attempts += 1
        target = rng.randrange(2)  # the revision's transaction or the run's
        lines, _ = _write(db, report, (target, rng.uniform(0.0, spans[target])))
        revisions |= {word for kind, word in itertools.pairwise(lines) if kind == "revision"}
        runs |= {word for kind, word in itertools.pairwise(lines) if kind == "run"}
        landed = bool(lines) and lines[-1] == "BEGIN"
        mid_save += landed
        # A busy machine (the suite on every core) changes how long a save takes: a kill that
        # came after the commit shortens the next delays, one that landed lets them grow back.
        spans[target] *= 1.05 if landed else 0.7
        _check(db, revisions, runs)
    assert mid_save == KILLS, f"only {mid_save} of {attempts} kills landed inside a write transaction"
    assert len(revisions) > 4, "revisions committed before a kill in the run's transaction survived it"


def _write(db: Path, report: Path, kill: tuple[int, float] | None) -> tuple[list[str], list[float]]:
    """Run the big writer; with ``kill=(n, s)``, SIGKILL it ``s`` seconds after its ``n``-th
    transaction began. Returns the words it printed and how long each committed transaction took."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), "big", str(db), str(report)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    words: list[str] = []
    began: list[float] = []
    spans: list[float] = []
    for line in writer.stdout:
        words += line.split()
        if line.strip() == "BEGIN":
            began.append(time.perf_counter())
            if kill is not None and len(began) == kill[0] + 1:
                time.sleep(kill[1])
                writer.send_signal(signal.SIGKILL)
                words += writer.stdout.read().split()
                break
        elif line.strip() == "COMMIT":
            spans.append(time.perf_counter() - began[-1])
    writer.wait()
    assert writer.returncode in (0, -signal.SIGKILL)
    return words, spans


def test_two_processes_saving_100_revisions_each_lose_nothing(tmp_path: Path, report_json: dict[str, Any]) -> None:
    db, report = _database(tmp_path, report_json)
    writers = [
        subprocess.Popen([sys.executable, str(WRITER), "many", str(db), str(report), "100", tag],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("gui", "cli")
    ]  # fmt: skip
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0 and out.strip() == "done", err
    count, _ = _check(db, set(), set())
    assert count == 203
    with open_store(db) as store:
        summaries = stored.revision_summaries(store, "P")
    messages = [s.message for s in summaries[3:]]
    assert sorted(messages) == sorted(f"{tag} {i}" for tag in ("gui", "cli") for i in range(100))
    for before, after in itertools.pairwise(summaries):
        assert after.parent == before.digest, "one unbroken chain, each revision on the one before"
    assert [m for m in messages if m.startswith("gui")] == [f"gui {i}" for i in range(100)]
