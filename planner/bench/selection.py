"""Calibrating other performance backends, and choosing between backends per metric.

The built-in roofline's factors are fitted in :mod:`planner.bench.fit`. A backend
contributed by a plugin (aiconfigurator's profiled kernels, say) gets a
:class:`~planner.corrections.Correction` per configuration class, fitted the same way on
the measurements it covers. Then, per class and metric group, ``auto`` takes the
backend whose *held-out* predictions (each source document predicted by corrections
and factors fitted on the other documents) land closer to the measurements.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from planner.bench.calibration import Measurement
from planner.bench.fit import (
    MIN_DOCUMENTS,
    MIN_ROWS,
    Residual,
    band_evidence,
    coordinate_search,
    fit_loss,
    per_document,
    ratio_bands,
    residuals,
    source_document,
)
from planner.bench.predict import deployment_for
from planner.catalog import Catalog
from planner.corrections import CORRECTION_BOUNDS, GROUPS, MIN_FIGURES, Correction, blend_name
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN, Blend, Corrected, readiness
from planner.sizing.deployment import CLASSES, config_class
from planner.sizing.estimate import METRIC_GROUP


def measurement_class(m: Measurement, catalog: Catalog) -> str:
    """The configuration class (dense, moe-tp, moe-ep) of a measurement."""
    return config_class(deployment_for(m, catalog))


def covered(rows: Sequence[Measurement], catalog: Catalog, model: PerformanceModel) -> list[Measurement]:
    """The rows ``model`` covers."""
    return [m for m in rows if readiness(model, deployment_for(m, catalog)) is None]


@dataclass(frozen=True)
class CorrectionFit:
    """A backend's fitted correction for one configuration class (or ``any``)."""

    backend: str
    cls: str
    correction: Correction
    rows: int


def fit_corrections(rows: Sequence[Measurement], catalog: Catalog, model: PerformanceModel) -> list[CorrectionFit]:
    """Fit ``any`` on every covered row, then each class with at least ``MIN_ROWS`` rows from at
    least ``MIN_DOCUMENTS`` source documents (starting from ``any``); rows of early builds inform
    ``any`` only, as they do the built-in model's general class."""
    mine = covered(rows, catalog, model)
    if not mine:
        return []

    def fit(members: Sequence[Measurement], start: Correction) -> Correction:
        return coordinate_search(start, CORRECTION_BOUNDS, lambda c: fit_loss(members, catalog, Corrected(model, c)))

    overall = fit(mine, Correction())
    fits = [CorrectionFit(model.name, "any", overall, len(mine))]
    for cls in CLASSES:
        members = [m for m in mine if measurement_class(m, catalog) == cls and not m.early_build]
        documents = len({source_document(m) for m in members})
        if len(members) >= MIN_ROWS and documents >= MIN_DOCUMENTS and len(members) < len(mine):
            fits.append(CorrectionFit(model.name, cls, fit(members, overall), len(members)))
    return fits


def corrected_lookup(
    fits: Sequence[CorrectionFit], model: PerformanceModel, catalog: Catalog
) -> Callable[[Measurement], PerformanceModel]:
    """Each measurement's model: ``model`` with its class's correction (else ``any``'s, else none)."""
    table = {f.cls: f.correction for f in fits}

    def lookup(m: Measurement) -> PerformanceModel:
        correction = table.get(measurement_class(m, catalog)) or table.get("any")
        return Corrected(model, correction) if correction else model

    return lookup


def backend_residuals(
    rows: Sequence[Measurement], catalog: Catalog, model: PerformanceModel, fits: Sequence[CorrectionFit]
) -> list[Residual]:
    """Residuals of the covered rows with the fitted corrections applied."""
    return residuals(covered(rows, catalog, model), catalog, corrected_lookup(fits, model, catalog))


def cross_validate_backend(rows: Sequence[Measurement], catalog: Catalog, model: PerformanceModel) -> list[Residual]:
    """Leave one source document out: corrections fitted on the others predict its covered rows."""
    mine = covered(rows, catalog, model)

    def without(document: str) -> list[Residual]:
        held_out = [m for m in mine if source_document(m) == document]
        training = [m for m in mine if source_document(m) != document]
        fits = fit_corrections(training, catalog, model)
        return residuals(held_out, catalog, corrected_lookup(fits, model, catalog))

    return per_document(without, sorted({source_document(m) for m in mine}))


def median_error(found: Sequence[Residual], group: str) -> tuple[int, float] | None:
    """(figures, median absolute % error) of one metric group, or None without figures."""
    errors = [r.abs_pct for r in found if METRIC_GROUP[r.metric] == group]
    return (len(errors), statistics.median(errors)) if errors else None


@dataclass(frozen=True)
class Choice:
    """What ``auto`` uses for one class and metric group, and the evidence."""

    cls: str
    group: str
    backend: str
    errors: dict[str, tuple[int, float]]  # backend -> (class figures, held-out median |error| % with it)


def blend_residuals(first: Sequence[Residual], second: Sequence[Residual], weight: float = 0.5) -> list[Residual]:
    """The figures of :class:`~planner.perfmodel.Blend` (geometric mean, ``weight`` on the second)
    where both predicted them, the first's elsewhere."""
    blend = Blend(BUILTIN, BUILTIN, weight)
    others = {(r.row_id, r.metric): r for r in second}
    out = []
    for r in first:
        o = others.get((r.row_id, r.metric))
        out.append(replace(r, predicted=blend.mix(r.predicted, o.predicted)) if o else r)
    return out


#: Shares of the other backend in the blends ``auto`` may choose (geometric means with the built-in model).
BLEND_WEIGHTS = (0.25, 0.5, 0.75)


def with_blends(found: Mapping[str, Sequence[Residual]]) -> dict[str, Sequence[Residual]]:
    """``found`` plus, for every backend other than the built-in one, its blends with the
    built-in model at each of ``BLEND_WEIGHTS``."""
    out = dict(found)
    for name in [n for n in found if n != "builtin" and not n.startswith("auto") and "+" not in n and "(" not in n]:
        for weight in BLEND_WEIGHTS:
            out[blend_name("builtin", name, weight)] = blend_residuals(found["builtin"], found[name], weight)
    return out


def select(held_out: Mapping[str, Sequence[Residual]], rows: Sequence[Measurement], catalog: Catalog) -> list[Choice]:
    """Per class and metric group, the backend that makes ``auto``'s held-out median error lowest.

    ``held_out`` maps backend name -> its held-out residuals; ``builtin`` must be there.
    Choosing a backend means: its figures where it covers the row, the built-in model's
    elsewhere; that mix is compared with the built-in model alone over every figure of
    the class. The built-in model stays the choice unless another backend covers at least
    ``MIN_FIGURES`` of them and lowers the median.
    """
    classes = {m.row_id: measurement_class(m, catalog) for m in rows}
    keyed = {name: {(r.row_id, r.metric): r for r in found} for name, found in with_blends(held_out).items()}
    base = keyed["builtin"]
    choices = []
    for cls in CLASSES:
        for group in GROUPS:
            figures = [k for k in base if classes.get(k[0]) == cls and METRIC_GROUP[k[1]] == group]
            builtin_error = median_error([base[k] for k in figures], group)
            if builtin_error is None:
                choices.append(Choice(cls, group, "builtin", {}))
                continue
            errors = {"builtin": builtin_error}
            best = "builtin"
            for name, table in keyed.items():
                shared = [k for k in figures if k in table]
                if name == "builtin" or not shared:
                    continue
                mixed = median_error([table.get(k, base[k]) for k in figures], group)
                assert mixed is not None
                errors[name] = mixed
                if len(shared) >= MIN_FIGURES and mixed[1] < errors[best][1]:
                    best = name
            choices.append(Choice(cls, group, best, errors))
    return choices


def compose_auto(
    per_backend: Mapping[str, Sequence[Residual]],
    choices: Sequence[Choice],
    rows: Sequence[Measurement],
    catalog: Catalog,
) -> list[Residual]:
    """``auto``'s residuals: each figure from the backend its class and group chose (the built-in
    model where that backend does not cover the row)."""
    table = {(c.cls, c.group): c.backend for c in choices}
    keyed = {name: {(r.row_id, r.metric): r for r in found} for name, found in with_blends(per_backend).items()}
    classes = {m.row_id: measurement_class(m, catalog) for m in rows}
    out = []
    for key, residual in keyed["builtin"].items():
        wanted = table.get((classes[key[0]], METRIC_GROUP[key[1]]), "builtin")
        out.append(keyed.get(wanted, {}).get(key, residual))
    return out


def answered_by_other(found: Sequence[Residual], builtin: Sequence[Residual]) -> list[Residual]:
    """The figures of ``found`` that another backend answered, not the built-in model.

    ``auto`` takes the built-in model's figure as is where its choice is the built-in model
    or the chosen backend does not cover the row, and so does a corrected backend's
    fallback; there the estimate shows the built-in model's band
    (:func:`planner.performance_models.error_band`). A backend's own band rests on the rest,
    so that it says how far *its* figures land.
    """
    theirs = {(r.row_id, r.metric): r.predicted for r in builtin}
    return [r for r in found if theirs.get((r.row_id, r.metric)) != r.predicted]


def backend_band_evidence(
    found: Sequence[Residual], builtin: Sequence[Residual], rows: Sequence[Measurement]
) -> list[Residual]:
    """The held-out residuals a backend's (or ``auto``'s) bands rest on: the figures it answered
    (:func:`answered_by_other`), less those that echo the offered load, as for the built-in
    model's bands (:func:`~planner.bench.fit.band_evidence`)."""
    return band_evidence(answered_by_other(found, builtin), rows)


def best_per_figure(found: Mapping[str, Sequence[Residual]]) -> list[Residual]:
    """Per figure, the prediction closest to the measurement among the backends in ``found``.

    Not a model (it looks at the answer): it is the floor that *any* per-configuration
    choice between these backends could reach, which tells whether a target is out of
    reach of selection and needs a better backend instead.
    """
    best: dict[tuple[str, str], Residual] = {}
    for members in found.values():
        for r in members:
            key = (r.row_id, r.metric)
            if key not in best or r.abs_pct < best[key].abs_pct:
                best[key] = r
    return list(best.values())


def held_out_auto(
    per_backend: Mapping[str, Sequence[Residual]], rows: Sequence[Measurement], catalog: Catalog
) -> list[Residual]:
    """``auto`` on each source document with choices made from the other documents' held-out errors."""
    documents = {m.row_id: source_document(m) for m in rows}
    out: list[Residual] = []
    for document in sorted(set(documents.values())):
        others = {name: [r for r in found if documents[r.row_id] != document] for name, found in per_backend.items()}
        mine = {name: [r for r in found if documents[r.row_id] == document] for name, found in per_backend.items()}
        out += compose_auto(mine, select(others, rows, catalog), rows, catalog)
    return out


def backend_entries(
    fits: Sequence[CorrectionFit],
    choices: Sequence[Choice],
    held_out: Mapping[str, Sequence[Residual]],
    rows: Sequence[Measurement],
    catalog: Catalog,
    data_label: str,
) -> list[dict[str, object]]:
    """The ``catalogs/efficiency/backends.yaml`` entries for these fits and choices.

    Each correction carries error bands from the backend's held-out residuals on the
    rows of its class (all its rows for ``any``), and ``auto``'s bands per class rest on
    the figures another backend answered (:func:`backend_band_evidence`).
    """
    classes = {m.row_id: measurement_class(m, catalog) for m in rows}
    document_of = {m.row_id: source_document(m) for m in rows}
    builtin = held_out["builtin"]
    entries: list[dict[str, object]] = []
    for fit in fits:
        c = fit.correction
        evidence = backend_band_evidence(held_out.get(fit.backend, []), builtin, rows)
        mine = [r for r in evidence if fit.cls in ("any", classes[r.row_id])]
        entries.append(
            {
                "id": f"{fit.backend}-{fit.cls}",
                "kind": "correction",
                "backend": fit.backend,
                "class": fit.cls,
                "prefill_scale": round(c.prefill_scale, 4),
                "decode_scale": round(c.decode_scale, 4),
                "overhead_ms": round(c.overhead_ms, 4),
                "rows": fit.rows,
                "data": data_label,
                "bands": {group: list(band) for group, band in ratio_bands(mine, document_of).items()},
            }
        )
    composed = compose_auto({k: v for k, v in held_out.items() if not k.startswith("auto")}, choices, rows, catalog)
    evidence = backend_band_evidence(composed, builtin, rows)
    for cls in CLASSES:
        picked = [c for c in choices if c.cls == cls]
        auto_bands = ratio_bands([r for r in evidence if classes[r.row_id] == cls], document_of)
        entries.append(
            {
                "id": f"auto-{cls}",
                "kind": "selection",
                "class": cls,
                "choice": {c.group: c.backend for c in picked},
                "held_out_median_abs_pct": {
                    c.group: {name: [n, round(err, 2)] for name, (n, err) in sorted(c.errors.items())} for c in picked
                },
                "bands": {group: list(band) for group, band in auto_bands.items()},
                "data": data_label,
            }
        )
    return entries
