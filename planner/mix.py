"""A heterogeneous fleet as a TCO lever: request-size buckets assigned to GPU classes (after Mélange).

:func:`size_buckets` splits the plan's traffic by input length; :func:`pool_demand` is what a pool
serving some of the buckets must carry; :func:`priced_classes` sizes a pool of every GPU class the
plan allows as the plan's own search sizes a fleet; :func:`heterogeneous_mix` finds the cheapest
assignment against the best single class, which serves every request and so is the plan's
analytic sizing with that GPU pinned.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from planner.catalog import Catalog
from planner.errors import PlannerError
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN
from planner.plan import Plan
from planner.resolve import ResolvedPlan
from planner.simulate import lognormal_lengths, percentile
from planner.sizing.fleet import FleetSizing
from planner.sizing.search import candidate_deployments, search
from planner.tco import cost_assumptions, yearly_cost_eur
from planner.traffic import Demand, Population, demand_of, length_percentiles, lognormal_sigma, prefix_hit_rate


@dataclass(frozen=True)
class Bucket:
    """A share of the plan's requests, cut by input length: what a pool of one GPU class may serve."""

    name: str
    #: The share of the plan's requests in the bucket (the buckets' shares add up to 1).
    share: float
    #: The bucket's drawn requests, (input tokens, output tokens), by input length.
    requests: tuple[tuple[int, int], ...]

    @property
    def longest_input(self) -> int:
        """Input tokens of the bucket's longest request."""
        return self.requests[-1][0]


@dataclass(frozen=True)
class Pool:
    """A GPU class's pool in a mix: the buckets it serves, its fleet (the plan's sizing of that share
    of its requests: whole replicas, N+1/N+2 spares) and what the fleet costs an hour."""

    gpu: str
    buckets: tuple[str, ...]
    sizing: FleetSizing
    eur_per_hour: float

    def to_json(self) -> dict[str, Any]:
        """The pool's class, buckets, deployment, replicas, GPUs and cost."""
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
        }


@dataclass(frozen=True)
class MixResult:
    """The cheapest assignment of buckets to GPU classes, and the best single class."""

    #: bucket name -> the GPU class serving it ({} when no assignment is feasible).
    mix: dict[str, str]
    #: One pool per class of the mix, serving the union of its buckets.
    pools: list[Pool]
    #: The cheapest class serving every request alone (None when none can).
    single: Pool | None

    @property
    def eur_per_hour(self) -> float:
        """What the mix's pools cost an hour (infinite when no assignment is feasible)."""
        return sum(p.eur_per_hour for p in self.pools) if self.pools else math.inf

    @property
    def saving(self) -> float | None:
        """The mix's saving against the best single class (None when either is infeasible)."""
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
        }


#: (GPU class, EUR per GPU-hour, the class's cheapest fleet for a demand, None where none meets it).
PricedClass = tuple[str, float, Callable[[Demand], FleetSizing | None]]


def heterogeneous_mix(
    buckets: Sequence[Bucket],
    classes: list[PricedClass],
    demand_for: Callable[[Sequence[Bucket]], Demand],
    progress: Callable[[int, int], None] | None = None,
) -> MixResult:
    """Assign request-size buckets to GPU classes at least cost (after Mélange, arXiv 2404.14527).

    The buckets a class serves share one pool, sized for their union (``demand_for``: their share
    of the load, their longest request up to the plan's, their mix of requests), so a pool has
    whole replicas and its own spares, and the class that serves every bucket is sized as the
    plan sizes a fleet of it.

    :param buckets: the plan's requests cut by input length (:func:`size_buckets`).
    :param classes: (GPU class, EUR per GPU-hour, the class's cheapest fleet for a demand).
    :param demand_for: what a pool serving these buckets must carry (:func:`pool_demand`).
    :param progress: called with (pools sized, pools to size) after each pool.
    :returns: the cheapest mix against the best single class.
    """
    _check_assignments(len(classes), len(buckets))
    price = {c: p for c, p, _ in classes}
    sizers = {c: size for c, _, size in classes}
    by_name = {b.name: b for b in buckets}
    pools: dict[tuple[str, tuple[str, ...]], Pool | None] = {}
    total = len(classes) * (2 ** len(buckets) - 1)

    def pool(cls: str, names: tuple[str, ...]) -> Pool | None:
        # Each class sizes each union of buckets once: the assignments below share them.
        if (cls, names) not in pools:
            sizing = sizers[cls](demand_for([by_name[n] for n in names]))
            pools[cls, names] = (
                Pool(cls, names, sizing, sizing.gpus * price[cls]) if sizing is not None and sizing.feasible else None
            )
            if progress:
                progress(len(pools), total)
        return pools[cls, names]

    def served(assignment: dict[str, str]) -> list[Pool] | None:
        out = []
        for cls in dict.fromkeys(assignment.values()):
            own = pool(cls, tuple(n for n in assignment if assignment[n] == cls))
            if own is None:
                return None
            out.append(own)
        return out

    names = [b.name for b in buckets]
    best: tuple[float, dict[str, str], list[Pool]] = (math.inf, {}, [])
    for combo in itertools.product(price, repeat=len(names)):
        assignment = dict(zip(names, combo, strict=True))
        chosen = served(assignment)
        if chosen is not None and (cost := sum(p.eur_per_hour for p in chosen)) < best[0]:
            best = (cost, assignment, chosen)
    singles = [p for cls in price if (p := pool(cls, tuple(names))) is not None]
    single = min(singles, key=lambda p: p.eur_per_hour, default=None)
    return MixResult(best[1], best[2], single)


#: Most assignments of buckets to classes the exhaustive search tries (a few seconds).
MAX_ASSIGNMENTS = 1_000_000
#: Most pools (a class x a union of buckets) the mix sizes, each with the plan's search over the
#: class's deployments (a tenth to half a second each: 3 buckets over 6 classes, 42 pools, take 4-13 s).
MAX_POOLS = 100


def _check_assignments(classes: int, buckets: int) -> None:
    """Refuse a search of classes ** buckets assignments beyond :data:`MAX_ASSIGNMENTS`, or more
    than :data:`MAX_POOLS` pools to size."""
    assignments = classes**buckets
    pools = classes * (2**buckets - 1)
    if assignments <= MAX_ASSIGNMENTS and pools <= MAX_POOLS:
        return
    most = max(
        (n for n in range(1, buckets) if classes**n <= MAX_ASSIGNMENTS and classes * (2**n - 1) <= MAX_POOLS), default=1
    )
    raise PlannerError(
        f"{buckets} buckets over {classes} GPU classes are {classes}^{buckets} assignments and "
        f"{pools:,} pools to size, more than the {MAX_ASSIGNMENTS:,} and {MAX_POOLS} the mix search tries",
        path="planner mix",
        fix=f"use --buckets {most} or fewer, or name fewer GPU classes in the plan",
    )


def size_buckets(plan: Plan, count: int = 3, samples: int = 4000, seed: int = 0) -> list[Bucket]:
    """Split the plan's requests into ``count`` buckets by input length (equal shares of requests),
    drawn as the simulator draws them (log-normal lengths through the workload's p50 and p95)."""
    rng = random.Random(seed)
    draw = lognormal_lengths(*length_percentiles(plan.workload), 10**7)
    pairs = sorted(draw(rng) for _ in range(samples))
    size = len(pairs) // count
    buckets = []
    for i in range(count):
        part = tuple(pairs[i * size : (i + 1) * size if i < count - 1 else len(pairs)])
        buckets.append(Bucket(f"{i + 1}: input <= {part[-1][0]:,}", len(part) / len(pairs), part))
    return buckets


def pool_demand(plan: Plan, buckets: Sequence[Bucket]) -> Demand:
    """What a pool serving ``buckets`` must carry: their share of the plan's load (rate, or declared
    concurrency), the plan's sizing request (its SLO percentile's input and output) but no longer
    than the pool's longest input, and a batch of the pool's own requests; the plan's SLOs,
    headroom, spares and failure domains. A pool of every bucket carries the plan's own demand.

    The plan's SLO holds at its percentile over all requests: requests up to that length must meet
    it wherever they are served, so a pool of short requests is judged on its longest, and the pool
    of the longest ones on the plan's sizing request, as a fleet serving them all is.
    """
    demand = demand_of(plan)
    share = sum(b.share for b in buckets)
    if share >= 1 - 1e-9:
        return demand
    requests = sorted(r for b in buckets for r in b.requests)
    return replace(
        demand,
        isl=min(demand.isl, requests[-1][0]),
        peak_concurrency=None if demand.peak_concurrency is None else demand.peak_concurrency * share,
        peak_rate_req_s=demand.peak_rate_req_s * share,
        population=bucket_population(requests, plan),
    )


def _p95(values: list[int]) -> int:
    """The 95th percentile of ``values``, in whole tokens."""
    return int(percentile(values, 95))


def bucket_population(pairs: Sequence[tuple[int, int]], plan: Plan) -> Population:
    """The requests of a bucket, from its drawn (input, output) pairs: their mean lengths, their
    medians and the log-normal spread through median and p95, and the plan's cached prefix."""
    inputs, outputs = [i for i, _ in pairs], [o for _, o in pairs]
    p50_in, p50_out = int(statistics.median(inputs)), int(statistics.median(outputs))
    return Population(
        mean_isl=round(statistics.fmean(inputs)),
        mean_osl=round(statistics.fmean(outputs)),
        isl_p50=p50_in,
        isl_sigma=lognormal_sigma(p50_in, _p95(inputs)),
        # the simulator caches the shared prefix, or all of a shorter prompt but its last token
        cached_tokens=prefix_hit_rate(plan.workload)
        * statistics.fmean(min(plan.workload.shared_prefix_tokens, i - 1) for i in inputs),
        osl_p50=p50_out,
        osl_sigma=lognormal_sigma(p50_out, _p95(outputs)),
    )


def class_fleet(
    resolved: ResolvedPlan, catalog: Catalog, performance: PerformanceModel | None = None
) -> Callable[[Demand], FleetSizing | None]:
    """The cheapest fleet of ``resolved``'s GPU (pinned) for a demand, as ``planner plan`` sizes
    one before its simulation: the plan's search over the deployments the plan allows on that GPU
    (parallel layouts, runtimes, precisions, token budgets), screened by the built-in model and
    timed by ``performance`` where given (:func:`~planner.sizing.search.search`)."""

    def cheapest(demand: Demand) -> FleetSizing | None:
        ranked, _ = search(resolved, catalog, performance or BUILTIN, demand=demand, settle=1)
        return ranked[0].sizing if ranked else None

    return cheapest


def priced_classes(
    resolved: ResolvedPlan, catalog: Catalog, performance: PerformanceModel | None = None, *, source: str = ""
) -> list[PricedClass]:
    """Every GPU class the plan allows (its GPU left open) that has a price hint, with its
    EUR per GPU-hour and its cheapest fleet for a demand (:func:`class_fleet`).

    :param source: the plan file's name, for the error.
    :raises PlannerError: when no class has a price, so there is no cost to minimise.
    """
    gpus = {dep.gpu.id: dep.gpu for dep in candidate_deployments(replace(resolved, gpu=None), catalog)}
    costs = cost_assumptions(resolved.plan.costs)
    classes = []
    for gpu_id, gpu in sorted(gpus.items()):
        yearly = yearly_cost_eur(gpu, 1, costs)
        if yearly is not None:
            classes.append((gpu_id, yearly / 8760, class_fleet(replace(resolved, gpu=gpu), catalog, performance)))
    if not classes:
        raise PlannerError(
            "no GPU class the plan allows has a price hint, so there is no cost to minimise",
            path=source,
            fix="unpin hardware.gpu or add price hints to the GPU catalog",
        )
    return classes
