"""Efficiency factors (MFU, MBU, step overhead) of the built-in roofline, and their error bands.

Factors live in ``catalogs/efficiency/calibrated.yaml``, one entry per runtime family x
GPU generation x configuration class (dense, moe-tp or moe-ep; ``*`` for any), written by
``benchmarks/accuracy.py --fit`` from the published measurements in
``benchmarks/data/calibration.csv``. Each entry carries error bands: the 10th and 90th
percentile of measured/predicted over the rows of its class, each row predicted by factors
fitted without its source document (held out), how many figures a band rests on, and from
how many source documents they come.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from planner.catalogfiles import load_entries
from planner.sizing.deployment import Deployment, config_class

EFFICIENCY_FILE = "efficiency/calibrated.yaml"
FACTORS = ("mfu_prefill", "mbu_decode", "mfu_decode", "overhead_ms", "frontend_ms")
#: Plausible ranges; a plan override outside them is reported by the rules engine.
FACTOR_RANGES = {
    "mfu_prefill": (0.05, 0.95),
    "mbu_decode": (0.2, 0.98),
    "mfu_decode": (0.02, 0.95),
    "overhead_ms": (0.0, 30.0),
    "frontend_ms": (0.0, 300.0),
}


#: A class's band needs at least this many held-out figures to be used at all.
MIN_BAND_ROWS = 3
#: Below this many figures (documents, see below) the 10th and 90th percentiles are read at
#: or between a sample's two most extreme values (``planner.bench.fit.weighted_quantile``
#: puts the k-th of n at k / (n + 1), and 2 / (n + 1) > 0.1 here), so they say where the
#: extremes lie, not the spread; such a band borrows its broader class's spread. On
#: calibration.csv this brings held-out throughput coverage from 70% to 81%
#: (docs/accuracy.md).
SOLID_BAND_ROWS = 11
#: Figures of one source document share a harness, a runtime version and a reading of the
#: workload, so their errors move together, and a band's percentiles give each document one
#: vote (``planner.bench.fit.ratio_bands``): its independent samples are its documents, and
#: the argument above applies to them. A band from fewer documents borrows its broader
#: class's spread like a band on too few figures.
SOLID_BAND_DOCUMENTS = SOLID_BAND_ROWS


@dataclass(frozen=True)
class Efficiency:
    """Calibrated efficiency factors for one runtime family on one GPU generation."""

    mfu_prefill: float
    mbu_decode: float
    mfu_decode: float
    overhead_ms: float
    #: What a served request spends outside the GPU before its first token reaches the client
    #: (API server, tokenizer, scheduler hand-offs, detokenizer, streaming), ms; it adds to TTFT
    #: and E2E, never to a step. Fitted per class on the TTFT of serving benchmarks (closed and
    #: open loop); the offline engines' rows (static batches, batch-1 latency) have none.
    frontend_ms: float = 0.0
    source: str = "default"


@dataclass(frozen=True)
class Band:
    """Ratio measured / predicted at the 10th and 90th percentile of comparable rows."""

    low: float
    high: float
    rows: int
    #: Source documents the figures come from; ``None`` where the catalog entry predates recording it.
    documents: int | None = None

    def apply(self, value: float) -> tuple[float, float]:
        """Return ``[low, high]`` around a predicted value, always containing it.

        Where a class's measured/predicted ratios all lie on one side of 1 (the model is
        biased there), the band reaches from the point to the far percentile: the point
        is what the planner reports, so its own band must hold it.
        """
        return value * min(self.low, 1.0), value * max(self.high, 1.0)

    @property
    def straddles_point(self) -> bool:
        """Whether the measured/predicted ratios at the 10th and 90th percentile bracket 1."""
        return self.low <= 1.0 <= self.high

    @property
    def thin(self) -> bool:
        """Whether too few figures or too few source documents stand behind the percentiles
        (see ``SOLID_BAND_ROWS`` and ``SOLID_BAND_DOCUMENTS``)."""
        few_documents = self.documents is not None and self.documents < SOLID_BAND_DOCUMENTS
        return self.rows < SOLID_BAND_ROWS or few_documents

    @property
    def evidence(self) -> str:
        """e.g. '4 held-out figures of 2 documents'."""
        documents = "" if self.documents is None else f" of {self.documents} document{'s' * (self.documents != 1)}"
        return f"{self.rows} held-out figures{documents}"

    @property
    def solid_share(self) -> float:
        """How much of a solid band's evidence stands behind this one, 0-1: its figures over
        ``SOLID_BAND_ROWS`` and its documents over ``SOLID_BAND_DOCUMENTS``, the smaller (1 when solid)."""
        documents = 1.0 if self.documents is None else self.documents / SOLID_BAND_DOCUMENTS
        return min(self.rows / SOLID_BAND_ROWS, documents, 1.0)

    def widened_toward(self, other: Band, weight: float) -> Band:
        """This band widened toward ``other``: each end moved ``1 - weight`` of the way to
        ``other``'s where that is outward, kept where it is not (evidence: the larger of the two)."""
        documents = None if self.documents is None or other.documents is None else max(self.documents, other.documents)
        low = min(self.low, weight * self.low + (1 - weight) * other.low)
        high = max(self.high, weight * self.high + (1 - weight) * other.high)
        return Band(low, high, max(self.rows, other.rows), documents)


#: Where nothing comparable was measured: a factor of two either way (a stated guess, not a fit).
DEFAULT_BAND = Band(0.5, 2.0, 0)


@dataclass(frozen=True)
class Calibration:
    """Factors for one class, where they came from, and their residual bands."""

    runtime: str
    generation: str
    kind: str
    efficiency: Efficiency
    rows: int
    bands: dict[str, Band] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """(runtime family, GPU generation, configuration class)."""
        return self.runtime, self.generation, self.kind

    @property
    def label(self) -> str:
        """e.g. 'trtllm x hopper x dense (34 rows)'."""
        return f"{self.runtime} x {self.generation} x {self.kind} ({self.rows} rows)"


def _calibration(entry: dict[str, Any]) -> Calibration:
    label = f"{entry['runtime']} x {entry['generation']} x {entry['kind']}"
    eff = Efficiency(
        mfu_prefill=float(entry["mfu_prefill"]),
        mbu_decode=float(entry["mbu_decode"]),
        mfu_decode=float(entry["mfu_decode"]),
        overhead_ms=float(entry["overhead_ms"]),
        frontend_ms=float(entry.get("frontend_ms", 0.0)),
        source=f"calibrated on {label}: {entry['rows']} published measurements ({entry['data']})",
    )
    bands = {metric: _band(figures) for metric, figures in (entry.get("bands") or {}).items()}
    return Calibration(entry["runtime"], entry["generation"], entry["kind"], eff, int(entry["rows"]), bands)


def _band(figures: list[Any]) -> Band:
    """A stored band: [low, high, figures] or [low, high, figures, documents]."""
    documents = int(figures[3]) if len(figures) > 3 else None
    return Band(float(figures[0]), float(figures[1]), int(figures[2]), documents)


def lookup_chain(runtime: str, generation: str, kind: str) -> list[tuple[str, str, str]]:
    """Classes to try, most specific first: the class, its runtime family, the kind, any."""
    return [(runtime, generation, kind), (runtime, "*", kind), ("*", "*", kind), ("*", "*", "*")]


@cache
def calibrations() -> tuple[Calibration, ...]:
    """All calibrated classes from the catalog file (read once)."""
    return tuple(_calibration(entry) for entry in load_entries(EFFICIENCY_FILE))


def calibration_for(
    runtime: str, generation: str, kind: str, table: tuple[Calibration, ...] | None = None
) -> Calibration:
    """The most specific calibrated class for a runtime, GPU generation and configuration class."""
    by_key = {c.key: c for c in (calibrations() if table is None else table)}
    for key in lookup_chain(runtime, generation, kind):
        if key in by_key:
            return by_key[key]
    raise LookupError("the efficiency catalog has no '* x * x *' entry")


def band_for(
    runtime: str, generation: str, kind: str, metric: str, table: tuple[Calibration, ...] | None = None
) -> tuple[Band, str]:
    """The error band for ``metric`` and a sentence saying what it rests on.

    The most specific class with at least ``MIN_BAND_ROWS`` such residuals gives the band.
    Where that band is thin (fewer than ``SOLID_BAND_ROWS`` figures, or figures from fewer
    than ``SOLID_BAND_DOCUMENTS`` source documents), it widens toward the band of the next
    broader class that is not thin (or toward a factor of two either way, if none is): each
    end moves outward by the share of a solid band's evidence the class lacks (:attr:`Band.solid_share`:
    with 3 of 11 documents, 8/11 of the way to the broader end), and the sentence says why: a
    thin band's 10th and 90th percentiles lie among its few extreme documents, so its width
    says little about where the next document will land. Widening, not a replacement, keeps a
    class's own bias visible; stopping short of the broader end (the union, until December
    2026) keeps the band from holding far more than 80% of what it is read against. The band
    may still exclude the point (all ratios on one side of 1); :meth:`Band.apply` then reaches it.
    """
    if table is None:
        return _catalog_band(runtime, generation, kind, metric)
    return _band_along(_classes_with_band(runtime, generation, kind, metric, table), metric)


@lru_cache(maxsize=1024)
def _catalog_band(runtime: str, generation: str, kind: str, metric: str) -> tuple[Band, str]:
    """:func:`band_for` on the catalog's classes, looked up once: every estimate asks for five bands,
    and a search makes about a thousand estimates."""
    return _band_along(_classes_with_band(runtime, generation, kind, metric, calibrations()), metric)


def _band_along(chain: list[Calibration], metric: str) -> tuple[Band, str]:
    """The band of the first class of ``chain`` (classes with a band, most specific first), widened
    toward a broader one's where it rests on too few figures, and the sentence saying so."""
    if not chain:
        return DEFAULT_BAND, "no comparable measurements: a factor of two either way"
    first = chain[0]
    broader = next((c for c in chain[1:] if not c.bands[metric].thin), None)
    wider = (broader.bands[metric], broader.label) if broader else (DEFAULT_BAND, "a factor of two")
    return widened_if_thin(first.bands[metric], first.label, wider)


def widened_if_thin(band: Band, label: str, broader: tuple[Band, str]) -> tuple[Band, str]:
    """``band`` widened toward ``broader`` (a band and what it rests on) where ``band`` is thin, in
    proportion to the evidence it lacks (:attr:`Band.solid_share`, :meth:`Band.widened_toward`), and
    ``label`` saying so, and saying where the model is biased (the point then lies at one end of
    its band, see :meth:`Band.apply`)."""
    if band.thin:
        weight = band.solid_share
        label += f"; from only {band.evidence}: widened toward {broader[1]} ({weight:.0%} its own)"
        band = band.widened_toward(broader[0], weight)
    if not band.straddles_point:
        ratios = f"{band.low:.2f}-{band.high:.2f}"
        label += f"; the model is biased here (measured/predicted {ratios}), so the band reaches to the point"
    return band, label


def _classes_with_band(
    runtime: str, generation: str, kind: str, metric: str, table: tuple[Calibration, ...] | None
) -> list[Calibration]:
    """Classes along the lookup chain that carry a band for ``metric`` on at least ``MIN_BAND_ROWS`` figures."""
    by_key = {c.key: c for c in (calibrations() if table is None else table)}
    found = [by_key.get(key) for key in lookup_chain(runtime, generation, kind)]
    return [c for c in found if c and metric in c.bands and c.bands[metric].rows >= MIN_BAND_ROWS]


def calibrated_range(factor: str) -> tuple[float, float]:
    """The lowest and highest value of ``factor`` over the calibrated classes."""
    values = [getattr(c.efficiency, factor) for c in calibrations() if c.rows > 0]
    if not values:
        return FACTOR_RANGES[factor]
    return min(values), max(values)


def with_overrides(eff: Efficiency, overrides: dict[str, float]) -> Efficiency:
    """Apply a plan's efficiency overrides; the source then says so."""
    if not overrides:
        return eff
    values = {name: float(overrides.get(name, getattr(eff, name))) for name in FACTORS}
    return Efficiency(**values, source=f"plan override of {', '.join(sorted(overrides))} ({eff.source})")


def efficiency_for(dep: Deployment) -> Efficiency:
    """The calibrated factors of ``dep``'s class with the plan's overrides applied."""
    overrides = tuple(sorted(dep.efficiency.items()))
    return _efficiency_of_class(dep.runtime.id, dep.gpu.generation, config_class(dep), overrides)


@lru_cache(maxsize=4096)
def _efficiency_of_class(
    runtime: str, generation: str, kind: str, overrides: tuple[tuple[str, float], ...]
) -> Efficiency:
    return with_overrides(calibration_for(runtime, generation, kind).efficiency, dict(overrides))


def reload() -> None:
    """Forget the cached factors (after ``benchmarks/accuracy.py --fit`` rewrites the file)."""
    calibrations.cache_clear()
    _efficiency_of_class.cache_clear()
    _catalog_band.cache_clear()
