"""Measurements made on a real GPU against the built-in model's decode terms.

Two scripts run on a machine with a GPU and write CSV files that ``benchmarks/data/`` keeps:

- ``benchmarks/device_decode_gemms.py`` times the linear layers of whole models (one GPU's shard,
  BF16 and FP8) at 1 to 2,048 rows a step. The built-in model times the same work as the larger
  of the weight reads and the GEMM work at MFU(decode) x :func:`~planner.sizing.roofline.gemm_fill`,
  whose ``gemm_half_rows`` (``catalogs/physics/roofline.yaml``) this checks: where the step is
  compute-bound the measured rate follows plateau x rows / (rows + half).
- ``benchmarks/device_decode_step.py`` times a whole decode step of a Llama-3.1-8B-shaped model
  (GEMMs, attention over a KV cache, norms, output head) at 1 to 256 sequences: the GPU's own work,
  which the model's decode step (its calibrated factors carry the serving engines' other costs)
  can be set beside; and one prompt's prefill at 512 to 16,384 tokens, against the FLOPs the
  model counts for it.

``benchmarks/device_check.py`` prints both comparisons.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from planner.catalog import Catalog
from planner.errors import PlannerError
from planner.sizing.deployment import Deployment
from planner.sizing.efficiency import calibration_for
from planner.sizing.roofline import gemm_fill, prefill_s

#: From this many rows a step the measured stacks are compute-bound on an H200 (the weight reads
#: take 3.6-3.8 ms for Llama-3.1-8B's 14 GB, the GEMM work 5.5 ms at 192 rows and more beyond), so
#: their rate shows the GEMMs' fill alone.
COMPUTE_BOUND_ROWS = 256
GEMM_COLUMNS = ("gpu", "stack", "dtype", "rows", "mode", "step_ms", "weight_gb", "gflop")
STEP_COLUMNS = ("gpu", "model", "context", "batch", "mode", "step_ms")


class DeviceMeasurementFileError(PlannerError):
    """A file of GPU measurements that cannot be read."""


@dataclass(frozen=True)
class GemmPoint:
    """One stack's weight GEMMs at one row count, as measured."""

    gpu: str
    stack: str
    #: ``bf16``, or ``fp8`` (e4m3 weights and inputs, per-tensor scales).
    dtype: str
    rows: int
    #: ``graph`` (one CUDA graph replayed, as vLLM and SGLang decode) or ``eager``.
    mode: str
    step_ms: float
    weight_gb: float
    gflop: float

    @property
    def tflop_s(self) -> float:
        """GEMM work over the measured time."""
        return self.gflop / self.step_ms

    @property
    def read_tb_s(self) -> float:
        """Weight bytes over the measured time."""
        return self.weight_gb / self.step_ms


@dataclass(frozen=True)
class StepPoint:
    """A whole decode step of ``batch`` sequences at ``context`` tokens, as measured."""

    gpu: str
    model: str
    context: int
    batch: int
    #: ``graph`` or ``eager``, as for :class:`GemmPoint`.
    mode: str
    step_ms: float


PointT = TypeVar("PointT")


def _read_points(
    path: Path, columns: tuple[str, ...], script: str, point: Callable[[dict[str, str]], PointT]
) -> list[PointT]:
    """Each row of a measurement CSV through ``point``; one clear error for a missing file, a
    missing column or a value that is not a number."""
    fix = f"write it with benchmarks/{script}"
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DeviceMeasurementFileError(f"cannot read it ({exc.strerror})", path=str(path), fix=fix) from exc
    header = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in header]
    if missing:
        raise DeviceMeasurementFileError(
            f"no column {missing[0]!r} (or no rows)", path=str(path), fix=f"{fix}; it needs {', '.join(columns)}"
        )
    points = []
    for number, row in enumerate(rows, start=2):
        try:
            points.append(point(row))
        except (TypeError, ValueError) as exc:
            raise DeviceMeasurementFileError(
                f"line {number}: {exc}", path=str(path), fix=f"{fix}: counts are whole numbers, times and sizes numbers"
            ) from exc
    return points


def load_decode_gemms(path: Path) -> list[GemmPoint]:
    """Read a CSV written by ``benchmarks/device_decode_gemms.py``.

    :raises DeviceMeasurementFileError: when the file is missing, lacks a column or holds a value that is not a number.
    """

    def point(row: dict[str, str]) -> GemmPoint:
        return GemmPoint(
            row["gpu"],
            row["stack"],
            row["dtype"],
            int(row["rows"]),
            row["mode"],
            float(row["step_ms"]),
            float(row["weight_gb"]),
            float(row["gflop"]),
        )

    return _read_points(path, GEMM_COLUMNS, "device_decode_gemms.py", point)


def load_decode_steps(path: Path) -> list[StepPoint]:
    """Read a CSV written by ``benchmarks/device_decode_step.py``.

    :raises DeviceMeasurementFileError: as :func:`load_decode_gemms`.
    """

    def point(row: dict[str, str]) -> StepPoint:
        return StepPoint(
            row["gpu"], row["model"], int(row["context"]), int(row["batch"]), row["mode"], float(row["step_ms"])
        )

    return _read_points(path, STEP_COLUMNS, "device_decode_step.py", point)


def fitted_half_rows(points: list[GemmPoint]) -> tuple[float, float]:
    """The half-fill rows and plateau rate (TFLOP/s) that best fit the compute-bound graph points
    of ``points`` to plateau x rows / (rows + half), in log error.

    :raises ValueError: with fewer than two compute-bound row counts (``COMPUTE_BOUND_ROWS``).
    """
    bound = [p for p in points if p.mode == "graph" and p.rows >= COMPUTE_BOUND_ROWS]
    if len({p.rows for p in bound}) < 2:
        raise ValueError(f"need graph points at two or more row counts from {COMPUTE_BOUND_ROWS}")

    def fit(half: float) -> tuple[float, float]:
        logs = [math.log(p.tflop_s) - math.log(p.rows / (p.rows + half)) for p in bound]
        plateau = sum(logs) / len(logs)
        return sum((x - plateau) ** 2 for x in logs), math.exp(plateau)

    half = min(range(1, 1025), key=lambda h: fit(h)[0])
    return float(half), fit(half)[1]


def model_gemm_ms(point: GemmPoint, hbm_tb_s: float, matmul_tflops: float, mbu: float, mfu: float) -> float:
    """The roofline's time for a point's GEMMs: weight reads at ``mbu`` of the HBM bandwidth, or
    the GEMM work at ``mfu`` of the matmul ceiling times :func:`gemm_fill`, whichever is longer."""
    memory_ms = point.weight_gb / (hbm_tb_s * mbu)
    compute_ms = point.gflop / (matmul_tflops * mfu * gemm_fill(point.rows))
    return max(memory_ms, compute_ms)


def step_deployment(point: StepPoint, catalog: Catalog, runtime: str) -> Deployment:
    """The deployment a measured step ran: its model on its GPU, one GPU, BF16 weights and KV, under
    ``runtime`` (whose calibrated factors the model's step is then timed with)."""
    return Deployment(
        model=catalog.models.get(point.model),
        gpu=catalog.gpus.get(point.gpu),
        runtime=catalog.runtimes.get(runtime),
        weights_dtype="bf16",
        kv_dtype="bf16",
    )


def prefill_at_ceiling_ms(point: StepPoint, catalog: Catalog) -> float:
    """The model's prefill of a measured prompt (``point.context`` tokens, one sequence) with every
    FLOP it counts (GEMMs and causal attention) at the GPU's matmul ceiling: over the measured time,
    the share of that ceiling the prompt reached, if the model counts its work right."""
    dep = step_deployment(point, catalog, "vllm")
    at_ceiling = replace(calibration_for("vllm", dep.gpu.generation, "dense").efficiency, mfu_prefill=1.0)
    return prefill_s(dep, 1, point.context, at_ceiling) * 1000
