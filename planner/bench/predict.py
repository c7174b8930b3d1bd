"""Replaying a published measurement through the sizing physics: what the model predicts
for the figures it reports.

Each measurement mode (static batch, open loop at a rate, closed loop, prefill-only or
decode-only runs) has its predictor; the accuracy script and the calibration fit call
:func:`predict_measurement`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from planner.bench.calibration import Measurement, harness_setting
from planner.catalog import Catalog
from planner.perfmodel import PerformanceModel
from planner.performance_models import AnalyticModel
from planner.sizing.capacity import knob, size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Efficiency
from planner.sizing.estimate import closed_loop
from planner.sizing.steady_state import Timing, steady_state


def deployment_for(m: Measurement, catalog: Catalog) -> Deployment:
    """The deployment a published measurement ran (one replica of it): its running-batch limit as
    published, else the engine's default, which the engine profiled its memory for (left open, a
    deployment gets the limit ``planner deploy`` would write, see
    :func:`~planner.sizing.capacity.deployed_sequence_limit`)."""
    runtime = catalog.runtimes.get(m.runtime_id)
    dep = Deployment(
        model=catalog.models.get(m.model_id),
        gpu=catalog.gpus.get(m.gpu_id),
        runtime=runtime,
        weights_dtype=m.weights_dtype,
        kv_dtype=m.kv_dtype,
        tp=m.tp,
        pp=m.pp,
        ep=m.ep,
        attention_dp=m.attention_dp,
    )
    limit = m.max_batch or int(knob(dep, "max_sequences"))
    return replace(dep, knobs={runtime.knob_roles.get("max_sequences", "max_num_seqs"): limit})


def _solve_rate(dep: Deployment, rate: float, isl: int, osl: int, cap: int, model: PerformanceModel) -> Timing:
    """Open loop at ``rate`` requests/s: the running batch B with B = rate x E2E(B) (Little's law).

    The excess rate x E2E(B) - B (clamped to [1, cap]) falls as B grows, so its root is
    bracketed by 1 and ``cap``; regula falsi with the Illinois rule finds it to 1% in a few
    steady states (a damped fixed-point iteration took about 20).
    """

    def excess(batch: float) -> tuple[float, Timing]:
        timing = steady_state(dep, batch, isl, osl, model)
        return min(max(rate * timing.engine_e2e_s, 1.0), float(cap)) - batch, timing

    low, high = 1.0, float(max(cap, 1))
    f_low, timing = excess(low)
    if f_low <= 0.01 * low or high <= low:  # one request at a time keeps up
        return timing
    f_high, timing_high = excess(high)
    if f_high >= -0.01 * high:  # saturated: the whole batch runs
        return timing_high
    side = 0
    for _ in range(60):
        batch = high - f_high * (high - low) / (f_high - f_low)
        f_batch, timing = excess(batch)
        if abs(f_batch) < 0.01 * batch:
            break
        if f_batch > 0:
            low, f_low = batch, f_batch
            if side == 1:
                f_high /= 2
            side = 1
        else:
            high, f_high = batch, f_batch
            if side == -1:
                f_low /= 2
            side = -1
    return timing


def _prefill_latency(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    return {"ttft_ms": model.prefill_s(dep, 1, m.isl) * 1000}


def _prefill_throughput(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    """A prefill-only node packs whole prompts into steps of the harness's token budget on every GPU."""
    prompts = max(harness_setting("sglang_prefill_tokens_per_gpu") // m.isl, 1) * dep.ep
    return {"total_tok_s": prompts * m.isl / model.prefill_s(dep, prompts, m.isl) * m.replicas}


def _decode_throughput(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    return {"output_tok_s": cap / model.decode_step_s(dep, cap, m.isl) * m.replicas}


def _static_batch(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    """One batch prefilled together, then decoded to the end (no new arrivals)."""
    batch = min(m.batch or 1, cap)
    prefill = model.prefill_s(dep, batch, m.isl)
    step = model.decode_step_s(dep, batch, m.isl + m.osl // 2)
    e2e = prefill + (m.osl - 1) * step
    return {
        "output_tok_s": batch * m.osl / e2e * m.replicas,
        "total_tok_s": batch * (m.isl + m.osl) / e2e * m.replicas,
        "ttft_ms": prefill * 1000,
        # latency tables report e2e / output tokens as their per-token figure
        "itl_ms": e2e / m.osl * 1000 if m.source_type == "vendor_doc_latency" else step * 1000,
        "itl_p50_ms": step * 1000,
        "e2e_ms": e2e * 1000,
    }


def _open_loop(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    """Requests arriving at a rate: the system delivers the offered load unless it saturates
    (then its TTFT is the queue's, which depends on how long the run lasted: not predicted)."""
    if not m.rate_per_s:
        return _closed_loop(m, dep, cap, model)
    rate = m.rate_per_s / m.replicas
    timing = _solve_rate(dep, rate, m.isl, m.osl, cap, model)
    out = min(m.rate_per_s * m.osl, timing.output_tok_s * m.replicas)
    result = {
        "output_tok_s": out,
        "total_tok_s": out * (m.isl + m.osl) / m.osl,
        "ttft_ms": _ttft_s(m, timing) * 1000,
        "itl_ms": timing.itl_s * 1000,
        "itl_p50_ms": timing.itl_median_s * 1000,
    }
    if fell_behind(m):
        for metric in ("ttft_ms", "itl_ms", "itl_p50_ms"):
            del result[metric]
    elif past_capacity(rate, timing, cap):
        result[PAST_CAPACITY] = 1.0
    return result


#: The key :func:`predict_measurement` adds (not a figure) where the model puts an open loop past the
#: replica's capacity (:func:`past_capacity`): the replay compares its figures, the error bands leave
#: its latencies out.
PAST_CAPACITY = "past_capacity"


def past_capacity(rate: float, timing: Timing, cap: int) -> bool:
    """Whether the model puts an open loop at ``rate`` requests/s a replica past what the replica
    holds: even its full batch (``cap`` sequences, :func:`_solve_rate`'s saturated end) would need
    more in flight than it holds (Little's law), so the queue it predicts grows with the run's
    length and its TTFT and ITL (a batch pinned at the cap) are those of a regime a plan never
    runs in: a plan's operating point lies within the replica's capacity by construction. Such
    figures stay in the accuracy tables (the capacity error behind them is the model's), but the
    error bands, which are read around an operating point, leave their latencies out
    (:func:`~planner.bench.fit.band_evidence`). 17 MLPerf Server runs are such (the model says
    0.49-1.0 of the output they delivered); their TTFT was predicted up to 167 times the measured
    (Llama-3.1-8B on an H200: 28.5 s against 171 ms) and their ITL up to 28 times (Llama-2-70B on
    an MI325X: 989 ms against 35 ms), which set the 10% end of the bands of every class they touch
    (vLLM's MoE class read 0.006 on TTFT: a band of 2-507 ms around 306 ms)."""
    return timing.batch >= cap and rate * timing.engine_e2e_s > cap * 1.01


def _ttft_s(m: Measurement, timing: Timing) -> float:
    """The TTFT the row's figure is compared with: the model's median where the source's figure is
    its median (see ``FIGURE_COLUMNS``), else its mean."""
    return timing.ttft_at_percentile_s(50) if m.ttft_median_ms is not None else timing.ttft_s


def fell_behind(m: Measurement) -> bool:
    """Whether an open-loop run delivered less than ``KEPT_UP_SHARE`` of the output offered: its
    arrivals queued without bound, so its TTFT grew with the run's length, which the row does not
    give, and no model of the deployment can predict it. So did its running batch, unless the
    engine's limits stopped it, and with the batch its ITL (SGLang v0.4.1's DeepSeek-V3 at 1-8
    requests/s: median ITL 102-515 ms while the output rose only from 773 to 2,864 tok/s), so
    neither is compared. Judged on the measurement, not on the model's own capacity, so a model
    that underrates the capacity still meets its error."""
    delivered = m.measured.get("output_tok_s")
    return bool(m.rate_per_s and delivered and delivered < KEPT_UP_SHARE * m.rate_per_s * m.osl)


#: A finite open-loop run of a few hundred requests delivers 83-95% of the offered output through
#: its ramp-up and drain while keeping up (TensorRT-LLM's online table, 500 requests); below 80%
#: its queue grew through the run (the same table at 32 requests/s: 50%, TTFT 1.2 s).
KEPT_UP_SHARE = 0.8


def _closed_loop(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    """A fixed number in flight (or the largest batch, offline), shared evenly by the replicas
    (the row's concurrency counts the clients of the whole system).

    Each client's request spends the front end's latency outside the engine on every loop, and
    clients beyond what a replica holds wait in its queue (:func:`closed_loop`, as ``planner
    estimate`` runs them); closed-loop benchmarks at a concurrency above the KV capacity report that
    wait in TTFT.
    """
    in_flight = m.requests or m.batch
    clients = in_flight / m.replicas if in_flight else float(cap)
    if m.requests or not in_flight:  # sent at once, or offline (its queue never empty): no loop
        timing, queued_s = steady_state(dep, min(clients, cap), m.isl, m.osl, model), 0.0
    else:
        timing, queued_s = closed_loop(dep, clients, cap, m.isl, m.osl, model)
    result = {
        "output_tok_s": timing.output_tok_s * m.replicas,
        "total_tok_s": timing.total_tok_s * m.replicas,
        "itl_ms": timing.itl_s * 1000,
        "itl_p50_ms": timing.itl_median_s * 1000,
        "ttft_ms": (_ttft_s(m, timing) + queued_s) * 1000,
    }
    if m.requests:  # all requests at once: the average one waits for half the prefills
        result["ttft_ms"] = model.prefill_s(dep, timing.batch, m.isl) / 2 * 1000
    return result


@lru_cache(maxsize=4096)
def _concurrency_cap(dep: Deployment, context: int) -> int:
    """The sequences of ``context`` tokens one replica holds (memory does not depend on the
    timing factors, so a fit asks for the same few hundred again and again)."""
    return size_capacity(dep, context).max_concurrency


_PREDICTORS = {
    "prefill_latency": _prefill_latency,
    "prefill_throughput": _prefill_throughput,
    "decode_throughput": _decode_throughput,
    "static": _static_batch,
    "rate": _open_loop,
}


def predict_measurement(m: Measurement, catalog: Catalog, timing: Efficiency | PerformanceModel) -> dict[str, float]:
    """Predict the figures a measurement reports, for the whole system it ran.

    :param timing: the built-in model's factors, or any performance model (which must
        cover the configuration: check ``coverage`` first).
    """
    dep = deployment_for(m, catalog)
    cap = _concurrency_cap(dep, m.isl + m.osl)
    if cap <= 0:
        return {}
    model = AnalyticModel(fixed=timing) if isinstance(timing, Efficiency) else timing
    predictor = _PREDICTORS.get(m.mode, _closed_loop)
    return predictor(m, dep, cap, model)
