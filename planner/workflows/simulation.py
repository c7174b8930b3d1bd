"""Step 10 before any hardware exists: simulate the chosen deployment, find its envelopes, mix GPU classes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from planner.disaggregation import DisaggregationComparison
from planner.disaggregation import compare_disaggregation as compare_pools
from planner.envelope import envelopes
from planner.errors import PlannerError
from planner.mix import Bucket, heterogeneous_mix, priced_classes, size_buckets
from planner.performance_models import choose
from planner.plan import Plan
from planner.plan_simulation import DEFAULT_DURATION_S, default_load, fleet_check, simulate_plan
from planner.resolve import ResolvedPlan, resolve_plan
from planner.sizing.fleet import FleetSizing
from planner.sizing.plan_sizing import size_plan
from planner.workflows.session import Progress, Session, counted_steps


def _chosen(session: Session, plan_: Plan, source: str, backend: str | None) -> tuple[ResolvedPlan, FleetSizing]:
    """The plan sized; its chosen fleet, or an error saying there is none to simulate."""
    resolved = resolve_plan(plan_, session.catalog, source)
    sizing = size_plan(resolved, session.catalog, session.performance_model(backend))
    if sizing.best is None:
        raise PlannerError(
            "no configuration meets the SLOs on both axes, so there is nothing to simulate",
            path=source,
            fix="run `planner plan` to see what each candidate misses",
        )
    return resolved, sizing.best.sizing


@dataclass(frozen=True)
class SimulationRequest:
    """How to load the plan's chosen deployment in the simulator.

    Closed loop when ``concurrency`` is given (or ``mode`` says so), else open loop at
    ``rate`` (default: what the replicas complete at the sizing's operating point).
    """

    mode: str | None = None
    rate: float | None = None
    concurrency: int | None = None
    replicas: int = 1
    router: str = "least-outstanding"
    arrival: str = "poisson"
    cv: float = 2.0
    think_s: float = 0.0
    lengths: Path | None = None
    duration_s: float = DEFAULT_DURATION_S
    seed: int = 0
    failure: bool = False
    disaggregated: bool = False
    decode_gpu: str | None = None
    backend: str | None = None


@dataclass
class SimulationReport:
    """Percentiles with the queue for one load, and optionally the fleet with its spares down
    and the prefill/decode split against aggregated serving."""

    deployment: str
    summary: dict[str, Any]
    failure: dict[str, Any] | None = None
    disaggregation: DisaggregationComparison | None = None

    @property
    def meets_slo(self) -> bool:
        """True when the simulated percentiles meet the SLOs."""
        return bool(self.summary["meets_slo"])

    def to_json(self) -> dict[str, Any]:
        """The simulator's summary with the deployment, failure check and P/D comparison."""
        out = {**self.summary, "deployment": self.deployment}
        if self.failure is not None:
            out["failure"] = self.failure
        if self.disaggregation is not None:
            out["goodput_per_keur_year"] = self.disaggregation.aggregated_goodput_per_keur_year
            out["disaggregated"] = self.disaggregation.best
            if self.disaggregation.best:
                out["disaggregation_verdict"] = self.disaggregation.verdict
        return out


def simulate(session: Session, plan_: Plan, source: str, request: SimulationRequest) -> SimulationReport:
    """Simulate the plan's chosen deployment under one load (see :class:`SimulationRequest`)."""
    resolved, fleet = _chosen(session, plan_, source, request.backend)
    plan_ = resolved.plan
    dep, model = fleet.deployment, fleet.model
    load = default_load(
        fleet,
        request.replicas,
        mode=request.mode,
        rate=request.rate,
        concurrency=request.concurrency,
        arrival=request.arrival,
        cv=request.cv,
        peak_factor=plan_.traffic.peak_factor,
        think_s=request.think_s,
    )
    duration_s, seed = request.duration_s, request.seed
    summary = simulate_plan(
        plan_,
        dep,
        model,
        load,
        replicas=request.replicas,
        router=request.router,
        lengths=request.lengths,
        duration_s=duration_s,
        seed=seed,
    )
    report = SimulationReport(dep.label, summary)
    if request.failure:
        report.failure = fleet_check(plan_, fleet, duration_s=duration_s, seed=seed)
    if request.disaggregated and load.mode == "open" and load.rate:
        decode = (dep, model)
        if request.decode_gpu:
            decode_dep = replace(dep, gpu=session.catalog.gpus.get(request.decode_gpu))
            decode = (decode_dep, choose(session.performance_model(request.backend), decode_dep))
        transport = plan_.serving_stack.kv_transport or "nixl"
        report.disaggregation = compare_pools(
            plan_, (dep, model), decode, load.rate, summary, transport, duration_s=duration_s, seed=seed
        )
    return report


def compare_disaggregation(session: Session, plan_: Plan, source: str, request: SimulationRequest) -> SimulationReport:
    """Aggregated serving against every split of the same GPUs into prefill and decode pools,
    at the same open-loop rate (the request's, else the rate the sizing holds), with the KV
    cache moved over the plan's transport; the report's ``disaggregation`` says which wins."""
    return simulate(session, plan_, source, replace(request, mode="open", concurrency=None, disaggregated=True))


@dataclass
class EnvelopeReport:
    """Cr_closed, Cr_open and the latency-vs-load curve of the plan's chosen deployment."""

    deployment: str
    cr_closed: int
    cr_open_req_s: float
    curve: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The envelopes and every simulated point."""
        return {
            "cr_closed": self.cr_closed,
            "cr_open_req_s": self.cr_open_req_s,
            "curve": self.curve,
            "deployment": self.deployment,
        }


def envelope(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    duration_s: float = 200.0,
    seed: int = 0,
    backend: str | None = None,
    progress: Progress | None = None,
) -> EnvelopeReport:
    """Find Cr_closed and Cr_open of the chosen deployment by simulation, per replica."""
    resolved, fleet = _chosen(session, plan_, source, backend)
    found = envelopes(
        resolved.plan, fleet.deployment, fleet.model, duration_s=duration_s, seed=seed, progress=counted_steps(progress)
    )
    return EnvelopeReport(found["deployment"], found["cr_closed"], found["cr_open_req_s"], found["curve"])


@dataclass
class MixReport:
    """The cheapest assignment of request-size buckets to GPU classes, against the best single class."""

    buckets: list[Bucket]
    result: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The mix, its cost, the best single class, the saving, and the buckets."""
        buckets = [{"bucket": n, "requests_per_s": r, "isl_p95": i, "osl_p95": o} for n, r, i, o in self.buckets]
        return {**self.result, "buckets": buckets}


def mix(
    session: Session, plan_: Plan, source: str = "<plan>", *, buckets: int = 3, backend: str | None = None
) -> MixReport:
    """Split the plan's traffic into request-size buckets and assign each to the GPU class that
    serves it cheapest within the SLOs (after Mélange); compare with the best single class."""
    resolved = resolve_plan(plan_, session.catalog, source)
    split = size_buckets(resolved.plan, buckets)
    classes = priced_classes(resolved, session.catalog, session.performance_model(backend), source=source)
    return MixReport(split, heterogeneous_mix(split, classes))
