"""What the decision record shows, as plain JSON-ready values gathered by the report workflow.

The record is written from what the project store kept (the revision signed off, its findings,
the revisions before it, the runs, the baseline and the decisions) and from what the workflows
compute on it (the measured envelope, predicted against measured, the TCO and its growth). Kept
as plain values so the writer decides nothing and can be tested on any content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RevisionStep:
    """One revision in the record's history and what its findings did against the one before.

    :param summary: the revision's one-line figures (``RevisionSummary.to_json()``).
    :param raised: findings this revision has that the one before did not (all of the first's).
    :param resolved: findings of the revision before that this one no longer has.
    :param changed: findings whose severity or message changed (``Change.to_json()``).
    """

    summary: dict[str, Any]
    raised: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MeasuredEvidence:
    """The runs measured against the plan (step 10).

    :param runs_from: which runs: the baseline's, or every run when no baseline is set.
    :param envelope: the measured envelope against the revision's SLOs (``BenchEnvelopeReport.to_json()``).
    :param comparisons: each run's figures against the simulated prediction at its load, with
        the prediction's band (``Comparison.to_json()``).
    :param deployment: the configuration the prediction is of.
    """

    runs_from: str
    envelope: dict[str, Any]
    comparisons: list[dict[str, Any]]
    deployment: str


@dataclass(frozen=True)
class DecisionRecord:
    """Everything the decision record shows.

    :param project: the project (``Project.to_json()``).
    :param revision: the revision signed off, in full (``Revision.to_json()``: plan, result, findings).
    :param history: every revision up to the one signed off, oldest first.
    :param runs: the project's benchmark runs (``RunSummary.to_json()``).
    :param baseline: the current baseline (``Baseline.to_json()``), if one is set.
    :param measured: the runs against the prediction, when the project has runs.
    :param decisions: the recorded decisions (``Decision.to_json()``), oldest first.
    :param tco: the revision's plan priced (``TcoReport.to_json()``), when it could be.
    :param tco_note: why there is no TCO, or where it differs from the stored revision.
    """

    project: dict[str, Any]
    database: str
    revision: dict[str, Any]
    history: list[RevisionStep]
    runs: list[dict[str, Any]]
    baseline: dict[str, Any] | None
    measured: MeasuredEvidence | None
    decisions: list[dict[str, Any]]
    tco: dict[str, Any] | None
    tco_note: str
    planner_version: str
    generated_at: str

    @property
    def chosen(self) -> dict[str, Any]:
        """The chosen configuration's sizing as stored (empty when nothing met the plan)."""
        return dict((self.revision.get("result", {}).get("sizing") or {}).get("chosen") or {})

    @property
    def simulation(self) -> dict[str, Any]:
        """The simulation's decision on the chosen fleet (empty when it was not simulated)."""
        return dict(self.chosen.get("simulation") or {})
