"""Accuracy of the estimator on published measurements, and the calibration that feeds it.

    python benchmarks/accuracy.py                 # predict every row with the catalog's factors
    python benchmarks/accuracy.py --cv            # also hold out each source document in turn
    python benchmarks/accuracy.py --fit           # refit the factors and rewrite the catalog file
    python benchmarks/accuracy.py --data OTHER.csv  # rows the factors never saw (same columns)
    python benchmarks/accuracy.py --cv --markdown docs/accuracy.md   # regenerate the accuracy page

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
    k_fold,
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


def _medians(found: Sequence[Residual]) -> dict[str, tuple[int, float]]:
    out = {}
    for group in ("throughput", "itl", "ttft"):
        errors = [r.abs_pct for r in found if METRIC_GROUP[r.metric] == group]
        if errors:
            out[group] = (len(errors), statistics.median(errors))
    return out


def markdown_page(
    data: Path,
    found: Sequence[Residual],
    held_out: Sequence[Residual],
    folded: Sequence[Residual],
    rows: dict[str, Measurement],
    skipped: Sequence[tuple[str, str]],
    catalog: Catalog,
) -> str:
    """The accuracy page: method, headline errors, per class, every row, the worst rows."""
    fitted, cv, kf = _medians(found), _medians(held_out), _medians(folded)
    lines = [(HERE.parent / "docs" / "accuracy-method.md").read_text(encoding="utf-8").rstrip(), ""]
    lines += [
        "## Results",
        "",
        f"Data: `{data.name}`, {len(rows)} rows used, {len(skipped)} left out (listed below).",
        "",
    ]
    lines += ["| metric group | figures | catalog factors | held out, 5-fold | held out by document | target |"]
    lines += ["|---|---|---|---|---|---|"]
    targets = {"throughput": "15%", "itl": "20%", "ttft": "20%"}
    for group, (count, median) in fitted.items():
        fold = f"{kf[group][1]:.1f}%" if group in kf else "-"
        held = f"{cv[group][1]:.1f}%" if group in cv else "-"
        lines.append(f"| {group} | {count} | {median:.1f}% | {fold} | {held} | {targets[group]} |")
    lines += ["", "Median absolute percentage error of each figure group."]
    lines += [
        "",
        "### Per class (catalog factors)",
        "",
        "| class | figures | throughput | ITL | TTFT |",
        "|---|---|---|---|---|",
    ]
    by_class: dict[str, list[Residual]] = {}
    for r in found:
        by_class.setdefault(" x ".join(class_key(rows[r.row_id], catalog)), []).append(r)
    for name, members in sorted(by_class.items()):
        med = _medians(members)
        cells = [f"{med[g][1]:.1f}% (n={med[g][0]})" if g in med else "-" for g in ("throughput", "itl", "ttft")]
        lines.append(f"| {name} | {len(members)} | " + " | ".join(cells) + " |")
    lines += ["", "### Worst figures, and what the model misses there", ""]
    lines += [
        "| row | model | GPU | class | metric | predicted | measured | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(found, key=lambda r: -r.abs_pct)[:15]:
        m = rows[r.row_id]
        error = (r.predicted - r.measured) / r.measured * 100
        cls = " x ".join(class_key(m, catalog))
        lines.append(
            f"| {r.row_id} | {m.model_id} | {m.gpu_id} | {cls} | {r.metric} | {r.predicted:,.1f} | {r.measured:,.1f} | {error:+.0f}% |"
        )
    notes = HERE.parent / "docs" / "accuracy-worst.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").rstrip()]
    lines += [
        "",
        "### Every figure",
        "",
        "| row | model | GPU | metric | predicted | measured | error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in found:
        m = rows[r.row_id]
        error = (r.predicted - r.measured) / r.measured * 100
        lines.append(
            f"| {r.row_id} | {m.model_id} | {m.gpu_id} | {r.metric} | {r.predicted:,.1f} | {r.measured:,.1f} | {error:+.0f}% |"
        )
    lines += ["", "### Rows left out", ""]
    lines += [f"- row {row_id}: {reason}" for row_id, reason in skipped] or ["- none"]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the accuracy report (and the fit, with --fit)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fit", action="store_true", help="refit the factors and rewrite the efficiency catalog")
    parser.add_argument("--cv", action="store_true", help="leave-one-source-document-out cross-validation")
    parser.add_argument("--worst", type=int, default=15, help="list the N worst figures")
    parser.add_argument("--markdown", type=Path, help="write the accuracy page (method and results) to this file")
    args = parser.parse_args()
    _, catalog = load_catalog()
    measurements, skipped = load_measurements(args.data, catalog)
    rows = {m.row_id: m for m in measurements}
    print(f"{args.data}: {len(measurements)} rows used, {len(skipped)} left out")
    for row_id, reason in skipped:
        print(f"  left out row {row_id}: {reason}")
    held_out: list[Residual] = []
    folded: list[Residual] = []
    if args.fit or args.cv:
        held_out = cross_validate(measurements, catalog)
    if args.cv:
        folded = k_fold(measurements, catalog)
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
        from planner.perfmodel import _calibrated_for

        _calibrated_for.cache_clear()

    def catalog_factors(m: Measurement):  # type: ignore[no-untyped-def]
        return calibration_for(*class_key(m, catalog)).efficiency

    found = residuals(measurements, catalog, catalog_factors)
    print()
    print_rows(found, rows, catalog)
    summarise("With the catalog's factors (fitted on this file):", found)
    if folded:
        summarise("Held out, 5-fold (each fifth of the rows predicted by factors fitted on the rest):", folded)
    if held_out:
        summarise("Held out by document (each source document predicted by factors fitted on the others):", held_out)
    print(f"\nWorst {args.worst} figures:")
    print_rows(sorted(found, key=lambda r: -r.abs_pct)[: args.worst], rows, catalog)
    if args.markdown:
        page = markdown_page(args.data, found, held_out, folded, rows, skipped, catalog)
        args.markdown.write_text(page, encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
