"""Continuous batching in steady state: latency and throughput of a replica at a running batch.

The model that times the steps is always an argument, and every figure of one timing
comes from its steps: a composite model (``auto``, a blend) combines step times, never
finished figures, so throughput, ITL, TTFT and E2E of one configuration always agree
(throughput x mean ITL = the tokens a step yields).

The scheduler modelled is the one the simulator (:mod:`planner.simulate`) runs: each
step decodes the running sequences first and fills the rest of the runtime's token
budget per step (vLLM ``max_num_batched_tokens``, SGLang ``chunked_prefill_size``,
TensorRT-LLM ``max_num_tokens``) with prompt chunks, so some decode steps carry a
prefill chunk and take longer.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist

from planner.perfmodel import PerformanceModel
from planner.performance_models import answering_models, frontend_s, ranked_step_function_of
from planner.sizing.capacity import knob, rank_batched_tokens
from planner.sizing.deployment import Deployment
from planner.traffic import Population


@dataclass(frozen=True)
class Timing:
    """Latency and throughput of a replica running ``batch`` requests of isl/osl tokens.

    ``itl_s`` is the mean gap between a request's tokens over the steps of a cycle;
    ``long_gap_s`` a gap that a prompt chunk stretches, ``long_gap_share`` the share of a
    request's gaps that are long (:meth:`itl_at_percentile_s` reads a percentile from them);
    ``decode_step_s`` and ``prefill_step_s`` are the two kinds of step.
    """

    batch: float
    ttft_s: float
    itl_s: float
    long_gap_s: float
    long_gap_share: float
    e2e_s: float
    prefill_s: float
    decode_step_s: float
    prefill_step_s: float
    prefill_step_share: float
    token_budget: int
    cycle_s: float
    output_tok_s: float
    total_tok_s: float
    #: Of ``ttft_s`` and ``e2e_s``, the front end's share outside the GPU (``frontend_s``).
    frontend_s: float = 0.0
    #: The batch's requests where they vary (None: all alike). A step that carries a prompt chunk of
    #: x tokens then stretches a gap to ``chunk_gap_base_s`` + x * ``chunk_gap_token_s``, x at most
    #: ``chunk_room_tokens`` (a longer prompt takes several steps). A prompt's token costs more the
    #: longer the prompt (attention): twice a short prompt's at ``chunk_attention_tokens``.
    population: Population | None = None
    chunk_gap_base_s: float = 0.0
    chunk_gap_token_s: float = 0.0
    chunk_room_tokens: float = 0.0
    chunk_attention_tokens: float = math.inf
    #: Prefill first (SGLang): the other requests' prompts prefilled between two of a request's
    #: tokens, on average (0 where prompt chunks mix into decode steps). Each runs whole, its chunks
    #: back to back, in the gap it falls in; how many fall in one gap varies (Poisson).
    prompts_per_gap: float = 0.0
    #: Prefill first: what one prompt adds to the gap it falls in, s, at evenly spaced quantiles of
    #: the prompts (ascending; the mean prompt's alone where the requests are alike).
    prompt_stretches_s: tuple[float, ...] = ()
    #: Prefill first: the share of the replica's time spent prefilling (the prompts' load on it).
    prefill_busy_share: float = 0.0
    #: Attention data parallelism: the gaps the ranks' step stretches where another rank prefills a
    #: prompt chunk in it, s, at evenly spaced quantiles of the chunks (ascending), and the share of
    #: the gaps they are (0: none; see :func:`_lockstep_steady_state`).
    lockstep_gaps_s: tuple[float, ...] = ()
    lockstep_gap_share: float = 0.0
    #: Attention data parallelism: the ranks' step when every rank decodes (``decode_step_s`` is the
    #: mean over the steps in which this rank decodes, some stretched by another rank's chunk), s.
    lockstep_base_s: float = 0.0
    #: What a new request meets before its first token, as :meth:`ttft_at_percentile_s` reads it
    #: (worked out when first asked: a search reads it of few of the timings it makes).
    first_token: FirstToken | None = field(default=None, compare=False, repr=False)

    def itl_at_percentile_s(self, percentile: float) -> float:
        """The gap between tokens at ``percentile`` (95: the 95th): once more than the rest (5%) of
        the gaps are stretched by a prompt chunk, a stretched gap (where the prompts vary, the one
        at that rank among them: with 8% stretched, the gap of the chunk at the 37.5th percentile
        of the prompt chunks, 1 - 5/8), else the decode step or the mean gap, whichever is longer.
        What an ITL target at that percentile is judged on, as the simulator judges its gaps
        (:func:`planner.simulate.slo_figure_ms`); where the requests vary, the worse of that gap and
        the requests' mean gap at the percentile (:meth:`tpot_at_percentile_s`), as the simulator
        judges an ITL target. Prefill first (``prompts_per_gap``), a gap takes every prompt that
        arrived since the last decode step, each whole: the decode step plus the stretch of those
        prompts at the percentile (:meth:`_whole_prompts_stretch_s`)."""
        tail = 1 - percentile / 100
        step = self._step_at(tail)
        if self.prompts_per_gap > 0:
            gap = step + self._whole_prompts_stretch_s(tail)
            return max(gap, self.tpot_at_percentile_s(percentile) if self.population else self.itl_s)
        if self.population is None:
            if self.long_gap_share <= tail:
                return max(step, self.itl_s)
            return max(self.long_gap_s, step)
        gap = step
        if self.long_gap_share > tail:
            chunk = self.population.chunks(self.chunk_room_tokens).at(1 - tail / self.long_gap_share)
            gap = self.chunk_gap_base_s + chunk * self.chunk_gap_token_s
        return max(gap, self.tpot_at_percentile_s(percentile))

    def _step_at(self, tail: float) -> float:
        """The step a gap is at least, exceeded by a share ``tail`` of the gaps: the decode step, or
        under attention data parallelism the ranks' step stretched by another rank's prompt chunk
        where more than ``tail`` of the gaps are, else the ranks' step with every rank decoding."""
        if not self.lockstep_gaps_s:
            return self.decode_step_s
        if self.lockstep_gap_share <= tail:
            return self.lockstep_base_s
        gaps = self.lockstep_gaps_s
        return gaps[min(int((1 - tail / self.lockstep_gap_share) * len(gaps)), len(gaps) - 1)]

    def _whole_prompts_stretch_s(self, tail: float) -> float:
        """Prefill first: what the prompts that fall into one gap add to it, exceeded by a share
        ``tail`` of the gaps.

        A prefill run starts where a decode step ends with prompts waiting, and the prompts that
        arrive while it runs join it (prefill first keeps going until none waits). So of the others'
        prompts a gap takes on average (``prompts_per_gap``), those that arrive while the replica
        decodes, a share p (:meth:`decoding_arrival_share`), start runs: a Poisson number a gap,
        mean ``prompts_per_gap`` x p. A run holds the prompt that started it and those that joined,
        a geometric number with mean 1 / p: a share p of the runs are the one prompt alone, fewer
        hold many, so the gaps a run stretches least are a lone short prompt's, as the simulator
        has them (scaling every run by 1 / p made the least stretched gap 1 / p times a short
        prompt, and the 95th percentile gap of SGLang's code assistant 25-50 ms too long where
        just over a twentieth of the gaps are stretched). The prompts a gap takes are that
        compound (Polya-Aeppli) count, each a prompt of ``prompt_stretches_s``: the mean stretch a
        gap as before.
        """
        share = self.decoding_arrival_share()
        counts = _runs_of_prompts(self.prompts_per_gap * share, share)
        return _compound_quantile(self.prompt_stretches_s, counts, tail)

    def decoding_arrival_share(self) -> float:
        """Prefill first: the share p of the other requests' prompts that arrive while the replica
        decodes (the rest join a prefill run in flight).

        In a closed loop a request finishes in a decode step and its user's next one reaches the
        engine the front end's time f later (``frontend_s``: the last token out, the next request
        in). It arrives while the replica decodes where the decode steps go on for f more: the decode
        steps between two runs last D = the decode step over the share of steps that start a run,
        1 - e^(-m p) for m prompts a gap, so e^(-f / D) of them do (the rest land in the run that
        ends those steps); p and D are solved together. Without a front end every prompt arrives
        as a decode step ends (p = 1). At least the share of time the replica decodes, 1 - rho
        (``prefill_busy_share``), as prompts arriving at random moments have it, and 1 / batch (a
        run holds at most the batch's prompts).
        """
        floor = max(1.0 - self.prefill_busy_share, 1.0 / max(self.batch, 1.0))
        if self.prompts_per_gap <= 0 or self.decode_step_s <= 0 or floor >= 1.0:
            return min(floor, 1.0)

        def settled(share: float) -> float:  # the share the decode steps' length gives, less the share
            starts = -math.expm1(-self.prompts_per_gap * share)  # of the decode steps: those that start a run
            return max(math.exp(-self.frontend_s * starts / self.decode_step_s), floor) - share

        low, high = floor, 1.0  # settled() falls as the share rises: one root between
        for _ in range(30):
            middle = (low + high) / 2
            low, high = (middle, high) if settled(middle) > 0 else (low, middle)
        return (low + high) / 2

    def tpot_at_percentile_s(self, percentile: float) -> float:
        """A request's mean gap (its TPOT) at ``percentile`` over the requests, where they vary: a
        request of n gaps averages its share of stretched gaps over n, so a short one strays far
        from the mean gap (``itl_s``) and the spread of the requests' lengths sets the percentile.
        Each request's mean gap is taken as normal about ``itl_s`` with the variance of n gaps'
        mean (each stretched with probability ``long_gap_share``, the stretches clustered as a
        prompt's chunks stretch their steps together and spread as the prompts' tokens:
        :meth:`Population.stretch_clustering`), its n at the quantiles of the output lengths
        (:meth:`Population.gap_counts`). Without a population, the mean gap."""
        stretch_s = self.itl_s - self.decode_step_s
        if self.population is None or self.long_gap_share <= 0 or stretch_s <= 0:
            return self.itl_s
        mean_stretch_s = stretch_s / self.long_gap_share  # of a stretched gap
        # a step carrying a chunk costs chunk_gap_base_s beyond the decode step, whatever its tokens
        extra_s = self.chunk_gap_base_s - self.decode_step_s
        step_tokens = extra_s / self.chunk_gap_token_s if self.chunk_gap_token_s > 0 else 0.0
        clustering = self.population.stretch_clustering(
            self.chunk_room_tokens, max(step_tokens, 0.0), self.chunk_attention_tokens
        )
        per_gap_variance = self.long_gap_share * mean_stretch_s**2 * clustering - stretch_s**2
        return _mixture_quantile(
            self.itl_s, max(per_gap_variance, 0.0), self.population.gap_counts(), 1 - percentile / 100
        )

    def ttft_at_percentile_s(self, percentile: float) -> float:
        """The TTFT at ``percentile`` over the requests (95: exceeded by 5% of them), what a TTFT
        target at that percentile is judged on, as the simulator judges a run.

        A request arrives at a random moment of the steps the replica runs
        (:attr:`FirstToken.steps_in_flight`): it lands in a step with probability its share of the
        time and waits for the rest of it (uniform over the step), so a long prompt-carrying step
        (vLLM, TensorRT-LLM) or a prompt's prefill run (SGLang) delays the few that land in it by
        much. The prefill ones are stretched so that the mean wait also holds the prompts queued
        ahead of it, as a closed loop queues them (:func:`_with_prompts_ahead`). Then its own
        prefill (:attr:`FirstToken.own_prefills_s`: where the prompts vary, its own is one of
        theirs, so a short prompt that waited long and a long one that did not count alike); then
        the front end. ``ttft_s`` is the mean wait for the step in
        flight and the sized request's own prefill (what calibration fits); this is the percentile
        of their sum over the requests.
        """
        if self.first_token is None:
            return self.ttft_s
        first = self.first_token
        return _wait_and_prefill_quantile(first.own_prefills_s, first.steps_in_flight, 1 - percentile / 100) + (
            self.frontend_s
        )

    @property
    def itl_p95_s(self) -> float:
        """95th percentile of the gaps between tokens (:meth:`itl_at_percentile_s`)."""
        return self.itl_at_percentile_s(95)

    @property
    def itl_median_s(self) -> float:
        """The median gap between tokens: a prompt-carrying step's gap when more than half of a
        request's gaps are such, else the decode step. Where prompt chunks stretch a minority of
        the gaps the median is the plain decode step, below the mean (``itl_s``), which spreads
        the chunks over every gap; what a benchmark's median ITL (the median of all gaps, as
        vLLM's and SGLang's serving benchmarks report it) measures."""
        return self.long_gap_s if self.long_gap_share > 0.5 else self._step_at(0.5)

    @property
    def engine_e2e_s(self) -> float:
        """How long a request holds its place in the engine's batch: E2E less the front end
        (what Little's law for the batch counts)."""
        return self.e2e_s - self.frontend_s

    @property
    def place_s(self) -> float:
        """How long a place in the batch serves one request on average: the sized request's engine
        E2E where the requests are alike; in a batch of a population each place completes one of its
        mean requests a cycle."""
        return self.cycle_s if self.population else self.engine_e2e_s


@dataclass(frozen=True)
class FirstToken:
    """What a new request meets before its first token, for :meth:`Timing.ttft_at_percentile_s`: the
    steady state's terms, from which its own prefill and the steps it may arrive in are worked out
    when first asked."""

    batch: float
    #: The sized request's own prefill, s, and its (computed prompt tokens, seconds a token).
    own_s: float
    own: tuple[int, float]
    #: The other requests' (mean computed prompt tokens, seconds a token), and the steps of a cycle.
    others: tuple[int, float]
    mix: StepMix
    budget: int
    #: A prompt-carrying step's cost beyond its tokens, s (:func:`_own_prefill_s`).
    step_base_s: float
    separate: bool
    decode_s: float
    long_s: float
    gap_base_s: float
    room: float
    cycle_s: float
    frontend_s: float
    attention_tokens: float
    stretches_s: tuple[float, ...]
    busy: float
    #: The requests where their prompts vary (None: all alike, the sized request's prefill alone).
    population: Population | None

    @functools.cached_property
    def own_prefills_s(self) -> tuple[float, ...]:
        """A new request's own prefill (its chunks, in steps shared with the others), s, at evenly
        spaced quantiles of the prompts (ascending; the sized request's alone where they are alike):
        its prompt one of the population's, its token cost growing with its length as attention has
        it (the sized request's cost scaled)."""
        if self.population is None:
            return (self.own_s,)
        isl, token_s = self.own
        token_at = token_s / (1 + isl / self.attention_tokens)
        return tuple(
            _own_prefill_s(
                self.batch, (tokens, token_at * (1 + tokens / self.attention_tokens)), self.others, self.mix,
                self.budget, self.step_base_s, decodes_share=not self.separate,
            )
            for tokens in self.population.prompt_quantiles()
        )  # fmt: skip

    @functools.cached_property
    def steps_in_flight(self) -> tuple[tuple[float, float], ...]:
        """The steps a new request may arrive in, (seconds, share of the replica's time), the decode
        step first; none where it runs alone. The prefill ones are stretched so that the mean wait
        holds the prompts queued ahead (:func:`_with_prompts_ahead`); a prompt holds the prefill for
        its runs (prefill first) or for its tokens at the pace a step's room drains them (mixed: a
        step of ``room`` prompt tokens takes the decode step too)."""
        if self.batch <= 1:
            return ()
        mix_isl, token_s = self.others
        if self.separate:
            in_flight = _runs_in_flight(self.decode_s, self.stretches_s, self.busy)
            service = self.mix.prefill_steps * self.long_s / self.batch
        else:
            in_flight = _mixed_steps_in_flight(
                self.decode_s, self.mix.prefill_share, self.long_s, self.gap_base_s, token_s, self.room, self.population
            )
            service = mix_isl * (token_s + self.decode_s / self.room)
        return _with_prompts_ahead(in_flight, (self.batch, service, self.cycle_s - service + self.frontend_s))


def token_budget(dep: Deployment) -> int:
    """Tokens one scheduler step of a replica may carry (decodes plus prompt chunks).

    The runtime's knob (plan value, else the runtime's default for that GPU class);
    with attention data parallelism every rank schedules its own budget, the knob's or its share
    of it (:func:`~planner.sizing.capacity.rank_batched_tokens`).
    """
    ranks = dep.ep if dep.attention_dp else 1
    return rank_batched_tokens(dep) * ranks


def prefill_first(dep: Deployment) -> bool:
    """True when the runtime runs a waiting prefill batch on its own, ahead of the decodes (SGLang
    unless ``enable_mixed_chunk``), rather than mixing prompt chunks into decode steps (vLLM,
    TensorRT-LLM's in-flight batching)."""
    return knob(dep, "enable_mixed_chunk") is False


@dataclass(frozen=True)
class StepMix:
    """The steps of one steady-state cycle, in which each of ``batch`` slots serves one request.

    A request spends ``chunks`` steps in prefill (the last yields its first token) and
    ``osl - 1`` decoding. Mixed (vLLM): a cycle has ``steps`` = chunks + osl - 1 steps, or
    more when the batch's prompts need more steps of the budget (prefill-bound), and
    ``prefill_steps`` of them also carry ``chunk_tokens`` prompt tokens, while ``decoding``
    sequences decode in each. Prefill first (SGLang): ``prefill_steps`` prefill-only steps
    come on top of ``osl - 1`` decode steps of the whole batch.
    """

    steps: float
    prefill_steps: float
    chunks: float
    chunk_tokens: float
    decoding: float

    @property
    def prefill_share(self) -> float:
        """Share of steps that carry a prompt chunk."""
        return self.prefill_steps / self.steps


def step_mix(
    batch: float, isl: int, osl: int, budget: int, *, separate: bool = False, population: Population | None = None
) -> StepMix:
    """How the runtime's token budget splits a cycle into decode and prefill-carrying steps
    (``separate``: prefill steps on their own, the budget all theirs). The chunks a prompt takes are
    those of ``isl`` tokens or, given the ``population`` whose mean prompt ``isl`` is, the mean over
    its prompts (a prompt a little longer than the room takes two, which the mean prompt hides)."""
    room = float(budget) if separate else max(budget - batch, 1.0)  # mixed: decodes go first
    chunks = population.mean_chunks(room) if population else math.ceil(isl / room)
    if separate:
        prefill_steps = batch * chunks
        steps = max(osl - 1, 0) + prefill_steps
        return StepMix(steps, prefill_steps, chunks, isl / chunks, batch)
    steps = max(max(osl - 1, 0) + chunks, batch * isl / room)
    prefill_steps = min(batch * chunks, steps)
    return StepMix(steps, prefill_steps, chunks, batch * isl / prefill_steps, batch * max(osl - 1, 0) / steps)


def steady_state(
    dep: Deployment, batch: float, isl: int, osl: int, model: PerformanceModel, population: Population | None = None
) -> Timing:
    """Continuous batching at a constant ``batch`` of running requests, timed by ``model``: a
    request of ``isl``/``osl`` tokens in a batch of requests like it or, given a ``population``, of
    that population's requests (the batch's mix, its throughput and its gaps come from the
    population's mean request and prompt lengths; TTFT and E2E are the given request's, its
    cached prefix not prefilled).

    Every figure comes from two phase times of ``model``: the decode step at the running
    batch and the prefill of the batch's prompts (composite models combine these, never
    finished figures). Mixed steps (vLLM, TensorRT-LLM): a prefill-carrying step is a decode
    step plus the prefill of the prompt tokens it carries, so a cycle (see :func:`step_mix`)
    is steps x decode step + prefill of the batch. Prefill first (SGLang): prefill-only steps
    (``model``'s step with no decodes) run between decode steps, stretching the gaps they fall
    in. Output = batch x osl / cycle. Mean ITL = the cycle less the request's own prefill
    (its chunks, before its first token) over its osl - 1 gaps: the other requests' prompts
    stretch its gaps, its own does not (a lone 64k-token prompt adds nothing to its gaps). So
    output x ITL = batch x osl x (1 - own prefill / cycle) / (osl - 1): the batch, within
    rounding, when prompts take one step and outputs are long; less when a long prompt's own
    prefill is a large share of its cycle (at low concurrency a request's throughput then also
    pays its TTFT).
    TTFT: a new request waits for the step in flight (the
    mean residual, E[S^2] / 2E[S], when others run), then its ``chunks`` steps, each
    carrying its chunk and the other requests' mean prompt tokens a step (and, mixed, their
    decodes); then the front end's latency outside the GPU (:func:`frontend_s`: API server,
    tokenizer, streaming). E2E = TTFT + (osl - 1) x ITL.
    """
    if dep.attention_dp and dep.ep > 1:
        return _lockstep_steady_state(dep, batch, isl, osl, model, population)
    return _steady_state(dep, batch, isl, osl, model, population)


def _steady_state(
    dep: Deployment, batch: float, isl: int, osl: int, model: PerformanceModel, population: Population | None = None
) -> Timing:
    """:func:`steady_state` of one scheduler: a replica, or one rank of an attention-data-parallel
    replica timed by its lockstep view (:class:`_Lockstep`)."""
    budget, separate = rank_batched_tokens(dep), prefill_first(dep)
    cached = population.cached_tokens if population else 0.0
    spread = population is not None and population.isl_sigma > 0  # the prompts' lengths vary
    mix_isl, mix_osl, context = _batch_lengths(isl, osl, population)
    mix = step_mix(batch, mix_isl, mix_osl, budget, separate=separate, population=population)
    decode = model.decode_step_s(dep, max(mix.decoding, 1.0), context)
    prefill_all = _prefill_of_batch_s(model, dep, batch, mix_isl, population)
    prompt_token_s = prefill_all / (batch * mix_isl)  # prefill time per prompt token at this batch
    if separate:
        long = model.mixed_step_s(dep, mix.chunk_tokens, mix.chunk_tokens * mix_isl / 2, 0.0, 0.0)  # prefill alone
        cycle = max(mix_osl - 1, 0) * decode + mix.prefill_steps * long
        own_prefill = mix.chunks * long
        interrupted = min((mix.prefill_steps - mix.chunks) / max(mix_osl - 1, 1), 1.0)
        # what a prefill step costs beyond its tokens' compute (weight reads, overhead): paid per step
        gap_long, step_base = decode + long, max(long - mix.chunk_tokens * prompt_token_s, 0.0)
        gap_base, room = decode + step_base, float(budget)
    else:
        long = decode + mix.chunk_tokens * prompt_token_s
        cycle = mix.steps * decode + prefill_all
        own_prefill = mix.chunks * decode + prefill_all / batch
        # of a request's own gaps, those the others' prompt chunks stretch (its own stretch none)
        interrupted = max(mix.prefill_steps - mix.chunks, 0.0) / max(mix.steps - mix.chunks, 1.0)
        gap_long = long
        step_base = model.decode_step_s(dep, batch - 1, context) if batch > 1 else model.overhead_s(dep)
        gap_base, room = decode, max(budget - batch, 1.0)
    itl = _mean_gap_s(cycle, own_prefill, mix_osl, mix)
    own_isl = max(round(isl - cached), 1)
    # the request's own prompt at its own length's cost a token (attention grows with the length)
    own_token_s = prompt_token_s if own_isl == mix_isl else model.prefill_s(dep, batch, own_isl) / (batch * own_isl)
    own = _own_prefill_s(
        batch, (own_isl, own_token_s), (mix_isl, prompt_token_s), mix, budget, step_base, decodes_share=not separate
    )
    frontend = frontend_s(model, dep)
    ttft = _wait_for_step_s(batch, mix.prefill_share, decode, long) + own + frontend
    attention = _attention_tokens(model, dep, batch, mix_isl) if spread else math.inf
    prompts_per_gap, stretches, busy = 0.0, tuple[float, ...](), 0.0
    if separate:  # every other request's prompt once a cycle, between two of the request's tokens
        prompts_per_gap = max(batch - 1, 0.0) / max(mix_osl - 1, 1)
        stretches = _whole_prompt_stretches_s(
            mix.chunks * long, prompt_token_s, step_base, budget, attention, population
        )
        busy = 1.0 - max(mix_osl - 1, 0) * decode / cycle if cycle > 0 else 0.0
    first = FirstToken(
        batch=batch, own_s=own, own=(own_isl, own_token_s), others=(mix_isl, prompt_token_s), mix=mix, budget=budget,
        step_base_s=step_base, separate=separate, decode_s=decode, long_s=long, gap_base_s=gap_base, room=room,
        cycle_s=cycle, frontend_s=frontend, attention_tokens=attention, stretches_s=stretches, busy=busy,
        population=population if spread else None,
    )  # fmt: skip
    output = batch * mix_osl / cycle
    total_per_output = ((population.mean_isl if population else isl) + mix_osl) / max(mix_osl, 1)
    return Timing(
        batch=batch,
        ttft_s=ttft,
        itl_s=itl,
        long_gap_s=gap_long,
        long_gap_share=interrupted,
        e2e_s=ttft + max(osl - 1, 0) * itl,
        prefill_s=prefill_all,
        decode_step_s=decode,
        prefill_step_s=long,
        prefill_step_share=mix.prefill_share,
        token_budget=budget,
        cycle_s=cycle,
        output_tok_s=output,
        total_tok_s=output * total_per_output,
        frontend_s=frontend,
        population=population,
        chunk_gap_base_s=gap_base,
        chunk_gap_token_s=prompt_token_s,
        chunk_room_tokens=room,
        chunk_attention_tokens=attention,
        prompts_per_gap=prompts_per_gap,
        prompt_stretches_s=stretches,
        prefill_busy_share=busy,
        first_token=first,
    )


def _batch_lengths(isl: int, osl: int, population: Population | None) -> tuple[int, int, int]:
    """The batch's requests as the steady state mixes them: the prompt tokens prefilled (the cached
    prefix skipped), the output tokens, and the context a decode step reads on average."""
    cached = population.cached_tokens if population else 0.0
    mix_isl = max(round(population.mean_isl - cached), 1) if population else isl
    mix_osl = population.mean_osl if population else osl
    return mix_isl, mix_osl, (population.mean_isl if population else isl) + max(mix_osl, 1) // 2


def _lockstep_steady_state(
    dep: Deployment, batch: float, isl: int, osl: int, model: PerformanceModel, population: Population | None
) -> Timing:
    """:func:`steady_state` of an attention-data-parallel replica: ``dep.ep`` ranks, each its own
    scheduler with its share of the requests and of the token budget, that step together (the
    simulator's :class:`~planner.simulate.RankedReplica`).

    One rank is timed as a replica by its lockstep view (:class:`_Lockstep`): its steps take as
    long as the ranks' step in which the other ranks decode their requests or, each with the share
    of its steps that carries a prompt chunk, prefill one; its prompts prefill on its own GPU. The
    rank timed holds ``batch / ranks`` requests, or one where the batch is smaller than the ranks
    (the others then share the rest). The replica's output is its ranks'; a request's latencies are
    its rank's. A step in which another rank prefills stretches the gap it falls in
    (``lockstep_gaps_s``, a share ``lockstep_gap_share`` of the gaps), as the rank's own prompts do."""
    ranks, budget = dep.ep, rank_batched_tokens(dep)
    rank_batch = max(batch / ranks, min(batch, 1.0))
    other_batch = max(batch - rank_batch, 0.0) / (ranks - 1)
    separate = prefill_first(dep)
    mix_isl, mix_osl, context = _batch_lengths(isl, osl, population)
    decoding = (0.0, 0.0, other_batch, other_batch * context)
    # the prompt chunks a rank prefills (prefill first, it decodes nothing meanwhile), and the mean one
    chunks = _rank_chunks(population, mix_isl, budget)
    mean_tokens, mean_keys = (sum(c[i] for c in chunks) / len(chunks) for i in (0, 1))
    decodes_too = (0.0, 0.0) if separate else decoding[2:]
    share = 0.0
    if other_batch > 0:
        share = step_mix(other_batch, mix_isl, mix_osl, budget, separate=separate, population=population).prefill_share
    # a chunk attends to the prompt before it: over the prompts' lengths, more than at the mean prompt's middle
    keys_scale = mean_keys / (mean_tokens * mix_isl / 2)
    view = _Lockstep(
        model, ranked_step_function_of(model, dep), ranks, decoding, (mean_tokens, mean_keys, *decodes_too), share,
        keys_scale,
    )  # fmt: skip
    timing = _steady_state(dep, rank_batch, isl, osl, view, population)
    own = (0.0, 0.0, max(rank_batch, 1.0), max(rank_batch, 1.0) * context)
    others = [decoding] * (ranks - 2)
    gaps = sorted(view.ranked([own, (tokens, keys, *decodes_too), *others]) for tokens, keys in chunks)
    # the ranks' output: ``ranks`` times the rank's where each holds its share
    scale = batch / rank_batch if rank_batch > 0 else float(ranks)
    return replace(
        timing,
        batch=batch,
        output_tok_s=timing.output_tok_s * scale,
        total_tok_s=timing.total_tok_s * scale,
        token_budget=timing.token_budget * ranks,
        lockstep_gaps_s=tuple(gaps),
        lockstep_base_s=view.ranked([own, *[decoding] * (ranks - 1)]),
        lockstep_gap_share=1.0 - (1.0 - share) ** (ranks - 1),
    )


#: Kinds of prompt chunk (by the keys they attend to) :func:`_rank_chunks` keeps.
RANK_CHUNK_POINTS = 16


def _rank_chunks(population: Population | None, isl: float, room: int) -> list[tuple[float, float]]:
    """The prompt chunks a rank prefills, as (tokens, keys they attend to) in ``RANK_CHUNK_POINTS``
    blocks of like ones (by keys), each block standing for an equal share of the chunks: the
    prompts of ``population`` (or one of ``isl`` tokens) cut into steps of ``room`` tokens from
    their cached prefix on, a chunk attending to the prompt before it and half of itself."""
    cached = population.cached_tokens if population else 0.0
    prompts = population.prompt_quantiles() if population and population.isl_sigma > 0 else (float(isl),)
    chunks = []
    for tokens in prompts:
        done = 0.0
        while done < tokens:
            size = min(room, tokens - done)
            chunks.append((size, size * (cached + done + size / 2)))
            done += size
    chunks.sort(key=lambda chunk: chunk[1])
    step = max(-(-len(chunks) // RANK_CHUNK_POINTS), 1)
    blocks = [chunks[i : i + step] for i in range(0, len(chunks), step)]
    return [(sum(c[0] for c in b) / len(b), sum(c[1] for c in b) / len(b)) for b in blocks]


@dataclass(frozen=True)
class _Lockstep:
    """One rank of an attention-data-parallel replica as a performance model: its work timed as the
    ranks' step (``ranked``: :func:`~planner.performance_models.ranked_step_function_of`) in which
    each of the other ``ranks - 1`` decodes (``decoding``: their share of the requests) or, with
    probability ``share`` (independently), carries a prompt chunk (``chunk``); a step's seconds are
    the mean over how many of them do (binomial). Its own prompts prefill on its own GPU."""

    base: PerformanceModel
    ranked: Callable[[Sequence[tuple[float, float, float, float]]], float]
    ranks: int
    decoding: tuple[float, float, float, float]
    chunk: tuple[float, float, float, float]
    share: float
    #: The keys a chunk of this rank's prompts attends to, over those the steady state gives it (a
    #: chunk of ``t`` tokens at the mean prompt's middle): long prompts' chunks attend to more.
    keys_scale: float = 1.0

    @property
    def name(self) -> str:
        """The model that times the ranks' steps."""
        return self.base.name

    def coverage(self, dep: Deployment) -> str | None:
        """As the model that times the steps."""
        return self.base.coverage(dep)

    def source(self, dep: Deployment) -> str:
        """As the model that times the steps."""
        return self.base.source(dep)

    def per_group(self, dep: Deployment) -> dict[str, PerformanceModel]:
        """The models that answer each metric group (the front end is theirs)."""
        return answering_models(self.base, dep)

    def overhead_s(self, dep: Deployment) -> float:
        """As the model that times the steps."""
        return self.base.overhead_s(dep)

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        """The ranks' step in which this rank decodes ``batch`` sequences of ``context`` tokens."""
        return self._expected((0.0, 0.0, batch, batch * context))

    def mixed_step_s(
        self, dep: Deployment, prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float
    ) -> float:
        """The ranks' step in which this rank does this work (its prompt chunk's keys as its prompts have them)."""
        return self._expected((prefill_tokens, prefill_keys * self.keys_scale, decode_batch, decode_keys))

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        """``requests`` prompts of ``length`` tokens prefilled on this rank (its attention and dense
        GEMMs on its GPU; the experts take only these tokens), the step's overhead left out."""
        tokens = requests * length
        idle = (0.0, 0.0, 0.0, 0.0)
        step = self.ranked([(tokens, tokens * length / 2, 0.0, 0.0), *[idle] * (self.ranks - 1)])
        return max(step - self.base.overhead_s(dep), 0.0)

    def _expected(self, own: tuple[float, float, float, float]) -> float:
        others = self.ranks - 1
        if self.share <= 0:
            return self.ranked([own, *[self.decoding] * others])
        total = weights = 0.0
        for prefilling in range(others + 1):
            weight = math.comb(others, prefilling) * self.share**prefilling * (1 - self.share) ** (others - prefilling)
            if weight > 1e-6:
                work = [own, *[self.chunk] * prefilling, *[self.decoding] * (others - prefilling)]
                total, weights = total + weight * self.ranked(work), weights + weight
        return total / weights


def _whole_prompt_stretches_s(
    mean_prompt_s: float,
    token_s: float,
    step_s: float,
    budget: int,
    attention_tokens: float,
    population: Population | None,
) -> tuple[float, ...]:
    """Prefill first: what a prompt run whole adds to the gap it falls in, s, at 64 quantiles of
    ``population``'s prompts (a token at ``token_s``, each step of ``budget`` tokens ``step_s``
    beyond its tokens, attention as :meth:`Population.prompt_stretches` has it), or the mean
    prompt's ``mean_prompt_s`` where the requests are alike."""
    if population is None or population.isl_sigma <= 0 or token_s <= 0:
        return (mean_prompt_s,)
    stretches = population.prompt_stretches(float(budget), step_s / token_s, attention_tokens)
    return tuple(x * token_s for x in stretches)


def _prefill_of_batch_s(
    model: PerformanceModel, dep: Deployment, batch: float, isl: int, population: Population | None
) -> float:
    """Prefill of ``batch`` prompts of ``isl`` tokens or, given a ``population``, of its prompts:
    the mean over its prompt lengths (three-point Gauss-Hermite in the log of the length), as
    attention makes a long prompt cost more than its share of tokens."""
    if population is None or population.isl_sigma <= 0:
        return model.prefill_s(dep, batch, isl)
    return sum(
        weight * model.prefill_s(dep, batch, max(round(tokens), 1)) for weight, tokens in population.prompt_nodes()
    )


def _attention_tokens(model: PerformanceModel, dep: Deployment, batch: float, tokens: int) -> float:
    """The prompt length at which a prompt token costs twice a short prompt's, were the cost a token
    linear in the length (attention over the tokens before it): from the model's prefill of
    ``batch`` prompts of ``tokens`` and of four times as many (infinite where it does not grow)."""
    longer = 4 * tokens
    short_s, long_s = model.prefill_s(dep, batch, tokens), model.prefill_s(dep, batch, longer)
    if short_s <= 0 or long_s * tokens <= short_s * longer:
        return math.inf
    ratio = (long_s / longer) / (short_s / tokens)
    return max((longer - ratio * tokens) / (ratio - 1), 1.0)


def _mixture_quantile(mean: float, variance: float, counts: tuple[float, ...], tail: float) -> float:
    """The value that a share ``tail`` of an equal mixture of normals exceeds: each of mean ``mean``
    and variance ``variance / n`` for n in ``counts`` (bisection)."""
    if variance <= 0:
        return mean
    scales = [math.sqrt(2 * variance / n) for n in counts]

    def above(x: float) -> float:
        return sum(math.erfc((x - mean) / scale) for scale in scales) / (2 * len(scales))

    low, high = mean, mean + 10 * math.sqrt(variance)
    for _ in range(24):  # to a millionth of the bracket
        middle = (low + high) / 2
        low, high = (middle, high) if above(middle) > tail else (low, middle)
    return high


#: Points the sums of two terms of :func:`_compound_poisson_quantile` are taken over.
PAIR_POINTS = 16

#: Kinds of prefill step (chunks, runs) a new request may arrive in, at most, beside the decode step:
#: :attr:`FirstToken.steps_in_flight` takes the chunks and runs in this many blocks of like ones.
RAMP_POINTS = 8

#: Terms a compound Poisson sum holds on average past which :func:`_compound_poisson_quantile` takes
#: the sum as normal (the Poisson counts' weights underflow long before 10,000 terms).
MANY_TERMS = 50.0


@dataclass(frozen=True)
class Counts:
    """How many terms a sum holds: (count, probability) for the counts from 1 that matter (the rest
    of the probability is no term at all), and the count's mean and variance."""

    weights: tuple[tuple[int, float], ...]
    mean: float
    variance: float
    #: The probability of one term or more.
    some: float


def _runs_of_prompts(runs: float, share: float) -> Counts:
    """The prompts of a Poisson number of runs (mean ``runs``), each run a geometric number of prompts
    with mean 1 / ``share`` (a share ``share`` of the runs hold one): a Polya-Aeppli count (Johnson,
    Kemp and Kotz, Univariate Discrete Distributions, 3rd ed., section 9.7; a share of 1 makes it
    Poisson), its probabilities from 1 by its three-term recurrence, past the mean, until the ones
    left hold less than 1e-9. None are listed past ``MANY_TERMS`` prompts on average, where
    :func:`_compound_quantile` takes the sum as normal from the moments alone (a few prompts a gap in
    runs of a hundred would otherwise list ten thousand counts)."""
    p = min(max(share, 1e-9), 1.0)
    q = 1.0 - p
    mean, variance, some = runs / p, runs * (2 - p) / (p * p), -math.expm1(-runs)
    if mean > MANY_TERMS:
        return Counts((), mean, variance, some)
    weights, k, weight, before = [], 1, runs * p * math.exp(-runs), 0.0
    while weight > 0 and (k <= max(mean, 2) or weight > 1e-9):
        weights.append((k, weight))
        k, before, weight = k + 1, weight, ((runs * p + 2 * k * q) * weight - (k - 1) * q * q * before) / (k + 1)
    return Counts(tuple(weights), mean, variance, some)


@functools.lru_cache(maxsize=4096)
def _compound_quantile(terms: tuple[float, ...], counts: Counts, tail: float) -> float:
    """The value a share ``tail`` of the sums exceed: sums of a number of terms drawn as ``counts``
    has them, each from ``terms`` (equally likely, ascending). Sums of one term are taken exactly,
    of two over every pair of ``PAIR_POINTS`` block means, of three and more as normal with the
    terms' mean and variance; 0 where no more than ``tail`` of the sums have a term. Past
    ``MANY_TERMS`` terms a sum on average, the sum itself as normal (mean E[K] x E[X], variance
    E[K] x Var[X] + Var[K] x E[X]^2)."""
    if counts.mean <= 0 or not terms or counts.some <= tail:
        return 0.0
    n = len(terms)
    mean = sum(terms) / n
    spread = math.sqrt(sum((x - mean) ** 2 for x in terms) / n)
    if counts.mean > MANY_TERMS:
        deviation = math.sqrt(counts.mean * spread**2 + counts.variance * mean**2)
        return max(counts.mean * mean + NormalDist().inv_cdf(1 - tail) * deviation, 0.0)
    # pairs of 16 block means (of consecutive terms) stand for every pair: 256 sums where 64 terms
    # make 4,096, which a search asking hundreds of configurations would sort each time
    coarse = _block_means(terms)
    pairs = sorted(a + b for a in coarse for b in coarse)

    def above(x: float) -> float:
        share = 0.0
        for count, w in counts.weights:
            if count == 1:
                share += w * (n - bisect.bisect_right(terms, x)) / n
            elif count == 2:
                share += w * (len(pairs) - bisect.bisect_right(pairs, x)) / len(pairs)
            elif spread > 0:
                share += w * 0.5 * math.erfc((x - count * mean) / (spread * math.sqrt(2 * count)))
            else:
                share += w * (count * mean > x)
        return share

    low, high = 0.0, counts.weights[-1][0] * (terms[-1] + 10 * spread)
    for _ in range(24):  # to a ten-millionth of the bracket
        middle = (low + high) / 2
        low, high = (middle, high) if above(middle) > tail else (low, middle)
    return high


def _mean_gap_s(cycle_s: float, own_prefill_s: float, osl: int, mix: StepMix) -> float:
    """Mean gap between a request's tokens: the cycle less its own prefill (which comes before
    its first token, in TTFT), over its ``osl - 1`` gaps, which the other requests' prompt chunks
    stretch; the simulator counts the same gaps. A one-token request has no gap: its step."""
    if osl <= 1:
        return cycle_s / mix.steps
    return max(cycle_s - own_prefill_s, 0.0) / (osl - 1)


def _mixed_steps_in_flight(
    decode_s: float,
    share: float,
    long_s: float,
    base_s: float,
    token_s: float,
    room: float,
    population: Population | None,
) -> tuple[tuple[float, float], ...]:
    """Prompt chunks mixed into decode steps: the decode step (``decode_s``, a share 1 - ``share`` of
    the steps) and the prompt-carrying ones, as (seconds, share of the time): ``long_s`` where the
    requests are alike, else ``base_s`` plus each chunk of the ``population`` (``room`` prompt tokens
    a step) at ``token_s`` a token."""
    chunks = population.chunks(room) if population is not None and population.isl_sigma > 0 else None
    if chunks is None:
        kinds = [(decode_s, 1 - share), (long_s, share)]
    else:
        each = share / chunks.count
        kinds = [(decode_s, 1 - share), (base_s + room * token_s, each * chunks.full)]
        kinds += [(base_s + rest * token_s, each * count) for rest, count in _blocks(chunks.rests, RAMP_POINTS)]
    return _time_shares(kinds)


def _runs_in_flight(decode_s: float, stretches_s: tuple[float, ...], busy: float) -> tuple[tuple[float, float], ...]:
    """Prefill first: the decode step (a share 1 - ``busy`` of the time) and the prompts' prefill runs
    (the rest), each a prompt of ``stretches_s`` (at ``PAIR_POINTS`` block means) run whole, as
    (seconds, share of the time); a run's share of the time is its length's."""
    if not stretches_s or busy <= 0:
        return ((decode_s, 1.0),)
    runs = _blocks(stretches_s, RAMP_POINTS)
    total = sum(run * count for run, count in runs)
    return ((decode_s, 1.0 - busy), *((run, busy * run * count / total) for run, count in runs))


def _with_prompts_ahead(
    in_flight: tuple[tuple[float, float], ...], loop: tuple[float, float, float]
) -> tuple[tuple[float, float], ...]:
    """``in_flight`` (the decode step first, then the prompts' prefill steps or runs) with the prefill
    ones stretched so that the mean wait is a closed loop's: besides the rest of the prefill in
    flight, a new request waits for the prompts queued ahead of it. ``loop`` = (users, seconds a
    prompt holds the prefill, seconds a user is away from it) as :func:`_closed_loop_wait_s` takes
    them; the prompt in flight has the prefill steps' mean residual left."""
    prefill = in_flight[1:]
    busy = sum(share for _, share in prefill)
    residual_s = sum(share * seconds / 2 for seconds, share in prefill) / busy if busy > 0 else 0.0
    if residual_s <= 0:
        return in_flight
    users, service_s, away_s = loop
    scale = max(_closed_loop_wait_s(users, service_s, residual_s, away_s) / (busy * residual_s), 1.0)
    return in_flight[:1] + tuple((seconds * scale, share) for seconds, share in prefill)


def _closed_loop_wait_s(users: float, service_s: float, residual_s: float, away_s: float) -> float:
    """Mean wait of a new request for the prompts ahead of it, in a closed loop of ``users`` that each
    spend ``away_s`` away from the prefill (decoding, in the front end) and ``service_s`` in it, the
    prompt in service ``residual_s`` from its end on average: mean value analysis (Reiser and
    Lavenberg, J. ACM 27(2), 1980), whose arrival theorem says a request arriving among n finds the
    queue as it stands with n - 1; first come first served, the prompt in service with its residual
    left. A closed loop cannot queue more prompts than it has users, where a Poisson stream's queue
    grows without bound as the prefill nears saturation.

    One round a user; once the prefill is saturated (busy all the time) each further user adds one
    prompt's service to the wait, so past the point where the rounds add that (within 1e-4)
    the rest is extrapolated (a search asks of thousands of users)."""
    count = max(round(users), 1)
    queued = in_service = wait = 0.0
    for n in range(1, count + 1):
        previous, wait = wait, _wait_behind(queued, in_service, service_s, residual_s)
        if in_service >= 1.0 and abs(wait - previous - service_s) <= 1e-4 * service_s:
            return wait + (count - n) * service_s
        if wait + service_s + away_s <= 0:  # nothing takes any time: nobody waits
            return 0.0
        rate = n / (wait + service_s + away_s)
        queued, in_service = rate * (wait + service_s), min(rate * service_s, 1.0)
    return wait


def _wait_behind(queued: float, in_service: float, service_s: float, residual_s: float) -> float:
    """The wait behind ``queued`` prompts (``in_service`` of them in service, its residual left)."""
    return max(queued - in_service, 0.0) * service_s + in_service * residual_s


def _time_shares(kinds: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Steps as (seconds, share of the steps) -> (seconds, share of the time), in their order."""
    total = sum(seconds * share for seconds, share in kinds)
    if total <= 0:
        return ()
    return tuple((seconds, seconds * share / total) for seconds, share in kinds)


def _block_means(values: tuple[float, ...]) -> list[float]:
    """``values`` (ascending) as the means of ``PAIR_POINTS`` blocks of consecutive ones."""
    return [mean for mean, _ in _blocks(values, PAIR_POINTS)]


def _blocks(values: tuple[float, ...], points: int) -> list[tuple[float, int]]:
    """``values`` (ascending) in blocks of consecutive ones, about ``points`` of them: (mean, count)."""
    step = max(-(-len(values) // points), 1)
    blocks = [values[i : i + step] for i in range(0, len(values), step)]
    return [(sum(block) / len(block), len(block)) for block in blocks]


@functools.lru_cache(maxsize=4096)
def _wait_and_prefill_quantile(owns: tuple[float, ...], steps: tuple[tuple[float, float], ...], tail: float) -> float:
    """The seconds a share ``tail`` of new requests exceed from arrival to first token (before the
    front end): the rest of the step in flight, a step of ``steps`` (seconds, share of the time)
    chosen by its share and the rest uniform over it, then an own prefill of ``owns`` (equally
    likely, ascending). Each (prefill, step) pair ramps the distribution function from the prefill
    to the prefill plus the step, so it is piecewise linear: the quantile is found where it crosses
    1 - ``tail`` by false position (Illinois), each reading a sum over the steps of the prefills
    below a point (prefix sums)."""
    target, count = 1.0 - tail, len(owns)
    ramps = [(max(seconds, 1e-12), share) for seconds, share in steps if share > 0]
    if not ramps:
        return owns[min(int(target * count), count - 1)]
    below = list(itertools.accumulate(owns, initial=0.0))

    def ramped(x: float) -> float:  # the sum of x - own over the prefills below x
        k = bisect.bisect_right(owns, x)
        return k * x - below[k]

    def short_of(t: float) -> float:  # the share of requests with their first token by t, less the target
        return sum(share * (ramped(t) - ramped(t - seconds)) / seconds for seconds, share in ramps) / count - target

    low, high = owns[0], owns[-1] + max(seconds for seconds, _ in ramps)
    f_low, f_high, side = short_of(low), short_of(high), 0
    middle = high
    for _ in range(100):  # to a millionth of the time or of the requests (it takes 5-15 rounds)
        if f_high - f_low <= 0 or high - low <= 1e-6 * high:
            break
        middle = high - f_high * (high - low) / (f_high - f_low)
        f_middle = short_of(middle)
        if abs(f_middle) <= 1e-6:
            break
        if f_middle > 0:
            high, f_high = middle, f_middle
            f_low, side = (f_low / 2, -1) if side == -1 else (f_low, -1)
        else:
            low, f_low = middle, f_middle
            f_high, side = (f_high / 2, 1) if side == 1 else (f_high, 1)
    return middle


def _wait_for_step_s(batch: float, share: float, decode_s: float, long_s: float) -> float:
    """Mean residual of the step in flight when a request arrives (none when nothing else runs).

    Arrivals land in a step with probability proportional to its length, so the mean
    residual is E[S^2] / (2 E[S]) over the mix of decode-only and prefill-carrying steps.
    """
    if batch <= 1:
        return 0.0
    mean = (1 - share) * decode_s + share * long_s
    return ((1 - share) * decode_s**2 + share * long_s**2) / (2 * mean) if mean > 0 else 0.0


def _own_prefill_s(
    batch: float,
    own: tuple[float, float],
    others_prompts: tuple[int, float],
    mix: StepMix,
    budget: int,
    step_base_s: float,
    *,
    decodes_share: bool,
) -> float:
    """A new request's prefill, ``own`` = (its prompt tokens, the seconds a token of them costs):
    its chunks, each in a step that costs ``step_base_s`` (the others' decode step when prompts mix
    into decode steps; a step's overhead when prefill runs on its own or the request is alone) plus
    the prompt tokens it carries: its chunk and the others' mean prompt tokens a step, from
    ``others_prompts`` = (the others' prompt tokens each, the seconds a token of them costs)
    (earlier prompts go first, so they shrink its room)."""
    (isl, own_token_s), (others_isl, others_token_s) = own, others_prompts
    others = max(batch - 1, 0.0)
    others_prompt = others * others_isl / mix.steps
    decodes = others if decodes_share else 0.0
    room = max(budget - decodes - others_prompt, (budget - decodes) / max(batch, 1.0), 1.0)
    chunks = math.ceil(isl / room)
    return chunks * step_base_s + isl * own_token_s + chunks * others_prompt * others_token_s
