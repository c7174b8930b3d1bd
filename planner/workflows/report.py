"""The decision record as a user action: ``planner report PROJECT --out record.html``.

It reads what the project store kept (the revision signed off, every revision before it with
its findings, the runs, the baseline, the decisions), measures the runs against the revision's
prediction and prices the revision's plan, and writes one self-contained HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from planner import __version__
from planner.errors import PlannerError
from planner.report import SECTIONS, DecisionRecord, MeasuredEvidence, RevisionStep, write_record
from planner.store import Baseline, Revision
from planner.store.content import now_utc
from planner.workflows.projects import database_path, diff, list_projects, open_revision, show_project
from planner.workflows.session import Progress, Session

#: File name endings the record is written under.
HTML_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True)
class ReportResult:
    """A record written: where, of which revision, its sections and size."""

    path: Path
    project: str
    revision: int
    size_bytes: int
    runs: int
    decisions: int
    priced: bool

    def to_json(self) -> dict[str, Any]:
        """Every field by name, and the sections in order."""
        return {**self.__dict__, "path": str(self.path), "sections": [title for _, title, _ in SECTIONS]}


def report(
    session: Session,
    ref: str,
    out: Path,
    *,
    years: int | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
    db: Path | None = None,
) -> ReportResult:
    """Write the decision record of a project's revision (``PROJECT`` for its latest, ``PROJECT@REV``
    for another: a number or a digest prefix) to ``out``, whole or not at all.

    :param years: the growth view's horizon (default: the plan's ``costs.horizon_years``, else 3).
    :param backend: the performance model of the predictions (default: the one the revision was sized with).
    :raises PlannerError: for an output path that is not an ``.html`` file in an existing folder,
        and as :func:`decision_record` does.
    """
    out = _checked_output(Path(out))  # before any work: a typo costs no wait
    record = decision_record(session, ref, years=years, backend=backend, progress=progress, db=db)
    size = write_record(record, out)
    return ReportResult(
        out, record.project["name"], record.revision["number"], size, len(record.runs), len(record.decisions),
        record.tco is not None,
    )  # fmt: skip


def decision_record(
    session: Session,
    ref: str,
    *,
    years: int | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
    db: Path | None = None,
) -> DecisionRecord:
    """What the decision record of ``ref`` shows: the revision as stored with every revision before
    it, the runs against its prediction, its plan priced, the baseline and the decisions.

    :raises PlannerError: for a database, project or revision that is not there, or a project without a revision.
    """
    _check_database(ref, db)
    project, rev = _project_and_revision(ref, db)
    shown = show_project(project, db)
    if not shown.revisions:
        raise PlannerError(
            f"project {project!r} has no revision to sign off",
            path=str(database_path(db)),
            fix=f"size and save a plan first: planner plan PLAN --save {project!r}",
        )
    opened = open_revision(project, rev or "head", db)
    signed = opened.revision
    used = backend or signed.summary.backend
    tco, note = _priced(session, opened, years, used, progress)
    return DecisionRecord(
        project=shown.project.to_json(),
        database=str(shown.path),
        revision=signed.to_json(),
        history=_history(project, [s.number for s in shown.revisions if s.number <= signed.summary.number], db),
        runs=[r.to_json() for r in shown.runs],
        baseline=shown.baseline.to_json() if shown.baseline else None,
        measured=_measured(session, project, signed, opened.plan, shown.baseline, used, db),
        decisions=[d.to_json() for d in shown.decisions],
        tco=tco,
        tco_note=note,
        planner_version=__version__,
        generated_at=now_utc()[:19].replace("T", " "),
    )


def _checked_output(out: Path) -> Path:
    """``out`` when it is an HTML file name in a folder that exists and is not a folder itself."""
    if out.suffix.lower() not in HTML_SUFFIXES:
        raise PlannerError(
            "the record is an HTML page", path=str(out), fix="give a file name ending in .html, e.g. record.html"
        )
    if out.is_dir():
        raise PlannerError("that is a folder", path=str(out), fix="give a file name inside it, e.g. record.html")
    if not out.parent.is_dir():
        raise PlannerError(
            "the folder does not exist", path=str(out.parent), fix="create it first, or write the record elsewhere"
        )
    return out


def _check_database(ref: str, db: Path | None) -> None:
    database = database_path(db)
    if not database.exists():
        raise PlannerError(
            f"there is no projects database at {database}, so no project {ref!r}",
            path=str(database),
            fix="pass --db FILE for another database, or save a plan first: planner plan PLAN --save NAME",
        )


def _project_and_revision(ref: str, db: Path | None) -> tuple[str, str]:
    """``PROJECT@REV`` split at its last ``@``, unless a project is named ``ref`` whole (``team@bank``)."""
    if "@" not in ref or ref in {p.name for p in list_projects(db).projects}:
        return ref, ""
    project, _, rev = ref.rpartition("@")
    return project, rev


def _history(project: str, numbers: list[int], db: Path | None) -> list[RevisionStep]:
    """Each revision with the findings it raised, resolved and changed against the one before."""
    if not numbers:
        return []
    first = open_revision(project, str(numbers[0]), db).revision
    steps = [RevisionStep(first.summary.to_json(), raised=list(first.findings))]
    for before, after in pairwise(numbers):
        changed = diff(project, str(before), str(after), db)
        steps.append(
            RevisionStep(
                changed.after.to_json(),
                raised=changed.findings_added,
                resolved=changed.findings_resolved,
                changed=[c.to_json() for c in changed.findings_changed],
            )
        )
    return steps


def _measured(
    session: Session,
    project: str,
    revision: Revision,
    plan_: Any,
    baseline: Baseline | None,
    backend: str,
    db: Path | None,
) -> MeasuredEvidence | None:
    """The baseline's runs (every run without one) against the revision's SLOs and its prediction."""
    from planner.bench.baseline import compare, stored_deployment
    from planner.bench.measured import measured_envelope
    from planner.plan_simulation import targets_of
    from planner.workflows.bench import BenchEnvelopeReport, project_runs

    runs = project_runs(project, db, baseline.runs if baseline else None)
    if not runs:
        return None
    targets = targets_of(plan_)
    slo_from = f"revision {revision.summary.number}'s SLOs"
    envelope = BenchEnvelopeReport(measured_envelope(runs, targets), targets, slo_from, len(runs))
    runs_from = f"the baseline ({len(runs)} runs)" if baseline else f"every run ({len(runs)}; no baseline set)"
    chosen = ((revision.result.get("sizing") or {}).get("chosen") or {}).get("operating_point", {}).get("deployment")
    if not chosen:
        return MeasuredEvidence(runs_from, envelope.to_json(), [], "no chosen configuration")
    try:
        dep = stored_deployment(plan_, chosen, session.catalog)
        comparisons = compare(plan_, dep, session.performance_model(backend), runs)
    except PlannerError as exc:  # e.g. today's catalog lacks the GPU: the envelope still stands
        return MeasuredEvidence(runs_from, envelope.to_json(), [], f"not predicted again: {exc.message}")
    return MeasuredEvidence(runs_from, envelope.to_json(), [c.to_json() for c in comparisons], dep.label)


def _priced(
    session: Session, opened: Any, years: int | None, backend: str, progress: Progress | None
) -> tuple[dict[str, Any] | None, str]:
    """The revision's plan priced (as ``planner tco PROJECT@REV``), or why it cannot be, and a note
    when today's catalog sizes it differently from the stored revision."""
    from planner.workflows.costs import tco

    source = f"{opened.project} revision {opened.revision.summary.number}"
    try:
        priced = tco(session, opened.plan, source, years=years, backend=backend, progress=progress)
    except PlannerError as exc:
        return None, f"Not priced: {exc.message} ({exc.fix})" if exc.fix else f"Not priced: {exc.message}"
    stored = opened.revision.summary
    now = priced.to_json()
    note = ""
    fleet = now["tco"]["fleet"]
    replicas = fleet["replicas_for_load"] + fleet["spares"]
    if now["tco"]["deployment"] != stored.deployment or replicas != stored.replicas:
        note = (
            f"Priced with today's catalog, which sizes this plan as {replicas} x {now['tco']['deployment']} where "
            f"the revision stored {stored.replicas} x {stored.deployment}: save a new revision to sign that off."
        )
    return now, note
