"""Accuracy of every performance backend on published measurements, and the calibration that feeds them.

    python benchmarks/accuracy.py                 # predict every row with each backend and with auto
    python benchmarks/accuracy.py --cv            # also held out: each source document predicted without it
    python benchmarks/accuracy.py --fit           # refit factors, corrections and auto's choices; rewrite the catalog
    python benchmarks/accuracy.py --data OTHER.csv  # rows the calibration never saw (same columns)
    python benchmarks/accuracy.py --cv --markdown docs/accuracy.md   # regenerate the accuracy page
    python benchmarks/accuracy.py --sweeps        # quick: the built-in model held out on the sweep documents
    python benchmarks/accuracy.py --builtin       # the built-in model alone held out on every document
    python benchmarks/accuracy.py --sweeps --start-spread [0.9,1.1]   # also refitted from other search starts

Prints one line per measured figure (row, model, GPU, class, metric, measured, then the
prediction and error of the built-in model, of each other backend that covers the row,
and of ``auto``), then the median absolute % error per backend, metric group and
configuration class (dense, MoE-TP, MoE-EP/attention-DP). With ``--cv`` or ``--fit`` it
also prints how often each backend's 10-90% band (the built-in model's, each corrected
backend's and ``auto``'s) holds the measured value of a held-out figure (see
``planner/bench/coverage.py``); with ``--markdown`` it stores the
held-out residuals behind that figure next to the data, for ``tests/test_accuracy.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from planner.bench.accuracy_tables import (
    FALLBACK_SUFFIX,
    FLOOR,
    HELD_OUT_TITLE,
    IN_SAMPLE_TITLE,
    START_SPREAD_HEADER,
    START_SPREAD_TITLE,
    SUMMARY_HEADER,
    SWEEP_DOCUMENT_HEADER,
    SWEEP_DOCUMENT_TITLE,
    SWEEP_HEADER,
    SWEEP_TITLE,
    Results,
    held_out_sections,
    is_sweep,
    md_table,
    start_spread_table,
    summary_table,
    sweep_document_table,
    sweep_table,
    with_fallback,
    with_floor,
)
from planner.bench.calibration import CalibrationFileError, Measurement, load_measurements
from planner.bench.coverage import (
    COVERAGE_TITLE,
    TARGET_SHARE,
    TARGET_TOLERANCE,
    Coverage,
    data_digest,
    every_band_coverage,
    write_residuals,
)
from planner.bench.fit import (
    SPREAD_SCALES,
    Residual,
    calibration_entries,
    class_bands,
    cross_validate,
    fit_classes,
    k_fold,
    residuals,
    shifted_start,
    shipped_factors,
    spread_scales,
)
from planner.bench.predict import deployment_for
from planner.bench.selection import (
    Choice,
    backend_entries,
    compose_auto,
    covered,
    cross_validate_backend,
    fit_corrections,
    held_out_auto,
    measurement_class,
    median_error,
    select,
    with_blends,
)
from planner.catalog import Catalog, load_catalog
from planner.corrections import BACKENDS_FILE, GROUPS
from planner.corrections import reload as reload_corrections
from planner.perfmodel import PerformanceModel
from planner.performance_models import calibrated
from planner.sizing.efficiency import EFFICIENCY_FILE
from planner.sizing.efficiency import reload as reload_efficiency

HERE = Path(__file__).parent
DEFAULT_DATA = HERE / "data" / "calibration.csv"
#: Every backend's held-out residuals on the default data, behind the held-out tables and the band coverage
#: in docs/accuracy.md.
HELD_OUT_RESIDUALS = HERE / "data" / "calibration-held-out.csv"
CATALOG_DIR = HERE.parent / "catalogs"
TARGETS = {
    "builtin": {"throughput": "12% (dense and MoE alike)"},
    "auto": {"throughput": "6%", "itl": "4%", "ttft": "15%"},
}


def other_backends(catalog: Catalog) -> list[PerformanceModel]:
    """Registered performance models other than the built-in one and ``auto``."""
    return [model for name, (_, model) in sorted(catalog.performance_models.items()) if name not in ("builtin", "auto")]


def in_sample(rows: Sequence[Measurement], catalog: Catalog) -> Results:
    """Every backend with the catalog's factors and corrections, and ``auto`` with its catalog choices."""
    found: Results = {"builtin": residuals(rows, catalog, shipped_factors(catalog))}
    for model in other_backends(catalog):
        mine = covered(rows, catalog, model)
        if mine:
            found[model.name] = residuals(mine, catalog, lambda m, x=model: calibrated(x, deployment_for(m, catalog)))
    found["auto"] = residuals(rows, catalog, lambda _m: catalog.performance_model("auto"))
    return found


def held_out(rows: Sequence[Measurement], catalog: Catalog) -> Results:
    """Leave one source document out for every backend; ``auto`` twice: with the catalog's choices
    (made from every document's held-out errors), and choosing for each document from the others only."""
    found: Results = {"builtin": cross_validate(rows, catalog)}
    for model in other_backends(catalog):
        mine = cross_validate_backend(rows, catalog, model)
        if mine:
            found[model.name] = mine
    singles = dict(found)
    found["auto (catalog choices)"] = compose_auto(singles, select(singles, rows, catalog), rows, catalog)
    found["auto"] = held_out_auto(singles, rows, catalog)
    return found


def fit(data: Path, rows: Sequence[Measurement], catalog: Catalog, held: Results) -> list[Choice]:
    """Refit the built-in factors, every other backend's corrections and ``auto``'s choices; rewrite the catalog."""
    label = f"{data.name} sha256:{data_digest(data)}"
    fits = fit_classes(rows, catalog)
    entries = calibration_entries(fits, class_bands([f.key for f in fits], rows, held["builtin"], catalog), label)
    header = (
        "# Efficiency factors per runtime family x GPU generation x configuration class, fitted by\n"
        "# `python benchmarks/accuracy.py --fit` on the published measurements named in `data`\n"
        "# (see docs/accuracy.md). Bands: 10th/90th percentile of measured/predicted on\n"
        "# held-out rows (leave one source document out; each document one vote, read as a prediction\n"
        "# interval), how many figures they rest on, and from how many source documents.\n"
    )
    (CATALOG_DIR / EFFICIENCY_FILE).write_text(header + yaml.safe_dump({"entries": entries}, sort_keys=False))
    corrections = [f for model in other_backends(catalog) for f in fit_corrections(rows, catalog, model)]
    choices = select({k: v for k, v in held.items() if not k.startswith("auto")}, rows, catalog)
    header = (
        "# Performance backends: corrections fitted per configuration class on the measurements each\n"
        "# backend covers, and the backend `auto` uses per class and metric group (the lower held-out\n"
        "# median |error| on figures both predict). Written by `python benchmarks/accuracy.py --fit`;\n"
        "# see planner/corrections.py and docs/accuracy.md.\n"
    )
    body = yaml.safe_dump(
        {"entries": backend_entries(corrections, choices, held, rows, catalog, label)}, sort_keys=False
    )
    (CATALOG_DIR / BACKENDS_FILE).write_text(header + body, encoding="utf-8")
    reload_efficiency()
    reload_corrections()
    return choices


def figure_columns(found: Results) -> list[str]:
    """The backends shown per figure: each backend, its equal-weight blend and ``auto``."""
    return [n for n in found if not n.endswith(FALLBACK_SUFFIX) and n != FLOOR and "@" not in n]


def by_figure(found: Results) -> dict[tuple[str, str], dict[str, Residual]]:
    """(row, metric) -> backend -> residual."""
    table: dict[tuple[str, str], dict[str, Residual]] = {}
    for name, members in found.items():
        for r in members:
            table.setdefault((r.row_id, r.metric), {})[name] = r
    return table


def _cell(r: Residual | None) -> str:
    if r is None:
        return f"{'-':>10} {'':6}"
    return f"{r.predicted:10.1f} {(r.predicted - r.measured) / r.measured * 100:+5.0f}%"


def print_rows(found: Results, rows: dict[str, Measurement], catalog: Catalog, only: Sequence[str] = ()) -> None:
    """One line per figure: measured, then each backend's prediction and error."""
    names = figure_columns(found)
    print(
        f"{'row':>4} {'model':16} {'gpu':13} {'class':7} {'metric':12} {'measured':>10}  "
        + "  ".join(f"{n[:17]:>17}" for n in names)
    )
    for (row_id, metric), per in by_figure(found).items():
        if only and (row_id, metric) not in only:
            continue
        m = rows[row_id]
        cls = measurement_class(m, catalog)
        measured = next(iter(per.values())).measured
        cells = "  ".join(_cell(per.get(n)) for n in names)
        print(f"{row_id:>4} {m.model_id[:16]:16} {m.gpu_id[:13]:13} {cls:7} {metric:12} {measured:10.1f}  {cells}")


def print_summary(label: str, found: Results, rows: dict[str, Measurement], catalog: Catalog) -> None:
    """Median absolute % error per backend, class and metric group."""
    print(f"\n{label}")
    print(f"  {'backend':28} {'class':7} {'docs':>4} {'throughput':>14} {'ITL':>14} {'TTFT':>14}")
    for name, cls, documents, *cells in summary_table(found, rows, catalog):
        print(f"  {name[:28]:28} {cls:7} {documents:>4} " + " ".join(f"{c:>14}" for c in cells))


def print_table(title: str, header: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    """A titled table on the terminal, its cells separated by ' | ' (the markdown page's columns)."""
    print(f"\n{title}:")
    for line in (header, *lines):
        print("  " + " | ".join(line))


def print_sweeps(held: Results, rows: dict[str, Measurement]) -> None:
    """The held-out errors on concurrency-sweep rows against their targets."""
    print_table(SWEEP_TITLE, SWEEP_HEADER, sweep_table(held, rows))
    print_table(SWEEP_DOCUMENT_TITLE, SWEEP_DOCUMENT_HEADER, sweep_document_table(held["builtin"], rows))


def scales_argument(text: str) -> tuple[float, ...]:
    """``--start-spread``'s SCALES (:func:`~planner.bench.fit.spread_scales`), a bad one argparse's
    one-line error."""
    try:
        return spread_scales(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def print_start_spread(
    usual: Sequence[Residual],
    measurements: Sequence[Measurement],
    rows: dict[str, Measurement],
    catalog: Catalog,
    scales: Sequence[float] = SPREAD_SCALES,
) -> None:
    """The held-out sweep errors of the built-in model from the usual search start and from each of
    ``scales`` (:func:`~planner.bench.fit.shifted_start`), and their range."""
    runs = {"usual (START)": usual}
    for scale in scales:
        runs[f"START x {scale:g}"] = cross_validate(measurements, catalog, only=is_sweep, start=shifted_start(scale))
    print_table(START_SPREAD_TITLE, START_SPREAD_HEADER, start_spread_table(runs, rows))


def coverage_table(coverage: Sequence[Coverage]) -> list[list[str]]:
    """Rows of [backend, metric group, 'inside of figures', share, documents, on target?]."""
    return [
        [
            c.backend,
            c.group,
            f"{c.inside} of {c.figures}",
            f"{c.share:.1%}",
            str(c.documents),
            "yes" if c.on_target else "no",
        ]
        for c in coverage
    ]


COVERAGE_HEADER = ["backend", "metric", "measured inside the band", "share", "documents", "within target"]
COVERAGE_NOTE = (
    f"Target: {TARGET_SHARE:.0%} +/- {TARGET_TOLERANCE * 100:.0f} points per metric. Each figure is predicted by"
    " factors (and corrections; for `auto`, choices too) fitted without its source document and gets the band"
    " the catalog would have shown without that document (classes and bands from the other documents'"
    " held-out residuals; thin bands widened toward a broader class's; the point always inside), so this is held-out coverage, not"
    " in-sample. A corrected backend's or `auto`'s figure gets that backend's own band where it answered the"
    " figure and the built-in model's band where the built-in model did (`auto`'s choice, or a row the"
    " backend does not cover), as an estimate shows them. ITL includes E2E figures (they take the ITL band);"
    " throughput leaves out open-loop runs at a set rate, whose throughput is the offered load, and TTFT and"
    " ITL those of open-loop runs the model puts past the replica's capacity (a band is read around an operating"
    " point)."
)


def print_coverage(coverage: Sequence[Coverage]) -> None:
    """The held-out band coverage per backend and metric group."""
    print(f"\n{COVERAGE_TITLE}:")
    for backend, group, inside, share, documents, on_target in coverage_table(coverage):
        print(
            f"  {backend:15} {group:10} {inside:>12}  {share:>6}  ({documents} documents; within target: {on_target})"
        )
    print(f"  {COVERAGE_NOTE}")


def coverage_section(coverage: Sequence[Coverage]) -> list[str]:
    """The accuracy page's band coverage section (markdown lines)."""
    return [f"### {COVERAGE_TITLE}", "", *md_table(COVERAGE_HEADER, coverage_table(coverage)), "", COVERAGE_NOTE]


def markdown_page(
    data: Path,
    fitted: Results,
    held: Results,
    folded: Sequence[Residual],
    rows: dict[str, Measurement],
    skipped: Sequence[tuple[str, str]],
    catalog: Catalog,
    coverage: Sequence[Coverage] = (),
) -> str:
    """The accuracy page: method, then held-out errors (concurrency sweeps against their targets, every
    backend per class), band coverage, in-sample errors (labelled so), the worst figures and every figure."""
    lines = [(HERE.parent / "docs" / "accuracy-method.md").read_text(encoding="utf-8").rstrip(), ""]
    lines += [
        "## Results",
        "",
        f"Data: `{data.name}`, {len(rows)} rows used, {len(skipped)} left out (listed below).",
        "",
    ]
    if held:
        lines += [*held_out_sections(held, rows, catalog), ""]
    if folded:
        fold = {g: median_error(folded, g) for g in GROUPS}
        cells = [f"{e[1]:.1f}% ({e[0]})" if e else "-" for e in fold.values()]
        lines += [f"Built-in model, 5-fold held out: throughput {cells[0]}, ITL {cells[1]}, TTFT {cells[2]}.", ""]
    if coverage:
        lines += [*coverage_section(coverage), ""]
    lines += [f"### {IN_SAMPLE_TITLE}", ""]
    lines += md_table(SUMMARY_HEADER, summary_table(fitted, rows, catalog))
    lines += [
        "",
        "In-sample targets of earlier issues: "
        + "; ".join(f"{b}: " + ", ".join(f"{g} {t}" for g, t in ts.items()) for b, ts in TARGETS.items())
        + ". In-sample figures flatter the built-in model, whose factors are fitted on these very rows.",
    ]
    shown = held or fitted
    label = "held out" if held else "in sample"
    names = figure_columns(shown)
    lines += ["", f"### Worst figures of `auto` ({label})", ""]
    table = by_figure(shown)
    worst = sorted((k for k in table if "auto" in table[k]), key=lambda k: -table[k]["auto"].abs_pct)[:15]
    lines += _figure_table(worst, table, names, rows, catalog)
    notes = HERE.parent / "docs" / "accuracy-worst.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").rstrip()]
    lines += ["", f"### Every figure ({label})", ""]
    lines += _figure_table(list(table), table, names, rows, catalog)
    lines += ["", "### Rows left out", ""]
    lines += [f"- row {row_id}: {reason}" for row_id, reason in skipped] or ["- none"]
    return "\n".join(lines) + "\n"


def _figure_table(
    keys: Sequence[tuple[str, str]],
    table: dict[tuple[str, str], dict[str, Residual]],
    names: list[str],
    rows: dict[str, Measurement],
    catalog: Catalog,
) -> list[str]:
    body = []
    for row_id, metric in keys:
        per = table[(row_id, metric)]
        m = rows[row_id]
        measured = next(iter(per.values())).measured
        cells = []
        for n in names:
            r = per.get(n)
            cells.append(f"{r.predicted:,.1f} ({(r.predicted - r.measured) / r.measured * 100:+.0f}%)" if r else "-")
        body.append([row_id, m.model_id, m.gpu_id, measurement_class(m, catalog), metric, f"{measured:,.1f}", *cells])
    return md_table(["row", "model", "GPU", "class", "metric", "measured", *names], body)


def main() -> int:
    """Run the accuracy report (and the fit, with --fit)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fit", action="store_true", help="refit factors, corrections and auto's choices")
    parser.add_argument("--cv", action="store_true", help="leave-one-source-document-out cross-validation")
    parser.add_argument(
        "--sweeps",
        action="store_true",
        help="only the built-in model held out on the concurrency-sweep documents, their two tables (minutes):"
        " for trying a change to the model before the full --cv",
    )
    parser.add_argument(
        "--start-spread",
        nargs="?",
        const=SPREAD_SCALES,
        type=scales_argument,
        metavar="SCALES",
        help="with --sweeps: also fit from starts other than the usual one (every factor x"
        f" {','.join(f'{s:g}' for s in SPREAD_SCALES)}, or the comma-separated SCALES given) and print each"
        " start's held-out sweep errors and their range (--sweeps' time once more per scale)",
    )
    parser.add_argument(
        "--builtin",
        action="store_true",
        help="only the built-in model held out on every document: the sweep tables and its errors per class"
        " (a third of --cv's time)",
    )
    parser.add_argument("--worst", type=int, default=15, help="list the N worst figures of auto")
    parser.add_argument("--markdown", type=Path, help="write the accuracy page (method and results) to this file")
    args = parser.parse_args()
    if args.start_spread is not None and not args.sweeps:
        parser.error("--start-spread refits the concurrency-sweep folds: give it with --sweeps")
    _, catalog = load_catalog()
    try:
        measurements, skipped = load_measurements(args.data, catalog)
    except CalibrationFileError as exc:
        parser.exit(2, exc.render() + "\n")
    rows = {m.row_id: m for m in measurements}
    print(f"{args.data}: {len(measurements)} rows used, {len(skipped)} left out")
    for row_id, reason in skipped:
        print(f"  left out row {row_id}: {reason}")
    if args.sweeps or args.builtin:
        builtin = {"builtin": cross_validate(measurements, catalog, only=None if args.builtin else is_sweep)}
        print_sweeps(builtin, rows)
        if args.start_spread is not None:
            print_start_spread(builtin["builtin"], measurements, rows, catalog, args.start_spread)
        if args.builtin:
            print_summary(f"{HELD_OUT_TITLE}:", builtin, rows, catalog)
        return 0
    print("backends:", ", ".join(sorted(catalog.performance_models)))
    held: Results = held_out(measurements, catalog) if args.fit or args.cv else {}
    folded = k_fold(measurements, catalog) if args.cv else []
    coverage = every_band_coverage(measurements, held, catalog) if held else []
    if args.fit:
        choices = fit(args.data, measurements, catalog, held)
        print(f"wrote {CATALOG_DIR / EFFICIENCY_FILE} and {CATALOG_DIR / BACKENDS_FILE}")
        for c in choices:
            print(
                f"  auto {c.cls:7} {c.group:10} -> {c.backend}  "
                + ", ".join(f"{k} {v[1]:.1f}% ({v[0]})" for k, v in c.errors.items())
            )
    found = with_floor(with_fallback(with_blends(in_sample(measurements, catalog)), measurements, catalog))
    base_held = held
    held = with_floor(with_fallback(with_blends(held), measurements, catalog)) if held else held
    print()
    print_rows(held or found, rows, catalog)
    if held:
        print_sweeps(held, rows)
        print_summary(f"{HELD_OUT_TITLE}:", held, rows, catalog)
    if folded:
        print_summary("Built-in model, 5-fold held out:", {"builtin": folded}, rows, catalog)
    if coverage:
        print_coverage(coverage)
    print_summary(f"{IN_SAMPLE_TITLE}:", found, rows, catalog)
    shown = held or found
    if "auto" in shown:
        table = by_figure(shown)
        worst = sorted((k for k in table if "auto" in table[k]), key=lambda k: -table[k]["auto"].abs_pct)
        print(f"\nWorst {args.worst} figures of auto ({'held out' if held else 'in sample'}):")
        print_rows(shown, rows, catalog, only=worst[: args.worst])
    if args.markdown:
        args.markdown.write_text(
            markdown_page(args.data, found, held, folded, rows, skipped, catalog, coverage), encoding="utf-8"
        )
        print(f"wrote {args.markdown}")
        if held and args.data == DEFAULT_DATA:
            write_residuals(HELD_OUT_RESIDUALS, base_held, args.data)
            print(f"wrote {HELD_OUT_RESIDUALS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
