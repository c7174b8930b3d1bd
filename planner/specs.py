"""Specs that plugins contribute: GPUs, models, runtimes and serving stacks.

Every hook in :mod:`planner.hookspecs` returns lists of these pydantic models, so a
vendor ships data (a YAML catalog) and code (a converter) the same way. Catalog
numbers carry their source: an entry's ``source`` covers all of its numbers unless
``field_sources`` names another source for a field. A field listed in ``estimates``
is an estimate, not a published figure, and its source says whose estimate.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Slug = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
SourceText = Annotated[str, Field(min_length=8)]
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]

#: Element types a GPU can compute in and a model can be stored in.
ComputeDtype = Literal["fp32", "bf16", "fp16", "fp8", "int8", "fp4"]
WeightDtype = Literal["bf16", "fp16", "fp32", "fp8", "int8", "int4", "fp4", "mxfp4", "nvfp4"]
KvDtype = Literal["bf16", "fp16", "fp8", "int8", "fp4", "nvfp4"]

#: Bytes per element for sizing; 4-bit formats include their block-scale overhead:
#: MXFP4 is E2M1 plus one 8-bit scale per 32 values (OCP MX v1.0), NVFP4 one FP8
#: scale per 16 values, INT4 (AWQ/GPTQ) one 16-bit scale per group of 128.
BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5 + 2.0 / 128,
    "fp4": 0.5 + 1.0 / 16,
    "nvfp4": 0.5 + 1.0 / 16,
    "mxfp4": 0.5 + 1.0 / 32,
}


class _Spec(BaseModel):
    """Base of every spec: unknown keys are errors, values never coerced from text."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class _Sourced(_Spec):
    """A catalog entry whose numbers cite where they come from."""

    source: SourceText = Field(description="Public source (URL, model card, datasheet) of the entry's numbers.")
    field_sources: dict[str, SourceText] = Field(
        default_factory=dict, description="Per-field sources that override `source`, keyed by field path."
    )
    estimates: list[str] = Field(
        default_factory=list, description="Field paths whose value is an estimate rather than a published figure."
    )
    notes: str = ""

    def source_of(self, field_path: str) -> str:
        """Return the source that backs one field (its own, else the entry's)."""
        return self.field_sources.get(field_path, self.source)


class _Catalogued(_Sourced):
    """An entry users refer to by id or by one of its aliases."""

    id: Slug
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list, description="Other names that resolve to this id.")


# --------------------------------------------------------------------------- GPUs


class Interconnect(_Spec):
    """How GPUs inside one node talk to each other."""

    kind: Literal[
        "nvlink3", "nvlink4", "nvlink5", "nvlink-bridge", "pcie4", "pcie5", "infinity-fabric", "roce", "ethernet"
    ]
    gb_s_per_gpu: Positive = Field(description="Per GPU, per direction, GB/s (1e9 bytes/s).")
    pcie_gen: Annotated[int, Field(ge=3, le=6)] = Field(description="PCIe generation of the host link.")


class PriceHint(_Spec):
    """An indicative price per GPU; NVIDIA, AMD and Intel publish no list prices."""

    eur: Positive
    estimate: bool = Field(description="True when the figure is a street, community or analyst estimate.")
    source: SourceText
    note: str = ""


class GpuSpec(_Catalogued):
    """One accelerator as the sizing math needs it (per GPU, dense, no sparsity)."""

    vendor: Literal["nvidia", "amd", "intel"] | str
    generation: str = Field(min_length=1, description="Architecture, e.g. ampere, hopper, blackwell, cdna3, gaudi3.")
    form_factor: Literal["sxm", "pcie", "oam", "superchip", "mezzanine"]
    hbm_gib: Positive = Field(description="Device memory visible to the runtime, GiB.")
    reported_gib: Positive | None = Field(
        default=None,
        description=(
            "Total memory the driver reports to a process (torch.cuda.mem_get_info()[1]), GiB, as a "
            "published runtime log shows it; the figure vLLM's gpu_memory_utilization multiplies. "
            "Unset: hbm_gib less the share the driver keeps on an H100 (see docs/capacity.md)."
        ),
    )
    hbm_tb_s: Positive = Field(description="Peak memory bandwidth, TB/s (1e12 bytes/s).")
    dense_tflops: dict[ComputeDtype, Positive] = Field(
        description="Dense (no sparsity) peak TFLOPS (or TOPS for int8) per dtype; absent means not native."
    )
    matmul_tflops: dict[ComputeDtype, Positive] = Field(
        default_factory=dict,
        description=(
            "Maximum achievable matmul TFLOPS per dtype, measured (the best of a search over GEMM shapes,"
            " e.g. ml-engineering's MAMF finder): the ceiling the MFU factors are shares of. Absent: the"
            " dtype takes the GPU's bf16 share of its peak, and a GPU without any takes"
            " planner.sizing.deployment.DEFAULT_MATMUL_SHARE (an estimate)."
        ),
    )
    tdp_w: Positive
    interconnect: Interconnect
    nvlink_domain: PositiveInt = Field(
        description="GPUs sharing one high-bandwidth domain (NVLink/NVSwitch or xGMI); 1 for PCIe-only cards."
    )
    gpus_per_node: PositiveInt
    price: PriceHint | None = None

    @field_validator("dense_tflops")
    @classmethod
    def _needs_bf16_or_fp16(cls, value: dict[str, float]) -> dict[str, float]:
        if "bf16" not in value and "fp16" not in value:
            raise ValueError("dense_tflops needs at least bf16 or fp16")
        return value

    @model_validator(mode="after")
    def _matmul_within_peak(self) -> GpuSpec:
        for dtype, tflops in self.matmul_tflops.items():
            peak = self.dense_tflops.get(dtype)
            if peak is None or tflops > peak:
                raise ValueError(
                    f"matmul_tflops.{dtype} ({tflops}) must be at most dense_tflops.{dtype} ({peak}): a measured"
                    " matmul cannot beat the datasheet peak, and needs one"
                )
        return self

    @model_validator(mode="after")
    def _reported_within_hbm(self) -> GpuSpec:
        if self.reported_gib is not None and self.reported_gib > self.hbm_gib:
            raise ValueError(
                f"reported_gib ({self.reported_gib}) must be at most hbm_gib ({self.hbm_gib}): the driver reports"
                " the installed memory less its own share; give both in GiB (bytes / 2**30), not GB"
            )
        return self

    def supports(self, dtype: str) -> bool:
        """Return True when the GPU computes natively in ``dtype``."""
        return dtype in self.dense_tflops


# ------------------------------------------------------------------------- models


class MoeSpec(_Spec):
    """Mixture-of-experts layout."""

    num_experts: PositiveInt = Field(description="Routed experts per MoE layer.")
    experts_per_token: PositiveInt
    shared_experts: NonNegativeInt = 0
    expert_intermediate_size: PositiveInt
    moe_layers: PositiveInt = Field(description="How many layers are MoE (the rest are dense).")


class MlaSpec(_Spec):
    """Multi-head latent attention (DeepSeek-V2/V3) ranks."""

    q_lora_rank: NonNegativeInt = Field(description="0 when queries are not low-rank.")
    kv_lora_rank: PositiveInt
    qk_nope_head_dim: PositiveInt
    qk_rope_head_dim: PositiveInt
    v_head_dim: PositiveInt


class SlidingWindowSpec(_Spec):
    """Layers whose attention only sees the last `window` tokens."""

    window: PositiveInt
    layers: PositiveInt = Field(description="How many layers use the window; the others attend globally.")


class ModelSpec(_Catalogued):
    """A model's architecture, as the capacity and performance math need it."""

    hf_id: str = Field(default="", description="Hugging Face repository id, e.g. meta-llama/Llama-3.1-70B-Instruct.")
    family: str = Field(min_length=1)
    architecture: str = Field(min_length=1, description="The config.json `architectures[0]` value.")
    num_layers: PositiveInt
    hidden_size: PositiveInt
    num_attention_heads: PositiveInt
    num_kv_heads: PositiveInt
    head_dim: PositiveInt
    intermediate_size: NonNegativeInt = Field(description="Dense FFN width (0 when every layer is MoE).")
    vocab_size: PositiveInt
    tie_word_embeddings: bool = False
    attention: Literal["mha", "gqa", "mqa", "mla"]
    moe: MoeSpec | None = None
    mla: MlaSpec | None = None
    sliding_window: SlidingWindowSpec | None = None
    total_params: PositiveInt = Field(description="All weights resident in memory, embeddings included.")
    active_params: PositiveInt = Field(
        description="Weights multiplied per token: MoE counts top-k plus shared experts; input embedding excluded."
    )
    max_context: PositiveInt = Field(description="Longest context the model supports, tokens.")
    native_weight_dtype: WeightDtype
    quantized_layers: Literal["all", "experts", "none"] = Field(
        default="none", description="Which weights `native_weight_dtype` applies to when the checkpoint is quantized."
    )
    license: str = Field(min_length=1, description="Licence id or name, e.g. apache-2.0, llama3.1, mit.")
    license_url: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.num_attention_heads % self.num_kv_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) is not a multiple of "
                f"num_kv_heads ({self.num_kv_heads})"
            )
        if self.attention == "mla" and self.mla is None:
            raise ValueError("attention 'mla' needs the `mla` ranks")
        if self.active_params > self.total_params:
            raise ValueError("active_params cannot exceed total_params")
        if self.moe and self.moe.moe_layers > self.num_layers:
            raise ValueError("moe.moe_layers cannot exceed num_layers")
        if self.sliding_window and self.sliding_window.layers > self.num_layers:
            raise ValueError("sliding_window.layers cannot exceed num_layers")
        return self

    @property
    def dense_layers(self) -> int:
        """Layers with a dense FFN: all of them, minus the MoE layers."""
        return self.num_layers - (self.moe.moe_layers if self.moe else 0)

    @property
    def full_attention_layers(self) -> int:
        """Layers that attend over the whole context (not a sliding window)."""
        return self.num_layers - (self.sliding_window.layers if self.sliding_window else 0)


# ----------------------------------------------------------------------- runtimes


class RuntimeKnob(_Spec):
    """One engine setting under its real name, with its default, its schema and where they are documented.

    The schema (``type``, ``minimum``/``maximum``, ``choices``) is what a plan's value is checked
    against at load time; ``type`` left out means the type of ``default`` (any when that is null).
    """

    name: str = Field(min_length=1, description="The engine's own flag or field name.")
    default: float | int | bool | str | None
    meaning: str = Field(min_length=1)
    source: SourceText
    type: Literal["int", "float", "bool", "str"] | None = Field(default=None, description="The value's type.")
    unit: str = Field(default="", description="Unit of a number (tokens, bytes, fraction, sequences, GPUs).")
    minimum: float | None = Field(default=None, description="Smallest value allowed.")
    exclusive_minimum: bool = Field(default=False, description="The value must be above `minimum`, not equal.")
    maximum: float | None = Field(default=None, description="Largest value allowed.")
    choices: list[str] = Field(default_factory=list, description="The values a text knob takes.")
    flag: str | None = Field(
        default=None,
        description="The server's flag (--x) or options-file key (a.b) that sets the knob, where the runtime's "
        "`knob_flags` convention does not name it.",
    )

    def value_type(self) -> str | None:
        """The knob's type: declared, else that of its default (None: any)."""
        if self.type is not None or self.default is None:
            return self.type
        return {bool: "bool", int: "int", float: "float", str: "str"}[type(self.default)]

    def refusal(self, value: object) -> str | None:
        """Why ``value`` is not a valid setting of this knob, or None when it is."""
        kind = self.value_type()
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "bool" and not isinstance(value, bool):
            return f"{value!r} is not true or false"
        if kind == "int" and not (numeric and float(value).is_integer()):  # type: ignore[arg-type]
            return f"{value!r} is not a whole number"
        if kind == "float" and not numeric:
            return f"{value!r} is not a number"
        if kind == "str" and not isinstance(value, str):
            return f"{value!r} is not text"
        if numeric and not self._in_range(float(value)):  # type: ignore[arg-type]
            return f"{value!r} is outside {self.range_text()}"
        if self.choices and value not in self.choices:
            return f"{value!r} is not one of {', '.join(self.choices)}"
        return None

    def _in_range(self, value: float) -> bool:
        low_ok = self.minimum is None or (value > self.minimum if self.exclusive_minimum else value >= self.minimum)
        return low_ok and (self.maximum is None or value <= self.maximum)

    def range_text(self) -> str:
        """The allowed values in words, e.g. ``a number > 0 and <= 1 (fraction)``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}
        words = [kind.get(self.value_type() or "", "a value")]
        if self.minimum is not None:
            words.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            words.append(f"{'and ' if self.minimum is not None else ''}<= {self.maximum:g}")
        return " ".join(words) + (f" ({self.unit})" if self.unit else "")


#: What a serving flag sets, by role, so one deployment value maps to each engine's own flag.
FlagRole = Literal[
    "tensor_parallel", "pipeline_parallel", "data_parallel", "expert_parallel", "attention_dp", "max_context",
    "max_sequences", "batched_tokens", "kv_budget", "kv_dtype", "kv_block_tokens", "quantization",
    "prefix_caching", "chunked_prefill", "served_model_name", "port", "metrics", "options_file", "engine_knob",
]  # fmt: skip


class RuntimeFlag(_Spec):
    """A serving setting under the name the engine's server takes it, and the versions that have it."""

    role: FlagRole = Field(description="What the flag sets (the same role across engines).")
    flag: str = Field(min_length=1, description="The server's own flag (--max-num-seqs) or options-file key.")
    where: Literal["cli", "config"] = Field(
        default="cli", description="cli: a command-line flag; config: a (dotted) key of the engine's options file."
    )
    style: Literal["value", "switch", "inverted", "pair"] = Field(
        default="value",
        description="value: `--flag V`; switch: `--flag` when true; inverted: `--flag` when false "
        "(e.g. --disable-radix-cache); pair: `--flag` / `--no-flag`.",
    )
    since: str | None = Field(default=None, description="First release with the flag; None: not recorded.")
    until: str | None = Field(default=None, description="First release without it; None: still present.")
    source: SourceText


class RuntimeMetric(_Spec):
    """A Prometheus metric the engine exports, the role it plays in SLO alerts, and the versions that export it."""

    role: Literal["ttft", "itl", "e2e", "kv_usage", "waiting", "running", "finished", "errors"]
    name: str = Field(min_length=1, description="The exported name, e.g. vllm:time_to_first_token_seconds.")
    kind: Literal["histogram", "gauge", "counter"]
    selector: str = Field(default="", description='Label matchers the role needs, e.g. finished_reason="abort".')
    since: str | None = Field(default=None, description="First release that exports it; None: not recorded.")
    until: str | None = Field(default=None, description="First release that no longer exports it by default.")
    source: SourceText


def version_key(version: str) -> tuple[int, ...]:
    """A release string as comparable numbers: '0.11.0' -> (0, 11, 0); 'v1.0.0rc6' -> (1, 0, 0)."""
    return tuple(int(m.group()) if (m := re.match(r"\d+", piece)) else 0 for piece in version.lstrip("vV").split("."))


def in_versions(since: str | None, until: str | None, version: str) -> bool:
    """True when ``version`` is at or after ``since`` and before ``until`` (unset bounds are open)."""
    key = version_key(version)
    return (since is None or key >= version_key(since)) and (until is None or key < version_key(until))


class RuntimeSpec(_Catalogued):
    """An inference engine: what it can run and how it budgets memory."""

    parallelism: list[Literal["tp", "pp", "ep", "dp", "attention-dp"]]
    kv_dtypes: list[KvDtype]
    weight_dtypes: list[WeightDtype]
    vendors: list[str] = Field(description="GPU vendors the engine runs on.")
    kv_budget_rule: Literal["fraction_of_total", "fraction_of_free_after_load", "static_fraction_of_total"] = Field(
        description=(
            "fraction_of_total: KV = total x fraction - everything else (vLLM gpu_memory_utilization); "
            "fraction_of_free_after_load: KV = (free after weights) x fraction (TRT-LLM free_gpu_memory_fraction); "
            "static_fraction_of_total: weights + KV = total x fraction (SGLang mem_fraction_static)."
        )
    )
    kv_budget_knob: str = Field(description="Name of the knob in `knobs` that sets the KV budget.")
    memory_reserve_gib: float = Field(ge=0, description="Per-GPU memory outside weights and KV (CUDA context etc.).")
    memory_reserve_gib_one_gpu: float | None = Field(
        default=None,
        ge=0,
        description="memory_reserve_gib for a replica of one GPU (no NCCL or all-reduce buffers); unset: the same.",
    )
    sampler_bytes_per_logit: Positive = Field(
        default=4.0,
        description=(
            "Peak bytes per logit (sampled rows x vocabulary) while the runtime's profiling run samples; "
            "4 (one fp32 copy) where the runtime's sampler is not modelled."
        ),
    )
    attention_dp_splits_batched_tokens: bool = Field(
        default=False,
        description=(
            "Under attention data parallelism the batched_tokens knob is the replica's and the engine splits "
            "it over the attention-DP ranks (SGLang divides chunked_prefill_size by dp_size); false: every "
            "rank schedules the knob's tokens a step."
        ),
    )
    attention_dp_dispatch: Literal["round_robin", "least_loaded", "fewest_prompt_tokens"] = Field(
        default="round_robin",
        description=(
            "How the engine sends a new request to one of its attention-DP ranks: round_robin (in turn, "
            "SGLang's default load_balance_method), least_loaded (the rank with the lowest 4 x waiting + running, "
            "vLLM's data-parallel client) or fewest_prompt_tokens (only while the ranks have room, longest "
            "prompts first, to the rank below the even share whose active requests hold the fewest prompt "
            "tokens, TensorRT-LLM's attention-DP request queue)."
        ),
    )
    quantized_expert_activations: Literal["bf16", "fp8"] = Field(
        default="bf16",
        description=(
            "What the engine feeds the expert GEMMs of a checkpoint that quantises only its MoE experts "
            "(gpt-oss's MXFP4) on GPUs with block-scaled (MX) tensor cores: bf16 (W4A16, the weights converted "
            "on the fly) or fp8 (W4A8, activations quantised to MXFP8)."
        ),
    )
    knobs: list[RuntimeKnob]
    knob_roles: dict[
        Literal[
            "max_sequences",
            "batched_tokens",
            "kv_block_tokens",
            "max_context",
            "max_kv_tokens",
            "prefix_caching",
            "no_prefix_caching",
        ],
        str,
    ] = Field(
        default_factory=dict,
        description=(
            "Which knob plays each role the sizing needs: max_sequences (running batch limit), batched_tokens "
            "(tokens per scheduler step), kv_block_tokens (KV page size), max_context (longest sequence), "
            "max_kv_tokens (a cap on the tokens the KV cache holds, the smaller budget winning), "
            "prefix_caching (true: the engine reuses a cached prompt prefix) or no_prefix_caching (true: it does "
            "not, as SGLang's disable_radix_cache); without either, prefixes are taken as cached."
        ),
    )
    knob_flags: Literal["cli-pair", "cli-switch", "config"] | None = Field(
        default=None,
        description=(
            "How the server takes a knob a plan sets (what `planner deploy` writes): cli-pair, `--` and the knob's "
            "name with dashes, a boolean as `--x` / `--no-x` (vLLM); cli-switch, the same with a boolean as `--x` "
            "when true (SGLang); config, a key of the options file (TensorRT-LLM); a knob's own `flag` overrides "
            "the name. None: the deployment cannot carry plan knobs, and `planner deploy` refuses a plan that sets one."
        ),
    )
    layout_knobs: dict[str, Literal["tp", "pp", "ep", "dp"]] = Field(
        default_factory=dict,
        description=(
            "Knobs that set the replica's parallel layout, each with the plan field that chooses it instead "
            "(runtime.tp, pp, ep or dp): the sizing and the deployment take the layout from those fields, so a "
            "plan that sets such a knob is refused with the field to write."
        ),
    )

    version: str | None = Field(
        default=None, description="The release the serving flags and metrics below were checked against."
    )
    launch: list[str] = Field(default_factory=list, description="The server's launch command, e.g. [vllm, serve].")
    serve_port: int | None = Field(default=None, description="The server's default HTTP port.")
    metrics_path: str = Field(default="/metrics", description="Where the server exports Prometheus metrics.")
    flags: list[RuntimeFlag] = Field(default_factory=list, description="Serving flags and the versions that have them.")
    metrics: list[RuntimeMetric] = Field(default_factory=list, description="Exported Prometheus metrics by role.")

    @model_validator(mode="after")
    def _budget_knob_listed(self) -> RuntimeSpec:
        names = {k.name for k in self.knobs}
        for role, name in [
            ("kv_budget_knob", self.kv_budget_knob),
            *self.knob_roles.items(),
            *((f"layout_knobs ({axis})", name) for name, axis in self.layout_knobs.items()),
        ]:
            if name not in names:
                raise ValueError(f"{role} names {name!r}, which is not among the knobs")
        return self

    def knob(self, name: str) -> RuntimeKnob:
        """Return the knob called ``name``; KeyError when the runtime has none."""
        for k in self.knobs:
            if k.name == name:
                return k
        raise KeyError(name)

    def knob_flag(self, name: str) -> RuntimeFlag | None:
        """The flag or options-file key that sets knob ``name`` on the server (:attr:`knob_flags`), its
        source the knob's; None where the runtime names no convention. KeyError when it has no such knob."""
        knob = self.knob(name)
        if self.knob_flags is None:
            return None
        where: Literal["cli", "config"] = "config" if self.knob_flags == "config" else "cli"
        flag = knob.flag or (name if where == "config" else "--" + name.replace("_", "-"))
        style: Literal["value", "switch", "pair"] = "value"
        if where == "cli" and knob.value_type() == "bool":
            style = "pair" if self.knob_flags == "cli-pair" else "switch"
        return RuntimeFlag(role="engine_knob", flag=flag, where=where, style=style, source=knob.source)


# ------------------------------------------------------------------ serving stacks


class ServingStackSpec(_Catalogued):
    """The platform around a runtime: routing, disaggregation, autoscaling, metrics."""

    runtimes: list[str] = Field(description="Runtime ids the stack can drive.")
    disaggregated_prefill_decode: bool
    kv_transfer: list[Literal["nixl", "rdma", "nvlink", "tcp", "ucx", "mooncake", "lmcache"]] = Field(
        default_factory=list, description="KV transports the stack supports between prefill and decode."
    )
    requires_rdma_for_disaggregation: bool = False
    autoscaling: str = Field(min_length=1, description="How it scales replicas (e.g. 'KEDA/HPA on queue depth').")
    metrics_endpoint: str = Field(min_length=1, description="Where Prometheus metrics are served.")
    kv_aware_routing: bool = False
