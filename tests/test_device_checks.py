"""The built-in model's decode terms against decode work measured on a real GPU (an H200)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from planner.bench.device_checks import (
    GEMM_COLUMNS,
    DeviceMeasurementFileError,
    GemmPoint,
    fitted_half_rows,
    load_decode_gemms,
    load_decode_steps,
    model_gemm_ms,
    prefill_at_ceiling_ms,
    step_deployment,
)
from planner.catalog import load_catalog
from planner.sizing.roofline import constants, decode_bytes_per_gpu

REPO = Path(__file__).resolve().parent.parent
H200 = REPO / "benchmarks" / "data" / "decode-gemms-h200.csv"
H200_STEPS = REPO / "benchmarks" / "data" / "decode-step-h200.csv"


def test_catalog_half_fill_rows_match_the_h200_measurement() -> None:
    """``gemm_half_rows`` (an estimate from tile sizes) within 25% of what the compute-bound
    points of a measured H200 run fit (64-72 rows: two models, BF16 and FP8; 65-78 in a second
    run, so a quarter either way is run-to-run spread, not the model's error), and each plateau
    under the H200's matmul ceiling for its type (``catalogs/gpus/nvidia.yaml``)."""
    points = load_decode_gemms(H200)
    ceiling = {"bf16": 794.5, "fp8": 1453.4}
    kinds = {(p.stack, p.dtype) for p in points}
    assert {dtype for _, dtype in kinds} == set(ceiling)
    for stack, dtype in kinds:
        half, plateau = fitted_half_rows([p for p in points if (p.stack, p.dtype) == (stack, dtype)])
        assert half == pytest.approx(constants().gemm_half_rows, rel=0.25), (stack, dtype)
        assert 0.6 * ceiling[dtype] < plateau < ceiling[dtype], (stack, dtype)


def test_decode_step_bytes_fit_the_measured_steps() -> None:
    """The bytes the model counts for a decode step (weights read, KV of every sequence) read at
    between half and all of the H200's HBM bandwidth in the time a real step took (a Llama-3.1-8B
    step in plain PyTorch at 8-256 sequences of 1k and 4k tokens): counting the KV twice, or
    missing it, breaks one of the two bounds at the large batches. A lone sequence is left out:
    PyTorch's attention does not split a 4k-token cache across the GPU (flash decoding does), so
    its step reads at 2.4 TB/s."""
    _, catalog = load_catalog()
    steps = [p for p in load_decode_steps(H200_STEPS) if p.mode == "graph" and p.batch >= 8]
    assert {(p.context, p.batch) for p in steps} >= {(1024, 256), (4096, 128), (1024, 8)}
    for p in steps:
        dep = step_deployment(p, catalog, "vllm")
        read_tb_s = decode_bytes_per_gpu(dep, p.batch, p.context) / 1e9 / p.step_ms
        assert 0.5 * dep.gpu.hbm_tb_s < read_tb_s <= dep.gpu.hbm_tb_s, (p.context, p.batch, read_tb_s)


def test_prefill_flops_fit_the_measured_prompts() -> None:
    """The FLOPs the model counts for one prompt's prefill (GEMMs and causal attention) reach the
    same share of the H200's matmul ceiling in the measured time at every length from 512 to 16,384
    tokens (0.73-0.75 measured), and under the ceiling: attention is a fifth of the work at 16k
    tokens and under 1% at 512, so counting it twice (or not as causal) moves the long prompts'
    share by a fifth, and counting the GEMMs twice puts every share above 1."""
    _, catalog = load_catalog()
    prompts = [p for p in load_decode_steps(H200_STEPS) if p.mode == "prefill"]
    assert {p.context for p in prompts} >= {512, 16384}
    shares = [prefill_at_ceiling_ms(p, catalog) / p.step_ms for p in prompts]
    assert all(0.5 < share <= 1.0 for share in shares), shares
    assert max(shares) / min(shares) < 1.1, shares


def test_fit_recovers_a_known_curve() -> None:
    points = [
        GemmPoint(
            "gpu", "s", "bf16", rows, "graph", step_ms=gflop / (500.0 * rows / (rows + 40)), weight_gb=1.0, gflop=gflop
        )
        for rows in (256, 512, 1024, 2048)
        for gflop in [rows * 2.0]
    ]
    eager = GemmPoint("gpu", "s", "bf16", 512, "eager", step_ms=100.0, weight_gb=1.0, gflop=1024.0)
    half, plateau = fitted_half_rows([*points, eager])
    assert half == 40
    assert plateau == pytest.approx(500.0)


def test_fit_needs_compute_bound_points() -> None:
    thin = [GemmPoint("gpu", "s", "bf16", rows, "graph", 4.0, 14.0, rows * 14.0) for rows in (1, 64, 128)]
    with pytest.raises(ValueError, match="two or more row counts"):
        fitted_half_rows(thin)


def test_model_time_is_the_longer_of_reads_and_work() -> None:
    one_row = GemmPoint("gpu", "s", "bf16", 1, "graph", 3.75, weight_gb=13.96, gflop=13.96)
    assert model_gemm_ms(one_row, 4.8, 794.5, mbu=0.7, mfu=0.86) == pytest.approx(13.96 / (4.8 * 0.7))
    wide = GemmPoint("gpu", "s", "bf16", 2048, "graph", 43.05, weight_gb=13.96, gflop=28590.0)
    fill = 2048 / (2048 + constants().gemm_half_rows)
    assert model_gemm_ms(wide, 4.8, 794.5, mbu=0.7, mfu=0.86) == pytest.approx(28590.0 / (794.5 * 0.86 * fill))


def test_a_file_without_a_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "gemms.csv"
    path.write_text("gpu,stack,dtype,rows,mode,step_ms,weight_gb\nNVIDIA H200,s,bf16,1,graph,3.7,13.9\n")
    with pytest.raises(DeviceMeasurementFileError) as caught:
        load_decode_gemms(path)
    assert "'gflop'" in caught.value.message
    assert caught.value.path == str(path)
    assert "device_decode_gemms.py" in caught.value.fix


def test_a_value_that_is_not_a_number_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "gemms.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(GEMM_COLUMNS)
        writer.writerow(["NVIDIA H200", "s", "bf16", "1", "graph", "3.7", "13.9", "14.0"])
        writer.writerow(["NVIDIA H200", "s", "bf16", "two", "graph", "3.7", "13.9", "28.0"])
    with pytest.raises(DeviceMeasurementFileError) as caught:
        load_decode_gemms(path)
    assert caught.value.message.startswith("line 3:")


def test_a_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(DeviceMeasurementFileError, match="cannot read it"):
        load_decode_gemms(tmp_path / "absent.csv")


def test_a_step_file_is_not_a_gemm_file() -> None:
    with pytest.raises(DeviceMeasurementFileError) as caught:
        load_decode_steps(H200)
    assert "'model'" in caught.value.message
    assert "device_decode_step.py" in caught.value.fix


def test_the_check_script_prints_both_comparisons_and_refuses_an_unknown_gpu(tmp_path: Path) -> None:
    script = REPO / "benchmarks" / "device_check.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("half fill at") == 4
    assert "decode-step-h200.csv: 11 steps" in done.stdout
    assert "decode-step-h200.csv: 6 prefills" in done.stdout
    other = tmp_path / "gemms.csv"
    other.write_text(H200.read_text().replace("NVIDIA H200", "NVIDIA Z999"))
    done = subprocess.run(
        [sys.executable, str(script), "--gemms", str(other)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert "unknown GPU 'NVIDIA Z999'" in done.stderr
    assert "Traceback" not in done.stderr
