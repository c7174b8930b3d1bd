"""DeepSeek V2/V3/R1: multi-head latent attention (MLA) and fine-grained MoE."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, MoeShape, TransformerShape, finish_spec
from planner.specs import MlaSpec, ModelSpec

ARCHITECTURES = ("DeepseekV3ForCausalLM", "DeepseekV2ForCausalLM")


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a DeepSeek-V2/V3 config.json into a model spec.

    The multi-token-prediction layers (``num_nextn_predict_layers``) are left out: they
    are loaded only for speculative decoding, and published totals (671B) exclude them.
    """
    r = ConfigReader(config, file=config.get("_source", "config.json"))
    hidden, heads, layers = r.integer("hidden_size"), r.integer("num_attention_heads"), r.integer("num_hidden_layers")
    first_dense, freq = r.integer("first_k_dense_replace", 0, minimum=0), r.integer("moe_layer_freq", 1)
    ranks = {key: r.integer(key) for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")}
    r.check()
    mla = MlaSpec(q_lora_rank=r.optional_integer("q_lora_rank") or 0, **ranks)
    moe_layers = sum(1 for i in range(layers) if i >= first_dense and i % freq == 0)
    shape = TransformerShape(
        num_layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=heads,  # MLA: every head reads the shared latent
        head_dim=mla.qk_nope_head_dim + mla.qk_rope_head_dim,
        vocab=r.integer("vocab_size"),
        dense_ffn=r.integer("intermediate_size"),
        tie_embeddings=r.boolean("tie_word_embeddings", False),
        mla=mla,
        moe=MoeShape(
            num_experts=r.integer("n_routed_experts"),
            experts_per_token=r.integer("num_experts_per_tok"),
            expert_ffn=r.integer("moe_intermediate_size"),
            moe_layers=moe_layers,
            shared_experts=r.integer("n_shared_experts", 0, minimum=0),
            # V3 adds a per-expert bias to the routing scores (noaux_tc); V2 does not.
            router_bias=config.get("topk_method") == "noaux_tc",
        ),
    )
    return finish_spec(r, shape, config, "deepseek")


planner_models, planner_model_from_config = model_family_hooks("models/deepseek.yaml", convert, ARCHITECTURES)
