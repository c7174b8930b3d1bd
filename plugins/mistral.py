"""Mistral AI family: Mistral (dense, optional sliding window) and Mixtral (MoE)."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, architecture_of, build_model_spec
from planner.specs import ModelSpec

ARCHITECTURES = ("MistralForCausalLM", "MixtralForCausalLM")


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a Mistral or Mixtral config.json into a model spec."""
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    hidden, heads, layers = r.integer("hidden_size"), r.integer("num_attention_heads"), r.integer("num_hidden_layers")
    ffn = r.integer("intermediate_size")
    r.check()
    moe = None
    if architecture_of(config) == "MixtralForCausalLM":
        # Mixtral's experts use intermediate_size; there is no dense FFN.
        moe = MoeShape(
            num_experts=r.integer("num_local_experts"),
            experts_per_token=r.integer("num_experts_per_tok"),
            expert_ffn=ffn,
            moe_layers=layers,
        )
    window = r.optional_integer("sliding_window")
    shape = TransformerShape(
        num_layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=r.integer("num_key_value_heads", heads),
        head_dim=r.integer("head_dim", hidden // heads),
        vocab=r.integer("vocab_size"),
        dense_ffn=0 if moe else ffn,
        tie_embeddings=r.boolean("tie_word_embeddings", False),
        moe=moe,
        sliding_window=window or None,
        sliding_layers=layers if window else 0,
    )
    max_context = r.integer("max_position_embeddings")
    r.check()
    return build_model_spec(shape, config=config, family="mistral", max_context=max_context)


planner_models, planner_model_from_config = model_family_hooks("models/mistral.yaml", convert, ARCHITECTURES)
