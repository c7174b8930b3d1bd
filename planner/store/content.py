"""What the store keeps, as plain values, and how each is addressed by its content.

A revision, a benchmark run, a baseline and a decision are identified by the SHA-256 of
their content in canonical JSON (keys sorted, no spaces, UTF-8), so the same thing saved
on two laptops has the same address and importing it twice adds it once.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Top-level keys of a plan that hold steps 1-4, the customer's inputs.
INPUT_STEPS = ("use_case", "workload", "traffic", "slo")


#: One encoder for every call: ``json.dumps`` with options builds a new one each time, which
#: is a third of the cost of writing a run's 100,000 records.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, non-ASCII kept, no NaN or infinity.

    JSON has no infinity, so a figure that is not finite is written as ``null``.
    """
    try:
        return _CANONICAL.encode(value)
    except ValueError:
        return canonical_json(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def digest_of(value: Any) -> str:
    """The SHA-256 (hex) of ``value``'s canonical JSON: its content address."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def now_utc() -> str:
    """The current time as an ISO 8601 string in UTC, to the microsecond."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def current_user() -> str:
    """The operating-system user running the planner (``unknown`` when the system cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def inputs_of(plan: dict[str, Any]) -> dict[str, Any]:
    """Steps 1-4 (use case, workload, traffic, SLO) of a plan in JSON form."""
    return {step: plan[step] for step in INPUT_STEPS if step in plan}


@dataclass(frozen=True)
class RevisionDraft:
    """One iteration of the 5-9 loop as the caller hands it to the store.

    :param plan: the plan as written (JSON form of :class:`planner.plan.Plan`).
    :param result: what sizing it gave: resolved specs, effective values, open choices,
        the sizing and, for full-envelope plans, the envelope (``PlanReport.to_json()``
        without the plan and the findings).
    :param findings: the rules' findings (JSON form of :class:`planner.rulepack.Finding`).
    :param backend: the performance model asked for (``auto``, ``builtin``, ...).
    :param catalog: what the catalog was: plugin versions and calibration data hashes.
    """

    plan: dict[str, Any]
    result: dict[str, Any]
    findings: list[dict[str, Any]]
    backend: str
    catalog: dict[str, Any]
    message: str
    author: str = field(default_factory=current_user)
    created_at: str = field(default_factory=now_utc)

    def content(self, parent: str | None) -> dict[str, Any]:
        """Everything the digest covers, the parent revision's digest included."""
        return {
            "plan": self.plan,
            "result": self.result,
            "findings": self.findings,
            "backend": self.backend,
            "catalog": self.catalog,
            "message": self.message,
            "author": self.author,
            "created_at": self.created_at,
            "parent": parent,
        }


@dataclass(frozen=True)
class RevisionSummary:
    """A revision's one-line figures, read without its JSON (what history lists).

    ``replicas`` is the fleet the plan calls for: the simulated envelope's for full-envelope
    plans, else the estimate's; ``None`` (and no GPU) when nothing met the SLOs.
    """

    number: int
    digest: str
    parent: str | None
    message: str
    author: str
    created_at: str
    backend: str
    deployment: str | None
    gpu: str | None
    replicas: int | None
    eur_per_1m_tokens: float | None
    errors: int
    warnings: int

    def to_json(self) -> dict[str, Any]:
        """Every field, by name."""
        return dict(self.__dict__)


def summary_figures(result: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of :class:`RevisionSummary` taken from a revision's result and findings.

    Migration ``m002_revision_summaries`` computes the same with SQL's ``json_extract`` for
    revisions saved before it; a test checks that the two agree.
    """
    chosen = (result.get("sizing") or {}).get("chosen") or {}
    envelope = result.get("envelope") or {}
    operating = (chosen.get("operating_point") or {}).get("deployment") or {}
    replicas = envelope.get("replicas")
    if replicas is None:
        replicas = chosen.get("replicas")
    return {
        "deployment": chosen.get("deployment"),
        "gpu": operating.get("gpu"),
        "replicas": replicas,
        "eur_per_1m_tokens": chosen.get("eur_per_1m_tokens"),
        "errors": sum(f.get("severity") == "error" for f in findings),
        "warnings": sum(f.get("severity") == "warning" for f in findings),
    }


@dataclass(frozen=True)
class Revision:
    """A stored revision in full: its summary and everything it was saved with."""

    summary: RevisionSummary
    plan: dict[str, Any]
    result: dict[str, Any]
    findings: list[dict[str, Any]]
    catalog: dict[str, Any]

    def content(self) -> dict[str, Any]:
        """What its digest covers (see :meth:`RevisionDraft.content`)."""
        s = self.summary
        draft = RevisionDraft(
            self.plan, self.result, self.findings, s.backend, self.catalog, s.message, s.author, s.created_at
        )
        return draft.content(s.parent)

    @property
    def intact(self) -> bool:
        """True when the stored content still hashes to the revision's digest."""
        return digest_of(self.content()) == self.summary.digest

    def to_json(self) -> dict[str, Any]:
        """The summary and the full content."""
        return {
            **self.summary.to_json(),
            "plan": self.plan,
            "result": self.result,
            "findings": self.findings,
            "catalog": self.catalog,
        }
