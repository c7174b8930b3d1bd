"""The accuracy page's tables, built from residuals alone.

``benchmarks/accuracy.py`` computes residuals (in sample and held out) and prints these
tables; ``tests/test_accuracy.py`` rebuilds the held-out ones from the residuals stored
next to the data (:func:`~planner.bench.coverage.write_residuals`) and checks that the
page quotes what the code computes. Every table therefore comes from one function here.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from planner.bench.calibration import Measurement
from planner.bench.fit import Residual, source_document
from planner.bench.selection import Choice, best_per_figure, compose_auto, measurement_class, median_error
from planner.catalog import Catalog
from planner.corrections import GROUPS
from planner.sizing.deployment import CLASSES
from planner.sizing.estimate import METRIC_GROUP

Results = dict[str, Sequence[Residual]]  # backend name -> residuals
#: The per-figure best of the backends and blends (the floor of any selection; not a model).
FLOOR = "best of each figure"
#: Targets of the held-out median absolute % error on concurrency-sweep rows (issue 14):
#: backend -> metric group -> percent. ``auto (catalog choices)`` is held to ``auto``'s.
SWEEP_TARGETS: dict[str, dict[str, float]] = {
    "builtin": {"ttft": 15.0, "itl": 20.0, "throughput": 25.0},
    "auto": {"ttft": 12.0, "itl": 15.0, "throughput": 25.0},
}
SWEEP_BACKENDS = ("builtin", "auto (catalog choices)", "auto")
#: Headings of the page's held-out tables (a test finds each table by its heading).
SWEEP_TITLE = "Held out: concurrency sweeps (closed loop at a fixed number of clients)"
HELD_OUT_TITLE = "Held out: each source document predicted without it"
IN_SAMPLE_TITLE = "In sample (the fit saw these rows): median absolute % error with the catalog's factors"
SUMMARY_HEADER = ["backend", "class", "documents", "throughput", "ITL", "TTFT"]
SWEEP_HEADER = ["backend", "metric", "median abs. error (figures)", "documents", "target", "met"]


#: How a backend with the built-in model where it does not cover a row is named in the tables.
FALLBACK_SUFFIX = " (else builtin)"


def fallback_name(name: str) -> str:
    """The tables' name of ``name`` with the built-in model where it does not cover a row
    (what ``--perf-backend NAME`` gives), e.g. 'aiconfigurator (else builtin)'."""
    return name + FALLBACK_SUFFIX


def with_fallback(found: Mapping[str, Sequence[Residual]], rows: Sequence[Measurement], catalog: Catalog) -> Results:
    """Add, for each other backend, its figures with the built-in model's where it does not cover
    the row: what ``--perf-backend NAME`` gives on the whole set."""
    out = dict(found)
    for name in [n for n in found if n != "builtin" and not n.startswith("auto") and "+" not in n]:
        everywhere = [Choice(cls, group, name, {}) for cls in CLASSES for group in GROUPS]
        pair = {"builtin": found["builtin"], name: found[name]}
        out[fallback_name(name)] = compose_auto(pair, everywhere, rows, catalog)
    order = [n for n in out if not n.startswith("auto")] + [n for n in out if n.startswith("auto")]
    return {n: out[n] for n in order}


def with_floor(found: Mapping[str, Sequence[Residual]]) -> Results:
    """Add the per-figure best of the backends and blends (not of ``auto`` or the fallbacks)."""
    singles = {n: r for n, r in found.items() if not n.startswith("auto") and not n.endswith(FALLBACK_SUFFIX)}
    return {**found, FLOOR: best_per_figure(singles)}


def _cell(found: Sequence[Residual], group: str) -> str:
    err = median_error(found, group)
    return f"{err[1]:.1f}% ({err[0]})" if err else "-"


def summary_table(
    found: Mapping[str, Sequence[Residual]], rows: Mapping[str, Measurement], catalog: Catalog
) -> list[list[str]]:
    """Rows of [backend, class, source documents, throughput, ITL, TTFT], the metric cells
    'median% (figures)'."""
    classes = {row_id: measurement_class(m, catalog) for row_id, m in rows.items()}
    table = []
    for name, members in found.items():
        for cls in ("all", *CLASSES):
            mine = [r for r in members if cls == "all" or classes[r.row_id] == cls]
            cells = [_cell(mine, group) for group in GROUPS]
            if any(c != "-" for c in cells):
                documents = len({source_document(rows[r.row_id]) for r in mine})
                table.append([name, cls, str(documents), *cells])
    return table


def is_sweep(m: Measurement) -> bool:
    """A concurrency-sweep row (closed loop at a fixed number of clients)."""
    return m.mode == "concurrency"


def sweep_residuals(found: Sequence[Residual], rows: Mapping[str, Measurement]) -> list[Residual]:
    """The figures of concurrency-sweep rows."""
    return [r for r in found if is_sweep(rows[r.row_id])]


def sweep_table(held: Mapping[str, Sequence[Residual]], rows: Mapping[str, Measurement]) -> list[list[str]]:
    """Rows of [backend, metric, 'median% (figures)', documents, target, met] on the held-out
    figures of concurrency-sweep rows, for the built-in model and ``auto``, TTFT first."""
    table = []
    for name in (n for n in SWEEP_BACKENDS if n in held):
        targets = SWEEP_TARGETS["builtin" if name == "builtin" else "auto"]
        mine = sweep_residuals(held[name], rows)
        for group in ("ttft", "itl", "throughput"):
            err = median_error(mine, group)
            documents = {source_document(rows[r.row_id]) for r in mine if METRIC_GROUP[r.metric] == group}
            met = "-" if err is None else ("yes" if err[1] <= targets[group] else "no")
            cell = f"{err[1]:.1f}% ({err[0]})" if err else "-"
            table.append([name, group, cell, str(len(documents)), f"{targets[group]:.0f}%", met])
    return table


#: Heading and columns of the concurrency sweeps' held-out errors per source document.
SWEEP_DOCUMENT_TITLE = "Held out: concurrency sweeps per source document (built-in model)"
SWEEP_DOCUMENT_HEADER = ["document", "throughput", "ITL", "TTFT"]
#: The row of :func:`sweep_document_table` that gives each document one vote.
ONE_VOTE_EACH = "median of the documents' medians"


def _document_cell(found: Sequence[Residual], group: str) -> str:
    """'median% (figures) xR': the median absolute % error and the median predicted/measured ratio
    (above 1: predicted too high), so a column shows both how far and which way."""
    err = median_error(found, group)
    if err is None:
        return "-"
    ratio = statistics.median(r.predicted / r.measured for r in found if METRIC_GROUP[r.metric] == group)
    return f"{err[1]:.1f}% ({err[0]}) x{ratio:.2f}"


#: Heading and columns of the held-out sweep errors of fits whose search started elsewhere.
START_SPREAD_TITLE = "Held out: concurrency sweeps (built-in model) by where the fit's search starts"
START_SPREAD_HEADER = ["search start", "TTFT", "ITL", "throughput"]


def start_spread_table(runs: Mapping[str, Sequence[Residual]], rows: Mapping[str, Measurement]) -> list[list[str]]:
    """Rows of [start, TTFT, ITL, throughput] (median absolute % error of the held-out sweep figures)
    for each run, then the range of each metric over the runs: how far the held-out figures move
    when only the search's start does, the size a model change must beat to count."""
    groups = ("ttft", "itl", "throughput")
    errors = {label: [median_error(sweep_residuals(found, rows), g) for g in groups] for label, found in runs.items()}
    table = [[label, *(f"{e[1]:.1f}%" if e else "-" for e in mine)] for label, mine in errors.items()]
    spans = [[e[1] for mine in errors.values() if (e := mine[i])] for i in range(len(groups))]
    table.append(["range", *(f"{min(s):.1f}-{max(s):.1f}%" if s else "-" for s in spans)])
    return table


def sweep_document_table(builtin: Sequence[Residual], rows: Mapping[str, Measurement]) -> list[list[str]]:
    """Rows of [document, throughput, ITL, TTFT] on the built-in model's held-out concurrency-sweep
    figures, one row per source document (most figures first), then the median over documents of
    each document's median error: the sweep table counts figures, so a document with many sweep
    points weighs as much as all the others; this row gives each document one vote, as the bands do."""
    by_document: dict[str, list[Residual]] = {}
    for r in sweep_residuals(builtin, rows):
        by_document.setdefault(source_document(rows[r.row_id]), []).append(r)
    ordered = sorted(by_document.items(), key=lambda item: (-len(item[1]), item[0]))
    table = [[document, *(_document_cell(found, g) for g in GROUPS)] for document, found in ordered]
    votes = []
    for group in GROUPS:
        medians = [e[1] for _, found in ordered if (e := median_error(found, group)) is not None]
        votes.append(f"{statistics.median(medians):.1f}% ({len(medians)} documents)" if medians else "-")
    return [*table, [ONE_VOTE_EACH, *votes]]


def md_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table's lines."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in body),
    ]


def held_out_sections(
    held: Mapping[str, Sequence[Residual]], rows: Mapping[str, Measurement], catalog: Catalog
) -> list[str]:
    """The page's held-out error sections (markdown lines): concurrency sweeps against their
    targets, then every backend per class with its number of source documents."""
    return [
        f"### {SWEEP_TITLE}",
        "",
        *md_table(SWEEP_HEADER, sweep_table(held, rows)),
        "",
        "Each concurrency-sweep figure predicted by factors (and, for `auto`, corrections and choices)"
        " fitted without its source document; targets from issue 14. `auto (catalog choices)` uses the"
        " catalog's per-class choices, `auto` makes them without the document too.",
        "",
        f"### {SWEEP_DOCUMENT_TITLE}",
        "",
        *md_table(SWEEP_DOCUMENT_HEADER, sweep_document_table(held.get("builtin", ()), rows)),
        "",
        "Each cell: median absolute % error (figures) and the median ratio predicted / measured (above 1:"
        " predicted too high). The sweep table above counts figures; the last row gives each document one vote.",
        "",
        f"### {HELD_OUT_TITLE}",
        "",
        *md_table(SUMMARY_HEADER, summary_table(held, rows, catalog)),
    ]
