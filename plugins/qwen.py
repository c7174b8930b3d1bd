"""Alibaba Qwen family: Qwen2, Qwen2-MoE, Qwen3 and Qwen3-MoE."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, architecture_of, finish_spec
from planner.specs import ModelSpec

ARCHITECTURES = ("Qwen2ForCausalLM", "Qwen2MoeForCausalLM", "Qwen3ForCausalLM", "Qwen3MoeForCausalLM")


def _moe_layer_count(r: ConfigReader, layers: int) -> int:
    """Layers that are sparse: every `decoder_sparse_step`-th, minus `mlp_only_layers`."""
    step = r.integer("decoder_sparse_step", 1)
    dense_only = set(r.config.get("mlp_only_layers") or [])
    return sum(1 for i in range(layers) if i not in dense_only and (i + 1) % max(step, 1) == 0)


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a Qwen2/Qwen3 (dense or MoE) config.json into a model spec."""
    arch = architecture_of(config)
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    base = r.decoder()
    layers = base["num_layers"]
    moe = None
    if arch in ("Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM"):
        shared_ffn = r.integer("shared_expert_intermediate_size", 0, minimum=0)
        moe = MoeShape(
            num_experts=r.integer("num_experts"),
            experts_per_token=r.integer("num_experts_per_tok"),
            expert_ffn=r.integer("moe_intermediate_size"),
            moe_layers=_moe_layer_count(r, layers),
            shared_experts=1 if shared_ffn else 0,
            shared_expert_ffn=shared_ffn,
        )
    window = r.optional_integer("sliding_window") if r.boolean("use_sliding_window", False) else None
    qwen3 = arch.startswith("Qwen3")
    shape = TransformerShape(
        **base,
        dense_ffn=r.integer("intermediate_size", 0, minimum=0),
        moe=moe,
        # Qwen2 has biases on q/k/v; Qwen3 dropped them for RMS norms on q and k.
        qkv_bias=r.boolean("attention_bias", not qwen3),
        qk_norm=qwen3,
        sliding_window=window,
        sliding_layers=(layers - r.integer("max_window_layers", 0, minimum=0)) if window else 0,
    )
    return finish_spec(r, shape, config, "qwen")


planner_models, planner_model_from_config = model_family_hooks("models/qwen.yaml", convert, ARCHITECTURES)
