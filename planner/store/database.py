"""The project database: one SQLite file opened safely, its settings, its transactions, its errors.

Every project lives in one SQLite database (by default ``projects.db`` in the user's planner
folder, :func:`planner.paths.default_projects_database`). Opening it never replaces or resets a file: a
file that is not SQLite, a SQLite file of another program, a damaged one or one written by
a newer planner is refused with a :class:`~planner.errors.StoreError` naming the file, and
left as it was. The settings follow SQLite's advice for data that must survive a crash
(sqlite.org/wal.html, pragma.html#pragma_synchronous): write-ahead logging, ``synchronous=FULL``
(a commit is on disk when it returns), foreign keys on, and a busy timeout so that the
desktop app and the command line can write the same file in turn.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from planner.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from planner.paths import default_projects_database, user_home


@contextlib.contextmanager
def _without_numeric_stacks() -> Iterator[None]:
    """Hide pandas and numpy while sqlite-utils imports, when nothing imported them yet.

    sqlite-utils imports both when installed (the ``aic`` extra brings them) only to map their
    scalar types on insert; that took 1.1 s of every project command here. The store inserts
    only text and numbers, so it never needs the mapping.
    """
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


with _without_numeric_stacks():
    from sqlite_utils import Database as Database
    from sqlite_utils.migrations import Migrations as Migrations


#: ``PRAGMA application_id`` of a planner database ("PLNR"): tells our files from other programs'.
APPLICATION_ID = 0x504C4E52
#: The first 16 bytes of every SQLite 3 database file (sqlite.org/fileformat.html, 1.3).
SQLITE_HEADER = b"SQLite format 3\x00"
#: How long one attempt waits for another writer, and how many attempts before giving up:
#: a save takes milliseconds, so half a minute in all means the other program is stuck.
BUSY_TIMEOUT_S = 10.0
LOCK_ATTEMPTS = 3
#: SQLite's messages for a database another connection holds.
_LOCKED = ("database is locked", "database table is locked", "database schema is locked")
#: SQLite's messages for a file that is not a database or is damaged.
_DAMAGED = ("file is not a database", "malformed", "database disk image", "not a database")
#: SQLite's messages for a file the operating system will not let it read or write.
_UNREADABLE = ("unable to open", "disk i/o error", "readonly database", "disk is full", "access permission")


class ProjectStore:
    """An open project database. Use it as a context manager, or call :meth:`close`.

    All reads go through :meth:`reading` and all writes through :meth:`writing`, which turn
    SQLite's errors into :class:`~planner.errors.StoreError` messages naming the file.
    """

    def __init__(self, path: Path, db: Database, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.db = db
        self.busy_timeout_s = busy_timeout_s

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (anything not committed is rolled back by SQLite)."""
        self.db.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Database]:
        """One write transaction: all of the block or none of it, even if the process dies in it.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so two programs writing at once
        wait for each other instead of failing half-way; nested blocks become savepoints.

        :raises StoreLockedError: when another program holds the file for longer than
            :data:`LOCK_ATTEMPTS` x the busy timeout.
        """
        with self.translated():
            if self.db.conn.in_transaction:
                with self.db.atomic():
                    yield self.db
                return
            self._begin_immediate()
            try:
                yield self.db
            except BaseException:
                self.db.rollback()
                raise
            try:
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[Database]:
        """Several reads that see one consistent state of the file (one read transaction)."""
        with self.translated():
            if self.db.conn.in_transaction:
                yield self.db
                return
            self.db.execute("BEGIN")
            try:
                yield self.db
            finally:
                self.db.rollback()

    def _begin_immediate(self) -> None:
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or attempt == LOCK_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        """Turn SQLite's errors into the planner's, naming this file."""
        with translated_errors(self.path, self.busy_timeout_s):
            yield


@contextlib.contextmanager
def translated_errors(path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Iterator[None]:
    """Raise SQLite's errors about ``path`` as :class:`~planner.errors.StoreError` with the fix.

    Integrity errors (a broken constraint) and unknown messages are bugs and pass through.
    """
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.DatabaseError as exc:
        translated = _store_error(path, exc, busy_timeout_s)
        if translated is None:
            raise
        raise translated from exc


def _is_locked(exc: sqlite3.Error) -> bool:
    return any(phrase in str(exc).lower() for phrase in _LOCKED)


def _store_error(path: Path, exc: sqlite3.DatabaseError, busy_timeout_s: float) -> StoreError | None:
    text = str(exc).lower()
    if _is_locked(exc):
        waited = busy_timeout_s * LOCK_ATTEMPTS
        return StoreLockedError(
            f"the project database is in use by another program (waited {waited:g} s)",
            path=str(path),
            fix="close the other planner window or command using it, then try again; nothing was changed",
        )
    if any(phrase in text for phrase in _DAMAGED):
        return damaged(path, str(exc))
    if any(phrase in text for phrase in _UNREADABLE):
        return StoreError(
            f"cannot read or write the project database: {exc}",
            path=str(path),
            fix="check that the file and its folder are yours, writable and on a local disk (not a network share)",
        )
    return None


def damaged(path: Path, detail: str) -> StoreCorruptError:
    """The error for a damaged database file (the file is left as it is)."""
    return StoreCorruptError(
        f"the project database is damaged ({detail})",
        path=str(path),
        fix=f"the planner did not change it; restore {path.name} from a backup or import a project export "
        f"into a new database (--db NEW.db); `sqlite3 {path} 'PRAGMA integrity_check'` shows the damage",
    )


def open_store(
    path: Path | None = None,
    *,
    create: bool = False,
    migrations: Migrations | None = None,
    busy_timeout_s: float = BUSY_TIMEOUT_S,
) -> ProjectStore:
    """Open the project database at ``path`` and bring its schema up to date.

    The default ``path`` is :func:`planner.paths.default_projects_database`.

    :param create: create the file (user-only permissions on POSIX) when it does not exist;
        otherwise a missing file is an error.
    :param migrations: the schema steps (default :data:`planner.store.schema.MIGRATIONS`; tests pass others).
    :raises StoreError: the file is missing (without ``create``), unreadable, not SQLite, another
        program's database, damaged, written by a newer planner, or locked; it is left unchanged.
    """
    from planner.store.schema import MIGRATIONS, upgrade

    path = Path(path) if path is not None else default_projects_database()
    _prepare_file(path, create=create)
    with translated_errors(path, busy_timeout_s):
        conn = sqlite3.connect(path, timeout=busy_timeout_s)
    try:
        with translated_errors(path, busy_timeout_s):
            store = ProjectStore(path, Database(conn, execute_plugins=False), busy_timeout_s)
    except BaseException:
        conn.close()
        raise
    try:
        with store.translated():
            _check_identity(store, migrations or MIGRATIONS)
            _configure(store.db)
        upgrade(store, migrations or MIGRATIONS)
    except BaseException:
        store.close()
        raise
    return store


def _prepare_file(path: Path, *, create: bool) -> None:
    """Refuse what is not a SQLite file before SQLite touches it; create a new one user-only."""
    if path.is_dir():
        raise StoreError("is a folder, not a project database", path=str(path), fix="name a file, e.g. projects.db")
    if not path.exists():
        if not create:
            raise StoreError(
                "no project database here yet",
                path=str(path),
                fix="create a project first (`planner project new NAME`), or name another file with --db",
            )
        _create_private(path)
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read the file: {exc.strerror}", path=str(path), fix="check its permissions") from exc
    # An empty file is how SQLite starts every database; anything else must be SQLite's.
    if head and head != SQLITE_HEADER:
        raise StoreCorruptError(
            "is not a SQLite database, so not a planner project database",
            path=str(path),
            fix="the planner did not change it; name your project database with --db, "
            "or a new file to start one; project exports (.json) are read with `planner project import`",
        )


def _create_private(path: Path) -> None:
    """Create an empty file only the user can read (SQLite gives its -wal and -shm files the same mode)."""
    if not path.parent.exists():
        if path.parent != user_home():
            raise StoreError(
                "the folder for the project database does not exist",
                path=str(path),
                fix=f"create {path.parent} first, or name a file in an existing folder",
            )
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    # O_EXCL: if another process created it a moment ago, it is theirs to initialise.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _check_identity(store: ProjectStore, migrations: Migrations) -> None:
    """Refuse another program's database and one written by a newer planner, before any write."""
    db = store.db
    application_id = _pragma(db, "application_id")
    version = _pragma(db, "user_version")
    tables = [name for name in db.table_names() if not name.startswith("sqlite_")]
    if application_id != APPLICATION_ID and (application_id != 0 or tables):
        raise StoreCorruptError(
            "is a SQLite database of another program, not a planner project database",
            path=str(store.path),
            fix="the planner did not change it; name your project database with --db, or a new file to start one",
        )
    known = len(migrations_of(migrations))
    if version > known:
        raise StoreVersionError(
            f"the project database has schema version {version}, newer than this planner reads (up to {known})",
            path=str(store.path),
            fix="upgrade the planner on this machine; the file was not changed",
        )


def migrations_of(migrations: Migrations) -> list[Any]:
    """The steps of a migration set, in order: their count is the schema version it writes.

    sqlite-utils 4 lists them publicly only relative to a database (``pending``, ``applied``),
    so this reads its list of registered steps (pinned ``<5`` in pyproject.toml).
    """
    return list(migrations._migrations)


def _configure(db: Database) -> None:
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = FULL")
    if db.journal_mode != "wal":
        db.enable_wal()


def _pragma(db: Database, name: str) -> int:
    row = db.execute(f"PRAGMA {name}").fetchone()
    return int(row[0]) if row else 0
