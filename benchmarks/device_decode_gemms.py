"""Time a decode step's weight GEMMs on a real GPU, batch by batch (run on a machine with one).

    python benchmarks/device_decode_gemms.py --out gemms.csv      # needs PyTorch with CUDA

The built-in model times a decode step's weight GEMMs as the larger of the weight reads
(bytes / (HBM bandwidth x MBU)) and the GEMM work at MFU(decode) x ``gemm_fill(rows)``
(``planner/sizing/roofline.py``; ``gemm_half_rows`` in ``catalogs/physics/roofline.yaml`` is an
estimate). This script measures what that curve stands for: the linear layers of whole models,
one GPU's shard, with random BF16 weights and with FP8 ones (e4m3, per-tensor scales, BF16 out),
at 1 to 2,048 rows a step, replayed as one CUDA graph (as vLLM and SGLang replay their decode
steps) and launched eagerly. It prints one line per (stack, dtype, rows, mode) and writes them
to ``--out``; ``benchmarks/device_check.py`` compares
them with the model. Attention, norms and collectives are left out: only the weight GEMMs.

It does not import the planner (the GPU machine has PyTorch, not the planner's dependencies).
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from dataclasses import dataclass

from device_timing import eager_and_graph_ms, time_ms

#: Whole-model stacks of (in, out) linear shapes per layer, one GPU's shard, from the models'
#: config.json (catalogs/models/llama.yaml): q/k/v fused, o, gate/up fused, down.
STACKS: dict[str, tuple[int, list[tuple[int, int]]]] = {
    # Llama-3.1-8B on one GPU: hidden 4096, 32 heads + 8 KV heads of 128, FFN 14336, 32 layers.
    "llama-3.1-8b-tp1": (32, [(4096, 6144), (4096, 4096), (4096, 28672), (14336, 4096)]),
    # Llama-3.1-70B, one GPU of TP8: hidden 8192, 64 + 8 heads of 128 (1280 q/k/v columns a GPU),
    # FFN 28672 (7168 gate/up and 3584 down a GPU), 80 layers.
    "llama-3.1-70b-tp8": (80, [(8192, 1280), (1024, 8192), (8192, 7168), (3584, 8192)]),
}
DTYPES = ("bf16", "fp8")
ROWS = (1, 2, 4, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512, 1024, 2048)


@dataclass(frozen=True)
class Timed:
    """One stack's weight GEMMs at one row count, timed one way (a row of the CSV)."""

    stack: str
    dtype: str
    rows: int
    mode: str
    step_ms: float
    weight_gb: float
    gflop: float


def gemm_step(torch, dtype: str, weights, inputs, outputs) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """One decode step's weight GEMMs: every layer's linear layers on fixed inputs (as a graph replays
    them). FP8 runs per-tensor-scaled e4m3 GEMMs with BF16 output (``torch._scaled_mm``), as FP8
    checkpoints do."""
    if dtype == "fp8":
        scale = torch.ones((), device="cuda", dtype=torch.float32)

        def step_fp8() -> None:
            for layer in weights:
                for x, w in zip(inputs, layer, strict=True):
                    torch._scaled_mm(x, w.t(), scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16)

        return step_fp8

    def step() -> None:
        for layer in weights:
            for x, w, y in zip(inputs, layer, outputs, strict=True):
                torch.mm(x, w.t(), out=y)

    return step


def measure_stack(
    torch, name: str, dtype: str, layers: int, shapes: list[tuple[int, int]], repeats: int
) -> list[Timed]:  # type: ignore[no-untyped-def]
    """Time one stack's GEMMs at every row count, as a CUDA graph and eagerly."""
    stored = torch.float8_e4m3fn if dtype == "fp8" else torch.bfloat16
    weights = [
        [(torch.randn(out, inp, device="cuda", dtype=torch.bfloat16) * 0.02).to(stored) for inp, out in shapes]
        for _ in range(layers)
    ]
    weight_gb = sum(w.numel() * w.element_size() for layer in weights for w in layer) / 1e9
    found = []
    for rows in ROWS:
        inputs = [torch.randn(rows, inp, device="cuda", dtype=torch.bfloat16).to(stored) for inp, _ in shapes]
        outputs = [torch.empty(rows, out, device="cuda", dtype=torch.bfloat16) for _, out in shapes]

        step = gemm_step(torch, dtype, weights, inputs, outputs)
        gflop = 2 * rows * sum(inp * out for inp, out in shapes) * layers / 1e9
        try:
            eager, replayed = eager_and_graph_ms(torch, step, repeats)
        except RuntimeError as exc:  # a shape the kernels refuse: say so, keep the others
            print(f"{name} {dtype} rows {rows}: skipped ({str(exc).splitlines()[0]})", flush=True)
            continue
        for mode, ms in (("graph", replayed), ("eager", eager)):
            found.append(Timed(name, dtype, rows, mode, ms, weight_gb, gflop))
            print(
                f"{name:20s} {dtype} rows {rows:5d} {mode:5s} {ms:8.3f} ms  weights {weight_gb / ms:5.2f} TB/s"
                f"  {gflop / ms:6.1f} TFLOP/s",
                flush=True,
            )
    weights.clear()
    torch.cuda.empty_cache()
    return found


def copy_tb_s(torch) -> float:  # type: ignore[no-untyped-def]
    """HBM bandwidth of a device-to-device copy of 4 GB, counting bytes read and written (TB/s)."""
    a = torch.empty(2 * 1024**3, device="cuda", dtype=torch.bfloat16)
    b = torch.empty_like(a)
    ms = time_ms(torch, lambda: b.copy_(a), 20)
    return 2 * a.numel() * a.element_size() / ms / 1e9


def main() -> int:
    """Measure every stack and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    import torch

    print(
        torch.cuda.get_device_name(), torch.__version__, f"copy {copy_tb_s(torch):.2f} TB/s (read + write)", flush=True
    )
    found = [
        t
        for dtype in DTYPES
        for name, (layers, shapes) in STACKS.items()
        for t in measure_stack(torch, name, dtype, layers, shapes, args.repeats)
    ]
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["gpu", "stack", "dtype", "rows", "mode", "step_ms", "weight_gb", "gflop"])
        for t in found:
            writer.writerow(
                [
                    torch.cuda.get_device_name(),
                    t.stack,
                    t.dtype,
                    t.rows,
                    t.mode,
                    f"{t.step_ms:.4f}",
                    f"{t.weight_gb:.4f}",
                    f"{t.gflop:.3f}",
                ]
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
