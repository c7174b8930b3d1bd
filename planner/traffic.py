"""Traffic to fleet (step 3 meets 6): concurrency, headroom, replicas, failure domains.

Peak concurrency comes from users x active share x duty cycle, from a declared
concurrency, or from requests/s x E2E (Little's law, solved to a fixed point because
E2E grows with load). Provisioned concurrency adds the explicit headroom. Each replica
carries the largest concurrency that holds on BOTH axes: memory (its KV cache holds
the sequences at the p95 context) and time (its predicted TTFT, ITL and E2E meet the
SLOs). Replicas = ceil(provisioned / per replica) plus spares for N+1 (N+2 if critical).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.plan import Plan
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import Estimate, estimate


@dataclass(frozen=True)
class SloTargets:
    """Latency targets in milliseconds (None where the plan sets none)."""

    ttft_ms: float | None
    itl_ms: float | None
    e2e_ms: float | None

    def met_by(self, est: Estimate) -> bool:
        """True when every target is met by the estimate."""
        return not self.misses(est)

    def misses(self, est: Estimate) -> list[str]:
        """Targets the estimate misses, e.g. ['TTFT 2100 ms > 1500 ms']."""
        out = []
        for label, target, value in (("TTFT", self.ttft_ms, est.ttft_ms), ("ITL", self.itl_ms, est.itl_ms),
                                     ("E2E", self.e2e_ms, est.e2e_ms)):  # fmt: skip
            if target is not None and value > target:
                out.append(f"{label} {value:,.0f} ms > {target:,.0f} ms")
        return out


@dataclass(frozen=True)
class FleetSizing:
    """Replicas, GPUs and nodes for one deployment under the plan's traffic and SLOs."""

    deployment: Deployment
    isl: int
    osl: int
    peak_concurrency: float
    concurrency_source: str
    headroom: float
    provisioned_concurrency: float
    capacity_cap: int
    latency_cap: int
    per_replica: int
    dominant: str
    replicas_for_load: int
    spares: int
    replicas: int
    gpus: int
    nodes: int
    operating_point: Estimate | None
    to_move: str
    e2e_at_peak_ms: float | None = None

    @property
    def feasible(self) -> bool:
        """True when a replica carries at least one request on both axes."""
        return self.per_replica > 0

    @property
    def fleet_output_tok_s(self) -> float:
        """Output tokens/s the replicas carrying load deliver at the operating point."""
        if not self.operating_point:
            return 0.0
        return self.operating_point.output_tok_s * self.replicas_for_load

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (the operating point's full estimate included)."""
        return {
            "deployment": self.deployment.label,
            "isl_p95": self.isl,
            "osl_p95": self.osl,
            "peak_concurrency": round(self.peak_concurrency, 2),
            "concurrency_source": self.concurrency_source,
            "headroom": self.headroom,
            "provisioned_concurrency": round(self.provisioned_concurrency, 2),
            "per_replica": {
                "capacity_cap": self.capacity_cap,
                "latency_cap": self.latency_cap,
                "holds": self.per_replica,
            },
            "dominant_constraint": self.dominant,
            "to_move_it": self.to_move,
            "replicas_for_load": self.replicas_for_load,
            "spares": self.spares,
            "replicas": self.replicas,
            "gpus": self.gpus,
            "nodes": self.nodes,
            "fleet_output_tok_s": round(self.fleet_output_tok_s, 1),
            "operating_point": self.operating_point.to_json() if self.operating_point else None,
        }


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
    return SloTargets(plan.slo.ttft_ms, plan.slo.itl_ms, plan.slo.e2e_ms)


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


#: The time axis is searched up to this many concurrent requests per replica.
LATENCY_SEARCH_LIMIT = 16384


def latency_cap(dep: Deployment, isl: int, osl: int, targets: SloTargets, upper: int = LATENCY_SEARCH_LIMIT) -> int:
    """Largest concurrency (up to ``upper``) whose latency meets every target, memory aside.

    The time axis on its own: the estimate runs the whole batch even where memory
    could not hold it. Latency grows with the running batch, so a bisection finds the edge.
    """

    def meets(concurrency: int) -> bool:
        return targets.met_by(estimate(dep, isl, osl, concurrency=concurrency, ignore_capacity=True))

    if upper <= 0 or not meets(1):
        return 0
    low, high = 1, upper
    if meets(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            low = middle
        else:
            high = middle
    return low


def _what_moves_it(dominant: str, capacity: int, latency: int, dep: Deployment) -> str:
    """Say what binds, and what would have to change to move it."""
    limit = "the latency search limit" if latency >= LATENCY_SEARCH_LIMIT else f"{latency}"
    if dominant == "memory":
        return (
            f"memory binds at {capacity} sequences while latency would allow {limit}: KV cache per replica must "
            f"grow {latency / max(capacity, 1):.1f}x (more HBM per GPU, higher TP, fp8 KV, or a shorter context) "
            "before latency binds"
        )
    if dominant == "latency":
        return (
            f"latency binds at {latency} sequences while memory holds {capacity}: a faster step is needed "
            f"(higher TP, lower precision, a faster GPU) or looser SLOs; more memory would not help"
        )
    if dominant == "both":
        return f"memory and latency both bind at {capacity} sequences: moving one axis alone gains nothing"
    if dominant == "none fits":
        return (
            "no concurrency meets the SLOs on this configuration: more GPUs per replica, "
            "a faster GPU or a smaller model"
        )
    if dominant in ("weights", "context"):
        return (
            "the weights do not fit this replica: more GPUs per replica (TP/PP) or lower precision"
            if dominant == "weights"
            else "the p95 context is longer than the model or max_model_len allows"
        )
    return (
        f"the runtime's batch limit ({dominant}) binds at {capacity} while latency would allow {limit}: "
        f"raise {dominant} if memory allows"
    )


def size_fleet(dep: Deployment, plan: Plan) -> FleetSizing:
    """Size the fleet for ``plan`` on ``dep``: per-replica concurrency on both axes, replicas, GPUs, nodes."""
    isl, osl, _ = sizing_shape(plan)
    targets = slo_targets(plan)
    headroom = plan.traffic.headroom
    memory = estimate(dep, isl, osl, offline=True).capacity
    capacity = memory.max_concurrency
    latency = latency_cap(dep, isl, osl, targets) if capacity > 0 else 0
    per_replica = min(capacity, latency)
    if capacity <= 0:
        dominant = "weights" if memory.binding_cap == "weights" else memory.binding_cap
    elif latency <= 0:
        dominant = "none fits"
    elif latency < capacity:
        dominant = "latency"
    elif latency == capacity:
        dominant = "both"
    else:
        dominant = "memory" if memory.binding_cap == "memory" else memory.binding_cap
    peak, source = declared_concurrency(plan)
    operating: Estimate | None = None
    replicas_for_load = 0
    e2e_at_peak: float | None = None
    if per_replica > 0:
        if peak is None:
            peak, at_peak, replicas_for_load, source = _littles_law(dep, plan, isl, osl, per_replica, headroom)
            e2e_at_peak = at_peak.e2e_ms
        provisioned = peak * (1 + headroom)
        replicas_for_load = max(math.ceil(provisioned / per_replica - 1e-9), 1)
        load_each = max(math.ceil(provisioned / replicas_for_load), 1)
        operating = estimate(dep, isl, osl, concurrency=load_each)
    else:
        peak = peak or 0.0
        provisioned = peak * (1 + headroom)
    spares = plan.slo.spare_failure_domains if replicas_for_load else 0
    replicas = replicas_for_load + spares
    gpus = replicas * dep.gpus
    per_node = dep.gpu.gpus_per_node
    nodes = replicas * math.ceil(dep.gpus / per_node) if dep.gpus > per_node else math.ceil(gpus / per_node)
    return FleetSizing(
        deployment=dep,
        isl=isl,
        osl=osl,
        peak_concurrency=peak,
        concurrency_source=source,
        headroom=headroom,
        provisioned_concurrency=provisioned,
        capacity_cap=capacity,
        latency_cap=latency,
        per_replica=per_replica,
        dominant=dominant,
        replicas_for_load=replicas_for_load,
        spares=spares,
        replicas=replicas,
        gpus=gpus,
        nodes=nodes,
        operating_point=operating,
        to_move=_what_moves_it(dominant, capacity, latency, dep),
        e2e_at_peak_ms=e2e_at_peak,
    )


def _littles_law(
    dep: Deployment, plan: Plan, isl: int, osl: int, per_replica: int, headroom: float
) -> tuple[float, Estimate, int, str]:
    """Concurrency = requests/s x E2E, iterated until the E2E at the resulting load settles."""
    t = plan.traffic
    rate = (t.requests_per_s or 0.0) * t.peak_factor
    op = estimate(dep, isl, osl, concurrency=1)
    concurrency = rate * op.e2e_ms / 1000
    replicas = 1
    for _ in range(30):
        replicas = max(math.ceil(concurrency * (1 + headroom) / per_replica - 1e-9), 1)
        load_each = max(math.ceil(concurrency / replicas), 1)
        op = estimate(dep, isl, osl, concurrency=load_each)
        updated = rate * op.e2e_ms / 1000
        if abs(updated - concurrency) <= 0.005 * max(concurrency, 1):
            break
        concurrency = 0.5 * concurrency + 0.5 * updated
    source = f"{t.requests_per_s:g} requests/s x peak {t.peak_factor:g} x E2E {op.e2e_ms / 1000:.2f} s (Little's law)"
    return concurrency, op, replicas, source
