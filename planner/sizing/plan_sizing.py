"""Steps 6-8 for a whole plan: search what the plan leaves open, size the best fleet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from planner.catalog import Catalog
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN
from planner.resolve import ResolvedPlan
from planner.sizing.estimate import estimate
from planner.sizing.fleet import size_fleet
from planner.sizing.search import Candidate, candidate_deployments, search
from planner.traffic import demand_of

ALTERNATIVES = 3


@dataclass(frozen=True)
class PlanSizing:
    """The chosen configuration, the runners-up, and how many candidates were tried."""

    best: Candidate | None
    alternatives: list[Candidate]
    tried: int
    feasible: int
    why_none: list[str] = field(default_factory=list)

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
            "why_none": self.why_none,
        }


def size_plan(
    resolved: ResolvedPlan,
    catalog: Catalog,
    model: PerformanceModel = BUILTIN,
    progress: Callable[[int, int], None] | None = None,
) -> PlanSizing:
    """Search the plan's open choices and keep the cheapest fleet that meets the SLOs on both axes."""
    ranked, tried = search(resolved, catalog, model, progress=progress)
    if not ranked:
        return PlanSizing(None, [], tried, 0, why_infeasible(resolved, catalog))
    return PlanSizing(ranked[0], ranked[1 : 1 + ALTERNATIVES], tried, len(ranked))


def why_infeasible(resolved: ResolvedPlan, catalog: Catalog, limit: int = 5) -> list[str]:
    """One line per candidate (up to ``limit``): what it misses even at one request (built-in model)."""
    lines = []
    demand = demand_of(resolved.plan)
    for dep in list(candidate_deployments(resolved, catalog))[:limit]:
        sizing = size_fleet(dep, BUILTIN, demand)
        single = estimate(dep, sizing.isl, sizing.osl, model=BUILTIN, concurrency=1, ignore_capacity=True)
        misses = demand.targets.misses(single.ttft_ms, single.itl_ms, single.e2e_ms) if sizing.capacity_cap > 0 else []
        reason = "; ".join(misses) if misses else sizing.to_move
        lines.append(f"{dep.label}: {reason}")
    return lines
