"""Meta Llama family: Llama 2, Llama 3.x (LlamaForCausalLM) and Llama 4 (MoE, chunked attention)."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, architecture_of, finish_spec
from planner.specs import ModelSpec
from planner.vision import vision_tower_params

ARCHITECTURES = ("LlamaForCausalLM", "Llama4ForConditionalGeneration", "Llama4ForCausalLM")


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a Llama config.json into a model spec."""
    if architecture_of(config).startswith("Llama4"):
        return _convert_llama4(config)
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    base = r.decoder()
    bias = r.boolean("attention_bias", False)
    shape = TransformerShape(**base, dense_ffn=r.integer("intermediate_size"), qkv_bias=bias, o_bias=bias)
    return finish_spec(r, shape, config, "llama")


def _convert_llama4(config: dict[str, Any]) -> ModelSpec:
    root = ConfigReader(config, file=config.get("_source", "config.json"))
    r = root.sub("text_config") if "text_config" in config else root
    base = r.decoder()
    layers = base["num_layers"]
    step = r.integer("interleave_moe_layer_step", 1)
    chunk = r.optional_integer("attention_chunk_size")
    # Every fourth layer is a global NoPE layer; the others attend within chunks.
    no_rope = r.config.get("no_rope_layers") or []
    local_layers = sum(1 for flag in no_rope if flag) if no_rope else layers - layers // 4
    expert_ffn = r.integer("intermediate_size")
    shape = TransformerShape(
        **base,
        dense_ffn=r.integer("intermediate_size_mlp"),
        moe=MoeShape(
            num_experts=r.integer("num_local_experts"),
            experts_per_token=r.integer("num_experts_per_tok"),
            expert_ffn=expert_ffn,
            moe_layers=layers // max(step, 1),
            shared_experts=1,
            shared_expert_ffn=expert_ffn,
        ),
        sliding_window=chunk,
        sliding_layers=local_layers if chunk else 0,
        extra_params=vision_tower_params(config.get("vision_config"), base["hidden"]),
    )
    return finish_spec(r, shape, config, "llama")


planner_models, planner_model_from_config = model_family_hooks("models/llama.yaml", convert, ARCHITECTURES)
