"""Capacity (6a) against hand-computed values, and its properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.sizing.capacity import (
    GIB,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    scheduler_sequences,
    size_capacity,
    weights_bytes_per_gpu,
)
from planner.sizing.deployment import Deployment


def dep(catalog: Any, model: str, gpu: str = "h100-sxm", runtime: str = "vllm", **kw: Any) -> Deployment:
    m = catalog.models.get(model)
    kw.setdefault("weights_dtype", m.native_weight_dtype)
    kw.setdefault("kv_dtype", "bf16")
    return Deployment(m, catalog.gpus.get(gpu), catalog.runtimes.get(runtime), **kw)


def test_kv_bytes_per_token_by_hand(catalog: Any) -> None:
    assert kv_bytes_per_token(dep(catalog, "llama-3.1-8b")) == 2 * 32 * 8 * 128 * 2 == 131072
    assert kv_bytes_per_token(dep(catalog, "llama-3.1-70b")) == 2 * 80 * 8 * 128 * 2 == 327680
    assert kv_bytes_per_token(dep(catalog, "llama-3.1-70b", tp=4)) == 327680 / 4
    assert kv_bytes_per_token(dep(catalog, "llama-3.1-70b", kv_dtype="fp8")) == 163840


def test_mla_latent_is_not_split_by_tp(catalog: Any) -> None:
    for tp in (1, 2, 8):
        assert kv_bytes_per_token(dep(catalog, "deepseek-v3", gpu="h200-sxm", tp=tp)) == 61 * (512 + 64) * 2 == 70272


def test_kv_heads_replicate_when_fewer_than_tp(catalog: Any) -> None:
    # Llama 3.1 70B has 8 KV heads: at TP 16 each GPU still holds one head.
    assert kv_bytes_per_token(dep(catalog, "llama-3.1-70b", tp=16)) == 2 * 80 * 1 * 128 * 2
    assert kv_bytes_per_token(dep(catalog, "llama-3.1-70b", tp=8)) == 2 * 80 * 1 * 128 * 2


def test_sliding_window_layers_are_capped(catalog: Any) -> None:
    oss = dep(catalog, "gpt-oss-120b", gpu="h200-sxm")
    per_layer = 2 * 8 * 64 * 2
    assert kv_bytes_per_sequence(oss, 10_000) == (18 * 10_000 + 18 * 128) * per_layer
    assert kv_bytes_per_sequence(oss, 100) == 36 * 100 * per_layer


def test_llama_70b_bf16_does_not_fit_one_80gb_gpu(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-70b")
    assert weights_bytes_per_gpu(d) / 1e9 == pytest.approx(141.1, abs=0.5)
    cap = size_capacity(d, 4096)
    assert cap.max_concurrency == 0 and cap.binding_cap == "weights" and not cap.fits
    assert size_capacity(dep(catalog, "llama-3.1-70b", tp=4), 4096).fits


def test_weights_by_precision(catalog: Any) -> None:
    gib = {
        w: weights_bytes_per_gpu(dep(catalog, "llama-3.1-8b", weights_dtype=w)) / GIB for w in ("bf16", "fp8", "int4")
    }
    embeddings = 2 * 128256 * 4096 * 2 / GIB  # embedding and head stay 16-bit
    assert gib["bf16"] == pytest.approx(8.03e9 * 2 / GIB, rel=0.01)
    assert gib["fp8"] == pytest.approx((8.03e9 - 2 * 128256 * 4096) / GIB + embeddings, rel=0.01)
    assert gib["int4"] < gib["fp8"] < gib["bf16"]
    oss = dep(catalog, "gpt-oss-120b", gpu="h200-sxm")  # MXFP4 experts, 16-bit rest: about 63 GB
    assert weights_bytes_per_gpu(oss) / 1e9 == pytest.approx(64, rel=0.05)


def test_runtime_budget_rules_differ(catalog: Any) -> None:
    common = dict(tp=1, weights_dtype="fp8", kv_dtype="fp8")
    vllm = size_capacity(dep(catalog, "llama-3.1-8b", runtime="vllm", **common), 4096)
    trt = size_capacity(dep(catalog, "llama-3.1-8b", runtime="trtllm", **common), 4096)
    sglang = size_capacity(dep(catalog, "llama-3.1-8b", runtime="sglang", **common), 4096)
    reported = 79.18  # what CUDA reports on an H100 SXM (vLLM log), not nvidia-smi's 79.65
    free_before_load = reported - (79.18 - 78.57)  # less the CUDA context held at startup
    expected_vllm = reported * 0.9 - vllm.weights_gib_per_gpu - vllm.activation_gib_per_gpu - vllm.reserve_gib_per_gpu
    assert vllm.kv_budget_gib_per_gpu == pytest.approx(expected_vllm)
    trt_free = free_before_load - trt.weights_gib_per_gpu - trt.activation_gib_per_gpu - trt.reserve_gib_per_gpu
    assert trt.kv_budget_gib_per_gpu == pytest.approx(trt_free * 0.9)
    # SGLang computes mem_fraction_static from nvidia-smi's total, in MiB: 512 + chunked prefill 8192 x 1.5
    # + CUDA-graph batch 256 x 2 + TP x PP / 8 x 1024 = 13,440 (above the 10 GiB floor of big GPUs), and
    # applies it to the memory free before the weights load (model_runner.profile_max_num_token)
    fraction = round((79.65 * 1024 - 13440) / (79.65 * 1024), 3)
    assert sglang.kv_budget_gib_per_gpu == pytest.approx(free_before_load * fraction - sglang.weights_gib_per_gpu)


@pytest.mark.parametrize(("runtime", "name"), [("sglang", "max_total_tokens"), ("trtllm", "max_tokens")])
def test_a_cap_on_the_kv_tokens_wins_where_it_is_the_smaller_budget(catalog: Any, runtime: str, name: str) -> None:
    """SGLang's max_total_tokens and TensorRT-LLM's kv_cache_config.max_tokens cap the tokens the KV
    cache holds, the smaller of that and the memory rule's budget winning (each engine's docs say so)."""
    common = dict(tp=1, weights_dtype="fp8", kv_dtype="fp8")
    free = size_capacity(dep(catalog, "llama-3.1-8b", runtime=runtime, **common), 8000)
    capped = size_capacity(dep(catalog, "llama-3.1-8b", runtime=runtime, knobs={name: 100_000}, **common), 8000)
    per_token = kv_bytes_per_token(dep(catalog, "llama-3.1-8b", runtime=runtime, **common))
    assert capped.kv_budget_gib_per_gpu == pytest.approx(100_000 * per_token / GIB)
    assert capped.kv_tokens_per_replica <= 100_000 < free.kv_tokens_per_replica
    assert capped.max_concurrency == 12 and free.max_concurrency > 12
    assert any(f"{name} 100,000 tokens" in t.formula for t in capped.terms)
    roomy = size_capacity(dep(catalog, "llama-3.1-8b", runtime=runtime, knobs={name: 10**9}, **common), 8000)
    assert roomy.kv_budget_gib_per_gpu == pytest.approx(free.kv_budget_gib_per_gpu), "a cap above the budget binds not"


def test_weights_that_do_not_fit_hold_nothing_whatever_kv_budget_the_plan_sets(catalog: Any) -> None:
    # vLLM's kv_cache_memory_bytes replaces the budget rule; it once let DeepSeek-R1 (671B in FP8) be sized
    # on one MI300X, its 1 GB of KV holding ten sequences beside weights three times the GPU.
    dep_ = dep(catalog, "deepseek-r1", "mi300x", weights_dtype="fp8", kv_dtype="fp8",
               knobs={"kv_cache_memory_bytes": 1_000_000_000})  # fmt: skip
    cap = size_capacity(dep_, 2800)
    assert cap.max_concurrency == 0 and cap.binding_cap == "weights" and not cap.fits


def test_binding_caps(catalog: Any) -> None:
    small = size_capacity(dep(catalog, "llama-3.1-8b", knobs={"max_num_seqs": 8}), 1000)
    assert small.max_concurrency == 8 and small.binding_cap == "max_num_seqs"
    long = size_capacity(dep(catalog, "llama-3.1-8b", knobs={"max_model_len": 8192}), 12_000)
    assert long.max_concurrency == 0 and long.binding_cap == "context"
    memory = size_capacity(dep(catalog, "llama-3.1-8b"), 32_000)
    assert memory.binding_cap == "memory" and 0 < memory.max_concurrency < 1024
    assert len(memory.terms) >= 6 and all(t.formula and t.provenance for t in memory.terms)


def test_a_token_budget_whose_reserve_takes_the_gpu_names_the_knob(catalog: Any) -> None:
    """SGLang reserves 1.5 MiB a token of chunked_prefill_size: 131,072 tokens ask for 192 GiB of a
    179 GiB B200, its computed mem_fraction_static falls below zero and no KV is left. The capacity
    says so and names the knob to lower; the weights fit, so memory binds, not weights."""
    from planner.performance_models import BUILTIN
    from planner.render import estimate_text
    from planner.sizing.estimate import estimate

    d = dep(catalog, "deepseek-r1", "b200", "sglang", weights_dtype="fp8", kv_dtype="fp8", ep=8, attention_dp=True,
            knobs={"chunked_prefill_size": 131072})  # fmt: skip
    cap = size_capacity(d, 34_000)
    assert cap.max_concurrency == 0 and cap.binding_cap == "memory"
    budget = next(t for t in cap.terms if t.name == "KV cache budget")
    assert "mem_fraction_static -0.0" in budget.formula
    assert "the engine reserves more than the GPU holds for chunked_prefill_size 131,072; lower it" in budget.formula
    text = estimate_text(estimate(d, 30_000, 4_000, model=BUILTIN, concurrency=8))
    assert "not estimated, the replica holds no sequence of this length (memory binds: see its term above)" in text
    fits = size_capacity(dep(catalog, "deepseek-r1", "b200", "sglang", weights_dtype="fp8", kv_dtype="fp8", ep=8,
                             attention_dp=True), 34_000)  # fmt: skip
    assert fits.max_concurrency > 0 and "lower it" not in str(fits.terms)


def test_kv_blocks_and_rounding(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b")
    cap = size_capacity(d, 1000)
    assert cap.kv_block_tokens == 16
    assert cap.kv_bytes_per_sequence_per_gpu == 1008 * 131072  # 63 blocks of 16
    assert cap.kv_blocks_per_gpu == int(cap.kv_budget_gib_per_gpu * GIB // (16 * 131072))


def test_attention_dp_replicates_attention_and_splits_experts(catalog: Any) -> None:
    tp8 = dep(catalog, "deepseek-v3", gpu="h200-sxm", tp=8)
    dp8 = dep(catalog, "deepseek-v3", gpu="h200-sxm", ep=8, attention_dp=True)
    assert weights_bytes_per_gpu(dp8) > weights_bytes_per_gpu(tp8)
    assert size_capacity(dp8, 2048).sequence_cap == 8 * size_capacity(tp8, 2048).sequence_cap


DEPLOYED = [
    ("llama-3.1-8b", "h100-sxm", {}, 16_000),
    ("qwen3-32b", "h100-sxm", {}, 16_000),
    ("llama-3.1-70b", "a100-sxm-80gb", {"tp": 4}, 12_600),
    ("deepseek-v3", "h200-sxm", {"ep": 8, "attention_dp": True}, 60_000),
]


@pytest.mark.parametrize(("model", "gpu", "layout", "context"), DEPLOYED, ids=[d[0] for d in DEPLOYED])
def test_the_running_batch_limit_deploy_writes_gets_the_kv_budget_the_plan_reports(
    catalog: Any, model: str, gpu: str, layout: dict[str, Any], context: int
) -> None:
    # vLLM profiles its sampler for max_num_seqs rows; planner deploy writes what the KV cache holds,
    # so the engine started with it must find the budget, and the sequences, the plan sized.
    planned_dep = dep(catalog, model, gpu=gpu, **layout)
    planned = size_capacity(planned_dep, context)
    written = scheduler_sequences(planned_dep, planned.max_concurrency)
    assert planned.binding_cap == "memory" and written < 1024, "a deployment whose KV cache binds"
    deployed = size_capacity(dep(catalog, model, gpu=gpu, knobs={"max_num_seqs": written}, **layout), context)
    assert deployed.kv_budget_gib_per_gpu == pytest.approx(planned.kv_budget_gib_per_gpu, rel=1e-9)
    assert deployed.max_concurrency == planned.max_concurrency
    # and it is the largest such limit: one more and the engine's own KV cache would not hold them
    more = size_capacity(dep(catalog, model, gpu=gpu, knobs={"max_num_seqs": written + 1}, **layout), context)
    ranks = layout.get("ep", 1) if layout.get("attention_dp") else 1
    assert more.memory_cap < (written + 1) * ranks


def test_qwen3_32b_at_16k_on_one_h100_holds_two_at_the_limit_deploy_writes(catalog: Any) -> None:
    # At vLLM's default 1,024 sequences the sampler's profiling takes 5.6 GiB and one 16k sequence
    # fits (4.45 GiB logged); started with the 2 the KV cache then holds, the sampler takes 0.1 GiB.
    at_default = size_capacity(dep(catalog, "qwen3-32b", knobs={"max_num_seqs": 1024}), 16_000)
    planned = size_capacity(dep(catalog, "qwen3-32b"), 16_000)
    assert (at_default.max_concurrency, planned.max_concurrency) == (1, 2)
    sampler = {t.name.strip(): t for t in planned.terms}["sampler"]
    assert "max_num_seqs 2 planner deploy writes" in sampler.formula


GPUS = ["h100-sxm", "h200-sxm", "b200", "mi300x", "l40s", "a100-sxm-80gb"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["llama-3.1-8b", "qwen3-32b", "mixtral-8x7b", "gemma-3-27b"]), st.integers(256, 60_000))
def test_more_hbm_never_lowers_concurrency(catalog: Any, model: str, context: int) -> None:
    base = dep(catalog, model, gpu="h100-sxm", tp=2)
    bigger = Deployment(
        base.model, base.gpu.model_copy(update={"hbm_gib": 141.0}), base.runtime, base.weights_dtype, "bf16", tp=2
    )
    assert size_capacity(bigger, context).max_concurrency >= size_capacity(base, context).max_concurrency


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["llama-3.1-70b", "qwen3-32b", "deepseek-v3", "gpt-oss-120b"]), st.sampled_from(GPUS))
def test_higher_tp_never_raises_weights_per_gpu(catalog: Any, model: str, gpu: str) -> None:
    sizes = [weights_bytes_per_gpu(dep(catalog, model, gpu=gpu, tp=tp)) for tp in (1, 2, 4, 8)]
    assert sizes == sorted(sizes, reverse=True)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["llama-3.1-8b", "gpt-oss-20b", "gemma-3-27b"]), st.integers(128, 30_000), st.integers(1, 30_000)
)
def test_longer_context_never_raises_concurrency(catalog: Any, model: str, context: int, extra: int) -> None:
    d = dep(catalog, model, gpu="h200-sxm")
    assert size_capacity(d, context + extra).max_concurrency <= size_capacity(d, context).max_concurrency


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["llama-3.1-8b", "llama-3.1-70b", "qwen3-32b"]), st.sampled_from(["h100-sxm", "h200-sxm", "b200"])
)
def test_fp8_kv_doubles_the_tokens_bf16_holds(catalog: Any, model: str, gpu: str) -> None:
    # (at one running-batch limit: left open, each would hold what its own KV cache holds, and the
    # engine's profiling run, and so the budget, would differ with it)
    knobs = {"max_num_seqs": 256}
    bf16 = size_capacity(dep(catalog, model, gpu=gpu, tp=4, kv_dtype="bf16", knobs=knobs), 2048)
    fp8 = size_capacity(dep(catalog, model, gpu=gpu, tp=4, kv_dtype="fp8", knobs=knobs), 2048)
    assert fp8.kv_bytes_per_token_per_gpu * 2 == bf16.kv_bytes_per_token_per_gpu
    assert fp8.kv_tokens_per_replica == pytest.approx(2 * bf16.kv_tokens_per_replica, rel=0.001, abs=32)
