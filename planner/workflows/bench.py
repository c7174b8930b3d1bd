"""Benchmarks as user actions (step 10): measure an endpoint or import result files, keep them in a project.

The importers come from the plugins (``planner_benchmark_importers``); a file is read whole,
every file before anything is stored, and the runs of one call are stored in one
transaction, so a bad file leaves the project as it was. Importing a file again adds
nothing: a run is known by its file's SHA-256 and its place in the file.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.bench.baseline import Comparison, compare, stored_deployment
from planner.bench.importing import benchmark_importers, read_benchmark_files
from planner.bench.loadgen import Endpoint, Limits, Prompt
from planner.bench.measured import MeasuredEnvelope, measured_envelope
from planner.bench.project_calibration import ProjectCalibration, calibrate_on_runs
from planner.bench.prompts import TokenizerFit
from planner.bench.scenario import BenchmarkPlan, benchmark_plan
from planner.errors import PlannerError
from planner.measured_run import MeasuredRun
from planner.plan import Baseline as PlanBaseline
from planner.plan import Plan
from planner.scaling import ScalingDecision, decide
from planner.simulate import Targets
from planner.sizing.deployment import Deployment
from planner.sizing.fleet import mean_request_e2e_ms
from planner.sizing.plan_sizing import PlanSizing
from planner.store import Baseline, Decision, RunDraft, RunSummary
from planner.traffic import demand_of
from planner.workflows.planning import size
from planner.workflows.projects import OpenedRevision, SavedPlan, database_path
from planner.workflows.session import Session


@dataclass
class BenchImportReport:
    """The runs read from the files, and what was stored in the project (when one was named)."""

    runs: list[MeasuredRun]
    project: str | None = None
    stored: list[RunSummary] = field(default_factory=list)
    already: list[RunSummary] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Each run without its records (their count instead), and the stored runs' numbers."""
        return {
            "project": self.project,
            "runs": [run.metadata() | {"name": run.name, "records": len(run.records)} for run in self.runs],
            "stored": [s.number for s in self.stored],
            "already_stored": [s.number for s in self.already],
        }


def import_benchmarks(
    session: Session, files: Sequence[Path], *, project: str | None = None, db: Path | None = None
) -> BenchImportReport:
    """Read benchmark result files (format detected per file) and, with ``project``, store their runs.

    :raises BenchmarkFileError: naming the file, the format guessed and the field that failed;
        nothing is stored then.
    """
    runs = read_benchmark_files([Path(f) for f in files], benchmark_importers(session.host))
    report = BenchImportReport(runs, project)
    if project is None:
        return report
    from planner.store import runs as measured
    from planner.store.database import open_store

    drafts = _drafts(runs)
    with open_store(database_path(db)) as store:
        known = {_identity(s.metadata): s for s in measured.run_summaries(store, project)}
        fresh = [d for d in drafts if _identity(d.metadata) not in known]
        report.already = [known[_identity(d.metadata)] for d in drafts if _identity(d.metadata) in known]
        report.stored = [summary for summary, _added in measured.add_runs(store, project, fresh)]
    return report


def _drafts(runs: Sequence[MeasuredRun]) -> list[RunDraft]:
    digests: dict[str, str] = {}
    drafts = []
    for run in runs:
        path = run.source.split("#", 1)[0]
        if path not in digests:
            digests[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        metadata = run.metadata() | {"file_sha256": digests[path]}
        drafts.append(RunDraft(name=run.name, source=run.source, metadata=metadata, records=run.records))
    return drafts


def _identity(metadata: dict[str, Any]) -> tuple[Any, Any]:
    """A run is the same run when it comes from the same bytes at the same place in the file."""
    source = str(metadata.get("source", ""))
    return metadata.get("file_sha256"), source.rsplit("#", 1)[1] if "#" in source else ""


# ------------------------------------------------------------------- measuring live


@dataclass(frozen=True)
class LoadRequest:
    """What ``planner bench run`` measures: the endpoint, the loads, the bounds and the prompts.

    :param mode: ``closed`` (``loads`` are users) or ``open`` (``loads`` are requests per second).
    :param plan_file: draw prompt and output lengths from this plan's workload.
    :param dataset: send the prompts of this JSON Lines file instead of synthetic ones.
    :param input_tokens: the prompt length without a plan or dataset.
    :param output_tokens: the output length (``max_tokens``) without a plan, and for dataset
        lines that do not set one.
    """

    endpoint: Endpoint
    mode: str
    loads: list[float]
    limits: Limits
    plan_file: Path | None = None
    dataset: Path | None = None
    input_tokens: int = 512
    output_tokens: int = 128
    seed: int = 0


@dataclass
class BenchRunReport:
    """The runs measured (one per load level), how prompts were made, and what was stored."""

    runs: list[MeasuredRun]
    prompts_from: str
    tokenizer: TokenizerFit | None
    project: str | None = None
    stored: list[RunSummary] = field(default_factory=list)

    @property
    def stopped(self) -> str:
        """Why the sweep ended early (Ctrl-C, a hard time limit), ``""`` when it ran to the end."""
        return next((r.server["stopped"] for r in self.runs if r.server.get("stopped")), "")

    def to_json(self) -> dict[str, Any]:
        """Each run without its records (their count instead), the prompt source and the stored numbers."""
        return {
            "project": self.project,
            "prompts_from": self.prompts_from,
            "tokenizer": self.tokenizer.to_json() if self.tokenizer else None,
            "stopped": self.stopped,
            "runs": [run.metadata() | {"name": run.name, "records": len(run.records)} for run in self.runs],
            "stored": [s.number for s in self.stored],
        }


def bench_run(
    session: Session,
    request: LoadRequest,
    *,
    project: str | None = None,
    db: Path | None = None,
    progress: Callable[[float, dict[str, Any]], None] | None = None,
) -> BenchRunReport:
    """Measure an OpenAI-compatible endpoint at each load level (step 10) and, with ``project``,
    store the runs like imported ones (so ``bench envelope``, ``bench baseline`` and ``calibrate``
    read them). Ctrl-C ends the sweep; what was measured is kept and stored.

    ``progress(load, record)`` is called after every request.

    :raises PlannerError: for bad loads, an unreadable dataset or plan, an unknown project, or an
        endpoint that fails the tokenizer probes; nothing is sent for the first three.
    """
    from planner.bench.loadgen import check_loads, measured_run, run_sweep

    check_loads(request.mode, request.loads)
    _check_bounds(request)
    if project is not None:
        _check_project(project, db)
    prompts, prompts_from, fit = _prompts(request)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results = run_sweep(request.endpoint, prompts, request.mode, request.loads, request.limits, progress)
    source = f"{request.endpoint.completions_url} at {started}"
    runs = [measured_run(result, request.endpoint, f"{source}#{i + 1}") for i, result in enumerate(results)]
    report = BenchRunReport(runs, prompts_from, fit, project)
    if project is not None and runs:
        report.stored = _store_measured(project, db, runs, {"prompts_from": prompts_from} | (
            {"tokenizer": fit.to_json()} if fit else {}))  # fmt: skip
    return report


def _check_bounds(request: LoadRequest) -> None:
    """Every bound and length above 0, named by its command-line flag."""
    e, limits = request.endpoint, request.limits
    bounds = {
        "--requests": limits.requests, "--duration": limits.duration_s, "--timeout": e.request_timeout_s,
        "--stall-timeout": e.stall_timeout_s, "--input-tokens": request.input_tokens,
        "--output-tokens": request.output_tokens,
    }  # fmt: skip
    for flag, value in bounds.items():
        if not value > 0:
            raise PlannerError(
                f"{flag} must be above 0, found {value:g}", path=flag, fix=f"give {flag} a number above 0"
            )


def _check_project(project: str, db: Path | None) -> None:
    """Fail before measuring, not after, when the project does not exist."""
    from planner.store import runs as measured
    from planner.store.database import open_store

    with open_store(database_path(db)) as store:
        measured.run_summaries(store, project)


def _prompts(request: LoadRequest) -> tuple[Iterator[Prompt], str, TokenizerFit | None]:
    """The prompts to send, where they come from, and the tokenizer fit they were sized with."""
    import asyncio

    from planner.bench.prompts import LengthDistribution, dataset_prompts, fit_tokenizer, synthetic_prompts

    if request.dataset is not None:
        return dataset_prompts(request.dataset, request.output_tokens), f"dataset {request.dataset}", None
    if request.plan_file is not None:
        from planner.workflows.planning import read_plan

        workload = read_plan(request.plan_file).workload
        inputs, outputs = LengthDistribution.of(workload.input_tokens), LengthDistribution.of(workload.output_tokens)
        where = f"synthetic, lengths of {request.plan_file}"
    else:
        inputs, outputs = (
            LengthDistribution.fixed(request.input_tokens),
            LengthDistribution.fixed(request.output_tokens),
        )
        where = f"synthetic, {request.input_tokens} tokens in, {request.output_tokens} out"
    fit = asyncio.run(fit_tokenizer(request.endpoint))
    if not fit.measured:
        where += " (the endpoint reports no usage: prompt lengths estimated)"
    return synthetic_prompts(fit, inputs, outputs, request.seed), where, fit


def _store_measured(
    project: str, db: Path | None, runs: Sequence[MeasuredRun], extra: dict[str, Any]
) -> list[RunSummary]:
    from planner.store import runs as measured
    from planner.store.database import open_store

    drafts = [RunDraft(name=r.name, source=r.source, metadata=r.metadata() | extra, records=r.records) for r in runs]
    with open_store(database_path(db)) as store:
        return [summary for summary, _added in measured.add_runs(store, project, drafts)]


# --------------------------------------------------------------- envelopes and baseline


@dataclass(frozen=True)
class SloTargets:
    """SLO targets given on the command line; each one set replaces the plan's."""

    ttft_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    percentile: float | None = None

    def given(self) -> bool:
        """True when any target is set."""
        return any(v is not None for v in (self.ttft_ms, self.itl_ms, self.e2e_ms))


@dataclass
class BenchEnvelopeReport:
    """Measured envelopes against the SLOs they were judged on."""

    envelope: MeasuredEnvelope
    targets: Targets
    slo_from: str
    runs: int

    def to_json(self) -> dict[str, Any]:
        """The envelope, the targets (ms) and where they came from."""
        t = self.targets
        targets = {"ttft_ms": _ms(t.ttft_s), "itl_ms": _ms(t.itl_s), "e2e_ms": _ms(t.e2e_s), "percentile": t.percentile}
        return {"slo": targets, "slo_from": self.slo_from, "runs": self.runs, **self.envelope.to_json()}


def _ms(seconds: float | None) -> float | None:
    return seconds * 1000 if seconds is not None else None


def bench_envelope(
    session: Session,
    *,
    project: str | None = None,
    files: Sequence[Path] = (),
    plan_file: Path | None = None,
    slo: SloTargets = SloTargets(),
    db: Path | None = None,
) -> BenchEnvelopeReport:
    """Cr_closed, Cr_open, goodput and the curve from a project's runs or from result files.

    The SLOs are ``slo``'s where set, else the plan file's, else the project's head revision's.

    :raises PlannerError: when there are no runs, or no SLO to judge them against.
    """
    runs = project_runs(project, db) if project is not None else _read_files(session, files)
    if not runs:
        raise PlannerError(
            f"project {project!r} has no benchmark runs" if project else "no runs to judge",
            path=str(database_path(db)) if project else "",
            fix="import results first: planner bench import FILE... --project NAME",
        )
    targets, slo_from = _targets(slo, plan_file, project, db)
    return BenchEnvelopeReport(measured_envelope(runs, targets), targets, slo_from, len(runs))


def _read_files(session: Session, files: Sequence[Path]) -> list[MeasuredRun]:
    return read_benchmark_files([Path(f) for f in files], benchmark_importers(session.host))


def project_runs(project: str, db: Path | None = None, refs: Sequence[str] | None = None) -> list[MeasuredRun]:
    """The project's runs (all, or those of ``refs``: numbers or digest prefixes) as measured runs."""
    from planner.store import runs as measured
    from planner.store.database import open_store

    with open_store(database_path(db)) as store:
        wanted = refs if refs is not None else [str(s.number) for s in measured.run_summaries(store, project)]
        stored = [measured.load_run(store, project, ref) for ref in wanted]
    return [MeasuredRun.from_stored(r.summary.metadata, r.records) for r in stored]


def _targets(slo: SloTargets, plan_file: Path | None, project: str | None, db: Path | None) -> tuple[Targets, str]:
    from planner.plan_simulation import targets_of
    from planner.workflows.planning import read_plan

    base, source = None, "the command line"
    if plan_file is not None:
        base, source = targets_of(read_plan(plan_file)), str(plan_file)
    elif project is not None and not (slo.given() and slo.percentile is not None):
        plan = _head_plan(project, db)
        if plan is not None:
            base, source = targets_of(plan), f"project {project}'s head revision"
    if base is None and not slo.given():
        raise PlannerError(
            "no SLO to judge the runs against",
            path=str(plan_file or ""),
            fix="give --plan FILE, save a revision of the project (planner plan FILE --save P), "
            "or set --ttft-ms/--itl-ms/--e2e-ms",
        )

    def pick(given: float | None, planned: float | None) -> float | None:
        return given / 1000 if given is not None else planned

    percentile = slo.percentile or (base.percentile if base else 95.0)
    if base is None:
        return Targets(pick(slo.ttft_ms, None), pick(slo.itl_ms, None), pick(slo.e2e_ms, None), percentile), source
    if slo.given() or slo.percentile:
        source += " with the command line's targets"
    targets = Targets(
        pick(slo.ttft_ms, base.ttft_s), pick(slo.itl_ms, base.itl_s), pick(slo.e2e_ms, base.e2e_s), percentile
    )
    return targets, source


def _head_plan(project: str, db: Path | None) -> Plan | None:
    from planner.workflows.projects import history, open_revision

    if not history(project, db).entries:
        return None
    return open_revision(project, "head", db).plan


def run_refs(runset: str) -> list[str] | None:
    """``all`` (``None``), or numbers and ranges: ``1,3,5-8``; a digest prefix is kept as it is."""
    if runset.strip().lower() == "all":
        return None
    refs: list[str] = []
    for part in (p.strip() for p in runset.split(",") if p.strip()):
        low, dash, high = part.partition("-")
        if dash and low.isdigit() and high.isdigit():
            refs.extend(str(n) for n in range(int(low), int(high) + 1))
        else:
            refs.append(part)
    if not refs:
        raise PlannerError("no run named", path="RUNSET", fix="name runs like 1,2,5-8, digest prefixes, or 'all'")
    return refs


@dataclass
class BaselineReport:
    """The project's new baseline, its measured envelope, the plan's baseline section, and the runs
    measured against what the plan's deployment predicts."""

    project: str
    baseline: Baseline
    envelope: BenchEnvelopeReport
    plan_baseline: dict[str, Any]
    deployment: str
    comparisons: list[Comparison]
    saved: SavedPlan | None = None
    #: The pools the head revision serves the load from ("9 prefill + 6 decode replicas"), "" when
    #: aggregated: the prediction the runs are measured against is one replica served aggregated.
    served_as_pools: str = ""

    def to_json(self) -> dict[str, Any]:
        """Every part by name."""
        return {
            "project": self.project,
            "baseline": self.baseline.to_json(),
            "envelope": self.envelope.to_json(),
            "plan_baseline": self.plan_baseline,
            "deployment": self.deployment,
            "served_as_pools": self.served_as_pools,
            "comparisons": [c.to_json() for c in self.comparisons],
            "inside_band": sum(c.inside for c in self.comparisons),
            "saved_revision": self.saved.saved.to_json() if self.saved else None,
        }


def bench_baseline(
    session: Session,
    project: str,
    runset: str,
    *,
    note: str = "",
    save: bool = False,
    backend: str | None = None,
    db: Path | None = None,
) -> BaselineReport:
    """Make runs the project's baseline (step 10) and measure them against the head revision's prediction.

    The baseline's envelope becomes the plan's ``baseline:`` section (Cr_closed, the output tokens/s
    at it, Cr_open), which the TCO and the rules use instead of the estimate; with ``save`` the plan
    with that section is sized again and stored as the project's next revision.

    :raises PlannerError: when the project has no revision to compare with, or a run is unknown.
    """
    from planner.workflows.projects import plan_and_save, set_baseline

    refs = run_refs(runset)
    head, dep = _head_deployment(session, project, db)
    runs = project_runs(project, db, refs)
    report = bench_envelope(session, project=project, db=db)
    envelope = measured_envelope(runs, report.targets)
    comparisons = compare(head.plan, dep, session.performance_model(backend or head.revision.summary.backend), runs)
    stored = set_baseline(project, [str(r) for r in refs] if refs else _all_numbers(project, db), note, db)
    section = plan_baseline(envelope, runs)
    result = BaselineReport(
        project, stored, BenchEnvelopeReport(envelope, report.targets, report.slo_from, len(runs)), section,
        dep.label, comparisons, served_as_pools=served_as_pools(head.revision.result),
    )  # fmt: skip
    if save and section:
        plan_ = head.plan.model_copy(update={"baseline": PlanBaseline(**section)})
        message = f"baseline: measured Cr_closed {section.get('cr_closed_concurrency')} from runs {runset}"
        result.saved = plan_and_save(session, plan_, f"{project} baseline", project, message, backend=backend, db=db)
    return result


def served_as_pools(result: dict[str, Any]) -> str:
    """The prefill and decode pools a stored revision's result serves the load from, as words ("9
    prefill + 6 decode replicas"); "" when it serves it aggregated."""
    chosen = (result.get("sizing", {}).get("chosen") or {}).get("simulation") or {}
    pools = chosen.get("disaggregated")
    if not pools:
        return ""
    return f"{pools['prefill_replicas']} prefill + {pools['decode_replicas']} decode replicas"


def _head_deployment(session: Session, project: str, db: Path | None) -> tuple[OpenedRevision, Deployment]:
    """The project's head revision and the deployment it chose."""
    from planner.workflows.projects import open_revision

    if _head_plan(project, db) is None:
        raise PlannerError(
            f"project {project!r} has no revision to measure the runs against",
            path=str(database_path(db)),
            fix=f"save the plan first: planner plan FILE --save {project!r}",
        )
    head = open_revision(project, "head", db)
    chosen = (head.revision.result.get("sizing", {}).get("chosen") or {}).get("operating_point", {}).get("deployment")
    if not chosen:
        raise PlannerError(
            f"the head revision of {project!r} chose no deployment", fix="save a plan whose sizing finds one"
        )
    return head, stored_deployment(head.plan, chosen, session.catalog)


def _all_numbers(project: str, db: Path | None) -> list[str]:
    from planner.workflows.projects import list_runs

    return [str(s.number) for s in list_runs(project, db)]


def plan_baseline(envelope: MeasuredEnvelope, runs: Sequence[MeasuredRun]) -> dict[str, Any]:
    """The plan's ``baseline:`` section from a measured envelope (only what was measured)."""
    section: dict[str, Any] = {}
    at_cr = [r for r in runs if r.mode == "closed" and r.load == envelope.cr_closed]
    if envelope.cr_closed is not None and envelope.cr_closed >= 1:
        section["cr_closed_concurrency"] = int(envelope.cr_closed)
        if at_cr and at_cr[0].output_tok_s:
            section["cr_closed_output_tok_s"] = at_cr[0].output_tok_s
    if envelope.cr_open_req_s:
        section["cr_open_requests_per_s"] = envelope.cr_open_req_s
    if section:
        tools = sorted({r.format for r in runs})
        section["tool"] = ", ".join(tools)
        section["measured_on"] = ", ".join(sorted({r.hardware or r.model or "" for r in runs} - {""}))
    return section


# ------------------------------------------------------------------------ benchmark plan


def bench_plan(
    session: Session,
    plan_: Plan,
    *,
    replicas: int | None = None,
    url: str = "http://localhost:8000",
    source: str = "<plan>",
    backend: str | None = None,
) -> BenchmarkPlan:
    """What to run to measure ``plan_``: its scenario's loads, the request shape, run lengths and the
    command lines of vllm bench serve, GuideLLM and AIPerf (the model by its Hugging Face id).

    :param replicas: replicas behind the URL, the loads divided by it; None: the replicas the plan
        serves its load with, so the loads are one replica's share (as ``planner bench baseline``
        predicts each run: one replica at the run's load). The plan is sized for them, and for the
        E2E of its mean request that turns requests in flight into a rate as its simulation does.
    :raises PlannerError: for fewer than one replica.
    """
    if replicas is not None and replicas < 1:
        raise PlannerError("--replicas must be at least 1", path="--replicas", fix="give the replicas behind the URL")
    _, sizing = size(session, plan_, source, backend=backend)
    fleet = sizing.best.sizing if sizing.best is not None else None
    mean_e2e_ms = mean_request_e2e_ms(fleet, demand_of(plan_)) if fleet is not None else None
    why = ""
    if replicas is None:
        replicas, why = plan_replicas(sizing)
    # Servers are addressed by the Hugging Face id: the plan's when it names one, else the catalog's alias.
    spec = session.catalog.models.get(plan_.model.id)
    served = plan_.model.id if "/" in plan_.model.id else next((a for a in spec.aliases if "/" in a), spec.id)
    bench = benchmark_plan(
        plan_, replicas=replicas, url=url, model=served, mean_e2e_s=mean_e2e_ms / 1000 if mean_e2e_ms else None
    )
    if why:
        bench.notes.append(why)
    return bench


def plan_replicas(sizing: PlanSizing) -> tuple[int, str]:
    """The replicas a sized plan serves its load with, one replica's share of it being what is
    benchmarked, and a note saying so: those the simulation settled, or where the plan serves the load
    from prefill and decode pools those aggregated serving needs (the baseline predicts one replica
    served aggregated); one, with a note, when nothing meets the plan."""
    if sizing.best is None:
        return 1, "nothing meets the plan, so the loads are the whole service's (--replicas N divides them)"
    decision = sizing.best.decision
    if decision is None:
        count = sizing.best.sizing.replicas_for_load
        return count, f"the plan serves the peak with {count} replicas by estimate: the loads are one replica's"
    if decision.pools is not None:
        count = decision.simulated_aggregated_replicas
        return count, (
            f"the plan serves the peak from {decision.pools.prefill_replicas} prefill + "
            f"{decision.pools.decode_replicas} decode replicas; the loads are one of the {count} replicas aggregated "
            "serving needs, the replica `planner bench baseline` predicts"
        )
    count = decision.replicas_for_load
    return count, (
        f"the plan serves the peak with {count} replicas: the loads are one replica's share, as `planner bench "
        "baseline` predicts a run (--replicas N for an endpoint in front of N of them)"
    )


# ---------------------------------------------------------------------- scaling decision


@dataclass
class ScaleReport:
    """The scaling decision for a project and whether it was recorded."""

    project: str
    decision: ScalingDecision
    deployment: str
    runs_from: str
    recorded: Decision | None

    def to_json(self) -> dict[str, Any]:
        """The decision, the deployment, which runs it read, and the record."""
        return {
            "project": self.project, "deployment": self.deployment, "runs_from": self.runs_from,
            **self.decision.to_json(), "recorded": self.recorded.to_json() if self.recorded else None,
        }  # fmt: skip


def scale(
    session: Session, project: str, *, backend: str | None = None, record: bool = True, db: Path | None = None
) -> ScaleReport:
    """Step 11: the dominant bottleneck in the project's baseline runs (all its runs without a
    baseline) and the next lever not yet decided, stored as a decision with its rationale.

    :raises PlannerError: without a revision or runs.
    """
    from planner.store import runs as measured
    from planner.store.database import open_store
    from planner.workflows.projects import record_decision

    head, dep = _head_deployment(session, project, db)
    with open_store(database_path(db)) as store:
        history_ = measured.baselines(store, project)
        decided = measured.decisions(store, project)
    refs = history_[-1].runs if history_ else None
    runs = [r for r in project_runs(project, db, refs) if not math.isinf(r.load)]
    if not runs:
        raise PlannerError(
            f"project {project!r} has no benchmark run to read", path=str(database_path(db)),
            fix="import results first: planner bench import FILE... --project NAME",
        )  # fmt: skip
    tried = [d.details["lever"]["id"] for d in decided if d.details.get("kind") == "scaling" and d.details.get("lever")]
    model = session.performance_model(backend or head.revision.summary.backend)
    decision = decide(head.plan, dep, model, runs, tried)
    runs_from = "the baseline" if refs else "every run (no baseline set)"
    recorded = None
    if record and decision.lever is not None:
        lever = decision.lever
        change = f"{lever.knob} {lever.old} -> {lever.new}" if lever.knob else lever.action
        text = f"{lever.family}: {change}"
        details = decision.to_json() | {"kind": "scaling", "deployment": dep.label}
        recorded = record_decision(
            project,
            Decision(text, f"{decision.bottleneck}-bound: {decision.why}", details, head.revision.summary.digest),
            db,
        )
    return ScaleReport(project, decision, dep.label, runs_from, recorded)


# --------------------------------------------------------------------------- calibration


@dataclass
class CalibrationReport:
    """Factors fitted to the project's runs, the errors before and after, and the revision it became."""

    project: str
    deployment: str
    calibration: ProjectCalibration
    saved: SavedPlan | None = None

    def to_json(self) -> dict[str, Any]:
        """Every figure by name."""
        c = self.calibration
        return {
            "project": self.project, "deployment": self.deployment, "before": c.before.__dict__,
            "after": c.after.__dict__, "fitted_runs": c.fitted_runs, "held_out_runs": c.held_out_runs,
            "fitted_error_pct": list(c.fitted_error_pct), "held_out_error_pct": list(c.held_out_error_pct),
            "skipped": c.skipped, "saved_revision": self.saved.saved.to_json() if self.saved else None,
        }  # fmt: skip


def calibrate(session: Session, project: str, *, save: bool = True, db: Path | None = None) -> CalibrationReport:
    """Fit the built-in model's efficiency factors to the project's baseline runs (every run without
    a baseline), with a quarter held out; with ``save``, size the plan with them and store it as the
    next revision (its message says what they were calibrated on).

    :raises CalibrationRefused: with too few runs, or runs that contradict each other.
    """
    from planner.performance_models import BUILTIN
    from planner.store import runs as measured
    from planner.store.database import open_store
    from planner.workflows.projects import plan_and_save

    head, dep = _head_deployment(session, project, db)
    with open_store(database_path(db)) as store:
        history_ = measured.baselines(store, project)
    runs = project_runs(project, db, history_[-1].runs if history_ else None)
    where = f"project {project}"
    result = calibrate_on_runs(runs, dep, session.catalog, BUILTIN.efficiency(dep), where)
    report = CalibrationReport(project, dep.label, result)
    if save:
        runtime = head.plan.runtime.model_copy(update={"efficiency": result.factors()})
        held = result.held_out_error_pct
        error = (
            f"; held-out error {held[0]:.0f}% -> {held[1]:.0f}%" if held[0] is not None and held[1] is not None else ""
        )
        message = f"calibrated on {result.fitted_runs + result.held_out_runs} runs of {where}{error}"
        plan_ = head.plan.model_copy(update={"runtime": runtime})
        report.saved = plan_and_save(
            session, plan_, f"{project} calibrated", project, message, backend="builtin", db=db
        )
    return report
