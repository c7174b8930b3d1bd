"""Google Gemma 3: 5 local (sliding-window) layers for each global one, tied embeddings."""

from __future__ import annotations

from typing import Any

from planner.catalogfiles import model_family_hooks
from planner.modelconfig import ConfigReader, TransformerShape, finish_spec
from planner.specs import ModelSpec
from planner.vision import vision_tower_params

ARCHITECTURES = ("Gemma3ForConditionalGeneration", "Gemma3ForCausalLM")

#: transformers' Gemma3TextConfig defaults, used for keys a published config leaves out.
_TEXT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 262208,
    "max_position_embeddings": 131072,
    "sliding_window": 4096,
    "sliding_window_pattern": 6,
    "head_dim": 256,
    "num_key_value_heads": 16,
}


def convert(config: dict[str, Any]) -> ModelSpec:
    """Turn a Gemma 3 config.json (multimodal wrapper or text-only) into a model spec."""
    nested = isinstance(config.get("text_config"), dict)
    text = {**_TEXT_DEFAULTS, **(config["text_config"] if nested else config)}
    r = ConfigReader(text, file=config.get("_source", "config.json"), prefix="text_config." if nested else "")
    hidden, heads, layers = r.integer("hidden_size"), r.integer("num_attention_heads"), r.integer("num_hidden_layers")
    r.check()
    layer_types = r.str_list("layer_types")
    if layer_types:
        local = sum(1 for t in layer_types if t == "sliding_attention")
    else:
        local = layers - layers // r.integer("sliding_window_pattern")
    shape = TransformerShape(
        num_layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=r.integer("num_key_value_heads"),
        head_dim=r.integer("head_dim"),
        vocab=r.integer("vocab_size"),
        dense_ffn=r.integer("intermediate_size"),
        tie_embeddings=True,
        qk_norm=True,
        norms_per_layer=4,
        sliding_window=r.integer("sliding_window"),
        sliding_layers=local,
        extra_params=vision_tower_params(config.get("vision_config"), hidden) if nested else 0,
    )
    return finish_spec(r, shape, config, "gemma")


planner_models, planner_model_from_config = model_family_hooks("models/gemma.yaml", convert, ARCHITECTURES)
