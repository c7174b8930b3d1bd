"""Benchmark runs with their per-request records, the baseline, and scaling decisions (steps 10-11).

The store keeps a run generically: a name, where it came from, a metadata mapping and a list
of per-request records, each a JSON mapping. What goes in them (load mode and level, TTFT,
ITL, E2E, tokens, errors) is the run model of the benchmark import (issue 17), which builds
on these functions. Like revisions, runs, baselines and decisions are addressed by their
content: adding the same one twice keeps one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planner.errors import PlannerError, StoreError
from planner.store.content import canonical_json, current_user, digest_of, now_utc
from planner.store.projects import MIN_DIGEST_PREFIX, next_number, project_id

if TYPE_CHECKING:
    from planner.store.database import Database, ProjectStore


@dataclass(frozen=True)
class RunDraft:
    """A benchmark run, imported or measured, as the caller hands it to the store.

    :param source: where it came from (a file name, a tool and its version).
    :param metadata: what the run says of itself (load, model, hardware, server config, summary figures).
    :param records: one mapping per request, in the order they were sent.
    :param revision: the digest of the plan revision it measured, when known.
    """

    name: str
    source: str
    metadata: dict[str, Any]
    records: list[dict[str, Any]]
    revision: str | None = None
    author: str = field(default_factory=current_user)
    created_at: str = field(default_factory=now_utc)

    def content(self) -> dict[str, Any]:
        """Everything the digest covers."""
        return {
            "name": self.name,
            "source": self.source,
            "metadata": self.metadata,
            "records": self.records,
            "revision": self.revision,
            "author": self.author,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class RunSummary:
    """A stored run without its records."""

    number: int
    digest: str
    name: str
    source: str
    revision: str | None
    author: str
    created_at: str
    records: int
    metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Every field, by name (``records`` is the count)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Run:
    """A stored run with its per-request records."""

    summary: RunSummary
    records: list[dict[str, Any]]

    @property
    def intact(self) -> bool:
        """True when the stored content still hashes to the run's digest."""
        s = self.summary
        draft = RunDraft(s.name, s.source, s.metadata, self.records, s.revision, s.author, s.created_at)
        return digest_of(draft.content()) == s.digest


_RUN_COLUMNS = "number, digest, name, source, revision_digest, author, created_at, record_count, metadata_json"


def add_run(store: ProjectStore, name: str, draft: RunDraft) -> tuple[RunSummary, bool]:
    """Store a run and its records in one transaction; ``(the run, False)`` when it was there already."""
    return add_runs(store, name, [draft])[0]


def add_runs(store: ProjectStore, name: str, drafts: Sequence[RunDraft]) -> list[tuple[RunSummary, bool]]:
    """Store several runs with their records in one transaction: all of them, or none when one fails.

    :returns: per run, ``(the run, True)`` when added, ``(the stored run, False)`` when it was there already.
    """
    for draft in drafts:
        if not draft.name.strip():
            raise PlannerError("a run needs a name", path="run", fix="name it after its load, e.g. 'closed loop c=64'")
    out = []
    with store.writing() as db:
        pid = project_id(store, db, name)
        for draft in drafts:
            digest = digest_of(draft.content())
            query = f"SELECT {_RUN_COLUMNS} FROM runs WHERE project_id = ? AND digest = ?"
            row = db.execute(query, [pid, digest]).fetchone()
            if row:
                out.append((_run_summary(row), False))
            else:
                out.append((insert_run(db, pid, next_number(db, "runs", pid), digest, draft), True))
    return out


def insert_run(db: Database, pid: int, number: int, digest: str, draft: RunDraft) -> RunSummary:
    """Write one run and its records (the caller holds the transaction)."""
    cursor = db.execute(
        "INSERT INTO runs (project_id, number, digest, name, source, revision_digest, author, created_at, "
        "metadata_json, record_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pid,
            number,
            digest,
            draft.name,
            draft.source,
            draft.revision,
            draft.author,
            draft.created_at,
            canonical_json(draft.metadata),
            len(draft.records),
        ],
    )
    db.conn.executemany(
        "INSERT INTO run_records (run_id, seq, record_json) VALUES (?, ?, ?)",
        ((cursor.lastrowid, seq, canonical_json(record)) for seq, record in enumerate(draft.records)),
    )
    return RunSummary(
        number, digest, draft.name, draft.source, draft.revision, draft.author, draft.created_at,
        len(draft.records), draft.metadata,
    )  # fmt: skip


def _run_summary(row: Any) -> RunSummary:
    number, digest, name, source, revision, author, created_at, records, metadata = row
    return RunSummary(number, digest, name, source, revision, author, created_at, records, json.loads(metadata))


def run_summaries(store: ProjectStore, name: str) -> list[RunSummary]:
    """Every run of the project, in the order they were added, without records."""
    with store.reading() as db:
        pid = project_id(store, db, name)
        rows = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE project_id = ? ORDER BY number", [pid])
        return [_run_summary(row) for row in rows.fetchall()]


def load_run(store: ProjectStore, name: str, ref: str | int) -> Run:
    """One run with its records: ``ref`` is its number or a digest prefix."""
    with store.reading() as db:
        pid = project_id(store, db, name)
        run_id, summary = _find_run(store, db, pid, name, str(ref).strip())
        rows = db.execute("SELECT record_json FROM run_records WHERE run_id = ? ORDER BY seq", [run_id])
        return Run(summary, [json.loads(text) for (text,) in rows.fetchall()])


def _find_run(store: ProjectStore, db: Database, pid: int, name: str, ref: str) -> tuple[int, RunSummary]:
    value: list[Any]
    if ref.isdigit() and len(ref) < MIN_DIGEST_PREFIX:
        where, value = "number = ?", [int(ref)]
    else:
        # A prefix shorter than MIN_DIGEST_PREFIX would match by chance: it matches nothing.
        where, value = "length(?) >= ? AND substr(digest, 1, ?) = ?", [ref, MIN_DIGEST_PREFIX, len(ref), ref.lower()]
    rows = db.execute(f"SELECT id, {_RUN_COLUMNS} FROM runs WHERE project_id = ? AND {where}", [pid, *value])
    found = rows.fetchall()
    if len(found) == 1:
        return int(found[0][0]), _run_summary(found[0][1:])
    raise StoreError(
        f"{ref!r} matches {'several runs' if found else 'no run'} of project {name!r}",
        path=str(store.path),
        fix=f"give a run number or at least {MIN_DIGEST_PREFIX} characters of its digest",
    )


# ----------------------------------------------------------------- baseline (step 10)


@dataclass(frozen=True)
class Baseline:
    """The runs a project measures itself against, set at a time by someone, with a note."""

    digest: str
    runs: list[str]
    note: str
    author: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """Every field, by name (``runs`` are digests)."""
        return dict(self.__dict__)


def baseline_digest(runs: list[str], note: str, author: str, created_at: str) -> str:
    """The content address of a baseline."""
    return digest_of({"runs": runs, "note": note, "author": author, "created_at": created_at})


def set_baseline(store: ProjectStore, name: str, run_refs: Sequence[str | int], note: str = "") -> Baseline:
    """Make these runs the project's baseline; earlier baselines are kept as its history."""
    with store.writing() as db:
        pid = project_id(store, db, name)
        runs = [_find_run(store, db, pid, name, str(ref).strip())[1].digest for ref in run_refs]
        if not runs:
            raise PlannerError("a baseline needs at least one run", path="baseline", fix="name the runs it rests on")
        author, created_at = current_user(), now_utc()
        made = Baseline(baseline_digest(runs, note, author, created_at), runs, note, author, created_at)
        insert_baseline(db, pid, made)
        return made


def insert_baseline(db: Database, pid: int, made: Baseline) -> None:
    """Write one baseline (the caller holds the transaction)."""
    db.execute(
        "INSERT INTO baselines (project_id, digest, run_digests_json, note, author, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [pid, made.digest, canonical_json(made.runs), made.note, made.author, made.created_at],
    )


def baselines(store: ProjectStore, name: str) -> list[Baseline]:
    """Every baseline the project had, oldest first (the last is the current one)."""
    with store.reading() as db:
        pid = project_id(store, db, name)
        rows = db.execute(
            "SELECT digest, run_digests_json, note, author, created_at FROM baselines WHERE project_id = ? ORDER BY id",
            [pid],
        ).fetchall()
        return [Baseline(r[0], json.loads(r[1]), r[2], r[3], r[4]) for r in rows]


# ---------------------------------------------------------- scaling decisions (step 11)


@dataclass(frozen=True)
class Decision:
    """A scaling decision and why it was taken, optionally tied to the revision it acts on."""

    decision: str
    rationale: str
    details: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    author: str = field(default_factory=current_user)
    created_at: str = field(default_factory=now_utc)

    @property
    def digest(self) -> str:
        """The content address of the decision."""
        return digest_of(self.to_json())

    def to_json(self) -> dict[str, Any]:
        """Every field, by name."""
        return dict(self.__dict__)


def add_decision(store: ProjectStore, name: str, decision: Decision) -> tuple[Decision, bool]:
    """Record a decision with its rationale; ``(decision, False)`` when it was recorded already."""
    if not decision.decision.strip() or not decision.rationale.strip():
        raise PlannerError(
            "a decision needs what was decided and why", path="decision", fix="give both the decision and its rationale"
        )
    with store.writing() as db:
        return decision, insert_decision(db, project_id(store, db, name), decision)


def insert_decision(db: Database, pid: int, decision: Decision) -> bool:
    """Write one decision unless the project has it (the caller holds the transaction)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO decisions (project_id, digest, revision_digest, decision, rationale, details_json, "
        "author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pid,
            decision.digest,
            decision.revision,
            decision.decision,
            decision.rationale,
            canonical_json(decision.details),
            decision.author,
            decision.created_at,
        ],
    )
    return cursor.rowcount == 1


def decisions(store: ProjectStore, name: str) -> list[Decision]:
    """Every decision of the project, oldest first."""
    with store.reading() as db:
        pid = project_id(store, db, name)
        rows = db.execute(
            "SELECT decision, rationale, details_json, revision_digest, author, created_at FROM decisions "
            "WHERE project_id = ? ORDER BY id",
            [pid],
        ).fetchall()
        return [Decision(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]
