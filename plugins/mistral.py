"""Mistral AI family: Mistral (dense, optional sliding window) and Mixtral (MoE)."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, architecture_of, finish_spec
from planner.specs import ModelSpec

ARCHITECTURES = ("MistralForCausalLM", "MixtralForCausalLM")


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a Mistral or Mixtral config.json into a model spec."""
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    base = r.decoder()
    ffn = r.integer("intermediate_size")
    moe = None
    if architecture_of(config) == "MixtralForCausalLM":
        # Mixtral's experts use intermediate_size; there is no dense FFN.
        moe = MoeShape(
            num_experts=r.integer("num_local_experts"),
            experts_per_token=r.integer("num_experts_per_tok"),
            expert_ffn=ffn,
            moe_layers=base["num_layers"],
        )
    window = r.optional_integer("sliding_window")
    shape = TransformerShape(
        **base,
        dense_ffn=0 if moe else ffn,
        moe=moe,
        sliding_window=window or None,
        sliding_layers=base["num_layers"] if window else 0,
    )
    return finish_spec(r, shape, config, "mistral")


planner_models, planner_model_from_config = model_family_hooks("models/mistral.yaml", convert, ARCHITECTURES)
