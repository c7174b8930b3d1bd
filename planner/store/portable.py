"""Project files: one self-contained JSON file per project, for another (air-gapped) laptop.

The file holds the project, every revision with its findings, every run with its records,
the baselines and the decisions, plus ``format``, ``schema_version`` and a SHA-256
``checksum`` over everything else. Importing checks, in this order, that the file is a
project file, that its schema is one this planner reads, that the checksum matches and that
every item still hashes to its digest; only then does it write, in one transaction. Items
are matched by digest, so importing the same file twice adds nothing the second time, and
importing a colleague's longer copy of a project adds only what is new.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import InputError, Problem, StoreCorruptError, StoreError, StoreVersionError
from planner.inputfiles import MAX_PROJECT_FILE_BYTES, parse_json
from planner.store.content import RevisionDraft, canonical_json, current_user, digest_of, inputs_of, now_utc
from planner.store.projects import checked_name, insert_revision, next_number, project_id, set_inputs
from planner.store.runs import (
    Baseline,
    Decision,
    RunDraft,
    baseline_digest,
    insert_baseline,
    insert_decision,
    insert_run,
)

if TYPE_CHECKING:
    from planner.store.database import Database, ProjectStore


#: What ``format`` says in every project file.
FORMAT = "planner-project"
#: The version of the project file layout this planner writes and reads.
FILE_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class FileRevision(_Strict):
    """A revision in a project file."""

    number: int = Field(ge=1)
    digest: str
    parent: str | None
    message: str
    author: str
    created_at: str
    backend: str
    catalog: dict[str, Any]
    plan: dict[str, Any]
    result: dict[str, Any]
    findings: list[dict[str, Any]]

    def draft(self) -> RevisionDraft:
        """The revision as the store takes it."""
        return RevisionDraft(
            self.plan,
            self.result,
            self.findings,
            self.backend,
            self.catalog,
            self.message,
            self.author,
            self.created_at,
        )


class FileRun(_Strict):
    """A benchmark run in a project file."""

    number: int = Field(ge=1)
    digest: str
    name: str
    source: str
    revision: str | None
    author: str
    created_at: str
    metadata: dict[str, Any]
    records: list[dict[str, Any]]

    def draft(self) -> RunDraft:
        """The run as the store takes it."""
        return RunDraft(
            self.name, self.source, self.metadata, self.records, self.revision, self.author, self.created_at
        )


class FileBaseline(_Strict):
    """A baseline in a project file."""

    digest: str
    runs: list[str]
    note: str
    author: str
    created_at: str


class FileDecision(_Strict):
    """A scaling decision in a project file."""

    digest: str
    decision: str
    rationale: str
    details: dict[str, Any]
    revision: str | None
    author: str
    created_at: str


class FileProject(_Strict):
    """The project and everything it holds."""

    uid: str = Field(min_length=1)
    name: str
    notes: str
    inputs: dict[str, Any] | None
    created_at: str
    created_by: str
    revisions: list[FileRevision]
    runs: list[FileRun]
    baselines: list[FileBaseline]
    decisions: list[FileDecision]


class ProjectFile(_Strict):
    """A whole project file."""

    format: Literal["planner-project"]
    schema_version: int
    planner_version: str
    exported_at: str
    exported_by: str
    checksum: str
    project: FileProject


@dataclass(frozen=True)
class Exported:
    """What an export wrote."""

    name: str
    path: Path
    revisions: int
    runs: int
    checksum: str
    size_bytes: int


def export_project(store: ProjectStore, name: str, path: Path) -> Exported:
    """Write the project to ``path`` as one project file (atomically: a complete file or none)."""
    document = export_document(store, name)
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    _write_atomically(path, text)
    project = document["project"]
    size = path.stat().st_size
    return Exported(name, path, len(project["revisions"]), len(project["runs"]), document["checksum"], size)


def export_document(store: ProjectStore, name: str) -> dict[str, Any]:
    """The project file's content as a mapping, checksum included."""
    from planner import __version__

    with store.reading() as db:
        pid = project_id(store, db, name)
        project = _project_content(db, pid)
    document: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": FILE_SCHEMA_VERSION,
        "planner_version": __version__,
        "exported_at": now_utc(),
        "exported_by": current_user(),
        "project": project,
    }
    document["checksum"] = checksum_of(document)
    return document


def checksum_of(document: dict[str, Any]) -> str:
    """``sha256:`` and the SHA-256 of the document's canonical JSON, its ``checksum`` left out."""
    return "sha256:" + digest_of({key: value for key, value in document.items() if key != "checksum"})


def _project_content(db: Database, pid: int) -> dict[str, Any]:
    uid, name, notes, inputs, created_at, created_by = db.execute(
        "SELECT uid, name, notes, inputs_json, created_at, created_by FROM projects WHERE id = ?", [pid]
    ).fetchone()
    return {
        "uid": uid,
        "name": name,
        "notes": notes,
        "inputs": None if inputs is None else json.loads(inputs),
        "created_at": created_at,
        "created_by": created_by,
        "revisions": _revisions(db, pid),
        "runs": _runs(db, pid),
        "baselines": _baselines(db, pid),
        "decisions": _decisions(db, pid),
    }


def _revisions(db: Database, pid: int) -> list[dict[str, Any]]:
    findings: dict[int, list[Any]] = {}
    for revision_id, text in db.execute(
        "SELECT f.revision_id, f.finding_json FROM findings f JOIN revisions r ON r.id = f.revision_id "
        "WHERE r.project_id = ? ORDER BY f.revision_id, f.position",
        [pid],
    ).fetchall():
        findings.setdefault(revision_id, []).append(json.loads(text))
    rows = db.execute(
        "SELECT id, number, digest, parent_digest, message, author, created_at, backend, catalog_json, plan_json, "
        "result_json FROM revisions WHERE project_id = ? ORDER BY number",
        [pid],
    ).fetchall()
    return [
        {
            "number": r[1],
            "digest": r[2],
            "parent": r[3],
            "message": r[4],
            "author": r[5],
            "created_at": r[6],
            "backend": r[7],
            "catalog": json.loads(r[8]),
            "plan": json.loads(r[9]),
            "result": json.loads(r[10]),
            "findings": findings.get(r[0], []),
        }
        for r in rows
    ]


def _runs(db: Database, pid: int) -> list[dict[str, Any]]:
    records: dict[int, list[Any]] = {}
    for run_id, text in db.execute(
        "SELECT rr.run_id, rr.record_json FROM run_records rr JOIN runs r ON r.id = rr.run_id "
        "WHERE r.project_id = ? ORDER BY rr.run_id, rr.seq",
        [pid],
    ).fetchall():
        records.setdefault(run_id, []).append(json.loads(text))
    rows = db.execute(
        "SELECT id, number, digest, name, source, revision_digest, author, created_at, metadata_json "
        "FROM runs WHERE project_id = ? ORDER BY number",
        [pid],
    ).fetchall()
    keys = ("number", "digest", "name", "source", "revision", "author", "created_at")
    return [{**dict(zip(keys, r[1:8], strict=True)), "metadata": json.loads(r[8]), "records": records.get(r[0], [])}
            for r in rows]  # fmt: skip


def _baselines(db: Database, pid: int) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT digest, run_digests_json, note, author, created_at FROM baselines WHERE project_id = ? ORDER BY id",
        [pid],
    ).fetchall()
    return [{"digest": r[0], "runs": json.loads(r[1]), "note": r[2], "author": r[3], "created_at": r[4]} for r in rows]


def _decisions(db: Database, pid: int) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT digest, decision, rationale, details_json, revision_digest, author, created_at FROM decisions "
        "WHERE project_id = ? ORDER BY id",
        [pid],
    ).fetchall()
    keys = ("digest", "decision", "rationale", "details", "revision", "author", "created_at")
    return [dict(zip(keys, (*r[:3], json.loads(r[3]), *r[4:]), strict=True)) for r in rows]


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a user-only temporary file renamed over it when complete."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StoreError(
            f"cannot write here: {exc.strerror}", path=str(path), fix="choose a folder you can write"
        ) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# ----------------------------------------------------------------------------- import


def read_project_file(path: Path) -> ProjectFile:
    """Read and check a project file: a project file, a schema this planner reads, a matching
    checksum, a valid layout. Nothing is written.

    :raises StoreCorruptError: a foreign or damaged file, or a checksum that does not match.
    :raises StoreVersionError: a file from a newer planner (both versions named).
    :raises InputError: a field of the wrong type, with its place.
    """
    document = _json_document(path)
    if document.get("format") != FORMAT:
        raise _foreign(path, f"it has no `format: {FORMAT}`")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _foreign(path, f"its schema_version is {version!r}, not a whole number from 1")
    if version > FILE_SCHEMA_VERSION:
        raise StoreVersionError(
            f"the project file has schema version {version}, newer than this planner reads (up to "
            f"{FILE_SCHEMA_VERSION})",
            path=str(path),
            fix="upgrade the planner on this machine to the sender's version or later; nothing was imported",
        )
    expected, actual = document.get("checksum"), checksum_of(document)
    if expected != actual:
        raise StoreCorruptError(
            f"the checksum does not match: the file says {expected}, its content hashes to {actual}, "
            "so it was changed or damaged after export",
            path=str(path),
            fix="ask the sender for a fresh `planner project export`; nothing was imported",
        )
    try:
        return ProjectFile.model_validate(document)
    except ValidationError as exc:
        problems = [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        raise InputError(str(path), problems) from None


def _json_document(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PROJECT_FILE_BYTES + 1)
    except OSError as exc:
        raise StoreError(f"cannot read the file: {exc.strerror}", path=str(path), fix="check the path") from exc
    if len(data) > MAX_PROJECT_FILE_BYTES:
        raise _foreign(path, f"it is larger than {MAX_PROJECT_FILE_BYTES // 2**20} MiB, more than any project export")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _foreign(path, "it is not UTF-8 text (a SQLite database is opened with --db, not imported)") from None
    try:
        document = parse_json(text, str(path))
    except InputError as exc:
        problem = exc.problems[0]
        raise _foreign(path, f"it is not JSON a planner wrote ({problem.what}, {problem.where or 'line 1'})") from None
    if not isinstance(document, dict):
        raise _foreign(path, "it does not hold a JSON object")
    return document


def _foreign(path: Path, why: str) -> StoreCorruptError:
    return StoreCorruptError(
        f"is not a planner project file: {why}",
        path=str(path),
        fix="import a file written by `planner project export`; nothing was imported",
    )


@dataclass(frozen=True)
class Imported:
    """What an import added to the database, and what it already had."""

    name: str
    created: bool
    revisions_added: int
    revisions_present: int
    runs_added: int
    runs_present: int
    baselines_added: int
    decisions_added: int


def import_project(store: ProjectStore, file: ProjectFile, source: Path, *, rename_to: str | None = None) -> Imported:
    """Add a project file's project (read by :func:`read_project_file` from ``source``) to the
    database, or what is new in it to the same project.

    The project is the same when its ``uid`` is (an earlier import or export of it); then
    ``rename_to`` is not needed and the local name stays. A new project whose name is taken
    by another one needs ``rename_to``. All of it is written in one transaction, or nothing.
    """
    _check_digests(source, file.project)
    with store.writing() as db:
        pid, name, created = _target(store, db, file.project, rename_to)
        revisions, runs = file.project.revisions, file.project.runs
        added = _merge(
            db, pid, "revisions", revisions, lambda n, r: insert_revision(db, pid, n, r.digest, r.parent, r.draft())
        )
        runs_added = _merge(db, pid, "runs", runs, lambda n, r: insert_run(db, pid, n, r.digest, r.draft()))
        baselines_added = sum(_merge_baseline(db, pid, b) for b in file.project.baselines)
        decisions_added = sum(insert_decision(db, pid, _decision(d)) for d in file.project.decisions)
        if added:
            head = db.execute(
                "SELECT plan_json FROM revisions WHERE project_id = ? ORDER BY number DESC LIMIT 1", [pid]
            )
            set_inputs(db, pid, inputs_of(json.loads(head.fetchone()[0])))
    present = len(revisions) - added
    return Imported(name, created, added, present, runs_added, len(runs) - runs_added, baselines_added, decisions_added)


def _check_digests(path: Path, project: FileProject) -> None:
    """Refuse the file when any item no longer hashes to its digest."""
    wrong = [f"revision {r.number}" for r in project.revisions if digest_of(r.draft().content(r.parent)) != r.digest]
    wrong += [f"run {r.number}" for r in project.runs if digest_of(r.draft().content()) != r.digest]
    wrong += [
        f"baseline of {b.created_at}"
        for b in project.baselines
        if baseline_digest(b.runs, b.note, b.author, b.created_at) != b.digest
    ]
    wrong += [f"decision of {d.created_at}" for d in project.decisions if _decision(d).digest != d.digest]
    if wrong:
        raise StoreCorruptError(
            f"{', '.join(wrong)} do not match their digests",
            path=str(path),
            fix="ask the sender for a fresh `planner project export`; nothing was imported",
        )


def _target(store: ProjectStore, db: Database, project: FileProject, rename_to: str | None) -> tuple[int, str, bool]:
    """The project to import into: the same one (by uid), or a new one."""
    row = db.execute("SELECT id, name FROM projects WHERE uid = ?", [project.uid]).fetchone()
    if row:
        return int(row[0]), str(row[1]), False
    name = checked_name(rename_to or project.name)
    if db.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone():
        raise StoreError(
            f"another project is already called {name!r}",
            path=str(store.path),
            fix="import it under another name with --as NAME; nothing was imported",
        )
    db.execute(
        "INSERT INTO projects (uid, name, notes, inputs_json, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
        [
            project.uid,
            name,
            project.notes,
            None if project.inputs is None else canonical_json(project.inputs),
            project.created_at,
            project.created_by,
        ],
    )
    return project_id(store, db, name), name, True


def _merge(db: Database, pid: int, table: str, items: list[Any], insert: Callable[[int, Any], object]) -> int:
    """Add the ``revisions`` or ``runs`` the project lacks (by digest); each keeps its number
    when that is free here, else takes the next. Returns how many were added."""
    have = {r[0] for r in db.execute(f"SELECT digest FROM {table} WHERE project_id = ?", [pid]).fetchall()}
    taken = {r[0] for r in db.execute(f"SELECT number FROM {table} WHERE project_id = ?", [pid]).fetchall()}
    added = 0
    for item in sorted(items, key=lambda i: int(i.number)):
        if item.digest in have:
            continue
        number = item.number if item.number not in taken else next_number(db, table, pid)
        insert(number, item)
        have.add(item.digest)
        taken.add(number)
        added += 1
    return added


def _merge_baseline(db: Database, pid: int, baseline: FileBaseline) -> bool:
    if db.execute("SELECT 1 FROM baselines WHERE project_id = ? AND digest = ?", [pid, baseline.digest]).fetchone():
        return False
    made = Baseline(baseline.digest, baseline.runs, baseline.note, baseline.author, baseline.created_at)
    insert_baseline(db, pid, made)
    return True


def _decision(d: FileDecision) -> Decision:
    return Decision(d.decision, d.rationale, d.details, d.revision, d.author, d.created_at)
