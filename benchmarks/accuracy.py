"""Accuracy of the estimator on published measurements, and the calibration that feeds it.

    python benchmarks/accuracy.py                 # predict every row with the catalog's factors
    python benchmarks/accuracy.py --cv            # also hold out each source document in turn
    python benchmarks/accuracy.py --fit           # refit the factors and rewrite the catalog file
    python benchmarks/accuracy.py --data OTHER.csv  # rows the factors never saw (same columns)

Prints one line per measured figure (row, model, GPU, metric, predicted, measured,
error %), then the median absolute % error per metric group and per class.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from planner.bench.calibration import Measurement, load_measurements
from planner.bench.fit import (
    METRIC_GROUP,
    Residual,
    calibration_entries,
    class_bands,
    class_key,
    cross_validate,
    fit_classes,
    residuals,
)
from planner.catalog import Catalog, load_catalog
from planner.sizing.efficiency import EFFICIENCY_FILE, calibration_for

HERE = Path(__file__).parent
DEFAULT_DATA = HERE / "data" / "calibration.csv"
CATALOG_FILE = HERE.parent / "catalogs" / EFFICIENCY_FILE


def summarise(label: str, found: Sequence[Residual]) -> None:
    """Print the median absolute % error per metric group."""
    print(f"\n{label}")
    for group in ("throughput", "itl", "ttft"):
        errors = [r.abs_pct for r in found if METRIC_GROUP[r.metric] == group]
        if errors:
            print(f"  {group:10s} n={len(errors):3d}  median |error| {statistics.median(errors):5.1f}%")


def print_rows(found: Sequence[Residual], rows: dict[str, Measurement], catalog: Catalog) -> None:
    """One line per figure."""
    print(
        f"{'row':>4} {'model':18} {'gpu':14} {'class':28} {'metric':12} {'predicted':>11} {'measured':>11} {'error':>7}"
    )
    for r in found:
        m = rows[r.row_id]
        cls = " x ".join(class_key(m, catalog))
        error = (r.predicted - r.measured) / r.measured * 100
        print(
            f"{r.row_id:>4} {m.model_id:18} {m.gpu_id:14} {cls:28} {r.metric:12} "
            f"{r.predicted:11.1f} {r.measured:11.1f} {error:+6.0f}%"
        )


def main() -> int:
    """Run the accuracy report (and the fit, with --fit)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fit", action="store_true", help="refit the factors and rewrite the efficiency catalog")
    parser.add_argument("--cv", action="store_true", help="leave-one-source-document-out cross-validation")
    parser.add_argument("--worst", type=int, default=15, help="list the N worst figures")
    args = parser.parse_args()
    _, catalog = load_catalog()
    measurements, skipped = load_measurements(args.data, catalog)
    rows = {m.row_id: m for m in measurements}
    print(f"{args.data}: {len(measurements)} rows used, {len(skipped)} left out")
    for row_id, reason in skipped:
        print(f"  left out row {row_id}: {reason}")
    held_out: list[Residual] = []
    if args.fit or args.cv:
        held_out = cross_validate(measurements, catalog)
    if args.fit:
        fits = fit_classes(measurements, catalog)
        digest = hashlib.sha256(args.data.read_bytes()).hexdigest()[:12]
        label = f"{args.data.name} sha256:{digest}"
        entries = calibration_entries(fits, class_bands(fits, measurements, held_out, catalog), label)
        header = (
            "# Efficiency factors per runtime family x GPU generation x model kind, fitted by\n"
            "# `python benchmarks/accuracy.py --fit` on the published measurements named in `data`\n"
            "# (see docs/accuracy.md). Bands: 10th/90th percentile of measured/predicted on\n"
            "# held-out rows (leave one source document out), and how many figures they rest on.\n"
        )
        CATALOG_FILE.write_text(header + yaml.safe_dump({"entries": entries}, sort_keys=False), encoding="utf-8")
        print(f"wrote {CATALOG_FILE} ({len(entries)} classes)")
        calibration_for.__globals__["calibrations"].cache_clear()

    def catalog_factors(m: Measurement):  # type: ignore[no-untyped-def]
        return calibration_for(*class_key(m, catalog)).efficiency

    found = residuals(measurements, catalog, catalog_factors)
    print()
    print_rows(found, rows, catalog)
    summarise("With the catalog's factors (fitted on this file):", found)
    if held_out:
        summarise("Held out (each source document predicted by factors fitted on the others):", held_out)
    print(f"\nWorst {args.worst} figures:")
    print_rows(sorted(found, key=lambda r: -r.abs_pct)[: args.worst], rows, catalog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
