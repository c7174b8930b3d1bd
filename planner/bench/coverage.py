"""Whether the error bands mean what they say: how often a band holds the measured value.

A 10-90% band should hold the measured value of about 80% of figures the planner has not
seen. :func:`band_coverage` checks that on the leave-one-document-out residuals of
:func:`~planner.bench.fit.cross_validate`, nested: each held-out document's figures get the
band the catalog would have shown had ``--fit`` run without that document (its classes
and its bands built from the other documents' held-out residuals only), through the same
:func:`~planner.sizing.efficiency.band_for` an estimate uses (thin classes widened, the
point always inside). One level of nesting only: the other documents' residuals come from
fits that did see the held-out document, a small leak that removing would cost one full
cross-validation per document.

The held-out residuals are stored (:func:`write_residuals`) so that a test can recompute
the coverage printed in ``docs/accuracy.md`` in seconds rather than refitting for minutes.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.bench.calibration import Measurement
from planner.bench.fit import START, Residual, band_evidence, class_bands, class_key, class_members, source_document
from planner.catalog import Catalog
from planner.corrections import GROUPS
from planner.sizing.efficiency import Band, Calibration, band_for
from planner.sizing.estimate import METRIC_GROUP

#: The share of held-out figures a 10-90% band should hold, and the tolerance the issue allows.
TARGET_SHARE = 0.8
TARGET_TOLERANCE = 0.1
#: The heading of the coverage table in ``docs/accuracy.md`` (a test finds the table by it).
COVERAGE_TITLE = "Held out: how often the built-in model's 10-90% band holds the measured value"


@dataclass(frozen=True)
class Coverage:
    """How many held-out figures of one metric group fell inside the band shown for them."""

    group: str
    inside: int
    figures: int
    documents: int

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


def band_coverage(rows: Sequence[Measurement], held_out: Sequence[Residual], catalog: Catalog) -> list[Coverage]:
    """Per metric group, the held-out figures whose measured value lies inside the band
    (nested: see the module docstring) that the built-in model would have shown for them.

    Figures that echo the offered load (:func:`~planner.bench.fit.echoes_offered_load`) are
    not counted: they land inside any band that holds the point.
    """
    by_id = {m.row_id: m for m in rows}
    inside = dict.fromkeys(GROUPS, 0)
    figures = dict.fromkeys(GROUPS, 0)
    documents: dict[str, set[str]] = {group: set() for group in GROUPS}
    for document in sorted({source_document(m) for m in rows}):
        table = bands_without(document, rows, held_out, catalog)
        for r in (r for r in band_evidence(held_out, rows) if source_document(by_id[r.row_id]) == document):
            group = METRIC_GROUP[r.metric]
            band, _ = band_for(*class_key(by_id[r.row_id], catalog), group, table)
            low, high = band.apply(r.predicted)
            inside[group] += low <= r.measured <= high
            figures[group] += 1
            documents[group].add(document)
    return [Coverage(group, inside[group], figures[group], len(documents[group])) for group in GROUPS]


def data_digest(data: Path) -> str:
    """The first 12 hex digits of the calibration file's sha256 (the label the catalog stores)."""
    return hashlib.sha256(data.read_bytes()).hexdigest()[:12]


def write_residuals(path: Path, results: Mapping[str, Sequence[Residual]], data: Path) -> None:
    """Store held-out residuals of each backend as CSV, the first line naming the data they came from."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(f"# held-out residuals of {data.name} sha256:{data_digest(data)}\n")
        writer = csv.writer(out)
        writer.writerow(["backend", "row", "metric", "measured", "predicted"])
        for backend, residuals in results.items():
            writer.writerows([backend, r.row_id, r.metric, repr(r.measured), repr(r.predicted)] for r in residuals)


def read_residuals(path: Path) -> tuple[str, dict[str, list[Residual]]]:
    """The data label (``calibration.csv sha256:...``) and, per backend, the residuals
    :func:`write_residuals` stored."""
    lines = path.read_text(encoding="utf-8").splitlines()
    label = lines[0].removeprefix("# held-out residuals of ")
    found: dict[str, list[Residual]] = {}
    for r in csv.DictReader(lines[1:]):
        found.setdefault(r["backend"], []).append(
            Residual(r["row"], r["metric"], float(r["measured"]), float(r["predicted"]))
        )
    return label, found
