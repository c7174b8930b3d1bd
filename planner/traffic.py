"""Traffic (step 3) and SLOs (step 4) as the demand a fleet must meet, before any hardware.

Peak concurrency comes from users x active share x duty cycle, or from a declared
concurrency; a plan that gives requests/s leaves concurrency to fleet sizing, which
applies Little's law once it knows the E2E a deployment delivers
(:mod:`planner.sizing.fleet`). The request shape is taken at the p95 (p99 for SLOs
stricter than p95, when given), with the explicit headroom and the spare failure domains
the availability target asks for. Little's law times the workload's mean request instead
(:func:`mean_lengths`): it multiplies a rate by the mean time in the system.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from planner.plan import Plan, TrafficProfile, WorkloadProfile

#: z of the 95th percentile of a normal distribution: turns (p95 - p50) into a standard deviation.
Z95 = 1.6449


@dataclass(frozen=True)
class SloTargets:
    """Latency targets in milliseconds (None where the plan sets none), at ``percentile``."""

    ttft_ms: float | None
    itl_ms: float | None
    e2e_ms: float | None
    #: The percentile the targets apply to (95: 95% of requests, and of token gaps, within them).
    percentile: float = 95.0

    def met_by(self, ttft_ms: float, itl_ms: float, e2e_ms: float) -> bool:
        """True when every target is met by these latencies."""
        return not self.misses(ttft_ms, itl_ms, e2e_ms)

    def misses(self, ttft_ms: float, itl_ms: float, e2e_ms: float) -> list[str]:
        """Targets these latencies miss, e.g. ['TTFT 2100 ms > 1500 ms']."""
        out = []
        for label, target, value in (("TTFT", self.ttft_ms, ttft_ms), ("ITL", self.itl_ms, itl_ms),
                                     ("E2E", self.e2e_ms, e2e_ms)):  # fmt: skip
            if target is not None and value > target:
                out.append(f"{label} {value:,.0f} ms > {target:,.0f} ms")
        return out


@dataclass(frozen=True)
class Demand:
    """What the plan asks of a fleet: the request shape, the load, the targets, headroom and spares."""

    isl: int
    osl: int
    percentile: int  # the lowest percentile behind isl and osl
    targets: SloTargets
    headroom: float
    peak_concurrency: float | None  # None when the plan gives requests/s (Little's law needs an E2E)
    concurrency_source: str
    peak_rate_req_s: float
    rate_source: str
    spares: int
    #: The fewest nodes the fleet spreads over for its failure domains (:func:`failure_domain_nodes`).
    min_nodes: int = 1
    #: The requests a running batch is made of (None: every request is ``isl``/``osl``). Its mean
    #: request is what Little's law times: it multiplies a rate by the mean time in the system,
    #: where the SLOs are judged on the worst case (``isl``/``osl``).
    population: Population | None = None

    @property
    def mean_isl(self) -> int:
        """Input tokens of the workload's mean request."""
        return mean_request(self.population, self.isl, self.osl)[0]

    @property
    def mean_osl(self) -> int:
        """Output tokens of the workload's mean request."""
        return mean_request(self.population, self.isl, self.osl)[1]


def mean_request(population: Population | None, isl: int, osl: int) -> tuple[int, int]:
    """Input and output tokens of the mean request of ``population``, or of requests all of
    ``isl``/``osl`` tokens where there is none: what Little's law times."""
    return (population.mean_isl, population.mean_osl) if population else (isl, osl)


@dataclass(frozen=True)
class Population:
    """The requests a replica's running batch is made of, as the simulator draws them: input and
    output lengths log-normal through the workload's p50 and p95, and the shared prefix a
    prefix-cache hit skips. The steady state (:func:`planner.sizing.steady_state.steady_state`)
    times a worst-case request inside a batch of these: how often prompts arrive and how long they
    stretch the steps they share comes from them, not from the worst case."""

    mean_isl: int
    mean_osl: int
    #: Median and log-normal sigma of the input tokens (the prompts that stretch a step).
    isl_p50: int
    isl_sigma: float
    #: Prompt tokens a request skips on average: the shared prefix x the prefix-cache hit rate.
    cached_tokens: float = 0.0
    #: Median and log-normal sigma of the output tokens (how many gaps a request's TPOT averages).
    osl_p50: int = 0
    osl_sigma: float = 0.0

    def describe(self) -> str:
        """In words, e.g. 'mean 2,880 in / 304 out, 800 prefix tokens cached'."""
        cached = f", {self.cached_tokens:,.0f} prefix tokens cached" if self.cached_tokens else ""
        return f"mean {self.mean_isl:,} in / {self.mean_osl:,} out{cached}"

    def chunks(self, room: float) -> Chunks:
        """The prompt chunks of the population with ``room`` prompt tokens a step: the computed
        tokens (less the cached prefix) of its prompts at 16 evenly spaced quantiles, each cut into
        steps of ``room`` tokens and a remainder. A step that carries a prompt carries one of these."""
        return _chunks(self.isl_p50, self.isl_sigma, self.cached_tokens, room)

    def stretch_clustering(self, room: float, step_tokens: float = 0.0, attention_tokens: float = math.inf) -> float:
        """How much more the stretch a request's gaps take varies than if each stretched gap were
        drawn alone: E[X^2] E[k] / E[X]^2 over the prompts, a prompt of L computed tokens taking
        k = ceil(L / ``room``) steps and stretching them by X = L (1 + L / ``attention_tokens``)
        + k x ``step_tokens`` in all, in tokens' worth: attention makes a token of a long prompt
        cost more (``attention_tokens``: the length at which it costs twice a short prompt's), and
        a step carrying a chunk costs ``step_tokens`` beyond its tokens.

        A prompt longer than the room stretches its k steps together, so the stretched gaps a
        request meets come in clusters, and their sum varies as a compound Poisson sum of the
        prompts' X: E[X^2] / E[k] a stretched gap, where gaps drawn one by one give E[x^2] of a
        chunk's x. Where every prompt takes one step at a cost in proportion to its tokens this
        is 1 + cv^2 of the prompts' tokens. Taken over 64 quantiles of the prompts: the long
        prompts' tail carries much of E[X^2]."""
        return _stretch_clustering(
            self.isl_p50, self.isl_sigma, self.cached_tokens, room, step_tokens, attention_tokens
        )

    def prompt_stretches(
        self, room: float, step_tokens: float = 0.0, attention_tokens: float = math.inf
    ) -> tuple[float, ...]:
        """The stretch X each prompt puts on the steps it takes, in tokens' worth, at 64 evenly
        spaced quantiles of the prompts (ascending), as :meth:`stretch_clustering` takes them: a
        prompt of L computed tokens takes k = ceil(L / ``room``) steps and stretches them by
        X = L (1 + L / ``attention_tokens``) + k x ``step_tokens`` in all. Where prefill runs
        first (SGLang), its k steps run back to back and the whole X falls into one gap."""
        return _prompt_stretches(self.isl_p50, self.isl_sigma, self.cached_tokens, room, step_tokens, attention_tokens)

    def prompt_quantiles(self) -> tuple[float, ...]:
        """The computed tokens (less the cached prefix) of the prompts at ``CLUSTERING_POINTS``
        evenly spaced quantiles, ascending: each stands for an equal share of the requests."""
        return _prompt_quantiles(self.isl_p50, self.isl_sigma, self.cached_tokens)

    def prompt_nodes(self) -> tuple[tuple[float, float], ...]:
        """(weight, computed tokens) of three-point Gauss-Hermite quadrature over the prompts'
        log-normal (nodes at z = 0 and +/- sqrt(3), weights 2/3 and 1/6), less the cached prefix:
        a mean over the prompts of something that grows faster than their length."""
        spread = math.sqrt(3) * self.isl_sigma
        return tuple(
            (weight, max(self.isl_p50 * math.exp(z) - self.cached_tokens, 1.0))
            for weight, z in ((2 / 3, 0.0), (1 / 6, spread), (1 / 6, -spread))
        )

    def mean_chunks(self, room: float) -> float:
        """Steps a prompt takes on average with ``room`` prompt tokens a step."""
        return self.chunks(room).count / PROMPT_POINTS

    def gap_counts(self) -> tuple[float, ...]:
        """Gaps between tokens of the requests at 16 evenly spaced quantiles of the output lengths
        (at least one each): the requests a TPOT percentile is taken over."""
        return _lognormal_quantiles(self.osl_p50 or self.mean_osl, self.osl_sigma, offset=-1.0, floor=1.0)


#: Evenly spaced quantiles a population's prompts and output lengths are taken at.
PROMPT_POINTS = 16


@dataclass(frozen=True)
class Chunks:
    """Prompt chunks, each equally likely: ``full`` chunks of ``room`` tokens and the remainders
    ``rests`` (ascending, each under ``room``), kept apart so a small room costs nothing."""

    room: float
    full: int
    rests: tuple[float, ...]

    @property
    def count(self) -> int:
        """How many chunks."""
        return self.full + len(self.rests)

    @property
    def mean(self) -> float:
        """Tokens in a chunk on average."""
        return (self.full * self.room + sum(self.rests)) / self.count

    def at(self, quantile: float) -> float:
        """Tokens of the chunk at ``quantile`` (0-1) of the chunks, smallest first."""
        rank = min(int(quantile * self.count), self.count - 1)
        return self.rests[rank] if rank < len(self.rests) else self.room


@functools.lru_cache(maxsize=4096)
def _chunks(p50: float, sigma: float, cached: float, room: float) -> Chunks:
    """:meth:`Population.chunks` worked out."""
    full, rests = 0, []
    for tokens in _lognormal_quantiles(p50, sigma, offset=-cached, floor=1.0):
        whole, rest = divmod(tokens, room)
        full += int(whole)
        if rest > 0:
            rests.append(rest)
    return Chunks(room, full, tuple(sorted(rests)))


#: Quantiles of the prompts :meth:`Population.stretch_clustering` is taken over.
CLUSTERING_POINTS = 64


@functools.lru_cache(maxsize=4096)
def _stretch_clustering(
    p50: float, sigma: float, cached: float, room: float, step_tokens: float, attention_tokens: float
) -> float:
    """:meth:`Population.stretch_clustering` worked out."""
    prompts = _prompt_quantiles(p50, sigma, cached)
    mean_steps = sum(math.ceil(tokens / room) for tokens in prompts) / len(prompts)
    stretch = _prompt_stretches(p50, sigma, cached, room, step_tokens, attention_tokens)
    mean_x = sum(stretch) / len(stretch)
    return sum(x * x for x in stretch) / len(stretch) * mean_steps / mean_x**2


@functools.lru_cache(maxsize=4096)
def _prompt_stretches(
    p50: float, sigma: float, cached: float, room: float, step_tokens: float, attention_tokens: float
) -> tuple[float, ...]:
    """:meth:`Population.prompt_stretches` worked out."""
    prompts = _prompt_quantiles(p50, sigma, cached)
    return tuple(
        sorted(tokens * (1 + tokens / attention_tokens) + math.ceil(tokens / room) * step_tokens for tokens in prompts)
    )


def _prompt_quantiles(p50: float, sigma: float, cached: float) -> tuple[float, ...]:
    """:meth:`Population.prompt_quantiles` worked out."""
    return _lognormal_quantiles(p50, sigma, offset=-cached, floor=1.0, points=CLUSTERING_POINTS)


@functools.cache
def _lognormal_quantiles(
    p50: float, sigma: float, *, offset: float, floor: float, points: int = PROMPT_POINTS
) -> tuple[float, ...]:
    """max(p50 x exp(sigma z) + offset, floor) at the midpoints of ``points`` equal slices of the
    standard normal."""
    normal = NormalDist()
    return tuple(max(p50 * math.exp(sigma * normal.inv_cdf((i + 0.5) / points)) + offset, floor) for i in range(points))


def demand_of(plan: Plan) -> Demand:
    """The demand of ``plan`` (see :class:`Demand`)."""
    isl, osl, percentile = sizing_shape(plan)
    peak, source = declared_concurrency(plan)
    t = plan.traffic
    return Demand(
        isl=isl,
        osl=osl,
        percentile=percentile,
        targets=slo_targets(plan),
        headroom=t.headroom,
        peak_concurrency=peak,
        concurrency_source=source,
        peak_rate_req_s=(t.rate_req_s or 0.0) * t.peak_factor,
        rate_source=_rate_source(t),
        spares=plan.slo.spare_failure_domains,
        min_nodes=failure_domain_nodes(plan),
        population=population_of(plan.workload),
    )


#: The smallest failure domain replicas must be spread over, by availability target:
#: 99.9% survives a node, 99.95% a rack, 99.99% a site (planning thresholds).
SPREAD_NEEDED = ((99.99, "multi-site"), (99.95, "multi-rack"), (99.9, "one-rack"))
SPREAD_ORDER = ("one-node", "one-rack", "multi-rack", "multi-site")


def spread_needed(availability_pct: float) -> str:
    """The placement (``SPREAD_ORDER``) an availability target needs at least."""
    return next((spread for threshold, spread in SPREAD_NEEDED if availability_pct >= threshold), "one-node")


def failure_domain_nodes(plan: Plan) -> int:
    """The fewest nodes the plan's fleet spreads over, so that the fleet the planner proposes passes
    the resilience rules it is checked against: two where the placement (the plan's, else the one
    its availability target needs) is wider than one node, and the spares plus one where there are
    two or more spares (N+2: a node failure must not take the spares down with what they protect).
    A plan that pins ``placement: one-node`` keeps one node (the rules then say what that costs).
    A fleet of fewer replicas than this spreads over as many nodes as it has replicas.
    """
    placement = plan.hardware.placement
    if placement == "one-node":
        return 1
    spread = placement or spread_needed(plan.slo.availability_pct)
    spares = plan.slo.spare_failure_domains
    return max(1 if spread == "one-node" else 2, spares + 1 if spares >= 2 else 1)


def population_of(workload: WorkloadProfile) -> Population:
    """The requests of ``workload`` as the simulator draws them (see :class:`Population`)."""
    mean_isl, mean_osl = mean_lengths(workload)
    p50_in, p95_in, p50_out, p95_out = length_percentiles(workload)
    cached = workload.shared_prefix_tokens * prefix_hit_rate(workload)
    return Population(
        mean_isl, mean_osl, p50_in, lognormal_sigma(p50_in, p95_in), cached, p50_out, lognormal_sigma(p50_out, p95_out)
    )


def prefix_hit_rate(workload: WorkloadProfile) -> float:
    """Share of requests whose shared prefix is cached: the plan's rate, 1 when it gives none, 0
    without a shared prefix."""
    if not workload.shared_prefix_tokens:
        return 0.0
    return workload.prefix_cache_hit_rate if workload.prefix_cache_hit_rate is not None else 1.0


def length_percentiles(workload: WorkloadProfile) -> tuple[int, int, int, int]:
    """(p50, p95) of the input and then the output tokens that request lengths are drawn through
    (the simulator's log-normal lengths): the median (else the mean) and the p95 (else the worst
    case given)."""
    i, o = workload.input_tokens, workload.output_tokens
    return i.typical, i.worst_case, o.typical, o.worst_case


def lognormal_sigma(p50: float, p95: float) -> float:
    """sigma of the log-normal whose median is ``p50`` and 95th percentile ``p95``."""
    return max(math.log(max(p95, 1)) - math.log(max(p50, 1)), 0.0) / Z95


def mean_lengths(workload: WorkloadProfile) -> tuple[int, int]:
    """Mean input and output tokens of the log-normal lengths through the workload's p50 and p95
    (median x exp(sigma^2 / 2)), as the simulator draws them (it also clips a draw to the model's
    context, which moves the mean only where p95 nears it)."""
    p50_in, p95_in, p50_out, p95_out = length_percentiles(workload)

    def mean(p50: int, p95: int) -> int:
        return max(round(p50 * math.exp(lognormal_sigma(p50, p95) ** 2 / 2)), 1)

    return mean(p50_in, p95_in), mean(p50_out, p95_out)


def _rate_source(t: TrafficProfile) -> str:
    """Where the peak rate comes from, in words ('' when the plan states concurrency instead)."""
    if t.batch is not None:
        b = t.batch
        return f"{b.items:,} items in a {b.window_hours:g} h window = {b.rate_req_s:,.3g} requests/s"
    return f"{t.requests_per_s:g} requests/s x peak {t.peak_factor:g}" if t.requests_per_s else ""


def _tokens_at(dist: Any, percentile: float) -> tuple[int, int]:
    """(tokens, percentile used): p99 for SLOs above p95 when given, else p95, else the largest figure."""
    if percentile > 95 and dist.p99 is not None:
        return dist.p99, 99
    if dist.p95 is not None:
        return dist.p95, 95
    if dist.p99 is not None:
        return dist.p99, 99
    return dist.worst_case, 50


def sizing_shape(plan: Plan) -> tuple[int, int, int]:
    """Input and output tokens the sizing uses, and the lowest percentile behind them."""
    isl, p_in = _tokens_at(plan.workload.input_tokens, plan.slo.percentile)
    osl, p_out = _tokens_at(plan.workload.output_tokens, plan.slo.percentile)
    return isl, osl, min(p_in, p_out)


def slo_targets(plan: Plan) -> SloTargets:
    """The plan's latency targets."""
    return SloTargets(plan.slo.ttft_ms, plan.slo.itl_ms, plan.slo.e2e_ms, plan.slo.percentile)


def declared_concurrency(plan: Plan) -> tuple[float | None, str]:
    """Peak concurrency from users or a declared concurrency; None when it needs E2E (requests/s)."""
    t = plan.traffic
    if t.users is not None and t.duty_cycle is not None:
        value = t.users * t.active_fraction * t.duty_cycle * t.peak_factor
        return (
            value,
            f"{t.users} users x {t.active_fraction:g} active x duty cycle {t.duty_cycle:g} x peak {t.peak_factor:g}",
        )
    if t.concurrency is not None:
        return t.concurrency * t.peak_factor, f"declared concurrency {t.concurrency} x peak {t.peak_factor:g}"
    return None, ""
