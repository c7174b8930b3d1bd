"""Step 10 before any hardware exists: simulate the chosen deployment, find its envelopes, mix GPU classes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from planner.decision import FleetDecision, fleet_run_s, pools_fleet_check, rerun_pools
from planner.disaggregation import DisaggregationComparison
from planner.disaggregation import compare_disaggregation as compare_pools
from planner.errors import NothingFitsError, PlannerError
from planner.limits import CONCURRENCY, CV, DURATION, RATE, REPLICAS, SEED, THINK, out_of_bounds
from planner.mix import (
    Bucket,
    MixResult,
    heterogeneous_mix,
    pinned_pool_plan,
    pool_demand,
    priced_classes,
    settled_pool,
    settled_pool_of,
    size_buckets,
)
from planner.performance_models import choose
from planner.plan import Plan
from planner.plan_simulation import LoadSpec, fleet_check, simulate_plan
from planner.resolve import ResolvedPlan, resolve_plan
from planner.simulate import active_budget
from planner.sizing.plan_sizing import size_plan
from planner.sizing.search import Candidate
from planner.traffic import Demand
from planner.workflows.planning import SIZING, nothing_sized, write_plan
from planner.workflows.session import Progress, Session, counted_steps


def _chosen(
    session: Session,
    plan_: Plan,
    source: str,
    backend: str | None,
    fixed_s: float | None = None,
    progress: Progress | None = None,
) -> tuple[ResolvedPlan, Candidate]:
    """The plan sized and checked in simulation; its chosen candidate, or an error saying there is none."""
    resolved = resolve_plan(plan_, session.catalog, source)
    sizing = size_plan(
        resolved,
        session.catalog,
        session.performance_model(backend),
        counted_steps(progress, SIZING),
        fixed_s=fixed_s,
        on_point=counted_steps(progress),
    )
    if sizing.best is None or sizing.best.decision is None:
        stops = active_budget().stops
        if stops:
            raise NothingFitsError(
                f"no configuration was shown to meet the SLOs before the simulations stopped early ({stops[0]})",
                path=source,
                fix="give the command more time: --time-limit SECONDS (or PLANNER_SIM_WALL_S)",
            )
        raise nothing_sized(sizing, source, "nothing to simulate")
    return resolved, sizing.best


@dataclass(frozen=True)
class SimulationRequest:
    """How to load the plan's chosen deployment in the simulator; every unset value is the plan's.

    By default the run is the one that decided the plan's fleet: its replicas at the
    peak load, as long as the decision ran it. ``concurrency`` (or ``mode='closed'``)
    asks for a closed loop, ``rate`` for an open loop at that rate; ``replicas`` and
    ``duration_s`` replace the decision's.
    """

    mode: str | None = None
    rate: float | None = None
    concurrency: int | None = None
    replicas: int | None = None
    router: str = "least-outstanding"
    arrival: str = "poisson"
    cv: float = 2.0
    think_s: float = 0.0
    lengths: Path | None = None
    duration_s: float | None = None
    seed: int = 0
    failure: bool = False
    disaggregated: bool = False
    decode_gpu: str | None = None
    backend: str | None = None


@dataclass
class SimulationReport:
    """Percentiles with the queue for one load, the plan's decision it belongs to, and optionally
    the fleet with its spares down and the prefill/decode split against aggregated serving."""

    deployment: str
    decision: FleetDecision
    summary: dict[str, Any]
    failure: dict[str, Any] | None = None
    disaggregation: DisaggregationComparison | None = None

    @property
    def meets_slo(self) -> bool:
        """True when the simulated percentiles meet the SLOs."""
        return bool(self.summary["meets_slo"])

    def to_json(self) -> dict[str, Any]:
        """The simulator's summary with the deployment, the plan's decision, failure check and P/D comparison."""
        d = self.decision
        out = {
            **self.summary,
            "deployment": self.deployment,
            "plan": {"replicas_for_load": d.replicas_for_load, "spares": d.spares, "replicas": d.replicas,
                     "cr_closed": d.cr_closed, "cr_open_req_s": round(d.cr_open_req_s, 6)},
        }  # fmt: skip
        if self.failure is not None:
            out["failure"] = self.failure
        if d.pools is not None:
            out["pools"] = d.pools.to_json()
        if self.disaggregation is not None:
            out["goodput_per_keur_year"] = self.disaggregation.aggregated_goodput_per_keur_year
            out["disaggregated"] = self.disaggregation.best
            if self.disaggregation.best:
                out["disaggregation_verdict"] = self.disaggregation.verdict
        return out


#: The bounds of each number a simulation request takes, by field, and the flag that sets it.
_REQUEST_BOUNDS = {
    "rate": (RATE, "--rate"),
    "concurrency": (CONCURRENCY, "--concurrency"),
    "replicas": (REPLICAS, "--replicas"),
    "cv": (CV, "--cv"),
    "think_s": (THINK, "--think"),
    "duration_s": (DURATION, "--duration"),
    "seed": (SEED, "--seed"),
}


def _check_request(request: SimulationRequest) -> None:
    """Refuse a rate, count or duration out of range before anything is simulated with it."""
    problems = out_of_bounds([(flag, getattr(request, name), bound) for name, (bound, flag) in _REQUEST_BOUNDS.items()])
    if problems:
        what, fix = "; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems)
        raise PlannerError(what, path="planner simulate", fix=fix)


def _load_of(request: SimulationRequest, decision: FleetDecision, peak_factor: float) -> LoadSpec:
    """The request's load, or the decision's first peak load where it names none."""
    shape = {"arrival": request.arrival, "cv": request.cv, "peak_factor": peak_factor, "think_s": request.think_s}
    mode = request.mode or ("closed" if request.concurrency else "open" if request.rate else None)
    peak = decision.loads[0]
    aggregated = decision.simulated_aggregated_replicas
    if mode is None:
        mode = peak.mode
    if mode == "open":
        rate = request.rate or peak.rate_req_s or decision.cr_open_req_s * aggregated
        return LoadSpec("open", rate=rate, **shape)  # type: ignore[arg-type]
    replicas = request.replicas or aggregated
    as_checked = peak.spec(peak_factor, replicas).concurrency if peak.mode == "closed" else None
    users = request.concurrency or as_checked or decision.cr_closed * aggregated
    return LoadSpec("closed", concurrency=users, **shape)  # type: ignore[arg-type]


def _as_decided(request: SimulationRequest) -> bool:
    """True when the request names no load, replicas, length or comparison of its own (a failure check
    runs the fleet as decided, its spares up and down)."""
    own = (request.mode, request.rate, request.concurrency, request.replicas, request.duration_s, request.lengths)
    return all(v is None for v in own) and not request.disaggregated


def simulate(session: Session, plan_: Plan, source: str, request: SimulationRequest) -> SimulationReport:
    """Simulate the plan's chosen fleet: by default the run that decided its replica count."""
    _check_request(request)
    resolved, chosen = _chosen(session, plan_, source, request.backend)
    plan_, decision = resolved.plan, chosen.decision
    assert decision is not None
    dep, model = decision.deployment, decision.model
    if decision.pools is not None and _as_decided(request):
        pools = decision.pools
        layouts = f"{pools.prefill[0].label} + {pools.decode[0].label}"
        label = f"{layouts} as {pools.prefill_replicas} prefill + {pools.decode_replicas} decode replicas"
        report = SimulationReport(f"{label} (KV over {pools.transport})", decision, rerun_pools(plan_, decision, pools))
        if request.failure:  # (a spare in each pool, as the plan provisions them)
            report.failure = pools_fleet_check(plan_, decision, pools, report.summary)
        return report
    load = _load_of(request, decision, plan_.traffic.peak_factor)
    # a load of the user's runs replicas served aggregated: where the plan serves pools, as many as
    # aggregated serving needs (the pools' own count would be far too few)
    replicas = request.replicas or decision.simulated_aggregated_replicas
    # A length the user gives is run as given; the decision's own length may be stretched as its runs were.
    duration_s, stretch_to_s = fleet_run_s(decision.fleet, load, replicas, router=request.router)
    if request.duration_s:
        duration_s, stretch_to_s = request.duration_s, None
    seed = request.seed
    summary = simulate_plan(
        plan_,
        dep,
        model,
        load,
        replicas=replicas,
        router=request.router,
        lengths=request.lengths,
        duration_s=duration_s,
        seed=seed,
        stretch_to_s=stretch_to_s,
    )
    served = " served aggregated" if decision.pools is not None else ""
    report = SimulationReport(dep.label + served, decision, summary)
    if request.failure:
        report.failure = fleet_check(
            plan_, chosen.sizing, load, duration_s=duration_s, seed=seed, stretch_to_s=stretch_to_s
        )
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
    at the same open-loop rate (the request's, else the plan's peak), with the KV cache moved
    over the plan's transport; the report's ``disaggregation`` says which wins."""
    return simulate(session, plan_, source, replace(request, mode="open", concurrency=None, disaggregated=True))


@dataclass
class EnvelopeReport:
    """Cr_closed, Cr_open and the latency-vs-load curve of the plan's chosen deployment."""

    deployment: str
    cr_closed: int
    cr_open_req_s: float
    curve: list[dict[str, Any]]
    replicas_for_load: int
    spares: int
    #: Where disaggregated pools serve the load: their replicas and Cr_closed (the envelope is then
    #: that of one replica served aggregated); "" otherwise.
    pools: str = ""

    @property
    def replicas(self) -> int:
        """The plan's replicas, spares included."""
        return self.replicas_for_load + self.spares

    def to_json(self) -> dict[str, Any]:
        """The envelopes, the plan's replicas and every simulated point."""
        return {
            "cr_closed": self.cr_closed,
            "cr_open_req_s": self.cr_open_req_s,
            "replicas_for_load": self.replicas_for_load,
            "spares": self.spares,
            "replicas": self.replicas,
            "curve": self.curve,
            "deployment": self.deployment,
            "pools": self.pools or None,
        }


def envelope(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    duration_s: float | None = None,
    seed: int = 0,
    backend: str | None = None,
    progress: Progress | None = None,
) -> EnvelopeReport:
    """Cr_closed and Cr_open of the chosen deployment per replica, as the plan's decision found
    them by simulation, with the fleet's replicas and the latency-vs-load curve.

    :param duration_s: simulated seconds of every run (default: as the plan decides them).
    """
    _check_request(SimulationRequest(duration_s=duration_s, seed=seed))
    _, chosen = _chosen(session, plan_, source, backend, fixed_s=duration_s, progress=progress)
    d = chosen.decision
    assert d is not None
    pools = ""
    if (p := d.pools) is not None and p.cr_closed_text():
        pools = f"{p.prefill_replicas} prefill + {p.decode_replicas} decode replicas, {p.cr_closed_text()}"
    return EnvelopeReport(
        d.deployment.label, d.cr_closed, d.cr_open_req_s, d.curve, d.replicas_for_load, d.spares, pools
    )


@dataclass
class MixReport:
    """The cheapest assignment of request-size buckets to GPU classes, against the best single class."""

    plan: Plan
    buckets: list[Bucket]
    result: MixResult

    def bucket_demand(self, bucket: Bucket) -> Demand:
        """What a pool serving ``bucket`` alone carries (its share of the load, its sizing request)."""
        return pool_demand(self.plan, [bucket])

    def to_json(self) -> dict[str, Any]:
        """The mix, its pools and cost, the best single class, the saving, and the buckets."""
        buckets = []
        for b in self.buckets:
            demand = self.bucket_demand(b)
            buckets.append(
                {
                    "bucket": b.name,
                    "share": b.share,
                    "requests_per_s": demand.peak_rate_req_s or None,
                    "isl": demand.isl,
                    "osl": demand.osl,
                    "batch_of": asdict(demand.population) if demand.population else None,
                }
            )
        return {**self.result.to_json(), "buckets": buckets}


def mix(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    buckets: int = 3,
    backend: str | None = None,
    progress: Progress | None = None,
) -> MixReport:
    """Split the plan's traffic into request-size buckets and assign each to the GPU class that
    serves it cheapest within the SLOs (after Mélange); compare with the plan's own fleet. Each
    pool is the plan of the requests it serves (:func:`planner.mix.pool_plan`): every assignment is
    ranked by its pools' estimates, and the cheapest are settled in simulation as ``planner plan``
    settles the plan's fleet, which is the best single class the mix is weighed against."""
    resolved = resolve_plan(plan_, session.catalog, source)
    split = size_buckets(resolved.plan, buckets)
    model = session.performance_model(backend)
    classes = priced_classes(resolved, session.catalog, model, source=source)
    simulated = counted_steps(progress)
    own = size_plan(resolved, session.catalog, model, on_point=simulated).best
    prices = {gpu: eur for gpu, eur, _ in classes}
    single = None
    if own is not None and own.decision is not None and own.sizing.deployment.gpu.id in prices:
        single = settled_pool_of(own, tuple(b.name for b in split), prices[own.sizing.deployment.gpu.id])
    return MixReport(
        resolved.plan,
        split,
        heterogeneous_mix(
            split,
            classes,
            counted_steps(progress, "sizing each GPU class's pools"),
            settle=settled_pool(resolved.plan, session.catalog, model, source, simulated),
            single=single,
        ),
    )


def write_pool_plans(report: MixReport, folder: str | Path) -> list[Path]:
    """Write the plan of each pool of ``report``'s mix into ``folder`` (made if missing), its GPU
    pinned to the pool's class, as ``pool-1-mi300x.yaml``..., so ``planner plan`` on each gives the
    pool's fleet; returns the paths."""
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlannerError(
            f"cannot make the folder: {exc.strerror}", path=str(target), fix="choose a folder you can write to"
        ) from None
    by_name = {b.name: b for b in report.buckets}
    written = []
    for number, pool in enumerate(report.result.pools, start=1):
        pinned = pinned_pool_plan(report.plan, pool.gpu, [by_name[n] for n in pool.buckets])
        written.append(write_plan(pinned, target / f"pool-{number}-{pool.gpu}.yaml"))
    return written
