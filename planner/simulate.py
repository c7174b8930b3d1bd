"""Discrete-event simulation of continuous batching: percentiles with the queue.

A replica runs the runtime's scheduler step by step: decoding sequences take one token
each, prefills advance in chunks within the step's token budget (max_num_batched_tokens),
new requests are admitted while max_num_seqs and the KV blocks allow, KV blocks grow as
sequences grow and are freed when they end, and when a decode needs a block that is not
there the most recently admitted sequence is preempted (its KV is dropped and it is
recomputed later). Step times come from the mixed steps of the performance model that
times the deployment (``PerformanceModel.mixed_step_s``), the physics the estimator uses,
so the two never disagree.

Arrivals are open loop (Poisson, bursty Gamma, a daily profile) or closed loop (users
with think time; a user's next request reaches the engine the front end's latency after its
last token left it, so it lands in the step the engine started meanwhile and waits for it, as
a benchmark client's does); request lengths are log-normal fitted to the workload's p50/p95 or
replayed from a file. Everything is seeded.

The requests that arrive within the run's window (after its warm-up) are measured. The load
goes on after the window until the last of them finishes (users keep sending, arrivals keep
coming; those later requests are load, not measured), so a long request that arrived near
the window's end runs in the batch it would meet in steady state, not in a draining one. It
goes on for at most as long as the window again: an overloaded run's queue holds the window's
requests far beyond it, and later arrivals would only queue behind them (a replica offered 80
times what it serves ran for 1.1 s with the load kept up to the time limit, 0.09 s without).

Fast-forward: a replica runs its next steps at once while no event can change them (the
next arrival its router may send it; in a closed loop over several replicas, the next step
of a replica whose finished user may come to it), and a run of decode-only steps (every
sequence decoding, none admitted) is taken in one go up to the step that finishes a
sequence or lacks KV blocks. The sequences that decode together are kept as one
(:class:`DecodeGroup`: their tokens, gaps and KV growth follow from a shared step count), so
a step costs its events (a sequence joining or leaving), not the batch. Each step is still
timed and recorded as stepping would, so the results are the same; ``_FAST_FORWARD = False``
steps one event at a time, looking at each sequence (tests/test_simulate_fast_forward.py
compares the two). An attention-data-parallel replica (:class:`RankedReplica`, one scheduler a
rank, the ranks stepping together) chains its steps but takes each sequence by sequence.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import itertools
import math
import operator
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import InputError, Problem
from planner.inputfiles import parse_json, read_text_file
from planner.limits import MAX_TOKENS, seconds_from_env
from planner.traffic import lognormal_sigma

# ------------------------------------------------------------------ requests


class GapRun(list[float]):
    """Token gaps in seconds that the sequences decoding in the same steps share (one list, not a
    copy each): a run is itself, hashed and compared by identity, so :class:`TokenGaps` counts
    the requests sharing each run without asking for every run's id."""

    __slots__ = ()
    __hash__ = object.__hash__  # type: ignore[assignment]
    __eq__ = object.__eq__
    __ne__ = object.__ne__


class RunSpan:
    """The gaps of consecutive runs of a :class:`DecodeGroup`, ``runs[start:stop]`` of its list, held
    by a member that stayed in the group through them: one reference instead of a copy of each.

    It reads as one run of all their gaps (iterated and counted as such), so a request's
    :attr:`Request.gap_runs` holds runs and spans alike; :class:`TokenGaps` counts the requests
    holding each run of a span from its bounds. The runs it covers are closed: a group extends
    only its last run, and only while no member joins or leaves.
    """

    __slots__ = ("runs", "start", "stop")

    def __init__(self, runs: list[GapRun], start: int, stop: int) -> None:
        self.runs, self.start, self.stop = runs, start, stop

    def __iter__(self) -> Iterator[float]:
        return itertools.chain.from_iterable(itertools.islice(self.runs, self.start, self.stop))

    def __len__(self) -> int:
        return sum(map(len, itertools.islice(self.runs, self.start, self.stop)))


# eq=False: a request is itself (membership tests in the scheduler compare identity);
# slots: the scheduler reads its fields several times a step.
@dataclass(eq=False, slots=True)
class Request:
    """One request's life in the simulation (times in seconds)."""

    id: int
    arrival_s: float
    isl: int
    osl: int
    cached_tokens: int = 0
    #: Its prompt's KV arrived from a prefill pool (a disaggregated decode replica): only the last
    #: prompt token is computed here, alongside the decodes, never as a prefill batch of its own.
    kv_handed_over: bool = False
    prefilled: int = 0
    decoded: int = 0
    blocks: int = 0
    first_token_s: float | None = None
    finish_s: float | None = None
    last_token_s: float = 0.0
    #: Its token gaps in seconds, as runs that the sequences decoding in the same steps share (one
    #: list, not a copy each; a :class:`RunSpan` for a stay in a decode group): see :attr:`gaps_s`,
    #: and :class:`TokenGaps` for why.
    gap_runs: list[list[float] | RunSpan] = field(default_factory=list)
    preemptions: int = 0
    user: int = -1
    #: Where it stands among its replica's running sequences (their order: each admission gets the next).
    running_order: int = field(default=0, init=False, repr=False)
    #: True while its replica's :class:`DecodeGroup` keeps its tokens, gaps and blocks for it: then
    #: ``decoded``, ``gap_runs``, ``blocks`` and ``last_token_s`` are as they were when it joined.
    grouped: bool = field(default=False, init=False, repr=False)
    #: The group's decode steps when it joined, less its tokens then (its tokens: the group's steps less this).
    group_offset: int = field(default=0, init=False, repr=False)
    #: The first of the group's gap runs it holds (an index into :attr:`DecodeGroup.runs`).
    group_joined: int = field(default=0, init=False, repr=False)

    @property
    def context(self) -> int:
        """Tokens in the KV cache now."""
        return self.prefilled + self.decoded

    @property
    def gaps_s(self) -> list[float]:
        """Seconds between its consecutive tokens, in order."""
        return list(itertools.chain.from_iterable(self.gap_runs))

    def mean_gap_s(self) -> float:
        """Its mean time between tokens (0 with fewer than two tokens), summed in order."""
        # Each token after the first adds one gap; a preempted sequence keeps its gaps but counts
        # its tokens again, so only then are the gaps counted.
        count = self.decoded - 1 if not self.preemptions and self.decoded else sum(map(len, self.gap_runs))
        return sum(itertools.chain.from_iterable(self.gap_runs)) / count if count else 0.0

    @property
    def prefill_left(self) -> int:
        """Prompt tokens still to prefill (the cached prefix is not recomputed)."""
        return max(self.isl - self.prefilled, 0)


#: Draws (input tokens, output tokens) for the next request.
LengthSampler = Callable[[random.Random], tuple[int, int]]


def lognormal_lengths(p50_in: int, p95_in: int, p50_out: int, p95_out: int, max_context: int) -> LengthSampler:
    """Log-normal input and output lengths matching the given medians and 95th percentiles.

    sigma = (ln p95 - ln p50) / 1.645 (:func:`planner.traffic.lognormal_sigma`); values are clipped so
    input + output fits the context.
    """

    def params(p50: int, p95: int) -> tuple[float, float]:
        return math.log(max(p50, 1)), lognormal_sigma(p50, p95)

    mu_in, s_in = params(p50_in, p95_in)
    mu_out, s_out = params(p50_out, p95_out)

    def draw(rng: random.Random) -> tuple[int, int]:
        isl = max(round(_lognormal(rng.random, mu_in, s_in)), 1)
        osl = max(round(_lognormal(rng.random, mu_out, s_out)), 1)
        isl = min(isl, max(max_context - 1, 1))
        return isl, max(min(osl, max_context - isl), 1)

    return draw


_NORMAL_MAGIC = 4 * math.exp(-0.5) / math.sqrt(2.0)


def _lognormal(uniform: Callable[[], float], mu: float, sigma: float) -> float:
    """A log-normal draw: ``random.Random.lognormvariate`` (Kinderman and Monahan's ratio method, as
    CPython draws it, so the same values from the same seed) without its two nested calls."""
    while True:
        u1 = uniform()
        u2 = 1.0 - uniform()
        z = _NORMAL_MAGIC * (u1 - 0.5) / u2
        if z * z / 4.0 <= -math.log(u2):
            return math.exp(mu + z * sigma)


def replay_lengths(path: Path) -> LengthSampler:
    """Lengths replayed in order (cycling) from a JSONL or CSV file of input/output token counts.

    Accepted column names: ``input_tokens``/``output_tokens`` (or ``isl``/``osl``,
    ``prompt_tokens``/``completion_tokens``).
    """
    pairs = list(_read_lengths(path))
    if not pairs:
        raise InputError(str(path), [Problem("", "no rows with input and output token counts", "add rows")])
    state = {"i": 0}

    def draw(_rng: random.Random) -> tuple[int, int]:
        pair = pairs[state["i"] % len(pairs)]
        state["i"] += 1
        return pair

    return draw


_IN_KEYS = ("input_tokens", "isl", "prompt_tokens", "input_len")
_OUT_KEYS = ("output_tokens", "osl", "completion_tokens", "output_len")


def _read_lengths(path: Path) -> Iterator[tuple[int, int]]:
    text = read_text_file(path)
    rows: list[Any]
    if path.suffix == ".jsonl":
        rows = [parse_json(line, f"{path}, line {n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    for number, row in enumerate(rows, start=1):
        pair = _token_pair(row) if isinstance(row, dict) else None
        if pair is None:
            what = f"row {number} lacks numeric input and output token counts (each at most {MAX_TOKENS:,})"
            raise InputError(str(path), [Problem(f"row {number}", what, f"use columns {_IN_KEYS[0]}, {_OUT_KEYS[0]}")])
        yield pair


def _token_pair(row: dict[str, Any]) -> tuple[int, int] | None:
    """The row's (input, output) token counts, at least 1 each; None when absent or not numbers."""
    isl = next((row[k] for k in _IN_KEYS if k in row), None)
    osl = next((row[k] for k in _OUT_KEYS if k in row), None)
    try:
        counts = (float(isl), float(osl))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(c) and c <= MAX_TOKENS for c in counts):
        return None
    return max(int(counts[0]), 1), max(int(counts[1]), 1)


# -------------------------------------------------------------------- arrivals


def poisson_arrivals(rate: float, rng: random.Random) -> Iterator[float]:
    """Inter-arrival gaps of a Poisson process (exponential, mean 1/rate)."""
    while True:
        yield rng.expovariate(rate)


def gamma_arrivals(rate: float, cv: float, rng: random.Random) -> Iterator[float]:
    """Bursty arrivals: Gamma-distributed gaps with mean 1/rate and coefficient of variation ``cv``."""
    shape = 1 / (cv * cv)
    scale = (1 / rate) / shape
    while True:
        yield rng.gammavariate(shape, scale)


def daily_arrivals(
    mean_rate: float, peak_factor: float, rng: random.Random, period_s: float = 86400.0
) -> Iterator[float]:
    """A sinusoidal daily profile whose peak is ``peak_factor`` x the mean (thinning of a Poisson process)."""
    peak = mean_rate * peak_factor
    amplitude = min(peak - mean_rate, mean_rate)
    now = 0.0
    last = 0.0
    while True:
        now += rng.expovariate(peak)
        rate = mean_rate + amplitude * math.sin(2 * math.pi * now / period_s)
        if rng.random() < rate / peak:
            yield now - last
            last = now


# ------------------------------------------------------------------- replica


#: Seconds of one scheduler step for a batch composition: (prefill tokens, the keys they
#: attend to, decoding sequences, the keys those read).
StepModel = Callable[[float, float, float, float], float]
#: One rank's work in a step of an attention-data-parallel replica: (prefill tokens, their keys,
#: decoding sequences, their keys).
RankWork = tuple[float, float, float, float]
#: Seconds of one step of an attention-data-parallel replica from each rank's work, one entry a
#: rank (:meth:`MixedStep.ranks_s`).
RankedStepModel = Callable[[Sequence[RankWork]], float]
#: Seconds of consecutive decode-only steps of an attention-data-parallel replica from each rank's
#: decoding sequences and the keys they read at the first step (:meth:`MixedStep.ranks_decode_steps_s`).
RankedDecodeSteps = Callable[[Sequence[int], Sequence[int]], Iterator[float]]


@dataclass
class SchedulerConfig:
    """The runtime knobs the scheduler obeys, per replica."""

    max_num_seqs: int
    token_budget: int
    block_tokens: int
    kv_blocks: int
    prefill_first: bool = False  # SGLang: a prefill batch runs on its own, the decodes wait


class DecodeGroup:
    """The running sequences of a replica that decode together, kept as one so that a step costs
    its events (a sequence joining or leaving), not the batch.

    Every member decoded in the group's last decode step, so a step does the same to each: one
    more token, the same gap since its last one (one :class:`GapRun` the members share) and a
    new KV block where its context reaches the end of its blocks. The group keeps that once: a
    member's tokens are the group's decode steps less its :attr:`Request.group_offset`, its gaps
    the group's :attr:`runs` from the one it joined at, its blocks ceil(context / block) (one
    more while the group holds the block of a step it sat out), and the members that take a
    block at a step are counted by their context modulo the block size. A member's own fields
    are written back when it leaves (:meth:`release`); until then they are as when it joined.
    """

    def __init__(self, block_tokens: int) -> None:
        self.block_tokens = block_tokens
        self.size = 0
        #: Decode steps the group took (a member's tokens: this less its offset).
        self.steps = 0
        #: Members' prefilled tokens less their offsets, summed: their contexts sum to this plus size * steps.
        self.base_sum = 0
        #: Members whose context fills its blocks when ``steps`` modulo the block size is each index.
        self.due = [0] * block_tokens
        #: (the group's steps at which a member has all its tokens, its running order, the member): a heap.
        self.finishes: list[tuple[int, int, Request]] = []
        #: The gap runs of the group's decode steps, in order; a member holds those from its joined index.
        self.runs: list[GapRun] = []
        #: When the members took their last token.
        self.last_token_s = 0.0
        #: The members were given the KV block of a step they then sat out (a prefill ran alone).
        self.blocks_ahead = False
        #: No member's running order is above this (the highest since the group was last empty).
        self.last_order = -1
        #: The members are the requests that hold the last of :attr:`runs` (none joined or left since).
        self.last_run_open = False

    def keys(self) -> int:
        """The members' contexts summed (the keys their next decode step reads)."""
        return self.base_sum + self.size * self.steps

    def blocks_needed(self) -> int:
        """KV blocks the members take before their next token."""
        return 0 if self.blocks_ahead or not self.size else self.due[self.steps % self.block_tokens]

    def join(self, request: Request) -> None:
        """Keep ``request`` from now on: it decoded in the group's last step (as of its ``decoded``,
        with the blocks that step needed) and takes the group's next ones."""
        offset = self.steps - request.decoded
        base = request.prefilled - offset
        request.grouped, request.group_offset, request.group_joined = True, offset, len(self.runs)
        self.last_run_open = False
        self.size += 1
        self.base_sum += base
        self.due[-base % self.block_tokens] += 1
        heapq.heappush(self.finishes, (request.osl + offset, request.running_order, request))
        if request.running_order > self.last_order:
            self.last_order = request.running_order

    def release(self, request: Request) -> None:
        """Write back ``request``'s tokens, gaps, blocks and last token time, and stop keeping it."""
        offset = request.group_offset
        request.decoded = self.steps - offset
        if request.group_joined < len(self.runs):
            request.gap_runs.append(RunSpan(self.runs, request.group_joined, len(self.runs)))
        request.last_token_s = self.last_token_s
        request.blocks = -(-(request.prefilled + request.decoded + self.blocks_ahead) // self.block_tokens)
        request.grouped = False
        self.last_run_open = False
        base = request.prefilled - offset
        self.size -= 1
        self.base_sum -= base
        self.due[-base % self.block_tokens] -= 1
        if not self.size:  # (the spans of the runs kept so far keep their list: the next members start another)
            self.runs, self.blocks_ahead, self.last_order = [], False, -1

    def add_gaps(self, gaps: GapRun, shared: bool) -> GapRun:
        """Add the gaps of the members' next steps to :attr:`runs`; return the run that holds them.

        That is the last run, extended, where the members are the requests that hold it: they then
        hold both, and one run for both changes no figure of :class:`TokenGaps` (it weighs each
        gap by the requests that hold its run) while it has fewer runs to count. ``shared``: loose
        sequences hold ``gaps`` too (a run of their own).
        """
        if self.last_run_open and not shared:
            run = self.runs[-1]
            run += gaps
            return run
        self.runs.append(gaps)
        self.last_run_open = not shared
        return gaps

    def take_steps(self, steps: int, end_s: float) -> None:
        """The members took ``steps`` decode steps, the last ending at ``end_s`` (their gaps added to :attr:`runs`)."""
        self.steps += steps
        self.last_token_s = end_s
        self.blocks_ahead = False

    def finished(self) -> list[Request]:
        """Release and return the members that have all their tokens."""
        finishes, done = self.finishes, []
        while finishes and finishes[0][0] <= self.steps:
            done.append(heapq.heappop(finishes)[2])
        for request in done:
            self.release(request)
        return done

    def release_all(self) -> None:
        """Release every member."""
        members, self.finishes = self.finishes, []
        for _, _, request in members:
            self.release(request)


#: A step of a replica looked at sequence by sequence (:meth:`Replica._next_work`): its prefill
#: chunks, the sequences that decode and the keys they read.
_SequenceWork = tuple[list[tuple[Request, int]], list[Request], int]


@dataclass(slots=True)
class _GroupWork:
    """A step of a replica that keeps its decoding sequences as a group (:meth:`Replica._group_work`):
    its prefill chunks, how many sequences decode and the keys they read, the loose sequences that
    decode with the members, and whether a prefill run alone cancelled the decodes (prefill first)."""

    chunks: list[tuple[Request, int]]
    decoders: int
    decode_keys: int
    decoding: list[Request]
    cancelled: bool


def _prefills_a_prompt(chunks: list[tuple[Request, int]]) -> bool:
    """True when a step's ``chunks`` prefill some prompt here, which a prefill-first runtime runs as a
    batch of its own, the decodes waiting. A prompt whose KV was handed over is not prefilled: SGLang's
    decode server builds its batch without a forward and merges it into the running batch
    (``python/sglang/srt/disaggregation/decode.py``), and vLLM computes its last token in the next step."""
    return any(not request.kv_handed_over for request, _ in chunks)


def _prefill_work(chunks: list[tuple[Request, int]]) -> tuple[float, float]:
    """The prompt tokens of a step's prefill ``chunks`` and the keys they attend to (each chunk's
    tokens see the prompt before them and half of their own)."""
    if len(chunks) == 1:  # (the common case, without the sums' generators: a sum of one is that one)
        request, prefill_tokens = chunks[0]
        return prefill_tokens, prefill_tokens * (request.prefilled + prefill_tokens / 2)
    return sum(c for _, c in chunks), sum(c * (r.prefilled + c / 2) for r, c in chunks)


class Replica:
    """One engine replica: waiting queue, running batch, KV blocks, and its clock.

    The sequences that decode together are kept as one :class:`DecodeGroup` (a step costs the
    sequences that join or leave it, not the batch); the others running, still prefilling or just
    through their prefill, are :attr:`loose`. Where the group cannot say what a step does (a
    sequence lacks a KV block and preempts, the token budget cuts the decoders, a loose sequence
    that took its last token at another time sits among the members), the group is released and
    the step taken sequence by sequence, as with ``batched`` False (the reference it is tested
    against).
    """

    def __init__(self, index: int, config: SchedulerConfig, step_model: StepModel, frontend_s: float = 0.0) -> None:
        self.index = index
        self.config = config
        self.step_model = step_model
        #: Seconds each request spends in the serving front end, outside the engine (see SimResult).
        self.frontend_s = frontend_s
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.free_blocks = config.kv_blocks
        self.busy_until = 0.0
        self.preemptions = 0
        self.dropped: list[Request] = []
        self.samples: list[tuple[float, int, float]] = []  # (time, running, kv used share)
        # Fast-forwarded ahead of the run's clock, the replica keeps (time, requests before)
        # of each change of its outstanding requests that the clock has not reached.
        self.ahead: deque[tuple[float, int]] = deque()
        self.group = DecodeGroup(config.block_tokens)
        #: The running sequences outside the group, in running order.
        self.loose: list[Request] = []
        self.admitted = 0  # (each admission's running order)
        #: Keep the decoding sequences as one group; False takes each step sequence by sequence.
        self.batched = True

    @property
    def outstanding(self) -> int:
        """Requests queued or running here (as of the run's clock, when fast-forwarded ahead of it)."""
        return self.ahead[0][1] if self.ahead else len(self.waiting) + len(self.running)

    def settle(self) -> None:
        """Write every running sequence's tokens, gaps, blocks and last token time back from the
        group, which is then empty: call it before reading them (:func:`run` does, once its events
        are over)."""
        self.group.release_all()
        self.loose = self.running.copy()

    def _blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.config.block_tokens)

    def _grow(self, request: Request, tokens: int) -> bool:
        need = self._blocks_for(tokens) - request.blocks
        if need <= 0:
            return True
        if need > self.free_blocks:
            return False
        self.free_blocks -= need
        request.blocks += need
        return True

    def _free(self, request: Request) -> None:
        self.free_blocks += request.blocks
        request.blocks = 0

    def _admit(self, request: Request) -> None:
        request.running_order = self.admitted
        self.admitted += 1
        self.running.append(request)
        self.loose.append(request)

    def _preempt_one(self, keep: Request) -> bool:
        """Preempt the most recently admitted other sequence (recompute). False if none."""
        for victim in reversed(self.running):
            if victim is keep:
                continue
            self.running.remove(victim)
            self._free(victim)
            victim.prefilled = 0
            victim.decoded = 0
            victim.preemptions += 1
            self.preemptions += 1
            self.waiting.appendleft(victim)
            return True
        return False

    def _drop(self, request: Request) -> None:
        if request in self.running:
            self.running.remove(request)
        self._free(request)
        self.dropped.append(request)

    def step(self, now: float) -> tuple[float, list[Request]]:
        """Run one step starting at ``now``; return its end time and the requests that finished."""
        if self.batched and (decoding_prefilling := self._loose_alongside_group()) is not None:
            return self._group_step(now, *decoding_prefilling)
        self.settle()
        end, finished = self._step_one_by_one(now)
        self.loose = self.running.copy()
        return end, finished

    def _loose_alongside_group(self) -> tuple[list[Request], list[Request]] | None:
        """The loose sequences that decode next step and those that prefill, when the step's
        decoders (the members and those) all fit the token budget, all get their KV blocks and
        close their gaps as :meth:`_advance` would with the members ahead of them; else None."""
        decoding: list[Request] = []
        prefilling: list[Request] = []
        for request in self.loose:
            (decoding if request.prefilled >= request.isl else prefilling).append(request)
        group = self.group
        if group.size + len(decoding) > self.config.token_budget or not self._after_group(decoding):
            return None
        if group.blocks_needed() + self._blocks_needed(decoding) > self.free_blocks:
            return None  # some sequence preempts
        return decoding, prefilling

    def _after_group(self, decoding: list[Request]) -> bool:
        """True when the loose ``decoding`` close their gaps as if they came after the members in
        the running order: they do, or all took their last token when the members did."""
        group = self.group
        if not decoding or not group.size or decoding[0].running_order > group.last_order:
            return True
        return all(request.last_token_s == group.last_token_s for request in decoding)

    def _blocks_needed(self, decoding: list[Request]) -> int:
        """KV blocks the loose ``decoding`` take before their next token."""
        block, need = self.config.block_tokens, 0
        for request in decoding:
            lacking = -(-(request.prefilled + request.decoded + 1) // block) - request.blocks
            if lacking > 0:
                need += lacking
        return need

    def _give_blocks(self, decoding: list[Request]) -> None:
        """Give the loose ``decoding`` the KV blocks their next token needs (they are free)."""
        block = self.config.block_tokens
        for request in decoding:
            held = -(-(request.prefilled + request.decoded + 1) // block)
            if held > request.blocks:
                self.free_blocks -= held - request.blocks
                request.blocks = held

    def _group_step(
        self, now: float, decoding: list[Request], prefilling: list[Request]
    ) -> tuple[float, list[Request]]:
        """:meth:`step` with the group: the members as one, the loose sequences one by one."""
        work = self._group_work(decoding, prefilling)
        if work is None:
            return now, []
        end = now + max(self._step_s(work.chunks, work.decoders, work.decode_keys), 1e-9)
        finished = self._advance_group(end, work.chunks, work.decoding, work.cancelled)
        self._record_step(end)
        return end, finished

    def _group_work(self, decoding: list[Request], prefilling: list[Request]) -> _GroupWork | None:
        """What :meth:`_group_step`'s step does, its KV blocks given and its prompts admitted (the
        loose ``decoding`` and ``prefilling`` as :meth:`_loose_alongside_group` found them); None
        when there is nothing to do (a request larger than the whole KV cache is then dropped)."""
        group = self.group
        self.free_blocks -= group.blocks_needed()
        group.blocks_ahead = bool(group.size)
        self._give_blocks(decoding)
        decoders = group.size + len(decoding)
        chunks = self._chunks(prefilling, self.config.token_budget - (0 if self.config.prefill_first else decoders))
        cancelled = self.config.prefill_first and _prefills_a_prompt(chunks)
        if cancelled:
            decoders = 0
        if not decoders and not chunks:
            if self.waiting and not self.running:
                self._drop(self.waiting.popleft())  # larger than the whole KV cache
            return None
        decode_keys = group.keys() + sum(r.prefilled + r.decoded for r in decoding) if decoders else 0
        return _GroupWork(chunks, decoders, decode_keys, [] if cancelled else decoding, cancelled)

    def _step_s(self, chunks: list[tuple[Request, int]], decoders: int, decode_keys: int) -> float:
        """Seconds of a step that prefills ``chunks`` while ``decoders`` sequences reading ``decode_keys`` decode."""
        return self.step_model(*_prefill_work(chunks), decoders, decode_keys)

    def _chunks(self, prefilling: list[Request], budget: int) -> list[tuple[Request, int]]:
        """The prefill chunks of a step with ``budget`` tokens left: the running ``prefilling``
        sequences' first, then those admitted from the queue while there is room."""
        chunks: list[tuple[Request, int]] = []
        for request in prefilling:
            if budget <= 0:
                break
            chunk = min(request.isl - request.prefilled, budget)
            if self._grow(request, request.prefilled + chunk):
                chunks.append((request, chunk))
                budget -= chunk
        while self.waiting and budget > 0 and len(self.running) < self.config.max_num_seqs:
            request = self.waiting[0]
            if self._blocks_for(request.isl) > self.config.kv_blocks:
                # a prompt the whole KV cache cannot hold never finishes here (the engine refuses it,
                # above its max_model_len); admitted, it would stall its replica once alone
                self._drop(self.waiting.popleft())
                continue
            if request.prefilled == 0 and request.cached_tokens:
                request.prefilled = min(request.cached_tokens, request.isl - 1)
            chunk = min(request.prefill_left, budget)
            if not self._grow(request, request.prefilled + chunk):
                break
            self.waiting.popleft()
            self._admit(request)
            chunks.append((request, chunk))
            budget -= chunk
        return chunks

    def _advance_group(
        self, end: float, chunks: list[tuple[Request, int]], decoding: list[Request], cancelled: bool
    ) -> list[Request]:
        """:meth:`_advance` with the group: the members (unless ``cancelled``) and the loose
        ``decoding`` take a token at ``end``, and those that decoded join the group."""
        finished = self._prefill_chunks(end, chunks)
        if cancelled:
            return self._retire(finished, end)
        group = self.group
        since, gap = math.nan, GapRun()  # (gap: the run the sequences that decoded at ``since`` share)
        if group.size:
            since = group.last_token_s
            gap = group.add_gaps(GapRun((end - since,)), shared=bool(decoding))
            group.take_steps(1, end)
            finished += group.finished()
        for request in _take_tokens(decoding, end, since, gap):
            if request.decoded >= request.osl:
                finished.append(request)
            else:
                group.join(request)
        group.last_token_s = end
        return self._retire(finished, end)

    def _prefill_chunks(self, end: float, chunks: list[tuple[Request, int]]) -> list[Request]:
        """Apply a step's prefill chunks (a prompt done gives its first token at ``end``); return the
        requests whose first token is their last."""
        finished = []
        for request, chunk in chunks:
            request.prefilled += chunk
            if request.prefilled >= request.isl and request.first_token_s is None:
                request.first_token_s = end
                request.last_token_s = end
                request.decoded = 1
                if request.osl <= 1:
                    finished.append(request)
        return finished

    def _retire(self, finished: list[Request], end: float) -> list[Request]:
        """Retire the ``finished`` sequences at ``end`` (in running order); the loose ones left are
        those that neither finished nor joined the group."""
        if len(finished) > 1:
            finished.sort(key=operator.attrgetter("running_order"))
        for request in finished:
            request.finish_s = end
            self.running.remove(request)
            self._free(request)
        self.loose = [r for r in self.loose if not r.grouped and r.finish_s is None]
        return finished

    def _record_step(self, end: float) -> None:
        used = 1 - self.free_blocks / self.config.kv_blocks if self.config.kv_blocks else 0.0
        self.samples.append((end, len(self.running), used))
        self.busy_until = end

    def _step_one_by_one(self, now: float) -> tuple[float, list[Request]]:
        """:meth:`step`, looking at each running sequence (none in the group)."""
        work = self._next_work()
        if work is None:
            return now, []
        chunks, decode, decode_keys = work
        end = now + max(self._step_s(chunks, len(decode), decode_keys), 1e-9)
        return end, self._advance(end, chunks, decode)

    def _next_work(self) -> _SequenceWork | None:
        """What the next step does, looking at each running sequence: its prefill chunks, the
        sequences that decode (each given the KV block its next token needs) and the keys they
        read; None when there is nothing to do (a request larger than the whole KV cache is then
        dropped)."""
        decode, decode_keys, prefilling = self._decoders()
        budget = self.config.token_budget - (0 if self.config.prefill_first else len(decode))
        chunks = self._chunks(prefilling, budget)
        if self.config.prefill_first and _prefills_a_prompt(chunks):
            decode, decode_keys = [], 0
        if not decode and not chunks:
            if self.waiting and not self.running:
                self._drop(self.waiting.popleft())  # larger than the whole KV cache
            return None
        return chunks, decode, decode_keys

    def decode_run(
        self, now: float, horizon_s: float, limit_s: float, max_steps: int
    ) -> tuple[float, float, int, list[Request]]:
        """Fast-forward: run the decode-only steps from ``now`` in one go, each the one :meth:`step` would take.

        Applies while every running sequence decodes and nothing waiting can be admitted: then
        a step only lengthens the sequences (the decode keys grow by the batch) and takes the KV
        blocks they grow into. The loose sequences take the first step one by one and join the
        group; sequences that sat out the last step (a prefill ran alone) close their longer gap
        at the first step, as :meth:`step` would. Stops before a step whose blocks are not free
        (it preempts), after the step where a sequence finishes, or once a step ends at or after
        ``horizon_s`` (the next event that could change this replica) or past ``limit_s``.

        :returns: the last step's start and end, the number of steps (0: it does not apply)
            and the requests that finished.
        """
        steps, stale = self._decode_only_steps(now)
        steps = min(steps, max_steps)
        blocks = self._run_blocks() if steps > 0 else None
        if blocks is None:
            return now, now, 0, []
        gaps = self._decode_steps(now, steps, *blocks, horizon_s, limit_s)
        end = self.busy_until
        last_start = self.samples[-2][0] if len(gaps) > 1 else now
        self._apply_decode_run(gaps, stale, self.samples[-len(gaps)][0])
        finished = self._retire(self.group.finished(), end)
        if finished:
            self.samples.pop()
            self._record_step(end)
        return last_start, end, len(gaps), finished

    def _run_blocks(self) -> tuple[int, int, list[int]] | None:
        """What a decode run from now reads and takes: the keys of its first step, the KV blocks that
        step takes and, by the group's step count modulo the block size, how many sequences take a
        block at each later step; None when the first step's blocks are not free (it preempts:
        :meth:`step` takes it)."""
        group, loose, block = self.group, self.loose, self.config.block_tokens
        first_blocks = group.blocks_needed() + self._blocks_needed(loose)
        if first_blocks > self.free_blocks:
            return None
        due, keys = group.due, group.keys()
        if loose:  # (from the second step on, the loose sequences take blocks as members do)
            due = due.copy()
            for request in loose:
                context = request.prefilled + request.decoded
                keys += context
                due[(group.steps - context) % block] += 1
        return keys, first_blocks, due

    def _decode_steps(
        self, now: float, steps: int, keys: int, taken: int, due: list[int], horizon_s: float, limit_s: float
    ) -> GapRun:
        """Take up to ``steps`` decode steps from ``now`` (the first taking ``taken`` KV blocks, the
        others those ``due`` at their step), recording each; return their gaps (see :meth:`decode_run`)."""
        batch, kv_blocks, free = len(self.running), self.config.kv_blocks, self.free_blocks
        block, counted = self.config.block_tokens, self.group.steps
        gaps = GapRun()
        samples = self.samples
        start = now
        used = 1 - free / kv_blocks if kv_blocks else 0.0  # (worked out again only where blocks are taken)
        for duration in itertools.islice(self._decode_steps_s(batch, keys), steps):
            if taken:
                if taken > free:
                    break
                free -= taken
                used = 1 - free / kv_blocks if kv_blocks else 0.0
            if duration < 1e-9:  # (max(duration, 1e-9) as step() takes it, without the call)
                duration = 1e-9
            end = start + duration
            gaps.append(end - start)
            samples.append((end, batch, used))
            start = end
            if end >= horizon_s or end > limit_s:
                break
            counted += 1
            taken = due[counted % block]
        self.free_blocks = free
        self.busy_until = start
        return gaps

    def _decode_steps_s(self, batch: int, keys: int) -> Iterator[float]:
        """Seconds of consecutive decode-only steps of ``batch`` sequences from ``keys`` keys, each
        the step model's: through its optional ``decode_steps_s`` (terms looked up once a run)."""
        steps_s = getattr(self.step_model, "decode_steps_s", None)
        if steps_s is not None:
            return steps_s(batch, keys)  # type: ignore[no-any-return]
        return (self.step_model(0, 0, batch, step_keys) for step_keys in itertools.count(keys, batch))

    def _apply_decode_run(self, gaps: GapRun, stale: bool, first_end: float) -> None:
        """Give the group and the loose sequences (which join it) the tokens and gaps of ``gaps``,
        the run's first step ending at ``first_end`` and its last at :attr:`busy_until`.

        :param stale: some sequence did not take its last token at the run's start: each closes the
            first step's gap apart, the sequences that took their last token together sharing it (as
            :meth:`_advance` does), and the other steps' gaps are shared by all.
        """
        group, steps, end = self.group, len(gaps), self.busy_until
        if stale:
            since, first = math.nan, GapRun()  # (first: the first step's gap those that decoded at ``since`` share)
            if group.size:
                since = group.last_token_s
                first = group.add_gaps(GapRun((first_end - since,)), shared=bool(self.loose))
            for request in self.loose:
                last_s = request.last_token_s
                if last_s != since:
                    since, first = last_s, GapRun((first_end - last_s,))
                request.gap_runs.append(first)
            gaps = GapRun(gaps[1:])
        for request in self.loose:
            group.join(request)
        if gaps:  # (empty only for a stale run of one step)
            group.add_gaps(gaps, shared=False)
        group.take_steps(steps, end)

    def _decode_only_steps(self, now: float) -> tuple[int, bool]:
        """Decode-only steps from ``now`` that may run in one go (up to the first that finishes a
        sequence; 0: none) and whether some sequence took its last token before ``now``."""
        if not self.running or len(self.running) > self.config.token_budget or self.can_admit():
            return 0, False
        group, loose = self.group, self.loose
        if not self._after_group(loose):
            return 0, False
        steps = group.finishes[0][0] - group.steps if group.size else MAX_EVENTS_PER_RUN
        stale = bool(group.size) and group.last_token_s != now
        for request in loose:
            if request.prefilled < request.isl:
                return 0, False
            if request.osl - request.decoded < steps:
                steps = request.osl - request.decoded
            stale = stale or request.last_token_s != now
        return steps, stale

    def can_admit(self) -> bool:
        """True when :meth:`step` would admit the head of the queue now (its prefill would start)."""
        if not self.waiting or len(self.running) >= self.config.max_num_seqs:
            return False
        budget = self.config.token_budget - len(self.running)
        if budget <= 0:
            return False
        head = self.waiting[0]
        prefilled = (
            min(head.cached_tokens, head.isl - 1) if head.prefilled == 0 and head.cached_tokens else head.prefilled
        )
        chunk = min(max(head.isl - prefilled, 0), budget)
        return self._blocks_for(prefilled + chunk) - head.blocks <= self.free_blocks

    def _decoders(self) -> tuple[list[Request], int, list[Request]]:
        """The sequences that decode this step, each given the KV block its next token needs,
        the keys they read (their contexts summed), and the running sequences still prefilling
        (once the decoders have their blocks); each sequence looked at (none in the group).

        A sequence that cannot grow preempts the most recently admitted other one (or is
        dropped when alone); the step's token budget caps how many decode.
        """
        block, free = self.config.block_tokens, self.free_blocks
        running = self.running
        decode: list[Request] = []
        prefilling: list[Request] = []
        keys = 0
        for request in running:  # (the common case, written for speed: no sequence lacks a block)
            prefilled = request.prefilled
            if prefilled < request.isl:
                prefilling.append(request)
                continue
            context = prefilled + request.decoded
            keys += context
            held = request.blocks
            spare = held * block - context  # tokens its blocks still have room for
            if spare > 0:
                decode.append(request)  # its next token fits the blocks it holds
                continue
            need = 1 if not spare else -(-(context + 1) // block) - held  # (full blocks: one more)
            if need > free:
                self.free_blocks = free
                return self._decoders_short_of_blocks(running[running.index(request) :], decode, keys - context)
            free -= need
            request.blocks = held + need
            decode.append(request)
        self.free_blocks = free
        if len(decode) > self.config.token_budget:
            decode = decode[: self.config.token_budget]
            keys = sum(r.prefilled + r.decoded for r in decode)
        return decode, keys, prefilling

    def _decoders_short_of_blocks(
        self, rest: list[Request], decode: list[Request], keys: int
    ) -> tuple[list[Request], int, list[Request]]:
        """:meth:`_decoders` from the first of ``rest`` on, that sequence lacking a block: it
        preempts (or is dropped), so the running batch is looked at again as it changes."""
        block = self.config.block_tokens
        upset = False  # a preemption or drop changed the running batch
        for request in [r for r in rest if r.prefilled >= r.isl]:
            if upset and request not in self.running:
                continue  # preempted by an earlier sequence of this step
            context = request.prefilled + request.decoded
            keys += context
            if context < request.blocks * block:
                decode.append(request)
                continue
            need = -(-(context + 1) // block) - request.blocks
            if need <= self.free_blocks:
                self.free_blocks -= need
                request.blocks += need
                decode.append(request)
                continue
            while request in self.running and not self._grow(request, request.context + 1):
                upset = True
                if not self._preempt_one(request):
                    self._drop(request)  # alone and still out of KV: it can never finish here
            if request in self.running:
                decode.append(request)
        if upset or len(decode) > self.config.token_budget:
            decode = [r for r in decode if r in self.running][: self.config.token_budget]
            keys = sum(r.prefilled + r.decoded for r in decode)
        return decode, keys, [r for r in self.running if r.prefilled < r.isl]

    def _advance(self, end: float, chunks: list[tuple[Request, int]], decode: list[Request]) -> list[Request]:
        """Apply a step that ends at ``end``; return the requests that finished."""
        finished = []
        done = bool(self._prefill_chunks(end, chunks))  # some sequence produced its last token this step
        for request in _take_tokens(decode, end, math.nan, GapRun()):
            if request.decoded >= request.osl:
                done = True
        if done:
            for request in list(self.running):
                if request.prefilled >= request.isl and request.decoded >= request.osl:
                    request.finish_s = end
                    self.running.remove(request)
                    self._free(request)
                    finished.append(request)
        used = 1 - self.free_blocks / self.config.kv_blocks if self.config.kv_blocks else 0.0
        self.samples.append((end, len(self.running), used))
        self.busy_until = end
        return finished


class RankedReplica(Replica):
    """An attention-data-parallel replica: one scheduler a rank (a GPU), the ranks stepping together.

    Under attention data parallelism (SGLang's ``--enable-dp-attention``, TensorRT-LLM's
    ``enable_attention_dp``) the replica's data-parallel controller sends each request to one rank
    (SGLang: ``DataParallelController``, round robin by default), whose own scheduler admits it
    within the rank's sequence limit and KV blocks, prefills it within the rank's share of the
    token budget and, prefill first, pauses its own decodes while it does; every step each rank
    runs its own batch and the experts between their attention layers take all the ranks' tokens,
    so the ranks step together and ``ranked_step`` (:meth:`MixedStep.ranks_s`) times a step from
    every rank's work. A prompt therefore takes ``isl / rank budget`` steps on one GPU, not the
    whole replica's budget spread over all of them.

    The ranks are :class:`Replica` schedulers (``config`` is one rank's), each stepped as a replica
    steps (its decoding sequences kept as one group where it can: :attr:`batched`, which the ranks
    follow), and fast-forwarded together through runs of decode-only steps (:meth:`decode_run`);
    the replica shows the router and the event loop the requests of all of them (``running``
    holds those the ranks queue too) and records their samples as one replica.
    """

    def __init__(
        self,
        index: int,
        config: SchedulerConfig,
        ranks: int,
        ranked_step: RankedStepModel,
        frontend_s: float = 0.0,
        decode_steps: RankedDecodeSteps | None = None,
        dispatch: str = "round_robin",
    ) -> None:
        whole = SchedulerConfig(
            max_num_seqs=config.max_num_seqs * ranks,
            token_budget=config.token_budget * ranks,
            block_tokens=config.block_tokens,
            kv_blocks=config.kv_blocks * ranks,
            prefill_first=config.prefill_first,
        )
        super().__init__(index, whole, _ranks_only, frontend_s)
        self.ranked_step = ranked_step
        #: The seconds of a run of decode-only steps, each as ``ranked_step`` times it, where the step
        #: model offers them (terms looked up once a run); else each step is timed on its own.
        self.decode_steps = decode_steps
        #: How a new request is sent to a rank (:attr:`RuntimeSpec.attention_dp_dispatch`):
        #: ``round_robin``, ``least_loaded`` or ``fewest_prompt_tokens`` (see :meth:`_dispatch`).
        self.dispatch = dispatch
        self.ranks = [Replica(rank, config, _ranks_only, frontend_s) for rank in range(ranks)]
        self.dispatched = 0

    def step(self, now: float) -> tuple[float, list[Request]]:
        """Send the new requests to their ranks, then run one step of every rank together: each rank
        as :meth:`Replica.step` would, its decoding sequences kept as one group where it can (and
        :attr:`batched`), else looked at one by one."""
        self._dispatch()
        works = [self._rank_step_work(rank) for rank in self.ranks]
        end, finished = now, []
        if any(work is not None for work in works):
            end = now + max(self.ranked_step([_rank_work(work) for work in works]), 1e-9)
            for rank, work in zip(self.ranks, works, strict=True):
                if isinstance(work, _GroupWork):
                    finished += rank._advance_group(end, work.chunks, work.decoding, work.cancelled)
                elif work is not None:
                    finished += rank._advance(end, work[0], work[1])
                    rank.loose = rank.running.copy()
                    if len(rank.samples) > 1024:  # (the replica keeps the samples: a rank's are not read)
                        rank.samples.clear()
        self._gather(end)
        return end, finished

    def _dispatch(self) -> None:
        """Send the requests waiting at the replica to their ranks, as the engine does at the start of a
        step: in turn (SGLang's data-parallel controller, round robin by default), each to the rank with
        the lowest 4 x waiting + running, the first of equals (vLLM's data-parallel client), or, while
        the ranks have room for more active requests, longest prompt first to the rank below the even
        share whose active requests hold the fewest prompt tokens (TensorRT-LLM's attention-DP queue;
        the rest wait at the replica)."""
        ranks = self.ranks
        if self.dispatch == "fewest_prompt_tokens":
            self._dispatch_by_prompt_tokens()
            return
        while self.waiting:
            request = self.waiting.popleft()
            if self.dispatch == "least_loaded":
                rank = min(ranks, key=lambda r: 4 * len(r.waiting) + len(r.running))
            else:
                rank = ranks[self.dispatched % len(ranks)]
            rank.waiting.append(request)
            self.dispatched += 1

    def _dispatch_by_prompt_tokens(self) -> None:
        """:meth:`_dispatch` as TensorRT-LLM's attention-DP request queue does it (``fewest_prompt_tokens``)."""
        room = self._room_for_requests() if self.waiting else 0
        if room <= 0:
            return
        ranks = self.ranks
        active = [len(rank.waiting) + len(rank.running) for rank in ranks]
        new = [self.waiting.popleft() for _ in range(min(room, len(self.waiting)))]
        expected = max(-(-(sum(active) + len(new)) // len(ranks)), max(active))
        heap = [
            (sum(r.isl for r in itertools.chain(rank.waiting, rank.running)), active[i], i)
            for i, rank in enumerate(ranks)
            if active[i] < expected
        ]
        heapq.heapify(heap)
        for request in sorted(new, key=operator.attrgetter("isl"), reverse=True):
            tokens, count, index = heapq.heappop(heap)
            ranks[index].waiting.append(request)
            self.dispatched += 1
            if count + 1 < expected:
                heapq.heappush(heap, (tokens + request.isl, count + 1, index))

    def _room_for_requests(self) -> int:
        """How many more requests the ranks may hold active (each rank its sequence limit)."""
        held = sum(len(rank.waiting) + len(rank.running) for rank in self.ranks)
        return len(self.ranks) * self.ranks[0].config.max_num_seqs - held

    def _dispatchable(self) -> bool:
        """Whether a request waits at the replica that the next step sends to a rank (:meth:`_dispatch`)."""
        if not self.waiting:
            return False
        return self.dispatch != "fewest_prompt_tokens" or self._room_for_requests() > 0

    def _rank_step_work(self, rank: Replica) -> _GroupWork | _SequenceWork | None:
        """What ``rank``'s next step does (see :meth:`Replica.step`): through its group where the
        group can describe the step, else sequence by sequence (the group released first)."""
        if self.batched and (decoding_prefilling := rank._loose_alongside_group()) is not None:
            return rank._group_work(*decoding_prefilling)
        rank.settle()
        return rank._next_work()

    def _gather(self, end: float) -> None:
        """The ranks' requests, drops, preemptions and KV use, as the replica's, recorded at ``end``."""
        self._gather_ranks()
        if end > self.busy_until:
            self.samples.append((end, sum(len(rank.running) for rank in self.ranks), self._kv_used()))
            self.busy_until = end

    def _gather_ranks(self) -> None:
        """The ranks' requests, drops, preemptions and free KV blocks, as the replica's."""
        ranks = self.ranks
        self.running = [r for rank in ranks for r in itertools.chain(rank.waiting, rank.running)]
        if sum(len(rank.dropped) for rank in ranks) != len(self.dropped):
            self.dropped = [r for rank in ranks for r in rank.dropped]
        self.preemptions = sum(rank.preemptions for rank in ranks)
        self.free_blocks = sum(rank.free_blocks for rank in ranks)

    def _kv_used(self, free_blocks: int | None = None) -> float:
        """The share of the ranks' KV blocks in use (``free_blocks`` of them free; by default the replica's)."""
        free = self.free_blocks if free_blocks is None else free_blocks
        return 1 - free / self.config.kv_blocks if self.config.kv_blocks else 0.0

    def decode_run(
        self, now: float, horizon_s: float, limit_s: float, max_steps: int
    ) -> tuple[float, float, int, list[Request]]:
        """Fast-forward: every rank's decode-only steps from ``now`` in one go, each step the one
        :meth:`step` would take (see :meth:`Replica.decode_run`).

        Applies while no request waiting at the replica can be sent to a rank (:meth:`_dispatchable`)
        and every rank with sequences could take
        a decode run of its own (they all decode and nothing the rank queues can be admitted): a step
        then only lengthens each rank's sequences, and the ranks' work, timed together by
        ``ranked_step``, grows by each rank's batch in keys. Stops before a step whose KV blocks some
        rank lacks, after the step where a sequence of any rank finishes, or once a step ends at or
        after ``horizon_s`` or past ``limit_s``. A rank's sequences join its group for the run.
        """
        if self._dispatchable():
            return now, now, 0, []
        runs: list[_RankRun] = []
        for position, rank in enumerate(self.ranks):
            if not rank.running:
                if rank.waiting:
                    return now, now, 0, []  # (its next step admits or drops the request)
                continue
            steps, stale = rank._decode_only_steps(now)
            blocks = rank._run_blocks() if steps > 0 else None
            if blocks is None:
                return now, now, 0, []
            max_steps = min(max_steps, steps)
            runs.append(_RankRun(rank, position, len(rank.running), *blocks, stale, rank.group.steps, rank.free_blocks))
        if not runs or max_steps <= 0:
            return now, now, 0, []
        gaps, first_end, last_start = self._ranked_decode_steps(now, max_steps, runs, horizon_s, limit_s)
        end, finished = self.busy_until, []
        for run in runs:
            rank = run.rank
            rank.free_blocks, rank.busy_until = run.free, end
            rank._apply_decode_run(GapRun(gaps), run.stale, first_end)  # (a run each: a group extends its last)
            finished += rank._retire(rank.group.finished(), end)
        self._gather_ranks()
        if finished:
            self.samples[-1] = (end, sum(len(rank.running) for rank in self.ranks), self._kv_used())
        return last_start, end, len(gaps), finished

    def _ranked_decode_steps(
        self, now: float, steps: int, runs: list[_RankRun], horizon_s: float, limit_s: float
    ) -> tuple[GapRun, float, float]:
        """Take up to ``steps`` decode steps of the ranks of ``runs`` from ``now`` (each rank taking
        the KV blocks due at its step), recording each; return their gaps, the first step's end and
        the last step's start (see :meth:`decode_run`)."""
        block, running = self.config.block_tokens, sum(len(rank.running) for rank in self.ranks)
        idle_free = sum(rank.free_blocks for rank in self.ranks) - sum(run.free for run in runs)
        gaps, samples = GapRun(), self.samples
        start = last_start = first_end = now
        for duration in itertools.islice(self._ranked_steps_s(runs), steps):
            if any(run.taken > run.free for run in runs):
                break
            for run in runs:
                run.free -= run.taken
            if duration < 1e-9:  # (max(duration, 1e-9) as step() takes it)
                duration = 1e-9
            end = start + duration
            gaps.append(end - start)
            if end > self.busy_until:  # (as _gather records a step)
                samples.append((end, running, self._kv_used(idle_free + sum(run.free for run in runs))))
                self.busy_until = end
            if len(gaps) == 1:
                first_end = end
            last_start, start = start, end
            if end >= horizon_s or end > limit_s:
                break
            for run in runs:
                run.counted += 1
                run.taken = run.due[run.counted % block]
        return gaps, first_end, last_start

    def _ranked_steps_s(self, runs: list[_RankRun]) -> Iterator[float]:
        """Seconds of the consecutive decode-only steps of a run of the ranks of ``runs``, each a token
        more per sequence: through the step model's ``decode_steps`` where given, else step by step."""
        batches, keys = [0] * len(self.ranks), [0] * len(self.ranks)
        for run in runs:
            batches[run.position], keys[run.position] = run.batch, run.keys
        if self.decode_steps is not None:
            yield from self.decode_steps(batches, keys)
            return
        work: list[RankWork] = [(0.0, 0.0, 0.0, 0.0)] * len(self.ranks)
        while True:
            for run in runs:
                work[run.position] = (0, 0, float(run.batch), float(keys[run.position]))
                keys[run.position] += run.batch
            yield self.ranked_step(work)

    def can_admit(self) -> bool:
        """True when a request waiting at the replica would be sent to its rank, or a rank would admit its next one."""
        return self._dispatchable() or any(rank.can_admit() for rank in self.ranks)

    def settle(self) -> None:
        """Every rank's sequences written back (see :meth:`Replica.settle`)."""
        for rank in self.ranks:
            rank.settle()


@dataclass(slots=True)
class _RankRun:
    """One rank's part of a :meth:`RankedReplica.decode_run`: its batch, the keys the run's first step
    reads, the KV blocks that step takes, the blocks due by step count (see :meth:`Replica._run_blocks`),
    whether some sequence took its last token before the run, its group's step count and free blocks."""

    rank: Replica
    position: int
    batch: int
    keys: int
    taken: int
    due: list[int]
    stale: bool
    counted: int
    free: int


def _ranks_only(prefill_tokens: float, prefill_keys: float, decode_batch: float, decode_keys: float) -> float:
    """The step model of a rank of a :class:`RankedReplica`, which is never asked: the replica
    times the ranks' steps together."""
    raise AssertionError("a rank's step is timed by its replica")


def _rank_work(work: _GroupWork | _SequenceWork | None) -> tuple[float, float, float, float]:
    """A rank's step as the ranked step model takes it: (prefill tokens, their keys, decoders, their keys)."""
    if work is None:
        return 0.0, 0.0, 0.0, 0.0
    if isinstance(work, _GroupWork):
        return (*_prefill_work(work.chunks), float(work.decoders), float(work.decode_keys))
    chunks, decode, decode_keys = work
    return (*_prefill_work(chunks), float(len(decode)), float(decode_keys))


# ------------------------------------------------------------------ the budget

#: Most events (arrivals and scheduler steps, fast-forwarded steps counted one by one) one run
#: processes. The longest run of `planner simulate` on the bundled and test plans takes about
#: 210,000 (use case 4's fleet of 15 in open loop; measured); this simulator does about 5,000
#: events a second on one shared core (measured), so a run stops within minutes.
MAX_EVENTS_PER_RUN = 2_000_000
#: Wall-clock seconds all the simulations of one command may take by default
#: (``PLANNER_SIM_WALL_S`` or a command's ``--time-limit`` change it).
DEFAULT_WALL_S = 900.0


def _take_tokens(requests: list[Request], end: float, since: float, gap: GapRun) -> Iterator[Request]:
    """Give each of ``requests`` its next token at ``end``, yielding it once it has. Sequences whose
    last token came at the same time share one gap run (``gap``, open for those of ``since``)."""
    for request in requests:
        last_s = request.last_token_s
        if last_s != since:  # the sequences that decoded together share their gap
            since, gap = last_s, GapRun((end - last_s,))
        request.gap_runs.append(gap)
        request.last_token_s = end
        request.decoded += 1
        yield request


@dataclass
class SimulationBudget:
    """How much simulating one command may do, and where its runs stopped early.

    A run that reaches ``max_events`` events, or finds the command's ``wall_s`` spent, stops
    where it is: requests not finished by then are reported as unfinished, and the reason
    is kept in ``stops`` for the command to print.
    """

    wall_s: float = DEFAULT_WALL_S
    max_events: int = MAX_EVENTS_PER_RUN
    started_s: float = field(default_factory=time.monotonic)
    stops: list[str] = field(default_factory=list)
    #: Called at each check (every 1,024 events of a run): a front end's Cancel raises from it, and the
    #: exception abandons the run and the command.
    on_check: Callable[[], None] | None = None

    def stop_reason(self, events: int) -> str | None:
        """Why a run that has processed ``events`` must stop now, or None."""
        if self.on_check is not None:
            self.on_check()
        if events >= self.max_events:
            return f"a simulated run reached {self.max_events:,} events"
        if time.monotonic() - self.started_s > self.wall_s:
            return f"the simulations used their {self.wall_s:g} s of wall time"
        return None

    def record(self, reason: str) -> None:
        """Keep ``reason`` once."""
        if reason not in self.stops:
            self.stops.append(reason)


_BUDGET: ContextVar[SimulationBudget | None] = ContextVar("planner_simulation_budget", default=None)


@contextmanager
def simulation_budget(
    wall_s: float | None = None, on_check: Callable[[], None] | None = None
) -> Iterator[SimulationBudget]:
    """Bound every run simulated inside the block by one shared budget (wall time and events).

    :param wall_s: seconds of wall time; default ``PLANNER_SIM_WALL_S``, else :data:`DEFAULT_WALL_S`.
    :param on_check: called at each of the budget's checks; what it raises stops the block's work.
    """
    budget = SimulationBudget(
        wall_s=wall_s if wall_s is not None else seconds_from_env("PLANNER_SIM_WALL_S", DEFAULT_WALL_S),
        on_check=on_check,
    )
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def active_budget() -> SimulationBudget:
    """The budget of the command under way; outside one, a fresh budget (events per run still bounded)."""
    return _BUDGET.get() or SimulationBudget()


# ------------------------------------------------------------------ the run


@dataclass(frozen=True)
class Workload:
    """What arrives: lengths, prefix reuse, and either a rate process or closed-loop users."""

    lengths: LengthSampler
    shared_prefix_tokens: int = 0
    prefix_hit_rate: float = 0.0
    #: Each prompt arrives with its KV from a prefill pool (a disaggregated decode pool): all of it
    #: cached but the last token, which the decode replica computes with its decodes.
    kv_handed_over: bool = False


@dataclass
class SimResult:
    """Every request of one run that arrived within its window, and the replicas' traces."""

    requests: list[Request]
    unfinished: list[Request]
    dropped: list[Request]
    duration_s: float
    warmup_s: float
    replicas: list[Replica]
    gpus: int = 1
    stopped_early: str = ""
    #: Requests that arrived after the window and finished before the run stopped: the load that
    #: kept the window's last requests in a steady batch (see the module docstring), not measured.
    tail: list[Request] = field(default_factory=list)

    @property
    def frontend_s(self) -> float:
        """Seconds each request spends outside the engine before its first token reaches the client
        (the replicas' front end, ``planner.performance_models.frontend_s``): added to its TTFT and
        E2E, not to any step."""
        return self.replicas[0].frontend_s if self.replicas else 0.0

    def measured(self) -> list[Request]:
        """Finished requests that arrived after the warm-up."""
        return [r for r in self.requests if r.arrival_s >= self.warmup_s]


Router = Callable[[Sequence[Replica], int], Replica]


def round_robin(replicas: Sequence[Replica], counter: int) -> Replica:
    """The next replica in turn."""
    return replicas[counter % len(replicas)]


def least_outstanding(replicas: Sequence[Replica], counter: int) -> Replica:
    """The replica with the fewest requests queued or running (ties by index)."""
    # min() by (outstanding, index), written out: the router runs at every arrival of a fleet
    best, fewest, index = replicas[0], math.inf, math.inf
    for replica in replicas:
        ahead = replica.ahead
        outstanding = ahead[0][1] if ahead else len(replica.waiting) + len(replica.running)
        if outstanding < fewest or (outstanding == fewest and replica.index < index):
            best, fewest, index = replica, outstanding, replica.index
    return best


ROUTERS: dict[str, Router] = {"round-robin": round_robin, "least-outstanding": least_outstanding}


def _new_request(index: int, now: float, workload: Workload, rng: random.Random) -> Request:
    isl, osl = workload.lengths(rng)
    if workload.kv_handed_over:
        return Request(id=index, arrival_s=now, isl=isl, osl=osl, cached_tokens=isl - 1, kv_handed_over=True)
    cached = 0
    if workload.shared_prefix_tokens and rng.random() < workload.prefix_hit_rate:
        cached = min(workload.shared_prefix_tokens, isl - 1)
    return Request(id=index, arrival_s=now, isl=isl, osl=osl, cached_tokens=cached)


#: Open-loop arrivals drawn ahead at most to see past those routed elsewhere (a bound on work, not on results).
LOOKAHEAD_ARRIVALS = 64
#: Simulate runs of identical decode steps in one go (:meth:`Replica.decode_run`) and chain a
#: replica's steps while no other event can intervene; False steps one event at a time (the
#: reference the fast path is tested against).
_FAST_FORWARD = True


def run(
    replicas: Sequence[Replica],
    workload: Workload,
    *,
    duration_s: float,
    seed: int = 0,
    gaps: Iterator[float] | None = None,
    users: int | None = None,
    think_s: float = 0.0,
    router: Router = least_outstanding,
    warmup_s: float | None = None,
    max_sim_s: float | None = None,
) -> SimResult:
    """Simulate ``replicas`` behind ``router`` for ``duration_s`` of arrivals, and on until
    every one of them has finished, the load kept up meanwhile (see the module docstring).

    Open loop: ``gaps`` yields inter-arrival times. Closed loop: ``users`` each send a
    request, wait for it, think (exponential, mean ``think_s``), and send the next.
    Requests of the window still unfinished when ``max_sim_s`` is reached are reported, not
    lost; the requests after the window are in :attr:`SimResult.tail` where they finished.
    """
    loop = _EventLoop(replicas, workload, duration_s, seed, users, think_s, router)
    loop.limit_s = max_sim_s if max_sim_s is not None else duration_s * 20 + 600
    loop.start(gaps)
    loop.process(active_budget())
    for replica in replicas:
        replica.ahead.clear()  # the run is over: no change is still to come
        replica.settle()
    dropped = [r for replica in replicas for r in replica.dropped if r.arrival_s <= duration_s]
    accounted = {r.id for r in loop.finished} | {r.id for r in dropped}
    unfinished = [r for r in loop.all_requests if r.id not in accounted and r.arrival_s <= duration_s]
    return SimResult(
        requests=[r for r in loop.finished if r.arrival_s <= duration_s],
        unfinished=unfinished,
        dropped=dropped,
        duration_s=duration_s,
        warmup_s=duration_s * 0.1 if warmup_s is None else warmup_s,
        replicas=list(replicas),
        stopped_early=loop.stopped,
        tail=[r for r in loop.finished if r.arrival_s > duration_s],
    )


class _EventLoop:
    """The events of one run: arrivals (kind 0) and scheduler steps (kind 1), in time order."""

    def __init__(
        self,
        replicas: Sequence[Replica],
        workload: Workload,
        duration_s: float,
        seed: int,
        users: int | None,
        think_s: float,
        router: Router,
    ) -> None:
        self.replicas, self.workload, self.duration_s = replicas, workload, duration_s
        self.rng = random.Random(seed)
        self.users, self.think_s, self.router = users, think_s, router
        self.events: list[tuple[float, int, int, int]] = []  # (time, order, kind, replica or user)
        self.arrival_times: list[tuple[float, int]] = []  # the arrivals among the events, to see the next one
        self.order = 0
        self.gaps: Iterator[float] | None = None
        self.stepping = [False] * len(replicas)
        for replica in replicas:
            replica.batched = _FAST_FORWARD
        self.finished: list[Request] = []
        self.all_requests: list[Request] = []
        self.window_left = 0  # requests of the window not yet finished (or dropped)
        self.window_closed = False  # every request of the window has finished: the run stops
        self.arrivals_end_s = 2 * duration_s  # no arrival after this, window open or not
        self.limit_s = math.inf
        self.processed = 0
        self.stopped = ""
        self.fast_forward = _FAST_FORWARD
        # Another replica's step can change this one only in a closed loop (its finished
        # users send their next requests, and draw think times, in time order).
        self.steps_interact = users is not None and len(replicas) > 1
        # A finished user's next request reaches the engine this long after the last token left it
        # (its stream out, the client, the request in: the front end both ways).
        self.return_s = replicas[0].frontend_s if replicas else 0.0
        # One replica in a closed loop that returns at once (no think time, no front end): a
        # finished user's next request arrives at the step's end, before anything else can happen
        # there, so it is taken at once rather than through the event queue (two events a request
        # fewer; the same runs).
        self.arrive_at_once = self.fast_forward and users is not None and not self.delayed and len(replicas) == 1
        self.clock_s = 0.0
        self.upcoming: deque[float] = deque()  # open-loop arrivals drawn ahead, after the scheduled one
        self.ahead: set[int] = set()  # replicas fast-forwarded ahead of the clock
        self.next_step_s = [math.inf] * len(replicas)  # each replica's scheduled step

    @property
    def delayed(self) -> bool:
        """Whether a closed loop's user sends its next request some time after the last one
        finished (think time or the front end), rather than at that step's end."""
        return bool(self.think_s or self.return_s)

    def push(self, time: float, kind: int, who: int) -> None:
        """Schedule an event."""
        heapq.heappush(self.events, (time, self.order, kind, who))
        if kind == 0:
            heapq.heappush(self.arrival_times, (time, self.order))
        else:
            self.next_step_s[who] = time
        self.order += 1

    def start(self, gaps: Iterator[float] | None) -> None:
        """Schedule the first arrivals: every user's (closed loop) or the first gap's (open loop)."""
        if self.users is not None:
            for user in range(self.users):
                self.push(self.rng.uniform(0, self.think_s) if self.think_s else 0.0, 0, user)
        elif gaps is not None:
            self.gaps = gaps
            first = next(gaps, None)
            if first is not None:
                self.push(first, 0, -1)

    def process(self, budget: SimulationBudget) -> None:
        """Process events until none is left, the time limit is passed or the budget stops the run."""
        while self.events and not self.window_closed:
            # Checked every 1024 events: time.monotonic() on each would cost more than the step.
            if not self.processed & 1023 and (stopped := budget.stop_reason(self.processed) or ""):
                budget.record(stopped)
                self.stopped = stopped
                return
            self.processed += 1
            now, _, kind, who = heapq.heappop(self.events)
            if now > self.limit_s:
                return
            self.clock_s = now
            if kind == 0:
                heapq.heappop(self.arrival_times)
                self.arrive(now, who)
            else:
                self.next_step_s[who] = math.inf
                self.step(now, who)

    def arrive(self, now: float, who: int) -> None:
        """A request arrives: route it, schedule the next arrival, start its replica stepping.
        After the window, requests keep arriving while a request of the window is unfinished."""
        if now > self.duration_s and (now > self.arrivals_end_s or not self.window_open()):
            return
        self.window_left += now <= self.duration_s
        created = len(self.all_requests)
        request = _new_request(created, now, self.workload, self.rng)
        request.user = who
        self.all_requests.append(request)
        if self.ahead:
            self.catch_up(now)
        # (one replica takes every request: no router to ask)
        target = self.router(self.replicas, created) if len(self.replicas) > 1 else self.replicas[0]
        target.waiting.append(request)
        if self.users is None and self.gaps is not None:
            if self.upcoming:
                self.push(self.upcoming.popleft(), 0, -1)
            elif (gap := next(self.gaps, None)) is not None:  # a replayed stream ends
                self.push(now + gap, 0, -1)
        if not self.stepping[target.index]:
            self.stepping[target.index] = True
            self.push(now, 1, target.index)

    def step(self, now: float, who: int) -> None:
        """Replica ``who`` runs its next step (and, fast-forwarding, every later one no event can change)."""
        replica = self.replicas[who]
        replica.ahead.clear()  # its changes so far took effect by now
        horizon = math.nan
        while True:
            if not replica.running and not replica.waiting:
                self.stepping[who] = False
                return
            before = len(replica.waiting) + len(replica.running)
            end, done = replica.step(now)
            if end == now and not done:
                self.stepping[who] = bool(replica.running or replica.waiting)
                if self.stepping[who]:
                    self.push(now, 1, who)
                return
            self.finish(done, end)
            if self.changed(replica, now, before):
                horizon = math.nan
            if self.fast_forward:
                end, horizon = self.decode_runs(replica, end, horizon)
                horizon = self.horizon_s(replica) if math.isnan(horizon) else horizon
            if not self.fast_forward or not self.chains(end, horizon):
                self.push(end, 1, who)
                return
            now = end
            self.processed += 1

    def changed(self, replica: Replica, start_s: float, before: int) -> bool:
        """True when a step that started at ``start_s`` changed ``replica``'s outstanding requests
        (``before`` it); a change ahead of the clock is kept for the router to see when due (one
        replica takes every request unrouted: nothing to keep)."""
        if len(replica.waiting) + len(replica.running) == before:
            return False
        if start_s > self.clock_s and len(self.replicas) > 1:
            replica.ahead.append((start_s, before))
            self.ahead.add(replica.index)
        return True

    def catch_up(self, now: float) -> None:
        """Let the router see each replica fast-forwarded ahead as it is at ``now``."""
        for index in list(self.ahead):
            ahead = self.replicas[index].ahead
            while ahead and ahead[0][0] <= now:
                ahead.popleft()
            if not ahead:
                self.ahead.discard(index)

    def window_open(self) -> bool:
        """Whether a request of the window is still to finish (a dropped one never will)."""
        if self.window_left <= 0:
            return False
        dropped = sum(r.arrival_s <= self.duration_s for replica in self.replicas for r in replica.dropped)
        return self.window_left > dropped

    def finish(self, done: list[Request], end: float) -> None:
        """Keep requests that finished at ``end``; in a closed loop their users think, then send the next."""
        self.finished += done
        if end > self.duration_s:
            self.window_left -= sum(r.arrival_s <= self.duration_s for r in done)
            if not self.window_open():
                self.window_closed = True
                return
        else:
            self.window_left -= len(done)
        if self.users is None or end > self.arrivals_end_s:
            return
        for request in done:
            if self.arrive_at_once and end <= self.limit_s:
                self.arrive(end, request.user)
            else:
                think = self.rng.expovariate(1 / self.think_s) if self.think_s else 0.0
                self.push(end + self.return_s + think, 0, request.user)

    def chains(self, next_step_s: float, horizon_s: float) -> bool:
        """True when a replica's step at ``next_step_s`` may run now: before its ``horizon_s``
        (a tie goes to the event scheduled first), within the time limit, and the event count
        is not due for a budget check (and the run goes on: see :meth:`finish`)."""
        return (
            next_step_s < horizon_s
            and next_step_s <= self.limit_s
            and bool(self.processed & 1023)
            and not self.window_closed
        )

    def decode_runs(self, replica: Replica, now: float, horizon_s: float) -> tuple[float, float]:
        """Fast-forward ``replica``'s decode-only steps from ``now`` while no event intervenes;
        return the last end and the replica's horizon (nan: to be worked out again)."""
        while True:
            if math.isnan(horizon_s):
                horizon_s = self.horizon_s(replica)
            if not self.chains(now, horizon_s):
                return now, horizon_s
            room = 1024 - (self.processed & 1023)  # steps left before the budget's next check
            before = len(replica.waiting) + len(replica.running)
            last_start, end, steps, done = replica.decode_run(now, horizon_s, self.limit_s, room)
            if not steps:
                return now, horizon_s
            self.processed += steps
            self.finish(done, end)
            if self.changed(replica, last_start, before):
                horizon_s = math.nan
            now = end
            if replica.waiting and replica.can_admit():
                return now, horizon_s  # (a request the run's end let in: the next step prefills it)

    def horizon_s(self, replica: Replica) -> float:
        """When the next event that could change ``replica`` happens (inf: none): the first
        arrival that may be routed to it or, in a closed loop over several replicas, the
        first step of another replica whose finished user may be (see :meth:`users_horizon_s`)."""
        if self.steps_interact:
            return self.users_horizon_s(replica)
        if len(self.replicas) == 1 or self.users is not None:
            return self.arrival_s(0)
        if self.router is round_robin:
            return self.arrival_s((replica.index - len(self.all_requests)) % len(self.replicas))
        if self.router is not least_outstanding:
            return self.arrival_s(0)
        return self.arrival_s(self.room_below(replica, LOOKAHEAD_ARRIVALS))

    def room_below(self, replica: Replica, enough: int) -> int:
        """How many arrivals the least-outstanding router certainly sends to other replicas
        before ``replica`` (while it keeps its outstanding requests): the room the others
        have below it (ties go to the lower index), counted up to ``enough``."""
        mine, index, room = len(replica.waiting) + len(replica.running), replica.index, 0
        for other in self.replicas:  # ``replica`` itself adds nothing
            ahead = other.ahead
            below = mine - (ahead[0][1] if ahead else len(other.waiting) + len(other.running)) + (other.index < index)
            if below > 0:
                room += below
                if room >= enough:
                    break
        return room

    def users_horizon_s(self, replica: Replica) -> float:
        """:meth:`horizon_s` of a closed loop over several replicas.

        Returning at once (no think time, no front end) and behind the least-outstanding router,
        a user whose request finishes on a replica level with or below ``replica`` adds one to
        the room below it before its next request takes one, so while the room exceeds the
        requests already on their way, only a replica above it can bring one here: its next step
        is the horizon. Otherwise any event is (think times and routing are drawn in time order).
        """
        if self.delayed or self.router is not least_outstanding:
            return min(self.arrival_s(0), self.events[0][0] if self.events else math.inf)
        if self.room_below(replica, len(self.arrival_times) + 1) <= len(self.arrival_times):
            return min(self.arrival_s(0), self.events[0][0] if self.events else math.inf)
        mine = len(replica.waiting) + len(replica.running)
        horizon = math.inf
        for other in self.replicas:
            if other.outstanding > mine + (other.index < replica.index) and self.next_step_s[other.index] < horizon:
                horizon = self.next_step_s[other.index]  # ``replica`` itself is never above itself
        return horizon

    def arrival_s(self, number: int) -> float:
        """When the arrival ``number`` places after the next happens (inf: none to come). Arrivals
        after the window count: they come while a request of the window is unfinished."""
        if not self.arrival_times:
            return math.inf
        when = self.arrival_times[0][0]
        if when > self.arrivals_end_s:
            return math.inf
        if number and self.users is None and self.gaps is not None:
            while len(self.upcoming) < number:
                base = self.upcoming[-1] if self.upcoming else when
                if base > self.arrivals_end_s or (gap := next(self.gaps, None)) is None:
                    return math.inf
                self.upcoming.append(base + gap)
            when = self.upcoming[number - 1]
        return math.inf if when > self.arrivals_end_s else when


# -------------------------------------------------------------- summaries


def percentile(values: Sequence[float], q: float, *, ordered: bool = False) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values.

    :param ordered: ``values`` are already sorted (several percentiles of one long list sort it once).
    """
    values = values if ordered else sorted(values)
    return _interpolated(values.__getitem__, len(values), q)


def _interpolated(at_rank: Callable[[int], float], count: int, q: float) -> float:
    """The q-th percentile of ``count`` ordered values, each rank's value from ``at_rank``; nan for none."""
    if not count:
        return float("nan")
    position = q / 100 * (count - 1)
    low = math.floor(position)
    high = min(low + 1, count - 1)
    below, above = at_rank(low), at_rank(high)
    return below + (above - below) * (position - low)


PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Targets:
    """SLO targets in seconds (None where there is none) at a percentile."""

    ttft_s: float | None
    itl_s: float | None
    e2e_s: float | None
    percentile: float = 95

    def met(self, request: Request, tpot_s: float | None = None, frontend_s: float = 0.0) -> bool:
        """True when one request met every target (its mean time per output token, ``tpot_s`` when
        the caller has it, for the ITL target; ``frontend_s`` outside the engine added to TTFT and E2E)."""
        ttft = (request.first_token_s or math.inf) - request.arrival_s + frontend_s
        e2e = (request.finish_s or math.inf) - request.arrival_s + frontend_s
        itl = tpot_s if tpot_s is not None else 0.0
        if self.itl_s is not None and tpot_s is None:
            itl = request.mean_gap_s()  # (summing its gaps costs: only where it is judged)
        return self.met_by(ttft, itl, e2e)

    def met_by(self, ttft_s: float, itl_s: float, e2e_s: float) -> bool:
        """True when a request with these times met every target (a measured one too: goodput)."""
        return (
            (self.ttft_s is None or ttft_s <= self.ttft_s)
            and (self.itl_s is None or itl_s <= self.itl_s)
            and (self.e2e_s is None or e2e_s <= self.e2e_s)
        )


def distribution_ms(values_s: list[float], ordered: list[float] | None = None) -> dict[str, float]:
    """The percentiles of :data:`PERCENTILES` and the mean of durations in seconds, in milliseconds.

    :param ordered: ``values_s`` sorted, where the caller sorted them for other percentiles too.
    """
    mean_s = sum(values_s) / len(values_s) if values_s else float("nan")  # summed in arrival order
    ordered = sorted(values_s) if ordered is None else ordered
    return _in_ms(mean_s, lambda q: percentile(ordered, q, ordered=True))


def _in_ms(mean_s: float, percentile_s: Callable[[float], float]) -> dict[str, float]:
    return {f"p{q}": percentile_s(q) * 1000 for q in PERCENTILES} | {"mean": mean_s * 1000}


class TokenGaps:
    """Every token gap of some requests, for their mean and percentiles, and each request's mean gap.

    The sequences that decode in the same steps share their gaps (:attr:`Request.gap_runs`), so
    a run's hundreds of thousands of gaps hold some thousands of distinct runs: ranking each run's
    values once, weighted by the requests that share it, gives the percentiles of the whole list
    without sorting it (which cost more than all else a summary does). A decode group's member
    holds its stay as one :class:`RunSpan`: the requests holding each run of a group's list are
    counted from the spans' bounds, and a span's gaps summed as a difference of running sums.
    """

    def __init__(self, requests: Iterable[Request]) -> None:
        held, spans = _sharing(requests)
        #: Sum of each run's gaps that a request holds as itself, by the run's id.
        self.run_sums: dict[int, float] = {}
        #: Running sums of each group list's run sums, by the list's id (a span's sum: two of them subtracted).
        self.list_sums: dict[int, list[float]] = {}
        values: list[float] = []
        weights: list[int] = []
        for key, (runs, changes) in spans.items():
            sums = list(map(sum, runs))
            self.list_sums[key] = list(itertools.accumulate(sums, initial=0.0))
            for run, run_sum, holders in zip(runs, sums, itertools.accumulate(changes), strict=False):
                also = held.pop(id(run), None)  # (a loose sequence's step shared with the members)
                if also is not None:
                    holders += also[1]
                    self.run_sums[id(run)] = run_sum
                if holders:
                    values += run
                    weights += [holders] * len(run)
        for key, (run, holders) in held.items():
            self.run_sums[key] = sum(run)
            values += run
            weights += [holders] * len(run)
        # Ranked by value; equal values may come in any order (the value at a rank is the same).
        ranks = sorted(range(len(values)), key=values.__getitem__)
        self.values = list(map(values.__getitem__, ranks))
        weights = list(map(weights.__getitem__, ranks))
        self.up_to = list(itertools.accumulate(weights))  # gaps up to each value
        self.total_s = sum(map(operator.mul, self.values, weights))

    def __len__(self) -> int:
        return self.up_to[-1] if self.up_to else 0

    def mean_s(self) -> float:
        """The mean gap (nan for none; summed by value, so it may differ from a sum in the
        requests' order in the last digits)."""
        return self.total_s / len(self) if self.up_to else float("nan")

    def percentile_s(self, q: float) -> float:
        """The q-th percentile (0-100), as :func:`percentile` of the whole list gives it."""
        return _interpolated(lambda rank: self.values[bisect.bisect_right(self.up_to, rank)], len(self), q)

    def distribution_ms(self) -> dict[str, float]:
        """:func:`distribution_ms` of the gaps."""
        return _in_ms(self.mean_s(), self.percentile_s)

    def request_mean_s(self, request: Request) -> float:
        """:meth:`Request.mean_gap_s` of one of the requests, from the runs' sums (it may differ in
        the last digits)."""
        count = request.decoded - 1 if not request.preemptions and request.decoded else sum(map(len, request.gap_runs))
        if not count:
            return 0.0
        total, run_sums, list_sums = 0.0, self.run_sums, self.list_sums
        for held in request.gap_runs:
            if type(held) is RunSpan:
                sums = list_sums[id(held.runs)]
                total += sums[held.stop] - sums[held.start]
            else:
                total += run_sums[id(held)]
        return total / count


def _sharing(
    requests: Iterable[Request],
) -> tuple[dict[int, list[Any]], dict[int, tuple[list[GapRun], list[int]]]]:
    """How many of ``requests`` hold each run as itself ([run, holders] by the run's id), and for
    each group list their spans cover (by the list's id), the list and the change in holders at
    each of its indices (a span adds one from its start and takes it off at its stop)."""
    held: dict[int, list[Any]] = {}
    spans: dict[int, tuple[list[GapRun], list[int]]] = {}
    for run, holders in _held(requests):
        if type(run) is RunSpan:
            entry = spans.get(id(run.runs))
            if entry is None:
                entry = spans[id(run.runs)] = (run.runs, [0] * (len(run.runs) + 1))
            entry[1][run.start] += holders
            entry[1][run.stop] -= holders
        else:
            held[id(run)] = [run, holders]
    return held, spans


def _held(requests: Iterable[Request]) -> Iterable[tuple[list[float] | RunSpan, int]]:
    """Each distinct run or span that ``requests`` hold, and how many of them hold it."""
    requests = list(requests)
    try:  # the simulator's runs and spans, hashed by identity
        return Counter(itertools.chain.from_iterable(map(operator.attrgetter("gap_runs"), requests))).items()
    except TypeError:  # plain lists, built by hand: counted by id
        runs = list(itertools.chain.from_iterable(map(operator.attrgetter("gap_runs"), requests)))
        keys = list(map(id, runs))
        return zip(dict(zip(keys, runs, strict=True)).values(), Counter(keys).values(), strict=True)


def summarise(result: SimResult, targets: Targets) -> dict[str, Any]:
    """Percentiles, goodput, throughput, KV use, batch size, preemptions and a Little's-law check."""
    measured = result.measured()
    window = max(result.duration_s - result.warmup_s, 1e-9)
    frontend = result.frontend_s
    ttft = [(r.first_token_s or 0) - r.arrival_s + frontend for r in measured]
    in_engine = [(r.finish_s or 0) - r.arrival_s for r in measured]
    e2e = [t + frontend for t in in_engine]
    out_tokens = sum(r.osl for r in measured)
    series = _series_in_window(result)
    use = _replica_use(result, list(itertools.chain.from_iterable(series)))
    arrivals = [r for r in result.requests + result.dropped + result.unfinished if r.arrival_s >= result.warmup_s]
    rate = len([r for r in arrivals if r.arrival_s <= result.duration_s]) / window
    mean_e2e = sum(in_engine) / len(in_engine) if in_engine else 0.0  # in the engine, like the requests counted in it
    in_system = _mean_in_system(measured, result.warmup_s, result.duration_s)
    token_gaps = TokenGaps(measured)
    tpot = list(map(token_gaps.request_mean_s, measured))
    good = [r for r, mean_gap_s in zip(measured, tpot, strict=True) if targets.met(r, mean_gap_s, frontend)]

    return {
        "requests": len(measured),
        "dropped": len(result.dropped),
        "unfinished": len(result.unfinished),
        "ttft_ms": distribution_ms(ttft),
        "itl_ms": token_gaps.distribution_ms(),
        "tpot_ms": distribution_ms([gap for r, gap in zip(measured, tpot, strict=True) if r.gap_runs]),
        "e2e_ms": distribution_ms(e2e),
        "goodput_share": len(good) / len(measured) if measured else 0.0,
        "goodput_req_s": len(good) / window,
        "throughput_req_s": len(measured) / window,
        "output_tok_s": out_tokens / window,
        "kv_utilisation": use["kv_utilisation"],
        "batch": use["batch"],
        "over_time": _over_time(series, result.warmup_s, result.duration_s),
        "preemptions": use["preemptions"],
        "stopped_early": result.stopped_early,
        "littles_law": {"arrival_rate": rate, "mean_e2e_s": mean_e2e, "mean_in_system": in_system},
    }


def replica_use(result: SimResult) -> dict[str, Any]:
    """KV use and running batch (mean and max over the window's steps after the warm-up) and
    preemptions of the run's replicas: the part of :func:`summarise` that needs no request's
    percentiles."""
    return _replica_use(result, list(itertools.chain.from_iterable(_series_in_window(result))))


#: One step's record on a replica: (end time, running sequences, KV used share).
Sample = tuple[float, int, float]
_TIME = operator.itemgetter(0)


def _replica_use(result: SimResult, samples: list[Sample]) -> dict[str, Any]:
    """:func:`replica_use` of ``result``, its samples after the warm-up given."""
    count, batch, used = len(samples), operator.itemgetter(1), operator.itemgetter(2)
    return {
        "kv_utilisation": {
            "mean": sum(map(used, samples)) / count if count else 0.0,
            "max": max(map(used, samples), default=0.0),
        },
        "batch": {
            "mean": sum(map(batch, samples)) / count if count else 0.0,
            "max": max(map(batch, samples), default=0),
        },
        "preemptions": sum(r.preemptions for r in result.replicas),
    }


def _series_in_window(result: SimResult) -> list[list[Sample]]:
    """Each replica's samples from the end of the warm-up to the end of the window (the steps
    after it carry the load that keeps the window's last requests company), in their order."""
    return [_samples_within(replica.samples, result.warmup_s, result.duration_s) for replica in result.replicas]


def _samples_within(samples: list[Sample], start_s: float, end_s: float) -> list[Sample]:
    """The samples from ``start_s`` to ``end_s``, in their order (a slice where they are in time
    order, as a replica records them)."""
    if _in_time_order(samples):
        return samples[bisect.bisect_left(samples, start_s, key=_TIME) : bisect.bisect_right(samples, end_s, key=_TIME)]
    return [s for s in samples if start_s <= s[0] <= end_s]


def _in_time_order(samples: list[Sample]) -> bool:
    times = list(map(_TIME, samples))
    return all(map(operator.le, times, itertools.islice(times, 1, None)))


def _over_time(series: list[list[Sample]], start: float, end: float, points: int = 30) -> list[dict[str, float]]:
    """Running batch (summed over replicas) and KV use, averaged over ``points`` equal windows.

    :param series: each replica's samples.
    """
    width = max(end - start, 1e-9) / points
    buckets: list[list[Sample]] = [[] for _ in range(points)]
    for samples in series:
        for index, part in _windows(samples, start, width, points):
            buckets[index] += part
    out = []
    for i, bucket in enumerate(buckets):
        if bucket:
            out.append(
                {
                    "t_s": round(start + (i + 0.5) * width, 3),
                    "batch": sum(map(operator.itemgetter(1), bucket)) / len(bucket),
                    "kv_utilisation": sum(map(operator.itemgetter(2), bucket)) / len(bucket),
                }
            )
    return out


def _windows(samples: list[Sample], start: float, width: float, points: int) -> Iterator[tuple[int, list[Sample]]]:
    """The samples that fall in each of ``points`` windows of ``width`` seconds from ``start``, in
    their order (slices found by bisection where the samples are in time order)."""

    def window(sample: Sample) -> int:
        return int((sample[0] - start) / width)

    if not _in_time_order(samples):
        for sample in samples:
            index = window(sample)
            if 0 <= index < points:
                yield index, [sample]
        return
    bounds = [bisect.bisect_left(samples, i, key=window) for i in range(points + 1)]
    for i in range(points):
        if bounds[i] < bounds[i + 1]:
            yield i, samples[bounds[i] : bounds[i + 1]]


def meets(summary: dict[str, Any], targets: Targets) -> bool:
    """True when the run's percentiles meet every target and nothing was dropped."""
    return not slo_misses(summary, targets)


def slo_misses(summary: dict[str, Any], targets: Targets) -> list[str]:
    """What keeps the run from meeting the SLOs, in words ('TPOT p95 25.6 > 25 ms', '3 dropped'): each
    target at its percentile as :func:`slo_figure_ms` reads it (an ITL target names the reading that
    misses, the gaps or the requests' TPOT); empty when the run meets them all."""
    q = f"p{int(targets.percentile)}" if int(targets.percentile) in PERCENTILES else "p95"
    if summary["requests"] == 0:
        return ["no request finished"]
    out = [f"{summary['dropped']:,} dropped"] if summary["dropped"] else []
    checks = ((targets.ttft_s, "ttft_ms", "TTFT"), (targets.itl_s, "itl_ms", "ITL"), (targets.e2e_s, "e2e_ms", "E2E"))
    for target, name, label in checks:
        if target is None or (value := slo_figure_ms(summary, name, q)) <= target * 1000:
            continue
        if name == "itl_ms" and value > float(summary[name][q]):
            label = "TPOT"  # the requests' mean gap misses where the gaps themselves hold
        out.append(f"{label} {q} {value:,.1f} > {target * 1000:,.0f} ms")
    return out


def slo_figure_ms(summary: dict[str, Any], name: str, q: str) -> float:
    """The figure a target is judged on: the summary's ``name`` ("ttft_ms", "itl_ms", "e2e_ms") at
    percentile ``q`` ("p95"), except ITL, judged on the worse of two readings of one target.

    An ITL target holds for the token gaps (the percentile of every gap, what vLLM's and
    genai-perf's ITL report) and for the requests (the percentile of each request's mean gap, its
    TPOT, what goodput and AIConfigurator's TPOT judge). Where prompt chunks stall every decoding
    sequence in a few long steps, a run can keep 95% of its gaps within the target while most of
    its requests average above it; judged on the gaps alone it would be said to meet the SLOs with
    a goodput of a few percent.
    """
    value = float(summary[name][q])
    if name == "itl_ms" and "tpot_ms" in summary and summary["tpot_ms"][q] == summary["tpot_ms"][q]:  # not nan
        return max(value, float(summary["tpot_ms"][q]))
    return value


def _mean_in_system(requests: Sequence[Request], start: float, end: float) -> float:
    """Time-average number of measured requests in the system over [start, end]."""
    total = 0.0
    for r in requests:
        arrive, leave = max(r.arrival_s, start), min(r.finish_s or end, end)
        total += max(leave - arrive, 0.0)
    return total / max(end - start, 1e-9)
