"""Steps 1-9 as user actions: read a plan, size it, check it, search it, estimate one configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from planner.brownfield import AlternativeChoice, ExistingFleet, alternative_choices, existing_for
from planner.decision import FleetDecision
from planner.errors import NothingFitsError, PlannerError
from planner.limits import CONCURRENCY, PARALLEL, TOKENS, out_of_bounds
from planner.performance_models import choose
from planner.plan import Plan, TokenDistribution, WorkloadProfile
from planner.plan_tco import PlanTco, plan_tco
from planner.planfile import load_plan, plan_from_data, plan_text
from planner.resolve import ResolvedPlan, refused_knob_value, resolve_plan, unknown_knob
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import Estimate
from planner.sizing.estimate import estimate as estimate_one
from planner.sizing.pins import budget_refusal, pin_conflicts
from planner.sizing.plan_sizing import VERIFIED, PlanSizing, size_plan
from planner.sizing.search import SETTLED, Candidate
from planner.sizing.search import search as search_candidates
from planner.specs import BYTES_PER_ELEMENT
from planner.tco import Assumption, CostAssumptions, assumption_table, cost_assumptions, default_costs
from planner.traffic import Population, population_of
from planner.validation import Validation, validate_plan
from planner.workflows.session import Progress, Session, counted_steps

EXAMPLE_PLAN = "knowledge-assistant.yaml"


def example_plan_path() -> Path:
    """The bundled example plan (use case 1: an internal knowledge assistant)."""
    return Path(str(resources.files("planner") / "examples" / EXAMPLE_PLAN))


def read_plan(path: str | Path) -> Plan:
    """Read and validate a plan file (YAML or JSON).

    :raises InputError: naming the file, each bad field with its line, and the fix.
    """
    return load_plan(path)


def plan_from_fields(data: dict[str, Any], source: str = "<plan>") -> Plan:
    """Validate plan fields edited in memory (the desktop app's forms) as a plan file is validated.

    :raises InputError: naming each bad field by its dotted path, with the fix (the messages
        ``planner plan`` prints for the same values in a file).
    """
    return plan_from_data(data, source)


def write_plan(plan_: Plan, path: str | Path) -> Path:
    """Write ``plan_`` as a plan file, JSON when ``path`` ends in ``.json``, else YAML; returns the path.

    The file is written beside its final name and moved over it, so a failed write leaves the old one.
    """
    target = Path(path)
    text = plan_text(plan_, as_json=target.suffix.lower() == ".json")
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PlannerError(
            f"cannot write the plan: {exc.strerror}", path=str(target), fix="choose a folder you can write to"
        ) from None
    return target


def _resolve(session: Session, plan: Plan, source: str) -> ResolvedPlan:
    return resolve_plan(plan, session.catalog, source)


#: What the progress of a search says it is doing.
SIZING = "sizing candidate configurations"


@dataclass(frozen=True)
class BrownfieldAlternative:
    """A change to the model or its precision, sized on the same existing fleet.

    ``decision`` is ``None`` when nothing meets the plan with the change; ``fleet`` is what
    the existing nodes carry with it.
    """

    change: str
    decision: FleetDecision | None
    fleet: ExistingFleet | None

    def to_json(self) -> dict[str, Any]:
        """What changes, the deployment it leads to and what the existing nodes carry with it."""
        d, fleet = self.decision, self.fleet
        return {
            "change": self.change,
            "deployment": d.deployment.label if d else None,
            "existing_fleet": fleet.to_json(d.deployment) if fleet and d else None,
        }

    def describe(self) -> str:
        """One line: the change and what the existing fleet carries with it."""
        if self.decision is None or self.fleet is None:
            return f"{self.change}: nothing meets the plan"
        return f"{self.change} ({self.decision.deployment.label}): {self.fleet.describe(self.decision.deployment)}"


@dataclass
class PlanReport:
    """A plan sized and checked: what ``planner plan`` prints and the desktop app shows."""

    source: str
    resolved: ResolvedPlan
    sizing: PlanSizing
    validation: Validation
    costs: CostAssumptions = field(default_factory=default_costs)
    tco: PlanTco | None = None
    #: For an existing fleet that cannot carry the plan: the model and precision changes sized on it.
    alternatives: list[BrownfieldAlternative] = field(default_factory=list)

    @property
    def decision(self) -> FleetDecision | None:
        """The chosen fleet as the simulation settled it (replicas, envelopes, cost), if any."""
        return self.sizing.best.decision if self.sizing.best else None

    @property
    def existing_fleet(self) -> ExistingFleet | None:
        """The plan's existing nodes (brownfield) against the decided fleet, if it declares any."""
        return existing_for(self.resolved.plan, self.decision)

    @property
    def feasible(self) -> bool:
        """True when some configuration meets the plan."""
        return self.sizing.best is not None

    @property
    def warnings(self) -> list[str]:
        """Rule packs that could not run (the findings of the others still hold)."""
        return [str(p) for p in self.validation.problems]

    @property
    def assumptions(self) -> list[Assumption]:
        """Every cost assumption with its value, origin (plan or catalog) and source."""
        gpu = self.sizing.best.sizing.deployment.gpu if self.sizing.best else self.resolved.gpu
        return assumption_table(self.costs, gpu, self.resolved.model.id)

    def to_json(self) -> dict[str, Any]:
        """The resolved plan, its sizing (the chosen fleet with its simulation), the cost
        assumptions with their origins and the TCO, and the findings."""
        existing = self.existing_fleet
        return {
            **self.resolved.to_json(),
            "sizing": self.sizing.to_json(),
            "existing_fleet": (
                {
                    **existing.to_json(self.decision.deployment),
                    "alternatives": [a.to_json() for a in self.alternatives],
                }
                if existing and self.decision
                else None
            ),
            "costs": {
                "assumptions": [vars(a) for a in self.assumptions],
                "tco": self.tco.to_json() if self.tco else None,
            },
            "findings": [f.model_dump(mode="json") for f in self.validation.findings],
        }


def size(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    backend: str | None = None,
    progress: Progress | None = None,
    seed: int = 0,
    on_estimate: Callable[[SearchReport], None] | None = None,
    verified: int = VERIFIED,
) -> tuple[ResolvedPlan, PlanSizing]:
    """Resolve a plan and size it: search by estimate (told to ``on_estimate``), check the cheapest in
    simulation (until ``verified`` hold, see :func:`planner.sizing.plan_sizing.size_plan`)."""
    resolved = _resolve(session, plan_, source)
    model = session.performance_model(backend)
    sizing = size_plan(
        resolved,
        session.catalog,
        model,
        counted_steps(progress, SIZING),
        seed=seed,
        on_point=counted_steps(progress),
        on_ranked=(lambda ranked, tried: on_estimate(SearchReport(ranked, tried, backend=model.name)))
        if on_estimate
        else None,
        verified=verified,
    )
    return resolved, sizing


def _sized(
    session: Session,
    plan_: Plan,
    source: str,
    backend: str | None,
    progress: Progress | None,
    on_estimate: Callable[[SearchReport], None] | None = None,
) -> tuple[ResolvedPlan, PlanSizing, Validation]:
    resolved, sizing = size(session, plan_, source, backend=backend, progress=progress, on_estimate=on_estimate)
    return resolved, sizing, validate_plan(resolved, session.catalog, sizing, session.rules)


def plan(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    backend: str | None = None,
    progress: Progress | None = None,
    on_estimate: Callable[[SearchReport], None] | None = None,
) -> PlanReport:
    """Resolve a plan's ids, size it (the cheapest configuration meeting the SLOs on both axes,
    its replica count checked in simulation of the whole fleet at the peak) and check it
    against the rules.

    :param source: what the plan came from (a file name), used in messages.
    :param backend: the performance model's name (default ``auto``, see :class:`Session`).
    :param on_estimate: told the candidates ranked by estimate before the simulation checks them
        (what ``search`` returns; the desktop app shows it while the simulation runs).
    """
    resolved, sizing, validation = _sized(session, plan_, source, backend, progress, on_estimate)
    costs = cost_assumptions(resolved.plan.costs, resolved.model.id)
    best = sizing.best
    tco = plan_tco(resolved.plan, best.sizing, best.decision, costs) if best else None
    report = PlanReport(source, resolved, sizing, validation, costs, tco)
    report.alternatives = brownfield_alternatives(session, report, backend=backend, progress=progress)
    return report


def brownfield_alternatives(
    session: Session, report: PlanReport, *, backend: str | None = None, progress: Progress | None = None
) -> list[BrownfieldAlternative]:
    """When the plan's existing fleet cannot carry it, size the model and precision changes
    that might (see :func:`planner.brownfield.alternative_choices`) on the same fleet.

    Empty when the plan declares no existing fleet, nothing was sized, or the fleet carries
    the load (and finishes a batch in its window).
    """
    existing, decision = report.existing_fleet, report.decision
    if existing is None or decision is None or (not existing.shortfall and existing.fits_window is not False):
        return []
    plan_ = report.resolved.plan
    choices = alternative_choices(
        plan_, decision.deployment, session.catalog.models.specs(), decision.deployment.runtime
    )
    return [_sized_alternative(session, plan_, report.source, c, backend, progress) for c in choices]


def _sized_alternative(
    session: Session,
    plan_: Plan,
    source: str,
    choice: AlternativeChoice,
    backend: str | None,
    progress: Progress | None,
) -> BrownfieldAlternative:
    changed = plan_.model_copy(update={"model": choice.model})
    # a what-if beside the plan's own decision: the first candidate that holds in simulation
    resolved, sizing = size(session, changed, source, backend=backend, progress=progress, verified=1)
    decision = sizing.best.decision if sizing.best else None
    return BrownfieldAlternative(choice.change, decision, existing_for(resolved.plan, decision))


@dataclass
class CheckReport:
    """Findings of the rules on a sized plan: what ``planner check`` gates a review with."""

    source: str
    validation: Validation

    @property
    def has_errors(self) -> bool:
        """True when any finding is an error."""
        return self.validation.has_errors

    @property
    def warnings(self) -> list[str]:
        """Rule packs that could not run."""
        return [str(p) for p in self.validation.problems]

    def to_json(self) -> dict[str, Any]:
        """Error count, findings, and rule-pack problems."""
        return {
            "errors": sum(f.severity == "error" for f in self.validation.findings),
            "findings": [f.model_dump(mode="json") for f in self.validation.findings],
            "rule_problems": [str(p) for p in self.validation.problems],
        }


def check(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    backend: str | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Size a plan and run the rules on it: findings by severity with evidence and remedy."""
    _, _, validation = _sized(session, plan_, source, backend, progress)
    return CheckReport(source, validation)


@dataclass
class SearchReport:
    """Every candidate that meets the plan on both axes, cheapest first, and how many were tried."""

    ranked: list[Candidate]
    tried: int
    conflicts: list[str] = field(default_factory=list)
    #: The performance model chosen for the search (candidates it did not re-time say so).
    backend: str = "builtin"
    #: The places of the ranking the chosen model settles (:data:`planner.sizing.search.SETTLED`).
    settled: int = SETTLED
    #: The plan's ``serving_stack.disaggregated``: None (left open) or True, ``planner plan`` may serve
    #: the fleet as prefill and decode pools, which these aggregated rows do not show.
    disaggregated: bool | None = False

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        """The ``top`` candidates (all when ``None``) with their full sizing; ``screened_only`` marks
        those left with the built-in model's screening figures (see :func:`planner.sizing.search.search`)."""
        shown = self.ranked if top is None else self.ranked[:top]
        return {
            "candidates_tried": self.tried,
            "feasible": len(self.ranked),
            "performance_model": self.backend,
            "pins_that_cannot_hold": self.conflicts,
            "candidates": [
                {**c.sizing.to_json(), "eur_per_1m_tokens": c.eur_per_m_tokens, "screened_only": c.screened_only}
                for c in shown
            ],
        }


def search(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    backend: str | None = None,
    progress: Progress | None = None,
) -> SearchReport:
    """Size every configuration the plan allows and rank those that meet it by EUR per 1M tokens
    (none, with the reasons, when a pinned choice cannot hold)."""
    resolved = _resolve(session, plan_, source)
    conflicts = pin_conflicts(resolved, session.catalog)
    if conflicts:
        return SearchReport([], 0, [c.line for c in conflicts])
    model = session.performance_model(backend)
    ranked, tried = search_candidates(resolved, session.catalog, model, progress=counted_steps(progress, SIZING))
    return SearchReport(ranked, tried, backend=model.name, disaggregated=plan_.serving_stack.disaggregated)


@dataclass(frozen=True)
class EstimateRequest:
    """One configuration to estimate, as a user states it (ids, aliases, optional sizes).

    Unset values take the defaults ``planner estimate`` documents: TP = GPUs / PP (1 with
    attention data parallelism), the checkpoint's weight precision, a bf16 KV cache, vLLM.
    """

    model: str
    gpu: str
    isl: int
    osl: int
    concurrency: int | None = None
    offline: bool = False
    gpus: int | None = None
    tp: int | None = None
    pp: int = 1
    ep: int = 1
    attention_dp: bool = False
    weights: str | None = None
    kv_dtype: str | None = None
    runtime: str = "vllm"
    backend: str | None = None
    #: Medians of the requests the batch is made of, where they vary: ``isl``/``osl`` are then the
    #: p95 request timed among them (as a plan's sizing times its p95 request); None: all alike.
    isl_p50: int | None = None
    osl_p50: int | None = None
    #: Prompt tokens every request shares (a prefix cache holds them), with the medians.
    shared_prefix: int = 0
    #: Runtime knobs as given (``--knob NAME=VALUE``: the value as text, read by the knob's type),
    #: as a plan's runtime.knobs sets them.
    knobs: dict[str, Any] = field(default_factory=dict)

    def population(self) -> Population | None:
        """The requests of the batch: log-normal through the medians and ``isl``/``osl`` as p95s
        (as a plan's workload draws them), or None when no median is given."""
        if self.isl_p50 is None and self.osl_p50 is None:
            return None
        workload = WorkloadProfile(
            input_tokens=TokenDistribution(p50=self.isl_p50 or self.isl, p95=self.isl),
            output_tokens=TokenDistribution(p50=self.osl_p50 or self.osl, p95=self.osl),
            shared_prefix_tokens=self.shared_prefix,
        )
        return population_of(workload)


def estimate(session: Session, request: EstimateRequest) -> Estimate:
    """Capacity and performance of one configuration, with error bands and provenance.

    :raises UnknownIdError: for an id no plugin provides.
    :raises PlannerError: listing every inconsistent value (precision, TP x PP, heads, knobs) with its fix;
        then a token budget vLLM would refuse at start-up, with the settings that hold.
    """
    catalog = session.catalog
    model, gpu, runtime = (
        catalog.models.get(request.model),
        catalog.gpus.get(request.gpu),
        catalog.runtimes.get(request.runtime),
    )
    weights = request.weights or model.native_weight_dtype
    kv = request.kv_dtype or "bf16"
    problems = _size_problems(request)
    tp = 1
    if not any(p[0].startswith(_SPLIT_FLAGS) for p in problems):
        # The GPU split is sound, so it can be divided and checked against the model.
        tp = request.tp or (request.gpus // request.pp if request.gpus and not request.attention_dp else 1)
        problems += _estimate_problems(request, model, gpu, tp, weights, kv)
    knobs, knob_problems = _estimate_knobs(request.knobs, runtime)
    _refuse(problems + knob_problems)
    dep = Deployment(
        model,
        gpu,
        runtime,
        weights,
        kv,
        tp=tp,
        pp=request.pp,
        ep=request.ep,
        attention_dp=request.attention_dp,
        knobs=knobs,
    )
    refused = budget_refusal(dep, request.isl + request.osl)
    if refused is not None:
        why, settings = refused
        _refuse([(why, " or ".join(f"--knob {name}={str(value).lower()}" for name, value in settings))])
    timed_by = choose(session.performance_model(request.backend), dep)
    return estimate_one(
        dep,
        request.isl,
        request.osl,
        model=timed_by,
        concurrency=request.concurrency,
        offline=request.offline,
        population=request.population(),
    )


def _refuse(problems: list[tuple[str, str]]) -> None:
    """Raise one error for an estimate request's problems, each (what is wrong, the fix); none: nothing."""
    if problems:
        raise PlannerError(
            "; ".join(p[0] for p in problems), path="planner estimate", fix="; ".join(p[1] for p in problems)
        )


#: The estimate's flag for each plan field of the parallel layout (a layout knob's fix).
LAYOUT_FLAGS = {"tp": "--tp N", "pp": "--pp N", "ep": "--ep N", "dp": "--attention-dp with --ep N"}


def _estimate_knobs(given: dict[str, Any], runtime: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The runtime knobs of an estimate request read by each knob's type (a value given as text:
    '2048', 'true'), and (what is wrong, the fix) for each knob the runtime lacks or value it refuses,
    as a plan's runtime.knobs are checked."""
    knobs: dict[str, Any] = {}
    problems = []
    for name, value in given.items():
        unknown = unknown_knob(name, runtime)
        if unknown is not None:
            problems.append((f"--knob {name}: {unknown[0]}", unknown[1]))
            continue
        if name in runtime.layout_knobs:  # (the estimate's layout is its flags', as a plan's is its fields')
            flag = LAYOUT_FLAGS[runtime.layout_knobs[name]]
            problems.append((f"--knob {name}: it sets the replica's parallel layout", f"give {flag} instead"))
            continue
        read = _knob_value(value, runtime.knob(name).value_type())
        refused = refused_knob_value(name, read, runtime)
        if refused is not None:
            problems.append((f"--knob {name}={value}: {refused[0]}", refused[1]))
            continue
        knobs[name] = read
    return knobs, problems


def _knob_value(value: Any, kind: str) -> Any:
    """``value`` as a knob of ``kind`` reads it, where it is text ('2048' -> 2048, 'true' -> True);
    as given where it does not read so (the knob's refusal then names it)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        return value
    if kind == "bool" and text.lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
        return text.lower() in ("true", "yes", "1", "on")
    return value


def _estimate_problems(
    request: EstimateRequest, model: Any, gpu: Any, tp: int, weights: str, kv: str
) -> list[tuple[str, str]]:
    """(what is wrong, the fix) for each inconsistent value of an estimate request."""
    problems = []
    if weights not in BYTES_PER_ELEMENT:
        problems.append((f"--weights {weights} is not a known precision", f"use one of {', '.join(BYTES_PER_ELEMENT)}"))
    if kv not in BYTES_PER_ELEMENT:
        problems.append((f"--kv-dtype {kv} is not a known precision", "use bf16, fp16, fp8 or nvfp4"))
    if kv in ("fp8", "nvfp4") and not gpu.supports("fp8"):
        problems.append((f"{gpu.id} has no fp8", "use --kv-dtype bf16"))
    if request.gpus and not request.attention_dp and tp * request.pp != request.gpus:
        problems.append((f"--gpus {request.gpus} is not TP {tp} x PP {request.pp}", "make --gpus equal --tp x --pp"))
    if model.num_attention_heads % tp:
        problems.append(
            (f"TP {tp} does not divide {model.num_attention_heads} attention heads", "choose a TP that divides them")
        )
    if request.ep > 1 and model.moe is None:
        problems.append((f"--ep {request.ep} on {model.id}, which has no experts", "drop --ep"))
    elif model.moe is not None and model.moe.num_experts % request.ep:
        problems.append(
            (f"EP {request.ep} does not divide {model.moe.num_experts} experts", "choose an --ep that divides them")
        )
    replica_gpus = request.ep if request.attention_dp else tp * request.pp
    if request.ep > replica_gpus:
        problems.append(
            (f"EP {request.ep} is more than the replica's {replica_gpus} GPUs", "make --ep at most TP x PP")
        )
    return problems


#: The bounds of each size an estimate takes, by request field.
_ESTIMATE_BOUNDS = {
    "gpus": PARALLEL,
    "tp": PARALLEL,
    "pp": PARALLEL,
    "ep": PARALLEL,
    "isl": TOKENS,
    "osl": TOKENS,
    "isl_p50": TOKENS,
    "osl_p50": TOKENS,
    "concurrency": CONCURRENCY,
}


def _size_problems(request: EstimateRequest) -> list[tuple[str, str]]:
    """(what is wrong, the fix) for each size out of range, and for GPUs that TP x PP cannot split."""
    flags = [(f"--{name.replace('_', '-')}", getattr(request, name), bound) for name, bound in _ESTIMATE_BOUNDS.items()]
    problems = out_of_bounds(flags)
    for median, p95, name in ((request.isl_p50, request.isl, "isl"), (request.osl_p50, request.osl, "osl")):
        if median is not None and median > p95:
            problems.append(
                (
                    f"--{name}-p50 {median} is above --{name} {p95}",
                    f"--{name} is the p95 request: give a median below it",
                )
            )
    if request.shared_prefix and request.shared_prefix >= (request.isl_p50 or request.isl):
        problems.append(
            (
                f"--shared-prefix {request.shared_prefix} is not below the median input",
                "the prefix is part of the input",
            )
        )
    if request.shared_prefix and request.isl_p50 is None and request.osl_p50 is None:
        problems.append(("--shared-prefix without --isl-p50 or --osl-p50", "give the medians of the batch's requests"))
    split_ok = not any(p[0].startswith(_SPLIT_FLAGS) for p in problems)
    if split_ok and request.gpus and not request.tp and not request.attention_dp and request.gpus % request.pp:
        problems.append((f"--gpus {request.gpus} is not a multiple of --pp {request.pp}", "make --gpus TP x PP"))
    return problems


#: Flags whose problems leave no sound GPU split to divide by.
_SPLIT_FLAGS = ("--gpus", "--tp", "--pp", "--ep")


def nothing_sized(sizing: PlanSizing, source: str, consequence: str) -> NothingFitsError:
    """The error of a command that needs the plan's chosen configuration where sizing chose none,
    saying why as ``planner plan`` does: the pins that cannot hold, or that no candidate meets the
    SLOs (the first reasons). ``consequence`` says what the command then lacks ("nothing to cost")."""
    reasons = "; ".join(sizing.why_none[:3])
    if sizing.tried == 0 and reasons:
        return NothingFitsError(
            f"the plan pins what cannot hold, so there is {consequence}: {reasons}",
            path=source,
            fix="change the pins named above (`planner plan` says what would hold)",
        )
    none_meets = f"none of the {sizing.tried} candidate configurations meets the SLOs on both axes"
    return NothingFitsError(
        f"{none_meets}, so there is {consequence}" + (f": {reasons}" if reasons else ""),
        path=source,
        fix="run `planner plan` to see what each candidate misses; pin fewer choices or relax the SLOs",
    )
