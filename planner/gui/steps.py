"""The 11 steps of the method as the navigator shows them, and the plan fields each step edits.

Each field's kind (number, choice, yes/no), its choices and its help text come from the plan
model itself, so a new value in the model shows up in the forms without a change here.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from planner.gui.document import Checked, FieldPath, dotted
from planner.plan import Plan


class Kind(Enum):
    """How a field is edited."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    CHOICE = "choice"
    FLAG = "flag"  # a yes/no the plan always holds
    OPEN_FLAG = "open flag"  # yes, no, or left to the planner
    PICK = "pick"  # an id from the catalog (its section in ``catalog``)


@dataclass(frozen=True)
class FieldSpec:
    """One form field: where it lives in the plan, how it reads, and how it is edited."""

    path: FieldPath
    label: str
    unit: str = ""
    catalog: str = ""  # the catalog section of a pick list: gpus, models, runtimes, stacks

    @property
    def name(self) -> str:
        """The dotted path, the field's name in problems and in the widget tree."""
        return dotted(self.path)

    @property
    def kind(self) -> Kind:
        """How the plan model types the field."""
        if self.catalog:
            return Kind.PICK
        return _kind_of(_annotation(self.path))

    @property
    def choices(self) -> list[str]:
        """The values a choice field takes, as the plan model lists them."""
        return [str(v) for v in _literals(_annotation(self.path))]

    @property
    def help(self) -> str:
        """The plan model's description of the field (what ``planner schema`` says)."""
        model = _model_holding(self.path)
        info = model.model_fields[self.path[-1]]
        return info.description or ""

    @property
    def default(self) -> Any:
        """The value the plan takes when the field is left out (``None`` when it has none)."""
        info = _model_holding(self.path).model_fields[self.path[-1]]
        return None if info.is_required() or info.default_factory else info.default

    @property
    def required(self) -> bool:
        """True when the plan must give the field."""
        return _model_holding(self.path).model_fields[self.path[-1]].is_required()


@dataclass(frozen=True)
class Step:
    """A step of the method: its number, title, the plan sections it owns and its fields."""

    number: int
    title: str
    summary: str
    sections: tuple[FieldPath, ...] = ()
    fields: tuple[FieldSpec, ...] = ()

    @property
    def label(self) -> str:
        """The navigator's text, e.g. ``4  Workload SLO``."""
        return f"{self.number}  {self.title}"


class StepState(Enum):
    """What the navigator shows next to a step."""

    NOT_STARTED = "not started"
    COMPLETE = "complete"
    ERRORS = "has errors"
    WARNINGS = "has warnings"


def _f(path: str, label: str, unit: str = "", catalog: str = "") -> FieldSpec:
    return FieldSpec(tuple(path.split(".")), label, unit, catalog)


STEPS: tuple[Step, ...] = (
    Step(1, "Use case", "The business problem, the actor and the deployment context, without naming a model or a GPU.",
         (("name",), ("use_case",)),
         (_f("name", "Plan name"), _f("use_case.title", "Use case"), _f("use_case.problem", "Problem"),
          _f("use_case.actor", "Actor"), _f("use_case.task", "Task"), _f("use_case.deployment", "Deployment"),
          _f("use_case.hosting", "Hosting"), _f("use_case.data_residency", "Data residency"),
          _f("use_case.commercial_use", "Commercial use"))),
    Step(2, "Workload profile", "The shape of one request at p95: input and output tokens, the shared prefix.",
         (("workload",),),
         (_f("workload.input_tokens.p50", "Input p50", "tokens"),
          _f("workload.input_tokens.p95", "Input p95", "tokens"),
          _f("workload.input_tokens.p99", "Input p99", "tokens"),
          _f("workload.output_tokens.p50", "Output p50", "tokens"),
          _f("workload.output_tokens.p95", "Output p95", "tokens"),
          _f("workload.output_tokens.p99", "Output p99", "tokens"),
          _f("workload.shared_prefix_tokens", "Shared prefix", "tokens"),
          _f("workload.prefix_cache_hit_rate", "Prefix cache hit rate", "0-1"))),
    Step(3, "Traffic profile", "Volume over time: users x duty cycle, requests/s or concurrency, and the headroom.",
         (("traffic",),),
         (_f("traffic.users", "Users", "users"), _f("traffic.active_fraction", "Active in the peak hour", "0-1"),
          _f("traffic.duty_cycle", "Duty cycle", "0-1"), _f("traffic.requests_per_s", "Requests per second", "req/s"),
          _f("traffic.concurrency", "Concurrency", "requests"), _f("traffic.peak_factor", "Peak factor", "x"),
          _f("traffic.growth", "Growth over the horizon", "0-1"), _f("traffic.burst_factor", "Burst factor", "x"),
          _f("traffic.horizon_months", "Horizon", "months"),
          _f("traffic.provisioning_headroom", "Provisioning headroom", "0-10"))),
    Step(4, "Workload SLO", "The service contract: latency percentiles and availability; it validates the sizing.",
         (("slo",),),
         (_f("slo.percentile", "Percentile", "p"), _f("slo.ttft_ms", "TTFT", "ms"), _f("slo.itl_ms", "ITL", "ms"),
          _f("slo.e2e_ms", "E2E", "ms"), _f("slo.availability_pct", "Availability", "%"),
          _f("slo.critical", "Critical (N+2)"), _f("slo.scenario", "Benchmark scenario"))),
    Step(5, "Model architecture", "The model, its weight and KV precision, and the context to serve.",
         (("model",),),
         (_f("model.id", "Model", catalog="models"), _f("model.weights", "Weights"),
          _f("model.kv_cache", "KV cache"), _f("model.context_tokens", "Context", "tokens"))),
    Step(6, "Sizing", "6a capacity (memory per GPU), then 6b performance against the SLOs, at one concurrency."),
    Step(7, "Runtime architecture", "The engine and the parallelism of one replica; open fields are searched.",
         (("runtime",),),
         (_f("runtime.id", "Runtime", catalog="runtimes"), _f("runtime.tp", "Tensor parallel", "GPUs"),
          _f("runtime.pp", "Pipeline parallel", "stages"), _f("runtime.ep", "Expert parallel", "GPUs"),
          _f("runtime.dp", "Attention data parallel", "ranks"))),
    Step(8, "Hardware & fabric", "The GPU class and the fabric between nodes; open when the runtime drives it.",
         (("hardware",),),
         (_f("hardware.gpu", "GPU", catalog="gpus"), _f("hardware.gpus_per_node", "GPUs per node", "GPUs"),
          _f("hardware.nodes", "Existing nodes", "nodes"), _f("hardware.inter_node_fabric", "Inter-node fabric"),
          _f("hardware.inter_node_gb_s", "Inter-node bandwidth", "GB/s"), _f("hardware.placement", "Placement"))),
    Step(9, "Serving stack", "The platform over the runtime: disaggregation, KV transport, observability.",
         (("serving_stack",),),
         (_f("serving_stack.id", "Serving stack", catalog="stacks"),
          _f("serving_stack.disaggregated", "Disaggregated prefill/decode"),
          _f("serving_stack.kv_transport", "KV transport"),
          _f("serving_stack.observability.metrics_endpoint", "Metrics endpoint"),
          _f("serving_stack.observability.dashboards", "Dashboards"),
          _f("serving_stack.observability.alerts", "Alerts"))),
    Step(10, "Benchmark & baseline",
         "What a benchmark measured on the deployed stack; the envelope, simulated on demand.",
         (("baseline",),),
         (_f("baseline.cr_closed_concurrency", "Cr_closed", "requests"),
          _f("baseline.cr_closed_output_tok_s", "Output at Cr_closed", "tok/s"),
          _f("baseline.cr_open_requests_per_s", "Cr_open", "req/s"),
          _f("baseline.measured_on", "Measured on"), _f("baseline.tool", "Tool"))),
    Step(11, "Scaling decision", "The fleet, its cost per 1M tokens and the candidates; apply one as a revision."),
)  # fmt: skip

#: The steps the method loops over while the choices settle.
LOOP = (5, 9)


def step_of(where: str) -> Step | None:
    """The step whose section holds the field named ``where`` (a dotted path)."""
    for step in STEPS:
        for section in step.sections:
            name = dotted(section)
            if where == name or where.startswith(f"{name}."):
                return step
    return None


def field_named(where: str) -> FieldSpec | None:
    """The form field a dotted path names, or the first field of the section it names."""
    for step in STEPS:
        for spec in step.fields:
            if spec.name == where:
                return spec
    section = step_of(where)
    if section is None:
        return None
    inside = [f for f in section.fields if f.name.startswith(where)]
    return inside[0] if inside else (section.fields[0] if section.fields else None)


def step_state(step: Step, data: dict[str, Any], checked: Checked, warned_steps: set[int]) -> StepState:
    """The navigator's state of ``step``: errors first, then warnings, then whether it was started."""
    if any(checked.problems_under(section) for section in step.sections):
        return StepState.ERRORS
    if step.number in warned_steps:
        return StepState.WARNINGS
    if step.sections and not any(_present(data, section) for section in step.sections):
        return StepState.NOT_STARTED
    if not step.sections and checked.plan is None:
        return StepState.NOT_STARTED
    return StepState.COMPLETE


def _present(data: dict[str, Any], path: FieldPath) -> bool:
    node: Any = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return node not in (None, {}, [])


# -------------------------------------------------------------- the plan model


def _model_holding(path: FieldPath) -> type[BaseModel]:
    """The pydantic model whose field ``path[-1]`` is."""
    model: type[BaseModel] = Plan
    for key in path[:-1]:
        found = _model_in(model.model_fields[key].annotation)
        if found is None:
            raise KeyError(dotted(path))
        model = found
    return model


def _annotation(path: FieldPath) -> Any:
    return _model_holding(path).model_fields[path[-1]].annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _bare(annotation: Any) -> list[Any]:
    """The types inside Optional/Annotated/Union, ``None`` left out."""
    return [t for t in _all_args(annotation) if t is not type(None)]


def _literals(annotation: Any) -> list[Any]:
    return [v for t in _bare(annotation) if typing.get_origin(t) is Literal for v in typing.get_args(t)]


def _kind_of(annotation: Any) -> Kind:
    bare = _bare(annotation)
    optional = type(None) in _all_args(annotation)
    if _literals(annotation):
        return Kind.CHOICE
    if bool in bare:
        return Kind.OPEN_FLAG if optional else Kind.FLAG
    if int in bare:
        return Kind.INTEGER
    if float in bare:
        return Kind.NUMBER
    return Kind.TEXT


def _all_args(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _all_args(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _all_args(arg)]
    return [annotation]
