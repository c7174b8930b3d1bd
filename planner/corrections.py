"""Corrections fitted to each performance backend, their error bands, and ``auto``'s choices.

``benchmarks/accuracy.py --fit`` predicts every published measurement with every
registered performance model and writes ``catalogs/efficiency/backends.yaml``:

- ``corrections``: for a backend other than the built-in roofline (whose own factors
  live in ``calibrated.yaml``), per configuration class, a prefill scale, a decode
  scale and a per-step overhead fitted on the measurements it covers. Profiled kernel
  sums leave out the engine's scheduler, sampling and detokenisation; the overhead
  puts them back.
- ``selection``: per configuration class and metric group (throughput, ITL, TTFT), the
  held-out median absolute error over the class's figures with each backend (its
  figures where it covers the row, the built-in model's elsewhere), and the backend
  ``auto`` uses: the lowest, the built-in model unless another backend covers at least
  ``MIN_FIGURES`` figures and lowers the median.

Both are keyed by configuration class (:func:`planner.sizing.deployment.config_class`).
This module holds data and names only; the models that apply them live in
:mod:`planner.performance_models`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from planner.catalogfiles import load_entries
from planner.sizing.efficiency import Band

BACKENDS_FILE = "efficiency/backends.yaml"
#: The name of the built-in roofline, the model every choice falls back to.
BUILTIN_NAME = "builtin"
GROUPS = ("throughput", "itl", "ttft")
#: Shared held-out figures a backend needs before ``auto`` prefers it over the built-in model.
MIN_FIGURES = 5


@dataclass(frozen=True)
class Correction:
    """Scales and a per-step overhead applied on top of a backend's own phase times."""

    prefill_scale: float = 1.0
    decode_scale: float = 1.0
    overhead_ms: float = 0.0
    source: str = "uncorrected"


#: The fields a correction fit searches, with their bounds.
CORRECTION_BOUNDS = {"prefill_scale": (0.3, 3.0), "decode_scale": (0.3, 3.0), "overhead_ms": (0.0, 30.0)}


@cache
def _stored_tables() -> dict[str, Any]:
    """Corrections, their bands, and choices from the catalog file (read once)."""
    try:
        entries = load_entries(BACKENDS_FILE)
    except FileNotFoundError:
        return {"corrections": {}, "bands": {}, "selection": {}}
    corrections: dict[tuple[str, str], Correction] = {}
    bands: dict[tuple[str, str], dict[str, tuple[float, float, int, int | None]]] = {}
    selection: dict[str, dict[str, str]] = {}
    for entry in entries:
        if entry.get("kind") == "correction":
            corrections[(entry["backend"], entry["class"])] = Correction(
                float(entry["prefill_scale"]),
                float(entry["decode_scale"]),
                float(entry["overhead_ms"]),
                f"{entry['backend']} corrected on {entry['class']}: {entry['rows']} published measurements "
                f"({entry['data']})",
            )
            bands[(entry["backend"], entry["class"])] = _bands(entry)
        elif entry.get("kind") == "selection":
            selection[entry["class"]] = {group: str(name) for group, name in (entry.get("choice") or {}).items()}
            bands[("auto", entry["class"])] = _bands(entry)
    return {"corrections": corrections, "bands": bands, "selection": selection}


def _bands(entry: dict[str, Any]) -> dict[str, tuple[float, float, int, int | None]]:
    """An entry's bands: [low, high, figures] or [low, high, figures, source documents]."""
    return {
        group: (float(b[0]), float(b[1]), int(b[2]), int(b[3]) if len(b) > 3 else None)
        for group, b in (entry.get("bands") or {}).items()
    }


def correction_for(backend: str, cls: str) -> Correction | None:
    """The fitted correction of ``backend`` for a configuration class (or for ``any``), if any."""
    table: dict[tuple[str, str], Correction] = _stored_tables()["corrections"]
    return table.get((backend, cls)) or table.get((backend, "any"))


#: A backend's stored bands: (backend, class) -> metric group -> (low, high, figures, documents or None).
BandTable = Mapping[tuple[str, str], Mapping[str, tuple[float, float, int, int | None]]]


def correction_band(
    backend: str, cls: str, group: str, table: BandTable | None = None
) -> tuple[float, float, int, int | None, str] | None:
    """(low, high, figures, source documents or ``None``, which class) of measured/predicted
    for a corrected backend, held out.

    The class's own band when it rests on at least 3 figures, else the ``any`` band.
    ``auto``'s bands (backend ``auto``) come from its held-out figures per class. Whether
    the band is too thin to stand alone is the caller's question
    (:func:`planner.performance_models.error_band`). ``table`` replaces the catalog's
    bands (the band coverage check builds them without the document it predicts).
    """
    if table is None:
        table = _stored_tables()["bands"]
    for key in ((backend, cls), (backend, "any")):
        band = table.get(key, {}).get(group)
        if band and band[2] >= 3:
            return (*band, f"{backend} x {key[1]} ({Band(*band).evidence})")
    return None


def choice_for(cls: str, group: str) -> str:
    """The backend ``auto`` uses for a metric group in a configuration class (``builtin`` by default)."""
    selection: dict[str, dict[str, str]] = _stored_tables()["selection"]
    return selection.get(cls, {}).get(group, BUILTIN_NAME)


def selection_entries() -> list[dict[str, Any]]:
    """The selection entries as stored (for reports)."""
    return [e for e in load_entries(BACKENDS_FILE) if e.get("kind") == "selection"]


def reload() -> None:
    """Forget the cached file (after ``benchmarks/accuracy.py --fit`` rewrites it)."""
    _stored_tables.cache_clear()


def blend_name(first: str, second: str, weight: float = 0.5) -> str:
    """How a blend is named in reports and in ``auto``'s choices: ``first+second``, with
    ``@weight`` (the share of the second) unless the weights are equal."""
    return f"{first}+{second}" if weight == 0.5 else f"{first}+{second}@{weight:g}"


def parse_choice(choice: str) -> tuple[str, float | None]:
    """Split one of ``auto``'s choices into (backend, blend weight): ``builtin`` ->
    (builtin, None); ``NAME`` -> (NAME, None), the backend alone; ``builtin+NAME[@W]`` ->
    (NAME, W), its blend with the built-in model (W = 0.5 when not written)."""
    if not choice.startswith(f"{BUILTIN_NAME}+"):
        return choice, None
    other, _, weight = choice.removeprefix(f"{BUILTIN_NAME}+").partition("@")
    return other, float(weight) if weight else 0.5
