"""The decode step's mechanisms: experts per rank, when expert parallelism needs an all-to-all,
KV streamed by paged attention, and sliding-window layers at long context."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.sizing.capacity import kv_bytes_per_sequence
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Efficiency
from planner.sizing.roofline import (
    all_to_all_s,
    attended_keys,
    constants,
    decode_kv_bytes_per_gpu,
    decode_memory_s,
    decode_step_s,
    experts_on_busiest_rank,
    experts_touched,
    mixed_step_s,
    weight_bytes_read,
)
from tests.test_performance import dep as performance_dep


def dep(catalog: Any, model: str, gpu: str = "h200-sxm", **kw: Any) -> Deployment:
    """A deployment on an H200 under SGLang unless told otherwise (see tests/test_performance.py)."""
    return performance_dep(catalog, model, gpu, **{"runtime": "sglang", **kw})


def test_the_busiest_expert_parallel_rank_serves_more_experts_than_the_average() -> None:
    # DeepSeek-R1 at batch 1: 8 of 256 experts over 8 ranks of 32, one each on average
    busiest = experts_on_busiest_rank(256, 8, 1, 8)
    assert 2.5 < busiest < 3.5
    assert experts_on_busiest_rank(256, 8, 1, 1) == pytest.approx(experts_touched(256, 8, 1))
    assert experts_on_busiest_rank(256, 8, 100_000, 8) == pytest.approx(32), "every local expert, no more"


@given(
    tokens=st.floats(min_value=0.5, max_value=5000),
    more=st.floats(min_value=0.0, max_value=5000),
    ranks=st.sampled_from([2, 4, 8, 16, 32]),
)
def test_experts_on_the_busiest_rank_grow_with_batch_and_stay_bounded(tokens: float, more: float, ranks: int) -> None:
    now = experts_on_busiest_rank(256, 8, tokens, ranks)
    assert experts_touched(256, 8, tokens) / ranks <= now <= 256 / ranks
    assert experts_on_busiest_rank(256, 8, tokens + more, ranks) >= now - 1e-9


def test_expert_parallel_reads_whole_experts_on_the_busiest_rank(catalog: Any) -> None:
    ep = dep(catalog, "deepseek-r1", tp=8, ep=8)
    tp = dep(catalog, "deepseek-r1", tp=8)
    m, p = ep.model, ep.params
    per_expert = p.expert_each * ep.weight_bytes("experts")
    extra = weight_bytes_read(ep, 1) - weight_bytes_read(tp, 1)
    expected = m.moe.moe_layers * per_expert * (experts_on_busiest_rank(256, 8, 1, 8) - 8 / 8)
    assert extra == pytest.approx(expected, rel=1e-6)


def test_all_to_all_only_with_attention_data_parallelism(catalog: Any) -> None:
    # vLLM's use_all2all_kernels: expert parallel and data parallel above 1
    assert all_to_all_s(dep(catalog, "deepseek-r1", tp=8, ep=8), 64) == 0.0
    assert all_to_all_s(dep(catalog, "deepseek-r1", ep=8, attention_dp=True), 64) > 0.0


def test_kv_streams_at_the_paged_attention_share_and_weights_at_mbu(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b", gpu="h100-sxm", runtime="vllm", weights_dtype="bf16")
    eff = Efficiency(mfu_prefill=0.5, mbu_decode=0.5, mfu_decode=0.5, overhead_ms=0.0)
    bandwidth = 3.35e12
    weights = weight_bytes_read(d, 8) / (bandwidth * 0.5)
    kv = 8 * kv_bytes_per_sequence(d, 20_000) / (bandwidth * constants().paged_attention_bandwidth_share)
    assert decode_memory_s(d, 8, 20_000, eff) == pytest.approx(weights + kv, rel=1e-9)


def test_sliding_window_layers_read_only_their_window(catalog: Any) -> None:
    d = dep(catalog, "gpt-oss-20b", gpu="h100-sxm", runtime="vllm")
    m = d.model
    window = m.sliding_window
    assert window is not None and window.window == 128 and window.layers == m.num_layers // 2
    short, long = decode_kv_bytes_per_gpu(d, 1, 1000), decode_kv_bytes_per_gpu(d, 1, 20_000)
    per_token_layer = kv_bytes_per_sequence(d, 1)
    # growing the context adds KV only in the full-attention layers
    assert long - short == pytest.approx(m.full_attention_layers * 19_000 * per_token_layer / m.num_layers, rel=1e-6)


def test_windowed_layers_attend_at_most_their_window_in_a_mixed_step(catalog: Any) -> None:
    d = dep(catalog, "gpt-oss-20b", gpu="h100-sxm", runtime="vllm")
    m = d.model
    assert m.sliding_window is not None
    keys = attended_keys(d, 8 * 20_000, 8)
    assert keys == m.full_attention_layers * 160_000 + m.sliding_window.layers * 8 * 128
    # a decode-only mixed step is a decode step: the windowed layers' attention counts in both
    # (the mixed step once counted the full-attention layers only); a low MFU makes compute bind
    slow = Efficiency(mfu_prefill=0.5, mbu_decode=0.9, mfu_decode=0.02, overhead_ms=1.0)
    assert mixed_step_s(d, 0, 0, 8, 8 * 20_000, slow) == pytest.approx(decode_step_s(d, 8, 20_000, slow), rel=1e-9)


def test_a_dense_model_attends_every_key_in_every_layer(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b", gpu="h100-sxm", runtime="vllm")
    assert attended_keys(d, 1000, 1) == d.model.num_layers * 1000


@pytest.mark.parametrize(
    ("model", "gpu", "weights", "bytes_per_weight"),
    [
        ("deepseek-r1", "b200", "nvfp4", 0.5 + 1 / 16),  # E2M1 + one FP8 scale per 16
        ("gpt-oss-120b", "mi355x", "mxfp4", 0.5 + 1 / 32),  # E2M1 + one E8M0 scale per 32
    ],
)
def test_fp4_runs_at_the_fp4_tensor_core_rate_where_the_gpu_has_one(
    catalog: Any, model: str, gpu: str, weights: str, bytes_per_weight: float
) -> None:
    d = dep(catalog, model, gpu=gpu, weights_dtype=weights)
    assert d.compute_dtype == "fp4"
    assert d.peak_tflops == d.gpu.dense_tflops["fp4"] >= 2 * d.gpu.dense_tflops["fp8"]
    assert d.weight_bytes("experts") == pytest.approx(bytes_per_weight)
    hopper = dep(catalog, model, gpu="h200-sxm", weights_dtype=weights)
    assert hopper.compute_dtype == "bf16", "no FP4 tensor cores before Blackwell: weight-only"
