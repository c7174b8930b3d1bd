"""Project files: export on one laptop, import on another, nothing lost, nothing doubled,
and every file that is not what it claims refused with the reason."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from planner import workflows
from planner.errors import InputError, StoreCorruptError, StoreError, StoreVersionError
from planner.store import RunDraft
from planner.store import projects as stored
from planner.store import runs as measured
from planner.store.database import open_store
from planner.store.portable import FILE_SCHEMA_VERSION, checksum_of
from tests.conftest import run_cli
from tests.test_store import FIXTURE_V1, HOSTILE, draft_of


@pytest.fixture
def laptop_a(tmp_path: Path, report_json: dict[str, Any]) -> Path:
    """A database with one full project: 3 revisions, 2 runs of 300 requests, a baseline, a decision."""
    path = tmp_path / "a.db"
    with open_store(path, create=True) as store:
        stored.create_project(store, "Bank", notes=HOSTILE[1])
        for message in ("first", HOSTILE[0], "third"):
            stored.add_revision(store, "Bank", draft_of(report_json, message))
        for i in (1, 2):
            records = [{"ttft_ms": 100.0 + j, "itl_ms": 20.0 + i} for j in range(300)]
            measured.add_run(
                store, "Bank", RunDraft(f"c={32 * i}", "vllm bench serve", {"concurrency": 32 * i}, records)
            )
        measured.set_baseline(store, "Bank", [1, 2], "baseline")
        measured.add_decision(store, "Bank", measured.Decision("raise max_num_seqs", "KV-bound", {"to": 512}))
    return path


def exported(path: Path, name: str = "Bank") -> dict[str, Any]:
    """The project file's content for ``name`` in ``path``."""
    out = path.with_suffix(".export.json")
    workflows.export_project(name, out, path)
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def test_a_project_file_carries_format_version_and_checksum(laptop_a: Path, tmp_path: Path) -> None:
    done = workflows.export_project("Bank", tmp_path / "bank.json", laptop_a)
    document = json.loads(done.path.read_text(encoding="utf-8"))
    assert document["format"] == "planner-project" and document["schema_version"] == FILE_SCHEMA_VERSION
    assert document["checksum"] == done.checksum == checksum_of(document)
    assert (done.revisions, done.runs) == (3, 2) and done.size_bytes == done.path.stat().st_size


def test_another_laptop_imports_everything(laptop_a: Path, tmp_path: Path) -> None:
    file = tmp_path / "bank.json"
    workflows.export_project("Bank", file, laptop_a)
    laptop_b = tmp_path / "b.db"
    report = workflows.import_project(file, db=laptop_b)
    assert report.imported.created and report.imported.revisions_added == 3 and report.imported.runs_added == 2
    original, copy = exported(laptop_a)["project"], exported(laptop_b)["project"]
    assert copy == original, "every revision, finding, run, record, baseline and decision, byte for byte"
    assert workflows.show_project("Bank", laptop_b).project.notes == HOSTILE[1]
    assert workflows.history("Bank", laptop_b).entries[1].revision.message == HOSTILE[0]


def test_importing_the_same_file_twice_adds_nothing(laptop_a: Path, tmp_path: Path) -> None:
    file = tmp_path / "bank.json"
    workflows.export_project("Bank", file, laptop_a)
    laptop_b = tmp_path / "b.db"
    workflows.import_project(file, db=laptop_b)
    again = workflows.import_project(file, db=laptop_b).imported
    assert not again.created and (again.revisions_added, again.runs_added) == (0, 0)
    assert (again.revisions_present, again.runs_present, again.baselines_added, again.decisions_added) == (3, 2, 0, 0)
    back_home = workflows.import_project(file, db=laptop_a).imported
    assert (back_home.revisions_added, back_home.runs_added) == (0, 0)
    project = workflows.show_project("Bank", laptop_b)
    assert (project.project.revisions, project.project.runs, len(project.decisions)) == (3, 2, 1)


def test_a_colleagues_longer_copy_adds_only_what_is_new(
    laptop_a: Path, tmp_path: Path, report_json: dict[str, Any]
) -> None:
    workflows.export_project("Bank", tmp_path / "v1.json", laptop_a)
    laptop_b = tmp_path / "b.db"
    workflows.import_project(tmp_path / "v1.json", db=laptop_b)
    workflows.rename_project("Bank", "Bank (Eva's copy)", laptop_b)
    with open_store(laptop_b) as store:
        stored.add_revision(store, "Bank (Eva's copy)", draft_of(report_json, "Eva: h200"))
    workflows.export_project("Bank (Eva's copy)", tmp_path / "v2.json", laptop_b)
    merged = workflows.import_project(tmp_path / "v2.json", db=laptop_a).imported
    assert (merged.name, merged.created, merged.revisions_added, merged.revisions_present) == ("Bank", False, 1, 3)
    entries = workflows.history("Bank", laptop_a).entries
    assert [e.revision.message for e in entries][-1] == "Eva: h200" and entries[-1].revision.number == 4


def test_a_changed_file_is_refused_by_its_checksum(laptop_a: Path, tmp_path: Path) -> None:
    file = tmp_path / "bank.json"
    workflows.export_project("Bank", file, laptop_a)
    document = json.loads(file.read_text(encoding="utf-8"))
    document["project"]["revisions"][0]["message"] = "changed in transit"
    file.write_text(json.dumps(document), encoding="utf-8")
    laptop_b = tmp_path / "b.db"
    with pytest.raises(StoreCorruptError, match="checksum does not match") as caught:
        workflows.import_project(file, db=laptop_b)
    assert document["checksum"] in caught.value.message and checksum_of(document) in caught.value.message
    assert caught.value.path == str(file) and not laptop_b.exists(), "nothing imported, no database made"


def test_an_item_that_does_not_match_its_digest_is_refused(laptop_a: Path, tmp_path: Path) -> None:
    file = tmp_path / "bank.json"
    workflows.export_project("Bank", file, laptop_a)
    document = json.loads(file.read_text(encoding="utf-8"))
    document["project"]["runs"][1]["records"][0]["ttft_ms"] = 1.0
    document["checksum"] = checksum_of(document)  # a careful forger
    file.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(StoreCorruptError, match="run 2 do not match their digests"):
        workflows.import_project(file, db=tmp_path / "b.db")


def test_a_file_from_a_newer_planner_is_refused_naming_both_versions(laptop_a: Path, tmp_path: Path) -> None:
    file = tmp_path / "bank.json"
    workflows.export_project("Bank", file, laptop_a)
    document = json.loads(file.read_text(encoding="utf-8"))
    document["schema_version"] = FILE_SCHEMA_VERSION + 1
    document["checksum"] = checksum_of(document)
    file.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(StoreVersionError) as caught:
        workflows.import_project(file, db=tmp_path / "b.db")
    assert f"schema version {FILE_SCHEMA_VERSION + 1}" in caught.value.message
    assert f"up to {FILE_SCHEMA_VERSION}" in caught.value.message and "upgrade the planner" in caught.value.fix


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"schema_version: 1\nname: a plan\n", "not JSON"),
        (b'{"format": "something-else", "schema_version": 1}', "no `format: planner-project`"),
        (b'["a", "list"]', "does not hold a JSON object"),
        (b'{"format": "planner-project", "schema_version": "1"}', "schema_version is '1'"),
        (FIXTURE_V1.read_bytes(), "not UTF-8 text"),
    ],
    ids=["yaml", "other-format", "list", "text-version", "sqlite"],
)
def test_a_foreign_file_is_refused_with_the_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    file = tmp_path / "foreign.json"
    file.write_bytes(content)
    with pytest.raises(StoreCorruptError, match="not a planner project file") as caught:
        workflows.import_project(file, db=tmp_path / "b.db")
    assert reason in caught.value.message and caught.value.path == str(file)


def test_a_well_formed_file_with_a_wrong_field_names_it(laptop_a: Path, tmp_path: Path) -> None:
    document = exported(laptop_a)
    document["project"]["revisions"][0]["number"] = "one"
    document["checksum"] = checksum_of(document)
    file = tmp_path / "bank.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        workflows.import_project(file, db=tmp_path / "b.db")
    assert any(p.where == "project.revisions.0.number" for p in caught.value.problems)


def test_a_new_project_whose_name_is_taken_needs_another_name(laptop_a: Path, tmp_path: Path) -> None:
    file = tmp_path / "bank.json"
    workflows.export_project("Bank", file, laptop_a)
    laptop_b = tmp_path / "b.db"
    workflows.create_project("Bank", db=laptop_b)
    with pytest.raises(StoreError, match="another project is already called 'Bank'") as caught:
        workflows.import_project(file, db=laptop_b)
    assert "--as" in caught.value.fix
    assert workflows.import_project(file, rename_to="Bank (from A)", db=laptop_b).imported.name == "Bank (from A)"
    assert workflows.show_project("Bank", laptop_b).project.revisions == 0


def test_an_upgraded_old_database_exports_and_imports(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    shutil.copy(FIXTURE_V1, old)
    file = tmp_path / "bank.json"
    workflows.export_project("Bank assistant", file, old)
    report = workflows.import_project(file, db=tmp_path / "new.db").imported
    assert (report.revisions_added, report.runs_added, report.baselines_added, report.decisions_added) == (4, 1, 1, 1)


def test_export_and_import_through_the_command_line(laptop_a: Path, tmp_path: Path) -> None:
    result = run_cli("project", "export", "Bank", "--db", str(laptop_a), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    file = tmp_path / "Bank.planner.json"
    assert file.exists() and "checksum sha256:" in result.stdout
    laptop_b = tmp_path / "b.db"
    first = run_cli("project", "import", str(file), "--db", str(laptop_b), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["revisions_added"] == 3
    second = run_cli("project", "import", str(file), "--db", str(laptop_b))
    assert "0 revisions added (3 already there)" in second.stdout
    file.write_text(file.read_text(encoding="utf-8").replace('"first"', '"tampered"'), encoding="utf-8")
    refused = run_cli("project", "import", str(file), "--db", str(laptop_b))
    assert refused.returncode == 2 and "checksum does not match" in refused.stderr and "Traceback" not in refused.stderr
    conn = sqlite3.connect(laptop_b)
    assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 3
    conn.close()
