"""The plan: steps 1-9 of the method as strict pydantic models.

Steps 1-4 (use case, workload, traffic, SLO) are the customer's inputs; steps 5-9
(model, runtime, hardware, serving stack) are choices, and any of the last three may
be left open for the planner to choose. Units live in field names (``ttft_ms``) and
in the field descriptions, which also feed ``planner schema``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from planner.limits import MAX_CONCURRENCY, MAX_LATENCY_MS, MAX_PARALLEL, MAX_RATE_PER_S, MAX_TOKENS, MAX_USERS
from planner.plan_costs import CostInputs
from planner.specs import KvDtype, WeightDtype

SCHEMA_VERSION = 1


def _any_case(value: object) -> object:
    """A choice matches whatever its case: ``FP8`` is ``fp8``, ``Greenfield`` is ``greenfield``."""
    return value.lower() if isinstance(value, str) else value


def _percent_as_fraction(value: object) -> object:
    """A share written as a percentage is read as the fraction it means: ``30%`` is 0.3."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            return value
    return value


def _percent_sign(value: object) -> object:
    """A percentage field may carry its sign: ``99.9%`` is 99.9."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1])
        except ValueError:
            return value
    return value


#: A choice among fixed values, matched whatever its case.
AnyCase = BeforeValidator(_any_case)
Fraction = Annotated[float, BeforeValidator(_percent_as_fraction), Field(gt=0, le=1)]
Tokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
Parallelism = Annotated[int, Field(ge=1, le=MAX_PARALLEL)]


#: Ranges of the efficiency overrides: MFU and MBU are shares of the GPU's ceiling (MFU of the
#: most its matrix multiplies reach, :attr:`Deployment.matmul_peak_tflops`; MBU of its datasheet
#: bandwidth), so above 0
#: and at most 1 (by definition); the per-step overhead is at least 0 and, as a sanity bound,
#: at most 1000 ms (measured engine overheads are a few ms: catalogs/efficiency/calibrated.yaml).
EFFICIENCY_RANGES: dict[str, tuple[float, float]] = {
    "mfu_prefill": (0.0, 1.0),
    "mbu_decode": (0.0, 1.0),
    "mfu_decode": (0.0, 1.0),
    "overhead_ms": (0.0, 1000.0),
    "frontend_ms": (0.0, 10000.0),
}
EFFICIENCY_RANGE_TEXT = {
    "mfu_prefill": "give a share of the GPU's achievable matmul FLOP/s above 0 and at most 1",
    "mbu_decode": "give a share of peak memory bandwidth above 0 and at most 1",
    "mfu_decode": "give a share of the GPU's achievable matmul FLOP/s above 0 and at most 1",
    "overhead_ms": "give milliseconds per step from 0 to 1000",
    "frontend_ms": "give milliseconds per request from 0 to 10000",
}


class _Strict(BaseModel):
    """Unknown keys are errors, values are never coerced from text, numbers are finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# ------------------------------------------------------------------- 1 Use case


class UseCase(_Strict):
    """Step 1: the business problem, without naming a model or a GPU."""

    title: str = Field(min_length=1, description="Short name of the use case.")
    problem: str = Field(default="", description="The business problem it solves.")
    actor: str = Field(default="", description="Who sends the requests (employees, developers, a batch job).")
    task: Annotated[
        Literal[
            "question-answering",
            "chat",
            "code-assistant",
            "summarisation",
            "agent",
            "extraction",
            "classification",
            "translation",
            "batch",
            "other",
        ],
        AnyCase,
    ] = Field(description="Type of task.")
    deployment: Annotated[Literal["greenfield", "brownfield"], AnyCase] = Field(
        description="greenfield: the runtime drives the hardware; brownfield: an existing fleet constrains it."
    )
    hosting: Annotated[Literal["on-prem", "cloud", "hybrid", "edge"], AnyCase] = "on-prem"
    data_residency: str = Field(default="", description="Where data must stay, e.g. 'own data centre'.")
    success_criteria: list[str] = Field(default_factory=list, description="How the business measures success.")
    commercial_use: bool = Field(default=True, description="Serves a business (licences may forbid this).")
    monthly_active_users: int | None = Field(default=None, ge=0, description="For licences with a user cap.")


# ------------------------------------------------------------- 2 Workload profile


class TokenDistribution(_Strict):
    """Percentiles of a token count per request.

    Sizing uses the worst case, so give p95 (and p99 when known). A profile with only
    a mean or a median is accepted here, but the rules engine reports it as a breach
    of "worst case, not average".
    """

    mean: Tokens | None = Field(default=None, description="Average tokens per request.")
    p50: Tokens | None = Field(default=None, description="Median tokens per request.")
    p95: Tokens | None = Field(default=None, description="95th percentile tokens per request (sizing uses it).")
    p99: Tokens | None = Field(default=None, description="99th percentile, when known.")

    @model_validator(mode="after")
    def _ordered(self) -> TokenDistribution:
        given = [(name, value) for name, value in (("p50", self.p50), ("p95", self.p95), ("p99", self.p99)) if value]
        if not given and self.mean is None:
            raise ValueError("no token count; fix: give p50 and p95 (and p99 when known)")
        for (low_name, low), (high_name, high) in pairwise(given):
            if high < low:
                raise ValueError(
                    f"{high_name} ({high}) is below {low_name} ({low}); "
                    f"fix: percentiles must not decrease: {low_name} <= {high_name}"
                )
        return self

    @property
    def worst_case(self) -> int:
        """The count sizing uses: p95, else p99, else the largest figure given."""
        if self.p95 is not None:
            return self.p95
        if self.p99 is not None:
            return self.p99
        return max(v for v in (self.p50, self.mean) if v is not None)

    @property
    def typical(self) -> int:
        """The median, else the mean, else the worst case."""
        return self.p50 or self.mean or self.worst_case


class WorkloadProfile(_Strict):
    """Step 2: the shape of one request, independent of how many arrive."""

    input_tokens: TokenDistribution = Field(description="Prompt length (system prompt, context, question).")
    output_tokens: TokenDistribution = Field(description="Generated length.")
    shared_prefix_tokens: int = Field(
        default=0, ge=0, description="Tokens at the start of every prompt that are identical (prefix-cache reuse)."
    )
    prefix_cache_hit_rate: Fraction | None = Field(
        default=None, description="Share of requests whose shared prefix is still cached (0-1); 1 when omitted."
    )

    @model_validator(mode="after")
    def _prefix_fits(self) -> WorkloadProfile:
        if self.shared_prefix_tokens > self.input_tokens.typical:
            raise ValueError(
                f"shared_prefix_tokens ({self.shared_prefix_tokens}) exceeds the median input "
                f"({self.input_tokens.typical}); fix: the shared prefix is part of the input, so keep it below p50"
            )
        return self

    @property
    def context_p95_tokens(self) -> int:
        """Worst-case context a sequence reaches: p95 input plus p95 output."""
        return self.input_tokens.worst_case + self.output_tokens.worst_case

    @property
    def has_percentiles(self) -> bool:
        """True when both input and output give a p95 (or p99), as sizing needs."""
        return all(d.p95 is not None or d.p99 is not None for d in (self.input_tokens, self.output_tokens))


# -------------------------------------------------------------- 3 Traffic profile


class BatchWindow(_Strict):
    """A batch job: this many items (requests) must be processed within a window of time.

    The planner sizes it on the work the window must hold (the queue is allowed to fill, so
    every replica runs at its closed-loop envelope Cr_closed) and checks each item's E2E at
    that load separately.
    """

    items: int = Field(
        ge=1, le=int(MAX_RATE_PER_S * 3600 * 24 * 7), description="Items (requests) the job must process in one window."
    )
    window_hours: float = Field(gt=0, le=24 * 7, description="Hours the job may take, e.g. 8 for a night.")

    @property
    def rate_req_s(self) -> float:
        """The mean rate that finishes the job exactly in its window."""
        return self.items / (self.window_hours * 3600)


class TrafficProfile(_Strict):
    """Step 3: volume over time, as users x duty cycle, requests/s, concurrency, or a batch window."""

    users: int | None = Field(default=None, ge=1, le=MAX_USERS, description="Users who may send requests.")
    active_fraction: Fraction = Field(default=1.0, description="Share of users active in the peak hour (0-1).")
    duty_cycle: Fraction | None = Field(
        default=None, description="Share of an active user's time with a request in flight (0-1)."
    )
    requests_per_s: float | None = Field(
        default=None, gt=0, le=MAX_RATE_PER_S, description="Arrival rate, requests per second."
    )
    concurrency: int | None = Field(
        default=None, ge=1, le=MAX_CONCURRENCY, description="Requests in flight, when known directly."
    )
    batch: BatchWindow | None = Field(
        default=None, description="A batch job: items to process within a window (throughput-first)."
    )
    peak_factor: float = Field(
        default=1.0, ge=1, le=100, description="Peak load / declared load; 1 when the declared load is the peak."
    )
    growth: Annotated[float | None, BeforeValidator(_percent_as_fraction)] = Field(
        default=None, ge=0, description="Expected growth over the planning horizon (0.4 = 40%)."
    )
    burst_factor: float | None = Field(
        default=None, ge=1, le=100, description="Short bursts above peak, as a factor (1.5 = 50% above)."
    )
    horizon_months: int = Field(default=12, ge=1, le=120, description="Planning horizon the growth applies to.")
    provisioning_headroom: Annotated[float | None, BeforeValidator(_percent_as_fraction)] = Field(
        default=None, ge=0, le=10, description="Explicit headroom (0.5 = 50%); default max(growth, burst - 1)."
    )

    @field_validator("growth")
    @classmethod
    def _growth_is_a_fraction(cls, value: float | None) -> float | None:
        if value is not None and value > 10:
            raise ValueError(f"growth is a fraction, got {value}; fix: write 0.4 for 40%")
        return value

    @model_validator(mode="after")
    def _one_load_definition(self) -> TrafficProfile:
        given = [
            name
            for name, present in (
                ("users", self.users is not None),
                ("requests_per_s", self.requests_per_s is not None),
                ("concurrency", self.concurrency is not None),
                ("batch", self.batch is not None),
            )
            if present
        ]
        if len(given) != 1:
            raise ValueError(
                f"{len(given)} load definitions given ({', '.join(given) or 'none'}); "
                "fix: give exactly one of users (with duty_cycle), requests_per_s, concurrency "
                "or batch (items and window_hours)"
            )
        if self.users is not None and self.duty_cycle is None:
            raise ValueError(
                "users without duty_cycle; "
                "fix: add duty_cycle, the share of an active user's time with a request in flight (0-1)"
            )
        return self

    @property
    def rate_req_s(self) -> float | None:
        """The declared arrival rate: requests_per_s, or the rate that finishes a batch in its window."""
        return self.batch.rate_req_s if self.batch is not None else self.requests_per_s

    @property
    def required_headroom(self) -> float:
        """The headroom the method asks for: max(growth, burst above peak); 0 when neither is given."""
        return max(self.growth or 0.0, (self.burst_factor or 1.0) - 1.0)

    @property
    def headroom(self) -> float:
        """Provisioning headroom used: the explicit one, else the required one."""
        return self.provisioning_headroom if self.provisioning_headroom is not None else self.required_headroom


# ------------------------------------------------------------------------ 4 SLO


class Slo(_Strict):
    """Step 4: the service contract; a validation constraint on sizing, not an input to it."""

    percentile: float = Field(default=95, ge=50, lt=100, description="Percentile the latency targets apply to.")
    ttft_ms: float | None = Field(
        default=None, gt=0, le=MAX_LATENCY_MS, description="Time to first token, milliseconds."
    )
    itl_ms: float | None = Field(
        default=None, gt=0, le=MAX_LATENCY_MS, description="Inter-token latency, milliseconds."
    )
    e2e_ms: float | None = Field(
        default=None, gt=0, le=MAX_LATENCY_MS, description="End-to-end latency including the queue, ms."
    )
    availability_pct: Annotated[float, BeforeValidator(_percent_sign)] = Field(
        description="Availability target in percent, e.g. 99.9."
    )
    critical: bool = Field(default=False, description="Critical workloads keep N+2 failure domains, others N+1.")
    scenario: Annotated[Literal["latency-first", "throughput-first", "full-envelope"] | None, AnyCase] = Field(
        default=None, description="Benchmark scenario; derived from the targets when omitted."
    )

    @field_validator("availability_pct")
    @classmethod
    def _availability_is_percent(cls, value: float) -> float:
        if value <= 1:
            raise ValueError(f"availability_pct is a percentage, got {value}; fix: write 99.9 for 99.9%")
        if not 90 <= value < 100:
            raise ValueError(f"availability_pct must be at least 90 and below 100, got {value}; fix: e.g. 99.9")
        return value

    @model_validator(mode="after")
    def _some_target(self) -> Slo:
        if self.ttft_ms is None and self.itl_ms is None and self.e2e_ms is None:
            raise ValueError("no latency target; fix: give at least one of ttft_ms, itl_ms or e2e_ms")
        return self

    @property
    def effective_scenario(self) -> str:
        """The scenario given, else latency-first when TTFT or ITL is bounded."""
        if self.scenario:
            return self.scenario
        return "latency-first" if (self.ttft_ms or self.itl_ms) else "throughput-first"

    @property
    def spare_failure_domains(self) -> int:
        """Failure domains to keep in reserve: 2 when critical (N+2), else 1 (N+1)."""
        return 2 if self.critical else 1


# ---------------------------------------------------------------- 5-9 Choices


class ModelChoice(_Strict):
    """Step 5: the model, its weight and KV precision, and the context to serve."""

    id: str = Field(min_length=1, description="Catalog id, alias or Hugging Face id, e.g. llama-3.3-70b.")
    weights: Annotated[WeightDtype | None, AnyCase] = Field(
        default=None, description="Weight precision; the checkpoint's when omitted."
    )
    kv_cache: Annotated[KvDtype | None, AnyCase] = Field(
        default=None, description="KV-cache precision; bf16 when omitted."
    )
    context_tokens: Tokens | None = Field(
        default=None, description="Longest context the deployment serves (max_model_len); model maximum when omitted."
    )


class RuntimeChoice(_Strict):
    """Step 7: engine and parallelism; every field may be left open."""

    id: str | None = Field(default=None, description="Runtime id (vllm, sglang, trtllm); open when omitted.")
    version: str | None = None
    tp: Parallelism | None = Field(default=None, description="Tensor-parallel size.")
    pp: Parallelism | None = Field(default=None, description="Pipeline-parallel size.")
    ep: Parallelism | None = Field(default=None, description="Expert-parallel size (MoE).")
    dp: Parallelism | None = Field(
        default=None,
        description="Attention data parallelism of a MoE model: the ranks (one GPU each, the experts split over "
        "them, EP as many) that each run attention for their own requests; 1: none; open when omitted.",
    )
    knobs: dict[str, float | int | bool | str] = Field(
        default_factory=dict, description="Engine settings by their real names, e.g. gpu_memory_utilization."
    )
    efficiency: dict[Literal["mfu_prefill", "mbu_decode", "mfu_decode", "overhead_ms", "frontend_ms"], float] = Field(
        default_factory=dict,
        description="Override calibrated efficiency factors (MFU 0-1, MBU 0-1, per-step overhead 0-1000 ms, "
        "front-end latency added to TTFT 0-10000 ms).",
    )

    @property
    def attention_dp_ranks(self) -> int | None:
        """The attention-data-parallel ranks ``dp`` pins (above 1: the whole layout, one GPU a rank and
        EP as many); None where it pins none (left open, or 1)."""
        return self.dp if self.dp and self.dp > 1 else None

    @field_validator("efficiency")
    @classmethod
    def _efficiency_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for name, factor in value.items():
            low, high = EFFICIENCY_RANGES[name]
            inside = low <= factor <= high if name.endswith("_ms") else low < factor <= high
            if not inside:
                raise ValueError(f"{name} {factor} is outside its range; fix: {EFFICIENCY_RANGE_TEXT[name]}")
        return value


class HardwareChoice(_Strict):
    """Step 8: GPU class and fabric; open when omitted (greenfield)."""

    gpu: str | None = Field(default=None, description="GPU id or alias, e.g. h100-sxm; open when omitted.")
    gpus_per_node: Parallelism | None = None
    nodes: int | None = Field(default=None, ge=1, description="Existing nodes (brownfield).")
    inter_node_fabric: Annotated[Literal["infiniband", "roce", "ethernet", "nvlink", "none"] | None, AnyCase] = None
    inter_node_gb_s: float | None = Field(default=None, gt=0, description="Per-GPU inter-node bandwidth, GB/s.")
    placement: Annotated[Literal["one-node", "one-rack", "multi-rack", "multi-site"] | None, AnyCase] = Field(
        default=None, description="How far apart replicas are spread (failure domains)."
    )


class Observability(_Strict):
    """What the stack exposes from day 1."""

    metrics_endpoint: bool = False
    dashboards: bool = False
    alerts: bool = False


class ServingStackChoice(_Strict):
    """Step 9: the platform over the runtime; open when omitted."""

    id: str | None = Field(default=None, description="Stack id (runtime-server, kserve, llm-d, dynamo, ray-serve).")
    disaggregated: bool | None = Field(default=None, description="Separate prefill and decode pools.")
    kv_transport: Annotated[Literal["nixl", "rdma", "nvlink", "tcp", "ucx", "mooncake", "lmcache"] | None, AnyCase] = (
        None
    )
    observability: Observability | None = None


class ExitPlan(_Strict):
    """How to leave: alternatives if the model, runtime or hardware must change."""

    alternative_models: list[str] = Field(default_factory=list)
    alternative_runtimes: list[str] = Field(default_factory=list)
    alternative_hardware: list[str] = Field(default_factory=list)
    notes: str = ""


class Baseline(_Strict):
    """Step 10: what a benchmark measured on the deployed stack."""

    cr_closed_concurrency: int | None = Field(default=None, ge=1, description="Closed-loop envelope, requests.")
    cr_closed_output_tok_s: float | None = Field(
        default=None, gt=0, description="Output tok/s one replica delivered at Cr_closed (EUR per token uses it)."
    )
    cr_open_requests_per_s: float | None = Field(default=None, gt=0, description="Open-loop envelope, requests/s.")
    measured_on: str = Field(default="", description="When and on what it was measured.")
    tool: str = Field(default="", description="Benchmark tool, e.g. guidellm, vllm bench serve, aiperf.")


class Plan(_Strict):
    """A whole plan file: steps 1-9 of the method."""

    schema_version: Literal[1] = Field(description="Version of the plan file format; this planner writes 1.")
    name: str = Field(min_length=1, description="Name of the plan.")
    description: str = ""
    use_case: UseCase
    workload: WorkloadProfile
    traffic: TrafficProfile
    slo: Slo
    model: ModelChoice
    runtime: RuntimeChoice = Field(default_factory=RuntimeChoice)
    hardware: HardwareChoice = Field(default_factory=HardwareChoice)
    serving_stack: ServingStackChoice = Field(default_factory=ServingStackChoice)
    exit_plan: ExitPlan | None = None
    baseline: Baseline | None = None
    costs: CostInputs | None = Field(
        default=None, description="Cost assumptions; each one left out takes the catalog's sourced default."
    )


def plan_json_schema() -> dict[str, object]:
    """Return the JSON Schema of plan files, for editors and CI validators."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://planner.invalid/schema/plan-v{SCHEMA_VERSION}.json"
    return schema
