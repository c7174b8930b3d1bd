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

import math
from dataclasses import dataclass

from planner.perfmodel import PerformanceModel
from planner.sizing.capacity import knob
from planner.sizing.deployment import Deployment

#: Above this share of long (prefill-carrying) steps, the 95th-percentile gap is a long step.
P95_SHARE = 0.05


@dataclass(frozen=True)
class Timing:
    """Latency and throughput of a replica running ``batch`` requests of isl/osl tokens.

    ``itl_s`` is the mean gap between a request's tokens over the steps of a cycle,
    ``itl_p95_s`` its 95th percentile (a prefill-carrying step once more than 5% of
    steps carry one); ``decode_step_s`` and ``prefill_step_s`` are the two kinds of step.
    """

    batch: float
    ttft_s: float
    itl_s: float
    itl_p95_s: float
    e2e_s: float
    prefill_s: float
    decode_step_s: float
    prefill_step_s: float
    prefill_step_share: float
    token_budget: int
    cycle_s: float
    output_tok_s: float
    total_tok_s: float


def token_budget(dep: Deployment) -> int:
    """Tokens one scheduler step of a replica may carry (decodes plus prompt chunks).

    The runtime's knob (plan value, else the runtime's default for that GPU class);
    with attention data parallelism every rank schedules its own budget.
    """
    ranks = dep.ep if dep.attention_dp else 1
    return max(int(knob(dep, "batched_tokens")), 1) * ranks


@dataclass(frozen=True)
class StepMix:
    """The steps of one steady-state cycle, in which each of ``batch`` slots serves one request.

    A request spends ``chunks`` steps in prefill (the last yields its first token) and
    ``osl - 1`` decoding, so a cycle has ``steps`` = chunks + osl - 1 steps, or more when
    the whole batch's prompts need more steps of the budget than that (prefill-bound).
    ``prefill_steps`` of them carry ``chunk_tokens`` prompt tokens; ``decoding`` sequences
    decode in each.
    """

    steps: float
    prefill_steps: float
    chunks: int
    chunk_tokens: float
    decoding: float

    @property
    def prefill_share(self) -> float:
        """Share of steps that carry a prompt chunk."""
        return self.prefill_steps / self.steps


def step_mix(batch: float, isl: int, osl: int, budget: int) -> StepMix:
    """How the runtime's token budget splits a cycle into decode-only and prefill-carrying steps."""
    room = max(budget - batch, 1.0)  # decodes are scheduled first, prompt chunks fill the rest
    chunks = math.ceil(isl / room)
    steps = max(max(osl - 1, 0) + chunks, batch * isl / room)
    prefill_steps = min(batch * chunks, steps)
    return StepMix(
        steps=steps,
        prefill_steps=prefill_steps,
        chunks=chunks,
        chunk_tokens=batch * isl / prefill_steps,
        decoding=batch * max(osl - 1, 0) / steps,
    )


def steady_state(dep: Deployment, batch: float, isl: int, osl: int, model: PerformanceModel) -> Timing:
    """Continuous batching at a constant ``batch`` of running requests, timed by ``model``.

    Every figure comes from two phase times of ``model``: the decode step at the running
    batch and the prefill of the batch's prompts (composite models combine these, never
    finished figures). A prefill-carrying step is a decode step plus the prefill of the
    prompt tokens it carries, so a cycle (see :func:`step_mix`) is
    steps x decode step + prefill of the batch; output = batch x osl / cycle; mean ITL =
    cycle / steps, so output x ITL = batch x osl / steps (= batch when a prompt takes one
    step). TTFT: a new request waits for the step in flight (the mean residual,
    E[S^2] / 2E[S], when others run), then its ``chunks`` steps, each carrying its chunk,
    the other requests' mean prompt tokens a step and their decodes. E2E = TTFT +
    (osl - 1) x ITL.
    """
    budget = token_budget(dep)
    mix = step_mix(batch, isl, osl, budget)
    context = isl + max(osl, 1) // 2
    decode = model.decode_step_s(dep, max(mix.decoding, 1.0), context)
    prefill_all = model.prefill_s(dep, batch, isl)
    prompt_token_s = prefill_all / (batch * isl)  # prefill time per prompt token at this batch
    long = decode + mix.chunk_tokens * prompt_token_s
    cycle = mix.steps * decode + prefill_all
    itl = cycle / mix.steps
    share = mix.prefill_share
    own = _own_prefill_s(
        batch, isl, mix, budget, model.decode_step_s(dep, max(batch - 1, 1.0), context), prompt_token_s
    )
    ttft = _wait_for_step_s(batch, share, decode, long) + own
    output = batch * osl / cycle
    return Timing(
        batch=batch,
        ttft_s=ttft,
        itl_s=itl,
        itl_p95_s=long if share > P95_SHARE else max(decode, itl),
        e2e_s=ttft + max(osl - 1, 0) * itl,
        prefill_s=prefill_all,
        decode_step_s=decode,
        prefill_step_s=long,
        prefill_step_share=share,
        token_budget=budget,
        cycle_s=cycle,
        output_tok_s=output,
        total_tok_s=output * (isl + osl) / max(osl, 1),
    )


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
    batch: float, isl: int, mix: StepMix, budget: int, others_decode_s: float, prompt_token_s: float
) -> float:
    """A new request's prefill: its chunks, each in a step shared with the others' decodes and
    their mean prompt tokens a step (earlier prompts go first, so they shrink its room)."""
    others = max(batch - 1, 0.0)
    others_prompt = others * isl / mix.steps
    room = max(budget - others - others_prompt, (budget - others) / max(batch, 1.0), 1.0)
    chunks = math.ceil(isl / room)
    decode = others_decode_s if others else 0.0
    return chunks * decode + (isl + chunks * others_prompt) * prompt_token_s
