"""The sizing decision: the replicas that meet the SLO percentiles in simulation, and the envelopes.

The analytic fleet sizing (:mod:`planner.sizing.fleet`) proposes a replica count from the
estimate; this module checks it in the discrete-event simulator, whole fleet behind its
router at the peak load, and moves it until the percentiles hold with as few replicas as
possible. Where the two disagree the simulation wins, and the decision says by how much
the estimate was off. The same module finds the per-replica envelopes, Cr_closed and
Cr_open, by simulation (starting from the estimate, so a few points suffice), and prices
the fleet from its throughput at Cr_closed. ``planner plan``, ``simulate`` and
``envelope`` all print this one decision.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from planner.envelope import envelopes
from planner.perfmodel import PerformanceModel
from planner.plan import Plan
from planner.plan_simulation import (
    MAX_SIMULATED_REPLICAS,
    LoadSpec,
    RunLength,
    balanced_share,
    remembered_runs,
    scaled_rates,
    simulate_plan,
    targets_of,
)
from planner.pool_capacity import (
    Pool,
    PoolCapacity,
    decode_capacity,
    decode_floor_gpus,
    fits,
    handoff_s,
    prefill_busy_s,
    prefill_capacity,
    prefill_floor_gpus,
    request_shape,
)
from planner.simulate import Targets, slo_figure_ms
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import FleetSizing, mean_request_e2e_ms, nodes_for, spread_over
from planner.tco import cost_assumptions, eur_per_million_tokens
from planner.traffic import demand_of

#: Requests each single-replica envelope point measures (its percentiles rest on them).
POINT_REQUESTS = 100
#: Requests each run of the whole fleet measures.
FLEET_REQUESTS = 300
#: Simulated seconds a run lasts at least: one replica, the whole fleet (its many requests
#: reach their count sooner).
SHORTEST_S = 60.0
SHORTEST_FLEET_S = 20.0
#: and at most: one replica, the whole fleet.
LONGEST_POINT_S = 900.0
LONGEST_FLEET_S = 400.0


@dataclass(frozen=True)
class PeakLoad:
    """A load the fleet must carry at its peak, as the simulator applies it to the whole fleet."""

    mode: str  # "open": Poisson arrivals at rate_req_s; "closed": concurrency requests always in flight;
    # "filled": carry rate_req_s with the queue allowed to fill (throughput-first), run as a closed
    # loop with every replica at Cr_closed once the envelope is known (see filled_load)
    rate_req_s: float | None
    concurrency: int | None
    source: str
    #: A closed loop that keeps this many requests in flight on every replica, however many
    #: replicas run (the queue full); its ``rate_req_s`` is the rate the fleet must complete.
    per_replica: int | None = None

    def spec(self, peak_factor: float = 1.0, replicas: int = 1) -> LoadSpec:
        """The simulator's load on ``replicas`` replicas.

        A closed loop's requests in flight are rounded up to fill every replica alike (at most
        ``replicas - 1`` more, a slightly harsher load): behind the least-outstanding router each
        replica then holds exactly its share, so one replica's run stands for the fleet
        (:func:`planner.plan_simulation.balanced_share`) and is the envelope's run at that share,
        where a run of every replica would cost as many times more.
        """
        if self.per_replica:
            concurrency: int | None = self.per_replica * replicas
        elif self.mode == "closed" and self.concurrency:
            concurrency = math.ceil(self.concurrency / replicas) * replicas
        else:
            concurrency = self.concurrency
        return LoadSpec(self.mode, rate=self.rate_req_s, concurrency=concurrency, peak_factor=peak_factor)

    def describe(self) -> str:
        """e.g. 'open loop at 52.0 requests/s (40 requests/s x peak 1 x (1 + 30% headroom))'."""
        if self.mode == "open":
            return f"open loop at {self.rate_req_s:,.3g} requests/s ({self.source})"
        if self.mode == "filled" or self.per_replica:
            return f"{self.rate_req_s:,.3g} requests/s with the queue allowed to fill ({self.source})"
        return f"closed loop with {self.concurrency:,} requests in flight ({self.source})"


def peak_loads(plan: Plan, fleet: FleetSizing) -> list[PeakLoad]:
    """The loads the fleet is checked at: the peak as the plan states it, with headroom.

    A plan that gives requests/s is checked in open loop at that rate with headroom
    (arrivals do not wait for answers; the queue counts in E2E); a plan that gives users
    or concurrency is checked in closed loop with the provisioned concurrency always in
    flight. A throughput-first plan that gives a rate (a batch job) lets the queue fill: every
    replica runs at its Cr_closed, and the fleet needs the replicas whose throughput there
    carries the rate (see :func:`filled_load`). A full-envelope plan is checked both ways:
    the rate plan also in closed loop at the concurrency the fleet sizing's fixed point gives,
    the concurrency plan also in open loop at the rate Little's law gives at the estimate's operating point
    (the mean request's E2E there).
    """
    demand = demand_of(plan)
    headroom = 1 + demand.headroom
    if demand.peak_concurrency is None:
        rate = demand.peak_rate_req_s * headroom
        rate_source = f"{demand.rate_source} x (1 + {demand.headroom:.0%} headroom)"
    else:
        mean_e2e_ms = mean_request_e2e_ms(fleet, demand)
        e2e_s = mean_e2e_ms / 1000 if mean_e2e_ms else 1.0
        rate = fleet.provisioned_concurrency / e2e_s
        rate_source = (
            f"{fleet.provisioned_concurrency:,.1f} provisioned concurrent / E2E {e2e_s:.1f} s of the mean request "
            "(Little's law)"
        )
    concurrency = max(math.ceil(fleet.provisioned_concurrency - 1e-9), 1)
    if demand.peak_concurrency is None and plan.slo.effective_scenario == "throughput-first":
        return [PeakLoad("filled", rate, None, rate_source)]
    open_loop = PeakLoad("open", rate, None, rate_source)
    closed_loop = PeakLoad("closed", None, concurrency, f"{fleet.provisioned_concurrency:,.1f} provisioned")
    stated = [open_loop] if demand.peak_concurrency is None else [closed_loop]
    if plan.slo.effective_scenario != "full-envelope":
        return stated
    return [open_loop, closed_loop]


@dataclass(frozen=True)
class FleetCheck:
    """One simulated run of the whole fleet at one peak load."""

    replicas: int
    load: PeakLoad
    duration_s: float
    summary: dict[str, Any]

    @property
    def rate_shortfall(self) -> float:
        """For a closed loop that must complete a rate (a batch job's): that rate over the
        throughput simulated (above 1 when it falls short); 0 for other loads."""
        if self.load.mode != "closed" or not self.load.rate_req_s:
            return 0.0
        return float(self.load.rate_req_s / max(self.summary["throughput_req_s"], 1e-12))

    @property
    def meets(self) -> bool:
        """True when the simulated percentiles meet every SLO target (and the rate is carried)."""
        return bool(self.summary["meets_slo"]) and self.rate_shortfall <= 1


@dataclass(frozen=True)
class FleetDecision:
    """The replicas a plan gets, checked by simulation, with its envelopes and cost.

    ``replicas_for_load`` carries the peak in simulation; ``estimated_replicas`` is what the
    analytic estimate said. ``checks`` are the simulated fleet runs that decided it (the
    last per load at the chosen count), ``envelope`` the per-replica search.
    """

    fleet: FleetSizing
    estimated_replicas: int
    replicas_for_load: int
    spares: int
    cr_closed: int
    cr_open_req_s: float
    output_tok_s_at_cr_closed: float
    eur_per_m_tokens: float | None
    loads: list[PeakLoad]
    checks: list[FleetCheck]
    curve: list[dict[str, Any]] = field(default_factory=list)
    #: Disaggregated serving's prefill and decode pools, when the plan asks for them; the
    #: replicas for the load are then theirs.
    pools: PoolDecision | None = None

    @property
    def deployment(self) -> Deployment:
        """The deployment decided on."""
        return self.fleet.deployment

    @property
    def model(self) -> PerformanceModel:
        """The performance model that timed it."""
        return self.fleet.model

    @property
    def replicas(self) -> int:
        """Replicas including the N+1/N+2 spares."""
        return self.replicas_for_load + self.spares if self.replicas_for_load else 0

    @property
    def gpus(self) -> int:
        """GPUs of the whole fleet, spares included (of both pools, each its own layout, when disaggregated)."""
        if self.pools is not None:
            return self.pools.gpus(self.spares // 2) if self.replicas_for_load else 0
        return self.replicas * self.deployment.gpus

    @property
    def nodes(self) -> int:
        """Nodes the fleet occupies: those it packs into, spread over the plan's failure domains."""
        return spread_over(self.packed_nodes, self.replicas, self.fleet.min_nodes) if self.replicas_for_load else 0

    @property
    def packed_nodes(self) -> int:
        """Nodes the fleet packs into before it spreads over the failure domains (``nodes``)."""
        if self.pools is not None:
            return self.pools.nodes(self.spares // 2) if self.replicas_for_load else 0
        return nodes_for(self.deployment, self.replicas)

    @property
    def feasible(self) -> bool:
        """True when some replica count meets the SLOs in simulation."""
        return self.replicas_for_load > 0

    @property
    def req_s_at_cr_closed(self) -> float:
        """Requests one replica completes per second with Cr_closed in flight (simulated)."""
        at_cr = next((p for p in self.curve if p["mode"] == "closed" and p["load"] == self.cr_closed), None)
        return float(at_cr["throughput_req_s"]) if at_cr else 0.0

    @property
    def label(self) -> str:
        """The deployment that serves the load in brief: the prefill and decode pools' where they serve
        it (:attr:`PoolDecision.label`), else the chosen deployment's."""
        return self.pools.label if self.pools is not None else self.deployment.label

    @property
    def simulated_aggregated_replicas(self) -> int:
        """The aggregated replicas the simulation found for the load: the fleet's, or, where pools were
        chosen, those the pools were weighed against (the estimate sizes aggregated replicas only)."""
        return self.pools.aggregated_replicas if self.pools is not None else self.replicas_for_load

    @property
    def estimate_off_by(self) -> float | None:
        """How far the estimate's replica count was from the simulated one, aggregated serving against
        aggregated serving (0.25 = 25% too many)."""
        if not self.replicas_for_load or not self.simulated_aggregated_replicas:
            return None
        return self.estimated_replicas / self.simulated_aggregated_replicas - 1

    def final_checks(self) -> list[FleetCheck]:
        """The runs of the whole fleet at the decided replica count, one per peak load."""
        found: dict[str, FleetCheck] = {}
        for c in self.checks:
            if c.replicas == self.replicas_for_load and c.meets:
                found.setdefault(c.load.describe(), c)
        return list(found.values())

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: replicas (simulated and estimated), envelopes, cost, and the runs that decided them."""
        return {
            "deployment": self.deployment.label,
            "replicas_for_load": self.replicas_for_load,
            "spares": self.spares,
            "replicas": self.replicas,
            "gpus": self.gpus,
            "nodes": self.nodes,
            "estimated_replicas_for_load": self.estimated_replicas,
            "simulated_aggregated_replicas": self.simulated_aggregated_replicas,
            "estimate_off_by": None if self.estimate_off_by is None else round(self.estimate_off_by, 4),
            "cr_closed": self.cr_closed,
            "cr_open_req_s": round(self.cr_open_req_s, 6),
            "output_tok_s_at_cr_closed": round(self.output_tok_s_at_cr_closed, 3),
            "eur_per_1m_tokens": None if self.eur_per_m_tokens is None else round(self.eur_per_m_tokens, 4),
            "peak_loads": [load.describe() for load in self.loads],
            "checks": [
                {
                    "replicas": c.replicas,
                    "load": c.load.describe(),
                    "simulated_s": c.duration_s,
                    "meets_slo": c.meets,
                    "requests": c.summary["requests"],
                    "ttft_p95_ms": c.summary["ttft_ms"]["p95"],
                    "itl_p95_ms": c.summary["itl_ms"]["p95"],
                    "e2e_p95_ms": c.summary["e2e_ms"]["p95"],
                }
                for c in self.checks
            ],
            "curve": self.curve,
            "disaggregated": self.pools.to_json() if self.pools else None,
        }


def run_lengths(fleet: FleetSizing, fixed_s: float | None = None) -> tuple[RunLength, RunLength]:
    """How long envelope points and fleet runs last: long enough for their requests to
    reach a steady state and complete (the estimate's E2E sets the pace), or ``fixed_s``."""
    e2e_s = fleet.operating_point.e2e_ms / 1000 if fleet.operating_point else SHORTEST_S
    point = RunLength(fixed_s, POINT_REQUESTS, e2e_s, SHORTEST_S, LONGEST_POINT_S)
    whole = RunLength(fixed_s, FLEET_REQUESTS, e2e_s, SHORTEST_FLEET_S, LONGEST_FLEET_S)
    return point, whole


def fleet_run_s(
    fleet: FleetSizing, spec: LoadSpec, replicas: int, fixed_s: float | None = None, router: str = "least-outstanding"
) -> tuple[float, float | None]:
    """Seconds a run of ``replicas`` replicas at ``spec`` lasts, and how long it may be stretched
    while a closed loop is still in its first wave (``simulate_plan``'s ``stretch_to_s``): a whole-fleet
    run's length, or, for a closed loop the simulator runs as one replica's share (see
    :func:`balanced_share`), the length of one envelope point at that share (the same run, so the same answer)."""
    point, whole = run_lengths(fleet, fixed_s)
    share = balanced_share(spec, replicas, router)
    if share is not None:
        return point.for_load(replace(spec, concurrency=share)), point.stretch_to_s
    return whole.for_load(spec), whole.stretch_to_s


#: Decisions kept in memory (the least recently used dropped first): ``plan`` then ``simulate`` or ``envelope``
#: on the same plan in one session (the desktop app's tabs) reuse the decision.
MEMO_SIZE = 32
#: Plan fields no simulation reads (checked by tests/gui/test_main_window.py's rename).
WORDS_NOT_SIMULATED: dict[str, Any] = {
    "baseline": True,
    "name": True,
    "description": True,
    "exit_plan": True,
    "use_case": {"title", "problem", "actor", "data_residency", "success_criteria"},
}
#: Plan fields that only pin the deployment: the memo's key holds the deployment itself, so a plan that
#: pins the configuration its search chose (the desktop app's "Apply") reuses the open plan's decision.
DEPLOYMENT_PINS: dict[str, Any] = {
    "hardware": {"gpu"},
    "runtime": {"id", "tp", "pp", "ep", "dp"},
    "model": {"weights", "kv_cache"},
}
_NOT_IN_KEY: dict[str, Any] = {
    **WORDS_NOT_SIMULATED,
    **{part: set(fields) | set(WORDS_NOT_SIMULATED.get(part, ())) for part, fields in DEPLOYMENT_PINS.items()},
}
_memo: OrderedDict[tuple[Any, ...], tuple[PerformanceModel, FleetDecision]] = OrderedDict()


def decide(
    plan: Plan,
    fleet: FleetSizing,
    *,
    fixed_s: float | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    pool_stacks: tuple[str, ...] = (),
    pool_layouts: tuple[Pool, ...] = (),
) -> FleetDecision:
    """The decision of :func:`simulate_decision`, reused when the same plan, deployment,
    performance model, run length, seed and pool choice were decided before in this process."""
    # The fleet sizing follows from the plan, the deployment and the model, so they are the key; a
    # measured baseline changes what the TCO is priced at, not what the simulation decides, and the
    # plan's words (its name, the use case's prose, the exit plan) change nothing the simulation reads,
    # so renaming a plan in the desktop app does not simulate it again.
    key = (
        plan.model_dump_json(exclude=_NOT_IN_KEY),
        fleet.deployment,
        fleet.model.name,
        id(fleet.model),
        fixed_s,
        seed,
        pool_stacks,
        tuple((dep, model.name) for dep, model in pool_layouts),
    )
    found = _memo.get(key)
    if found is not None and found[0] is fleet.model:
        _memo.move_to_end(key)
        return found[1]
    decision = simulate_decision(
        plan, fleet, fixed_s=fixed_s, seed=seed, progress=progress, pool_stacks=pool_stacks, pool_layouts=pool_layouts
    )
    _memo[key] = (fleet.model, decision)  # holding the model keeps its id from being reused
    while len(_memo) > MEMO_SIZE:
        _memo.popitem(last=False)
    return decision


def simulate_decision(
    plan: Plan,
    fleet: FleetSizing,
    *,
    fixed_s: float | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    pool_stacks: tuple[str, ...] = (),
    pool_layouts: tuple[Pool, ...] = (),
) -> FleetDecision:
    """Check the analytic fleet in simulation and settle its replica count and envelopes.

    First the per-replica envelopes, searched from the estimate. Then the replicas each
    peak load needs. In closed loop the router spreads the requests in flight evenly
    (least outstanding first), so the fleet needs ceil(concurrency / Cr_closed) replicas.
    In open loop the fleet pools its replicas' queues, so the count is searched with runs
    of the whole fleet from ceil(rate / Cr_open), down while it holds, else up. The
    decision takes the most replicas any load needs and runs the whole fleet at that count
    at every peak load; where a run misses, one more replica (at most ``CONFIRMATIONS``
    times).

    :param fleet: the analytic sizing of one deployment (feasible or not).
    A plan that pins disaggregated serving is then sized as prefill and decode pools
    (:func:`size_pools`), each pool in the layout of ``pool_layouts`` (or the fleet's own) that
    needs the fewest GPUs, and priced at the pooled Cr_closed (:func:`price_pools`). With
    ``pool_stacks`` (the plan leaves disaggregation open; these stacks could run the pools), pools
    are sized too, for a plan with a TTFT or ITL target, and kept only when they need fewer GPUs
    than the aggregated fleet, their extra spare (one per pool) included.

    :param fixed_s: simulated seconds of every run (default: as :func:`run_lengths` says).
    :param seed: the simulations' seed (the same seed gives the same decision).
    """
    with remembered_runs():  # the fleet's closed-loop check at a balanced share is an envelope point
        return _decided(plan, fleet, fixed_s, seed, progress, pool_stacks, pool_layouts)


def _decided(
    plan: Plan,
    fleet: FleetSizing,
    fixed_s: float | None,
    seed: int,
    progress: Callable[[str], None] | None,
    pool_stacks: tuple[str, ...],
    pool_layouts: tuple[Pool, ...],
) -> FleetDecision:
    """:func:`simulate_decision`, decided."""
    dep, model = fleet.deployment, fleet.model
    point = run_lengths(fleet, fixed_s)[0]
    found = envelopes(plan, dep, model, length=point, seed=seed, progress=progress, start=max(fleet.per_replica, 1))
    cr_closed, cr_open = int(found["cr_closed"]), float(found["cr_open_req_s"])
    at_cr = next((p for p in found["curve"] if p["mode"] == "closed" and p["load"] == cr_closed), None)
    output_at_cr = float(at_cr["output_tok_s"]) if at_cr else 0.0
    loads = peak_loads(plan, fleet) if fleet.feasible and cr_closed > 0 and cr_open > 0 else []
    rate_at_cr = float(at_cr["throughput_req_s"]) if at_cr else 0.0
    loads = [filled_load(load, cr_closed, rate_at_cr) if load.mode == "filled" else load for load in loads]
    checks: list[FleetCheck] = []
    targets = targets_of(plan)

    def run(load: PeakLoad, replicas: int) -> float:
        """The worst percentile over its target of the whole fleet at ``load`` (or the rate it
        falls short of, for a load that must complete a rate)."""
        spec = load.spec(plan.traffic.peak_factor, replicas)
        duration_s, stretch_to_s = fleet_run_s(fleet, spec, replicas, fixed_s)
        summary = simulate_plan(
            plan, dep, model, spec, replicas=replicas, duration_s=duration_s, seed=seed, stretch_to_s=stretch_to_s
        )
        check = FleetCheck(replicas, load, float(summary["simulated_s"]), summary)
        checks.append(check)
        if progress:
            progress(f"fleet of {replicas} at {load.describe()}: {'meets' if check.meets else 'misses'}")
        return max(worst_ratio(summary, targets), check.rate_shortfall)

    replicas = 0
    for load in loads:
        if load.per_replica:
            needed = math.ceil((load.concurrency or 1) / load.per_replica)
        elif load.mode == "closed":
            needed = math.ceil((load.concurrency or 1) / cr_closed)
        else:
            floor, guess, likely = _open_loop_bracket(load, cr_open, float(found["sustainable_req_s"]))
            needed = _fewest(partial(run, load), guess, likely, floor=floor)
        if not needed:
            replicas = 0
            break
        replicas = max(replicas, needed)
    if replicas:
        for _ in range(CONFIRMATIONS):
            missed = [load for load in loads if not _whole_run(checks, load, replicas) and run(load, replicas) > 1]
            if not missed:
                break
            replicas += 1
        else:
            replicas = 0
    spares = plan.slo.spare_failure_domains if replicas else 0
    pools = None
    pinned = bool(plan.serving_stack.disaggregated)
    # Left open, pools are tried where a TTFT or ITL target is at stake (prefill steps stretch the
    # decode steps beside them); a job judged on E2E alone (a batch window) stays aggregated.
    latency_bound = targets.ttft_s is not None or targets.itl_s is not None
    if replicas and (pinned or (pool_stacks and latency_bound)):
        # open: the pools, a spare in each, must need fewer GPUs than the aggregated fleet with its spares
        under = None if pinned else (replicas + spares) * dep.gpus
        rate = _pool_rate(loads, replicas, rate_at_cr)
        pools = size_pools(plan, fleet, rate, replicas, fixed_s, seed, progress, under_gpus=under, layouts=pool_layouts)
        pools = price_pools(plan, fleet, pools, fixed_s, seed) if pools else None
        pools = replace(pools, stacks=pool_stacks) if pools and not pinned else pools
        if pools or pinned:
            replicas = pools.replicas if pools else 0
            spares = 2 * plan.slo.spare_failure_domains if pools else 0  # a spare in each pool
    costs = cost_assumptions(plan.costs)
    if pools:
        gpus, output_tok_s = pools.gpus(plan.slo.spare_failure_domains), pools.output_tok_s_at_cr_closed
    else:
        gpus, output_tok_s = (replicas + spares) * dep.gpus, output_at_cr * replicas
    cost = eur_per_million_tokens(dep.gpu, gpus, output_tok_s, costs) if replicas else None
    return FleetDecision(
        fleet=fleet,
        estimated_replicas=fleet.replicas_for_load,
        replicas_for_load=replicas,
        spares=spares,
        cr_closed=cr_closed,
        cr_open_req_s=cr_open,
        output_tok_s_at_cr_closed=output_at_cr,
        eur_per_m_tokens=cost,
        loads=loads,
        checks=checks,
        curve=found["curve"],
        pools=pools,
    )


@dataclass(frozen=True)
class PoolDecision:
    """Disaggregated serving sized in simulation: prefill and decode pools, each with the parallel
    layout that needs the fewest GPUs, the KV cache moved between them, at the peak rate
    (``summary``: the deciding run), and priced at the pooled Cr_closed."""

    prefill_replicas: int
    decode_replicas: int
    aggregated_replicas: int
    rate_req_s: float
    transport: str
    summary: dict[str, Any]
    #: Each pool's layout and the model that timed it.
    prefill: Pool
    decode: Pool
    #: For a plan that leaves disaggregation open: the stacks that could run these pools (they were
    #: chosen because they need fewer GPUs); empty when the plan pins disaggregation.
    stacks: tuple[str, ...] = ()
    #: One replica of each pool in closed loop (:mod:`planner.pool_capacity`).
    prefill_capacity: PoolCapacity | None = None
    decode_capacity: PoolCapacity | None = None
    #: The share of ``rate_req_s`` the pools were simulated at (below 1 for a fleet beyond
    #: ``MAX_SIMULATED_REPLICAS``: the replicas and the summary's rates are that run's, scaled up).
    simulated_share: float = 1.0

    @property
    def replicas(self) -> int:
        """Replicas of both pools (spares apart)."""
        return self.prefill_replicas + self.decode_replicas

    def gpus(self, spares_per_pool: int = 0) -> int:
        """GPUs of both pools, with ``spares_per_pool`` spare replicas in each."""
        return (self.prefill_replicas + spares_per_pool) * self.prefill[0].gpus + (
            self.decode_replicas + spares_per_pool
        ) * self.decode[0].gpus

    def nodes(self, spares_per_pool: int = 0) -> int:
        """Nodes both pools occupy (each packed on its own nodes), spares included."""
        return nodes_for(self.prefill[0], self.prefill_replicas + spares_per_pool) + nodes_for(
            self.decode[0], self.decode_replicas + spares_per_pool
        )

    @property
    def req_s_at_cr_closed(self) -> float:
        """Requests/s the pools complete with each replica at its pool's Cr_closed: the smaller pool's
        capacity, never below the peak rate the pools were shown to carry within the SLOs."""
        if self.prefill_capacity is None or self.decode_capacity is None:
            return float(self.summary["throughput_req_s"])
        pooled = min(
            self.prefill_replicas * self.prefill_capacity.req_s, self.decode_replicas * self.decode_capacity.req_s
        )
        return max(pooled, float(self.summary["throughput_req_s"]))

    @property
    def output_tok_s_at_cr_closed(self) -> float:
        """Output tokens/s of the pools at the pooled Cr_closed (what EUR per token is priced at)."""
        carried = float(self.summary["throughput_req_s"])
        per_request = float(self.summary["output_tok_s"]) / carried if carried else 0.0
        return self.req_s_at_cr_closed * per_request

    @property
    def label(self) -> str:
        """The pools' deployment in brief, each pool's layout in it: 'qwen3-32b on b200 x2 TP2 prefill +
        x1 TP1 decode wfp8/kvfp8 sglang' (a :attr:`Deployment.label` of both)."""
        prefill, decode = self.prefill[0], self.decode[0]
        return prefill.label_with(
            f"x{prefill.gpus} {prefill.parallelism} prefill + x{decode.gpus} {decode.parallelism} decode"
        )

    def layouts_text(self, spares_per_pool: int) -> str:
        """Each pool's replicas (spares included) and GPUs per replica: '(9 prefill x 2 GPU + 4 decode x 1 GPU)'."""
        return (
            f"({self.prefill_replicas + spares_per_pool} prefill x {self.prefill[0].gpus} GPU "
            f"+ {self.decode_replicas + spares_per_pool} decode x {self.decode[0].gpus} GPU)"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the pools with their layouts, the run that decided them, the pooled Cr_closed and
        the aggregated fleet's count."""
        return {
            "prefill_replicas": self.prefill_replicas,
            "decode_replicas": self.decode_replicas,
            "prefill_deployment": self.prefill[0].label,
            "decode_deployment": self.decode[0].label,
            "aggregated_replicas": self.aggregated_replicas,
            "rate_req_s": round(self.rate_req_s, 6),
            "transport": self.transport,
            "chosen_over_aggregated": bool(self.stacks),
            "stacks": list(self.stacks),
            "cr_closed": {
                "prefill": self.prefill_capacity.cr_closed if self.prefill_capacity else None,
                "decode": self.decode_capacity.cr_closed if self.decode_capacity else None,
                "prefill_memory_holds": self.prefill_capacity.memory_holds if self.prefill_capacity else None,
                "decode_memory_holds": self.decode_capacity.memory_holds if self.decode_capacity else None,
                "req_s": round(self.req_s_at_cr_closed, 6),
                "output_tok_s": round(self.output_tok_s_at_cr_closed, 3),
            },
            "axes": self.axes_text(),
            "run": {k: v for k, v in self.summary.items() if k not in ("prefill", "decode")},
        }

    def axes_text(self) -> str:
        """What sets each pool's Cr_closed, its memory or the SLOs ('' before the pools' envelopes are
        known): 'a decode replica runs 89 requests in flight, all its KV cache holds (memory binds); a
        prefill replica 6 in flight within TTFT, where its KV cache holds 89 (the SLOs bind)'."""
        prefill, decode = self.prefill_capacity, self.decode_capacity
        if not (prefill and decode):
            return ""

        def runs(capacity: PoolCapacity, within: str) -> str:
            if capacity.memory_binds:
                return f"{capacity.cr_closed:,} requests in flight, all its KV cache holds (memory binds)"
            return (
                f"{capacity.cr_closed:,} in flight {within}, where its KV cache holds {capacity.memory_holds:,} "
                "(the SLOs bind)"
            )

        return (
            f"a decode replica runs {runs(decode, 'within ITL and E2E')}; "
            f"a prefill replica {runs(prefill, 'within TTFT')}"
        )

    def cr_closed_text(self) -> str:
        """'Cr_closed 2 per prefill and 121 per decode replica' ('' before the pools' envelopes are known)."""
        if not (self.prefill_capacity and self.decode_capacity):
            return ""
        return (
            f"Cr_closed {self.prefill_capacity.cr_closed:,} per prefill and {self.decode_capacity.cr_closed:,} "
            "per decode replica"
        )

    def describe(self, aggregated: Deployment) -> str:
        """One line: the pools, their run at the peak, their Cr_closed and the aggregated count beside them."""
        s, q = self.summary, int(self.summary["percentile"])
        at, served = s["at_percentile_ms"], " or ".join(self.stacks)
        prefill, decode = _layout(self.prefill[0]), _layout(self.decode[0])
        capacity = ""
        if self.cr_closed_text():
            capacity = f"; {self.cr_closed_text()}, {self.req_s_at_cr_closed:,.3g} requests/s pooled"
        return (
            f"{self.prefill_replicas} prefill x {prefill} + {self.decode_replicas} decode x {decode}, KV over "
            f"{self.transport} ({s['kv_transfer_ms_mean']:,.1f} ms a request): at {self.rate_req_s:,.3g} requests/s "
            + (f"(sized at {self.simulated_share:.1%} of it, scaled up) " if self.simulated_share < 1 else "")
            + f"p{q} TTFT {at['ttft']:,.0f} ms, ITL {at['itl']:,.1f} ms, E2E {at['e2e'] / 1000:,.1f} s{capacity}; "
            f"aggregated serving needs {self.aggregated_replicas} x {aggregated.parallelism}"
            + (
                f" (disaggregation was left open: the pools need fewer GPUs; serve them with {served})"
                if served
                else ""
            )
        )


def _layout(dep: Deployment) -> str:
    """A pool's layout in brief, e.g. 'TP2 (2 GPUs)'."""
    return f"{dep.parallelism} ({dep.gpus} GPU{'s' if dep.gpus > 1 else ''})"


def _pool_rate(loads: list[PeakLoad], replicas: int, rate_at_cr_req_s: float) -> float:
    """The peak rate the pools must serve: the open-loop load's, else what the fleet completes at Cr_closed."""
    rate = next((load.rate_req_s for load in loads if load.mode == "open" and load.rate_req_s), None)
    return rate if rate is not None else replicas * rate_at_cr_req_s


def size_pools(
    plan: Plan,
    fleet: FleetSizing,
    rate: float,
    aggregated: int,
    fixed_s: float | None,
    seed: int,
    progress: Callable[[str], None] | None,
    *,
    under_gpus: int | None = None,
    layouts: tuple[Pool, ...] = (),
) -> PoolDecision | None:
    """Prefill and decode pools at ``rate`` with the fewest GPUs; None when none holds.

    The prefill pool first: for each layout (the fleet's own and ``layouts``), the fewest
    replicas whose pool meets TTFT at ``rate`` with room left for the KV's transfer and a decode
    step (:func:`~planner.pool_capacity.handoff_s`: the client's first token comes from the decode
    pool); then, fed by the prefill pool that needs the fewest GPUs, the fewest decode replicas of
    each layout that meet TTFT as the client sees it, ITL and E2E. Their ratio follows. A layout is
    simulated only when its floor (:mod:`planner.pool_capacity`), scaled as :func:`_fewest_gpus`
    says, is below the GPUs of the best pool found so far. The KV cache moves over the plan's transport (NIXL when
    it names none), at the pace of the two layouts (:func:`~planner.disaggregation.kv_transfer_s`).

    :param under_gpus: both pools, a spare in each, must need fewer GPUs than this; None: no limit
        but the aggregated fleet's GPUs for each pool.
    :param layouts: other parallel layouts each pool may take, each with the model that times it.
    """
    from planner.disaggregation import decode_stage, prefill_stage, prefill_ttft, stage_lengths

    if aggregated > MAX_SIMULATED_REPLICAS:  # as simulate_plan runs such a fleet: a share, scaled up
        share = MAX_SIMULATED_REPLICAS / aggregated
        shared_under = None if under_gpus is None else max(math.floor(under_gpus * share), 1)
        some = size_pools(
            plan, fleet, rate * share, MAX_SIMULATED_REPLICAS, fixed_s, seed, progress,
            under_gpus=shared_under, layouts=layouts,
        )  # fmt: skip
        return _scaled_up(some, share, rate, aggregated) if some else None
    own: Pool = (fleet.deployment, fleet.model)
    options = [own, *(pool for pool in layouts if pool[0] != fleet.deployment and fits(pool[0], plan))]
    transport = plan.serving_stack.kv_transport or "nixl"
    duration_s = run_lengths(fleet, fixed_s)[0].at_rate(rate)
    targets, shape = targets_of(plan), request_shape(plan, fleet.deployment)
    spare = plan.slo.spare_failure_domains
    under = under_gpus if under_gpus is not None else math.inf
    # lists, not dicts keyed by pool: a plugin's performance model need not be hashable
    decode_floors = [(pool, decode_floor_gpus(pool, shape, rate, targets.itl_s, plan)) for pool in options]
    least_decode = min((f + spare * p[0].gpus for p, f in decode_floors if f is not None), default=None)
    if least_decode is None:
        return None
    stages: dict[tuple[Deployment, int], Any] = {}
    lengths = stage_lengths(plan, fleet.deployment, rate, duration_s, seed)  # every layout serves the same model

    def stage(pool: Pool, replicas: int) -> Any:
        if (pool[0], replicas) not in stages:
            stages[pool[0], replicas] = prefill_stage(
                plan, pool, rate, replicas, duration_s=duration_s, seed=seed, lengths=lengths
            )
            if progress:
                progress(f"{replicas} prefill x {_layout(pool[0])} at {rate:,.3g} requests/s")
        return stages[pool[0], replicas]

    def ttft_short(pool: Pool) -> Callable[[int], float]:
        if not targets.ttft_s:
            return lambda _replicas: 0.0  # no TTFT target: the floor's replicas keep up
        # the client's first token comes from the decode pool: the prefill pool leaves it the KV's
        # transfer and a decode step (of the fleet's own layout: the decode pool is sized after)
        left_s = targets.ttft_s - handoff_s(pool[0], own, shape, transport, targets.itl_s)
        if left_s <= 0:
            return lambda _replicas: math.inf
        scale = targets.ttft_s / left_s
        return lambda replicas: float(prefill_ttft(plan, stage(pool, replicas))["worst_ratio"]) * scale

    search = partial(_fewest_gpus, spare=spare, most=aggregated * fleet.deployment.gpus)
    prefill_floors = [(pool, prefill_floor_gpus(pool, shape, rate, targets.ttft_s)) for pool in options]
    found_prefill = search(prefill_floors, under - least_decode, ttft_short)
    if found_prefill is None:
        return None
    prefill_gpus, prefill_pool, prefill = found_prefill
    first = stage(prefill_pool, prefill)
    runs: dict[tuple[Deployment, int], dict[str, Any]] = {}

    if _beyond_e2e(prefill_ttft(plan, first), targets) is not None:
        return None  # no decode pool can help: each request's E2E includes its TTFT

    def split(pool: Pool, decode: int) -> dict[str, Any]:
        if (pool[0], decode) not in runs:
            runs[pool[0], decode] = decode_stage(plan, first, pool, decode, transport, seed=seed)
            runs[pool[0], decode]["simulated_s"] = duration_s
            if progress:
                progress(f"{prefill} prefill + {decode} decode x {_layout(pool[0])} at {rate:,.3g} requests/s")
        return runs[pool[0], decode]

    found_decode = search(decode_floors, under - prefill_gpus, lambda pool: lambda d: split(pool, d)["worst_ratio"])
    if found_decode is None:
        return None
    _, decode_pool, decode = found_decode
    summary = split(decode_pool, decode)
    return PoolDecision(prefill, decode, aggregated, rate, transport, summary, prefill_pool, decode_pool)


def _scaled_up(pools: PoolDecision, share: float, rate: float, aggregated: int) -> PoolDecision:
    """``pools`` sized at ``share`` of ``rate`` as the pools for all of it: each pool's replicas
    and the run's rates over ``share``."""
    return replace(
        pools,
        prefill_replicas=math.ceil(pools.prefill_replicas / share - 1e-9),
        decode_replicas=math.ceil(pools.decode_replicas / share - 1e-9),
        aggregated_replicas=aggregated,
        rate_req_s=rate,
        summary=scaled_rates(pools.summary, 1 / share),
        simulated_share=share,
    )


def _at_share(replicas: int, share: float) -> int:
    """The replicas a pool scaled up by :func:`_scaled_up` was simulated with: ceil(n / share) x share
    lies in [n, n + share), so its floor is n (rounding would give n + 1 where share is near 1)."""
    return max(math.floor(replicas * share + 1e-9), 1) if share < 1 else replicas


#: A pool's search starts this far above its floor (a pool that is never idle queues without bound),
#: and tries twice that next when it misses.
POOL_GUESS = 1.25


def _within_replicas(shortfall: Callable[[int], float], highest: int, replicas: int) -> float:
    """``shortfall`` up to ``highest`` replicas; past it, never met (the search grows no further)."""
    return shortfall(replicas) if replicas <= highest else math.inf


def _fewest_gpus(
    floors: list[tuple[Pool, int | None]],
    under_gpus: float,
    shortfall_of: Callable[[Pool], Callable[[int], float]],
    *,
    spare: int,
    most: int,
) -> tuple[int, Pool, int] | None:
    """The pool layout and replica count that meet the SLOs with the fewest GPUs (``spare`` spare
    replicas counted), fewer than ``under_gpus``: (its GPUs, the layout, replicas for the load).

    Layouts are tried by their floor (fewest GPUs first). A layout is skipped when its floor,
    scaled by how far the best pool found needed more than its own floor, reaches that pool: the
    excess over a floor comes from queueing and the tail of the request lengths, which the layouts
    of one GPU meet alike (an estimate; the unscaled floor alone is a bound, but too loose to spare
    many runs). ``most``: the GPUs one pool may have when ``under_gpus`` is unbounded.

    Each layout's floor is run first: a pool that holds at its floor is done (a decode pool
    often is, where the prefill pool sets the worst percentile). Otherwise the count is bisected
    between the floor and the most replicas the layout may have (:func:`_bisect_towards`: that
    most is run only once the middle misses, and its miss rules the layout out); with no such
    bound, the search goes down from a guess ``POOL_GUESS`` above the floor.
    """
    best: tuple[int, Pool, int] | None = None
    excess = 1.0  # the best pool's GPUs over its floor
    for pool, floor in sorted(((p, f) for p, f in floors if f is not None), key=lambda pair: pair[1]):
        per_replica, under = pool[0].gpus, best[0] if best else under_gpus
        if floor * excess + spare * per_replica >= under:
            continue
        room = (under - 1) // per_replica - spare if math.isfinite(under) else max(most // per_replica, 1)
        highest, lowest = int(room), max(floor // per_replica, 1)
        if highest < lowest:
            continue
        shortfall = partial(_within_replicas, shortfall_of(pool), highest)
        if shortfall(lowest) <= 1:
            found = lowest  # the floor holds: no fewer replicas can (one run, where a search takes four)
        elif not math.isfinite(under):
            guess = min(math.ceil(lowest * POOL_GUESS), highest)
            found = _fewest(shortfall, guess, min(2 * guess + 1, highest), floor=lowest + 1)
        else:
            found, _ = _bisect_towards(shortfall, lowest, highest)  # 0: even the most it may have misses
        if found:
            best = ((found + spare) * per_replica, pool, found)
            excess = max(found * per_replica / max(floor, 1), 1.0)
    return best


def price_pools(plan: Plan, fleet: FleetSizing, pools: PoolDecision, fixed_s: float | None, seed: int) -> PoolDecision:
    """``pools`` with each pool's Cr_closed (one replica in closed loop), which EUR per token is priced at.

    Each search starts from what a replica of that pool held in flight in the deciding run (a load
    that met the SLOs, so just under its Cr_closed: a few points suffice).
    """
    shape, s = request_shape(plan, fleet.deployment), pools.summary
    prefill_s = prefill_busy_s(pools.prefill, shape)
    prompts = RunLength(fixed_s, POINT_REQUESTS, prefill_s, SHORTEST_S, LONGEST_POINT_S)
    in_prefill = pools.rate_req_s * s["ttft_ms"]["mean"] / 1000 / pools.prefill_replicas  # Little's law
    handoff = handoff_s(pools.prefill[0], pools.decode, shape, pools.transport, targets_of(plan).itl_s)
    prefill = prefill_capacity(
        plan, pools.prefill, prompts, seed, start=max(round(in_prefill), 1), handoff_wait_s=handoff
    )
    in_decode = max(round(s["batch"]["mean"]), 1)
    generation_s = (s["e2e_ms"]["mean"] - s["ttft_ms"]["mean"]) / 1000
    tokens = RunLength(fixed_s, POINT_REQUESTS, max(generation_s, 1e-3), SHORTEST_S, LONGEST_POINT_S)
    first_token_s = s["at_percentile_ms"]["ttft"] / 1000  # (the client's: the KV's transfer included)
    decode = decode_capacity(plan, pools.decode, tokens, seed, start=in_decode, first_token_s=first_token_s)
    return replace(pools, prefill_capacity=prefill, decode_capacity=decode)


def _beyond_e2e(prefill_only: dict[str, Any], targets: Targets) -> dict[str, Any] | None:
    """A split's result when its prefill pool alone (``prefill_only``, its run with no decode
    pool) already misses the E2E target, else None.

    Each request's E2E includes its TTFT, which the prefill pool alone sets, so the split
    misses whatever the decode pool: its worst ratio is at least this one and no decode run
    is needed (an overloaded prefill pool trickles its requests out over hours of simulated
    time, each decoded alone on an idle decode replica: millions of steps to simulate).
    """
    if targets.e2e_s is None:
        return None
    floor = prefill_only["at_percentile_ms"]["ttft"] / (targets.e2e_s * 1000)
    return {**prefill_only, "worst_ratio": floor, "meets_slo": False} if floor > 1 else None


def rerun_pools(plan: Plan, decision: FleetDecision, pools: PoolDecision, seed: int = 0) -> dict[str, Any]:
    """The run that decided the pools, again (the same seed gives the same percentiles)."""
    from planner.disaggregation import disaggregation

    share = pools.simulated_share
    run = disaggregation(
        plan, pools.prefill, pools.decode, pools.rate_req_s * share, _at_share(pools.prefill_replicas, share),
        _at_share(pools.decode_replicas, share), pools.transport, duration_s=pools.summary["simulated_s"], seed=seed,
    )  # fmt: skip
    return scaled_rates(run, 1 / share) if share < 1 else run


def pools_fleet_check(
    plan: Plan, decision: FleetDecision, pools: PoolDecision, spares_down: dict[str, Any], seed: int = 0
) -> dict[str, Any]:
    """:func:`planner.plan_simulation.fleet_check` of a fleet served as prefill and decode pools: both
    pools with their spares (one in each), run as :func:`rerun_pools` runs them, and ``spares_down``,
    the pools for the load (:func:`rerun_pools` of ``pools``, which the caller has run)."""
    spare = decision.spares // 2
    full = replace(
        pools, prefill_replicas=pools.prefill_replicas + spare, decode_replicas=pools.decode_replicas + spare
    )
    return {
        "all_up": rerun_pools(plan, decision, full, seed),
        "spares_down": spares_down,
        "survives_failure": bool(spares_down["meets_slo"]),
    }


def filled_load(load: PeakLoad, cr_closed: int, rate_at_cr_req_s: float) -> PeakLoad:
    """The closed loop that carries a rate with the queue allowed to fill: the replicas whose
    throughput at Cr_closed carries the rate, each with Cr_closed requests in flight (its E2E
    there is each item's time in the server, checked against the target)."""
    rate = load.rate_req_s or 0.0
    replicas = math.ceil(rate / rate_at_cr_req_s - 1e-9) if rate_at_cr_req_s > 0 else 0
    source = (
        f"{load.source}; every replica at Cr_closed {cr_closed} completes {rate_at_cr_req_s:,.3g} requests/s, "
        f"so {replicas} replicas"
    )
    return PeakLoad("closed", rate, max(replicas, 1) * cr_closed, source, per_replica=cr_closed)


#: Times the decided count is raised by one when a run of the whole fleet misses the SLOs.
CONFIRMATIONS = 3


def _whole_run(checks: list[FleetCheck], load: PeakLoad, replicas: int) -> bool:
    """True when a run of the whole fleet of ``replicas`` at ``load`` met the SLOs."""
    return any(c.load == load and c.replicas == replicas and c.meets for c in checks)


#: The open-loop search stops within this share above the fewest replicas that hold (one
#: replica more in a fleet of 100 is not worth two more runs of the whole fleet).
FLEET_PRECISION = 0.03
#: A fleet is never grown past this many times its first guess.
GROWTH_LIMIT = 4
#: Growing the fleet stops when doubling the step improves the worst percentile by less than this
#: share: the SLO then sits at the deployment's floor (a prompt's own prefill, say), which more
#: replicas of it cannot lower.
FLOOR_GAIN = 0.02


def _open_loop_bracket(load: PeakLoad, cr_open: float, sustainable: float) -> tuple[int, int, int]:
    """The fewest replicas that can keep up, where the open-loop search starts, and the count
    that very likely holds.

    The fleet needs at least rate / (what one replica sustains) replicas, or its queue grows
    (:func:`planner.envelope.sustainable_req_s`). One replica alone meets the SLOs up to
    Cr_open, so ceil(rate / Cr_open) very likely hold; a pool behind the router queues less
    than one replica alone, so the search starts halfway between the two.
    """
    rate = load.rate_req_s or 0.0
    floor = max(math.ceil(rate / sustainable - 1e-9), 1) if math.isfinite(sustainable) else 1
    likely = max(math.ceil(rate / cr_open - 1e-9), floor)
    return floor, (floor + likely) // 2, likely


def _fewest(shortfall: Callable[[int], float], guess: int, likely: int, *, floor: int = 1) -> int:
    """The fewest replicas, at least ``floor``, whose run meets the SLOs, searched from
    ``guess``; 0 when none does (past ``GROWTH_LIMIT`` x ``likely``, or when more replicas
    stop helping).

    :param shortfall: the worst percentile over its target for a fleet size (at most 1 meets).
    :param likely: a count at least ``guess`` that very likely holds, bisected towards when
        ``guess`` fails (:func:`_bisect_towards`: ``likely`` itself is run only where its middle misses).

    Down from the guess while the fleet meets them, by doubling steps; up from ``likely``
    the same way when it does not hold either; then a bisection between the last count that
    failed and the first that held, to within ``FLEET_PRECISION``.
    """
    guess = max(guess, floor)
    likely = max(likely, guess)
    at_guess = shortfall(guess)
    found, at_likely = _bisect_towards(shortfall, guess, likely) if likely > guess and at_guess > 1 else (0, at_guess)
    if found:
        return found
    if at_guess <= 1:
        high, step = guess, 1
        while high - step >= floor and shortfall(high - step) <= 1:
            high -= step
            step *= 2
        low = max(high - step, floor - 1)
    else:
        start, worst = likely, at_likely  # (likely is at least guess)
        low, step = start, 1
        high = start + step
        while (at_high := shortfall(high)) > 1:
            if at_high > worst * (1 - FLOOR_GAIN) or start + 2 * step > start * GROWTH_LIMIT:
                return 0
            low, worst, step = high, at_high, step * 2
            high = start + step
    return _bisect(shortfall, low, high)


def _bisect_towards(shortfall: Callable[[int], float], low: int, high: int) -> tuple[int, float]:
    """:func:`_bisect` where ``high`` has not been run: (the fewest replicas that meet the SLOs,
    0.0), or (0, ``high``'s shortfall) when even ``high`` misses.

    The bisection's first middle is run before ``high``: the replicas a pool or a fleet needs
    usually lie nearer ``low`` (a floor, or a guess above it) than the most it may have or the
    count that very likely holds, so where the middle holds, ``high`` is never run (and it is
    the costliest run of the search). Where the middle misses, ``high`` is run next, so a layout
    that cannot hold is ruled out in two runs. Where ``high`` holds, the runs are those
    :func:`_bisect` makes from it, so the answer is the same.
    """
    if not _close_enough(low, high):
        middle = (low + high) // 2
        if shortfall(middle) <= 1:
            return _bisect(shortfall, low, middle), 0.0
        low = middle
    at_high = shortfall(high)
    return (_bisect(shortfall, low, high), 0.0) if at_high <= 1 else (0, at_high)


def _close_enough(low: int, high: int) -> bool:
    """True when a bisection between ``low`` and ``high`` replicas is done (within ``FLEET_PRECISION``)."""
    return high - low <= max(1, FLEET_PRECISION * high)


def _bisect(shortfall: Callable[[int], float], low: int, high: int) -> int:
    """The fewest replicas that meet the SLOs between ``low`` (known to miss) and ``high`` (known
    to meet them), to within ``FLEET_PRECISION``."""
    while not _close_enough(low, high):
        middle = (low + high) // 2
        if shortfall(middle) <= 1:
            high = middle
        else:
            low = middle
    return high


def worst_ratio(summary: dict[str, Any], targets: Targets) -> float:
    """The worst of p(SLO) TTFT, ITL and E2E over their targets (at most 1 meets them all); inf when
    the run dropped requests or measured none."""
    if not summary["requests"] or summary["dropped"]:
        return math.inf
    q = f"p{int(targets.percentile)}" if f"p{int(targets.percentile)}" in summary["ttft_ms"] else "p95"
    ratios = [
        slo_figure_ms(summary, name, q) / (target * 1000)
        for target, name in ((targets.ttft_s, "ttft_ms"), (targets.itl_s, "itl_ms"), (targets.e2e_s, "e2e_ms"))
        if target is not None
    ]
    return max(ratios, default=0.0)
