"""One deployment configuration: a model on a replica of GPUs under a runtime.

This is the input every sizing function takes: a plain frozen value (not a pydantic
model, because search builds thousands of them) that says nothing about how it is
timed. The performance model is always passed beside it (see :mod:`planner.perfmodel`).
Its configuration class (:func:`config_class`) is what calibration, corrections and
``auto``'s choices are keyed by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from planner.specs import BYTES_PER_ELEMENT, GpuSpec, ModelSpec, RuntimeSpec

#: Share of its datasheet peak a GPU's matrix multiplies reach at best where no measurement is in
#: the catalog (an estimate): the median bf16 share of the twelve accelerators measured in
#: ml-engineering's MAMF table (github.com/stas00/ml-engineering, compute/accelerator/README.md
#: at 744d01e, 2026-08: 51.4% MI300X to 96.9% Gaudi 2, median 78.1%).
DEFAULT_MATMUL_SHARE = 0.78

#: Weight formats whose matrix multiplies run in a narrower type when the GPU has it.
_COMPUTE_OF_WEIGHTS = {"fp8": "fp8", "int8": "int8", "fp4": "fp4", "nvfp4": "fp4", "mxfp4": "fp4"}
#: Weight formats whose kernels convert the weights to 16-bit on the fly where the GEMM runs in 16-bit.
_DEQUANTISED = ("int4", "mxfp4", "nvfp4", "fp4", "fp8")


@dataclass(frozen=True)
class ParamSplit:
    """A model's weights split by how they are stored and sharded (parameter counts)."""

    embedding: int
    head: int
    experts: int
    expert_each: int
    dense: int  # attention, dense FFN, shared experts, routers, norms, vision tower

    @property
    def total(self) -> int:
        """All weights."""
        return self.embedding + self.head + self.experts + self.dense


def param_split(model: ModelSpec) -> ParamSplit:
    """Split ``model.total_params`` into embedding, head, routed experts and the rest."""
    embedding = model.vocab_size * model.hidden_size
    head = 0 if model.tie_word_embeddings else embedding
    expert_each = 3 * model.hidden_size * model.moe.expert_intermediate_size if model.moe else 0
    experts = model.moe.moe_layers * model.moe.num_experts * expert_each if model.moe else 0
    dense = max(model.total_params - embedding - head - experts, 0)
    return ParamSplit(embedding=embedding, head=head, experts=experts, expert_each=expert_each, dense=dense)


@dataclass(frozen=True)
class Deployment:
    """A model served on one replica: ``tp`` x ``pp`` GPUs, experts split ``ep`` ways.

    With ``attention_dp`` the replica is ``ep`` GPUs that each run attention for their
    own requests (attention weights replicated) while the experts are split across them.
    """

    model: ModelSpec
    gpu: GpuSpec
    runtime: RuntimeSpec
    weights_dtype: str
    kv_dtype: str
    tp: int = 1
    pp: int = 1
    ep: int = 1
    attention_dp: bool = False
    knobs: dict[str, Any] = field(default_factory=dict)
    efficiency: dict[str, float] = field(default_factory=dict)
    inter_node_fabric: str = "infiniband"
    inter_node_gb_s: float | None = None
    runtime_version: str | None = None  # the plan's pinned engine version, for models with per-version data

    def __post_init__(self) -> None:
        # Every per-GPU share divides by these; the input edges refuse 0, this keeps it so.
        if min(self.tp, self.pp, self.ep) < 1:
            raise ValueError(f"parallel sizes must be at least 1, got TP {self.tp}, PP {self.pp}, EP {self.ep}")

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        # Computed once: the roofline's caches hash the deployment several times a simulated step.
        return hash((self.model.id, self.gpu.id, self.runtime.id, self.weights_dtype, self.kv_dtype, self.tp,
                     self.pp, self.ep, self.attention_dp))  # fmt: skip

    @property
    def gpus(self) -> int:
        """GPUs in one replica."""
        return self.ep if self.attention_dp else self.tp * self.pp

    @property
    def budget_split_ranks(self) -> int:
        """The attention-DP ranks the runtime divides its token-budget knob over (SGLang divides
        chunked_prefill_size by dp_size: ``RuntimeSpec.attention_dp_splits_batched_tokens``); 1 where
        every rank runs the knob's tokens or there is no attention DP."""
        return self.ep if self.attention_dp and self.runtime.attention_dp_splits_batched_tokens else 1

    @property
    def label(self) -> str:
        """Short description, e.g. 'h100-sxm x4 TP4 fp8/fp8 vllm'."""
        return self.label_with(f"x{self.gpus} {self.parallelism}")

    def label_with(self, layout: str) -> str:
        """:attr:`label` with ``layout`` for this deployment's GPUs and parallelism (prefill and decode
        pools of two layouts: 'x2 TP2 prefill + x1 TP1 decode')."""
        return f"{self.model.id} on {self.gpu.id} {layout} w{self.weights_dtype}/kv{self.kv_dtype} {self.runtime.id}"

    @property
    def parallelism(self) -> str:
        """The parallel layout in brief, e.g. 'TP4', 'TP8 PP2', 'TP4 EP4', 'DP-attn+EP8'."""
        if self.attention_dp:
            return f"DP-attn+EP{self.ep}"
        return f"TP{self.tp}" + (f" PP{self.pp}" if self.pp > 1 else "") + (f" EP{self.ep}" if self.ep > 1 else "")

    @cached_property
    def params(self) -> ParamSplit:
        """The model's weights split by storage and sharding."""
        return param_split(self.model)

    @cached_property
    def compute_dtype(self) -> str:
        """The type matrix multiplies run in: the weights' narrow type if the GPU has it, else 16-bit.

        A checkpoint that quantises only its experts (:attr:`experts_only_quantized`) computes in
        16-bit outside them (its other layers are 16-bit); its experts' type is :attr:`expert_compute_dtype`.
        """
        narrow = _COMPUTE_OF_WEIGHTS.get(self.weights_dtype)
        if narrow and self.gpu.supports(narrow) and not self.experts_only_quantized:
            return narrow
        return "bf16" if self.gpu.supports("bf16") else "fp16"

    @cached_property
    def experts_only_quantized(self) -> bool:
        """Whether the weights are the checkpoint's own format and it quantises only the MoE experts
        (gpt-oss's MXFP4): attention, dense layers and embeddings stay 16-bit."""
        return self.model.quantized_layers == "experts" and self.weights_dtype == self.model.native_weight_dtype

    @cached_property
    def expert_compute_dtype(self) -> str:
        """The type the routed experts' matrix multiplies run in: :attr:`compute_dtype`, except where
        only the experts are quantised. Their kernels then take the runtime's activations for such
        experts (``RuntimeSpec.quantized_expert_activations``): 8-bit on a GPU with block-scaled (MX)
        tensor cores (those with FP4: an FP8 x FP4 product runs at the FP8 rate) where the runtime
        quantises activations to MXFP8, else 16-bit, the weights converted on the fly."""
        wanted = self.runtime.quantized_expert_activations
        if self.experts_only_quantized and wanted == "fp8" and self.gpu.supports("fp4") and self.gpu.supports("fp8"):
            return "fp8"
        return self.compute_dtype

    def weight_only(self, kind: str) -> bool:
        """Whether the matrix multiplies of ``kind`` (``dense`` or ``experts``) convert narrow weights to
        their 16-bit compute type on the fly (the roofline's ``weight_only_efficiency``)."""
        compute = self.expert_compute_dtype if kind == "experts" else self.compute_dtype
        return compute in ("bf16", "fp16") and self.weights_dtype in _DEQUANTISED and self.weight_bytes(kind) < 2

    @cached_property
    def peak_dtype(self) -> str:
        """The catalog key of the compute type's figures: ``bf16`` for 16-bit work, else the type."""
        return "bf16" if self.compute_dtype in ("bf16", "fp16") else self.compute_dtype

    @property
    def bf16_peak_tflops(self) -> float:
        """Dense 16-bit peak of one GPU (bf16, else fp16)."""
        return self.gpu.dense_tflops.get("bf16") or self.gpu.dense_tflops["fp16"]

    @cached_property
    def peak_tflops(self) -> float:
        """Dense peak of one GPU in the compute type (bf16 for 16-bit work)."""
        if self.peak_dtype == "bf16":
            return self.bf16_peak_tflops
        return self.gpu.dense_tflops[self.compute_dtype]  # type: ignore[index]  # compute_dtype is a ComputeDtype

    @cached_property
    def matmul_share(self) -> float:
        """The share of :attr:`peak_tflops` one GPU's matrix multiplies reach at best: its measured
        maximum achievable matmul TFLOPS in the compute type, else its bf16 share, else
        :data:`DEFAULT_MATMUL_SHARE`. The datasheet peaks are not equally reachable (51% on an
        MI300X, 87% on an A100), so efficiency factors fitted on one GPU carry to another only
        as shares of what each can reach."""
        key = self.matmul_measured_dtype
        if key is None:
            return DEFAULT_MATMUL_SHARE
        peak = self.peak_tflops if key == self.peak_dtype else self.bf16_peak_tflops
        return self.gpu.matmul_tflops[key] / peak  # type: ignore[index]  # a ComputeDtype

    @cached_property
    def matmul_measured_dtype(self) -> str | None:
        """The dtype of the measured matmul ceiling :attr:`matmul_share` rests on: the compute
        type's, else bf16's; None where the GPU has no measurement."""
        measured = self.gpu.matmul_tflops
        return next((key for key in (self.peak_dtype, "bf16") if key in measured), None)

    @cached_property
    def matmul_peak_tflops(self) -> float:
        """The most one GPU's matrix multiplies reach in the compute type (:attr:`peak_tflops` x
        :attr:`matmul_share`): the ceiling the MFU factors are shares of."""
        return self.peak_tflops * self.matmul_share

    @cached_property
    def expert_matmul_peak_tflops(self) -> float:
        """:attr:`matmul_peak_tflops` for the routed experts (:attr:`expert_compute_dtype`): the
        datasheet peak in their type x the same :attr:`matmul_share`."""
        if self.expert_compute_dtype == self.compute_dtype:
            return self.matmul_peak_tflops
        return self.gpu.dense_tflops[self.expert_compute_dtype] * self.matmul_share  # type: ignore[index]

    def weight_bytes(self, kind: str) -> float:
        """Bytes per parameter for ``kind`` (experts, dense, embedding).

        Quantised checkpoints keep embeddings and the output head in 16-bit; a format
        that covers only the experts (MXFP4 in gpt-oss) leaves the rest 16-bit too.
        """
        if kind == "embedding":
            return 2.0
        if kind == "dense" and self.experts_only_quantized:
            return 2.0
        return BYTES_PER_ELEMENT[self.weights_dtype]

    @cached_property
    def kv_bytes(self) -> float:
        """Bytes per KV element."""
        return BYTES_PER_ELEMENT[self.kv_dtype]


#: Configuration classes, split by what changes the physics most: ``dense``; ``moe-tp``
#: (experts sharded by tensor parallelism only); ``moe-ep`` (expert parallelism, with or
#: without attention data parallelism).
CLASSES = ("dense", "moe-tp", "moe-ep")


def config_class(dep: Deployment) -> str:
    """``dense``, ``moe-tp`` or ``moe-ep`` (expert or attention-data parallel) for a deployment."""
    if dep.model.moe is None:
        return "dense"
    return "moe-ep" if dep.attention_dp or dep.ep > 1 else "moe-tp"
