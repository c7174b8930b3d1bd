"""How close the front end alone could bring the concurrency sweeps' TTFT.

A served request's TTFT is the model's prefill, its wait for the step in flight and for the
runtime's prefill scheduling, plus the front end (``frontend_ms``: API server, tokenizer,
hand-offs, streaming), fitted per class. The sweeps' held-out TTFT errors stay above their
target however the fit is changed (docs/accuracy-method.md), and most of the figures' spread
looks like the front end: SGLang's cookbook leaves 20-120 ms beyond the modelled prefill on one
family of GPUs. This module measures how much of the error a front end could remove, with every
other factor as calibrated:

- each document's *own best* front end (one constant for the document, chosen on its own
  figures: in sample, a floor no fitted front end goes below), and
- the front end *its runtime's other documents* would choose (the median of their best ones:
  the document held out of its front end, the rest of the model as shipped), and
- *one front end per runtime*, chosen on every figure of that runtime's documents at once (in
  sample: about the lowest error a front end that depends on the runtime alone reaches, with
  hindsight; held out, a runtime's front end is estimated without the document).

It is a diagnosis, not a fit: ``benchmarks/ttft_floor.py`` prints it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from planner.bench.calibration import Measurement
from planner.bench.fit import residuals, source_document
from planner.catalog import Catalog
from planner.sizing.efficiency import Efficiency

#: Front ends tried, ms: from none to above the largest a class is fitted with (a test holds it so).
FRONTEND_GRID_MS = (0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140, 170, 200, 250, 300)


@dataclass(frozen=True)
class DocumentFrontEnd:
    """The front ends that fit one source document's TTFT figures, and the errors they leave."""

    document: str
    family: str
    #: The front end of the grid with the lowest median error on the document's own figures, ms.
    best_ms: float
    #: Absolute % error of each of the document's TTFT figures at ``best_ms``.
    best_errors: tuple[float, ...]
    #: The median of the best front ends of the other documents of the same runtime family (of
    #: every other document where the family has no other), rounded to the grid, ms.
    others_ms: float
    #: Absolute % error of each figure at ``others_ms``.
    others_errors: tuple[float, ...]


def ttft_errors(
    rows: Sequence[Measurement], catalog: Catalog, efficiency: Callable[[Measurement], Efficiency], frontend_ms: float
) -> tuple[float, ...]:
    """Absolute % error of every TTFT figure of ``rows`` predicted with ``efficiency``'s factors and
    a front end of ``frontend_ms``."""

    def with_front_end(m: Measurement) -> Efficiency:
        return replace(efficiency(m), frontend_ms=frontend_ms)

    return tuple(r.abs_pct for r in residuals(rows, catalog, with_front_end) if r.metric == "ttft_ms")


def document_front_ends(
    rows: Sequence[Measurement],
    catalog: Catalog,
    efficiency: Callable[[Measurement], Efficiency],
    grid: Sequence[float] = FRONTEND_GRID_MS,
) -> list[DocumentFrontEnd]:
    """For each source document of ``rows`` with a predicted TTFT figure, its best front end and
    the one its runtime's other documents would give it (see :class:`DocumentFrontEnd`), every
    other factor as ``efficiency`` gives it. Ties go to the smaller front end."""
    by_document = _with_ttft(rows, source_document)
    errors = _errors_on_the_grid(by_document, catalog, efficiency, grid)
    best = {document: _lowest_median(errors[document]) for document in errors}
    family = {document: by_document[document][0].family for document in errors}
    found = []
    for document in errors:
        others = [best[d] for d in errors if d != document and family[d] == family[document]]
        others = others or [best[d] for d in errors if d != document] or [best[document]]
        middle = statistics.median(others)
        chosen = min(grid, key=lambda f: (abs(f - middle), f))
        found.append(
            DocumentFrontEnd(
                document,
                family[document],
                best[document],
                errors[document][best[document]],
                chosen,
                errors[document][chosen],
            )
        )
    return found


@dataclass(frozen=True)
class RuntimeFrontEnd:
    """One front end for every sweep document of a runtime family, and the errors it leaves."""

    family: str
    #: How many source documents' figures chose it.
    documents: int
    #: The front end of the grid with the lowest median error over the family's figures, ms.
    best_ms: float
    #: Absolute % error of each of the family's TTFT figures at ``best_ms``.
    errors: tuple[float, ...]


def runtime_front_ends(
    rows: Sequence[Measurement],
    catalog: Catalog,
    efficiency: Callable[[Measurement], Efficiency],
    grid: Sequence[float] = FRONTEND_GRID_MS,
) -> list[RuntimeFrontEnd]:
    """For each runtime family of ``rows`` with a predicted TTFT figure, the one front end that fits
    all of its documents' figures best (in sample), every other factor as ``efficiency`` gives it.

    This bounds what a front end keyed on the runtime can do: a document's own front end (see
    :func:`document_front_ends`) may be lower, but a deployment names its runtime, not the harness
    or engine build a document measured with. Ties go to the smaller front end."""
    by_family = _with_ttft(rows, lambda m: m.family)
    found = []
    for family, at in _errors_on_the_grid(by_family, catalog, efficiency, grid).items():
        best = _lowest_median(at)
        documents = len({source_document(m) for m in by_family[family]})
        found.append(RuntimeFrontEnd(family, documents, best, at[best]))
    return found


def _with_ttft(rows: Sequence[Measurement], key: Callable[[Measurement], str]) -> dict[str, list[Measurement]]:
    """The rows with a TTFT figure, grouped by ``key`` (in sorted order)."""
    groups: dict[str, list[Measurement]] = {}
    for m in rows:
        if "ttft_ms" in m.measured:
            groups.setdefault(key(m), []).append(m)
    return dict(sorted(groups.items()))


def _errors_on_the_grid(
    groups: dict[str, list[Measurement]],
    catalog: Catalog,
    efficiency: Callable[[Measurement], Efficiency],
    grid: Sequence[float],
) -> dict[str, dict[float, tuple[float, ...]]]:
    """For each group with a predicted TTFT figure, the errors of its figures at each front end of ``grid``."""
    errors = {}
    for group, members in groups.items():
        at = {front_end: ttft_errors(members, catalog, efficiency, front_end) for front_end in grid}
        if any(at.values()):
            errors[group] = at
    return errors


def _lowest_median(errors: dict[float, tuple[float, ...]]) -> float:
    """The front end whose errors have the lowest median (the smaller one on a tie)."""
    return min(errors, key=lambda front_end: (statistics.median(errors[front_end]), front_end))


def mean_ttft_reading(rows: Sequence[Measurement]) -> list[Measurement]:
    """``rows`` with each TTFT figure read from the source's mean where it gives one (the loader
    reads the median first), predicted with the model's mean; rows without a mean or without a TTFT
    figure are returned as they are."""
    return [
        replace(m, measured={**m.measured, "ttft_ms": m.ttft_mean_ms}, ttft_median_ms=None)
        if m.ttft_mean_ms is not None and "ttft_ms" in m.measured
        else m
        for m in rows
    ]


def pooled_median(found: Sequence[DocumentFrontEnd], errors: Callable[[DocumentFrontEnd], Sequence[float]]) -> float:
    """The median over every figure of ``found`` of the errors ``errors`` picks (the sweep table's
    count: each figure one vote)."""
    return statistics.median(e for d in found for e in errors(d))
