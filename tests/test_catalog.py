"""The built-in catalog: required entries, aliases, Hugging Face ids, units that make sense."""

from __future__ import annotations

from typing import Any

import pytest

from planner.errors import UnknownIdError

REQUIRED_GPUS = [
    "a100-sxm-80gb", "h100-sxm", "h100-pcie", "h100-nvl", "h200-sxm", "h200-nvl", "b200", "gb200", "b300",
    "l40s", "l4", "rtx-pro-6000", "mi300x", "mi325x", "mi355x", "gaudi3",
]  # fmt: skip
REQUIRED_MODELS = [
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b", "qwen3-8b", "qwen3-32b", "qwen3-30b-a3b",
    "qwen3-235b-a22b", "deepseek-v3", "deepseek-r1", "mixtral-8x7b", "mistral-small-24b", "gpt-oss-20b",
    "gpt-oss-120b", "gemma-3-27b", "llama-2-7b", "llama-2-70b", "mixtral-8x22b", "llama-4-maverick",
]  # fmt: skip


def test_required_entries_exist(catalog: Any) -> None:
    assert set(REQUIRED_GPUS) <= set(catalog.gpus.entries)
    assert set(REQUIRED_MODELS) <= set(catalog.models.entries)
    assert set(catalog.runtimes.entries) == {"vllm", "sglang", "trtllm"}
    assert set(catalog.stacks.entries) == {"runtime-server", "kserve", "llm-d", "dynamo", "ray-serve"}
    assert not catalog.problems


@pytest.mark.parametrize(
    ("kind", "ref", "expected"),
    [
        ("gpus", "h100-sxm", "h100-sxm"),
        ("gpus", "H100 SXM", "h100-sxm"),
        ("gpus", "H100-SXM-80GB", "h100-sxm"),
        ("gpus", "MI300X", "mi300x"),
        ("gpus", "B200-SXM-180GB", "b200"),
        ("models", "llama-3.1-70b", "llama-3.1-70b"),
        ("models", "meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-70b"),
        ("models", "meta-llama/Llama-3.3-70B-Instruct", "llama-3.3-70b"),
        ("models", "Qwen/Qwen3-32B", "qwen3-32b"),
        ("models", "DeepSeek-R1-0528", "deepseek-r1"),
        ("models", "GPT-OSS-120B", "gpt-oss-120b"),
        ("runtimes", "vLLM", "vllm"),
        ("runtimes", "TensorRT-LLM", "trtllm"),
        ("stacks", "dynamo", "dynamo"),
    ],
)
def test_ids_aliases_and_hf_ids_resolve(catalog: Any, kind: str, ref: str, expected: str) -> None:
    assert catalog.section(kind).get(ref).id == expected


def test_calibration_names_resolve(catalog: Any) -> None:
    """Every GPU and model named in shared/data/calibration.csv resolves."""
    for gpu in ["H100-SXM-80GB", "H200-SXM-141GB", "MI300X-192GB", "B200-SXM-180GB", "A100-SXM-80GB", "L40S-48GB"]:
        catalog.gpus.get(gpu)
    catalog.gpus.get("GB200")
    for model in ["Llama-3.1-8B", "Llama-3.1-70B", "Llama-2-70B", "Llama-3.1-405B", "Mixtral-8x7B", "Llama-2-7B",
                  "Llama-3.3-70B", "DeepSeek-R1-0528", "DeepSeek-R1", "GPT-OSS-120B", "DeepSeek-V3", "Mixtral-8x22B",
                  "Qwen3-235B-A22B", "Qwen3-30B-A3B", "Llama-4-Maverick-17B-128E"]:  # fmt: skip
        catalog.models.get(model)


def test_unknown_id_suggests_close_matches(catalog: Any) -> None:
    with pytest.raises(UnknownIdError) as info:
        catalog.gpus.get("h100-sxmm")
    assert "h100-sxm" in info.value.fix and "planner catalog gpus" in info.value.fix


def test_gpu_figures_are_dense_and_dtype_support_is_honest(catalog: Any) -> None:
    h100 = catalog.gpus.get("h100-sxm")
    assert h100.dense_tflops["bf16"] == 989 and h100.dense_tflops["fp8"] == 1979
    assert not catalog.gpus.get("a100-sxm-80gb").supports("fp8")
    for gpu in catalog.gpus.specs():
        fp4 = gpu.supports("fp4")
        assert fp4 == (gpu.generation in ("blackwell", "cdna4")), gpu.id
        assert gpu.supports("fp8") == (gpu.generation not in ("ampere",)), gpu.id
        if "fp8" in gpu.dense_tflops and "bf16" in gpu.dense_tflops:
            assert gpu.dense_tflops["fp8"] >= gpu.dense_tflops["bf16"], gpu.id
        assert 10 <= gpu.hbm_gib <= 300 and 0.2 <= gpu.hbm_tb_s <= 10
        if gpu.price:
            assert gpu.price.estimate, "no vendor publishes list prices: every price is an estimate"


def test_nvlink_domains_match_form_factors(catalog: Any) -> None:
    assert catalog.gpus.get("gb200").nvlink_domain == 72
    assert catalog.gpus.get("h100-sxm").nvlink_domain == 8
    for pcie_only in ("l40s", "l4", "rtx-pro-6000", "h100-pcie"):
        assert catalog.gpus.get(pcie_only).nvlink_domain == 1


def test_runtime_knobs_use_real_names_and_defaults(catalog: Any) -> None:
    vllm = catalog.runtimes.get("vllm")
    assert vllm.knob("gpu_memory_utilization").default == 0.9
    assert vllm.kv_budget_rule == "fraction_of_total"
    for name in ("max_num_seqs", "max_num_batched_tokens", "block_size"):
        vllm.knob(name)
    sglang = catalog.runtimes.get("sglang")
    assert sglang.kv_budget_rule == "static_fraction_of_total"
    for name in ("mem_fraction_static", "max_running_requests", "chunked_prefill_size"):
        sglang.knob(name)
    trt = catalog.runtimes.get("trtllm")
    assert trt.kv_budget_rule == "fraction_of_free_after_load"
    assert trt.knob("free_gpu_memory_fraction").default == 0.9
    assert trt.knob("max_batch_size").default == 2048 and trt.knob("max_num_tokens").default == 8192
    assert trt.vendors == ["nvidia"]


def test_stacks_describe_disaggregation_and_metrics(catalog: Any) -> None:
    dynamo = catalog.stacks.get("dynamo")
    assert dynamo.disaggregated_prefill_decode and "nixl" in dynamo.kv_transfer
    assert not catalog.stacks.get("runtime-server").disaggregated_prefill_decode
    assert all(s.metrics_endpoint for s in catalog.stacks.specs())


def test_model_architecture_features(catalog: Any) -> None:
    r1 = catalog.models.get("deepseek-r1")
    assert r1.attention == "mla" and r1.mla.kv_lora_rank == 512 and r1.mla.qk_rope_head_dim == 64
    assert r1.moe.num_experts == 256 and r1.moe.shared_experts == 1 and r1.moe.moe_layers == 58
    assert r1.dense_layers == 3
    assert r1.native_weight_dtype == "fp8"
    oss = catalog.models.get("gpt-oss-120b")
    assert oss.native_weight_dtype == "mxfp4" and oss.quantized_layers == "experts"
    assert oss.sliding_window.window == 128 and oss.sliding_window.layers == 18
    gemma = catalog.models.get("gemma-3-27b")
    assert gemma.sliding_window.window == 1024 and gemma.sliding_window.layers == 52
    assert gemma.full_attention_layers == 10
    assert catalog.models.get("llama-2-7b").attention == "mha"
    assert catalog.models.get("qwen3-32b").max_context == 40960, (
        "the config's max_position_embeddings, as vLLM reads it"
    )
    assert catalog.models.get("mixtral-8x7b").moe.experts_per_token == 2


@pytest.mark.parametrize(
    ("kind", "ref", "expected"),
    [
        ("gpus", "A100 80GB SXM", "a100-sxm-80gb"),
        ("gpus", "H100 SXM5 80GB", "h100-sxm"),
        ("gpus", "NVIDIA A100 80GB SXM", "a100-sxm-80gb"),
        ("gpus", "80GB SXM A100", "a100-sxm-80gb"),
        ("gpus", "AMD Instinct MI300X 192GB", "mi300x"),
        ("gpus", "NVIDIA H200 SXM 141GB", "h200-sxm"),
        ("models", "Llama 3.3 70B Instruct", "llama-3.3-70b"),
        ("stacks", "NVIDIA Dynamo", "dynamo"),
    ],
)
def test_display_names_and_other_orderings_resolve(catalog: Any, kind: str, ref: str, expected: str) -> None:
    assert catalog.section(kind).get(ref).id == expected


def test_a_word_set_that_names_two_entries_is_not_guessed(catalog: Any) -> None:
    with pytest.raises(UnknownIdError):
        catalog.gpus.get("NVIDIA 80GB")  # the H100 PCIe and SXM, the A100 all have 80 GB


@pytest.mark.parametrize(
    ("ref", "model", "precision"),
    [
        ("Qwen/Qwen3-32B-FP8", "qwen3-32b", "fp8"),
        ("RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "llama-3.3-70b", "fp8"),
        ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", "llama-3.1-70b", "int4"),
        ("Qwen/Qwen3-30B-A3B-GPTQ-Int4", "qwen3-30b-a3b", "int4"),
        ("qwen3-32b", "qwen3-32b", None),
    ],
)
def test_a_checkpoint_name_with_a_precision_suffix_is_the_base_model(
    catalog: Any, ref: str, model: str, precision: str | None
) -> None:
    spec, implied = catalog.model_and_precision(ref)
    assert (spec.id, implied) == (model, precision)


def test_an_unknown_checkpoint_still_suggests_close_matches(catalog: Any) -> None:
    with pytest.raises(UnknownIdError) as info:
        catalog.model_and_precision("Qwen/Qwen3-33B-FP8")
    assert "did you mean" in info.value.fix
