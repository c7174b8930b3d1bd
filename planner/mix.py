"""A heterogeneous fleet as a TCO lever: request-size buckets assigned to GPU classes (after Mélange).

:func:`size_buckets` splits the plan's traffic by input length; :func:`class_throughput`
rates one GPU of a class on a bucket within the SLOs; :func:`priced_classes` prices every
class the plan allows; :func:`heterogeneous_mix` finds the cheapest assignment against
the best single class.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from planner.catalog import Catalog
from planner.errors import PlannerError
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN, choose
from planner.plan import Plan
from planner.resolve import ResolvedPlan
from planner.simulate import lognormal_lengths, percentile
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from planner.sizing.fleet import latency_cap
from planner.sizing.search import candidate_deployments
from planner.tco import cost_assumptions, yearly_cost_eur
from planner.traffic import (
    Population,
    declared_concurrency,
    length_percentiles,
    lognormal_sigma,
    mean_request,
    prefix_hit_rate,
    slo_targets,
)

#: (GPU class, EUR per GPU-hour, requests/s one GPU sustains for a bucket's (isl, osl, population)).
PricedClass = tuple[str, float, Callable[[int, int, Population | None], float]]
#: (name, requests/s, p95 input tokens, p95 output tokens, its requests) of one bucket.
Bucket = tuple[str, float, int, int, Population | None]


def heterogeneous_mix(buckets: list[Bucket], classes: list[PricedClass]) -> dict[str, Any]:
    """Assign request-size buckets to GPU classes at least cost (after Mélange, arXiv 2404.14527).

    :param buckets: (name, requests/s, input tokens, output tokens, the bucket's requests or None)
        per bucket.
    :param classes: (GPU class, EUR per GPU-hour, throughput(isl, osl, population) -> requests/s
        one GPU sustains within the SLOs for that bucket, 0 when it cannot).
    :returns: the cheapest mix (fractional GPUs rounded up per class) against the best
        single class, with the saving.
    """

    _check_assignments(len(classes), len(buckets))
    # Each class is rated on each bucket once: the search below tries every assignment.
    capacities = {(c, name): f(isl, osl, people) for c, _, f in classes for name, _, isl, osl, people in buckets}

    def cost_of(assignment: dict[str, str]) -> tuple[float, dict[str, float]]:
        gpus: dict[str, float] = {}
        for name, rate, *_ in buckets:
            cls = assignment[name]
            capacity = capacities[(cls, name)]
            if capacity <= 0:
                return math.inf, {}
            gpus[cls] = gpus.get(cls, 0.0) + rate / capacity
        price = {c: p for c, p, _ in classes}
        return sum(math.ceil(g - 1e-9) * price[c] for c, g in gpus.items()), gpus

    best_mix, best_cost, best_gpus = {}, math.inf, {}
    names = [b[0] for b in buckets]
    options = [c for c, _, _ in classes]
    for combo in itertools.product(options, repeat=len(names)):
        assignment = dict(zip(names, combo, strict=True))
        cost, gpus = cost_of(assignment)
        if cost < best_cost:
            best_mix, best_cost, best_gpus = assignment, cost, gpus
    singles = {}
    for cls in options:
        cost, gpus = cost_of(dict.fromkeys(names, cls))
        singles[cls] = cost
    single_cls = min(singles, key=lambda c: singles[c])
    return {
        "mix": best_mix,
        "mix_gpus": {c: math.ceil(g - 1e-9) for c, g in best_gpus.items()},
        "mix_eur_per_hour": best_cost,
        "best_single_class": single_cls,
        "single_eur_per_hour": singles[single_cls],
        "saving": (singles[single_cls] - best_cost) / singles[single_cls]
        if math.isfinite(singles[single_cls])
        else None,
    }


#: Most assignments of buckets to classes the exhaustive search tries (a few seconds).
MAX_ASSIGNMENTS = 1_000_000


def _check_assignments(classes: int, buckets: int) -> None:
    """Refuse a search of classes ** buckets assignments beyond :data:`MAX_ASSIGNMENTS`."""
    if classes > 1 and classes**buckets > MAX_ASSIGNMENTS:
        most = max(1, int(math.log(MAX_ASSIGNMENTS) / math.log(classes)))
        raise PlannerError(
            f"{buckets} buckets over {classes} GPU classes are {classes}^{buckets} assignments, "
            f"more than the {MAX_ASSIGNMENTS:,} the mix search tries",
            path="planner mix",
            fix=f"use --buckets {most} or fewer, or name fewer GPU classes in the plan",
        )


def size_buckets(plan: Plan, count: int = 3, samples: int = 4000, seed: int = 0) -> list[Bucket]:
    """Split the plan's traffic into ``count`` buckets by input length (equal shares of requests).

    Each bucket carries its share of the peak request rate, its p95 input and output, and its
    requests (their mean lengths and spread, the plan's cached prefix: see
    :func:`bucket_population`).
    """
    rng = random.Random(seed)
    draw = lognormal_lengths(*length_percentiles(plan.workload), 10**7)
    pairs = sorted(draw(rng) for _ in range(samples))
    peak, _ = declared_concurrency(plan)
    rate = (plan.traffic.rate_req_s or 0.0) * plan.traffic.peak_factor
    if not rate:
        mean_osl = sum(o for _, o in pairs) / len(pairs)
        rate = (peak or 1.0) / max(mean_osl * 0.03, 1.0)  # rough: ~30 ms a token while in flight
    rate *= 1 + plan.traffic.headroom
    size = len(pairs) // count
    buckets: list[Bucket] = []
    for i in range(count):
        part = pairs[i * size : (i + 1) * size if i < count - 1 else len(pairs)]
        people = bucket_population(part, plan)
        isl, osl = _p95(p[0] for p in part), _p95(p[1] for p in part)
        buckets.append((f"{i + 1}: input <= {part[-1][0]:,}", rate * len(part) / len(pairs), isl, osl, people))
    return buckets


def _p95(values: Iterable[int]) -> int:
    """The 95th percentile of ``values``, in whole tokens."""
    return int(percentile(list(values), 95))


def bucket_population(pairs: list[tuple[int, int]], plan: Plan) -> Population:
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


def class_throughput(
    plan: Plan, deployments: list[Deployment], performance: PerformanceModel | None = None
) -> Callable[[int, int, Population | None], float]:
    """Requests/s one GPU of a class sustains within the SLOs, for a bucket's (isl, osl) request in
    a batch of its requests (``population``): the requests it holds at once over their mean E2E
    (Little's law).

    Every deployment of the class is rated with its own performance model (the built-in
    one unless set). With ``performance`` given, the best-rated deployment is then timed
    again with that model (``choose``: the built-in one where it does not cover it), as
    search does for its shortlist, so that a slow backend times one deployment per class
    and bucket, not all of them.
    """
    targets = slo_targets(plan)

    def rate(dep: Deployment, model: PerformanceModel, isl: int, osl: int, people: Population | None) -> float:
        cap = estimate(dep, isl, osl, model=model, offline=True).capacity.max_concurrency
        held = min(cap, latency_cap(dep, model, isl, osl, targets, population=people)) if cap else 0
        if held <= 0:
            return 0.0
        at = estimate(dep, *mean_request(people, isl, osl), model=model, concurrency=held, population=people)
        return held / (at.e2e_ms / 1000) / dep.gpus

    def per_gpu(isl: int, osl: int, people: Population | None) -> float:
        rated = [(rate(dep, BUILTIN, isl, osl, people), i) for i, dep in enumerate(deployments)]
        best, index = max(rated, default=(0.0, -1))
        if best <= 0 or performance is None or performance is BUILTIN:
            return best
        dep = deployments[index]
        return rate(dep, choose(performance, dep), isl, osl, people)

    return per_gpu


def priced_classes(
    resolved: ResolvedPlan, catalog: Catalog, performance: PerformanceModel | None = None, *, source: str = ""
) -> list[PricedClass]:
    """Every GPU class the plan allows (its GPU left open) that has a price hint, with its
    EUR per GPU-hour and its per-bucket throughput (:func:`class_throughput`).

    :param source: the plan file's name, for the error.
    :raises PlannerError: when no class has a price, so there is no cost to minimise.
    """
    by_gpu: dict[str, list[Deployment]] = {}
    for dep in candidate_deployments(replace(resolved, gpu=None), catalog):
        by_gpu.setdefault(dep.gpu.id, []).append(dep)
    classes = []
    costs = cost_assumptions(resolved.plan.costs)
    for gpu_id, deps in sorted(by_gpu.items()):
        yearly = yearly_cost_eur(deps[0].gpu, 1, costs)
        if yearly is not None:
            classes.append((gpu_id, yearly / 8760, class_throughput(resolved.plan, deps, performance)))
    if not classes:
        raise PlannerError(
            "no GPU class the plan allows has a price hint, so there is no cost to minimise",
            path=source,
            fix="unpin hardware.gpu or add price hints to the GPU catalog",
        )
    return classes
