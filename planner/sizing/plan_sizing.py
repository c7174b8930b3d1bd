"""Steps 6-8 for a whole plan: search what the plan leaves open, size the best fleet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from planner.catalog import Catalog
from planner.resolve import ResolvedPlan
from planner.sizing.search import Candidate, search

ALTERNATIVES = 3


@dataclass(frozen=True)
class PlanSizing:
    """The chosen configuration, the runners-up, and how many candidates were tried."""

    best: Candidate | None
    alternatives: list[Candidate]
    tried: int
    feasible: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the chosen fleet in full, the alternatives in brief."""

        def brief(c: Candidate) -> dict[str, Any]:
            return {
                "deployment": c.sizing.deployment.label,
                "gpus": c.sizing.gpus,
                "replicas": c.sizing.replicas,
                "dominant_constraint": c.sizing.dominant,
                "eur_per_1m_tokens": None if c.eur_per_m_tokens is None else round(c.eur_per_m_tokens, 4),
            }

        return {
            "candidates_tried": self.tried,
            "feasible": self.feasible,
            "chosen": None
            if self.best is None
            else {
                **self.best.sizing.to_json(),
                "eur_per_1m_tokens": None
                if self.best.eur_per_m_tokens is None
                else round(self.best.eur_per_m_tokens, 4),
            },
            "alternatives": [brief(c) for c in self.alternatives],
        }


def size_plan(
    resolved: ResolvedPlan, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> PlanSizing:
    """Search the plan's open choices and keep the cheapest fleet that meets the SLOs on both axes."""
    ranked, tried = search(resolved, catalog, progress=progress)
    if not ranked:
        return PlanSizing(None, [], tried, 0)
    return PlanSizing(ranked[0], ranked[1 : 1 + ALTERNATIVES], tried, len(ranked))
