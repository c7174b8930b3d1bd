"""Calibrating the efficiency factors on published measurements.

Factors are fitted per runtime family x GPU generation x configuration class (dense,
moe-tp, moe-ep: the *class*), never per row: for each class, a coordinate search over
MFU (prefill), MBU (decode), MFU (decode), the per-step overhead and the front end minimises the
mean absolute log error of every figure its rows report, each capped (:func:`fit_loss`), held to
the parent class's factors (:func:`prior_penalty`). A class with fewer than ``MIN_ROWS``
rows, or with rows from fewer than ``MIN_DOCUMENTS`` source documents, is not fitted and
falls back along :func:`~planner.sizing.efficiency.lookup_chain`
(``runtime x * x kind``, ``* x * x kind``, then ``* x * x *``). A class whose rows time first
tokens in fewer than ``MIN_TTFT_DOCUMENTS`` documents takes its runtime's front end rather than
fitting one (:func:`_runtime_front_end`). Error bands come from
held-out residuals (:func:`cross_validate`: each source document predicted by factors
fitted without it), never from the fit's own residuals (:func:`class_bands`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from itertools import combinations, product
from typing import TypeVar

from planner.bench.calibration import Measurement
from planner.bench.predict import PAST_CAPACITY, deployment_for, predict_measurement
from planner.catalog import Catalog
from planner.corrections import GROUPS
from planner.perfmodel import PerformanceModel
from planner.sizing.deployment import config_class
from planner.sizing.efficiency import FACTOR_RANGES, Efficiency, calibration_for, lookup_chain
from planner.sizing.estimate import METRIC_GROUP

MIN_ROWS = 6
#: A class is fitted only on rows from at least this many source documents: one vendor table
#: of many rows shares one harness and one reading of its workload, so by itself it would fit
#: that document's quirks rather than the class's physics.
MIN_DOCUMENTS = 3
#: A class fits its own front end only on TTFT figures of at least this many source documents (one
#: document's share its harness, so alone they would fit that harness); else it takes its runtime's.
MIN_TTFT_DOCUMENTS = 2
START = Efficiency(mfu_prefill=0.5, mbu_decode=0.75, mfu_decode=0.4, overhead_ms=1.0, frontend_ms=20.0, source="start")
BOUNDS = FACTOR_RANGES


@dataclass(frozen=True)
class Residual:
    """Measured vs predicted for one figure of one row."""

    row_id: str
    metric: str
    measured: float
    predicted: float
    #: The model put the row's open loop past the replica's capacity
    #: (:func:`~planner.bench.predict.past_capacity`): its latencies stay out of the error bands.
    past_capacity: bool = False

    @property
    def ratio(self) -> float:
        """measured / predicted."""
        return self.measured / self.predicted

    @property
    def abs_pct(self) -> float:
        """|predicted - measured| / measured, in percent."""
        return abs(self.predicted - self.measured) / self.measured * 100


def residuals(
    rows: Sequence[Measurement], catalog: Catalog, eff_of: Callable[[Measurement], Efficiency | PerformanceModel]
) -> list[Residual]:
    """Predict every row with its class's factors (or a performance model) and pair each figure with the measurement."""
    out = []
    for m in rows:
        predicted = predict_measurement(m, catalog, eff_of(m))
        past = bool(predicted.get(PAST_CAPACITY))
        for metric, value in m.measured.items():
            if metric in predicted and predicted[metric] > 0 and value > 0:
                out.append(Residual(m.row_id, metric, value, predicted[metric], past))
    return out


#: A figure's absolute log error counts up to log 2 in the fit's loss: a figure more than a factor
#: of two off costs the same however far off it is, but for ``TIE_BREAK`` of the plain mean.
LOSS_CAP = math.log(2)
TIE_BREAK = 0.001


def fit_loss(rows: Sequence[Measurement], catalog: Catalog, timing: Efficiency | PerformanceModel) -> float:
    """Mean absolute log error of every figure, each capped at ``LOSS_CAP``, plus ``TIE_BREAK`` x
    the uncapped mean.

    The cap keeps a row the model cannot represent from steering the factors, as a median would,
    while every figure within a factor of two still pulls: under a median the batch-1 latencies of
    a class of offline throughputs could be given up at no cost, which left the step overhead of
    the MoE-EP classes where the search happened to stop. The thousandth of the uncapped mean only
    breaks ties: where every figure starts beyond the cap (a project's runs on hardware the catalog
    knows only from its datasheet) the capped mean is flat, and the search still finds its way down.
    """
    errors = [abs(math.log(r.ratio)) for r in residuals(rows, catalog, lambda _m: timing)]
    if not errors:
        return math.inf
    return statistics.fmean(min(e, LOSS_CAP) for e in errors) + TIE_BREAK * statistics.fmean(errors)


#: How strongly a class's factors are held to its parent's (see :func:`prior_penalty`).
PRIOR_WEIGHT = 0.02


def prior_penalty(eff: Efficiency, prior: Efficiency, names: Sequence[str]) -> float:
    """``PRIOR_WEIGHT`` x the sum of squared log ratios of ``eff``'s factors to ``prior``'s
    (``*_ms`` factors as ms + 1, so that 0 is allowed).

    A factor the class's rows barely constrain (the decode bandwidth where its rows are mostly
    prefill, say) otherwise drifts to a bound on one figure's pull: 98% of the HBM bandwidth for
    three classes of the 475-row fit, which no runtime reaches. Held to its parent, it moves only
    as far as the rows' evidence pays for (a factor twice its parent's costs 0.0096, what a 1%
    lower mean log error gains).
    """
    total = 0.0
    for name in names:
        value, held = getattr(eff, name), getattr(prior, name)
        if name.endswith("_ms"):
            value, held = value + 1.0, held + 1.0
        if value > 0 and held > 0:
            total += math.log(value / held) ** 2
    return PRIOR_WEIGHT * total


def fit_efficiency(
    rows: Sequence[Measurement],
    catalog: Catalog,
    start: Efficiency = START,
    bounds: Mapping[str, tuple[float, float]] = BOUNDS,
    prior: Efficiency | None = None,
) -> Efficiency:
    """Coordinate search of the factors named in ``bounds`` (see :func:`coordinate_search`), held
    to ``prior``'s factors (the parent class's) by :func:`prior_penalty` where one is given."""
    names = list(bounds)

    def loss(eff: Efficiency) -> float:
        held = prior_penalty(eff, prior, names) if prior is not None else 0.0
        return fit_loss(rows, catalog, eff) + held

    return coordinate_search(start, dict(bounds), loss)


def shifted_start(scale: float) -> Efficiency:
    """:data:`START` with every factor multiplied by ``scale``: another place, as arbitrary as
    :data:`START`, for the search to begin. The loss has shallow valleys (a decode step's bandwidth
    against its overhead), so a search that starts elsewhere can stop in another one; the held-out
    errors of fits from a few such starts show how much of a figure is the model and how much where
    the search happened to stop (``benchmarks/accuracy.py --sweeps --start-spread``)."""
    changed = {name: getattr(START, name) * scale for name in BOUNDS}
    return replace(START, **changed, source=f"start x {scale:g}")


#: The factors by which ``--start-spread`` moves the search start unless given others.
SPREAD_SCALES = (0.9, 0.95, 1.05, 1.1)


def spread_scales(text: str) -> tuple[float, ...]:
    """The factors a ``--start-spread`` value names, comma-separated (``0.9,1.1``: two refits of
    every fold where the default four take twice the time): each a finite number above 0 and not 1,
    the usual start, which is always run; a repeated one runs once. Anything else raises
    :class:`ValueError` saying so."""
    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        scales = ()
    if not scales or any(not math.isfinite(s) or s <= 0 or s == 1 for s in scales):
        fix = "give factors above 0 other than 1 (the usual start), comma-separated, e.g. 0.9,1.1"
        raise ValueError(f"{text!r}: {fix}")
    return tuple(dict.fromkeys(scales))


FactorsT = TypeVar("FactorsT")


def coordinate_search(
    start: FactorsT, bounds: dict[str, tuple[float, float]], loss: Callable[[FactorsT], float]
) -> FactorsT:
    """Minimise ``loss`` over the named fields of a frozen dataclass, one field at a time,
    on log-spaced steps that shrink each pass (fields named ``*_ms`` step additively near 0).

    Where no single field improves, two fields move together (every pair, both directions):
    factors that trade against each other (a decode step's bandwidth and its overhead, say) form
    a valley that one-at-a-time steps cannot follow, and stop short of the factors that made
    the data.
    """
    best, best_loss = start, loss(start)
    for step in (1.6, 1.25, 1.1, 1.04):
        single = [((name, d),) for name in bounds for d in (step, 1 / step)]
        pairs = [
            ((a, da), (b, db)) for a, b in combinations(bounds, 2) for da, db in product((step, 1 / step), repeat=2)
        ]
        improved = True
        while improved:
            improved = False
            for move in single + pairs:
                if improved and len(move) == 2:
                    break  # pairs only where no single field improved
                changes = {name: _moved(getattr(best, name), name, d, bounds[name]) for name, d in move}
                if all(value == getattr(best, name) for name, value in changes.items()):
                    continue
                candidate = replace(best, **changes)  # type: ignore[type-var]
                candidate_loss = loss(candidate)
                if candidate_loss < best_loss - 1e-9:
                    best, best_loss, improved = candidate, candidate_loss, True
    return best


def _moved(value: float, name: str, step: float, bounds: tuple[float, float]) -> float:
    """``value`` one step on, within ``bounds``: multiplied, or for ``*_ms`` fields shifted so
    that 0 can be left."""
    shifted = (value + 0.05) * step - 0.05 if name.endswith("_ms") else value * step
    return min(max(shifted, bounds[0]), bounds[1])


@dataclass(frozen=True)
class ClassFit:
    """Fitted factors of one class and the residuals they leave."""

    runtime: str
    generation: str
    kind: str
    efficiency: Efficiency
    rows: int
    residuals: list[Residual]
    #: Source documents among the class's rows that report a TTFT.
    ttft_documents: int = 0

    @property
    def key(self) -> ClassKey:
        """(runtime family, GPU generation, configuration class)."""
        return self.runtime, self.generation, self.kind

    @property
    def timed_first_tokens(self) -> int:
        """How many TTFT figures the class was fitted on."""
        return sum(r.metric == "ttft_ms" for r in self.residuals)

    def band(self, group: str) -> tuple[float, float, int] | None:
        """10th and 90th percentile of measured/predicted for one metric group."""
        ratios = sorted(r.ratio for r in self.residuals if METRIC_GROUP[r.metric] == group)
        if not ratios:
            return None
        return _quantile(ratios, 0.1), _quantile(ratios, 0.9), len(ratios)


ClassKey = tuple[str, str, str]


def _quantile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def class_key(m: Measurement, catalog: Catalog) -> ClassKey:
    """(runtime family, GPU generation, configuration class: dense, moe-tp or moe-ep) of a measurement."""
    kind = config_class(deployment_for(m, catalog))
    return m.family, catalog.gpus.get(m.gpu_id).generation, kind


def _constant(eff: Efficiency) -> Callable[[Measurement], Efficiency]:
    """The same factors for every row."""
    return lambda _m: eff


def _chain(key: ClassKey) -> list[ClassKey]:
    return lookup_chain(*key)


def fit_classes(rows: Sequence[Measurement], catalog: Catalog, start: Efficiency = START) -> list[ClassFit]:
    """Fit the global class, then each level of :func:`lookup_chain` that has enough rows.

    The global class's search starts from ``start``; each other class starts from its parent's
    factors and is fitted on its own rows only, held to the parent's factors
    (:func:`prior_penalty`); a class with the same rows as its parent is not repeated.
    """
    fitted: dict[ClassKey, ClassFit] = {}
    for key, members, timed in _timed_first(class_members(rows, catalog)):
        parent = next((fitted[k] for k in _chain(key)[1:] if k in fitted), None)
        held = parent.efficiency if parent else None
        front_end = None if timed >= MIN_TTFT_DOCUMENTS else _runtime_front_end(key, fitted)
        if front_end is None:
            eff = fit_efficiency(members, catalog, held or start, prior=held)
        else:  # too few documents time a first token: the runtime's front end, the rest searched
            held = replace(held or start, frontend_ms=front_end)
            engine = {name: bounds for name, bounds in BOUNDS.items() if name != "frontend_ms"}
            eff = fit_efficiency(members, catalog, held, engine, prior=held)
        fitted[key] = ClassFit(*key, eff, len(members), residuals(members, catalog, _constant(eff)), timed)
    return list(fitted.values())


def _ttft_documents(rows: Sequence[Measurement]) -> int:
    """How many source documents of ``rows`` report a TTFT: what says what a front end is."""
    return len({source_document(m) for m in rows if "ttft_ms" in m.measured})


def _timed_first(
    members: Mapping[ClassKey, list[Measurement]],
) -> list[tuple[ClassKey, list[Measurement], int]]:
    """``members``' classes with how many documents time their first tokens (:func:`_ttft_documents`),
    general first (as :func:`class_members` gives them) and, within a level, those of more such
    documents first, so that a runtime's front end is fitted before the classes that take it
    (:func:`_runtime_front_end`)."""
    counted = [(key, rows, _ttft_documents(rows)) for key, rows in members.items()]
    return sorted(counted, key=lambda item: (-item[0].count("*"), -item[2]))


def _runtime_front_end(key: ClassKey, fitted: Mapping[ClassKey, ClassFit]) -> float | None:
    """The front end of a class whose rows time first tokens in fewer than ``MIN_TTFT_DOCUMENTS``
    documents: its runtime's, as fitted on TTFT figures of that many documents or more by the
    runtime's class of the same configuration (``runtime x * x kind``), else by the runtime's class
    with the most such documents. ``None`` for the general classes, or where the runtime has no such
    class: the class's rows fit its own, held to its parent's as every other factor is.

    The front end is the serving stack's (its API server, tokenizer, scheduler hand-offs and
    streaming), not the model's or the GPU's, and one document's TTFT figures share its harness:
    fitted on them alone, the front end is that document's, and taken from the parent along the
    configuration (every runtime's MoE classes) it is another runtime's. Without sariekr's
    gpt-oss-20b, vLLM's MoE rows time first tokens in one document (two open-loop runs of Mixtral
    on AMD, which the model puts past saturation) and took 77 ms from every runtime's MoE classes
    (SGLang's cookbook above all), where vLLM's dense documents fit 27 ms."""
    runtime, _, kind = key
    if runtime == "*":
        return None
    timed = {
        k: f for k, f in fitted.items() if k[0] == runtime and k[1] == "*" and f.ttft_documents >= MIN_TTFT_DOCUMENTS
    }
    if (runtime, "*", kind) in timed:  # never the class itself: it is fitted after this
        return timed[(runtime, "*", kind)].efficiency.frontend_ms
    most = max(timed.values(), key=lambda f: (f.ttft_documents, f.timed_first_tokens, f.key), default=None)
    return most.efficiency.frontend_ms if most else None


def class_members(rows: Sequence[Measurement], catalog: Catalog) -> dict[ClassKey, list[Measurement]]:
    """The classes :func:`fit_classes` fits on ``rows`` and the rows of each, general first,
    found without fitting (so held-out bands can rebuild a fit's classes cheaply). Rows of early
    builds (:attr:`~planner.bench.calibration.Measurement.early_build`) join the general class only."""
    keys = {m.row_id: class_key(m, catalog) for m in rows}
    kept: dict[ClassKey, list[Measurement]] = {}
    for level in (3, 2, 1, 0):
        groups: dict[ClassKey, list[Measurement]] = {}
        for m in rows:
            key = _chain(keys[m.row_id])[level]
            if m.early_build and key != ("*", "*", "*"):
                continue  # early builds inform the general class only
            groups.setdefault(key, []).append(m)
        for key, members in sorted(groups.items()):
            parent = next((kept[k] for k in _chain(key)[1:] if k in kept), None)
            thin = len(members) < MIN_ROWS or len({source_document(m) for m in members}) < MIN_DOCUMENTS
            if key != ("*", "*", "*") and (thin or (parent and len(parent) == len(members))):
                continue
            kept[key] = members
    return kept


def efficiency_lookup(fits: Sequence[ClassFit], catalog: Catalog) -> Callable[[Measurement], Efficiency]:
    """Return a function giving each measurement the factors of its most specific fitted class."""
    table = {f.key: f.efficiency for f in fits}

    def lookup(m: Measurement) -> Efficiency:
        return next(table[k] for k in _chain(class_key(m, catalog)) if k in table)

    return lookup


def shipped_factors(catalog: Catalog) -> Callable[[Measurement], Efficiency]:
    """Return a function giving each measurement the factors the catalog ships for its class
    (``catalogs/efficiency/calibrated.yaml``): the in-sample counterpart of :func:`efficiency_lookup`."""
    return lambda m: calibration_for(*class_key(m, catalog)).efficiency


#: An MLPerf result's path: the results repository (one per round) and the submitter.
_MLPERF_RESULT = re.compile(
    r"^(https://github\.com/mlcommons/inference_results_v[0-9.]+)/blob/[0-9a-f]+/(\w+)/([^/]+)/"
)


def source_document(m: Measurement) -> str:
    """The document a row was read from: its URL without the table or section.

    MLPerf results count as one document per round and submitter (``inference_results_v5.1
    closed/NVIDIA``): a submitter's systems in one round share its harness, its tuning and
    its engine build, so their errors move together like the figures of one vendor table.
    Leaving out one result file at a time would let its siblings vouch for it.
    """
    url = m.source.split(" ")[0]
    match = _MLPERF_RESULT.match(url)
    return f"{match.group(1)} {match.group(2)}/{match.group(3)}" if match else url


def cross_validate(
    rows: Sequence[Measurement],
    catalog: Catalog,
    only: Callable[[Measurement], bool] | None = None,
    start: Efficiency = START,
) -> list[Residual]:
    """Hold out one source document at a time, fit on the rest, predict the held-out rows.

    This is how the method generalises to measurements it has not seen: no row is
    ever predicted by factors fitted on its own document.

    :param only: hold out just the documents with a row it accepts (each still fitted on every
        other document): a quicker check on part of the data, such as the concurrency sweeps.
    :param start: where each fold's search starts (:func:`fit_classes`); :func:`shifted_start`
        gives the starts that measure how much the held-out errors owe to it.
    """

    def without(document: str) -> list[Residual]:
        held_out = [m for m in rows if source_document(m) == document]
        training = [m for m in rows if source_document(m) != document]
        return residuals(held_out, catalog, efficiency_lookup(fit_classes(training, catalog, start), catalog))

    return per_document(without, sorted({source_document(m) for m in rows if only is None or only(m)}))


_DOCUMENT_JOB: Callable[[str], list[Residual]] | None = None


def _run_document_job(document: str) -> list[Residual]:
    assert _DOCUMENT_JOB is not None
    return _DOCUMENT_JOB(document)


def per_document(job: Callable[[str], list[Residual]], documents: Sequence[str]) -> list[Residual]:
    """``job`` for each held-out document, concatenated in the documents' order.

    The folds are independent refits (minutes each on a few hundred rows), so where the
    platform forks they run in one process per CPU (``PLANNER_FIT_WORKERS`` overrides the
    count); the result is the same as one after the other.
    """
    global _DOCUMENT_JOB
    workers = int(os.environ.get("PLANNER_FIT_WORKERS") or os.cpu_count() or 1)
    if workers <= 1 or len(documents) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [r for document in documents for r in job(document)]
    _DOCUMENT_JOB = job  # inherited by the forked workers, so nothing but the document name is pickled
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(documents)), mp_context=context) as pool:
            return [r for found in pool.map(_run_document_job, documents) for r in found]
    finally:
        _DOCUMENT_JOB = None


#: low and high ratio (10th and 90th percentile), figures, source documents.
BandFigures = tuple[float, float, int, int]


def class_bands(
    keys: Sequence[ClassKey], rows: Sequence[Measurement], held_out: Sequence[Residual], catalog: Catalog
) -> dict[ClassKey, dict[str, BandFigures]]:
    """Error bands per fitted class (``keys``) from held-out residuals of the rows that class covers.

    Held-out (cross-validated) residuals, not the fit's own, so that a band says how far
    a prediction lands from a measurement the factors never saw; figures that only echo
    the offered load (:func:`echoes_offered_load`) are left out.
    """
    chains = {m.row_id: _chain(class_key(m, catalog)) for m in rows}
    document_of = {m.row_id: source_document(m) for m in rows}
    mine = band_evidence(held_out, rows)
    return {key: ratio_bands([r for r in mine if key in chains[r.row_id]], document_of) for key in keys}


def echoes_offered_load(m: Measurement, metric: str) -> bool:
    """Whether a figure is the workload's input rather than a prediction: an open-loop run at a
    set rate delivers that rate whenever the runtime keeps up, and the model then says the same
    (16 of the 45 such throughput figures in calibration.csv land within 0.3% of 1), so the
    figure says nothing about the model's error and would narrow every throughput band."""
    return METRIC_GROUP[metric] == "throughput" and m.mode == "rate" and m.rate_per_s is not None


def band_evidence(held_out: Sequence[Residual], rows: Sequence[Measurement]) -> list[Residual]:
    """The held-out residuals of ``rows`` that bands rest on: all but echoes of the offered load and
    the latencies of runs the model put past the replica's capacity (``Residual.past_capacity``: a
    band is read around an operating point, which lies within capacity)."""
    by_id = {m.row_id: m for m in rows}
    return [
        r
        for r in held_out
        if r.row_id in by_id
        and not echoes_offered_load(by_id[r.row_id], r.metric)
        and not (r.past_capacity and METRIC_GROUP[r.metric] != "throughput")
    ]


def ratio_bands(found: Sequence[Residual], document_of: Mapping[str, str]) -> dict[str, BandFigures]:
    """Per metric group: 10th and 90th percentile of measured/predicted, how many figures,
    and from how many source documents (``document_of``: row id -> its document).

    Each source document has one vote: its figures share its weight, and the percentiles
    are read as a prediction interval (see :func:`weighted_quantile`). Figures of one
    document share a harness, a runtime version and one reading of the workload, so their
    errors move together; counted one by one, a document with 60 figures would set the
    band of every class it touches, and a band is meant to say where the next document's
    figures will land.
    """
    bands = {}
    for group in GROUPS:
        mine = [r for r in found if METRIC_GROUP[r.metric] == group]
        if mine:
            per_document = Counter(document_of[r.row_id] for r in mine)
            weighted = sorted((r.ratio, 1 / per_document[document_of[r.row_id]]) for r in mine)
            low, high = weighted_quantile(weighted, 0.1), weighted_quantile(weighted, 0.9)
            bands[group] = (round(low, 3), round(high, 3), len(mine), len(per_document))
    return bands


def weighted_quantile(weighted: Sequence[tuple[float, float]], q: float) -> float:
    """The ``q`` quantile of (value, weight) pairs sorted by value, read as a prediction:
    where the next document's figure will land.

    Weights are in documents (a document's figures share a weight of 1). Each value sits at
    ``(weight below it + half its own + 1/2) / (documents + 1)`` and the quantile
    interpolates linearly between values, clamped at the extremes. With one figure per
    document the k-th smallest of n sits at k / (n + 1), the chance that a new exchangeable
    draw falls below it (Hyndman and Fan's type 6), so the 10th and 90th percentiles bound
    a distribution-free 80% prediction interval; a small sample therefore reads them at its
    extremes (n < 9) rather than inside them, as the sample's own spread would.
    """
    documents = sum(w for _, w in weighted)
    centres, below = [], 0.0
    for _, w in weighted:
        centres.append((below + w / 2 + 0.5) / (documents + 1))
        below += w
    upper = next((i for i, centre in enumerate(centres) if centre >= q), len(centres))
    if upper == 0 or upper == len(centres):
        return weighted[min(upper, len(centres) - 1)][0]
    (v0, p0), (v1, p1) = (weighted[upper - 1][0], centres[upper - 1]), (weighted[upper][0], centres[upper])
    return v0 + (v1 - v0) * (q - p0) / (p1 - p0)


def calibration_entries(
    fits: Sequence[ClassFit], bands: dict[ClassKey, dict[str, BandFigures]], data_label: str
) -> list[dict[str, object]]:
    """The efficiency catalog entries (``catalogs/efficiency/calibrated.yaml``) for a fit."""
    entries = []
    for fit in sorted(fits, key=lambda f: (f.key.count("*") * -1, f.key)):
        eff = fit.efficiency
        entries.append(
            {
                "id": "-".join(part if part != "*" else "any" for part in fit.key),
                "runtime": fit.runtime,
                "generation": fit.generation,
                "kind": fit.kind,
                "mfu_prefill": round(eff.mfu_prefill, 4),
                "mbu_decode": round(eff.mbu_decode, 4),
                "mfu_decode": round(eff.mfu_decode, 4),
                "overhead_ms": round(eff.overhead_ms, 4),
                "frontend_ms": round(eff.frontend_ms, 4),
                "rows": fit.rows,
                "data": data_label,
                "bands": {group: list(band) for group, band in bands.get(fit.key, {}).items()},
            }
        )
    return entries


def k_fold(rows: Sequence[Measurement], catalog: Catalog, folds: int = 5) -> list[Residual]:
    """Predict each fold of rows (assigned round-robin by row id) with factors fitted on the others."""
    ordered = sorted(rows, key=lambda m: int(m.row_id) if m.row_id.isdigit() else m.row_id)
    out: list[Residual] = []
    for fold in range(folds):
        held_out = ordered[fold::folds]
        training = [m for i, m in enumerate(ordered) if i % folds != fold]
        out += residuals(held_out, catalog, efficiency_lookup(fit_classes(training, catalog), catalog))
    return out
