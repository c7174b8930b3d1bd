"""Steps 6-8 for a whole plan: search what the plan leaves open, check the cheapest in
simulation, and keep the fleet the simulation settles.

The search ranks every candidate by the estimate (fast); the cheapest are then checked
in the discrete-event simulator (:func:`planner.decision.decide`), whose replica count
and cost replace the estimate's, and the cheapest checked candidate is the plan's
choice. Every command that shows the plan's fleet shows this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from planner.catalog import Catalog
from planner.decision import FleetDecision, decide
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN, choose
from planner.resolve import ResolvedPlan
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from planner.sizing.fleet import size_fleet
from planner.sizing.pins import pin_conflicts
from planner.sizing.search import Candidate, candidate_deployments, pool_layouts, search
from planner.traffic import demand_of

ALTERNATIVES = 3
#: Candidates checked in simulation, cheapest estimate first: at most this many once one holds ...
VERIFIED = 2
#: ... and at most this many in all when the cheapest fail in simulation.
VERIFY_LIMIT = 4
#: Once a candidate holds, the next is checked only when its estimated cost is below this
#: share of the held one's simulated cost (the estimate would have to be that far off for it to win).
COMPETITIVE = 1.1


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
                "checked_in_simulation": c.decision is not None,
            }

        chosen = None
        if self.best is not None:
            decision = self.best.decision
            chosen = {
                **self.best.sizing.to_json(),
                "eur_per_1m_tokens": None
                if self.best.eur_per_m_tokens is None
                else round(self.best.eur_per_m_tokens, 4),
                "simulation": decision.to_json() if decision else None,
            }
        return {
            "candidates_tried": self.tried,
            "feasible": self.feasible,
            "chosen": chosen,
            "alternatives": [brief(c) for c in self.alternatives],
            "why_none": self.why_none,
        }


def size_plan(
    resolved: ResolvedPlan,
    catalog: Catalog,
    model: PerformanceModel = BUILTIN,
    progress: Callable[[int, int], None] | None = None,
    *,
    simulate: bool = True,
    seed: int = 0,
    fixed_s: float | None = None,
    on_point: Callable[[str], None] | None = None,
    on_ranked: Callable[[list[Candidate], int], None] | None = None,
    verified: int = VERIFIED,
) -> PlanSizing:
    """Search the plan's open choices; check the cheapest in simulation; keep the cheapest that holds.

    :param simulate: check candidates in simulation (``False``: the estimate's ranking only).
    :param seed: the simulations' seed; :param fixed_s: their length (default: automatic).
    :param on_point: told about each simulated run.
    :param on_ranked: told the candidates ranked by estimate and how many were tried, before any
        simulation (a front end shows them while the simulation runs).
    :param verified: how many candidates that hold in simulation settle the choice (1: the
        first that holds, for a what-if beside the plan's own decision).
    """
    conflicts = pin_conflicts(resolved, catalog)
    if conflicts:  # a pin that cannot hold fails the plan rather than being replaced quietly
        return PlanSizing(None, [], 0, 0, [c.line for c in conflicts])
    ranked, tried = search(resolved, catalog, model, progress=progress)
    if on_ranked is not None:
        on_ranked(ranked, tried)
    if not ranked:
        return PlanSizing(None, [], tried, 0, why_infeasible(resolved, catalog))
    if not simulate:
        return PlanSizing(ranked[0], ranked[1 : 1 + ALTERNATIVES], tried, len(ranked))
    checked = _checked(
        resolved, catalog, ranked, model, seed=seed, fixed_s=fixed_s, on_point=on_point, verified=verified
    )
    holding = sorted((c for c in checked if c.decision and c.decision.feasible), key=lambda c: c.sort_key)
    if not holding:
        return PlanSizing(None, [], tried, 0, [_why_not(c.decision) for c in checked if c.decision])
    unchecked = ranked[len(checked) :]
    others = sorted(holding[1:] + unchecked, key=lambda c: c.sort_key)
    return PlanSizing(holding[0], others[:ALTERNATIVES], tried, len(holding) + len(unchecked))


def _checked(
    resolved: ResolvedPlan,
    catalog: Catalog,
    ranked: list[Candidate],
    model: PerformanceModel,
    *,
    seed: int,
    fixed_s: float | None,
    on_point: Callable[[str], None] | None,
    verified: int = VERIFIED,
) -> list[Candidate]:
    """The cheapest candidates by estimate, each checked in simulation (see ``VERIFIED``)."""
    checked: list[Candidate] = []
    for candidate in ranked[:VERIFY_LIMIT]:
        holding = [c.eur_per_m_tokens for c in checked if c.decision and c.decision.feasible]
        if len(holding) >= verified:
            break
        best = min((cost for cost in holding if cost is not None), default=None)
        if best is not None and (candidate.eur_per_m_tokens is None or candidate.eur_per_m_tokens > COMPETITIVE * best):
            break
        stacks = tuple(pool_stacks(resolved, catalog, candidate.sizing.deployment.runtime.id))
        layouts = (
            layouts_of_pools(resolved, candidate, model) if stacks or resolved.plan.serving_stack.disaggregated else ()
        )
        decision = decide(
            resolved.plan,
            candidate.sizing,
            fixed_s=fixed_s,
            seed=seed,
            progress=on_point,
            pool_stacks=stacks,
            pool_layouts=layouts,
        )
        checked.append(with_decision(candidate, decision))
    return checked


def layouts_of_pools(
    resolved: ResolvedPlan, candidate: Candidate, model: PerformanceModel
) -> tuple[tuple[Deployment, PerformanceModel], ...]:
    """The layouts each pool of ``candidate`` may take, each timed as the search times it (the
    built-in model, or ``model`` where it covers the layout)."""
    dep = candidate.sizing.deployment
    return tuple(
        (layout, BUILTIN if model is BUILTIN else choose(model, layout))
        for layout in pool_layouts(resolved, dep)
        if layout != dep
    )


def pool_stacks(resolved: ResolvedPlan, catalog: Catalog, runtime_id: str) -> list[str]:
    """The stacks that could serve the plan's deployment as prefill and decode pools when the plan
    leaves disaggregation open (none when it pins it either way): the pinned stack if it has
    pools and drives the runtime, else every such stack in the catalog, less those that need RDMA
    when the plan's inter-node fabric is Ethernet."""
    plan = resolved.plan
    if plan.serving_stack.disaggregated is not None:
        return []
    stacks = [resolved.stack] if resolved.stack else catalog.stacks.specs()
    no_rdma = plan.hardware.inter_node_fabric in ("ethernet", "none")
    return [
        s.id
        for s in stacks
        if s.disaggregated_prefill_decode
        and runtime_id in s.runtimes
        and not (no_rdma and s.requires_rdma_for_disaggregation)
    ]


def with_decision(candidate: Candidate, decision: FleetDecision) -> Candidate:
    """The candidate with the replicas, GPUs, nodes and cost the simulation settled."""
    fleet = replace(
        candidate.sizing,
        replicas_for_load=decision.replicas_for_load,
        spares=decision.spares,
        replicas=decision.replicas,
        gpus=decision.gpus,
        nodes=decision.nodes,
    )
    return Candidate(fleet, decision.eur_per_m_tokens, decision)


def _why_not(decision: FleetDecision) -> str:
    """What a candidate misses in simulation."""
    label = decision.deployment.label
    if not decision.fleet.feasible:
        return f"{label}: {decision.fleet.to_move}"
    if decision.cr_closed == 0:
        return f"{label}: in simulation even one request at a time misses the SLOs"
    worst = decision.checks[-1] if decision.checks else None
    if worst is None:
        return f"{label}: in simulation no open-loop rate meets the SLOs"
    return (
        f"{label}: in simulation {worst.replicas} replicas, several times the estimate, still miss the SLOs at "
        f"{worst.load.describe()} (p95 TTFT {worst.summary['ttft_ms']['p95']:,.0f} ms, "
        f"ITL {worst.summary['itl_ms']['p95']:,.1f} ms, E2E {worst.summary['e2e_ms']['p95'] / 1000:,.1f} s)"
    )


def why_infeasible(resolved: ResolvedPlan, catalog: Catalog, limit: int = 5) -> list[str]:
    """One line per candidate (up to ``limit``): what it misses even at one request (built-in model)."""
    lines = []
    demand = demand_of(resolved.plan)
    for dep in list(candidate_deployments(resolved, catalog))[:limit]:
        sizing = size_fleet(dep, BUILTIN, demand)
        single = estimate(dep, sizing.isl, sizing.osl, model=BUILTIN, concurrency=1, ignore_capacity=True)
        at_percentile = single.slo_figures_ms(demand.targets.percentile)
        misses = demand.targets.misses(*at_percentile) if sizing.capacity_cap > 0 else []
        reason = "; ".join(misses) if misses else sizing.to_move
        lines.append(f"{dep.label}: {reason}")
    return lines
