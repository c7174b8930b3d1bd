"""Write ``schema-v1.db``: a populated project database of the first schema (``m001_initial`` only).

Kept with the fixture it made, so it can be read; never re-run it for a newer schema: the
point of the fixture is to stay what the first schema wrote. Run from the repository root:
``python tests/data/store/make_schema_v1.py``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent.parent))
os.environ["PLANNER_HOME"] = tempfile.mkdtemp()

from sqlite_utils import Database  # noqa: E402

from planner import workflows  # noqa: E402
from planner.store.content import RevisionDraft, canonical_json, digest_of, inputs_of  # noqa: E402
from planner.store.runs import Decision, RunDraft, baseline_digest  # noqa: E402
from planner.store.schema import MIGRATIONS  # noqa: E402

PLANS = HERE.parent / "plans"
AUTHOR, WHEN = "first-schema", "2026-01-15T09:00:00.000000+00:00"


def main() -> None:
    """Build the database next to this script."""
    target = HERE / "schema-v1.db"
    target.unlink(missing_ok=True)
    db = Database(sqlite3.connect(target), execute_plugins=False)
    MIGRATIONS.apply(db, stop_before="m002_revision_summaries")
    session = workflows.open_session()
    code = workflows.read_plan(PLANS / "code-assistant.yaml")
    envelope = code.model_copy(update={"slo": code.slo.model_copy(update={"scenario": "full-envelope"})})
    impossible = code.model_copy(update={"slo": code.slo.model_copy(update={"ttft_ms": 1.0})})
    bank = _project(db, "Bank assistant", "uid-bank")
    parent = None
    for number, (plan, message) in enumerate(
        [(code, "first cut"), (workflows.read_plan(PLANS / "reasoning-agent.yaml"), "reasoning agent"),
         (envelope, "full envelope"), (impossible, "TTFT 1 ms: nothing fits")], start=1):  # fmt: skip
        parent = _revision(db, session, bank, number, parent, plan, message)
    _run(db, bank, parent)
    _project(db, "Empty one", "uid-empty")
    db.conn.commit()
    db.close()
    print(f"wrote {target}")


def _project(db: Database, name: str, uid: str) -> int:
    cursor = db.execute(
        "INSERT INTO projects (uid, name, notes, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
        [uid, name, "'); DROP TABLE revisions;--", WHEN, AUTHOR],
    )
    return int(cursor.lastrowid or 0)


def _revision(db: Database, session: workflows.Session, pid: int, number: int, parent: str | None,
              plan: object, message: str) -> str:  # fmt: skip
    report = workflows.plan(session, plan, "fixture.yaml", backend="builtin")  # type: ignore[arg-type]
    whole = report.to_json()
    findings, plan_json = whole.pop("findings"), whole.pop("plan")
    draft = RevisionDraft(plan_json, {"source": "fixture.yaml", **whole}, findings, "builtin",
                          {"plugins": {"nvidia": "0.1.0"}}, message, AUTHOR, WHEN)  # fmt: skip
    digest = digest_of(draft.content(parent))
    cursor = db.execute(
        "INSERT INTO revisions (project_id, number, digest, parent_digest, message, author, created_at, backend, "
        "catalog_json, plan_json, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [pid, number, digest, parent, message, AUTHOR, WHEN, "builtin", canonical_json(draft.catalog),
         canonical_json(plan_json), canonical_json(draft.result)],
    )  # fmt: skip
    for position, finding in enumerate(findings):
        db.execute(
            "INSERT INTO findings (revision_id, position, rule_id, severity, finding_json) VALUES (?, ?, ?, ?, ?)",
            [cursor.lastrowid, position, finding["rule_id"], finding["severity"], canonical_json(finding)],
        )
    db.execute("UPDATE projects SET inputs_json = ? WHERE id = ?", [canonical_json(inputs_of(plan_json)), pid])
    return digest


def _run(db: Database, pid: int, revision: str | None) -> None:
    records = [{"ttft_ms": 400.0 + i, "itl_ms": 20.0, "output_tokens": 120} for i in range(20)]
    draft = RunDraft("closed loop c=32", "vllm bench serve", {"concurrency": 32}, records, revision, AUTHOR, WHEN)
    digest = digest_of(draft.content())
    cursor = db.execute(
        "INSERT INTO runs (project_id, number, digest, name, source, revision_digest, author, created_at, "
        "metadata_json, record_count) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
        [pid, digest, draft.name, draft.source, revision, AUTHOR, WHEN, canonical_json(draft.metadata), 20],
    )
    for seq, record in enumerate(records):
        db.execute("INSERT INTO run_records (run_id, seq, record_json) VALUES (?, ?, ?)",
                   [cursor.lastrowid, seq, canonical_json(record)])  # fmt: skip
    db.execute(
        "INSERT INTO baselines (project_id, digest, run_digests_json, note, author, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [pid, baseline_digest([digest], "first measurement", AUTHOR, WHEN), canonical_json([digest]),
         "first measurement", AUTHOR, WHEN],
    )  # fmt: skip
    decision = Decision("raise max_num_seqs", "KV-bound decode", {"knob": "max_num_seqs"}, revision, AUTHOR, WHEN)
    db.execute(
        "INSERT INTO decisions (project_id, digest, revision_digest, decision, rationale, details_json, author, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [pid, decision.digest, revision, decision.decision, decision.rationale, canonical_json(decision.details),
         AUTHOR, WHEN],
    )  # fmt: skip


if __name__ == "__main__":
    main()
