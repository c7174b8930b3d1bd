"""One configuration answered: capacity and performance, with provenance and error bands.

``estimate`` is what ``planner estimate`` prints and what fleet sizing and search call;
:mod:`planner.bench.predict` replays a published measurement through the same physics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from planner.perfmodel import PerformanceModel
from planner.performance_models import answering_models, builtin_factors, error_band
from planner.sizing.capacity import Capacity, caches_prefixes, size_capacity
from planner.sizing.deployment import Deployment, config_class
from planner.sizing.efficiency import Calibration, Efficiency, calibration_for
from planner.sizing.steady_state import Timing, steady_state
from planner.traffic import Population

#: Metric name in an estimate or a measurement -> its group (the residual band it takes).
METRIC_GROUP = {
    "ttft_ms": "ttft",
    "itl_ms": "itl",
    "itl_p50_ms": "itl",
    "e2e_ms": "itl",
    "output_tok_s": "throughput",
    "total_tok_s": "throughput",
}


@dataclass(frozen=True)
class Estimate:
    """Capacity and performance of one replica for one workload."""

    deployment: Deployment
    model: PerformanceModel  # the model that timed it (after choose(): its fallback where it does not cover)
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
    def clients(self) -> float:
        """Requests in flight per replica: a closed loop's clients (those in the engine's batch, those
        in the front end between two requests and those queued), or the batch offline."""
        if self.requested_concurrency is not None:
            return self.requested_concurrency
        return self.timing.batch if self.timing else 0.0

    @property
    def ttft_ms(self) -> float:
        """Time to first token including queueing beyond the replica's capacity, ms."""
        return ((self.timing.ttft_s if self.timing else float("inf")) + self.queue_s) * 1000

    @property
    def itl_ms(self) -> float:
        """Inter-token latency at the running batch, ms."""
        return self.timing.itl_s * 1000 if self.timing else float("inf")

    @property
    def itl_p95_ms(self) -> float:
        """95th percentile of the gaps between tokens (a prefill-carrying step when they are common), ms."""
        return self.itl_at_percentile_ms(95)

    def itl_at_percentile_ms(self, percentile: float) -> float:
        """The gap between tokens at ``percentile``, ms (:meth:`Timing.itl_at_percentile_s`)."""
        return self.timing.itl_at_percentile_s(percentile) * 1000 if self.timing else float("inf")

    def ttft_at_percentile_ms(self, percentile: float) -> float:
        """TTFT at ``percentile`` over the requests, including queueing beyond the replica's
        capacity, ms (:meth:`Timing.ttft_at_percentile_s`: the wait for the step in flight and the
        own prefill, each as it varies)."""
        return ((self.timing.ttft_at_percentile_s(percentile) if self.timing else float("inf")) + self.queue_s) * 1000

    def band_at(self, metric: str, value: float) -> tuple[float, float] | None:
        """The band of ``metric`` (``"ttft_ms"``) moved to ``value``, the figure read at a percentile
        rather than the point: it keeps its relative width (None where the metric has no band)."""
        band, point = self.bands.get(metric), self.metrics().get(metric, 0.0)
        if band is None or not 0 < point < float("inf") or value == float("inf"):
            return band
        return band[0] * value / point, band[1] * value / point

    def slo_figures_ms(self, percentile: float) -> tuple[float, float, float]:
        """TTFT, ITL and E2E as targets at ``percentile`` judge them, ms: the TTFT at that
        percentile, the gap at that percentile, which prompt chunks stretch, as the simulator judges
        a run, and the request's E2E (the sizing's shape is already the lengths at that percentile)."""
        return self.ttft_at_percentile_ms(percentile), self.itl_at_percentile_ms(percentile), self.e2e_ms

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
            # the requests in flight: a closed loop's clients (the batch, the front end, the queue)
            "clients": self.clients,
            "prefill_ms": round(self.timing.prefill_s * 1000, 3) if self.timing else None,
            "decode_step_ms": round(self.timing.decode_step_s * 1000, 3) if self.timing else None,
            # the gaps between tokens at the percentiles a target judges (prompt chunks stretch them)
            **{f"itl_p{q}_ms": round(self.itl_at_percentile_ms(q), 3) if self.timing else None for q in (95, 99)},
            # the TTFT over the requests (the wait for the step in flight and the prompts ahead varies)
            **{f"ttft_p{q}_ms": round(self.ttft_at_percentile_ms(q), 3) if self.timing else None for q in (50, 95, 99)},
            "prefill_step_ms": round(self.timing.prefill_step_s * 1000, 3) if self.timing else None,
            "prefill_step_share": round(self.timing.prefill_step_share, 4) if self.timing else None,
            "token_budget": self.timing.token_budget if self.timing else None,
            "queue_ms": round(self.queue_s * 1000, 3),
            "batch_of": asdict(self.timing.population) if self.timing and self.timing.population else None,
        }
        for name, (low, high) in self.bands.items():
            performance[f"{name}_band"] = [round(low, 3), round(high, 3)]
        # the figures read at a percentile carry their metric's band moved with them (band_at)
        for metric, read in (("ttft_ms", (50, 95, 99)), ("itl_ms", (95, 99))):
            for q in read:
                value = performance[f"{metric[:-3]}_p{q}_ms"]
                moved = self.band_at(metric, value) if value is not None and value < float("inf") else None
                if moved is not None and metric in self.bands:
                    performance[f"{metric[:-3]}_p{q}_ms_band"] = [round(moved[0], 3), round(moved[1], 3)]
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
                "expert_compute_dtype": dep.expert_compute_dtype,
                "knobs": dict(dep.knobs),
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

    def _matmul_ceiling_source(self) -> str:
        """Where the share of the datasheet peak that matrix multiplies reach comes from."""
        dep = self.deployment
        key = dep.matmul_measured_dtype
        if key is None:
            return "an estimate: the median share of the GPUs measured, none measured on this one"
        share_of = "" if key == dep.peak_dtype else f"its {key} share, "
        return f"{share_of}measured: {dep.gpu.source_of(f'matmul_tflops.{key}')}"

    def provenance(self) -> dict[str, str]:
        """Where each figure comes from."""
        out = {
            "hbm_gib": f"datasheet ({self.deployment.gpu.source_of('hbm_gib')})",
            "hbm_tb_s": f"datasheet ({self.deployment.gpu.source_of('hbm_tb_s')})",
            "peak_tflops": (
                f"datasheet, dense {self.deployment.compute_dtype}; matrix multiplies reach"
                f" {self.deployment.matmul_share:.0%} of it at best ({self._matmul_ceiling_source()}),"
                " the ceiling the MFU factors are shares of"
            ),
            "model": f"config.json ({self.deployment.model.source})",
            "kv_budget": f"runtime rule {self.deployment.runtime.kv_budget_rule} (catalog default knobs)",
            "activation": "roofline estimate",
            "efficiency": self.efficiency.source if self.efficiency else "not used by this performance model",
            "performance": self.model.source(self.deployment),
            "performance_model": self.model.name,
        }
        for name, source in self.band_sources.items():
            out[f"{name}_band"] = f"10th-90th percentile of measured/predicted over {source}"
        return out


def population_as_served(population: Population | None, dep: Deployment) -> Population | None:
    """``population`` as ``dep`` serves it: with no prefix cached where its engine's prefix caching is
    off (:func:`~planner.sizing.capacity.caches_prefixes`), every prompt prefilled whole."""
    if population is None or not population.cached_tokens or caches_prefixes(dep):
        return population
    return replace(population, cached_tokens=0.0)


def queue_wait_s(timing: Timing, running: float, requested: float) -> float:
    """Closed-loop wait of requests beyond what the replica runs at once (Little's law): with
    ``running`` served at a time, a replica completes running / place a second (place: how long a
    place serves one request, :attr:`Timing.place_s`), and each of the ``requested`` clients loops
    through the queue, the engine and the front end, so the queue holds the rest of a loop of
    requested / that rate."""
    if requested <= running or running <= 0:
        return 0.0
    return max(requested * timing.place_s / running - timing.place_s - timing.frontend_s, 0.0)


def closed_loop(
    dep: Deployment,
    clients: float,
    limit: float,
    isl: int,
    osl: int,
    model: PerformanceModel,
    population: Population | None = None,
) -> tuple[Timing, float]:
    """The steady state of ``clients`` in a closed loop on one replica that runs at most ``limit`` at
    once, and the wait in its queue, s.

    Each client sends its next request when the last one's final token reaches it, so on every loop
    its request spends the front end's latency outside the engine (:attr:`Timing.frontend_s`: the
    last token out, the next request in) and holds a place in the batch for the rest
    (:attr:`Timing.place_s`), as the simulator's closed loop has it: by Little's law the engine runs
    clients x place / (place + front end), not every client (use case 1's requests on one H100 with a
    400 ms front end: all 24 clients running gave 4% more output than the simulator's loop, this 1%).
    Worked out from all clients running and timed once more at the batch that gives (the share
    outside moves little with the batch). Clients beyond ``limit`` wait in
    the queue (:func:`queue_wait_s`).
    """
    running = min(clients, limit)
    timing = steady_state(dep, running, isl, osl, model, population)
    inside = clients * timing.place_s / (timing.place_s + timing.frontend_s) if timing.frontend_s > 0 else clients
    if inside < running:
        running = inside
        timing = steady_state(dep, running, isl, osl, model, population)
    return timing, queue_wait_s(timing, running, clients) if running >= limit else 0.0


def estimate(
    dep: Deployment,
    isl: int,
    osl: int,
    *,
    model: PerformanceModel,
    concurrency: int | None = None,
    offline: bool = False,
    calibration: Calibration | None = None,
    ignore_capacity: bool = False,
    population: Population | None = None,
) -> Estimate:
    """Estimate one replica for requests of ``isl`` input and ``osl`` output tokens.

    :param model: the performance model that times it (pass what
        :func:`planner.performance_models.choose` returned for ``dep``).
    :param concurrency: requests in flight (closed loop); beyond the replica's capacity
        the rest wait in the queue, which TTFT and E2E include.
    :param offline: run the largest batch the replica holds (maximum throughput).
    :param ignore_capacity: run all ``concurrency`` requests even beyond what memory
        holds, to size the time axis on its own (the weights must still fit).
    :param population: the requests the batch is made of where they vary (a plan's workload;
        see :func:`planner.sizing.steady_state.steady_state`); memory still holds every sequence
        at ``isl`` + ``osl``.
    """
    population = population_as_served(population, dep)
    kind = config_class(dep)
    calibration = calibration or calibration_for(dep.runtime.id, dep.gpu.generation, kind)
    eff = builtin_factors(model, dep)
    cap = size_capacity(dep, isl + osl)
    requested = cap.max_concurrency if offline else max(int(concurrency or 1), 1)
    fits = cap.binding_cap not in ("weights", "context") and cap.memory_cap > 0
    limit = requested if ignore_capacity and fits else min(requested, cap.max_concurrency)
    timing, queue = None, 0.0
    if limit > 0 and offline:  # the largest batch, its queue never empty: every place always busy
        timing = steady_state(dep, limit, isl, osl, model, population)
    elif limit > 0:
        timing, queue = closed_loop(dep, requested, limit, isl, osl, model, population)
    result = Estimate(dep, model, isl, osl, cap, timing, None if offline else requested, queue, calibration, eff)
    if timing is None:
        return result
    bands, sources = {}, {}
    answering = answering_models(model, dep)
    for metric, value in result.metrics().items():
        group = METRIC_GROUP[metric]
        band, source = error_band(model, answering[group], dep, group)
        bands[metric] = band.apply(value)
        sources[metric] = source
    return Estimate(
        dep, model, isl, osl, cap, timing, result.requested_concurrency, queue, calibration, eff, bands, sources
    )
