"""What one prefill or decode pool layout can do: the floors that prune layouts before any
simulation, and the pooled Cr_closed that prices disaggregated pools.

Disaggregated pools choose their parallelism apart (:func:`planner.decision.size_pools`): a
prefill pool is compute-bound, so a narrow TP wastes less on communication while a wide one
shortens each prompt; a decode pool is bandwidth- and memory-bound, so its layout is the one
whose batch under the ITL target yields the most tokens per GPU. Simulating every layout's
replica search would cost seconds each, so each layout first gets a floor: the fewest GPUs it
could need with every replica busy all the time. A layout whose floor (scaled by how far the best
pool found so far needed more than its own floor) is no lower than that pool's GPUs is never simulated.

The pooled Cr_closed is the analogue of an aggregated replica's Cr_closed: one replica of each
pool in closed loop, with the most requests in flight that still meet its targets (TTFT for
prefill; ITL and what E2E leaves after the first token for decode). The pools carry the smaller
of their two capacities, and EUR per token is priced there, the same way as aggregated candidates.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from planner.disaggregation import kv_transfer_s
from planner.envelope import largest_that_holds
from planner.perfmodel import PerformanceModel
from planner.plan import Plan
from planner.plan_simulation import RunLength, context_of, make_replicas, targets_of, until_steady, workload_of
from planner.simulate import Targets, Workload, percentile, run, summarise
from planner.sizing.capacity import size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.steady_state import token_budget

#: Requests drawn to measure the mean request shape the floors use (fixed seed: the same floors every time).
SHAPE_SAMPLES = 2000

Pool = tuple[Deployment, PerformanceModel]


@dataclass(frozen=True)
class RequestShape:
    """The plan's request lengths as the floors see them: means, and the prompt at the SLO's tail."""

    mean_input_tokens: float
    mean_output_tokens: float
    p95_input_tokens: int
    #: Prompt tokens a request skips on average (its shared prefix cached, where the engine caches it).
    mean_cached_tokens: float = 0.0


def request_shape(plan: Plan, dep: Deployment) -> RequestShape:
    """The mean input and output lengths and the p95 prompt of the plan's workload (as the simulator draws them)."""
    workload = workload_of(plan, dep)
    rng = random.Random(0)
    pairs = [workload.lengths(rng) for _ in range(SHAPE_SAMPLES)]
    inputs = sorted(isl for isl, _ in pairs)
    # a hit skips the shared prefix, or all of a shorter prompt but its last token (as the simulator has it)
    cached = [min(workload.shared_prefix_tokens, isl - 1) for isl in inputs]
    return RequestShape(
        mean_input_tokens=sum(inputs) / len(inputs),
        mean_output_tokens=sum(osl for _, osl in pairs) / len(pairs),
        p95_input_tokens=int(percentile(inputs, 95, ordered=True)),
        mean_cached_tokens=workload.prefix_hit_rate * sum(cached) / len(cached),
    )


def fits(dep: Deployment, plan: Plan) -> bool:
    """True when one replica of ``dep`` holds the weights and at least one request at the p95 context."""
    return size_capacity(dep, context_of(plan)).max_concurrency > 0


def prefill_busy_s(pool: Pool, shape: RequestShape) -> float:
    """Seconds a prefill replica spends on one mean prompt's computed tokens (its cached prefix
    skipped), prompts packed into full token budgets."""
    dep, model = pool
    isl = max(int(shape.mean_input_tokens - shape.mean_cached_tokens), 1)
    per_step = max(token_budget(dep) // isl, 1)
    return model.prefill_s(dep, per_step, isl) / per_step


def prefill_floor_gpus(pool: Pool, shape: RequestShape, rate_req_s: float, ttft_s: float | None) -> int | None:
    """The fewest GPUs a prefill pool of this layout could need at ``rate_req_s`` (every replica busy
    all the time); None when the p95 prompt alone misses TTFT."""
    dep, model = pool
    if ttft_s is not None and model.prefill_s(dep, 1, shape.p95_input_tokens) > ttft_s:
        return None
    return (math.floor(rate_req_s * prefill_busy_s(pool, shape)) + 1) * dep.gpus


def decode_batch_ceiling(pool: Pool, shape: RequestShape, itl_s: float | None) -> tuple[int, float]:
    """The largest batch one decode replica of this layout runs with its step within ITL (and its KV
    holding that many at the mean context), and the output tokens/s it then makes; (0, 0) when none."""
    dep, model = pool
    context = int(shape.mean_input_tokens + shape.mean_output_tokens / 2)
    most = size_capacity(dep, int(shape.mean_input_tokens + shape.mean_output_tokens)).max_concurrency
    if most < 1:
        return 0, 0.0

    def meets_itl(batch: float) -> bool:
        return itl_s is None or model.decode_step_s(dep, batch, context) <= itl_s

    batch = int(largest_that_holds(meets_itl, most, integer=True, floor=1, limit=most))
    return (batch, batch / model.decode_step_s(dep, batch, context)) if batch else (0, 0.0)


def handoff_s(prefill: Deployment, decode: Pool, shape: RequestShape, transport: str, itl_s: float | None) -> float:
    """What a client's first token still waits for once the prefill pool is done with its prompt: the
    p95 prompt's KV crossing ``transport`` to a replica of ``decode``, and one step of that replica
    at its batch ceiling (it takes the handed-over prompt into its next step). The prefill pool is
    sized to leave this much of the TTFT target."""
    batch, tok_s = decode_batch_ceiling(decode, shape, itl_s)
    step_s = batch / tok_s if batch else 0.0
    return kv_transfer_s(prefill, decode[0], shape.p95_input_tokens, transport) + step_s


def decode_floor_gpus(
    pool: Pool, shape: RequestShape, rate_req_s: float, itl_s: float | None, plan: Plan
) -> int | None:
    """The fewest GPUs a decode pool of this layout could need at ``rate_req_s`` (every replica at
    :func:`decode_batch_ceiling`); None when even one sequence misses ITL or none fits."""
    batch, tok_s = decode_batch_ceiling(pool, shape, itl_s)
    if not batch or not fits(pool[0], plan):
        return None
    return (math.floor(rate_req_s * shape.mean_output_tokens / tok_s) + 1) * pool[0].gpus


@dataclass(frozen=True)
class PoolCapacity:
    """One replica of a pool in closed loop: the most requests in flight that meet its targets
    (Cr_closed) and the requests and output tokens it completes per second there."""

    cr_closed: int
    req_s: float
    output_tok_s: float
    #: Requests of the plan's context its KV cache holds: the most its Cr_closed can reach.
    memory_holds: int = 0

    @property
    def memory_binds(self) -> bool:
        """True when the replica runs all its KV cache holds (memory, not the SLOs, sets Cr_closed)."""
        return 0 < self.memory_holds <= self.cr_closed


def prefill_capacity(
    plan: Plan, pool: Pool, length: RunLength, seed: int, *, start: int, handoff_wait_s: float = 0.0
) -> PoolCapacity:
    """Cr_closed of one prefill replica, searched from ``start``: prompts only, each done at its first
    token, within the TTFT target less ``handoff_wait_s`` (what the client's first token then waits
    for to reach it from the decode pool, :func:`handoff_s`), at the SLO's percentile."""
    targets = targets_of(plan)
    ttft_s = None if targets.ttft_s is None else max(targets.ttft_s - handoff_wait_s, 1e-6)
    prompts_only = Targets(ttft_s, None, None, targets.percentile)
    base = workload_of(plan, pool[0])
    draw = base.lengths
    # (the prefill engines cache the shared prefix as an aggregated replica does)
    workload = Workload(lambda rng: (draw(rng)[0], 1), base.shared_prefix_tokens, base.prefix_hit_rate)
    return _closed_capacity(plan, pool, workload, prompts_only, length, seed, start)


def decode_capacity(
    plan: Plan, pool: Pool, length: RunLength, seed: int, *, start: int, first_token_s: float
) -> PoolCapacity:
    """Cr_closed of one decode replica, searched from ``start``: prompts arrive with their KV (cached), ITL at the SLO's
    percentile, and E2E within what the target leaves after ``first_token_s`` (the client's TTFT at
    that percentile: the prefill pool's, the KV's transfer and the wait for a decode slot)."""
    targets = targets_of(plan)
    e2e_s = None if targets.e2e_s is None else max(targets.e2e_s - first_token_s, 0.0)
    generation = Targets(None, targets.itl_s, e2e_s, targets.percentile)
    # (a decode replica makes each request's output tokens, the first included: disaggregation.decode_stage)
    base = workload_of(plan, pool[0])
    workload = Workload(lengths=base.lengths, kv_handed_over=True)
    return _closed_capacity(plan, pool, workload, generation, length, seed, start)


def _closed_capacity(
    plan: Plan, pool: Pool, workload: Workload, targets: Targets, length: RunLength, seed: int, start: int
) -> PoolCapacity:
    """The largest closed-loop concurrency one replica of ``pool`` serves within ``targets``, and its
    throughput there."""
    from planner.decision import worst_ratio  # the decision imports this module

    dep, model = pool
    context = context_of(plan)
    at: dict[int, dict[str, Any]] = {}

    def holds(users: float) -> bool:
        n = int(users)

        def simulate_for(seconds: float) -> dict[str, Any]:
            result = run(make_replicas(dep, model, 1, context), workload, duration_s=seconds, users=n, seed=seed)
            return summarise(result, targets)

        at[n] = until_steady(simulate_for, length.in_flight(n), n, length.stretch_to_s)
        return worst_ratio(at[n], targets) <= 1

    held = size_capacity(dep, context).max_concurrency
    most = max(held, 1)
    cr = int(largest_that_holds(holds, min(max(start, 1), most), integer=True, floor=1, limit=most))
    if cr < 1:
        return PoolCapacity(0, 0.0, 0.0, held)
    return PoolCapacity(cr, float(at[cr]["throughput_req_s"]), float(at[cr]["output_tok_s"]), held)
