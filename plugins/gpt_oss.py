"""OpenAI gpt-oss: MoE with MXFP4 experts, alternating sliding-window attention, sinks."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, finish_spec
from planner.specs import ModelSpec

ARCHITECTURES = ("GptOssForCausalLM",)


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a gpt-oss config.json into a model spec."""
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    base = r.decoder()
    layers = base["num_layers"]
    layer_types = r.str_list("layer_types")
    window = r.optional_integer("sliding_window")
    sliding = sum(1 for t in layer_types if t == "sliding_attention") if layer_types else layers // 2
    bias = r.boolean("attention_bias", True)
    shape = TransformerShape(
        **base,
        dense_ffn=0,
        moe=MoeShape(
            num_experts=r.integer("num_local_experts"),
            experts_per_token=r.integer("num_experts_per_tok", config.get("experts_per_token")),
            expert_ffn=r.integer("intermediate_size"),
            moe_layers=layers,
            router_bias=True,
            expert_bias=True,
        ),
        qkv_bias=bias,
        o_bias=bias,
        attention_sinks=True,
        sliding_window=window,
        sliding_layers=sliding if window else 0,
    )
    return finish_spec(r, shape, config, "gpt-oss")


planner_models, planner_model_from_config = model_family_hooks("models/gpt_oss.yaml", convert, ARCHITECTURES)
