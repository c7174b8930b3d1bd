"""How close a front end alone could bring the concurrency sweeps' TTFT (planner/bench/ttft_floor.py).

With every factor as calibrated (catalogs/efficiency/calibrated.yaml) but the front end, it prints
for each sweep document with a TTFT figure the front end that fits it best and the error left
there (in sample: a floor no front end fitted on the document goes below), and the front end
its runtime's other documents would choose and the error that leaves (the document's front end
held out), then one front end per runtime chosen on all of its documents at once and the error
that leaves (in sample: the floor of any front end keyed on the runtime). Both readings of a closed loop's TTFT: the median where the source gives one (what
calibration.csv is fitted on, against the model's median) and the mean where it gives one.

    python benchmarks/ttft_floor.py [--data CSV]      # seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from planner.bench.accuracy_tables import is_sweep
from planner.bench.calibration import CalibrationFileError, load_measurements
from planner.bench.fit import shipped_factors
from planner.bench.ttft_floor import (
    DocumentFrontEnd,
    RuntimeFrontEnd,
    document_front_ends,
    mean_ttft_reading,
    pooled_median,
    runtime_front_ends,
)
from planner.catalog import load_catalog

DEFAULT_DATA = Path(__file__).parent / "data" / "calibration.csv"


def print_reading(title: str, found: list[DocumentFrontEnd], runtimes: list[RuntimeFrontEnd]) -> None:
    """One reading's documents and its two pooled figures, then its runtimes' front ends."""
    print(f"\n{title}:")
    print("  document | runtime | best front end | error there | others' front end | error there")
    for d in found:
        best, others = statistics.median(d.best_errors), statistics.median(d.others_errors)
        print(f"  {d.document} | {d.family} | {d.best_ms:g} ms | {best:.1f}% | {d.others_ms:g} ms | {others:.1f}%")
    figures = sum(len(d.best_errors) for d in found)
    print(
        f"  every figure ({figures} from {len(found)} documents): each document's own best front end"
        f" {pooled_median(found, lambda d: d.best_errors):.1f}% (in sample), its runtime's other documents'"
        f" {pooled_median(found, lambda d: d.others_errors):.1f}%"
    )
    print("  one front end per runtime, chosen on all its documents' figures (in sample):")
    for r in runtimes:
        documents = f"{r.documents} document{'s' if r.documents > 1 else ''}"
        print(f"    {r.family}: {r.best_ms:g} ms from {documents}, {statistics.median(r.errors):.1f}%")
    pooled = statistics.median(e for r in runtimes for e in r.errors)
    print(
        f"    every figure: {pooled:.1f}% (with hindsight: held out, each document's runtime front end is chosen without it)"
    )


def main() -> int:
    """Print both readings' tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="calibration CSV (default: %(default)s)")
    args = parser.parse_args()
    _, catalog = load_catalog()
    try:
        measurements, _ = load_measurements(args.data, catalog)
    except CalibrationFileError as exc:
        parser.exit(2, exc.render() + "\n")
    sweeps = [m for m in measurements if is_sweep(m)]
    shipped = shipped_factors(catalog)

    print(f"{args.data}: {len(sweeps)} concurrency-sweep rows; median absolute % error of the TTFT figures")
    for title, rows in (
        ("TTFT read as the median where the source gives one (as fitted)", sweeps),
        ("TTFT read as the mean where the source gives one", mean_ttft_reading(sweeps)),
    ):
        print_reading(title, document_front_ends(rows, catalog, shipped), runtime_front_ends(rows, catalog, shipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
