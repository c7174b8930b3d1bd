"""OpenAI gpt-oss: MoE with MXFP4 experts, alternating sliding-window attention, sinks."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, build_model_spec
from planner.specs import ModelSpec

ARCHITECTURES = ("GptOssForCausalLM",)


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a gpt-oss config.json into a model spec."""
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    hidden, heads, layers = r.integer("hidden_size"), r.integer("num_attention_heads"), r.integer("num_hidden_layers")
    r.check()
    top_k = r.integer("num_experts_per_tok", config.get("experts_per_token"))
    layer_types = r.str_list("layer_types")
    window = r.optional_integer("sliding_window")
    sliding = sum(1 for t in layer_types if t == "sliding_attention") if layer_types else layers // 2
    shape = TransformerShape(
        num_layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=r.integer("num_key_value_heads", heads),
        head_dim=r.integer("head_dim", hidden // heads),
        vocab=r.integer("vocab_size"),
        dense_ffn=0,
        tie_embeddings=r.boolean("tie_word_embeddings", False),
        moe=MoeShape(
            num_experts=r.integer("num_local_experts"),
            experts_per_token=top_k,
            expert_ffn=r.integer("intermediate_size"),
            moe_layers=layers,
            router_bias=True,
            expert_bias=True,
        ),
        qkv_bias=r.boolean("attention_bias", True),
        o_bias=r.boolean("attention_bias", True),
        attention_sinks=True,
        sliding_window=window,
        sliding_layers=sliding if window else 0,
    )
    max_context = r.integer("max_position_embeddings")
    r.check()
    return build_model_spec(shape, config=config, family="gpt-oss", max_context=max_context)


planner_models, planner_model_from_config = model_family_hooks("models/gpt_oss.yaml", convert, ARCHITECTURES)
