"""The built-in model's decode terms against decode work measured on a real GPU.

Reads the CSV files written by ``benchmarks/device_decode_gemms.py`` and
``benchmarks/device_decode_step.py`` (default: the H200 runs in ``benchmarks/data/``) and prints:

- per GEMM stack and weight type, the half-fill rows and the plateau rate fitted to the
  compute-bound points, beside the catalog's ``gemm_half_rows`` and the GPU's matmul ceiling
  (``tests/test_device_checks.py`` holds the catalog to the measurement), the weight-read rate where
  the step is memory-bound (up to 64 rows), and per row count the measured time (CUDA graph)
  against the roofline's GEMM time with each runtime's calibrated decode factors (dense);
- per (context, batch) of the whole Llama-3.1-8B step, the measured time against the model's
  decode step with each runtime's factors, and the step's bytes (weights and KV, as the model
  counts them) over the measured time;
- per prompt length of the prefill runs, the measured time against the model's prefill with each
  runtime's factors, and the share of the matmul ceiling the FLOPs the model counts reach in it.

    python benchmarks/device_check.py                  # the stored H200 runs
    python benchmarks/device_check.py --gemms FILE     # another GPU's GEMM run (its name must be in the catalog)
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from planner.bench.device_checks import (
    COMPUTE_BOUND_ROWS,
    GemmPoint,
    StepPoint,
    fitted_half_rows,
    load_decode_gemms,
    load_decode_steps,
    model_gemm_ms,
    prefill_at_ceiling_ms,
    step_deployment,
)
from planner.catalog import Catalog, load_catalog
from planner.errors import PlannerError
from planner.sizing.efficiency import Efficiency, calibration_for
from planner.sizing.roofline import constants, decode_bytes_per_gpu, decode_step_s, prefill_s
from planner.specs import GpuSpec

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data"
RUNTIMES = ("vllm", "sglang", "trtllm")


def runtime_header(*columns: str) -> str:
    """A table's header: the measurement's columns, then one column per runtime's model figure."""
    return " | ".join([*columns, *(f"{r} ms (x)" for r in RUNTIMES)])


def runtime_cells(model_ms: dict[str, float], measured_ms: float) -> str:
    """Each runtime's model figure and its ratio to the measured one."""
    return " | ".join(f"{model_ms[r]:.2f} (x{model_ms[r] / measured_ms:.2f})" for r in RUNTIMES)


def print_gemms(name: str, points: list[GemmPoint], gpu: GpuSpec, factors: dict[str, Efficiency]) -> None:
    """The GEMM stacks against the roofline's GEMM terms."""
    print(f"{name}: {len(points)} points; catalog gemm_half_rows {constants().gemm_half_rows:.0f}")
    for stack, dtype in sorted({(p.stack, p.dtype) for p in points}):
        measured = [p for p in points if (p.stack, p.dtype) == (stack, dtype) and p.mode == "graph"]
        matmul = gpu.matmul_tflops.get(dtype, gpu.dense_tflops[dtype])
        half, plateau = fitted_half_rows(measured)
        thin = statistics.median(p.read_tb_s for p in measured if p.rows <= 64)
        print(
            f"\n{stack} {dtype}: compute-bound from {COMPUTE_BOUND_ROWS} rows, half fill at {half:.0f} rows, plateau"
            f" {plateau:.0f} TFLOP/s = {plateau / matmul:.2f} of the matmul ceiling {matmul:.1f}"
            f" ({plateau / gpu.dense_tflops[dtype]:.2f} of the datasheet); up to 64 rows the weights are read at"
            f" {thin:.2f} TB/s (median) = {thin / gpu.hbm_tb_s:.2f} of {gpu.hbm_tb_s} TB/s"
        )
        print(runtime_header("rows", "measured ms (graph)"))
        for p in measured:
            model = {r: model_gemm_ms(p, gpu.hbm_tb_s, matmul, e.mbu_decode, e.mfu_decode) for r, e in factors.items()}
            print(f"{p.rows} | {p.step_ms:.2f} | {runtime_cells(model, p.step_ms)}")


def print_steps(name: str, measured: list[StepPoint], catalog: Catalog, factors: dict[str, Efficiency]) -> None:
    """The whole decode steps against the model's decode step."""
    points = [p for p in measured if p.mode == "graph"]
    print(f"\n{name}: {len(points)} steps (CUDA graph)")
    print(runtime_header("context", "batch", "measured ms", "bytes / time TB/s"))
    for p in points:
        deployments = {r: step_deployment(p, catalog, r) for r in RUNTIMES}
        step_gb = decode_bytes_per_gpu(deployments["vllm"], p.batch, p.context) / 1e9
        model = {r: decode_step_s(deployments[r], p.batch, p.context, e) * 1000 for r, e in factors.items()}
        print(
            f"{p.context} | {p.batch} | {p.step_ms:.2f} | {step_gb / p.step_ms:.2f} | {runtime_cells(model, p.step_ms)}"
        )


def print_prefills(name: str, measured: list[StepPoint], catalog: Catalog, factors: dict[str, Efficiency]) -> None:
    """One prompt's measured prefill against the model's prefill."""
    points = [p for p in measured if p.mode == "prefill"]
    print(f"\n{name}: {len(points)} prefills of one prompt")
    print(runtime_header("prompt tokens", "measured ms", "share of the matmul ceiling"))
    for p in points:
        model = {r: prefill_s(step_deployment(p, catalog, r), 1, p.context, e) * 1000 for r, e in factors.items()}
        share = prefill_at_ceiling_ms(p, catalog) / p.step_ms
        print(f"{p.context} | {p.step_ms:.1f} | {share:.2f} | {runtime_cells(model, p.step_ms)}")


def main() -> int:
    """Print both comparisons (the stored H200 runs unless files are named)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemms", type=Path, help="a device_decode_gemms.py CSV (default: the stored H200 run)")
    parser.add_argument("--steps", type=Path, help="a device_decode_step.py CSV (default: the stored H200 run)")
    args = parser.parse_args()
    if args.gemms is None and args.steps is None:
        args.gemms, args.steps = DATA / "decode-gemms-h200.csv", DATA / "decode-step-h200.csv"
    _, catalog = load_catalog()
    try:  # every file read once, before anything is printed
        gemms = load_decode_gemms(args.gemms) if args.gemms else []
        steps = load_decode_steps(args.steps) if args.steps else []
        gpu = catalog.gpus.get((gemms or steps)[0].gpu)
    except PlannerError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    factors = {r: calibration_for(r, gpu.generation, "dense").efficiency for r in RUNTIMES}
    print(
        f"{gpu.name}; calibrated decode factors ({gpu.generation}, dense): "
        + ", ".join(
            f"{r} MBU {e.mbu_decode:.2f} MFU {e.mfu_decode:.2f} overhead {e.overhead_ms:.2f} ms"
            for r, e in factors.items()
        )
    )
    if gemms:
        print_gemms(args.gemms.name, gemms, gpu, factors)
    if steps:
        print_steps(args.steps.name, steps, catalog, factors)
        print_prefills(args.steps.name, steps, catalog, factors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
