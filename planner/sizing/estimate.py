"""One configuration answered: capacity and performance, with provenance and error bands.

``estimate`` is what ``planner estimate`` prints and what fleet sizing and search call;
``predict_measurement`` replays a published measurement through the same physics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planner.backends import config_class
from planner.bench.calibration import Measurement
from planner.catalog import Catalog
from planner.perfmodel import (
    BUILTIN,
    AnalyticModel,
    AutoModel,
    Blend,
    Corrected,
    Fallback,
    PerformanceModel,
    metric_models,
)
from planner.sizing.capacity import Capacity, size_capacity
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Band, Calibration, band_for, calibration_for
from planner.sizing.performance import Efficiency, Timing, steady_state

#: Metric name in an estimate or a measurement -> its group (the residual band it takes).
METRIC_GROUP = {
    "ttft_ms": "ttft",
    "itl_ms": "itl",
    "e2e_ms": "itl",
    "output_tok_s": "throughput",
    "total_tok_s": "throughput",
}


@dataclass(frozen=True)
class Estimate:
    """Capacity and performance of one replica for one workload."""

    deployment: Deployment
    isl: int
    osl: int
    capacity: Capacity
    timing: Timing | None
    requested_concurrency: int | None
    queue_s: float
    calibration: Calibration
    efficiency: Efficiency | None  # the built-in model's factors; None for other performance models
    bands: dict[str, tuple[float, float]] = field(default_factory=dict)
    band_sources: dict[str, str] = field(default_factory=dict)

    @property
    def ttft_ms(self) -> float:
        """Time to first token including queueing beyond the replica's capacity, ms."""
        return ((self.timing.ttft_s if self.timing else float("inf")) + self.queue_s) * 1000

    @property
    def itl_ms(self) -> float:
        """Inter-token latency at the running batch, ms."""
        return self.timing.itl_s * 1000 if self.timing else float("inf")

    @property
    def e2e_ms(self) -> float:
        """End-to-end latency including the queue, ms."""
        return ((self.timing.e2e_s if self.timing else float("inf")) + self.queue_s) * 1000

    @property
    def output_tok_s(self) -> float:
        """Output tokens per second of the replica."""
        return self.timing.output_tok_s if self.timing else 0.0

    def metrics(self) -> dict[str, float]:
        """The headline performance figures by name."""
        return {
            "ttft_ms": self.ttft_ms,
            "itl_ms": self.itl_ms,
            "e2e_ms": self.e2e_ms,
            "output_tok_s": self.output_tok_s,
            "total_tok_s": self.timing.total_tok_s if self.timing else 0.0,
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-ready report: capacity terms, performance with bands, and provenance."""
        dep, cap = self.deployment, self.capacity
        metrics = self.metrics()
        performance: dict[str, Any] = {
            **{k: round(v, 3) for k, v in metrics.items()},
            "output_tok_s_per_gpu": round(metrics["output_tok_s"] / dep.gpus, 3),
            "batch": self.timing.batch if self.timing else 0,
            "prefill_ms": round(self.timing.prefill_s * 1000, 3) if self.timing else None,
            "decode_step_ms": round(self.timing.decode_step_s * 1000, 3) if self.timing else None,
            "queue_ms": round(self.queue_s * 1000, 3),
        }
        for name, (low, high) in self.bands.items():
            performance[f"{name}_band"] = [round(low, 3), round(high, 3)]
        return {
            "deployment": {
                "model": dep.model.id,
                "gpu": dep.gpu.id,
                "runtime": dep.runtime.id,
                "gpus": dep.gpus,
                "tp": dep.tp,
                "pp": dep.pp,
                "ep": dep.ep,
                "attention_dp": dep.attention_dp,
                "weights_dtype": dep.weights_dtype,
                "kv_dtype": dep.kv_dtype,
                "compute_dtype": dep.compute_dtype,
                "isl": self.isl,
                "osl": self.osl,
            },
            "capacity": {
                "weights_gib_per_gpu": round(cap.weights_gib_per_gpu, 3),
                "activation_gib_per_gpu": round(cap.activation_gib_per_gpu, 3),
                "reserve_gib_per_gpu": round(cap.reserve_gib_per_gpu, 3),
                "kv_budget_gib_per_gpu": round(cap.kv_budget_gib_per_gpu, 3),
                "kv_bytes_per_token_per_gpu": cap.kv_bytes_per_token_per_gpu,
                "kv_bytes_per_sequence_per_gpu": cap.kv_bytes_per_sequence_per_gpu,
                "kv_blocks_per_gpu": cap.kv_blocks_per_gpu,
                "kv_tokens_per_replica": cap.kv_tokens_per_replica,
                "context_tokens": cap.context_tokens,
                "memory_cap": cap.memory_cap,
                "sequence_cap": cap.sequence_cap,
                "max_concurrency": cap.max_concurrency,
                "binding_cap": cap.binding_cap,
                "terms": [
                    {"name": t.name, "gib": round(t.gib, 4), "formula": t.formula, "provenance": t.provenance}
                    for t in cap.terms
                ],
            },
            "performance": performance,
            "provenance": self.provenance(),
        }

    def provenance(self) -> dict[str, str]:
        """Where each figure comes from."""
        out = {
            "hbm_gib": f"datasheet ({self.deployment.gpu.source_of('hbm_gib')})",
            "hbm_tb_s": f"datasheet ({self.deployment.gpu.source_of('hbm_tb_s')})",
            "peak_tflops": f"datasheet, dense {self.deployment.compute_dtype}",
            "model": f"config.json ({self.deployment.model.source})",
            "kv_budget": f"runtime rule {self.deployment.runtime.kv_budget_rule} (catalog default knobs)",
            "activation": "roofline estimate",
            "efficiency": self.efficiency.source if self.efficiency else "not used by this performance model",
            "performance": self.deployment.perf.source(self.deployment),
            "performance_model": self.deployment.perf.name,
        }
        for name, source in self.band_sources.items():
            out[f"{name}_band"] = f"10th-90th percentile of measured/predicted over {source}"
        return out


def _band(dep: Deployment, model: PerformanceModel, answering: PerformanceModel, group: str) -> tuple[Band, str]:
    """The held-out error band for ``group``: ``auto``'s own for its class where it has one, else
    that of the (corrected) backend answering, else the built-in model's class band."""
    from planner.backends import correction_band

    cls = config_class(dep)
    found = correction_band("auto", cls, group) if isinstance(model, AutoModel) and answering is not BUILTIN else None
    if found is None and isinstance(answering, Corrected):
        found = correction_band(answering.name, cls, group)
    if found:
        return Band(found[0], found[1], found[2]), found[3]
    return band_for(dep.runtime.id, dep.gpu.generation, cls, group)


def _queue_wait(timing: Timing, running: float, requested: int) -> float:
    """Closed-loop wait of requests beyond what the replica runs at once (Little's law)."""
    waiting = requested - running
    if waiting <= 0 or running <= 0:
        return 0.0
    completions_per_s = running / timing.e2e_s
    return waiting / completions_per_s


def estimate(
    dep: Deployment,
    isl: int,
    osl: int,
    *,
    concurrency: int | None = None,
    offline: bool = False,
    calibration: Calibration | None = None,
    ignore_capacity: bool = False,
) -> Estimate:
    """Estimate one replica for requests of ``isl`` input and ``osl`` output tokens.

    :param concurrency: requests in flight (closed loop); beyond the replica's capacity
        the rest wait in the queue, which TTFT and E2E include.
    :param offline: run the largest batch the replica holds (maximum throughput).
    :param ignore_capacity: run all ``concurrency`` requests even beyond what memory
        holds, to size the time axis on its own (the weights must still fit).
    """
    kind = config_class(dep)
    calibration = calibration or calibration_for(dep.runtime.id, dep.gpu.generation, kind)
    model = dep.perf
    eff = model.efficiency(dep) if isinstance(model, AnalyticModel | Fallback) else None
    cap = size_capacity(dep, isl + osl)
    requested = cap.max_concurrency if offline else max(int(concurrency or 1), 1)
    fits = cap.binding_cap not in ("weights", "context") and cap.memory_cap > 0
    running = requested if ignore_capacity and fits else min(requested, cap.max_concurrency)
    timing = steady_state(dep, running, isl, osl, model) if running > 0 else None
    queue = _queue_wait(timing, running, requested) if timing else 0.0
    result = Estimate(dep, isl, osl, cap, timing, None if offline else requested, queue, calibration, eff)
    if timing is None:
        return result
    bands, sources = {}, {}
    per_metric = metric_models(model, dep) or {}
    for metric, value in result.metrics().items():
        group = METRIC_GROUP[metric]
        band, source = _band(dep, model, per_metric.get(group, model), group)
        bands[metric] = band.apply(value)
        sources[metric] = source
    return Estimate(dep, isl, osl, cap, timing, result.requested_concurrency, queue, calibration, eff, bands, sources)


# ------------------------------------------------------------ measurements


def deployment_for(m: Measurement, catalog: Catalog) -> Deployment:
    """The deployment a published measurement ran (one replica of it)."""
    knobs: dict[str, Any] = {}
    runtime = catalog.runtimes.get(m.runtime_id)
    if m.max_batch:
        knobs[runtime.knob_roles.get("max_sequences", "max_num_seqs")] = m.max_batch
    return Deployment(
        model=catalog.models.get(m.model_id),
        gpu=catalog.gpus.get(m.gpu_id),
        runtime=runtime,
        weights_dtype=m.weights_dtype,
        kv_dtype=m.kv_dtype,
        tp=m.tp,
        pp=m.pp,
        ep=m.ep,
        attention_dp=m.attention_dp,
        knobs=knobs,
    )


def _solve_rate(dep: Deployment, rate: float, isl: int, osl: int, cap: int, model: PerformanceModel) -> Timing:
    """Open loop at ``rate`` requests/s: the running batch B with B = rate x E2E(B) (Little's law)."""
    batch = max(rate * 0.1, 1.0)
    timing = steady_state(dep, batch, isl, osl, model)
    for _ in range(60):
        target = min(max(rate * timing.e2e_s, 1.0), float(cap))
        if abs(target - batch) < 0.01 * batch:
            break
        batch = 0.5 * batch + 0.5 * target
        timing = steady_state(dep, batch, isl, osl, model)
    return timing


def _prefill_latency(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    return {"ttft_ms": model.prefill_s(dep, 1, m.isl) * 1000}


def _prefill_throughput(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    # a prefill-only node packs prompts into steps of up to 16k tokens on every GPU
    prompts = max(16384 // m.isl, 1) * dep.ep
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
        "e2e_ms": e2e * 1000,
    }


def _open_loop(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    """Requests arriving at a rate: the system delivers the offered load unless it saturates."""
    if not m.rate_per_s:
        return _closed_loop(m, dep, cap, model)
    timing = _solve_rate(dep, m.rate_per_s / m.replicas, m.isl, m.osl, cap, model)
    out = min(m.rate_per_s * m.osl, timing.output_tok_s * m.replicas)
    return {
        "output_tok_s": out,
        "total_tok_s": out * (m.isl + m.osl) / m.osl,
        "ttft_ms": timing.ttft_s * 1000,
        "itl_ms": timing.itl_s * 1000,
    }


def _closed_loop(m: Measurement, dep: Deployment, cap: int, model: PerformanceModel) -> dict[str, float]:
    """A fixed number in flight (or the largest batch, offline)."""
    running = min(m.requests or m.batch or cap, cap)
    timing = steady_state(dep, running, m.isl, m.osl, model)
    result = {
        "output_tok_s": timing.output_tok_s * m.replicas,
        "total_tok_s": timing.total_tok_s * m.replicas,
        "itl_ms": timing.itl_s * 1000,
        "ttft_ms": timing.ttft_s * 1000,
    }
    if m.requests:  # all requests at once: the average one waits for half the prefills
        result["ttft_ms"] = model.prefill_s(dep, running, m.isl) / 2 * 1000
    return result


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
    cap = size_capacity(dep, m.isl + m.osl).max_concurrency
    if cap <= 0:
        return {}
    model = AnalyticModel(fixed=timing) if isinstance(timing, Efficiency) else timing
    predictor = _PREDICTORS.get(m.mode, _closed_loop)

    def predict(chosen: PerformanceModel) -> dict[str, float]:
        if not isinstance(chosen, Blend):
            return predictor(m, dep, cap, chosen)
        first, second = predictor(m, dep, cap, chosen.first), predictor(m, dep, cap, chosen.second)
        return {k: chosen.mix(v, second[k]) for k, v in first.items() if k in second}

    per_metric = metric_models(model, dep)
    if per_metric is None:
        return predict(model)
    by_group = {group: predict(chosen) for group, chosen in per_metric.items()}
    return {
        metric: value
        for group, found in by_group.items()
        for metric, value in found.items()
        if METRIC_GROUP[metric] == group
    }
