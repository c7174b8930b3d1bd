"""Traffic to fleet (step 3 meets 6): per-replica concurrency on both axes, replicas, nodes.

Sits above the estimator and receives what it needs: a deployment, the performance
model that times it, and the plan's :class:`~planner.traffic.Demand`. Each replica
carries the largest concurrency that holds on BOTH axes: memory (its KV cache holds
the sequences at the p95 context) and time (its predicted TTFT, ITL and E2E meet the
SLOs). A plan that gives requests/s gets its peak concurrency from Little's law,
requests/s x the mean request's E2E, solved to a fixed point because E2E grows with
load. Provisioned concurrency adds the explicit headroom; replicas = ceil(provisioned /
per replica) plus spares for N+1 (N+2 if critical).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

from planner.perfmodel import PerformanceModel
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import Estimate, estimate, population_as_served
from planner.traffic import Demand, Population, SloTargets


@dataclass(frozen=True)
class FleetSizing:
    """Replicas, GPUs and nodes for one deployment under the plan's traffic and SLOs."""

    deployment: Deployment
    model: PerformanceModel
    isl: int
    osl: int
    peak_concurrency: float
    concurrency_source: str
    headroom: float
    provisioned_concurrency: float
    capacity_cap: int
    latency_cap: int
    per_replica: int
    dominant: str
    replicas_for_load: int
    spares: int
    replicas: int
    gpus: int
    nodes: int
    operating_point: Estimate | None
    to_move: str
    #: E2E of the workload's mean request at the peak load, where Little's law gave the peak.
    e2e_at_peak_ms: float | None = None
    percentile: int = 95  # the workload percentile isl and osl were taken at
    #: The requests a replica's batch is made of (the plan's workload), which every estimate of
    #: this sizing runs the worst-case isl/osl request among; None: all alike.
    population: Population | None = None
    #: The fewest nodes the replicas spread over for the plan's failure domains (``Demand.min_nodes``).
    min_nodes: int = 1

    @property
    def feasible(self) -> bool:
        """True when a replica carries at least one request on both axes."""
        return self.per_replica > 0

    @property
    def packed_nodes(self) -> int:
        """Nodes the replicas pack into before they spread over the failure domains (``nodes``)."""
        return nodes_for(self.deployment, self.replicas)

    @property
    def fleet_output_tok_s(self) -> float:
        """Output tokens/s the replicas carrying load deliver at the operating point."""
        if not self.operating_point:
            return 0.0
        return self.operating_point.output_tok_s * self.replicas_for_load

    @property
    def replica_rate_req_s(self) -> float:
        """Requests/s one replica completes at the operating point (its requests in flight over its E2E)."""
        op = self.operating_point
        if op is None or op.timing is None:
            return 0.0
        return op.clients / (op.e2e_ms / 1000)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (the operating point's full estimate included)."""
        return {
            "deployment": self.deployment.label,
            "isl_p95": self.isl,
            "osl_p95": self.osl,
            "sizing_percentile": self.percentile,
            "batch_of": asdict(self.population) if self.population else None,
            "peak_concurrency": round(self.peak_concurrency, 2),
            "concurrency_source": self.concurrency_source,
            "headroom": self.headroom,
            "provisioned_concurrency": round(self.provisioned_concurrency, 2),
            "per_replica": {
                "capacity_cap": self.capacity_cap,
                "latency_cap": self.latency_cap,
                "holds": self.per_replica,
            },
            "dominant_constraint": self.dominant,
            "to_move_it": self.to_move,
            "replicas_for_load": self.replicas_for_load,
            "spares": self.spares,
            "replicas": self.replicas,
            "gpus": self.gpus,
            "nodes": self.nodes,
            "fleet_output_tok_s": round(self.fleet_output_tok_s, 1),
            "operating_point": self.operating_point.to_json() if self.operating_point else None,
        }


#: The time axis is searched up to this many concurrent requests per replica.
LATENCY_SEARCH_LIMIT = 16384


def meets_targets(targets: SloTargets, est: Estimate) -> bool:
    """True when the estimate's TTFT, ITL and E2E meet every target at its percentile (ITL: the
    gap at that percentile, :meth:`Estimate.slo_figures_ms`). The TTFT at a percentile costs the
    most to work out, so it is asked only where the others hold (the search for a replica's cap
    tries loads far past them)."""
    q = targets.percentile
    if not targets.met_by(0.0, est.itl_at_percentile_ms(q), est.e2e_ms):
        return False
    return targets.ttft_ms is None or est.ttft_at_percentile_ms(q) <= targets.ttft_ms


#: Time-axis caps kept in memory (the least recently used dropped first): about three searches' worth.
LATENCY_MEMO_SIZE = 512
_latency_memo: OrderedDict[tuple[Any, ...], tuple[PerformanceModel, int]] = OrderedDict()
#: The desktop app sizes on several worker threads at once (live sizing, what-ifs, configurations).
_latency_lock = threading.Lock()


def latency_cap(
    dep: Deployment,
    model: PerformanceModel,
    isl: int,
    osl: int,
    targets: SloTargets,
    upper: int = LATENCY_SEARCH_LIMIT,
    population: Population | None = None,
) -> int:
    """Largest concurrency (up to ``upper``) whose latency meets every target, memory aside: a
    request of ``isl``/``osl`` tokens in a batch of ``population``'s requests (or of its like).

    The time axis on its own: the estimate runs the whole batch even where memory
    could not hold it. Latency grows with the running batch, so a bisection finds the edge.
    The bisection is most of a search's time and depends on none of the traffic, so a cap found
    before in this process for the same deployment, model, lengths and targets is reused: an edit
    of the users, growth or peak (the desktop app re-sizes on each) searches again in a fraction.
    """
    # The model is held with its answer, so its id cannot be reused by another model while in the key.
    key = (dep, model.name, id(model), isl, osl, targets, upper, population)
    with _latency_lock:
        found = _latency_memo.get(key)
        if found is not None and found[0] is model:
            _latency_memo.move_to_end(key)
            return found[1]
    cap = _bisect_latency_cap(dep, model, isl, osl, targets, upper, population)
    with _latency_lock:
        _latency_memo[key] = (model, cap)
        while len(_latency_memo) > LATENCY_MEMO_SIZE:
            _latency_memo.popitem(last=False)
    return cap


def _bisect_latency_cap(
    dep: Deployment,
    model: PerformanceModel,
    isl: int,
    osl: int,
    targets: SloTargets,
    upper: int,
    population: Population | None,
) -> int:
    """:func:`latency_cap` worked out: the estimate at a bisection of concurrencies."""

    def meets(concurrency: int) -> bool:
        at = estimate(dep, isl, osl, model=model, concurrency=concurrency, ignore_capacity=True, population=population)
        return meets_targets(targets, at)

    if upper <= 0 or not meets(1):
        return 0
    low, high = 1, upper
    if meets(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            low = middle
        else:
            high = middle
    return low


def _what_moves_it(dominant: str, capacity: int, latency: int) -> str:
    """Say what binds, and what would have to change to move it."""
    limit = "the latency search limit" if latency >= LATENCY_SEARCH_LIMIT else f"{latency}"
    if dominant == "memory":
        return (
            f"memory binds at {capacity} sequences while latency would allow {limit}: KV cache per replica must "
            f"grow {latency / max(capacity, 1):.1f}x (more HBM per GPU, higher TP, fp8 KV, or a shorter context) "
            "before latency binds"
        )
    if dominant == "latency":
        return (
            f"latency binds at {latency} sequences while memory holds {capacity}: a faster step is needed "
            f"(higher TP, lower precision, a faster GPU) or looser SLOs; more memory would not help"
        )
    if dominant == "both":
        return f"memory and latency both bind at {capacity} sequences: moving one axis alone gains nothing"
    if dominant == "none fits":
        return (
            "no concurrency meets the SLOs on this configuration: more GPUs per replica, "
            "a faster GPU or a smaller model"
        )
    if dominant in ("weights", "context"):
        return (
            "the weights do not fit this replica: more GPUs per replica (TP/PP) or lower precision"
            if dominant == "weights"
            else "the p95 context is longer than the model or max_model_len allows"
        )
    return (
        f"the runtime's batch limit ({dominant}) binds at {capacity} while latency would allow {limit}: "
        f"raise {dominant} if memory allows"
    )


def _dominant(capacity: int, latency: int, binding_cap: str) -> str:
    """Which axis binds: memory (or the cap that binds it), latency, both, or none fits."""
    if capacity <= 0:
        return binding_cap
    if latency <= 0:
        return "none fits"
    if latency < capacity:
        return "latency"
    if latency == capacity:
        return "both"
    return "memory" if binding_cap == "memory" else binding_cap


def nodes_for(dep: Deployment, replicas: int, min_nodes: int = 1) -> int:
    """Nodes ``replicas`` replicas of ``dep`` occupy: a replica wider than a node takes whole nodes,
    smaller ones pack several to a node, over at least ``min_nodes`` failure domains
    (:func:`spread_over`)."""
    per_node = dep.gpu.gpus_per_node
    if dep.gpus > per_node:
        return spread_over(replicas * math.ceil(dep.gpus / per_node), replicas, min_nodes)
    return spread_over(math.ceil(replicas * dep.gpus / per_node), replicas, min_nodes)


def spread_over(packed_nodes: int, replicas: int, min_nodes: int) -> int:
    """Nodes of ``replicas`` that pack into ``packed_nodes``, spread over ``min_nodes`` at least (no
    more than one a replica: a replica is not split for its failure domain)."""
    return max(packed_nodes, min(min_nodes, replicas))


def size_fleet(dep: Deployment, model: PerformanceModel, demand: Demand) -> FleetSizing:
    """Size the fleet for ``demand`` on ``dep`` timed by ``model``: per-replica concurrency on
    both axes, replicas, GPUs, nodes."""
    isl, osl = demand.isl, demand.osl
    memory = estimate(dep, isl, osl, model=model, offline=True).capacity
    capacity = memory.max_concurrency
    population = population_as_served(demand.population, dep)
    latency = latency_cap(dep, model, isl, osl, demand.targets, population=population) if capacity > 0 else 0
    per_replica = min(capacity, latency)
    dominant = _dominant(capacity, latency, memory.binding_cap)
    peak, source = demand.peak_concurrency, demand.concurrency_source
    operating: Estimate | None = None
    replicas_for_load = 0
    e2e_at_peak: float | None = None
    if per_replica > 0:
        if peak is None:
            peak, at_peak, source = _littles_law(dep, model, demand, per_replica)
            e2e_at_peak = at_peak.e2e_ms
        provisioned = peak * (1 + demand.headroom)
        replicas_for_load = max(math.ceil(provisioned / per_replica - 1e-9), 1)
        load_each = max(math.ceil(provisioned / replicas_for_load), 1)
        operating = estimate(dep, isl, osl, model=model, concurrency=load_each, population=population)
    else:
        peak = peak or 0.0
        provisioned = peak * (1 + demand.headroom)
    spares = demand.spares if replicas_for_load else 0
    replicas = replicas_for_load + spares
    gpus = replicas * dep.gpus
    nodes = nodes_for(dep, replicas, demand.min_nodes)
    return FleetSizing(
        deployment=dep,
        model=model,
        isl=isl,
        osl=osl,
        peak_concurrency=peak,
        concurrency_source=source,
        headroom=demand.headroom,
        provisioned_concurrency=provisioned,
        capacity_cap=capacity,
        latency_cap=latency,
        per_replica=per_replica,
        dominant=dominant,
        replicas_for_load=replicas_for_load,
        spares=spares,
        replicas=replicas,
        gpus=gpus,
        nodes=nodes,
        operating_point=operating,
        to_move=_what_moves_it(dominant, capacity, latency),
        e2e_at_peak_ms=e2e_at_peak,
        percentile=demand.percentile,
        population=population,
        min_nodes=demand.min_nodes,
    )


def mean_request_e2e_ms(sizing: FleetSizing, demand: Demand) -> float | None:
    """E2E of the workload's mean request at the fleet's operating point (None where nothing fits):
    what turns the provisioned concurrency into a rate (Little's law). The operating point's own
    E2E is the worst-case request's, which would count half the arrivals or fewer."""
    op = sizing.operating_point
    if op is None or op.requested_concurrency is None:
        return None
    return _mean_request(sizing.deployment, sizing.model, demand, op.requested_concurrency).e2e_ms


def _mean_request(dep: Deployment, model: PerformanceModel, demand: Demand, load: int) -> Estimate:
    """The workload's mean request (:attr:`Demand.mean_isl`, ``mean_osl``) timed at ``load`` requests
    per replica: the time a request spends in the system on average, which Little's law multiplies."""
    return estimate(dep, demand.mean_isl, demand.mean_osl, model=model, concurrency=load, population=demand.population)


def _littles_law(
    dep: Deployment, model: PerformanceModel, demand: Demand, per_replica: int
) -> tuple[float, Estimate, str]:
    """Concurrency = requests/s x E2E, iterated until the E2E at the resulting load settles.

    The E2E is the workload's mean request's (Little's law holds for the mean time in the system):
    the worst-case request's E2E counted the requests in flight at up to three times what the
    simulator of the same traffic holds (use case 2: 145 against 53)."""
    rate = demand.peak_rate_req_s
    op = _mean_request(dep, model, demand, 1)
    concurrency = rate * op.e2e_ms / 1000
    for _ in range(30):
        replicas = max(math.ceil(concurrency * (1 + demand.headroom) / per_replica - 1e-9), 1)
        load_each = max(math.ceil(concurrency / replicas), 1)
        op = _mean_request(dep, model, demand, load_each)
        updated = rate * op.e2e_ms / 1000
        if abs(updated - concurrency) <= 0.005 * max(concurrency, 1):
            break
        concurrency = 0.5 * concurrency + 0.5 * updated
    # The concurrency of the E2E reported beside it (whole requests per replica can keep the
    # iteration a step apart from its fixed point), so the two figures obey Little's law.
    concurrency = rate * op.e2e_ms / 1000
    source = (
        f"{demand.rate_source} x E2E {op.e2e_ms / 1000:.2f} s of the mean request, "
        f"{op.isl:,} in / {op.osl:,} out (Little's law)"
    )
    return concurrency, op, source
