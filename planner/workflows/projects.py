"""Projects as user actions: keep the 5-9 loop's revisions, compare them, hand a project over.

Every action takes the database file (``db``; ``None`` for the default one in the user's
planner folder) and plain inputs, opens the store for the action only (so the desktop app
and the command line can share the file), and returns a typed result. Errors are
:class:`~planner.errors.PlannerError` s naming the file and the fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.catalogfiles import load_entries
from planner.corrections import BACKENDS_FILE
from planner.errors import PlannerError, StoreError
from planner.paths import default_projects_database
from planner.plan import Plan
from planner.planfile import parse_plan, plan_text
from planner.sizing.efficiency import EFFICIENCY_FILE
from planner.store import (
    Baseline,
    Change,
    Decision,
    Exported,
    Imported,
    Project,
    Revision,
    RevisionDiff,
    RevisionDraft,
    RevisionSummary,
    Run,
    RunDraft,
    RunSummary,
)
from planner.store import projects as stored
from planner.store import runs as measured
from planner.store.content import INPUT_STEPS, inputs_of
from planner.store.diff import diff_revisions, flatten, history_changes
from planner.store.portable import export_project as write_project_file
from planner.store.portable import import_project as read_into_store
from planner.store.portable import read_project_file
from planner.workflows.costs import revision_of
from planner.workflows.planning import PlanReport, plan, read_plan
from planner.workflows.session import Progress, Session, default_backend

if TYPE_CHECKING:
    from planner.store.database import ProjectStore


def database_path(db: Path | None = None) -> Path:
    """The database an action uses: ``db``, else ``projects.db`` in the user's planner folder."""
    return Path(db) if db is not None else default_projects_database()


def _store(db: Path | None, *, create: bool = False) -> ProjectStore:
    from planner.store.database import open_store

    return open_store(database_path(db), create=create)


@dataclass
class ProjectReport:
    """A project and where it is kept; ``show`` adds its revisions, runs, baseline and decisions."""

    path: Path
    project: Project
    revisions: list[RevisionSummary] = field(default_factory=list)
    runs: list[RunSummary] = field(default_factory=list)
    baseline: Baseline | None = None
    decisions: list[Decision] = field(default_factory=list)

    def input_fields(self) -> dict[str, Any]:
        """The project's steps 1-4 inputs that are set, field by field (``"slo.ttft_ms": 500.0``), step by step."""
        inputs = self.project.inputs or {}
        fields = flatten({step: inputs[step] for step in INPUT_STEPS if step in inputs})
        return {name: value for name, value in fields.items() if value is not None}

    def to_json(self) -> dict[str, Any]:
        """The project with its lists, and the database file."""
        return {
            "database": str(self.path),
            **self.project.to_json(),
            "revision_list": [r.to_json() for r in self.revisions],
            "run_list": [r.to_json() for r in self.runs],
            "baseline": self.baseline.to_json() if self.baseline else None,
            "decisions": [d.to_json() for d in self.decisions],
        }


def create_project(name: str, *, plan_: Plan | None = None, notes: str = "", db: Path | None = None) -> ProjectReport:
    """Create an empty project, with the steps 1-4 inputs of ``plan_`` when given.

    :raises StoreError: when the name is taken.
    """
    inputs = inputs_of(plan_.model_dump(mode="json")) if plan_ is not None else None
    with _store(db, create=True) as store:
        return ProjectReport(store.path, stored.create_project(store, name, notes=notes, inputs=inputs))


@dataclass
class ProjectList:
    """Every project in one database (none when the file does not exist yet)."""

    path: Path
    projects: list[Project]

    def to_json(self) -> dict[str, Any]:
        """The database file and each project with its head revision's summary."""
        return {"database": str(self.path), "projects": [p.to_json() for p in self.projects]}


def list_projects(db: Path | None = None) -> ProjectList:
    """The projects in the database, by name."""
    path = database_path(db)
    if not path.exists():
        return ProjectList(path, [])
    with _store(db) as store:
        return ProjectList(store.path, stored.projects(store))


def show_project(name: str, db: Path | None = None) -> ProjectReport:
    """A project with all its revisions (summaries), runs, current baseline and decisions."""
    with _store(db) as store:
        baselines = measured.baselines(store, name)
        return ProjectReport(
            store.path,
            stored.project(store, name),
            stored.revision_summaries(store, name),
            measured.run_summaries(store, name),
            baselines[-1] if baselines else None,
            measured.decisions(store, name),
        )


def rename_project(name: str, new_name: str, db: Path | None = None) -> ProjectReport:
    """Give a project another name."""
    with _store(db) as store:
        return ProjectReport(store.path, stored.rename_project(store, name, new_name))


def delete_project(name: str, db: Path | None = None) -> ProjectReport:
    """Delete a project and everything it holds, all at once or not at all (ask the user first)."""
    with _store(db) as store:
        return ProjectReport(store.path, stored.delete_project(store, name))


# ------------------------------------------------------------------ revisions


def catalog_versions(session: Session) -> dict[str, Any]:
    """What the catalog was when a plan was sized: the planner's and each loaded plugin's
    version, and the measurement files the efficiency factors and backend corrections were
    fitted on (the ``data`` of their catalog entries, with each file's hash)."""
    from planner import __version__

    plugins = {info.name: info.version for info in session.host.plugins.values() if info.status == "loaded"}
    return {
        "planner": __version__,
        "plugins": dict(sorted(plugins.items())),
        "calibration": sorted({str(e["data"]) for e in load_entries(EFFICIENCY_FILE) if e.get("data")}),
        "corrections": sorted({str(e["data"]) for e in load_entries(BACKENDS_FILE) if e.get("data")}),
    }


@dataclass
class SavedRevision:
    """A revision just stored."""

    path: Path
    project: str
    revision: RevisionSummary

    def to_json(self) -> dict[str, Any]:
        """The database, the project and the revision's summary."""
        return {"database": str(self.path), "project": self.project, "revision": self.revision.to_json()}


def save_revision(
    session: Session,
    report: PlanReport,
    project: str,
    message: str = "",
    *,
    backend: str | None = None,
    db: Path | None = None,
) -> SavedRevision:
    """Store a sized and checked plan (what :func:`planner.workflows.plan` returned) as the
    project's next revision, with the backend, the catalog versions, the OS user and the time.

    :param backend: the performance model the report was sized with (default: the session's default).
    """
    whole = report.to_json()
    findings = whole.pop("findings")
    plan_json = whole.pop("plan")
    draft = RevisionDraft(
        plan=plan_json,
        result={"source": report.source, **whole},
        findings=findings,
        backend=backend or default_backend(),
        catalog=catalog_versions(session),
        message=message,
    )
    with _store(db) as store:
        return SavedRevision(store.path, project, stored.add_revision(store, project, draft))


@dataclass
class SavedPlan:
    """``planner plan PLAN --save PROJECT``: the report and the revision it became."""

    report: PlanReport
    saved: SavedRevision

    def to_json(self) -> dict[str, Any]:
        """The plan report's JSON with ``saved``: the database, project and revision."""
        return {**self.report.to_json(), "saved": self.saved.to_json()}


def plan_and_save(
    session: Session,
    plan_: Plan,
    source: str,
    project: str,
    message: str = "",
    *,
    backend: str | None = None,
    progress: Progress | None = None,
    db: Path | None = None,
) -> SavedPlan:
    """Size and check a plan (:func:`planner.workflows.plan`) and store it as the project's next revision.

    The project must exist: it is checked before the plan is sized, so a typo costs no wait.
    """
    with _store(db) as store:
        stored.project(store, project)
    report = plan(session, plan_, source, backend=backend, progress=progress)
    return SavedPlan(report, save_revision(session, report, project, message, backend=backend, db=db))


@dataclass
class HistoryEntry:
    """One revision and the history figures that changed since the one before."""

    revision: RevisionSummary
    changes: list[Change]

    def to_json(self) -> dict[str, Any]:
        """The summary with ``changes``."""
        return {**self.revision.to_json(), "changes": [c.to_json() for c in self.changes]}


@dataclass
class History:
    """``planner history``: a project's revisions, oldest first."""

    path: Path
    project: str
    entries: list[HistoryEntry]

    def to_json(self) -> dict[str, Any]:
        """The database, the project and every revision with its changes."""
        return {"database": str(self.path), "project": self.project, "revisions": [e.to_json() for e in self.entries]}


def history(project: str, db: Path | None = None) -> History:
    """Every revision of the project with what changed: GPU, configuration, replicas, EUR per 1M tokens, errors."""
    with _store(db) as store:
        summaries = stored.revision_summaries(store, project)
    by_digest = {s.digest: s for s in summaries}
    entries = [HistoryEntry(s, history_changes(by_digest.get(s.parent or ""), s)) for s in summaries]
    return History(database_path(db), project, entries)


def diff(project: str, rev_a: str, rev_b: str, db: Path | None = None) -> RevisionDiff:
    """Two revisions field by field: inputs, chosen configuration, key figures, provenance, findings."""
    with _store(db) as store:
        before, after = stored.load_revision(store, project, rev_a), stored.load_revision(store, project, rev_b)
    return diff_revisions(project, before, after)


@dataclass
class OpenedRevision:
    """A stored revision in full, with its plan read back as a :class:`Plan`."""

    project: str
    revision: Revision
    plan: Plan

    def to_json(self) -> dict[str, Any]:
        """The project and the revision in full."""
        return {"project": self.project, **self.revision.to_json()}


def open_revision(project: str, ref: str = "head", db: Path | None = None) -> OpenedRevision:
    """One revision (number, ``head`` or digest prefix) with everything it was saved with.

    :raises StoreCorruptError: when its content no longer matches its digest.
    """
    with _store(db) as store:
        revision = stored.load_revision(store, project, ref)
        if not revision.intact:
            from planner.store.database import damaged

            raise damaged(store.path, f"revision {revision.summary.number} of {project!r} does not match its digest")
    where = f"{project} revision {revision.summary.number}.json"
    return OpenedRevision(project, revision, parse_plan(json.dumps(revision.plan), where))


#: File name endings that make a command's argument a plan file rather than a project's name.
PLAN_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class PlanInput:
    """The plan a command acts on: read from a plan file, or a saved project's revision.

    ``source`` names it in messages; ``revision`` says which version it is in a workbook's or a
    generated file's header: the project's revision number and digest, else the SHA-256 of the
    plan file's content.
    """

    plan: Plan
    source: str
    project: str | None = None
    revision: RevisionSummary | None = None

    @property
    def version(self) -> str:
        """The version of the plan, as written into the files made from it."""
        if self.revision is not None:
            return f"{self.project} revision {self.revision.number} (sha256:{self.revision.digest[:12]})"
        return revision_of(self.plan)


def open_plan(ref: str | Path, db: Path | None = None) -> PlanInput:
    """The plan named by a command's argument: a plan file when one is there (or the name ends in
    .yaml, .yml or .json, or has a folder in it), else a saved project, ``PROJECT`` for its latest
    revision or ``PROJECT@REV`` for another (a number or a digest prefix).

    :raises InputError: for a plan file that is missing or invalid.
    :raises StoreError: when the project or the revision is not in the database.
    """
    text = str(ref)
    path = Path(text)
    if path.exists() or path.suffix.lower() in PLAN_SUFFIXES or len(path.parts) > 1:
        return PlanInput(read_plan(path), text)
    project, _, rev = text.partition("@")
    database = database_path(db)
    if not database.exists():
        raise PlannerError(
            f"{text!r} is neither a plan file nor a saved project: there is no file of that name and no "
            f"projects database at {database}",
            path=text,
            fix="give the path of a plan file (.yaml or .json), or save the plan first: planner plan PLAN --save NAME",
        )
    opened = open_revision(project, rev or "head", db)
    return PlanInput(
        opened.plan, f"{project} revision {opened.revision.summary.number}", project, opened.revision.summary
    )


@dataclass
class CheckedOut:
    """A revision's plan written back to a plan file."""

    project: str
    revision: RevisionSummary
    path: Path

    def to_json(self) -> dict[str, Any]:
        """The project, the revision and the file written."""
        return {"project": self.project, "revision": self.revision.to_json(), "path": str(self.path)}


def checkout(project: str, ref: str, output: Path, *, force: bool = False, db: Path | None = None) -> CheckedOut:
    """Write a revision's plan to ``output`` (YAML, or JSON for a ``.json`` name).

    :raises PlannerError: when ``output`` exists and ``force`` is not given.
    """
    output = Path(output)
    if output.exists() and not force:
        raise PlannerError(
            "the file exists", path=str(output), fix="choose another name, or pass --force to replace it"
        )
    opened = open_revision(project, ref, db)
    try:
        output.write_text(plan_text(opened.plan, as_json=output.suffix.lower() == ".json"), encoding="utf-8")
    except OSError as exc:
        raise PlannerError(f"cannot write the file: {exc.strerror}", path=str(output), fix="check the folder") from exc
    return CheckedOut(project, opened.revision.summary, output)


# ------------------------------------------------------------ export and import


def default_export_path(project: str) -> Path:
    """``NAME.planner.json`` in the current folder, the name reduced to letters, digits, ``.``, ``_`` and ``-``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project).strip("-.") or "project"
    return Path(f"{slug}.planner.json")


def export_project(project: str, output: Path | None = None, db: Path | None = None) -> Exported:
    """Write the project with everything it holds to one project file (JSON with a SHA-256 checksum)."""
    with _store(db) as store:
        return write_project_file(store, project, Path(output) if output else default_export_path(project))


@dataclass
class ImportReport:
    """What ``planner project import`` added to which database."""

    path: Path
    imported: Imported

    def to_json(self) -> dict[str, Any]:
        """The database and the counts added and already present."""
        return {"database": str(self.path), **self.imported.__dict__}


def import_project(file: Path, *, rename_to: str | None = None, db: Path | None = None) -> ImportReport:
    """Add a project file to the database; what it already holds is not added twice.

    :raises StoreError: a foreign or damaged file, a bad checksum, a newer schema, or a name taken.
    """
    source = Path(file)
    if not source.is_file():
        raise StoreError("no such file", path=str(file), fix="give the path of a file from `planner project export`")
    checked = read_project_file(source)  # before the database is opened: a refused file creates nothing
    with _store(db, create=True) as store:
        return ImportReport(store.path, read_into_store(store, checked, source, rename_to=rename_to))


# ------------------------------------------- benchmark runs, baseline, decisions (steps 10-11)


def add_run(project: str, run: RunDraft, db: Path | None = None) -> RunSummary:
    """Store a benchmark run with its per-request records (once: the same run again is not duplicated)."""
    with _store(db) as store:
        return measured.add_run(store, project, run)[0]


def list_runs(project: str, db: Path | None = None) -> list[RunSummary]:
    """The project's runs without their records."""
    with _store(db) as store:
        return measured.run_summaries(store, project)


def load_run(project: str, ref: str, db: Path | None = None) -> Run:
    """One run with its records (by number or digest prefix)."""
    with _store(db) as store:
        return measured.load_run(store, project, ref)


def set_baseline(project: str, runs: list[str], note: str = "", db: Path | None = None) -> Baseline:
    """Make these runs (numbers or digest prefixes) the project's baseline (step 10)."""
    with _store(db) as store:
        return measured.set_baseline(store, project, list(runs), note)


def record_decision(project: str, decision: Decision, db: Path | None = None) -> Decision:
    """Store a scaling decision with its rationale (step 11)."""
    with _store(db) as store:
        return measured.add_decision(store, project, decision)[0]
