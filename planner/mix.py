"""A heterogeneous fleet as a TCO lever: request-size buckets served by GPU classes (after Mélange).

A router in front of the fleet sends each request, by its input length, to a pool of one GPU class.
Each pool is a plan of its own (:func:`pool_plan`: the plan's requests within its range of input
lengths, their share of the traffic, the plan's SLOs, headroom, spares and failure domains), so
``planner plan`` on it gives the pool's fleet. :func:`size_buckets` cuts the plan's requests into
buckets of equal share; :func:`heterogeneous_mix` ranks every assignment of buckets to classes by
each pool's estimate, settles the cheapest in simulation as ``planner plan`` settles a fleet, and
weighs them against the plan's own fleet (its best single class, settled the same way), so the mix
and ``planner plan`` price the same fleet the same.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

from planner.catalog import Catalog
from planner.decision import FleetDecision
from planner.errors import PlannerError
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN
from planner.plan import Plan
from planner.resolve import ResolvedPlan, resolve_plan
from planner.sizing.fleet import FleetSizing
from planner.sizing.plan_sizing import COMPETITIVE, VERIFY_LIMIT, size_plan
from planner.sizing.search import Candidate, candidate_deployments, search
from planner.tco import cost_assumptions, yearly_cost_eur
from planner.traffic import Demand, demand_of, length_percentiles, lognormal_sigma


@dataclass(frozen=True)
class Bucket:
    """A share of the plan's requests, cut by input length: what a pool of one GPU class may serve."""

    name: str
    #: The share of the plan's requests in the bucket (the buckets' shares add up to 1).
    share: float
    #: Where the bucket starts among the plan's requests ordered by input length (a quantile, 0-1).
    start_q: float
    #: The shortest input the bucket holds, in tokens.
    shortest_input: int
    #: The longest input it holds (None: the longest the plan sends, up to the model's context).
    longest_input: int | None


@dataclass(frozen=True)
class Pool:
    """A GPU class's pool in a mix: the buckets it serves, its fleet (``planner plan`` of its pool
    plan: whole replicas, N+1/N+2 spares) and what the fleet costs an hour."""

    gpu: str
    buckets: tuple[str, ...]
    sizing: FleetSizing
    eur_per_hour: float
    #: What simulation settled (its replicas, and its prefill and decode pools where it serves
    #: disaggregated), as ``planner plan`` settles a fleet; None: the estimate's fleet.
    decision: FleetDecision | None = None

    @property
    def settled(self) -> bool:
        """True once simulation settled the pool's fleet."""
        return self.decision is not None

    def to_json(self) -> dict[str, Any]:
        """The pool's class, buckets, deployment, replicas, GPUs, cost and whether simulation settled it."""
        s = self.sizing
        return {
            "gpu": self.gpu,
            "buckets": list(self.buckets),
            "deployment": s.deployment.label,
            "isl": s.isl,
            "osl": s.osl,
            "per_replica": s.per_replica,
            "replicas_for_load": s.replicas_for_load,
            "spares": s.spares,
            "replicas": s.replicas,
            "gpus": s.gpus,
            "eur_per_hour": self.eur_per_hour,
            "settled_in_simulation": self.settled,
        }


@dataclass(frozen=True)
class MixResult:
    """The cheapest assignment of buckets to GPU classes, and the best single class."""

    #: bucket name -> the GPU class serving it ({} when no assignment is feasible).
    mix: dict[str, str]
    #: One pool per run of consecutive buckets that one class serves.
    pools: list[Pool]
    #: The cheapest class serving every request alone: the plan's own fleet where the mix was
    #: settled (None when none can).
    single: Pool | None
    #: Assignments that had a fleet for every pool by estimate, and those settled in simulation.
    feasible: int = 0
    settled: int = 0

    @property
    def eur_per_hour(self) -> float:
        """What the mix's pools cost an hour (infinite when no assignment is feasible)."""
        return sum(p.eur_per_hour for p in self.pools) if self.pools else math.inf

    @property
    def saving(self) -> float | None:
        """The mix's saving against the best single class (negative: the mix costs more; None when
        either is infeasible)."""
        if self.single is None or not self.pools:
            return None
        return (self.single.eur_per_hour - self.eur_per_hour) / self.single.eur_per_hour

    def to_json(self) -> dict[str, Any]:
        """The mix, its pools and cost, the best single class, the saving."""
        single = self.single
        return {
            "mix": self.mix,
            "mix_gpus": {p.gpu: p.sizing.gpus for p in self.pools},
            "mix_eur_per_hour": self.eur_per_hour if self.pools else None,
            "pools": [p.to_json() for p in self.pools],
            "best_single_class": single.gpu if single else None,
            "single_eur_per_hour": single.eur_per_hour if single else None,
            "single": single.to_json() if single else None,
            "saving": self.saving,
            "assignments_feasible_by_estimate": self.feasible,
            "assignments_settled": self.settled,
        }


#: (GPU class, EUR per GPU-hour, the class's cheapest fleet by estimate for a run of buckets, None
#: where none meets the SLOs).
PricedClass = tuple[str, float, Callable[[Sequence[Bucket]], FleetSizing | None]]
#: The candidate simulation settles for a class serving a run of buckets (None where none holds).
Settle = Callable[[str, Sequence[Bucket]], Candidate | None]
#: Assignments that hold in simulation once settled, at most (see :func:`_settled`).
SETTLED_ASSIGNMENTS = 2


def heterogeneous_mix(
    buckets: Sequence[Bucket],
    classes: list[PricedClass],
    progress: Callable[[int, int], None] | None = None,
    *,
    settle: Settle | None = None,
    single: Pool | None = None,
) -> MixResult:
    """Assign request-size buckets to GPU classes at least cost (after Mélange, arXiv 2404.14527).

    A router sends each request to its bucket's class by input length, so a class serving
    consecutive buckets serves them from one pool (their union, sized as one plan: whole replicas,
    its own spares) and a class serving buckets apart serves each run from a pool of its own.
    Every assignment is ranked by its pools' estimates; with ``settle``, the cheapest are settled in
    simulation as the plan checks its candidates (:func:`_settled`) and the cheapest settled is the mix.

    :param buckets: the plan's requests cut by input length, shortest first (:func:`size_buckets`).
    :param classes: (GPU class, EUR per GPU-hour, the class's cheapest fleet for a run of buckets).
    :param progress: called with (pools sized, pools to size) after each pool's estimate.
    :param settle: the fleet simulation settles for a class serving a run of buckets.
    :param single: the best single class as settled (the plan's own fleet); default: the cheapest
        class serving every bucket by estimate.
    :returns: the cheapest mix against the best single class.
    """
    _check_assignments(len(classes), len(buckets))
    price = {c: p for c, p, _ in classes}
    sizers = {c: size for c, _, size in classes}
    names = [b.name for b in buckets]
    by_name = {b.name: b for b in buckets}
    estimated: dict[tuple[str, tuple[str, ...]], Pool | None] = {}
    total = len(classes) * len(buckets) * (len(buckets) + 1) // 2

    def pool(cls: str, run: tuple[str, ...]) -> Pool | None:
        # Each class sizes each run of buckets once: the assignments below share them.
        if (cls, run) not in estimated:
            sizing = sizers[cls]([by_name[n] for n in run])
            estimated[cls, run] = (
                Pool(cls, run, sizing, sizing.gpus * price[cls]) if sizing is not None and sizing.feasible else None
            )
            if progress:
                progress(len(estimated), total)
        return estimated[cls, run]

    feasible = 0

    def priced() -> Iterator[tuple[float, dict[str, str], list[Pool]]]:
        nonlocal feasible
        for combo in itertools.product(price, repeat=len(names)):
            assignment = dict(zip(names, combo, strict=True))
            chosen = _pools_of(assignment, pool)
            if chosen is not None:
                feasible += 1
                yield sum(p.eur_per_hour for p in chosen), assignment, chosen

    # the cheapest few by estimate, in order (ties in the order tried), without keeping every assignment
    ranked = heapq.nsmallest(VERIFY_LIMIT, priced(), key=operator.itemgetter(0))
    if single is None and price:
        alone = [p for cls in price if (p := pool(cls, tuple(names))) is not None]
        single = min(alone, key=operator.attrgetter("eur_per_hour"), default=None)
    if settle is None or not ranked:
        best = ranked[0] if ranked else (math.inf, {}, [])
        return MixResult(best[1], best[2], single, feasible)
    settled = _settled(ranked, price, by_name, settle, single if single is not None and single.settled else None)
    best = min(settled, key=operator.itemgetter(0), default=(math.inf, {}, []))
    return MixResult(best[1], best[2], single, feasible, len(settled))


def _pools_of(assignment: dict[str, str], pool: Callable[[str, tuple[str, ...]], Pool | None]) -> list[Pool] | None:
    """The pools of an assignment (bucket name -> class, shortest bucket first): one per run of
    consecutive buckets of one class; None when some run has no fleet."""
    out = []
    for cls, run in itertools.groupby(assignment, key=assignment.__getitem__):
        own = pool(cls, tuple(run))
        if own is None:
            return None
        out.append(own)
    return out


def _settled(
    ranked: list[tuple[float, dict[str, str], list[Pool]]],
    price: dict[str, float],
    by_name: dict[str, Bucket],
    settle: Settle,
    own: Pool | None = None,
) -> list[tuple[float, dict[str, str], list[Pool]]]:
    """The cheapest assignments by estimate, each pool's fleet settled in simulation, as the plan
    checks its candidates: of the ``VERIFY_LIMIT`` cheapest, ``SETTLED_ASSIGNMENTS`` that hold, and none
    whose estimate is beyond ``COMPETITIVE`` times the cheapest settled (an assignment with a pool
    that holds nowhere in simulation is left out)."""
    # (the plan's own fleet, ``own``, is its class's settled pool of every bucket: not simulated again)
    memo: dict[tuple[str, tuple[str, ...]], Pool | None] = {(own.gpu, own.buckets): own} if own else {}

    def settled(p: Pool) -> Pool | None:
        if (p.gpu, p.buckets) not in memo:
            found = settle(p.gpu, [by_name[n] for n in p.buckets])
            memo[p.gpu, p.buckets] = settled_pool_of(found, p.buckets, price[p.gpu]) if found is not None else None
        return memo[p.gpu, p.buckets]

    out: list[tuple[float, dict[str, str], list[Pool]]] = []
    for estimate, assignment, pools in ranked:
        cheapest = min((cost for cost, _, _ in out), default=math.inf)
        if len(out) >= SETTLED_ASSIGNMENTS or estimate > COMPETITIVE * cheapest:
            break
        held = [q for p in pools if (q := settled(p)) is not None]
        if len(held) == len(pools):
            out.append((sum(p.eur_per_hour for p in held), assignment, held))
    return out


#: Most assignments of buckets to classes the exhaustive search tries (a few seconds).
MAX_ASSIGNMENTS = 1_000_000
#: Most pools (a class x a run of consecutive buckets) the mix sizes by estimate, each with the plan's
#: search over the class's deployments (a tenth to half a second each: 3 buckets over 6 classes, 36
#: pools); the few settled in simulation then take a `planner plan` each.
MAX_POOLS = 100


def _check_assignments(classes: int, buckets: int) -> None:
    """Refuse a search of classes ** buckets assignments beyond :data:`MAX_ASSIGNMENTS`, or more
    than :data:`MAX_POOLS` pools (a class x a run of consecutive buckets) to size."""

    def pools(n: int) -> int:
        return classes * n * (n + 1) // 2

    if classes**buckets <= MAX_ASSIGNMENTS and pools(buckets) <= MAX_POOLS:
        return
    most = max((n for n in range(1, buckets) if classes**n <= MAX_ASSIGNMENTS and pools(n) <= MAX_POOLS), default=1)
    raise PlannerError(
        f"{buckets} buckets over {classes} GPU classes are {classes}^{buckets} assignments and "
        f"{pools(buckets):,} pools to size, more than the {MAX_ASSIGNMENTS:,} and {MAX_POOLS} the mix search tries",
        path="planner mix",
        fix=f"use --buckets {most} or fewer, or name fewer GPU classes in the plan",
    )


def input_tokens_at(plan: Plan, quantile: float) -> int:
    """The input length at ``quantile`` (0-1) of the plan's requests: the log-normal through the
    workload's input p50 and p95 that the simulator draws prompts from."""
    p50, p95, _, _ = length_percentiles(plan.workload)
    sigma = lognormal_sigma(p50, p95)
    if sigma <= 0:
        return max(p50, 1)
    return max(round(math.exp(NormalDist(math.log(max(p50, 1)), sigma).inv_cdf(quantile))), 1)


def size_buckets(plan: Plan, count: int = 3) -> list[Bucket]:
    """Cut the plan's requests into ``count`` buckets of equal share by input length, at the
    quantiles of the input lengths the simulator draws (:func:`input_tokens_at`), shortest first."""
    bounds = [input_tokens_at(plan, i / count) for i in range(1, count)]
    buckets = []
    for i in range(count):
        shortest = bounds[i - 1] + 1 if i else 1
        longest = bounds[i] if i < count - 1 else None
        buckets.append(
            Bucket(f"{i + 1}: input {_range_text(shortest, longest)}", 1 / count, i / count, shortest, longest)
        )
    return buckets


def _range_text(shortest: int, longest: int | None) -> str:
    """'<= 2,025', '2,026-3,157' or '> 3,157' tokens."""
    if longest is None:
        return f"> {shortest - 1:,}"
    return f"<= {longest:,}" if shortest <= 1 else f"{shortest:,}-{longest:,}"


def pool_plan(plan: Plan, run: Sequence[Bucket]) -> Plan:
    """The plan of a pool that serves ``run`` (consecutive buckets, shortest first): the plan's
    requests within its range of input lengths, their input p50 and p95 (and p99 where the plan
    gives one) read from the plan's input lengths (:func:`input_tokens_at`), their share of the
    plan's traffic; its output lengths, SLOs, headroom, spares, model, runtime and stack as the
    plan has them. A run of every bucket is the plan itself.

    Every pool meeting the SLOs at the plan's percentile over its own requests keeps the whole
    fleet within them at that percentile. A declared concurrency or a batch's items take their share
    in whole requests (at least 1); a shared prefix longer than the pool's median prompt is cut to
    it (the prefix is part of the prompt).
    """
    share = sum(b.share for b in run)
    if share >= 1 - 1e-9:
        return plan
    start = run[0].start_q

    def at(quantile: float) -> int:
        return input_tokens_at(plan, start + quantile * share)

    data = plan.model_dump(mode="json", exclude_defaults=True)
    given_p99 = plan.workload.input_tokens.p99 is not None
    inputs = {"p50": at(0.5), "p95": at(0.95), **({"p99": at(0.99)} if given_p99 else {})}
    data["workload"]["input_tokens"] = inputs
    data["workload"]["shared_prefix_tokens"] = min(plan.workload.shared_prefix_tokens, inputs["p50"])
    data["traffic"].update(_traffic_share(plan, share))
    served = _range_text(run[0].shortest_input, run[-1].longest_input)
    data["name"] = f"{plan.name}: pool for input {served} tokens"
    data["description"] = (
        f"The requests of '{plan.name}' whose input is {served} tokens ({share:.0%} of them), which a router "
        "by input length sends to this pool (planner mix)."
    )
    return Plan.model_validate(data)


def _traffic_share(plan: Plan, share: float) -> dict[str, Any]:
    """The traffic fields that carry ``share`` of the plan's load."""
    t = plan.traffic
    if t.batch is not None:
        return {"batch": {"items": max(round(t.batch.items * share), 1), "window_hours": t.batch.window_hours}}
    if t.requests_per_s is not None:
        return {"requests_per_s": round(t.requests_per_s * share, 9)}
    if t.concurrency is not None:
        return {"concurrency": max(round(t.concurrency * share), 1)}
    return {"active_fraction": round(t.active_fraction * share, 9)}


def pool_demand(plan: Plan, buckets: Sequence[Bucket]) -> Demand:
    """What a pool serving ``buckets`` (consecutive) must carry: the demand of its pool plan."""
    return demand_of(pool_plan(plan, buckets))


def pinned_pool_plan(plan: Plan, gpu: str, run: Sequence[Bucket]) -> Plan:
    """The pool plan of ``run`` with its GPU pinned to ``gpu`` (a GPU class id): what ``planner mix
    --write-plans`` writes and ``planner plan`` sizes for the pool."""
    pool = pool_plan(plan, run)
    return pool.model_copy(update={"hardware": pool.hardware.model_copy(update={"gpu": gpu})})


def pinned_pool(plan: Plan, gpu: str, run: Sequence[Bucket], catalog: Catalog, source: str = "") -> ResolvedPlan:
    """:func:`pinned_pool_plan`, resolved."""
    return resolve_plan(pinned_pool_plan(plan, gpu, run), catalog, source)


def estimated_pool(
    plan: Plan, gpu: str, catalog: Catalog, performance: PerformanceModel | None = None, source: str = ""
) -> Callable[[Sequence[Bucket]], FleetSizing | None]:
    """The cheapest fleet of ``gpu`` for a run of buckets as ``planner plan`` sizes its pool plan
    before simulation: the plan's search over the deployments the plan allows on that GPU (parallel
    layouts, runtimes, precisions, token budgets), screened by the built-in model and timed by
    ``performance`` where given (:func:`~planner.sizing.search.search`)."""

    def cheapest(run: Sequence[Bucket]) -> FleetSizing | None:
        ranked, _ = search(pinned_pool(plan, gpu, run, catalog, source), catalog, performance or BUILTIN, settle=1)
        return ranked[0].sizing if ranked else None

    return cheapest


def settled_pool(
    plan: Plan,
    catalog: Catalog,
    performance: PerformanceModel | None = None,
    source: str = "",
    on_point: Callable[[str], None] | None = None,
) -> Settle:
    """The candidate ``planner plan`` settles for a GPU class serving a run of buckets: its pool plan with
    that GPU pinned, searched and checked in simulation (replicas, spares and, where the plan leaves
    disaggregation open and pools need fewer GPUs, prefill and decode pools)."""

    def settled(gpu: str, run: Sequence[Bucket]) -> Candidate | None:
        resolved = pinned_pool(plan, gpu, run, catalog, source)
        best = size_plan(resolved, catalog, performance or BUILTIN, on_point=on_point).best
        return best if best is not None and best.decision is not None else None

    return settled


def settled_pool_of(candidate: Candidate, buckets: tuple[str, ...], eur_per_gpu_hour: float) -> Pool:
    """The pool of a candidate simulation settled (``planner plan``'s choice for a pool plan, or for
    the plan itself), priced at its class's EUR per GPU-hour."""
    sizing = candidate.sizing
    return Pool(sizing.deployment.gpu.id, buckets, sizing, sizing.gpus * eur_per_gpu_hour, candidate.decision)


def priced_classes(
    resolved: ResolvedPlan, catalog: Catalog, performance: PerformanceModel | None = None, *, source: str = ""
) -> list[PricedClass]:
    """Every GPU class the plan allows (its GPU left open) that has a price hint, with its
    EUR per GPU-hour and its cheapest fleet by estimate for a run of buckets (:func:`estimated_pool`).

    :param source: the plan file's name, for the error.
    :raises PlannerError: when no class has a price, so there is no cost to minimise.
    """
    classes = []
    for gpu_id, eur_per_hour in sorted(gpu_prices(resolved, catalog).items()):
        classes.append((gpu_id, eur_per_hour, estimated_pool(resolved.plan, gpu_id, catalog, performance, source)))
    if not classes:
        raise PlannerError(
            "no GPU class the plan allows has a price hint, so there is no cost to minimise",
            path=source,
            fix="unpin hardware.gpu or add price hints to the GPU catalog",
        )
    return classes


def gpu_prices(resolved: ResolvedPlan, catalog: Catalog) -> dict[str, float]:
    """EUR per GPU-hour of every GPU class the plan allows (its GPU left open) that has a price hint."""
    gpus = {dep.gpu.id: dep.gpu for dep in candidate_deployments(replace(resolved, gpu=None), catalog)}
    costs = cost_assumptions(resolved.plan.costs)
    prices = {}
    for gpu_id, gpu in gpus.items():
        yearly = yearly_cost_eur(gpu, 1, costs)
        if yearly is not None:
            prices[gpu_id] = yearly / 8760
    return prices
