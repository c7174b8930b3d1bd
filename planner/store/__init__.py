"""The project store: projects, plan revisions, benchmark runs and decisions in one SQLite file.

- :mod:`planner.store.database`: opening the file safely, its settings, transactions and errors;
- :mod:`planner.store.schema`: the append-only migrations;
- :mod:`planner.store.content`: what is stored, as values, each addressed by its content;
- :mod:`planner.store.projects`: projects and their chains of revisions;
- :mod:`planner.store.runs`: benchmark runs with per-request records, baselines, decisions;
- :mod:`planner.store.portable`: project files for another laptop (export, import);
- :mod:`planner.store.diff`: what changed between two revisions.

It sits under the application layer (:mod:`planner.workflows`), which is what front ends call.
Only :mod:`planner.store.database` imports sqlite-utils, and only :func:`open_store` imports it,
so importing the workflows (every command does) costs nothing until a project is opened.
"""

from __future__ import annotations

from planner.store.content import Revision, RevisionDraft, RevisionSummary
from planner.store.diff import Change, RevisionDiff
from planner.store.portable import Exported, Imported
from planner.store.projects import Project
from planner.store.runs import Baseline, Decision, Run, RunDraft, RunSummary

__all__ = [
    "Baseline",
    "Change",
    "Decision",
    "Exported",
    "Imported",
    "Project",
    "Revision",
    "RevisionDiff",
    "RevisionDraft",
    "RevisionSummary",
    "Run",
    "RunDraft",
    "RunSummary",
]
