"""Projects as a user meets them: the workflows the desktop app will call, and the commands
(`planner project ...`, `plan --save`, `history`, `diff`, `checkout`) run in real processes."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner import workflows
from planner.catalogfiles import load_entries
from planner.errors import PlannerError, StoreError
from planner.planfile import load_plan, parse_plan
from tests.conftest import CLI_BACKEND, PLANS, run_cli
from tests.test_store import HOSTILE

CODE = PLANS / "code-assistant.yaml"


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    """One session, as the desktop app keeps one."""
    return workflows.open_session()


def variant(tmp_path: Path, name: str, **changes: Any) -> Path:
    """The code-assistant plan with top-level sections changed (``traffic={"requests_per_s": 80}``)."""
    data = yaml.safe_load(CODE.read_text(encoding="utf-8"))
    for section, values in changes.items():
        data[section] = {**data.get(section, {}), **values}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cli(*args: str, db: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``planner ARGS --db DB`` in a real process."""
    return run_cli(*args, "--db", str(db), cwd=cwd)


# ------------------------------------------------------------------ workflows


def test_plan_and_save_stores_what_plan_returns(session: workflows.Session, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    saved = workflows.plan_and_save(
        session, workflows.read_plan(CODE), "code.yaml", "Code", "first cut", backend="builtin", db=db
    )
    report = saved.report.to_json()
    revision = workflows.open_revision("Code", "head", db).revision
    assert revision.plan == report["plan"] and revision.findings == report["findings"]
    assert revision.result == {
        "source": "code.yaml",
        **{k: v for k, v in report.items() if k not in ("plan", "findings")},
    }
    assert revision.summary == saved.saved.revision and revision.summary.message == "first cut"
    assert revision.summary.backend == "builtin" and revision.summary.author == getpass.getuser()
    assert datetime.fromisoformat(revision.summary.created_at).utcoffset() is not None
    calibration = {e["data"] for e in load_entries("efficiency/calibrated.yaml")}
    assert revision.catalog["calibration"] == sorted(calibration) and revision.catalog["plugins"]["nvidia"]
    assert workflows.open_revision("Code", "1", db).plan == workflows.read_plan(CODE)


def test_saving_to_a_project_that_does_not_exist_costs_no_sizing(
    session: workflows.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    monkeypatch.setattr(workflows.projects, "plan", lambda *a, **k: pytest.fail("sized before the check"))
    with pytest.raises(StoreError, match="no project named 'Cod'"):
        workflows.plan_and_save(session, workflows.read_plan(CODE), "code.yaml", "Cod", db=db)


def test_save_revision_records_the_default_backend(
    session: workflows.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    report = workflows.plan(session, workflows.read_plan(CODE), "code.yaml", backend="builtin")
    monkeypatch.setenv("PLANNER_PERF_BACKEND", "builtin")
    assert workflows.save_revision(session, report, "Code", db=db).revision.backend == "builtin"
    monkeypatch.delenv("PLANNER_PERF_BACKEND")
    assert workflows.save_revision(session, report, "Code", db=db).revision.backend == "auto"


def test_a_new_project_takes_steps_1_to_4_from_a_plan(tmp_path: Path) -> None:
    created = workflows.create_project("Code", plan_=workflows.read_plan(CODE), notes="for Eva", db=tmp_path / "p.db")
    assert set(created.project.inputs or {}) == {"use_case", "workload", "traffic", "slo"}
    assert created.input_fields()["slo.ttft_ms"] == 500.0 and "model.id" not in created.input_fields()


def test_history_and_diff_say_what_changed(session: workflows.Session, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    busier = variant(tmp_path, "busier.yaml", traffic={"requests_per_s": 120})
    for path, message in ((CODE, "first"), (busier, "3x the traffic")):
        workflows.plan_and_save(
            session, workflows.read_plan(path), path.name, "Code", message, backend="builtin", db=db
        )
    first, second = workflows.history("Code", db).entries
    assert first.changes == []
    expected = {
        name: (getattr(first.revision, name), getattr(second.revision, name))
        for name in ("gpu", "deployment", "replicas", "eur_per_1m_tokens", "errors")
        if getattr(first.revision, name) != getattr(second.revision, name)
    }
    assert {c.field: (c.before, c.after) for c in second.changes} == expected
    assert "replicas" in expected or "deployment" in expected, "3x the traffic moves the fleet"
    diff = workflows.diff("Code", "1", "head", db)
    assert [(c.field, c.before, c.after) for c in diff.inputs] == [("traffic.requests_per_s", 40.0, 120.0)]
    figures = {c.field: (c.before, c.after) for c in diff.figures}
    assert figures["fleet_output_tok_s"][1] > figures["fleet_output_tok_s"][0]
    # the TTFT the targets judge (at the sizing's percentile, as `planner plan` prints it), beside the mean
    p95 = [
        workflows.open_revision("Code", rev, db).revision.result["sizing"]["chosen"]["operating_point"]["performance"][
            "ttft_p95_ms"
        ]
        for rev in ("1", "2")
    ]
    assert figures.get("ttft_p95_ms", (p95[0], p95[0])) == (p95[0], p95[1])
    if "deployment" in expected:
        assert ("deployment", *expected["deployment"]) in [(c.field, c.before, c.after) for c in diff.configuration]
    assert not diff.identical and workflows.diff("Code", "2", "2", db).identical


def test_diff_names_the_pools_that_serve_the_load(session: workflows.Session, tmp_path: Path) -> None:
    """Served as prefill and decode pools, the chosen deployment is a replica served aggregated; the
    diff named only it, so a revision that moved the pools (here from aggregated serving to pools)
    read as the same configuration."""
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    pooled = variant(tmp_path, "pooled.yaml", serving_stack={"id": "dynamo", "disaggregated": True})
    for path in (CODE, pooled):
        workflows.plan_and_save(session, workflows.read_plan(path), path.name, "Code", backend="builtin", db=db)
    pools = workflows.open_revision("Code", "2", db).revision.result["sizing"]["chosen"]["simulation"]["disaggregated"]
    changed = {c.field: (c.before, c.after) for c in workflows.diff("Code", "1", "2", db).configuration}
    assert changed["pools.prefill"] == (None, f"{pools['prefill_replicas']} x {pools['prefill_deployment']}")
    assert changed["pools.decode"] == (None, f"{pools['decode_replicas']} x {pools['decode_deployment']}")


def test_diff_shows_findings_added_and_resolved(session: workflows.Session, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    averages = variant(tmp_path, "averages.yaml", workload={"input_tokens": {"mean": 3000}})
    for path in (CODE, averages):
        workflows.plan_and_save(session, workflows.read_plan(path), path.name, "Code", backend="builtin", db=db)
    diff = workflows.diff("Code", "1", "2", db)
    first, second = (workflows.open_revision("Code", n, db).revision.findings for n in ("1", "2"))
    assert {f["rule_id"] for f in diff.findings_added} == {f["rule_id"] for f in second} - {f["rule_id"] for f in first}
    assert diff.findings_added, "an averages-only workload fires the worst-case rule"
    back = workflows.diff("Code", "2", "1", db)
    assert back.findings_resolved == diff.findings_added


def test_checkout_writes_a_plan_that_reads_back_equal(session: workflows.Session, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    workflows.plan_and_save(session, workflows.read_plan(CODE), "code.yaml", "Code", backend="builtin", db=db)
    for name in ("out.yaml", "out.json"):
        done = workflows.checkout("Code", "1", tmp_path / name, db=db)
        assert load_plan(done.path) == workflows.read_plan(CODE) and done.revision.number == 1
    with pytest.raises(PlannerError, match="the file exists") as caught:
        workflows.checkout("Code", "1", tmp_path / "out.yaml", db=db)
    assert "--force" in caught.value.fix
    assert workflows.checkout("Code", "head", tmp_path / "out.yaml", force=True, db=db).path.exists()


def test_workflows_do_not_import_sqlite_utils_until_a_project_opens() -> None:
    code = (
        "import sys, planner.workflows, planner.cli, planner.render_projects\n"
        "print('sqlite_utils' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_opening_a_project_does_not_import_pandas(tmp_path: Path) -> None:
    workflows.create_project("P", db=tmp_path / "p.db")
    code = (
        "import sys; from planner import workflows\n"
        f"workflows.show_project('P', {str(tmp_path / 'p.db')!r})\n"
        "print('sqlite_utils' in sys.modules, 'pandas' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "False"]


# ------------------------------------------------------------- command line


def test_the_5_to_9_loop_on_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert "no projects in" in cli("project", "list", db=db).stdout and not db.exists()
    created = cli("project", "new", "Code", "--plan", str(CODE), "--notes", "for Eva", db=db)
    assert created.returncode == 0 and "created project 'Code'" in created.stdout, created.stderr
    saved = run_cli("plan", str(CODE), "--save", "Code", "-m", "first cut", "--db", str(db))
    assert saved.returncode == 0, saved.stderr
    assert "6 Sizing" in saved.stdout and "saved as revision 1 of 'Code'" in saved.stdout
    busier = variant(tmp_path, "busier.yaml", traffic={"requests_per_s": 120})
    as_json = run_cli("plan", str(busier), "--save", "Code", "-m", "3x traffic", "--db", str(db), "--json")
    data = json.loads(as_json.stdout)
    assert data["saved"]["revision"]["number"] == 2 and data["sizing"]["chosen"]["replicas"] > 0
    history = cli("history", "Code", db=db)
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[0].split()[:4] == ["rev", "when", "(UTC)", "author"] and "first cut" in lines[2]
    assert "replicas" in lines[3] and "->" in lines[3] and "3x traffic" in lines[3]
    diff = cli("diff", "Code", "1", "2", db=db)
    assert "traffic.requests_per_s: 40 -> 120" in diff.stdout and "Key figures" in diff.stdout
    out = tmp_path / "back.yaml"
    assert cli("checkout", "Code", "2", "-o", str(out), db=db).returncode == 0
    assert load_plan(out) == load_plan(busier)
    refused = cli("checkout", "Code", "2", "-o", str(out), db=db)
    assert refused.returncode == 2 and "--force" in refused.stderr
    shown = cli("project", "show", "Code", db=db)
    assert "Notes       for Eva" in shown.stdout and "traffic.requests_per_s: 120" in shown.stdout
    listed = json.loads(cli("project", "list", "--json", db=db).stdout)
    assert [(p["name"], p["revisions"]) for p in listed["projects"]] == [("Code", 2)]


def test_user_text_on_the_command_line_comes_back_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    for text in HOSTILE[:2]:
        assert cli("project", "new", text, "--notes", text, db=db).returncode == 0
        saved = run_cli("plan", str(CODE), "--save", text, "-m", text, "--db", str(db))
        assert saved.returncode == 0, saved.stderr
        history = json.loads(cli("history", text, "--json", db=db).stdout)
        assert history["project"] == text and history["revisions"][0]["message"] == text
        assert text in cli("history", text, db=db).stdout
        assert json.loads(cli("project", "show", text, "--json", db=db).stdout)["notes"] == text
    conn = sqlite3.connect(db)
    assert {"revisions", "projects"} <= {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()


def test_control_characters_in_messages_are_kept_but_shown_escaped(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cli("project", "new", "P", db=db)
    message = "red \x1b[31malert\x1b[0m\rover"
    assert run_cli("plan", str(CODE), "--save", "P", "-m", message, "--db", str(db)).returncode == 0
    assert json.loads(cli("history", "P", "--json", db=db).stdout)["revisions"][0]["message"] == message
    shown = cli("history", "P", db=db).stdout
    assert "\x1b" not in shown and "\r" not in shown and "red \\x1b[31malert\\x1b[0m\\rover" in shown


def test_project_mistakes_are_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cli("project", "new", "Bank", db=db)
    for args, expected in [
        (("project", "new", "Bank"), "already exists"),
        (("project", "show", "Bnak"), "did you mean 'Bank'"),
        (("history", "Nope"), "no project named 'Nope'"),
        (("diff", "Bank", "1", "2"), "matches no revision"),
        (("project", "rename", "Bank", ""), "cannot be empty"),
    ]:
        result = cli(*args, db=db)
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr, args
    missing = run_cli("plan", str(CODE), "--save", "Bnak", "--db", str(db))
    assert missing.returncode == 2 and "no project named 'Bnak'" in missing.stderr
    for stray in (("-m", "why"), ("--db", str(db))):
        result = run_cli("plan", str(CODE), *stray)
        assert result.returncode == 2 and "goes with --save" in result.stderr, stray


def test_a_corrupt_database_on_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    db.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    before = db.read_bytes()
    result = cli("project", "list", db=db)
    assert result.returncode == 2 and str(db) in result.stderr and "damaged" in result.stderr
    assert "Traceback" not in result.stderr and db.read_bytes() == before


def test_delete_needs_yes_off_a_terminal_and_is_complete(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cli("project", "new", "Bank", db=db)
    assert run_cli("plan", str(CODE), "--save", "Bank", "--db", str(db)).returncode == 0
    refused = cli("project", "delete", "Bank", db=db)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert "Bank" in cli("project", "list", db=db).stdout
    done = cli("project", "delete", "Bank", "--yes", db=db)
    assert done.returncode == 0 and "deleted project 'Bank' (1 revision, 0 runs)" in done.stdout
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT (SELECT count(*) FROM revisions) + (SELECT count(*) FROM findings)").fetchone()[0] == 0
    conn.close()


def _on_a_terminal(args: list[str], answer: str) -> str:
    """Run the planner with stdin and stdout on a pseudo-terminal, answer its question, return the output."""
    import pty  # POSIX only
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: become the planner
        os.execvpe(sys.executable, [sys.executable, "-m", "planner", *args], {**os.environ, **CLI_BACKEND})
    output = b""
    answered = False
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    os.waitpid(pid, 0)
    return output.decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_delete_asks_on_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cli("project", "new", "Bank", db=db)
    kept = _on_a_terminal(["project", "delete", "Bank", "--db", str(db)], "n")
    assert "Delete project 'Bank' with all its revisions and runs" in kept and "nothing deleted" in kept
    assert [p.name for p in workflows.list_projects(db).projects] == ["Bank"]
    gone = _on_a_terminal(["project", "delete", "Bank", "--db", str(db)], "y")
    assert "deleted project 'Bank'" in gone
    assert workflows.list_projects(db).projects == []


def test_rename_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cli("project", "new", "Bank", db=db)
    run_cli("plan", str(CODE), "--save", "Bank", "--db", str(db))
    result = cli("project", "rename", "Bank", "Bank 2026", db=db)
    assert result.returncode == 0 and "renamed to project 'Bank 2026' (1 revision" in result.stdout
    assert workflows.history("Bank 2026", db).entries[0].revision.number == 1


def test_the_default_database_is_in_planner_home(planner_home: Path) -> None:
    assert run_cli("project", "new", "Home").returncode == 0
    assert (planner_home / "projects.db").exists()
    assert str(planner_home / "projects.db") in run_cli("project", "list").stdout


def test_a_saved_revision_is_what_the_plan_file_said(session: workflows.Session, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    workflows.create_project("Code", db=db)
    run_cli("plan", str(CODE), "--save", "Code", "--db", str(db))
    opened = workflows.open_revision("Code", "head", db)
    assert opened.plan == parse_plan(CODE.read_text(encoding="utf-8"), str(CODE))
    assert opened.revision.summary.backend == "builtin", "run_cli sets PLANNER_PERF_BACKEND=builtin"
