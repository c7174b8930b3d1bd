"""Benchmarks as user actions (step 10): import result files, keep them in a project.

The importers come from the plugins (``planner_benchmark_importers``); a file is read whole,
every file before anything is stored, and the runs of one call are stored in one
transaction, so a bad file leaves the project as it was. Importing a file again adds
nothing: a run is known by its file's SHA-256 and its place in the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.bench.importing import benchmark_importers, read_benchmark_files
from planner.measured_run import MeasuredRun
from planner.store import RunDraft, RunSummary
from planner.workflows.session import Session


@dataclass
class BenchImportReport:
    """The runs read from the files, and what was stored in the project (when one was named)."""

    runs: list[MeasuredRun]
    project: str | None = None
    stored: list[RunSummary] = field(default_factory=list)
    already: list[RunSummary] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Each run without its records (their count instead), and the stored runs' numbers."""
        return {
            "project": self.project,
            "runs": [run.metadata() | {"name": run.name, "records": len(run.records)} for run in self.runs],
            "stored": [s.number for s in self.stored],
            "already_stored": [s.number for s in self.already],
        }


def import_benchmarks(
    session: Session, files: Sequence[Path], *, project: str | None = None, db: Path | None = None
) -> BenchImportReport:
    """Read benchmark result files (format detected per file) and, with ``project``, store their runs.

    :raises BenchmarkFileError: naming the file, the format guessed and the field that failed;
        nothing is stored then.
    """
    runs = read_benchmark_files([Path(f) for f in files], benchmark_importers(session.host))
    report = BenchImportReport(runs, project)
    if project is None:
        return report
    from planner.store import runs as measured
    from planner.store.database import open_store
    from planner.workflows.projects import database_path

    drafts = _drafts(runs)
    with open_store(database_path(db)) as store:
        known = {_identity(s.metadata): s for s in measured.run_summaries(store, project)}
        fresh = [d for d in drafts if _identity(d.metadata) not in known]
        report.already = [known[_identity(d.metadata)] for d in drafts if _identity(d.metadata) in known]
        report.stored = [summary for summary, _added in measured.add_runs(store, project, fresh)]
    return report


def _drafts(runs: Sequence[MeasuredRun]) -> list[RunDraft]:
    digests: dict[str, str] = {}
    drafts = []
    for run in runs:
        path = run.source.split("#", 1)[0]
        if path not in digests:
            digests[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        metadata = run.metadata() | {"file_sha256": digests[path]}
        drafts.append(RunDraft(name=run.name, source=run.source, metadata=metadata, records=run.records))
    return drafts


def _identity(metadata: dict[str, Any]) -> tuple[Any, Any]:
    """A run is the same run when it comes from the same bytes at the same place in the file."""
    source = str(metadata.get("source", ""))
    return metadata.get("file_sha256"), source.rsplit("#", 1)[1] if "#" in source else ""
