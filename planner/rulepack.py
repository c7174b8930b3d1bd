"""The rule-pack contract: rules as data that the rules engine evaluates over plan facts.

A rule matches one *fact* (a dict with a ``kind``, built by :mod:`planner.facts`) with a
condition in the rules engine's JSON pattern language, for example::

    Rule(
        id="headroom.missing",
        principle="Explicit provisioning headroom",
        severity="error",
        fact="traffic",
        when={"$lte": {"headroom": 0}},
        message="No provisioning headroom: growth {growth} and burst factor {burst_factor}.",
        remedy="Set traffic.growth and traffic.burst_factor; headroom = max(growth, burst - 1).",
        evidence=["headroom", "growth", "burst_factor"],
    )

``when`` uses the operators ``$lt``, ``$lte``, ``$gt``, ``$gte``, ``$neq``, ``$and``,
``$or`` and plain ``{"field": value}`` equality. ``message`` and ``remedy`` are
``str.format`` templates over the fact's fields. Packs are validated strictly when
loaded; a pack whose rule fails (bad template, bad condition) is reported as a problem
of that pack, and the other packs still run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning", "info"]


class Rule(BaseModel):
    """One rule: which fact it looks at, when it fires, and what it says."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Stable id, e.g. headroom.missing.")
    principle: str = Field(min_length=1, description="The guiding principle or trap it encodes.")
    severity: Severity
    fact: str = Field(min_length=1, description="Kind of fact the rule matches (see planner.facts).")
    when: dict[str, Any] = Field(description="Condition on the fact, in the rules engine's JSON pattern language.")
    message: str = Field(min_length=1, description="What fired, a template over the fact's fields.")
    remedy: str = Field(min_length=1, description="How to fix it, a template over the fact's fields.")
    evidence: list[str] = Field(default_factory=list, description="Fact fields reported as the numbers that fired it.")


class RulePack(BaseModel):
    """A named set of rules about one concern."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    concern: str = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)


class Finding(BaseModel):
    """A rule that fired: what, why (the evidence), and how to fix it."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    rule_id: str
    principle: str
    severity: Severity
    message: str
    remedy: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    pack: str = ""
