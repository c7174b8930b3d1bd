"""config.json to model spec: parameter counts against published totals and hand
arithmetic, quantisation formats, and clear errors for bad files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from planner.errors import InputError
from planner.modelconfig import read_config_file, weight_format
from planner.modelimport import convert_config_file
from tests.conftest import CONFIGS

# Published totals (billions), each from the model card or the Hub's safetensors count:
# (catalog id, total, active or None, whether that active figure includes the input embedding)
PUBLISHED = [
    ("llama-3.1-8b", 8.03, None, None),  # huggingface.co/meta-llama/Llama-3.1-8B: 8.03B
    ("llama-3.1-70b", 70.6, None, None),  # Hub: 70.6B
    ("llama-3.1-405b", 405.9, None, None),  # Hub: 406B
    ("llama-2-7b", 6.74, None, None),  # Hub: 6.74B
    ("llama-2-70b", 69.0, None, None),  # Hub: 69B
    ("qwen3-8b", 8.2, None, None),  # Qwen3-8B card
    ("qwen3-32b", 32.8, None, None),  # Qwen3-32B card
    ("qwen3-30b-a3b", 30.5, 3.3, True),  # Qwen3-30B-A3B card: 3.3B activated
    ("qwen3-235b-a22b", 235.0, 22.0, True),  # Qwen3-235B-A22B card: 22B activated
    ("deepseek-v3", 671.0, 37.0, True),  # DeepSeek-V3 report: 671B total, 37B activated
    ("mixtral-8x7b", 46.7, 12.9, True),  # Mixtral paper: 46.7B / 12.9B
    ("mixtral-8x22b", 141.0, 39.0, True),  # mistral.ai Mixtral 8x22B: 141B / 39B
    ("gpt-oss-120b", 116.8, 5.13, False),  # OpenAI card: 116.8B / 5.13B (excl. input embedding)
    ("gpt-oss-20b", 20.9, 3.61, False),  # OpenAI card: 20.9B / 3.61B
    ("llama-4-maverick", 400.0, 17.0, True),  # Meta: 400B total, 17B active
    ("gemma-3-27b", 27.4, None, None),  # Hub: 27.4B
    ("mistral-small-24b", 23.6, None, None),  # Hub: 23.6B
]


@pytest.mark.parametrize(("model_id", "total_b", "active_b", "with_embedding"), PUBLISHED)
def test_parameter_counts_match_published_totals(
    catalog: Any, model_id: str, total_b: float, active_b: float | None, with_embedding: bool | None
) -> None:
    spec = catalog.models.get(model_id)
    assert spec.total_params / 1e9 == pytest.approx(total_b, rel=0.02)
    if active_b is not None:
        embedding = spec.vocab_size * spec.hidden_size if with_embedding else 0
        assert (spec.active_params + embedding) / 1e9 == pytest.approx(active_b, rel=0.02)


def test_llama_3_1_70b_by_hand(catalog: Any) -> None:
    h, ffn, layers, vocab, kv = 8192, 28672, 80, 128256, 8 * 128
    attention = h * h + 2 * h * kv + h * h  # q, k, v, o (no biases)
    mlp = 3 * h * ffn  # gate, up, down
    norms = 2 * h
    total = layers * (attention + mlp + norms) + 2 * vocab * h + h  # untied embedding and head, final norm
    spec = catalog.models.get("llama-3.1-70b")
    assert spec.total_params == total == 70_553_706_496
    assert spec.active_params == total - vocab * h, "dense: everything but the embedding lookup"


def test_deepseek_v3_by_hand(catalog: Any) -> None:
    h, heads, layers, vocab = 7168, 128, 61, 129280
    q_lora, kv_lora, nope, rope, v = 1536, 512, 128, 64, 128
    attention = (
        h * q_lora + q_lora + q_lora * heads * (nope + rope)  # q down, norm, q up
        + h * (kv_lora + rope) + kv_lora + kv_lora * heads * (nope + v)  # kv down, norm, kv up
        + heads * v * h  # output
    )  # fmt: skip
    expert = 3 * h * 2048
    moe_layer = 256 * expert + expert + h * 256 + 256  # routed, shared, router, score bias
    dense_layer = 3 * h * 18432
    total = layers * (attention + 2 * h) + 3 * dense_layer + 58 * moe_layer + 2 * vocab * h + h
    spec = catalog.models.get("deepseek-v3")
    assert spec.total_params == total
    assert total / 1e9 == pytest.approx(671.0, rel=0.002)
    assert spec.total_params - spec.active_params == 58 * 248 * expert + vocab * h


@pytest.mark.parametrize(
    ("file", "dtype", "layers"),
    [
        ("llama-3.1-8b-awq.json", "int4", "all"),
        ("llama-3.1-8b-gptq.json", "int4", "all"),
        ("llama-3.1-8b-fp8-compressed-tensors.json", "fp8", "all"),
        ("llama-3.1-8b-w4a16-compressed-tensors.json", "int4", "all"),
        ("deepseek-v3.json", "fp8", "all"),
        ("gpt-oss-120b.json", "mxfp4", "experts"),
        ("qwen3-32b.json", "bf16", "none"),
        ("nvfp4-modelopt/config.json", "nvfp4", "all"),
    ],
)
def test_quantization_formats(file: str, dtype: str, layers: str) -> None:
    assert weight_format(read_config_file(CONFIGS / file)) == (dtype, layers)


@pytest.mark.parametrize(
    ("file", "architecture", "total_b"),
    [
        ("llama-3.1-70b.json", "LlamaForCausalLM", 70.6),
        ("deepseek-v3.json", "DeepseekV3ForCausalLM", 671.0),
        ("qwen3-30b-a3b.json", "Qwen3MoeForCausalLM", 30.5),
        ("qwen2.5-7b.json", "Qwen2ForCausalLM", 7.62),  # Qwen2.5-7B card: 7.61B
        ("mixtral-8x7b.json", "MixtralForCausalLM", 46.7),
        ("mistral-7b-v0.1.json", "MistralForCausalLM", 7.24),  # Mistral 7B paper: 7.3B; Hub 7.24B
        ("gpt-oss-120b.json", "GptOssForCausalLM", 116.8),
        ("gemma-3-27b.json", "Gemma3ForConditionalGeneration", 27.4),
        ("llama-4-maverick.json", "Llama4ForConditionalGeneration", 400.0),
    ],
)
def test_each_supported_architecture_converts(
    host_for_import: Any, file: str, architecture: str, total_b: float
) -> None:
    _, spec = convert_config_file(CONFIGS / file, host_for_import)
    assert spec.architecture == architecture
    assert spec.total_params / 1e9 == pytest.approx(total_b, rel=0.02)


def test_mistral_sliding_window_and_qwen2_biases(host_for_import: Any) -> None:
    _, mistral = convert_config_file(CONFIGS / "mistral-7b-v0.1.json", host_for_import)
    assert mistral.sliding_window.window == 4096 and mistral.sliding_window.layers == 32
    _, qwen2 = convert_config_file(CONFIGS / "qwen2.5-7b.json", host_for_import)
    assert qwen2.sliding_window is None, "use_sliding_window false"


@pytest.fixture
def host_for_import(planner_make_host: Any) -> Any:
    return planner_make_host()


@pytest.mark.parametrize(
    ("file", "where", "words"),
    [
        ("unknown-architecture.json", "architectures", "FalconForCausalLM"),
        ("malformed-llama.json", "num_hidden_layers", "'eighty'"),
        ("no-architectures.json", "architectures", "missing"),
        ("not-json.json", "line 2, column 23", "not valid JSON"),
        ("unknown-quantization.json", "quantization_config.quant_method", "'hqq'"),
    ],
)
def test_bad_configs_get_one_clear_error(host_for_import: Any, file: str, where: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        convert_config_file(CONFIGS / file, host_for_import)
    problem = info.value.problems[0]
    assert problem.where == where and words in problem.what and problem.fix
    assert info.value.path.endswith(file)


def test_malformed_config_reports_every_bad_field(host_for_import: Any) -> None:
    with pytest.raises(InputError) as info:
        convert_config_file(CONFIGS / "malformed-llama.json", host_for_import)
    assert [p.where for p in info.value.problems] == ["num_hidden_layers"]
    config = json.loads((CONFIGS / "malformed-llama.json").read_text())
    assert "vocab_size" not in config  # reported once the layer count is fixed


def test_vocab_missing_is_named(host_for_import: Any, tmp_path: Any) -> None:
    config = json.loads((CONFIGS / "malformed-llama.json").read_text())
    config["num_hidden_layers"] = 80
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError) as info:
        convert_config_file(tmp_path / "config.json", host_for_import)
    assert [p.where for p in info.value.problems] == ["vocab_size"]
