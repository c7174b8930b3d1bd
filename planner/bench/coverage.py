"""Whether the error bands mean what they say: how often a band holds the measured value.

A 10-90% band should hold the measured value of about 80% of figures the planner has not
seen. :func:`band_coverage` checks that on the leave-one-document-out residuals of
:func:`~planner.bench.fit.cross_validate`, nested: each held-out document's figures get the
band the catalog would have shown had ``--fit`` run without that document (its classes
and its bands built from the other documents' held-out residuals only), through the same
:func:`~planner.sizing.efficiency.band_for` an estimate uses (thin classes widened toward broader ones, the
point always inside). One level of nesting only: the other documents' residuals come from
fits that did see the held-out document, a small leak that removing would cost one full
cross-validation per document.

The same check runs for ``auto`` (the default backend) and each corrected backend
(:func:`every_band_coverage`): where that backend answered a figure, the figure gets the
backend's own band, rebuilt from the other documents' figures it answered and widened toward
the built-in model's where thin; where the built-in model answered (``auto``'s choice, or a
row the backend does not cover), the built-in model's band, as an estimate shows them
(:func:`planner.performance_models.error_band`).

The held-out residuals are stored (:func:`write_residuals`) so that a test can recompute
the coverage printed in ``docs/accuracy.md`` in seconds rather than refitting for minutes.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.bench.accuracy_tables import fallback_name, with_fallback
from planner.bench.calibration import Measurement
from planner.bench.fit import (
    START,
    Residual,
    band_evidence,
    class_bands,
    class_key,
    class_members,
    ratio_bands,
    source_document,
)
from planner.bench.selection import answered_by_other, backend_band_evidence, measurement_class
from planner.catalog import Catalog
from planner.corrections import BUILTIN_NAME, GROUPS, BandTable, correction_band
from planner.performance_models import backend_band
from planner.sizing.deployment import CLASSES
from planner.sizing.efficiency import Band, Calibration, band_for
from planner.sizing.estimate import METRIC_GROUP

#: The share of held-out figures a 10-90% band should hold, and the tolerance the issue allows.
TARGET_SHARE = 0.8
TARGET_TOLERANCE = 0.1
#: The heading of the coverage table in ``docs/accuracy.md`` (a test finds the table by it).
COVERAGE_TITLE = "Held out: how often each backend's 10-90% band holds the measured value"
#: ``auto``'s residuals the check uses: its choices too made without the predicted document.
AUTO = "auto"


@dataclass(frozen=True)
class Coverage:
    """How many held-out figures of one metric group fell inside the band shown for them."""

    group: str
    inside: int
    figures: int
    documents: int
    backend: str = BUILTIN_NAME

    @property
    def share(self) -> float:
        """inside / figures (0 where there are none)."""
        return self.inside / self.figures if self.figures else 0.0

    @property
    def on_target(self) -> bool:
        """Whether the share lies within ``TARGET_TOLERANCE`` of ``TARGET_SHARE``."""
        return abs(self.share - TARGET_SHARE) <= TARGET_TOLERANCE + 1e-9


def bands_without(
    document: str, rows: Sequence[Measurement], held_out: Sequence[Residual], catalog: Catalog
) -> tuple[Calibration, ...]:
    """The classes and bands ``--fit`` would store were ``document`` not in the data.

    Only the bands are rebuilt; the factors are a placeholder (``START``), since the
    held-out predictions already carry the factors fitted without the document.
    """
    others = [m for m in rows if source_document(m) != document]
    members = class_members(others, catalog)
    bands = class_bands(list(members), others, held_out, catalog)
    return tuple(
        Calibration(*key, START, len(members[key]), {group: Band(*figures) for group, figures in bands[key].items()})
        for key in members
    )


def backend_bands_without(
    name: str,
    document: str,
    evidence: Sequence[Residual],
    classes: Mapping[str, str],
    document_of: Mapping[str, str],
) -> BandTable:
    """The bands ``--fit`` would store for backend ``name`` (per class, and ``any`` for a
    corrected backend) were ``document`` not in the data, from ``evidence``
    (:func:`~planner.bench.selection.backend_band_evidence`) of the other documents
    (``classes`` and ``document_of``: each row's configuration class and source document)."""
    others = [r for r in evidence if document_of[r.row_id] != document]
    keys = CLASSES if name == AUTO else (*CLASSES, "any")
    return {
        (name, cls): ratio_bands([r for r in others if cls in ("any", classes[r.row_id])], document_of) for cls in keys
    }


def band_coverage(
    rows: Sequence[Measurement],
    builtin: Sequence[Residual],
    catalog: Catalog,
    name: str = BUILTIN_NAME,
    found: Sequence[Residual] | None = None,
) -> list[Coverage]:
    """Per metric group, the held-out figures whose measured value lies inside the band
    (nested: see the module docstring) that the estimate would have shown for them.

    ``builtin``: the built-in model's held-out residuals. ``found``: those of backend
    ``name`` (``auto``, or a corrected backend with the built-in model's figure where it
    does not cover the row); by default the built-in model's own. Figures that echo the
    offered load (:func:`~planner.bench.fit.echoes_offered_load`) are not counted: they
    land inside any band that holds the point.
    """
    found = builtin if found is None else found
    by_id = {m.row_id: m for m in rows}
    classes = {m.row_id: measurement_class(m, catalog) for m in rows}
    document_of = {m.row_id: source_document(m) for m in rows}
    theirs = {(r.row_id, r.metric) for r in answered_by_other(found, builtin)}
    evidence = backend_band_evidence(found, builtin, rows)
    inside = dict.fromkeys(GROUPS, 0)
    figures = dict.fromkeys(GROUPS, 0)
    documents: dict[str, set[str]] = {group: set() for group in GROUPS}
    counted = band_evidence(found, rows)
    for document in sorted(set(document_of.values())):
        table = bands_without(document, rows, builtin, catalog)
        own = backend_bands_without(name, document, evidence, classes, document_of) if theirs else {}
        for r in (r for r in counted if document_of[r.row_id] == document):
            group = METRIC_GROUP[r.metric]
            band = band_for(*class_key(by_id[r.row_id], catalog), group, table)
            if (r.row_id, r.metric) in theirs:
                band = backend_band(correction_band(name, classes[r.row_id], group, own), band)
            low, high = band[0].apply(r.predicted)
            inside[group] += low <= r.measured <= high
            figures[group] += 1
            documents[group].add(document)
    return [Coverage(group, inside[group], figures[group], len(documents[group]), name) for group in GROUPS]


def every_band_coverage(
    rows: Sequence[Measurement], held_out: Mapping[str, Sequence[Residual]], catalog: Catalog
) -> list[Coverage]:
    """:func:`band_coverage` of the built-in model, each corrected backend (with the built-in
    model where it does not cover a row: what ``--perf-backend NAME`` shows) and ``auto``,
    from every backend's held-out residuals as ``benchmarks/accuracy.py`` stores them."""
    builtin = held_out[BUILTIN_NAME]
    singles = {n: r for n, r in held_out.items() if not n.startswith(AUTO)}
    fallbacks = with_fallback(singles, rows, catalog)
    found = band_coverage(rows, builtin, catalog)
    for name in [n for n in singles if n != BUILTIN_NAME]:
        found += band_coverage(rows, builtin, catalog, name, fallbacks[fallback_name(name)])
    if AUTO in held_out:
        found += band_coverage(rows, builtin, catalog, AUTO, held_out[AUTO])
    return found


def data_digest(data: Path) -> str:
    """The first 12 hex digits of the calibration file's sha256 (the label the catalog stores)."""
    return hashlib.sha256(data.read_bytes()).hexdigest()[:12]


def write_residuals(path: Path, results: Mapping[str, Sequence[Residual]], data: Path) -> None:
    """Store held-out residuals of each backend as CSV, the first line naming the data they came from."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(f"# held-out residuals of {data.name} sha256:{data_digest(data)}\n")
        writer = csv.writer(out)
        writer.writerow(["backend", "row", "metric", "measured", "predicted", "past_capacity"])
        for backend, residuals in results.items():
            writer.writerows(
                [backend, r.row_id, r.metric, repr(r.measured), repr(r.predicted), int(r.past_capacity)]
                for r in residuals
            )


def read_residuals(path: Path) -> tuple[str, dict[str, list[Residual]]]:
    """The data label (``calibration.csv sha256:...``) and, per backend, the residuals
    :func:`write_residuals` stored."""
    lines = path.read_text(encoding="utf-8").splitlines()
    label = lines[0].removeprefix("# held-out residuals of ")
    found: dict[str, list[Residual]] = {}
    for r in csv.DictReader(lines[1:]):
        found.setdefault(r["backend"], []).append(
            Residual(r["row"], r["metric"], float(r["measured"]), float(r["predicted"]), r.get("past_capacity") == "1")
        )
    return label, found
