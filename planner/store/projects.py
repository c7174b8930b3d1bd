"""Projects and their chains of plan revisions in the store.

Revisions are never changed once written: saving creates the next one, numbered 1, 2, ...
within its project, pointing at the one before it (its parent's digest). All SQL takes
its values as parameters, never as text pasted into the statement.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.errors import PlannerError, StoreError
from planner.store.content import (
    Revision,
    RevisionDraft,
    RevisionSummary,
    canonical_json,
    current_user,
    digest_of,
    inputs_of,
    now_utc,
    summary_figures,
)

if TYPE_CHECKING:
    from planner.store.database import Database, ProjectStore


#: Longest project name accepted (a name is a label, not a note).
MAX_NAME_CHARS = 200
#: The shortest digest prefix accepted as a revision reference (numbers are shorter).
MIN_DIGEST_PREFIX = 7

_SUMMARY_COLUMNS = (
    "number, digest, parent_digest, message, author, created_at, backend, "
    "deployment, gpu, replicas, eur_per_1m_tokens, errors, warnings"
)


@dataclass(frozen=True)
class Project:
    """A project: who made it, its steps 1-4 inputs, and how much it holds."""

    uid: str
    name: str
    notes: str
    inputs: dict[str, Any] | None
    created_at: str
    created_by: str
    revisions: int
    runs: int
    head: RevisionSummary | None

    def to_json(self) -> dict[str, Any]:
        """Every field; the head revision as its summary."""
        return {**self.__dict__, "head": self.head.to_json() if self.head else None}


def checked_name(name: str) -> str:
    """``name`` without surrounding spaces, refused when empty, too long or holding control characters.

    Any other text is a fine name (quotes, semicolons, ``=`` ...): it is stored and shown as text.
    """
    cleaned = name.strip()
    problem = ""
    if not cleaned:
        problem = "a project name cannot be empty"
    elif len(cleaned) > MAX_NAME_CHARS:
        problem = f"a project name has at most {MAX_NAME_CHARS} characters (this one has {len(cleaned)})"
    elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in cleaned):
        problem = "a project name cannot hold control characters (line breaks, tabs, escapes)"
    if problem:
        raise PlannerError(problem, path="project name", fix="give a short name on one line, e.g. 'Bank assistant'")
    return cleaned


def create_project(
    store: ProjectStore,
    name: str,
    *,
    notes: str = "",
    inputs: dict[str, Any] | None = None,
    uid: str | None = None,
    created_by: str | None = None,
    created_at: str | None = None,
) -> Project:
    """Create an empty project (optionally with its steps 1-4 ``inputs``).

    :raises StoreError: when the database already has a project of that name.
    """
    name = checked_name(name)
    with store.writing() as db:
        _refuse_taken(store, db, name)
        db.execute(
            "INSERT INTO projects (uid, name, notes, inputs_json, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
            [
                uid or uuid.uuid4().hex,
                name,
                notes,
                None if inputs is None else canonical_json(inputs),
                created_at or now_utc(),
                created_by or current_user(),
            ],
        )
        return _project(db, project_id(store, db, name))


def _refuse_taken(store: ProjectStore, db: Database, name: str) -> None:
    if db.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone():
        raise StoreError(
            f"a project named {name!r} already exists",
            path=str(store.path),
            fix="choose another name (`planner project list` shows the names taken)",
        )


def project_id(store: ProjectStore, db: Database, name: str) -> int:
    """The row id of the project called ``name``.

    :raises StoreError: naming close matches when there is none.
    """
    row = db.execute("SELECT id FROM projects WHERE name = ?", [name]).fetchone()
    if row:
        return int(row[0])
    names = [r[0] for r in db.execute("SELECT name FROM projects ORDER BY name").fetchall()]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"did you mean {', '.join(repr(n) for n in close)}? " if close else ""
    raise StoreError(
        f"no project named {name!r}",
        path=str(store.path),
        fix=f"{hint}`planner project list` shows the projects; `planner project new NAME` creates one",
    )


def project(store: ProjectStore, name: str) -> Project:
    """The project called ``name`` with its counts and head revision."""
    with store.reading() as db:
        return _project(db, project_id(store, db, name))


def projects(store: ProjectStore) -> list[Project]:
    """Every project in the database, by name."""
    with store.reading() as db:
        ids = [int(r[0]) for r in db.execute("SELECT id FROM projects ORDER BY name").fetchall()]
        return [_project(db, pid) for pid in ids]


def _project(db: Database, pid: int) -> Project:
    row = db.execute(
        "SELECT uid, name, notes, inputs_json, created_at, created_by, "
        "(SELECT count(*) FROM revisions WHERE project_id = p.id), "
        "(SELECT count(*) FROM runs WHERE project_id = p.id) FROM projects p WHERE id = ?",
        [pid],
    ).fetchone()
    head = _head(db, pid)
    inputs = None if row[3] is None else json.loads(row[3])
    return Project(row[0], row[1], row[2], inputs, row[4], row[5], int(row[6]), int(row[7]), head)


def _head(db: Database, pid: int) -> RevisionSummary | None:
    row = db.execute(
        f"SELECT {_SUMMARY_COLUMNS} FROM revisions WHERE project_id = ? ORDER BY number DESC LIMIT 1", [pid]
    ).fetchone()
    return _summary(row) if row else None


def _summary(row: Any) -> RevisionSummary:
    return RevisionSummary(*row)


def rename_project(store: ProjectStore, name: str, new_name: str) -> Project:
    """Give a project another name (its revisions and runs stay with it)."""
    new_name = checked_name(new_name)
    with store.writing() as db:
        pid = project_id(store, db, name)
        if new_name != name:
            _refuse_taken(store, db, new_name)
        db.execute("UPDATE projects SET name = ? WHERE id = ?", [new_name, pid])
        return _project(db, pid)


def delete_project(store: ProjectStore, name: str) -> Project:
    """Delete a project with everything it holds, in one transaction; returns what was deleted.

    Revisions, findings, runs and their records, baselines and decisions go with it (foreign
    keys ``ON DELETE CASCADE``): if anything fails, nothing is deleted.
    """
    with store.writing() as db:
        pid = project_id(store, db, name)
        gone = _project(db, pid)
        db.execute("DELETE FROM projects WHERE id = ?", [pid])
        return gone


def set_inputs(db: Database, pid: int, inputs: dict[str, Any]) -> None:
    """Record steps 1-4 as the project's current inputs."""
    db.execute("UPDATE projects SET inputs_json = ? WHERE id = ?", [canonical_json(inputs), pid])


def add_revision(store: ProjectStore, name: str, draft: RevisionDraft) -> RevisionSummary:
    """Append a revision to the project's chain (its parent: the latest revision) and make
    the plan's steps 1-4 the project's inputs. Nothing existing is changed."""
    with store.writing() as db:
        pid = project_id(store, db, name)
        head = _head(db, pid)
        parent = head.digest if head else None
        number = head.number + 1 if head else 1
        summary = insert_revision(db, pid, number, digest_of(draft.content(parent)), parent, draft)
        set_inputs(db, pid, inputs_of(draft.plan))
        return summary


def insert_revision(
    db: Database, pid: int, number: int, digest: str, parent: str | None, draft: RevisionDraft
) -> RevisionSummary:
    """Write one revision and its findings (the caller holds the transaction)."""
    figures = summary_figures(draft.result, draft.findings)
    cursor = db.execute(
        "INSERT INTO revisions (project_id, number, digest, parent_digest, message, author, created_at, backend, "
        "catalog_json, plan_json, result_json, deployment, gpu, replicas, eur_per_1m_tokens, errors, warnings) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pid,
            number,
            digest,
            parent,
            draft.message,
            draft.author,
            draft.created_at,
            draft.backend,
            canonical_json(draft.catalog),
            canonical_json(draft.plan),
            canonical_json(draft.result),
            *(figures[key] for key in ("deployment", "gpu", "replicas", "eur_per_1m_tokens", "errors", "warnings")),
        ],
    )
    db.conn.executemany(
        "INSERT INTO findings (revision_id, position, rule_id, severity, finding_json) VALUES (?, ?, ?, ?, ?)",
        [
            (cursor.lastrowid, i, str(f.get("rule_id", "")), str(f.get("severity", "")), canonical_json(f))
            for i, f in enumerate(draft.findings)
        ],
    )
    return RevisionSummary(number, digest, parent, draft.message, draft.author, draft.created_at, draft.backend,
                           **figures)  # fmt: skip


def next_number(db: Database, table: str, pid: int) -> int:
    """The next number in a project's ``revisions`` or ``runs`` (the caller holds the write lock)."""
    row = db.execute(f"SELECT coalesce(max(number), 0) + 1 FROM {table} WHERE project_id = ?", [pid]).fetchone()
    return int(row[0])


def revision_summaries(store: ProjectStore, name: str) -> list[RevisionSummary]:
    """Every revision of the project, oldest first, without their JSON."""
    with store.reading() as db:
        pid = project_id(store, db, name)
        rows = db.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM revisions WHERE project_id = ? ORDER BY number", [pid]
        ).fetchall()
        return [_summary(row) for row in rows]


def load_revision(store: ProjectStore, name: str, ref: str | int) -> Revision:
    """One revision in full: ``ref`` is its number, ``head`` (the latest) or a digest prefix.

    :raises StoreError: naming the revisions there are when ``ref`` matches none.
    """
    with store.reading() as db:
        pid = project_id(store, db, name)
        row = _find_revision(store, db, pid, name, str(ref).strip())
        findings = [
            json.loads(text)
            for (text,) in db.execute(
                "SELECT finding_json FROM findings WHERE revision_id = ? ORDER BY position", [row[0]]
            ).fetchall()
        ]
        summary = _summary(row[5:])
        return Revision(summary, json.loads(row[2]), json.loads(row[3]), findings, json.loads(row[4]))


def _find_revision(store: ProjectStore, db: Database, pid: int, name: str, ref: str) -> Any:
    columns = f"id, project_id, plan_json, result_json, catalog_json, {_SUMMARY_COLUMNS}"
    rows: list[Any] = []
    if ref.lower() == "head":
        rows = db.execute(
            f"SELECT {columns} FROM revisions WHERE project_id = ? ORDER BY number DESC LIMIT 1", [pid]
        ).fetchall()
    elif ref.isdigit() and len(ref) < MIN_DIGEST_PREFIX:
        by_number = f"SELECT {columns} FROM revisions WHERE project_id = ? AND number = ?"
        rows = db.execute(by_number, [pid, int(ref)]).fetchall()
    elif len(ref) >= MIN_DIGEST_PREFIX and all(ch in "0123456789abcdef" for ch in ref.lower()):
        rows = db.execute(
            f"SELECT {columns} FROM revisions WHERE project_id = ? AND substr(digest, 1, ?) = ?",
            [pid, len(ref), ref.lower()],
        ).fetchall()
    if len(rows) == 1:
        return rows[0]
    count = db.execute("SELECT count(*) FROM revisions WHERE project_id = ?", [pid]).fetchone()[0]
    what = "matches several revisions" if rows else "matches no revision"
    have = f"it has revisions 1 to {count}" if count else "it has no revisions yet (`planner plan PLAN --save`)"
    raise StoreError(
        f"{ref!r} {what} of project {name!r}",
        path=str(store.path),
        fix=f"give a revision number, `head`, or at least {MIN_DIGEST_PREFIX} characters of its digest; {have}",
    )
