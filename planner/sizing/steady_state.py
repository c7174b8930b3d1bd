"""Continuous batching in steady state: latency and throughput of a replica at a running batch.

The model that times the phases is always an argument. Composite models (``auto``, a
blend) are combined figure by figure (:func:`planner.performance_models.combined_figures`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.perfmodel import PerformanceModel
from planner.performance_models import combined_figures
from planner.sizing.capacity import knob
from planner.sizing.deployment import Deployment


@dataclass(frozen=True)
class Timing:
    """Latency and throughput of a replica running ``batch`` requests of isl/osl tokens."""

    batch: float
    ttft_s: float
    itl_s: float
    e2e_s: float
    prefill_s: float
    decode_step_s: float
    cycle_s: float
    output_tok_s: float
    total_tok_s: float


#: The metric group each figure of a :class:`Timing` belongs to (see ``auto``'s choices).
TIMING_GROUP = {
    "batch": "throughput",
    "ttft_s": "ttft",
    "prefill_s": "ttft",
    "itl_s": "itl",
    "decode_step_s": "itl",
    "e2e_s": "itl",
    "cycle_s": "throughput",
    "output_tok_s": "throughput",
    "total_tok_s": "throughput",
}


def steady_state(dep: Deployment, batch: float, isl: int, osl: int, model: PerformanceModel) -> Timing:
    """Continuous batching at a constant ``batch`` of running requests, timed by ``model``.

    In one cycle every running request decodes ``osl`` tokens and is prefilled once, so
    cycle = osl x decode step + prefill of ``batch`` prompts; ITL is the cycle spread
    over the ``osl`` tokens (prefills interleave with decode steps), TTFT the prefill of
    one prompt in chunks of the step token budget, each chunk sharing a step. E2E is
    TTFT plus ``osl - 1`` inter-token gaps, also when TTFT and ITL come from different
    models (``auto``).
    """
    figures = combined_figures(model, dep, lambda one: dict(vars(_timing(dep, batch, isl, osl, one))), TIMING_GROUP)
    figures["e2e_s"] = figures["ttft_s"] + max(osl - 1, 0) * figures["itl_s"]
    figures["batch"] = batch  # an input, not a figure to blend
    return Timing(**figures)


def _timing(dep: Deployment, batch: float, isl: int, osl: int, model: PerformanceModel) -> Timing:
    """The steady state timed by one plain (non-composite) model."""
    context = isl + max(osl, 1) // 2
    step = model.decode_step_s(dep, batch, context)
    prefill_all = model.prefill_s(dep, batch, isl)
    cycle = max(osl - 1, 0) * step + prefill_all
    itl = cycle / max(osl - 1, 1) if osl > 1 else step
    itl = max(itl, step)
    chunks = math.ceil(isl / max(int(knob(dep, "batched_tokens")), 1))
    # Alone, the prefill pass yields the first token. Under load a new request waits on
    # average half an iteration, then needs one iteration per prefill chunk, each
    # iteration as long as the running batch's (prefill-stretched) inter-token gap.
    own = model.prefill_s(dep, 1, isl)
    ttft = own + model.overhead_s(dep) if batch <= 1 else own + (chunks + 0.5) * itl
    e2e = ttft + max(osl - 1, 0) * itl
    output = batch * osl / (cycle + step)
    return Timing(
        batch=batch,
        ttft_s=ttft,
        itl_s=itl,
        e2e_s=e2e,
        prefill_s=prefill_all,
        decode_step_s=step,
        cycle_s=cycle + step,
        output_tok_s=output,
        total_tok_s=output * (isl + osl) / max(osl, 1),
    )
