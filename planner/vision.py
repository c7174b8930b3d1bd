"""Parameter count of a ViT-style vision tower (SigLIP in Gemma 3, Llama 4's encoder).

Multimodal checkpoints load the tower beside the language model, so it counts
towards weight memory; it is not part of the per-token decode cost.
"""

from __future__ import annotations

from typing import Any


def vision_tower_params(vision_config: Any, text_hidden: int) -> int:
    """Count a vision encoder's weights plus the projector into the text model.

    Per layer: q/k/v/o projections with biases, a two-matrix MLP with biases and two
    layer norms; plus patch and position embeddings and the projector. Returns 0 when
    ``vision_config`` is absent or lacks the sizes.
    """
    if not isinstance(vision_config, dict):
        return 0
    try:
        h = int(vision_config["hidden_size"])
        ffn = int(vision_config["intermediate_size"])
        layers = int(vision_config["num_hidden_layers"])
        patch = int(vision_config.get("patch_size", 14))
        image = int(vision_config.get("image_size", 336))
        channels = int(vision_config.get("num_channels", 3))
    except (KeyError, TypeError, ValueError):
        return 0
    per_layer = 4 * (h * h + h) + 2 * h * ffn + ffn + h + 4 * h
    embeddings = channels * patch * patch * h + h + (image // patch) ** 2 * h
    projector = h * text_hidden
    return layers * per_layer + embeddings + 2 * h + projector
