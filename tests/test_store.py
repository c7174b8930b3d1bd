"""The project store on real SQLite files: settings, refusals, migrations, transactions, text.

Revisions here carry a real plan report (the code-assistant plan sized with the built-in
model), so migrations and summaries are tested on the data they will meet.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planner import workflows
from planner.errors import PlannerError, StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from planner.store import RevisionDraft, RunDraft
from planner.store import projects as stored
from planner.store import runs as measured
from planner.store.content import digest_of, summary_figures
from planner.store.database import APPLICATION_ID, Migrations, ProjectStore, open_store
from planner.store.schema import MIGRATIONS, SCHEMA_VERSION, m001_initial, m002_revision_summaries
from tests.conftest import DATA

FIXTURE_V1 = DATA / "store" / "schema-v1.db"
#: Text a user might type that must come back exactly as typed.
HOSTILE = ["'); DROP TABLE revisions;--", '=HYPERLINK("http://x")', "Ünïcödé ✓ 名前", "[red]not markup[/red]"]


def draft_of(report: dict[str, Any], message: str = "a change", **changes: Any) -> RevisionDraft:
    """A revision draft from a report's JSON."""
    whole = dict(report)
    findings, plan = whole.pop("findings"), whole.pop("plan")
    return RevisionDraft(plan, whole, findings, "builtin", {"plugins": {"nvidia": "0.1.0"}}, message, **changes)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProjectStore]:
    """A new database with one empty project, 'P'."""
    with open_store(tmp_path / "p.db", create=True) as opened:
        stored.create_project(opened, "P")
        yield opened


def pragma(path: Path, name: str) -> Any:
    """One pragma read through a plain sqlite3 connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def logical_dump(path: Path) -> list[str]:
    """The database's schema and rows as SQL, to compare content before and after."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# ------------------------------------------------------------------ the file


def test_a_new_database_is_wal_with_foreign_keys_full_sync_and_ours(store: ProjectStore) -> None:
    db = store.db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2, "FULL"
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert [m.name for m in MIGRATIONS.applied(db)] == ["m001_initial", "m002_revision_summaries"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_database_and_its_wal_are_user_only(store: ProjectStore, report_json: dict[str, Any]) -> None:
    stored.add_revision(store, "P", draft_of(report_json))
    for path in (store.path, store.path.with_name("p.db-wal"), store.path.with_name("p.db-shm")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    exported = workflows.export_project("P", store.path.with_name("p.json"), store.path)
    assert stat.S_IMODE(exported.path.stat().st_mode) == 0o600, "a project file holds the customer's data too"


def test_the_default_database_follows_planner_home(planner_home: Path) -> None:
    report = workflows.create_project("Mine")
    assert report.path == planner_home / "projects.db" and report.path.exists()
    assert [p.name for p in workflows.list_projects().projects] == ["Mine"]


def test_reading_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert workflows.list_projects(missing).projects == []
    with pytest.raises(StoreError, match="no project database here yet") as caught:
        workflows.history("P", missing)
    assert caught.value.path == str(missing) and "planner project new" in caught.value.fix
    assert not missing.exists()


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 20)
    before = notes.read_bytes()
    with pytest.raises(StoreCorruptError, match="not a SQLite database") as caught:
        workflows.create_project("P", db=notes)
    assert caught.value.path == str(notes) and "did not change it" in caught.value.fix
    assert notes.read_bytes() == before and not notes.with_name("notes.txt-wal").exists()


def test_another_programs_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Eva')")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(StoreCorruptError, match="another program") as caught:
        workflows.create_project("P", db=other)
    assert caught.value.path == str(other)
    assert other.read_bytes() == before, "not even switched to WAL"


def test_a_damaged_database_gets_a_clear_error_and_is_not_touched(tmp_path: Path, report_json: dict[str, Any]) -> None:
    path = tmp_path / "p.db"
    with open_store(path, create=True) as store:
        stored.create_project(store, "P")
        for i in range(20):
            stored.add_revision(store, "P", draft_of(report_json, f"rev {i}"))
    page = pragma(path, "page_size")
    data = bytearray(path.read_bytes())
    data[2 * page : len(data)] = bytes([0xA5]) * (len(data) - 2 * page)  # every page after the schema page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match="damaged") as caught:
        workflows.history("P", path)
    assert caught.value.path == str(path) and "integrity_check" in caught.value.fix
    assert path.read_bytes() == bytes(data)


def test_a_database_from_a_newer_planner_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with open_store(path, create=True) as store:
        stored.create_project(store, "P")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    before = logical_dump(path)
    with pytest.raises(StoreVersionError) as caught:
        workflows.show_project("P", path)
    assert "schema version 7" in caught.value.message and f"up to {SCHEMA_VERSION}" in caught.value.message
    assert "upgrade the planner" in caught.value.fix
    assert logical_dump(path) == before


# ---------------------------------------------------------------- migrations


def test_the_first_schema_upgrades_with_every_revision_loadable(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE_V1, path)
    assert pragma(path, "user_version") == 1
    with open_store(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [p.name for p in stored.projects(store)] == ["Bank assistant", "Empty one"]
        summaries = stored.revision_summaries(store, "Bank assistant")
        assert [s.number for s in summaries] == [1, 2, 3, 4]
        for summary in summaries:
            revision = stored.load_revision(store, "Bank assistant", summary.number)
            assert revision.intact, summary.number
            backfilled = {key: getattr(summary, key) for key in summary_figures(revision.result, revision.findings)}
            assert backfilled == summary_figures(revision.result, revision.findings), summary.number
        assert summaries[2].replicas == revision_envelope_replicas(store), "full-envelope plans: the envelope's"
        assert summaries[3].deployment is None and summaries[3].replicas is None, "nothing met the SLOs"
        run = measured.load_run(store, "Bank assistant", 1)
        assert run.intact and len(run.records) == 20
        assert measured.baselines(store, "Bank assistant")[0].runs == [run.summary.digest]
        assert measured.decisions(store, "Bank assistant")[0].rationale == "KV-bound decode"
        assert stored.project(store, "Bank assistant").notes == "'); DROP TABLE revisions;--"
        stored.add_revision(store, "Bank assistant", draft_of(_report_of(store), "after the upgrade"))
        assert stored.load_revision(store, "Bank assistant", "head").summary.number == 5
    assert pragma(path, "integrity_check") == "ok"


def revision_envelope_replicas(store: ProjectStore) -> int:
    """The replicas the full-envelope revision (3) of the fixture was sized to on the envelope."""
    return int(stored.load_revision(store, "Bank assistant", 3).result["envelope"]["replicas"])


def _report_of(store: ProjectStore) -> dict[str, Any]:
    head = stored.load_revision(store, "Bank assistant", 1)
    return {**head.result, "plan": head.plan, "findings": head.findings}


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE_V1, path)
    before = logical_dump(path)
    broken = Migrations("planner")
    broken()(m001_initial)
    broken()(m002_revision_summaries)

    @broken()
    def m003_breaks(db: Any) -> None:
        db.execute("ALTER TABLE projects ADD COLUMN colour TEXT")
        raise RuntimeError("step 3 fails half-way")

    with pytest.raises(StoreError, match="from schema version 1 to 3 failed: step 3 fails half-way") as caught:
        open_store(path, migrations=broken)
    assert "not changed" in caught.value.fix
    assert logical_dump(path) == before, "step 2 was rolled back with step 3"
    with open_store(path) as store:  # the real steps still apply afterwards
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# -------------------------------------------------------------- transactions


def test_an_exception_inside_a_transaction_keeps_the_previous_state(
    store: ProjectStore, report_json: dict[str, Any]
) -> None:
    stored.add_revision(store, "P", draft_of(report_json, "kept"))
    inputs = stored.project(store, "P").inputs
    with pytest.raises(RuntimeError), store.writing() as db:
        db.execute("DELETE FROM revisions")
        raise RuntimeError("the caller fails mid-way")
    # A finding that cannot be written fails after the revision row is in: all of it goes.
    bad = draft_of(
        report_json,
        "fails",
    )
    bad = RevisionDraft(bad.plan | {"name": "changed"}, bad.result, [*bad.findings, {"rule_id": object()}],
                        bad.backend, bad.catalog, bad.message)  # fmt: skip
    with pytest.raises(TypeError):
        stored.add_revision(store, "P", bad)
    assert [s.message for s in stored.revision_summaries(store, "P")] == ["kept"]
    assert stored.project(store, "P").inputs == inputs
    with pytest.raises(TypeError):
        measured.add_run(store, "P", RunDraft("r", "test", {}, [{"ok": 1}] * 500 + [{"bad": object()}]))
    assert measured.run_summaries(store, "P") == []
    assert store.db.execute("SELECT count(*) FROM run_records").fetchone()[0] == 0


def test_a_stored_revision_is_never_changed(store: ProjectStore, report_json: dict[str, Any]) -> None:
    first = stored.add_revision(store, "P", draft_of(report_json, "one"))
    second = stored.add_revision(store, "P", draft_of(report_json, "one"))
    assert (first.number, second.number) == (1, 2) and second.parent == first.digest != second.digest
    with pytest.raises(sqlite3.IntegrityError, match="never changed"):
        store.db.execute("UPDATE revisions SET message = 'rewritten' WHERE number = 1")
    assert stored.load_revision(store, "P", 1).intact


def test_a_busy_database_waits_then_says_so(store: ProjectStore, report_json: dict[str, Any]) -> None:
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with open_store(store.path, busy_timeout_s=0.05) as impatient:
            with pytest.raises(StoreLockedError, match="in use by another program") as caught:
                stored.add_revision(impatient, "P", draft_of(report_json))
            assert caught.value.path == str(store.path)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert stored.add_revision(store, "P", draft_of(report_json)).number == 1


def test_delete_takes_everything_or_nothing(tmp_path: Path, report_json: dict[str, Any]) -> None:
    with open_store(tmp_path / "p.db", create=True) as store:
        for name in ("Doomed", "Kept"):
            stored.create_project(store, name)
            stored.add_revision(store, name, draft_of(report_json))
            measured.add_run(store, name, RunDraft(f"{name} run", "test", {}, [{"i": i} for i in range(50)]))
            measured.set_baseline(store, name, [1], "base")
            measured.add_decision(store, name, measured.Decision("scale out", "queue-bound"))
        counts = _counts(store)
        store.db.execute(
            "CREATE TEMP TRIGGER fail_half_way BEFORE DELETE ON run_records BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
        )
        with pytest.raises(sqlite3.IntegrityError, match="disk gone"):
            stored.delete_project(store, "Doomed")
        assert _counts(store) == counts
        store.db.execute("DROP TRIGGER fail_half_way")
        gone = stored.delete_project(store, "Doomed")
        assert (gone.revisions, gone.runs) == (1, 1)
        assert _counts(store) == {table: count // 2 for table, count in counts.items()}
        assert [p.name for p in stored.projects(store)] == ["Kept"]


def _counts(store: ProjectStore) -> dict[str, int]:
    tables = ("projects", "revisions", "findings", "runs", "run_records", "baselines", "decisions")
    return {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


# ------------------------------------------------------------------- content


def test_user_text_is_stored_and_read_back_as_text(tmp_path: Path, report_json: dict[str, Any]) -> None:
    with open_store(tmp_path / "p.db", create=True) as store:
        for text in HOSTILE:
            stored.create_project(store, text, notes=text)
            stored.add_revision(store, text, draft_of(report_json, text))
            measured.add_run(store, text, RunDraft(text, text, {"note": text}, [{"text": text}]))
        for text in HOSTILE:
            assert stored.project(store, text).notes == text
            assert stored.load_revision(store, text, "head").summary.message == text
            assert measured.load_run(store, text, 1).records == [{"text": text}]
        assert sorted(p.name for p in stored.projects(store)) == sorted(HOSTILE)
        assert {"revisions", "projects"} <= set(store.db.table_names())
        renamed = stored.rename_project(store, HOSTILE[0], HOSTILE[0] + " (2)")
        assert renamed.name == HOSTILE[0] + " (2)" and renamed.revisions == 1


@pytest.mark.parametrize("name", ["", "   ", "two\nlines", "bell\x07", "esc\x1b[31m", "x" * 201])
def test_names_that_cannot_be_shown_on_one_line_are_refused(store: ProjectStore, name: str) -> None:
    with pytest.raises(PlannerError, match="project name"):
        stored.create_project(store, name)


def test_names_are_unique_and_lookups_suggest(store: ProjectStore) -> None:
    stored.create_project(store, "Bank assistant")
    with pytest.raises(StoreError, match="already exists"):
        stored.create_project(store, " Bank assistant ")
    with pytest.raises(StoreError, match="no project named 'Bank asistant'") as caught:
        stored.project(store, "Bank asistant")
    assert "did you mean 'Bank assistant'" in caught.value.fix
    with pytest.raises(StoreError, match="already exists"):
        stored.rename_project(store, "P", "Bank assistant")


def test_revisions_are_found_by_number_head_or_digest(store: ProjectStore, report_json: dict[str, Any]) -> None:
    one = stored.add_revision(store, "P", draft_of(report_json, "one"))
    two = stored.add_revision(store, "P", draft_of(report_json, "two"))
    assert stored.load_revision(store, "P", "1").summary == one
    assert stored.load_revision(store, "P", "head").summary == two
    assert stored.load_revision(store, "P", two.digest[:8]).summary == two
    for missing in ("3", "0", "abc", "zzzzzzzz", "-1"):
        with pytest.raises(StoreError, match="matches no revision") as caught:
            stored.load_revision(store, "P", missing)
        assert "revisions 1 to 2" in caught.value.fix


def test_a_revision_keeps_its_report_and_summary(store: ProjectStore, report_json: dict[str, Any]) -> None:
    draft = draft_of(report_json)
    summary = stored.add_revision(store, "P", draft)
    revision = stored.load_revision(store, "P", 1)
    assert revision.plan == report_json["plan"] and revision.findings == report_json["findings"]
    assert revision.result == {k: v for k, v in report_json.items() if k not in ("plan", "findings")}
    assert summary.digest == digest_of(draft.content(None)) and revision.intact
    chosen = report_json["sizing"]["chosen"]
    assert (summary.replicas, summary.eur_per_1m_tokens) == (chosen["replicas"], chosen["eur_per_1m_tokens"])
    assert summary.gpu == chosen["operating_point"]["deployment"]["gpu"]
    assert summary.errors == sum(f["severity"] == "error" for f in report_json["findings"])
    assert stored.project(store, "P").inputs == {
        k: report_json["plan"][k] for k in ("use_case", "workload", "traffic", "slo")
    }


def test_a_revision_whose_content_was_altered_is_not_intact(store: ProjectStore, report_json: dict[str, Any]) -> None:
    stored.add_revision(store, "P", draft_of(report_json))
    store.db.execute("DROP TRIGGER revisions_are_never_changed")
    store.db.execute("UPDATE revisions SET message = 'tampered'")
    assert not stored.load_revision(store, "P", 1).intact
    with pytest.raises(StoreCorruptError, match="does not match its digest"):
        workflows.open_revision("P", "1", store.path)


# ------------------------------------------------------- runs, baseline, decisions


def test_runs_with_records_round_trip_and_are_stored_once(store: ProjectStore) -> None:
    records = [{"ttft_ms": 100.0 + i, "itl_ms": 20.5, "output_tokens": 200, "error": None} for i in range(1000)]
    draft = RunDraft("closed loop c=64", "bench.json", {"concurrency": 64, "tool": "vllm bench serve"}, records)
    run, added = measured.add_run(store, "P", draft)
    again, added_again = measured.add_run(store, "P", draft)
    assert (added, added_again) == (True, False) and again == run and run.number == 1 and run.records == 1000
    loaded = measured.load_run(store, "P", 1)
    assert loaded.records == records and loaded.summary.metadata == draft.metadata and loaded.intact
    assert measured.load_run(store, "P", run.digest[:9]).summary == run
    assert [r.number for r in measured.run_summaries(store, "P")] == [1]
    with pytest.raises(StoreError, match="matches no run"):
        measured.load_run(store, "P", "2")
    with pytest.raises(PlannerError, match="needs a name"):
        measured.add_run(store, "P", RunDraft(" ", "x", {}, []))


def test_baselines_and_decisions_keep_their_history(store: ProjectStore) -> None:
    for i in (1, 2):
        measured.add_run(store, "P", RunDraft(f"run {i}", "x", {}, [{"i": i}]))
    first = measured.set_baseline(store, "P", [1], "first")
    second = measured.set_baseline(store, "P", ["1", 2], "both")
    assert measured.baselines(store, "P") == [first, second] and len(second.runs) == 2
    decision = measured.Decision("raise max_num_batched_tokens", "prefill-bound TTFT", {"from": 8192, "to": 16384})
    assert measured.add_decision(store, "P", decision) == (decision, True)
    assert measured.add_decision(store, "P", decision) == (decision, False)
    assert measured.decisions(store, "P") == [decision]
    with pytest.raises(PlannerError, match="what was decided and why"):
        measured.add_decision(store, "P", measured.Decision("x", " "))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_unwritable_database_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with open_store(folder / "p.db", create=True) as store:
        stored.create_project(store, "P")
    (folder / "p.db").chmod(0o400)
    folder.chmod(0o500)
    try:
        if os.access(folder / "p.db", os.W_OK):
            pytest.skip("running as a user who can write anything (root)")
        with pytest.raises(StoreError, match="cannot read or write") as caught:
            workflows.rename_project("P", "Q", folder / "p.db")
        assert caught.value.path == str(folder / "p.db")
    finally:
        folder.chmod(0o700)
