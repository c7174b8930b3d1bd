"""The database schema as append-only migrations (sqlite-utils ``Migrations``).

Never edit a step that has shipped: add the next one. Each step records itself in
``_sqlite_migrations`` and sets ``PRAGMA user_version`` to its number (the schema version
that errors name). :func:`upgrade` runs the pending steps inside one ``BEGIN IMMEDIATE``
transaction, each step in its own savepoint, so two programs opening an old file at once
never both upgrade it, and a step that fails leaves the file exactly as it was.
``tests/data/store/schema-v1.db`` is a populated database of the first schema; a test
upgrades it.
"""

from __future__ import annotations

from planner.errors import PlannerError, StoreError
from planner.store.database import APPLICATION_ID, Database, Migrations, ProjectStore, migrations_of

MIGRATIONS = Migrations("planner")


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    """Projects, their revisions with findings, benchmark runs with per-request records,
    baselines and decisions; every child row goes with its project (ON DELETE CASCADE)."""
    for statement in _INITIAL:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")


_INITIAL = (
    """CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL UNIQUE,
        notes TEXT NOT NULL DEFAULT '',
        inputs_json TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    )""",
    """CREATE TABLE revisions (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        digest TEXT NOT NULL,
        parent_digest TEXT,
        message TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        backend TEXT NOT NULL,
        catalog_json TEXT NOT NULL,
        plan_json TEXT NOT NULL,
        result_json TEXT NOT NULL,
        UNIQUE (project_id, number),
        UNIQUE (project_id, digest)
    )""",
    """CREATE TABLE findings (
        revision_id INTEGER NOT NULL REFERENCES revisions(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        rule_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        finding_json TEXT NOT NULL,
        PRIMARY KEY (revision_id, position)
    ) WITHOUT ROWID""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        digest TEXT NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        revision_digest TEXT,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        metadata_json TEXT NOT NULL,
        record_count INTEGER NOT NULL,
        UNIQUE (project_id, number),
        UNIQUE (project_id, digest)
    )""",
    """CREATE TABLE run_records (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        record_json TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE baselines (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        run_digests_json TEXT NOT NULL,
        note TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (project_id, digest)
    )""",
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        revision_digest TEXT,
        decision TEXT NOT NULL,
        rationale TEXT NOT NULL,
        details_json TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (project_id, digest)
    )""",
    "CREATE INDEX revisions_project ON revisions (project_id, number)",
    "CREATE INDEX runs_project ON runs (project_id, number)",
)


@MIGRATIONS()
def m002_revision_summaries(db: Database) -> None:
    """Each revision's one-line figures as columns, so history reads no JSON, filled in for
    the revisions already stored (the same figures as ``content.summary_figures``); and a
    trigger that refuses any change to a stored revision."""
    for column, kind in _SUMMARY_COLUMNS:
        db.execute(f"ALTER TABLE revisions ADD COLUMN {column} {kind}")
    db.execute(
        """UPDATE revisions SET
            deployment = json_extract(result_json, '$.sizing.chosen.deployment'),
            gpu = json_extract(result_json, '$.sizing.chosen.operating_point.deployment.gpu'),
            replicas = coalesce(json_extract(result_json, '$.envelope.replicas'),
                                json_extract(result_json, '$.sizing.chosen.replicas')),
            eur_per_1m_tokens = json_extract(result_json, '$.sizing.chosen.eur_per_1m_tokens'),
            errors = (SELECT count(*) FROM findings f WHERE f.revision_id = revisions.id AND f.severity = 'error'),
            warnings = (SELECT count(*) FROM findings f WHERE f.revision_id = revisions.id AND f.severity = 'warning')
        """
    )
    # From here on a revision, once written, is never changed: a change is a new revision.
    db.execute(
        "CREATE TRIGGER revisions_are_never_changed BEFORE UPDATE ON revisions "
        "BEGIN SELECT RAISE(ABORT, 'a revision is never changed: save a new one'); END"
    )
    db.execute("PRAGMA user_version = 2")


_SUMMARY_COLUMNS = (
    ("deployment", "TEXT"),
    ("gpu", "TEXT"),
    ("replicas", "INTEGER"),
    ("eur_per_1m_tokens", "REAL"),
    ("errors", "INTEGER NOT NULL DEFAULT 0"),
    ("warnings", "INTEGER NOT NULL DEFAULT 0"),
)

#: The schema version this planner writes: one per step.
SCHEMA_VERSION = len(migrations_of(MIGRATIONS))


def upgrade(store: ProjectStore, migrations: Migrations) -> None:
    """Apply the pending steps of ``migrations`` to ``store``, all of them or none.

    :raises StoreError: naming the versions when a step fails (the file is left unchanged).
    """
    with store.translated():
        if not migrations.pending(store.db):
            return
        before = _user_version(store.db)
    try:
        with store.writing() as db:
            migrations.apply(db)
    except PlannerError:
        raise
    except Exception as exc:
        target = len(migrations_of(migrations))
        raise StoreError(
            f"upgrading the project database from schema version {before} to {target} failed: {exc}",
            path=str(store.path),
            fix="the file was not changed and this planner cannot use it; please report this with the message",
        ) from exc


def _user_version(db: Database) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0
