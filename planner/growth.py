"""Growth over time: the fleet the traffic needs quarter by quarter, and what it costs to own,
rent or buy from an API on that curve.

The traffic grows at the plan's rate, compounded: ``traffic.growth`` over
``traffic.horizon_months`` (0.4 over 12 months = +40% a year), so the peak at the end of
quarter q (1, 2, ...) is peak x (1 + growth) ^ (3q / horizon months). Each quarter is
provisioned for its peak x (1 + burst headroom) (the growth itself is the curve, so the
sizing's growth headroom is not added again), at the plan's Cr_closed per replica;
replicas for the load = max(ceil(provisioned / per replica), 1, the plan's), plus the N+1/N+2
spares: the plan's fleet is what is bought first, so no quarter runs fewer, and a quarter adds
replicas once its grown peak with the burst on top needs more than the plan's fleet holds;
disaggregated prefill and decode pools split those replicas in the ratio they were sized at (at
least one each), and each pool's layout sets its GPUs and nodes.
The tokens served grow with the provisioned concurrency: a quarter serves the sized
fleet's tokens a year / 4 x provisioned / the sizing's provisioned concurrency.

Costs per quarter: owning is a quarter of the yearly cost of the fleet in place (GPUs x
cost per GPU-year + nodes x cost per node-year); the hardware bought is the servers and
network of the GPUs and nodes added that quarter; renting is the same GPUs for the hours
the load uses; the API is the tokens served at its prices. A change of GPU class is needed
when the fleet outgrows the nodes the plan says exist (``hardware.nodes``, brownfield).
The workbook's Growth sheet computes the same with formulas (:mod:`planner.export.xlsx`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.plan import Plan
from planner.plan_tco import PlanTco
from planner.tco import HOURS_PER_YEAR, eur_per_gpu_year, eur_per_node_year

QUARTERS_PER_YEAR = 4


@dataclass(frozen=True)
class GrowthInputs:
    """What the growth view takes from the plan and its TCO, each a named cell in the workbook."""

    traffic_growth: float
    growth_horizon_months: int
    burst_headroom: float
    peak_concurrency: float
    concurrency_per_replica: float
    spare_replicas: int
    existing_nodes: int
    #: The plan's replicas for the load: the fleet bought first, below which no quarter goes.
    sized_replicas_for_load: int = 1

    @classmethod
    def of(cls, plan: Plan, tco: PlanTco) -> GrowthInputs:
        """The growth inputs of ``plan`` priced as ``tco``."""
        t = plan.traffic
        return cls(
            traffic_growth=t.growth or 0.0,
            growth_horizon_months=t.horizon_months,
            burst_headroom=(t.burst_factor or 1.0) - 1.0,
            peak_concurrency=tco.peak_concurrency,
            concurrency_per_replica=tco.throughput.concurrency_per_replica,
            spare_replicas=tco.fleet.spares,
            existing_nodes=plan.hardware.nodes or 0,
            sized_replicas_for_load=tco.fleet.replicas_for_load,
        )


@dataclass(frozen=True)
class Quarter:
    """One quarter of the growth view (costs in EUR)."""

    number: int
    growth_factor: float
    peak_concurrency: float
    provisioned_concurrency: float
    replicas_for_load: int
    replicas: int
    gpus: int
    nodes: int
    replicas_added: int
    nodes_added: int
    class_change_needed: bool
    output_tokens: float
    owned_eur: float
    hardware_bought_eur: float
    rented_eur: float | None
    api_eur: float | None
    cumulative_owned_eur: float
    cumulative_rented_eur: float | None
    cumulative_api_eur: float | None


@dataclass(frozen=True)
class GrowthView:
    """Every quarter of the horizon and the events a planner must act on."""

    inputs: GrowthInputs
    quarters: list[Quarter]

    @property
    def growth_per_year(self) -> float:
        """Traffic growth a year, compounded from the plan's rate over its horizon."""
        i = self.inputs
        return float((1 + i.traffic_growth) ** (12 / i.growth_horizon_months)) - 1

    @property
    def events(self) -> list[str]:
        """The fleet the first quarter starts with (the plan's, or what its grown peak needs beyond
        it), then the quarters in which a replica, a node or a change of GPU class is needed."""
        lines = [self._start()] if self.quarters else []
        for q in self.quarters[1:]:
            if q.replicas_added or q.nodes_added:
                added = f"+{q.replicas_added} replica(s)" + (f", +{q.nodes_added} node(s)" if q.nodes_added else "")
                lines.append(f"Q{q.number}: {added} -> {q.replicas} replicas, {q.gpus} GPUs, {q.nodes} nodes")
        first_change = next((q for q in self.quarters if q.class_change_needed), None)
        if first_change is not None:
            lines.append(
                f"Q{first_change.number}: {first_change.nodes} nodes exceed the {self.inputs.existing_nodes} that "
                "exist: a change of GPU class (or more nodes) is needed"
            )
        return lines

    def _start(self) -> str:
        first, i = self.quarters[0], self.inputs
        fleet = f"{first.replicas} replicas, {first.gpus} GPUs, {first.nodes} nodes"
        if first.replicas_for_load <= i.sized_replicas_for_load:
            return f"Q1: start with the plan's fleet: {fleet}"
        plans = i.sized_replicas_for_load + i.spare_replicas
        holds = i.sized_replicas_for_load * i.concurrency_per_replica
        return (
            f"Q1: start with {fleet}: the plan's {plans} and {first.replicas - plans} more, as the quarter's peak "
            f"grown x{first.growth_factor:.3f} with the {i.burst_headroom:.0%} burst on top needs "
            f"{first.provisioned_concurrency:,.0f} in flight where the plan's fleet holds {holds:,.0f} (its headroom "
            "covers the larger of growth and burst, not both)"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the inputs, the yearly growth, every quarter and the events."""
        return {
            "inputs": vars(self.inputs),
            "growth_per_year": self.growth_per_year,
            "quarters": [vars(q) for q in self.quarters],
            "events": self.events,
        }


def growth_view(plan: Plan, tco: PlanTco, years: int) -> GrowthView:
    """The fleet, its events and the three cumulative costs for each quarter of ``years``."""
    inputs = GrowthInputs.of(plan, tco)
    costs = tco.costs
    least = 1 if tco.fleet.pools is None else 2  # prefill and decode pools: a replica each at least
    per_gpu_year = eur_per_gpu_year(tco.gpu, costs) or 0.0
    per_node_year = eur_per_node_year(costs)
    per_node_bought = costs.network_eur_per_node + costs.storage_eur_per_node
    rent = costs.rent(tco.gpu)
    api_per_million = tco.api_eur_per_million_output
    quarters: list[Quarter] = []
    previous = None
    for number in range(1, years * QUARTERS_PER_YEAR + 1):
        factor = (1 + inputs.traffic_growth) ** (3 * number / inputs.growth_horizon_months)
        peak = inputs.peak_concurrency * factor
        provisioned = peak * (1 + inputs.burst_headroom)
        for_load = max(
            math.ceil(provisioned / inputs.concurrency_per_replica - 1e-9), least, inputs.sized_replicas_for_load
        )
        fleet = tco.fleet.carrying(for_load)
        replicas, gpus, nodes = fleet.replicas, fleet.gpus, fleet.nodes
        tokens = tco.output_tokens_per_year / QUARTERS_PER_YEAR * provisioned / tco.provisioned_concurrency
        prev_replicas, prev_gpus, prev_nodes = (
            (previous.replicas, previous.gpus, previous.nodes) if previous else (0, 0, 0)
        )
        owned = (gpus * per_gpu_year + nodes * per_node_year) / QUARTERS_PER_YEAR
        rented = None if rent is None else gpus * HOURS_PER_YEAR / QUARTERS_PER_YEAR * costs.utilisation * rent
        api = None if api_per_million is None else tokens * api_per_million / 1e6
        quarter = Quarter(
            number=number,
            growth_factor=factor,
            peak_concurrency=peak,
            provisioned_concurrency=provisioned,
            replicas_for_load=for_load,
            replicas=replicas,
            gpus=gpus,
            nodes=nodes,
            replicas_added=replicas - prev_replicas,
            nodes_added=nodes - prev_nodes,
            class_change_needed=0 < inputs.existing_nodes < nodes,
            output_tokens=tokens,
            owned_eur=owned,
            hardware_bought_eur=(gpus - prev_gpus) * tco.server_eur_per_gpu + (nodes - prev_nodes) * per_node_bought,
            rented_eur=rented,
            api_eur=api,
            cumulative_owned_eur=(previous.cumulative_owned_eur if previous else 0.0) + owned,
            cumulative_rented_eur=_accumulate(previous.cumulative_rented_eur if previous else 0.0, rented),
            cumulative_api_eur=_accumulate(previous.cumulative_api_eur if previous else 0.0, api),
        )
        quarters.append(quarter)
        previous = quarter
    return GrowthView(inputs, quarters)


def _accumulate(total: float | None, value: float | None) -> float | None:
    return None if total is None or value is None else total + value
