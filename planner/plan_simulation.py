"""Simulating a plan's deployment: one load through the discrete-event simulator.

Builds simulator replicas from a :class:`Deployment` and the performance model that
times it (KV blocks from the capacity sizing, step times from the model's mixed steps,
the runtime's knobs), then ``simulate_plan`` runs one load (open or closed loop) and
``fleet_check`` runs the sized fleet at its peak with every replica, then with its
N+1 (N+2) spares down. Envelopes (:mod:`planner.envelope`), disaggregated pools
(:mod:`planner.disaggregation`) and GPU mixes (:mod:`planner.mix`) build on these.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from planner import simulate
from planner.perfmodel import PerformanceModel
from planner.performance_models import frontend_s, ranked_decode_steps_of, ranked_step_function_of, step_function_of
from planner.plan import Plan
from planner.simulate import (
    ROUTERS,
    RankedReplica,
    Replica,
    SchedulerConfig,
    Targets,
    Workload,
    daily_arrivals,
    gamma_arrivals,
    lognormal_lengths,
    poisson_arrivals,
    run,
    slo_misses,
    summarise,
)
from planner.sizing.capacity import caches_prefixes, rank_batched_tokens, scheduler_sequences, size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import FleetSizing
from planner.sizing.steady_state import prefill_first
from planner.traffic import length_percentiles, prefix_hit_rate, sizing_shape

DEFAULT_DURATION_S = 300.0
#: A run lasts at least this many typical end-to-end latencies: requests reach a steady state, then complete.
E2E_SPANS = 2.0
#: A closed loop whose measured requests kept fewer than this share of its users busy on average was
#: still in its first wave: its few finished requests are the ones that overtook it, and flatter.
STEADY_IN_SYSTEM_SHARE = 0.5


@dataclass(frozen=True)
class RunLength:
    """How long a simulated run lasts: ``fixed_s`` seconds, or long enough that about
    ``requests`` requests complete after the warm-up (at least ``shortest_s`` and a few
    end-to-end latencies, at most ``longest_s``)."""

    fixed_s: float | None = None
    requests: int = 150
    e2e_s: float = 1.0
    shortest_s: float = 60.0
    longest_s: float = 1800.0

    def at_rate(self, rate_req_s: float) -> float:
        """Seconds of arrivals for an open loop at ``rate_req_s`` (or a closed loop completing that many)."""
        if self.fixed_s is not None:
            return self.fixed_s
        wanted = self.requests / max(rate_req_s, 1e-9) / 0.9  # the first 10% is warm-up
        return min(max(self.shortest_s, E2E_SPANS * self.e2e_s, wanted), self.longest_s)

    def in_flight(self, concurrency: float) -> float:
        """Seconds for a closed loop with ``concurrency`` requests in flight (Little's law at ``e2e_s``)."""
        return self.at_rate(concurrency / max(self.e2e_s, 1e-9))

    def for_load(self, load: LoadSpec) -> float:
        """Seconds for ``load``."""
        if load.mode == "open":
            return self.at_rate(load.rate or 1.0)
        return self.in_flight(load.concurrency or 1)

    @property
    def stretch_to_s(self) -> float | None:
        """How long a closed loop still in its first wave may run (see :func:`until_steady`);
        None for a fixed length, which is run as given."""
        return None if self.fixed_s is not None else self.longest_s


def reached_steady_state(summary: dict[str, Any], users: int) -> bool:
    """True when a closed loop of ``users`` (no think time) ran long enough for its measured
    requests to be in steady state: on average they kept at least half the users busy.

    Every user sends its first request at once. Where the run is short against the end-to-end
    latency at this load (the estimate's E2E, which sets the run's length, is that of a lighter
    load), the first wave is still draining when the run ends and only the requests that
    overtook it are measured: the fast ones, so the percentiles flatter and the throughput is low.
    """
    return float(summary["littles_law"]["mean_in_system"]) >= STEADY_IN_SYSTEM_SHARE * users


def until_steady(
    simulate_for: Callable[[float], dict[str, Any]], duration_s: float, users: int | None, stretch_to_s: float | None
) -> dict[str, Any]:
    """``simulate_for(duration_s)``, run again twice as long while a closed loop of ``users`` has
    not reached its steady state (:func:`reached_steady_state`), up to ``stretch_to_s`` seconds.

    Every closed-loop run whose length follows from a :class:`RunLength` goes through here (the
    envelope's points, the fleet's checks, ``planner simulate``, the pools' capacities), so the same
    load gets the same run whichever command asks. ``users`` is None for an open loop or a closed
    loop with think time; ``stretch_to_s`` None runs ``duration_s`` as given.
    """
    summary = simulate_for(duration_s)
    while users and stretch_to_s is not None and duration_s < stretch_to_s:
        if reached_steady_state(summary, users):
            break
        duration_s = min(duration_s * 2, stretch_to_s)
        summary = simulate_for(duration_s)
    return summary


def scheduler_for(dep: Deployment, context: int) -> SchedulerConfig:
    """Scheduler limits of one replica (of one rank, with attention data parallelism, where each
    rank schedules its own requests) as ``planner deploy`` configures it: batch limit (the sequences of
    ``context`` tokens the KV cache holds, within the runtime's limit), step token budget, KV blocks."""
    cap = size_capacity(dep, context)
    return SchedulerConfig(
        max_num_seqs=scheduler_sequences(dep, cap.max_concurrency),
        token_budget=rank_batched_tokens(dep),
        prefill_first=prefill_first(dep),
        block_tokens=cap.kv_block_tokens,
        kv_blocks=cap.kv_blocks_per_gpu,
    )


def make_replicas(dep: Deployment, model: PerformanceModel, count: int, context: int) -> list[Replica]:
    """``count`` simulator replicas of ``dep``, timed by ``model`` (through its optional
    ``step_function(dep)``, the same mixed step with per-deployment work done once), each with the
    front end's latency every run of them adds to TTFT and E2E. With attention data parallelism a
    replica is its ranks' schedulers stepping together (:class:`~planner.simulate.RankedReplica`)."""
    frontend = frontend_s(model, dep)
    if dep.attention_dp:
        ranked, runs = ranked_step_function_of(model, dep), ranked_decode_steps_of(model, dep)
        dispatch = dep.runtime.attention_dp_dispatch
        config = scheduler_for(dep, context)
        return [RankedReplica(i, config, dep.ep, ranked, frontend, runs, dispatch) for i in range(count)]
    return [Replica(i, scheduler_for(dep, context), step_function_of(model, dep), frontend) for i in range(count)]


def workload_of(plan: Plan, dep: Deployment) -> Workload:
    """Request lengths fitted to the plan's p50/p95, and its shared prefix (never cached where ``dep``'s
    engine has prefix caching off)."""
    w = plan.workload
    lengths = lognormal_lengths(*length_percentiles(w), dep.model.max_context)
    hit_rate = prefix_hit_rate(w) if caches_prefixes(dep) else 0.0
    return Workload(lengths=lengths, shared_prefix_tokens=w.shared_prefix_tokens, prefix_hit_rate=hit_rate)


def targets_of(plan: Plan) -> Targets:
    """The plan's SLO targets in seconds."""
    s = plan.slo

    def to_s(ms: float | None) -> float | None:
        return ms / 1000 if ms is not None else None

    return Targets(to_s(s.ttft_ms), to_s(s.itl_ms), to_s(s.e2e_ms), s.percentile)


def context_of(plan: Plan) -> int:
    """The context that sizes KV: the sizing request's input and output (p95, or p99 where the SLO's
    percentile is above 95 and the workload gives one), as the estimate and ``planner deploy`` size it."""
    isl, osl, _ = sizing_shape(plan)
    return isl + osl


@dataclass(frozen=True)
class LoadSpec:
    """How load is applied: open loop at a rate, or closed loop with users."""

    mode: str  # open or closed
    rate: float | None = None
    concurrency: int | None = None
    arrival: str = "poisson"  # poisson, gamma, daily
    cv: float = 2.0
    peak_factor: float = 1.0
    think_s: float = 0.0


def simulate_plan(
    plan: Plan,
    dep: Deployment,
    model: PerformanceModel,
    load: LoadSpec,
    *,
    replicas: int = 1,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
    router: str = "least-outstanding",
    lengths: Any = None,
    stretch_to_s: float | None = None,
) -> dict[str, Any]:
    """Simulate ``replicas`` replicas of ``dep`` under ``load``; return the summary.

    A closed loop without think time whose requests in flight divide evenly over the
    replicas behind the least-outstanding router is simulated as one replica with its
    share: the router keeps every replica at most at that share (each finished request's
    successor, the front end's time later, goes to a replica below it, not always the one it
    left), so the fleet runs as that many copies of one replica, alike in the load each holds.
    The summary then gives the fleet's rates and says ``simulated_replicas: 1``. A fleet of more
    than ``MAX_SIMULATED_REPLICAS`` replicas is simulated as that many with their share of the
    load (``simulated_replicas`` says how many).

    :param lengths: a JSONL/CSV path of input/output token counts to replay instead of
        the plan's fitted distribution.
    :param stretch_to_s: a closed loop still in its first wave after ``duration_s`` runs again
        longer, up to this many seconds (:func:`until_steady`; ``RunLength.stretch_to_s``).
    """
    runs = _REMEMBERED.get()
    if runs is None or lengths is not None:
        return _simulated(plan, dep, model, load, replicas, duration_s, seed, router, lengths, stretch_to_s)
    key = (plan.model_dump_json(), dep, id(model), load, replicas, duration_s, seed, router, stretch_to_s,
           simulate._FAST_FORWARD)  # fmt: skip
    found = runs.get(key)
    if found is None or found[0] is not model:
        summary = _simulated(plan, dep, model, load, replicas, duration_s, seed, router, lengths, stretch_to_s)
        if summary["stopped_early"]:  # where the budget stopped it depends on the clock
            return summary
        found = runs[key] = (model, copy.deepcopy(summary))  # holding the model keeps its id from being reused
    return copy.deepcopy(found[1])


def _simulated(
    plan: Plan,
    dep: Deployment,
    model: PerformanceModel,
    load: LoadSpec,
    replicas: int,
    duration_s: float,
    seed: int,
    router: str,
    lengths: Any,
    stretch_to_s: float | None,
) -> dict[str, Any]:
    """:func:`simulate_plan`, run."""
    from planner.simulate import replay_lengths

    share = balanced_share(load, replicas, router)
    if share is not None:
        one = simulate_plan(
            plan, dep, model, replace(load, concurrency=share), duration_s=duration_s, seed=seed, router=router,
            lengths=lengths, stretch_to_s=stretch_to_s,
        )  # fmt: skip
        return _as_fleet(one, load, replicas, dep.gpus)
    if replicas > MAX_SIMULATED_REPLICAS:
        some = simulate_plan(
            plan, dep, model, load_share(load, MAX_SIMULATED_REPLICAS / replicas), replicas=MAX_SIMULATED_REPLICAS,
            duration_s=duration_s, seed=seed, router=router, lengths=lengths, stretch_to_s=stretch_to_s,
        )  # fmt: skip
        return _as_fleet(some, load, replicas, dep.gpus, simulated=MAX_SIMULATED_REPLICAS)

    workload = workload_of(plan, dep)
    if lengths is not None:
        workload = Workload(replay_lengths(lengths), workload.shared_prefix_tokens, workload.prefix_hit_rate)
    rng = random.Random(seed + 1)
    gaps = None
    users = None
    if load.mode == "open":
        rate = load.rate or 1.0
        gaps = {
            "poisson": lambda: poisson_arrivals(rate, rng),
            "gamma": lambda: gamma_arrivals(rate, load.cv, rng),
            "daily": lambda: daily_arrivals(rate, load.peak_factor, rng, period_s=duration_s),
        }[load.arrival]()
    else:
        users = load.concurrency or 1

    def simulate_for(seconds: float) -> dict[str, Any]:
        result = run(
            make_replicas(dep, model, replicas, context_of(plan)),  # fresh: a run changes its replicas
            workload,
            duration_s=seconds,
            seed=seed,
            gaps=gaps,
            users=users,
            think_s=load.think_s,
            router=ROUTERS[router],
        )
        return summarise(result, targets_of(plan)) | {"simulated_s": seconds}

    summary = until_steady(simulate_for, duration_s, users if not load.think_s else None, stretch_to_s)
    summary["load"] = {"mode": load.mode, "rate": load.rate, "concurrency": load.concurrency, "arrival": load.arrival}
    summary["replicas"] = replicas
    summary["gpus"] = replicas * dep.gpus
    summary["slo_misses"] = slo_misses(summary, targets_of(plan))
    summary["meets_slo"] = not summary["slo_misses"]
    return summary


#: The runs :func:`simulate_plan` made inside :func:`remembered_runs`, by their inputs (None outside).
_REMEMBERED: ContextVar[dict[tuple[Any, ...], tuple[PerformanceModel, dict[str, Any]]] | None] = ContextVar(
    "planner_remembered_runs", default=None
)


@contextmanager
def remembered_runs() -> Iterator[None]:
    """Inside the block, :func:`simulate_plan` answers a run it already made (the same plan,
    deployment, model, load, replicas, length, seed and router) with a copy of that run's summary:
    seeded, the run would give the same summary again. A decision asks for one run twice: the
    fleet's closed-loop check split over its replicas is the envelope's point at that share
    (:func:`planner.decision.fleet_run_s`). Runs with replayed lengths are not kept."""
    outer = _REMEMBERED.get()
    token = _REMEMBERED.set({} if outer is None else outer)
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def balanced_share(load: LoadSpec, replicas: int, router: str) -> int | None:
    """Requests in flight per replica when a closed loop splits exactly over the fleet, else None."""
    concurrency = load.concurrency or 1
    if load.mode != "closed" or router != "least-outstanding" or load.think_s > 0 or replicas < 2:
        return None
    return concurrency // replicas if concurrency % replicas == 0 else None


def _as_fleet(
    one: dict[str, Any], load: LoadSpec, replicas: int, gpus_per_replica: int, simulated: int = 1
) -> dict[str, Any]:
    """The summary of ``simulated`` replicas' share of ``load`` as the fleet's: their rates times
    ``replicas`` / ``simulated`` (percentiles, batch and KV use are per replica either way; counts
    are of the requests simulated)."""
    fleet = scaled_rates(one, replicas / simulated)
    fleet["load"] = {**one["load"], "concurrency": load.concurrency, "rate": load.rate}
    fleet["replicas"], fleet["gpus"], fleet["simulated_replicas"] = replicas, replicas * gpus_per_replica, simulated
    return fleet


def scaled_rates(summary: dict[str, Any], factor: float) -> dict[str, Any]:
    """``summary`` with its rates (requests/s, tokens/s, Little's law's arrivals and requests in the
    system) times ``factor``: a share of a fleet's run as the whole fleet's. Percentiles, batch and
    KV use are per replica either way."""
    scaled = dict(summary)
    for rate in ("goodput_req_s", "throughput_req_s", "output_tok_s"):
        if rate in summary:
            scaled[rate] = summary[rate] * factor
    if "littles_law" in summary:
        little = summary["littles_law"]
        scaled["littles_law"] = {**little, "arrival_rate": little["arrival_rate"] * factor,
                                 "mean_in_system": little["mean_in_system"] * factor}  # fmt: skip
    return scaled


#: The most replicas one simulation runs: a larger fleet is simulated as this many replicas with
#: their share of the load. Behind the least-outstanding router a request waits only when every
#: replica is busy, which at 256 replicas is already rare at any load the fleet keeps up with, so
#: more replicas would change the percentiles little and cost time in proportion (a plan of 500
#: million users asked for millions of replicas and ran for hours); the largest use case (nightly
#: summarisation) simulates 191.
MAX_SIMULATED_REPLICAS = 256


def load_share(load: LoadSpec, share: float) -> LoadSpec:
    """``load`` cut to ``share`` of it: the rate of an open loop, the clients of a closed one (at least one)."""
    if load.mode == "open":
        return replace(load, rate=(load.rate or 1.0) * share)
    return replace(load, concurrency=max(round((load.concurrency or 1) * share), 1))


def fleet_check(plan: Plan, fleet: FleetSizing, load: LoadSpec, **kw: Any) -> dict[str, Any]:
    """Run the fleet at ``load`` with every replica, spares included, then with its spares down."""
    dep, model = fleet.deployment, fleet.model
    full = simulate_plan(plan, dep, model, load, replicas=fleet.replicas, **kw)
    degraded = simulate_plan(plan, dep, model, load, replicas=max(fleet.replicas - fleet.spares, 1), **kw)
    return {"all_up": full, "spares_down": degraded, "survives_failure": bool(degraded["meets_slo"])}
