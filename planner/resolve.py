"""Resolving a plan's ids into specs, and listing the choices it leaves open.

The sizing engine starts from a :class:`ResolvedPlan`: the plan as written, the
specs its ids name, the effective precisions and context, and the open choices.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from planner.catalog import Catalog
from planner.errors import InputError, Problem, UnknownIdError
from planner.plan import Plan
from planner.specs import GpuSpec, ModelSpec, RuntimeSpec, ServingStackSpec


@dataclass(frozen=True)
class ResolvedPlan:
    """A plan with its ids resolved to catalog specs."""

    plan: Plan
    model: ModelSpec
    gpu: GpuSpec | None
    runtime: RuntimeSpec | None
    stack: ServingStackSpec | None
    weights_dtype: str
    kv_dtype: str
    context_tokens: int
    open_choices: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how a name was read, e.g. a checkpoint's precision suffix

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict: the plan, resolved specs, effective values, open choices."""
        return {
            "plan": self.plan.model_dump(mode="json"),
            "resolved": {
                "model": self.model.model_dump(mode="json"),
                "gpu": self.gpu.model_dump(mode="json") if self.gpu else None,
                "runtime": self.runtime.model_dump(mode="json") if self.runtime else None,
                "serving_stack": self.stack.model_dump(mode="json") if self.stack else None,
            },
            "effective": {
                "weights_dtype": self.weights_dtype,
                "kv_dtype": self.kv_dtype,
                "context_tokens": self.context_tokens,
                "context_p95_tokens": self.plan.workload.context_p95_tokens,
                "headroom": self.plan.traffic.headroom,
                "scenario": self.plan.slo.effective_scenario,
                "spare_failure_domains": self.plan.slo.spare_failure_domains,
            },
            "open_choices": self.open_choices,
            "notes": self.notes,
        }


def resolve_plan(plan: Plan, catalog: Catalog, filename: str = "<plan>") -> ResolvedPlan:
    """Resolve the plan's model, GPU, runtime and stack ids against ``catalog``.

    :raises InputError: listing every id that names nothing (with close matches), an
        unknown runtime knob, or a context longer than the model supports.
    """
    problems: list[Problem] = []

    def lookup(kind: str, ref: str | None, where: str) -> Any:
        if ref is None:
            return None
        try:
            return catalog.section(kind).get(ref)
        except UnknownIdError as exc:
            problems.append(Problem(where, exc.message, exc.fix))
            return None

    model, implied = _model_of(plan, catalog, problems)
    notes = []
    if model is not None and implied is not None:
        if plan.model.weights is not None and plan.model.weights != implied:
            problems.append(
                Problem(
                    "model.weights",
                    f"{plan.model.weights} contradicts model.id {plan.model.id!r}, "
                    f"a {implied} checkpoint of {model.id}",
                    f"write model.id: {model.id} to use {plan.model.weights}, or drop model.weights",
                )
            )
        plan = plan.model_copy(update={"model": plan.model.model_copy(update={"weights": implied})})
        notes.append(f"model.id {plan.model.id!r} is {model.id} with {implied} weights (the checkpoint's name says so)")
    gpu = lookup("gpus", plan.hardware.gpu, "hardware.gpu")
    runtime = lookup("runtimes", plan.runtime.id, "runtime.id")
    stack = lookup("stacks", plan.serving_stack.id, "serving_stack.id")
    if runtime is not None:
        problems += _unknown_knobs(plan, runtime)
    problems += _bad_knob_values(plan, [runtime] if runtime is not None else catalog.runtimes.specs())
    problems += _layout_knobs(plan, [runtime] if runtime is not None else catalog.runtimes.specs())
    plan = _with_gpu_ids_in_costs(plan, catalog, problems)
    if model is not None and plan.model.context_tokens and plan.model.context_tokens > model.max_context:
        problems.append(
            Problem(
                "model.context_tokens",
                f"{plan.model.context_tokens} tokens exceeds what {model.id} supports ({model.max_context})",
                f"lower it to at most {model.max_context}, or choose a longer-context model",
            )
        )
    if problems:
        raise InputError(filename, problems)
    assert model is not None
    return ResolvedPlan(
        plan=plan,
        model=model,
        gpu=gpu,
        runtime=runtime,
        stack=stack,
        weights_dtype=plan.model.weights or model.native_weight_dtype,
        kv_dtype=plan.model.kv_cache or "bf16",
        context_tokens=plan.model.context_tokens or model.max_context,
        open_choices=open_choices(plan, model),
        notes=notes,
    )


def _model_of(plan: Plan, catalog: Catalog, problems: list[Problem]) -> tuple[ModelSpec | None, str | None]:
    """The plan's model and the precision its name implies (see ``Catalog.model_and_precision``)."""
    try:
        return catalog.model_and_precision(plan.model.id)
    except UnknownIdError as exc:
        problems.append(Problem("model.id", exc.message, exc.fix))
        return None, None


def _unknown_knobs(plan: Plan, runtime: RuntimeSpec) -> list[Problem]:
    problems = []
    for name in plan.runtime.knobs:
        unknown = unknown_knob(name, runtime)
        if unknown is not None:
            problems.append(Problem(f"runtime.knobs.{name}", *unknown))
    return problems


def unknown_knob(name: str, runtime: RuntimeSpec) -> tuple[str, str] | None:
    """(what is wrong, the fix) where ``runtime`` has no knob ``name``: the closest known name and the
    known ones; None where it has it."""
    known = [k.name for k in runtime.knobs]
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"{runtime.name} has no knob {name!r}", f"{hint}known knobs: {', '.join(sorted(known))}"


def refused_knob_value(name: str, value: object, runtime: RuntimeSpec) -> tuple[str, str] | None:
    """(why, the fix: the values the knob takes) where ``runtime``'s knob ``name`` refuses ``value``;
    None where it takes it. The runtime must have the knob (:func:`unknown_knob`)."""
    knob = runtime.knob(name)
    refusal = knob.refusal(value)
    return None if refusal is None else (refusal, f"{runtime.name}'s {name} takes {knob.range_text()}")


def _bad_knob_values(plan: Plan, runtimes: list[RuntimeSpec]) -> list[Problem]:
    """A problem for each knob value outside its schema in a runtime that has the knob.

    With the runtime left open, a knob is checked against every runtime that knows it.
    """
    problems = []
    for name, value in plan.runtime.knobs.items():
        for runtime in runtimes:
            if unknown_knob(name, runtime) is not None:
                continue
            refused = refused_knob_value(name, value, runtime)
            if refused is not None:
                problems.append(Problem(f"runtime.knobs.{name}", *refused))
                break
    return problems


def _layout_knobs(plan: Plan, runtimes: list[RuntimeSpec]) -> list[Problem]:
    """A problem for each knob that sets the replica's parallel layout (``RuntimeSpec.layout_knobs``)
    in a runtime that has it: the sizing and the deployment take the layout from runtime.tp, pp, ep
    and dp, so such a knob would be ignored by one and contradicted by the other."""
    problems = []
    for name, value in plan.runtime.knobs.items():
        axis = next((rt.layout_knobs[name] for rt in runtimes if name in rt.layout_knobs), None)
        if axis is None:
            continue
        pinned = getattr(plan.runtime, axis)
        if pinned:
            fix = f"remove runtime.knobs.{name} (runtime.{axis}: {pinned} already sets it)"
        else:
            size = value if isinstance(value, int) and not isinstance(value, bool) else "N"
            fix = f"remove runtime.knobs.{name} and write runtime.{axis}: {size}, or leave it open for the planner"
            fix += LAYOUT_MEANING[axis]
        problems.append(
            Problem(
                f"runtime.knobs.{name}",
                f"{str(value).lower() if isinstance(value, bool) else value} sets the replica's parallel layout, "
                f"which the plan chooses in runtime.{axis} "
                "(the sizing and the deployment configuration take it from there)",
                fix,
            )
        )
    return problems


#: What each plan field of the parallel layout means, for the fix of a layout knob.
LAYOUT_MEANING = {
    "tp": " (N: the GPUs a tensor-parallel group spans)",
    "pp": " (N: pipeline stages)",
    "ep": " (N: the GPUs the experts are split over)",
    "dp": " (N above 1: attention data parallelism of a MoE model over N GPUs, the experts split N ways)",
}


def _with_gpu_ids_in_costs(plan: Plan, catalog: Catalog, problems: list[Problem]) -> Plan:
    """The plan with the GPU keys of its quotes and rented prices resolved to catalog ids."""
    if plan.costs is None:
        return plan
    resolved: dict[str, dict[str, float]] = {}
    for name in ("server_price_eur", "rented_eur_per_gpu_hour"):
        resolved[name] = {}
        for ref, price in getattr(plan.costs, name).items():
            try:
                resolved[name][catalog.gpus.get(ref).id] = price
            except UnknownIdError as exc:
                problems.append(Problem(f"costs.{name}.{ref}", exc.message, exc.fix))
    return plan.model_copy(update={"costs": plan.costs.model_copy(update=resolved)})


def open_choices(plan: Plan, model: ModelSpec | None = None) -> list[str]:
    """List the plan fields left for the planner to choose (steps 7-9); ``runtime.dp`` (attention data
    parallelism) where ``model`` is a MoE model."""
    choices = [f"model.{axis}" for axis in ("weights", "kv_cache") if getattr(plan.model, axis) is None]
    if plan.runtime.id is None:
        choices.append("runtime.id")
    # (runtime.dp above 1 pins the layout whole: one GPU a rank, EP over the ranks)
    pinned_whole = plan.runtime.attention_dp_ranks is not None
    choices += [f"runtime.{a}" for a in ("tp", "pp", "ep") if getattr(plan.runtime, a) is None and not pinned_whole]
    if model is not None and model.moe and plan.runtime.dp is None and not (plan.runtime.tp or plan.runtime.pp):
        choices.append("runtime.dp")
    if plan.hardware.gpu is None:
        choices.append("hardware.gpu")
    if plan.serving_stack.id is None:
        choices.append("serving_stack.id")
    if plan.serving_stack.disaggregated is None:
        choices.append("serving_stack.disaggregated")
    return choices
