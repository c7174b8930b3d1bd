"""The roofline's decode GEMM terms against decode-step GEMMs measured on a real GPU.

Reads a CSV written by ``benchmarks/device_decode_gemms.py`` (default: the H200 run in
``benchmarks/data/decode-gemms-h200.csv``) and prints:

- per stack and weight type, the half-fill rows and the plateau rate fitted to the compute-bound
  points, beside the catalog's ``gemm_half_rows`` and the GPU's matmul ceiling
  (``tests/test_decode_gemms.py`` holds the catalog to the measurement), and the weight-read rate
  where the step is memory-bound (up to 64 rows), against the HBM datasheet;
- per row count, the measured time (CUDA graph) and the roofline's GEMM time with each
  runtime's calibrated decode factors for the GPU's generation (dense), and their ratio.

    python benchmarks/decode_gemm_check.py [--data FILE]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from planner.bench.decode_gemms import COMPUTE_BOUND_ROWS, fitted_half_rows, load_decode_gemms, model_gemm_ms
from planner.catalog import load_catalog
from planner.sizing.efficiency import calibration_for
from planner.sizing.roofline import constants

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "benchmarks" / "data" / "decode-gemms-h200.csv"
RUNTIMES = ("vllm", "sglang", "trtllm")


def main() -> int:
    """Print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    points = load_decode_gemms(args.data)
    _, catalog = load_catalog()
    gpu = catalog.gpus.get(points[0].gpu)
    print(
        f"{args.data.name}: {len(points)} points on {gpu.name}; catalog gemm_half_rows {constants().gemm_half_rows:.0f}"
    )
    factors = {r: calibration_for(r, gpu.generation, "dense").efficiency for r in RUNTIMES}
    print(
        "calibrated decode factors (dense): "
        + ", ".join(f"{r} MBU {e.mbu_decode:.2f} MFU {e.mfu_decode:.2f}" for r, e in factors.items())
    )
    for stack, dtype in sorted({(p.stack, p.dtype) for p in points}):
        measured = [p for p in points if (p.stack, p.dtype) == (stack, dtype) and p.mode == "graph"]
        matmul = gpu.matmul_tflops.get(dtype, gpu.dense_tflops[dtype])
        half, plateau = fitted_half_rows(measured)
        thin = [p.read_tb_s for p in measured if p.rows <= 64]
        print(
            f"\n{stack} {dtype}: compute-bound from {COMPUTE_BOUND_ROWS} rows, half fill at {half:.0f} rows, plateau"
            f" {plateau:.0f} TFLOP/s = {plateau / matmul:.2f} of the matmul ceiling {matmul:.1f}"
            f" ({plateau / gpu.dense_tflops[dtype]:.2f} of the datasheet); up to 64 rows the weights are read at"
            f" {statistics.median(thin):.2f} TB/s (median) = {statistics.median(thin) / gpu.hbm_tb_s:.2f} of"
            f" {gpu.hbm_tb_s} TB/s"
        )
        print("rows | measured ms (graph) | " + " | ".join(f"{r} ms (x)" for r in RUNTIMES))
        for p in measured:
            cells = []
            for runtime in RUNTIMES:
                e = factors[runtime]
                model = model_gemm_ms(p, gpu.hbm_tb_s, matmul, e.mbu_decode, e.mfu_decode)
                cells.append(f"{model:.2f} (x{model / p.step_ms:.2f})")
            print(f"{p.rows} | {p.step_ms:.2f} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
