"""The TCO of a sized plan: its fleet priced line by line, against renting and a per-token API.

Sits above the fleet sizing and the simulation's decision and receives them. The fleet is
the one the plan recommends (its replica count settled in simulation,
:mod:`planner.decision`), and EUR per token is computed at its closed-loop capacity
Cr_closed, taken from the best evidence there is, and labelled with it:

- ``measured``: the plan's baseline gives the output tokens/s one replica delivered at
  Cr_closed (``baseline.cr_closed_output_tok_s``, per replica as a benchmark measures it);
- ``simulated``: the simulated envelope's Cr_closed point (every plan sized in simulation);
- ``estimated``: the sizing's operating point (:attr:`FleetSizing.fleet_output_tok_s`).

The cost lines are those of :mod:`planner.tco`; the spares (N+1/N+2) are priced apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from planner.decision import FleetDecision, PoolDecision
from planner.plan import Plan
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import FleetSizing, nodes_for, spread_over
from planner.specs import GpuSpec
from planner.tco import (
    HOURS_PER_YEAR,
    LINE_LABELS,
    SECONDS_PER_YEAR,
    CostAssumptions,
    CostLines,
    api_eur_per_million_output,
    break_even_utilisation,
    cost_lines,
    eur_per_million,
    rented_eur_per_year,
    server_eur_per_gpu,
    tokens_per_year,
)


@dataclass(frozen=True)
class Throughput:
    """The closed-loop capacity EUR per token is computed at, per replica, and where it comes from."""

    kind: Literal["measured", "simulated", "estimated"]
    label: str
    output_tok_s_per_replica: float
    concurrency_per_replica: float


@dataclass(frozen=True)
class OwnedFleet:
    """Replicas of one deployment: those carrying the load and the spares; for disaggregated
    serving, the prefill and decode pools (each its own layout, a share of the spares in each)."""

    deployment: Deployment
    replicas_for_load: int
    spares: int
    pools: PoolDecision | None = None
    #: The fewest nodes the replicas spread over for the plan's failure domains.
    min_nodes: int = 1

    @property
    def replicas(self) -> int:
        """Replicas in all."""
        return self.replicas_for_load + self.spares

    @property
    def label(self) -> str:
        """The deployment in brief; for pools, each pool's layout in it (:attr:`PoolDecision.label`)."""
        return self.pools.label if self.pools is not None else self.deployment.label

    @property
    def gpus(self) -> int:
        """GPUs in all."""
        if pools := self.pools:
            return pools.gpus(self.spares // 2)
        return self.replicas * self.deployment.gpus

    @property
    def nodes(self) -> int:
        """Nodes in all."""
        if pools := self.pools:
            return spread_over(pools.nodes(self.spares // 2), self.replicas, self.min_nodes)
        return nodes_for(self.deployment, self.replicas, self.min_nodes)

    def carrying(self, replicas_for_load: int) -> OwnedFleet:
        """The same fleet with ``replicas_for_load`` replicas for the load (the growth view's quarters):
        prefill and decode pools keep their ratio, each at least one replica (so at least two in all)."""
        if (pools := self.pools) is None:
            return replace(self, replicas_for_load=replicas_for_load)
        prefill = prefill_share_of(replicas_for_load, pools.prefill_replicas, pools.decode_replicas)
        split = replace(pools, prefill_replicas=prefill, decode_replicas=replicas_for_load - prefill)
        return replace(self, replicas_for_load=replicas_for_load, pools=split)

    @property
    def spare_gpus(self) -> int:
        """GPUs of the spare replicas."""
        if pools := self.pools:
            return self.gpus - pools.gpus(0)
        return self.spares * self.deployment.gpus

    @property
    def spare_nodes(self) -> int:
        """Nodes the spares add to those the load needs (with the nodes their failure domains spread
        the fleet over)."""
        if pools := self.pools:
            return self.nodes - pools.nodes(0)
        return self.nodes - nodes_for(self.deployment, self.replicas_for_load)


def prefill_share_of(replicas_for_load: int, prefill_replicas: int, decode_replicas: int) -> int:
    """Prefill replicas of ``replicas_for_load`` split in the ratio of the sized pools, at least one
    in each pool (the workbook's Growth sheet has the same formula)."""
    share = replicas_for_load * prefill_replicas / (prefill_replicas + decode_replicas)
    return min(max(math.ceil(share - 1e-9), 1), replicas_for_load - 1)


def throughput_basis(plan: Plan, fleet: FleetSizing, decision: FleetDecision | None) -> Throughput:
    """Cr_closed per replica from the best evidence: a measured baseline, the simulated envelope, the estimate."""
    baseline = plan.baseline
    if baseline is not None and baseline.cr_closed_output_tok_s:
        measured = f"{baseline.tool or 'a benchmark'}" + (f", {baseline.measured_on}" if baseline.measured_on else "")
        concurrency = baseline.cr_closed_concurrency or _concurrency_per_replica(fleet, decision)
        return Throughput(
            "measured",
            f"measured Cr_closed of the plan's baseline ({measured})",
            baseline.cr_closed_output_tok_s,
            concurrency,
        )
    if decision is not None and decision.pools is not None:
        pools = decision.pools
        return Throughput(
            "simulated",
            f"simulated Cr_closed of the prefill/decode pools ({pools.prefill_replicas} + {pools.decode_replicas} "
            f"replicas, {pools.req_s_at_cr_closed:,.3g} requests/s), per replica of either pool",
            pools.output_tok_s_at_cr_closed / pools.replicas,
            _pooled_concurrency(pools, fleet.provisioned_concurrency, decision.cr_closed),
        )
    if decision is not None and decision.cr_closed > 0 and decision.output_tok_s_at_cr_closed > 0:
        return Throughput(
            "simulated",
            f"simulated Cr_closed ({decision.cr_closed} per replica)",
            decision.output_tok_s_at_cr_closed,
            decision.cr_closed,
        )
    op = fleet.operating_point
    return Throughput(
        "estimated",
        f"estimated Cr_closed at the sizing's operating point ({op.clients:,.0f} per replica)"
        if op is not None and op.timing is not None
        else "estimated Cr_closed (no operating point)",
        op.output_tok_s if op is not None else 0.0,
        fleet.per_replica,
    )


def _pooled_concurrency(pools: PoolDecision, provisioned_concurrency: float, aggregated_cr_closed: int) -> float:
    """Requests in flight per replica of either pool at the pools' Cr_closed, in the sizing's measure
    of concurrency (what the growth view divides each quarter's provisioned concurrency by).

    The pools were sized for a rate (``rate_req_s``: the sizing's provisioned concurrency, by
    Little's law over the estimate's E2E) and carry ``req_s_at_cr_closed`` at their Cr_closed; the
    same ratio of concurrency is theirs. Adding each pool's own Cr_closed counted requests twice
    over (a request holds a prefill slot, then a decode slot) and at the non-binding pool's
    saturation: a disaggregated plan's growth view started at half its own fleet.
    """
    if pools.rate_req_s <= 0 or provisioned_concurrency <= 0:
        return aggregated_cr_closed
    return provisioned_concurrency * pools.req_s_at_cr_closed / pools.rate_req_s / pools.replicas


def _concurrency_per_replica(fleet: FleetSizing, decision: FleetDecision | None) -> float:
    return decision.cr_closed if decision is not None and decision.cr_closed > 0 else fleet.per_replica


def recommended_fleet(fleet: FleetSizing, decision: FleetDecision | None) -> OwnedFleet:
    """The fleet the plan recommends: the replica count the simulation settled when there is one."""
    if decision is not None and decision.feasible:
        return OwnedFleet(
            fleet.deployment, decision.replicas_for_load, decision.spares, decision.pools, fleet.min_nodes
        )
    return OwnedFleet(fleet.deployment, fleet.replicas_for_load, fleet.spares, min_nodes=fleet.min_nodes)


@dataclass(frozen=True)
class PlanTco:
    """A sized plan priced: yearly cost by line, EUR per token, the alternatives and break-even."""

    fleet: OwnedFleet
    throughput: Throughput
    costs: CostAssumptions
    isl: int
    osl: int
    peak_concurrency: float
    provisioned_concurrency: float
    lines: CostLines
    spare_lines: CostLines
    server_eur_per_gpu: float

    @property
    def gpu(self) -> GpuSpec:
        """The GPU class of the fleet."""
        return self.fleet.deployment.gpu

    @property
    def output_tok_s(self) -> float:
        """Output tokens/s the replicas carrying load deliver at Cr_closed."""
        return self.throughput.output_tok_s_per_replica * self.fleet.replicas_for_load

    @property
    def input_per_output(self) -> float:
        """Input tokens per output token, in the request shape Cr_closed is sized at."""
        return self.isl / self.osl

    @property
    def output_tokens_per_year(self) -> float:
        """Output tokens a year at Cr_closed x utilisation."""
        return tokens_per_year(self.output_tok_s, self.costs)

    @property
    def total_tokens_per_year(self) -> float:
        """Input and output tokens a year at Cr_closed x utilisation."""
        return self.output_tokens_per_year * (1 + self.input_per_output)

    @property
    def eur_per_year(self) -> float:
        """Every cost line of the owned fleet, a year."""
        return self.lines.total

    @property
    def eur_per_million_output(self) -> float | None:
        """EUR per 1M output tokens, every line."""
        return eur_per_million(self.eur_per_year, self.output_tokens_per_year)

    @property
    def eur_per_million_total(self) -> float | None:
        """EUR per 1M tokens, input and output counted."""
        return eur_per_million(self.eur_per_year, self.total_tokens_per_year)

    @property
    def ranked_eur_per_million_output(self) -> float | None:
        """EUR per 1M output tokens of GPU servers and GPU power: what ``plan`` and ``search`` rank by."""
        return eur_per_million(self.lines.ranked, self.output_tokens_per_year)

    @property
    def eur_per_gpu_hour(self) -> float:
        """What one owned GPU costs an hour, every line, every hour of the year."""
        return self.eur_per_year / (self.fleet.gpus * HOURS_PER_YEAR)

    @property
    def rented_eur_per_year(self) -> float | None:
        """The same GPUs rented for the hours the load uses."""
        return rented_eur_per_year(self.gpu, self.fleet.gpus, self.costs)

    @property
    def api_eur_per_year(self) -> float | None:
        """The same tokens bought from the API."""
        per_million = api_eur_per_million_output(self.input_per_output, self.costs)
        return None if per_million is None else self.output_tokens_per_year * per_million / 1e6

    @property
    def rented_eur_per_million_output(self) -> float | None:
        """EUR per 1M output tokens, rented."""
        rented = self.rented_eur_per_year
        return None if rented is None else eur_per_million(rented, self.output_tokens_per_year)

    @property
    def api_eur_per_million_output(self) -> float | None:
        """EUR per 1M output tokens through the API (their input tokens included)."""
        return api_eur_per_million_output(self.input_per_output, self.costs)

    @property
    def break_even_vs_rent(self) -> float | None:
        """Utilisation above which owning costs less than renting the same GPUs."""
        rent = self.costs.rent(self.gpu)
        return break_even_utilisation(self.eur_per_year, rent and self.fleet.gpus * HOURS_PER_YEAR * rent)

    @property
    def break_even_vs_api(self) -> float | None:
        """Utilisation above which owning costs less than buying the same tokens from the API."""
        per_million = self.api_eur_per_million_output
        full_use = None if per_million is None else self.output_tok_s * SECONDS_PER_YEAR * per_million / 1e6
        return break_even_utilisation(self.eur_per_year, full_use)

    def line_items(self) -> list[tuple[str, float, float]]:
        """(label, EUR a year for the fleet, of which the spares) for each cost line, in the model's order."""
        spares = self.spare_lines.as_dict()
        return [(LINE_LABELS[key], value, spares[key]) for key, value in self.lines.as_dict().items()]

    @property
    def cheapest(self) -> str:
        """``own``, ``rent`` or ``API``: the lowest EUR per 1M output tokens at the assumed utilisation
        (ties go to owning, then renting)."""
        options = {
            "own": self.eur_per_million_output,
            "rent": self.rented_eur_per_million_output,
            "API": self.api_eur_per_million_output,
        }
        priced = {name: value for name, value in options.items() if value is not None}
        return min(priced, key=lambda name: priced[name]) if priced else "own"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the fleet, the throughput basis, every line, EUR per token, the alternatives."""
        return {
            "deployment": self.fleet.label,
            "fleet": {
                "replicas_for_load": self.fleet.replicas_for_load,
                "spares": self.fleet.spares,
                "gpus": self.fleet.gpus,
                "nodes": self.fleet.nodes,
                "spare_gpus": self.fleet.spare_gpus,
                "spare_nodes": self.fleet.spare_nodes,
            },
            "throughput": {
                "basis": self.throughput.kind,
                "label": self.throughput.label,
                "output_tok_s_per_replica": self.throughput.output_tok_s_per_replica,
                "fleet_output_tok_s": self.output_tok_s,
                "utilisation": self.costs.utilisation,
            },
            "eur_per_year": {**self.lines.as_dict(), "total": self.eur_per_year},
            "spares_eur_per_year": {**self.spare_lines.as_dict(), "total": self.spare_lines.total},
            "eur_per_1m_output_tokens": self.eur_per_million_output,
            "eur_per_1m_total_tokens": self.eur_per_million_total,
            "eur_per_1m_output_tokens_gpu_servers_and_power": self.ranked_eur_per_million_output,
            "eur_per_gpu_hour": self.eur_per_gpu_hour,
            "cheapest": self.cheapest,
            "rented": {
                "eur_per_gpu_hour": self.costs.rent(self.gpu),
                "eur_per_year": self.rented_eur_per_year,
                "eur_per_1m_output_tokens": self.rented_eur_per_million_output,
                "break_even_utilisation": self.break_even_vs_rent,
            },
            "api": {
                "eur_per_1m_input_tokens": self.costs.api_eur_per_million_input_tokens,
                "eur_per_1m_output_tokens_list": self.costs.api_eur_per_million_output_tokens,
                "eur_per_year": self.api_eur_per_year,
                "eur_per_1m_output_tokens": self.api_eur_per_million_output,
                "break_even_utilisation": self.break_even_vs_api,
            },
        }


def plan_tco(plan: Plan, fleet: FleetSizing, decision: FleetDecision | None, costs: CostAssumptions) -> PlanTco | None:
    """Price the fleet the plan recommends with ``costs``; ``None`` when its GPU has neither a
    price hint in the catalog nor a quote in the plan."""
    owned = recommended_fleet(fleet, decision)
    gpu = owned.deployment.gpu
    lines = cost_lines(gpu, owned.gpus, owned.nodes, costs)
    spare_lines = cost_lines(gpu, owned.spare_gpus, owned.spare_nodes, costs)
    per_gpu = server_eur_per_gpu(gpu, costs)
    if lines is None or spare_lines is None or per_gpu is None:
        return None
    return PlanTco(
        fleet=owned,
        throughput=throughput_basis(plan, fleet, decision),
        costs=costs,
        isl=fleet.isl,
        osl=fleet.osl,
        peak_concurrency=fleet.peak_concurrency,
        provisioned_concurrency=fleet.provisioned_concurrency,
        lines=lines,
        spare_lines=spare_lines,
        server_eur_per_gpu=per_gpu,
    )


# ------------------------------------------------------------------ sensitivity

#: Utilisations of the sensitivity grid (rows).
SENSITIVITY_UTILISATIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Electricity prices of the sensitivity grid, as multiples of the plan's (columns).
SENSITIVITY_PRICE_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


@dataclass(frozen=True)
class Sensitivity:
    """EUR per 1M output tokens against utilisation (rows) and electricity price (columns)."""

    utilisations: tuple[float, ...]
    eur_per_kwh: tuple[float, ...]
    grid: tuple[tuple[float | None, ...], ...]
    rented: float | None
    api: float | None


def sensitivity(tco: PlanTco) -> Sensitivity:
    """Re-price the plan's fleet at every utilisation and electricity price of the grid."""
    prices = tuple(tco.costs.eur_per_kwh * factor for factor in SENSITIVITY_PRICE_FACTORS)
    rows = []
    for utilisation in SENSITIVITY_UTILISATIONS:
        row = []
        for price in prices:
            costs = replace(tco.costs, utilisation=utilisation, eur_per_kwh=price)
            lines = cost_lines(tco.gpu, tco.fleet.gpus, tco.fleet.nodes, costs)
            tokens = tokens_per_year(tco.output_tok_s, costs)
            row.append(None if lines is None else eur_per_million(lines.total, tokens))
        rows.append(tuple(row))
    return Sensitivity(
        SENSITIVITY_UTILISATIONS, prices, tuple(rows), tco.rented_eur_per_million_output, tco.api_eur_per_million_output
    )
