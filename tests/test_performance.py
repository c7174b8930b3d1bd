"""Performance (6b): the roofline terms by hand, communication, and monotonicity."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from planner.performance_models import BUILTIN, AnalyticModel
from planner.sizing.capacity import kv_bytes_per_sequence
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import Efficiency
from planner.sizing.estimate import estimate
from planner.sizing.roofline import (
    allreduce_s,
    collective_link,
    constants,
    decode_attention_rows,
    decode_bytes_per_gpu,
    decode_step_s,
    experts_touched,
    gemm_fill,
    matmul_s,
    prefill_s,
    weight_bytes_read,
)
from planner.sizing.steady_state import steady_state

UNIT = Efficiency(mfu_prefill=1.0, mbu_decode=1.0, mfu_decode=1.0, overhead_ms=0.0)


def dep(catalog: Any, model: str, gpu: str = "h100-sxm", **kw: Any) -> Deployment:
    m = catalog.models.get(model)
    kw.setdefault("weights_dtype", m.native_weight_dtype)
    kw.setdefault("kv_dtype", "bf16")
    return Deployment(m, catalog.gpus.get(gpu), catalog.runtimes.get(kw.pop("runtime", "vllm")), **kw)


def test_prefill_is_flops_over_the_achievable_matmul_peak(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b")
    m = d.model
    n = 2048
    flops = 2 * m.active_params * n + 2 * 32 * 32 * 128 * n * n  # weights + causal attention
    assert prefill_s(d, 1, n, UNIT) == pytest.approx(flops / 794.5e12), "an H100's measured bf16 matmul ceiling"
    half = Efficiency(mfu_prefill=0.5, mbu_decode=1, mfu_decode=1, overhead_ms=0)
    assert prefill_s(d, 1, n, half) == pytest.approx(2 * flops / 794.5e12)


def test_the_mfu_factors_are_shares_of_each_gpus_measured_matmul_ceiling(catalog: Any) -> None:
    """The datasheet peaks are not equally reachable (ml-engineering's MAMF table: 51% on an
    MI300X, 80% on an H100, 87% on an A100), so one MFU means the same speed relative to what
    each GPU can reach, in the compute type where it was measured."""
    assert dep(catalog, "llama-3.1-8b", gpu="mi300x").matmul_peak_tflops == pytest.approx(668.4)
    assert dep(catalog, "llama-3.1-8b", gpu="a100-sxm-80gb").matmul_peak_tflops == pytest.approx(271.2)
    assert dep(catalog, "llama-3.1-8b", weights_dtype="fp8").matmul_peak_tflops == pytest.approx(1402.6)
    # no fp8 measurement on an MI300X: its bf16 share of the fp8 peak
    mi300x_fp8 = dep(catalog, "llama-3.1-8b", gpu="mi300x", weights_dtype="fp8")
    assert mi300x_fp8.matmul_share == pytest.approx(668.4 / 1307.4)
    # no measurement at all: the default share (an estimate)
    from planner.sizing.deployment import DEFAULT_MATMUL_SHARE

    assert dep(catalog, "llama-3.1-8b", gpu="l40s").matmul_peak_tflops == pytest.approx(362.0 * DEFAULT_MATMUL_SHARE)
    # at one MFU, a prefill runs as fast as the measured ceilings say, not the datasheets
    mi300x, h100 = dep(catalog, "llama-3.1-8b", gpu="mi300x"), dep(catalog, "llama-3.1-8b")
    assert prefill_s(mi300x, 1, 2048, UNIT) / prefill_s(h100, 1, 2048, UNIT) == pytest.approx(794.5 / 668.4)


def test_a_measured_matmul_ceiling_above_the_datasheet_peak_is_refused(catalog: Any) -> None:
    from pydantic import ValidationError

    h100 = catalog.gpus.get("h100-sxm")
    with pytest.raises(ValidationError, match=r"matmul_tflops\.bf16"):
        type(h100).model_validate(h100.model_dump() | {"matmul_tflops": {"bf16": 1200.0}})
    with pytest.raises(ValidationError, match=r"matmul_tflops\.fp4"):
        type(h100).model_validate(h100.model_dump() | {"matmul_tflops": {"fp4": 100.0}})


def test_fp8_weights_use_the_fp8_peak_where_the_gpu_has_it(catalog: Any) -> None:
    assert dep(catalog, "llama-3.1-8b", weights_dtype="fp8").peak_tflops == 1979
    assert dep(catalog, "llama-3.1-8b", gpu="a100-sxm-80gb", weights_dtype="fp8").compute_dtype == "bf16"
    assert dep(catalog, "gpt-oss-120b", gpu="h200-sxm").compute_dtype == "bf16", "MXFP4 on Hopper is weight-only"
    assert dep(catalog, "llama-3.1-8b", gpu="b200", weights_dtype="nvfp4").compute_dtype == "fp4", "W4A4 checkpoints"


def test_gpt_oss_experts_take_the_runtimes_activations_and_its_other_layers_stay_16_bit(catalog: Any) -> None:
    """gpt-oss quantises only its experts (MXFP4): on a B200 vLLM and SGLang feed them BF16 (W4A16), TensorRT-LLM
    MXFP8 (W4A8, at the FP8 rate); its attention and dense layers are BF16 and pay no dequantisation."""
    vllm, trtllm = dep(catalog, "gpt-oss-120b", gpu="b200"), dep(catalog, "gpt-oss-120b", gpu="b200", runtime="trtllm")
    sglang = dep(catalog, "gpt-oss-120b", gpu="b200", runtime="sglang")
    assert (vllm.compute_dtype, vllm.expert_compute_dtype) == ("bf16", "bf16")
    assert (sglang.compute_dtype, sglang.expert_compute_dtype) == ("bf16", "bf16")
    assert (trtllm.compute_dtype, trtllm.expert_compute_dtype) == ("bf16", "fp8")
    assert trtllm.expert_matmul_peak_tflops == pytest.approx(2 * trtllm.matmul_peak_tflops)
    assert not vllm.weight_only("dense") and vllm.weight_only("experts")
    assert not trtllm.weight_only("experts"), "an FP8 x FP4 product needs no conversion"
    hopper = dep(catalog, "gpt-oss-120b", gpu="h200-sxm", runtime="trtllm")
    assert hopper.expert_compute_dtype == "bf16", "no block-scaled FP8 x FP4 tensor cores on Hopper"
    # a prefill's dense GEMMs run at the 16-bit rate under both; its experts at 0.6 of it (converted
    # weights) under vLLM, at twice it (FP8) under TensorRT-LLM
    m = vllm.model
    expert_active = m.moe.moe_layers * m.moe.experts_per_token * vllm.params.expert_each
    dense = 2 * (m.active_params - expert_active) * 8192 / (vllm.tp * vllm.matmul_peak_tflops * 1e12)
    experts_vllm = matmul_s(vllm, 8192, 1.0, thin=False) - dense
    experts_trtllm = matmul_s(trtllm, 8192, 1.0, thin=False) - dense
    rows = 8192 * 4 / experts_touched(128, 4, 8192)  # an expert's share of the tokens, top-4 of 128
    fills = gemm_fill(rows) / gemm_fill(rows, weight_only=True)  # weight-only kernels tile 16 rows, not 64
    assert experts_vllm / experts_trtllm == pytest.approx(2 / constants().weight_only_efficiency * fills)


def test_decode_step_is_bytes_over_bandwidth_at_batch_one(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b")
    m = d.model
    weights = (m.total_params - m.vocab_size * m.hidden_size) * 2  # the embedding lookup is not read
    kv = kv_bytes_per_sequence(d, 1100)
    assert decode_bytes_per_gpu(d, 1, 1100) == pytest.approx(weights + kv, rel=1e-6)
    assert decode_step_s(d, 1, 1100, UNIT) == pytest.approx((weights + kv) / 3.35e12, rel=1e-6)


def test_weight_only_decode_is_bound_by_its_weight_reads_to_16_rows(catalog: Any) -> None:
    """Marlin (FP16 x INT4) keeps close to the ideal 4x over FP16 up to batches of 16-32 tokens: an INT4
    decode step at 1-16 sequences costs its weight and KV reads, where 64-row tiles made it compute-bound."""
    d = dep(catalog, "llama-3.1-8b", weights_dtype="int4")
    assert d.compute_dtype == "bf16" and d.weight_only("dense")
    for batch in (1, 16):
        memory_s = decode_bytes_per_gpu(d, batch, 1100) / 3.35e12
        assert matmul_s(d, batch, 1.0, thin=True) < memory_s
        assert decode_step_s(d, batch, 1100, UNIT) == pytest.approx(memory_s)
    assert matmul_s(d, 256, 1.0, thin=True) > weight_bytes_read(d, 256) / 3.35e12, "its GEMMs compute-bound by 256"


def test_moe_reads_only_the_experts_a_batch_touches(catalog: Any) -> None:
    assert experts_touched(8, 2, 1) == pytest.approx(2)
    assert experts_touched(256, 8, 1) == pytest.approx(8)
    assert experts_touched(256, 8, 10_000) == pytest.approx(256)
    d = dep(catalog, "mixtral-8x7b", tp=2)
    assert decode_bytes_per_gpu(d, 1, 1000) < decode_bytes_per_gpu(d, 64, 1000) / 2


def test_allreduce_over_pcie_is_slower_than_nvlink(catalog: Any) -> None:
    nvlink = dep(catalog, "llama-3.1-70b", gpu="h100-sxm", tp=4)
    pcie = dep(catalog, "llama-3.1-70b", gpu="h100-pcie", tp=4)
    message = 8192 * 2 * 4096
    assert allreduce_s(pcie, message) > 5 * allreduce_s(nvlink, message)
    assert collective_link(nvlink, 4).kind == "nvlink4"
    assert collective_link(pcie, 4).kind == "pcie5"
    across = dep(catalog, "llama-3.1-405b", gpu="h100-sxm", tp=16, inter_node_fabric="roce", inter_node_gb_s=25.0)
    assert collective_link(across, 16).kind == "roce" and collective_link(across, 16).gb_s == 25.0
    assert collective_link(dep(catalog, "llama-3.1-70b", gpu="gb200", tp=16), 16).kind == "nvlink5"


def test_latency_grows_and_throughput_saturates_with_batch(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b", weights_dtype="fp8", kv_dtype="fp8")
    eff = Efficiency(0.5, 0.7, 0.4, 1.0)
    timings = [steady_state(d, b, 1000, 200, AnalyticModel(fixed=eff)) for b in (1, 4, 16, 64, 256)]
    itls = [t.itl_s for t in timings]
    outs = [t.output_tok_s for t in timings]
    assert itls == sorted(itls) and outs == sorted(outs)
    assert timings[0].e2e_s == pytest.approx(timings[0].ttft_s + 199 * timings[0].itl_s)


def test_concurrency_beyond_capacity_queues(catalog: Any) -> None:
    d = dep(catalog, "llama-3.1-8b", knobs={"max_num_seqs": 16})
    held = estimate(d, 1000, 200, model=BUILTIN, concurrency=16)
    queued = estimate(d, 1000, 200, model=BUILTIN, concurrency=64)
    assert queued.timing.batch == 16 and queued.queue_s > 0
    assert queued.ttft_ms > held.ttft_ms + 1000 * queued.queue_s * 0.99
    # with 16 clients a few are in the front end between two requests; queued, the engine runs all 16
    assert held.timing.batch < 16 and held.queue_s == 0
    assert queued.output_tok_s == pytest.approx(steady_state(d, 16, 1000, 200, BUILTIN).output_tok_s)
    assert held.output_tok_s == pytest.approx(queued.output_tok_s, rel=0.03)


def test_estimate_carries_provenance_and_bands(catalog: Any) -> None:
    est = estimate(
        dep(catalog, "llama-3.1-70b", tp=4, weights_dtype="fp8", kv_dtype="fp8", runtime="trtllm"),
        2000,
        500,
        model=BUILTIN,
        concurrency=32,
    )
    data = est.to_json()
    assert "calibrated on trtllm x hopper x dense" in data["provenance"]["efficiency"]
    assert "datasheet" in data["provenance"]["hbm_tb_s"]
    low, high = data["performance"]["output_tok_s_band"]
    assert 0 < low < high
    assert "trtllm x hopper x dense" in data["provenance"]["output_tok_s_band"]
    offline = estimate(est.deployment, 2000, 500, model=BUILTIN, offline=True)
    assert offline.timing.batch == offline.capacity.max_concurrency
    assert offline.output_tok_s > est.output_tok_s


def test_plan_efficiency_override_is_used_and_said(catalog: Any) -> None:
    base = dep(catalog, "llama-3.1-8b")
    slow = Deployment(base.model, base.gpu, base.runtime, "bf16", "bf16", efficiency={"mbu_decode": 0.3})
    assert (
        estimate(slow, 500, 100, model=BUILTIN, concurrency=1).itl_ms
        > estimate(base, 500, 100, model=BUILTIN, concurrency=1).itl_ms
    )
    assert "plan override of mbu_decode" in estimate(slow, 500, 100, model=BUILTIN, concurrency=1).efficiency.source


def test_expert_imbalance_shrinks_with_load() -> None:
    from planner.sizing.roofline import expert_imbalance

    assert expert_imbalance(1000, 1) == 1.0
    light, heavy = expert_imbalance(64, 8), expert_imbalance(65536, 8)
    assert 1.0 < heavy < light <= 2.0
    assert heavy == pytest.approx(1 + math.sqrt(2 * math.log(8) / 8192))


def test_thin_expert_gemms_cost_more_per_token(catalog: Any) -> None:
    from planner.sizing.roofline import matmul_s

    d = dep(catalog, "deepseek-v3", gpu="h200-sxm", tp=8, ep=8)
    per_token_small = matmul_s(d, 8, 0.5, thin=True) / 8
    per_token_large = matmul_s(d, 8192, 0.5, thin=True) / 8192
    assert per_token_small > 3 * per_token_large, "8 tokens over 256 experts leave every expert GEMM nearly empty"
    dense = dep(catalog, "llama-3.1-70b", gpu="h200-sxm", tp=8)
    assert matmul_s(dense, 8192, 0.5, thin=False) == pytest.approx(
        2 * dense.model.active_params * 8192 / (8 * 794.5e12 * 0.5)
    )


def test_weight_only_formats_pay_for_dequantisation(catalog: Any) -> None:
    from planner.sizing.roofline import matmul_s

    hopper = dep(catalog, "gpt-oss-120b", gpu="h200-sxm")  # MXFP4 experts, bf16 compute
    assert hopper.compute_dtype == "bf16"
    as_bf16 = Deployment(hopper.model, hopper.gpu, hopper.runtime, "bf16", "bf16")
    m = hopper.model
    expert_active = m.moe.moe_layers * m.moe.experts_per_token * hopper.params.expert_each
    dense = 2 * (m.active_params - expert_active) * 4096 / (794.5e12 * 0.5)  # its BF16 layers: no conversion
    rows = 4096 * 4 / experts_touched(128, 4, 4096)
    fills = gemm_fill(rows) / gemm_fill(rows, weight_only=True)
    assert matmul_s(hopper, 4096, 0.5, thin=False) - dense == pytest.approx(
        (matmul_s(as_bf16, 4096, 0.5, thin=False) - dense) / constants().weight_only_efficiency * fills
    )
    fp8 = dep(catalog, "llama-3.1-70b", gpu="a100-sxm-80gb", weights_dtype="fp8", tp=4)  # no FP8 on an A100
    as_bf16 = Deployment(fp8.model, fp8.gpu, fp8.runtime, "bf16", "bf16", tp=4)
    assert matmul_s(fp8, 4096, 0.5, thin=False) == pytest.approx(
        matmul_s(as_bf16, 4096, 0.5, thin=False) / constants().weight_only_efficiency
    )


def test_expert_parallel_all_to_all_uses_the_real_link(catalog: Any) -> None:
    from planner.sizing.roofline import all_to_all_s

    nvlink = dep(catalog, "deepseek-v3", gpu="h200-sxm", ep=8, attention_dp=True)
    across = dep(catalog, "deepseek-v3", gpu="h200-sxm", ep=32, attention_dp=True, inter_node_gb_s=50.0)
    assert all_to_all_s(across, 4096) > 5 * all_to_all_s(nvlink, 4096)
    assert all_to_all_s(dep(catalog, "llama-3.1-70b", tp=8), 4096) == 0.0


@pytest.mark.parametrize(
    ("model", "kw"), [("llama-3.1-8b", {}), ("deepseek-v3", {"gpu": "h200-sxm", "tp": 8, "ep": 8})]
)
def test_decode_only_steps_take_the_same_seconds_as_the_mixed_path(
    catalog: Any, model: str, kw: dict[str, Any]
) -> None:
    from planner.sizing.roofline import MixedStep

    d = dep(catalog, model, **kw)
    eff = Efficiency(mfu_prefill=0.4, mbu_decode=0.7, mfu_decode=0.3, overhead_ms=1.5)
    fast, plain = MixedStep(d, eff), MixedStep(d, eff)
    for batch in (1, 2, 7, 32, 33, 256):
        for keys in (batch, batch * 1000 + 17, batch * 30_011):
            assert fast(0, 0, batch, keys) == plain._mixed(0, 0, batch, keys), (batch, keys)  # the same bits
            assert fast(0, 0, batch, keys) == fast(0, 0, batch, keys)  # and again from its cache


@pytest.mark.parametrize(("model", "kw"), [("llama-3.1-8b", {}), ("gpt-oss-20b", {"gpu": "h200-sxm"})])
def test_a_decode_run_takes_each_step_as_the_step_model_would(catalog: Any, model: str, kw: dict[str, Any]) -> None:
    """MixedStep.decode_steps_s (the simulator's decode runs, its KV bytes written out) gives each
    step's seconds to the bit as a call of the step model does, through gpt-oss's 128-token
    sliding window (its windowed layers stop growing there)."""
    from planner.sizing.roofline import MixedStep

    d = dep(catalog, model, **kw)
    assert (d.model.sliding_window is not None) == (model == "gpt-oss-20b")
    for mbu_decode in (0.7, 0.02):  # (at 2% of the bandwidth every step is bound by its reads)
        eff = Efficiency(mfu_prefill=0.4, mbu_decode=mbu_decode, mfu_decode=0.3, overhead_ms=1.5)
        step = MixedStep(d, eff)
        for batch, keys in ((1, 1), (3, 3 * 120 + 2), (32, 32 * 100), (64, 64 * 4000 + 5)):
            run = itertools.islice(step.decode_steps_s(batch, keys), 60)
            assert list(run) == [step(0, 0, batch, keys + batch * k) for k in range(60)], (batch, keys)


def test_decode_attention_rows_are_the_query_heads_that_share_a_kv_head(catalog: Any) -> None:
    assert decode_attention_rows(dep(catalog, "llama-3.1-8b")) == 4  # 32 query heads over 8 KV heads
    assert decode_attention_rows(dep(catalog, "llama-3.1-70b", tp=8)) == 8  # 8 query heads, 1 KV head a GPU
    # MLA: every query head on the GPU attends over the one latent (128 heads over TP 8)
    assert decode_attention_rows(dep(catalog, "deepseek-v3", gpu="h200-sxm", tp=8, ep=8)) == 16


def test_decode_attention_hides_under_the_kv_reads_at_long_context(catalog: Any) -> None:
    """A lone Llama-3.1-8B sequence at 64k tokens of context on one H200: the step reads 16 GB
    of weights and 8.6 GB of KV, and its attention FLOPs (a GQA group of 4 rows a KV head,
    not the batch) take less time than those reads, so the step is memory-bound. The SGLang
    repository's dense baseline measures 6.78 ms a token there (calibration.csv row 1470)."""
    d = dep(catalog, "llama-3.1-8b", gpu="h200-sxm")
    # (MFU(decode) 0.375 of the measured matmul ceiling: 0.3 of the datasheet peak)
    eff = Efficiency(mfu_prefill=0.5, mbu_decode=0.8, mfu_decode=0.375, overhead_ms=0.0)
    for batch in (1, 32):
        memory_s = decode_bytes_per_gpu(d, batch, 65536) / (d.gpu.hbm_tb_s * 1e12 * 0.8)
        assert decode_step_s(d, batch, 65536, eff) == pytest.approx(memory_s)
    assert 5.5 < decode_step_s(d, 1, 65536, eff) * 1000 < 8.0


def test_an_attention_dp_step_with_the_work_spread_evenly_is_the_replicas_step(catalog: Any) -> None:
    """MixedStep.ranks_s (one lockstep step of the ranks of an attention-DP replica) with every rank
    doing an eighth of the work is the replica's step of the sums, prefill, decode and mixed alike."""
    from planner.sizing.roofline import MixedStep

    d = dep(catalog, "deepseek-r1", gpu="b200", weights_dtype="fp8", kv_dtype="fp8", ep=8, attention_dp=True)
    step = MixedStep(d, Efficiency(mfu_prefill=0.6, mbu_decode=0.7, mfu_decode=0.3, overhead_ms=2.0))
    for prefill, keys, batch, decode_keys in ((16_384, 16_384 * 9_000, 0, 0), (0, 0, 64, 64 * 12_000),
                                              (8_192, 8_192 * 4_000, 48, 48 * 20_000), (0, 0, 8, 8 * 100)):  # fmt: skip
        share = (prefill / 8, keys / 8, batch / 8, decode_keys / 8)
        assert step.ranks_s([share] * 8) == pytest.approx(step(prefill, keys, batch, decode_keys), rel=1e-12)


def test_a_run_of_attention_dp_decode_steps_is_each_steps_ranks_s(catalog: Any) -> None:
    """MixedStep.ranks_decode_steps_s (the simulator's decode runs of an attention-DP replica) gives,
    step after step, exactly ranks_s of that step's work: each rank's sequences a token longer a
    step, a rank with none idle (its weights still read, its experts' share still run)."""
    from itertools import islice

    from planner.sizing.roofline import MixedStep

    d = dep(catalog, "deepseek-r1", gpu="b200", weights_dtype="fp8", kv_dtype="fp8", ep=8, attention_dp=True)
    step = MixedStep(d, Efficiency(mfu_prefill=0.6, mbu_decode=0.7, mfu_decode=0.3, overhead_ms=2.0))
    for batches in ([6, 0, 5, 7, 6, 0, 6, 3], [1] + [0] * 7, [40] * 8):
        keys = [b * (3_000 + 500 * i) for i, b in enumerate(batches)]
        run = list(islice(step.ranks_decode_steps_s(batches, keys), 40))
        each = [
            step.ranks_s([(0, 0, float(b), float(k + n * b)) for b, k in zip(batches, keys, strict=True)])
            for n in range(40)
        ]
        assert run == each, batches
        assert run[-1] > run[0], "the steps lengthen as the contexts grow"


def test_an_attention_dp_rank_prefills_its_own_prompt_on_its_own_gpu(catalog: Any) -> None:
    """One rank prefilling a 2,048-token chunk at 20k tokens of context while the others decode:
    the chunk's attention and dense GEMMs run on that rank's GPU, so the step takes longer than
    the replica's step of the same sums (which spreads them over the eight) and less than one in
    which every rank prefilled such a chunk (the experts then take eight times the tokens)."""
    from planner.sizing.roofline import MixedStep

    d = dep(catalog, "deepseek-r1", gpu="b200", weights_dtype="fp8", kv_dtype="fp8", ep=8, attention_dp=True)
    step = MixedStep(d, Efficiency(mfu_prefill=0.6, mbu_decode=0.7, mfu_decode=0.3, overhead_ms=2.0))
    chunk = (2048, 2048 * (20_000 + 1024), 0, 0)
    decoding = (0, 0, 6, 6 * 10_000)
    lone = step.ranks_s([chunk] + [decoding] * 7)
    spread = step(2048, 2048 * 21_024, 42, 42 * 10_000)
    everyone = step.ranks_s([chunk] * 8)
    assert spread * 3 < lone < everyone
    # its attention alone on one GPU: 2,048 tokens x 21,024 keys x the FLOPs a key, at the prefill peak of one GPU
    attention_s = step.prefill_attention_per_key * 2048 * 21_024 / (step.prefill_peak / 8)
    assert lone > attention_s


def test_mla_prefills_as_multi_head_attention_and_decodes_over_the_latent(catalog: Any) -> None:
    """DeepSeek-V3's MLA: a decode query attends over the 512-dim latent and its 64 rope dims for
    each of 128 heads (2 x 128 x (2 x 512 + 64) FLOPs a key), a prefill query over the up-projected
    192-dim keys and 128-dim values (2 x 128 x (128 + 64 + 128)): vLLM's MLA backends run prefill
    the compute-friendly way and decode the data-movement-friendly way."""
    from planner.sizing.roofline import attention_flops_per_key

    d = dep(catalog, "deepseek-v3", gpu="h200-sxm", tp=8, ep=8)
    assert attention_flops_per_key(d) == 2 * 128 * (2 * 512 + 64)
    assert attention_flops_per_key(d, prefill=True) == 2 * 128 * (128 + 64 + 128)
    llama = dep(catalog, "llama-3.1-8b")
    assert attention_flops_per_key(llama) == attention_flops_per_key(llama, prefill=True) == 4 * 32 * 128
