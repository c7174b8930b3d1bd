"""The normalised benchmark run: what every benchmark importer returns (steps 10-11).

Benchmark tools disagree on names, units and definitions; an importer (a plugin through
``planner_benchmark_importers``) reads one tool's file and returns :class:`MeasuredRun` s in
one vocabulary, so the envelope, the baseline and the scaling decision never look at a
tool's own keys. The rules (docs/benchmarks.md has them with their sources):

- every latency is in milliseconds; every rate per second;
- ``ttft_ms``: request sent to first output token;
- ``tpot_ms``: decode time per output token *after the first*, ``(e2e - ttft) / (out - 1)``
  per request (vLLM TPOT, GenAI-Perf/AIPerf ITL, GuideLLM ``inter_token_latency_ms``,
  llmperf derived, since its own ITL includes the TTFT);
- ``itl_ms``: gaps between streamed outputs, pooled over requests (vLLM ITL only);
- ``e2e_ms``: request sent to last token;
- load: ``closed`` loop at ``load`` requests in flight, or ``open`` loop at ``load`` requests
  per second (``inf``: all sent at once).

This module is a contract for plugins: it imports nothing of the core but its errors.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from planner.errors import PlannerError

#: The latency figures of a run, each a distribution in milliseconds.
LATENCIES = ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")
#: The statistics kept of each distribution.
STATISTICS = ("mean", "p50", "p90", "p95", "p99")
#: Load modes: requests in flight held constant, or requests arriving at a rate.
MODES = ("closed", "open")
#: Bytes of a file an importer sees to recognise its format.
HEAD_BYTES = 65536


class BenchmarkFileError(PlannerError):
    """A benchmark file that cannot be read: names the file, the format guessed and the field."""

    def __init__(self, path: Path | str, format_title: str, where: str, problem: str, fix: str = "") -> None:
        self.format_title = format_title
        self.where = where
        read_as = f"read as {format_title}" if format_title else "not a known benchmark format"
        at = f", {where}" if where else ""
        super().__init__(
            f"{read_as}{at}: {problem}",
            path=str(path),
            fix=fix or "give the file exactly as the benchmark tool wrote it (nothing was imported)",
        )


@dataclass
class MeasuredRun:
    """One benchmark run at one load, in the planner's units and definitions.

    :param format: the importer's ``name`` (``vllm-bench-serve``, ``guidellm``...).
    :param source: the file it came from, with ``#N`` for the N-th run of a file of several.
    :param mode: ``closed`` or ``open`` (see the module docstring).
    :param load: requests in flight (closed) or requests per second (open; ``inf`` for all at once).
    :param latency: ``{figure: {statistic: ms}}`` for the figures of :data:`LATENCIES` the file gives.
    :param records: one mapping per request (``ttft_ms``, ``tpot_ms``, ``e2e_ms``, ``input_tokens``,
        ``output_tokens``, ``start_s``, ``error``), in the order sent; empty when the file has none.
    :param records_sampled: the records are a sample of the run (GuideLLM keeps a few per status),
        so the summary figures come from the file, never from them.
    """

    format: str
    source: str
    mode: str
    load: float
    completed: int
    errors: int = 0
    duration_s: float | None = None
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    request_s: float | None = None
    output_tok_s: float | None = None
    total_tok_s: float | None = None
    input_tokens_mean: float | None = None
    output_tokens_mean: float | None = None
    model: str | None = None
    hardware: str | None = None
    server: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    records_sampled: bool = False

    @property
    def name(self) -> str:
        """What the run was, e.g. ``closed loop c=64`` or ``open loop 4 req/s``."""
        if self.mode == "closed":
            return f"closed loop c={self.load:g}"
        return "open loop, all at once" if math.isinf(self.load) else f"open loop {self.load:.4g} req/s"

    def figure(self, name: str, statistic: str) -> float | None:
        """One statistic of one latency figure in ms, ``None`` when the run lacks it."""
        return self.latency.get(name, {}).get(statistic)

    def metadata(self) -> dict[str, Any]:
        """Everything but the records, as the store keeps it (JSON: no infinity, so ``load`` may be ``"inf"``)."""
        # Not asdict(): it would deep-copy every record only to drop them.
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "records"}
        out["load"] = "inf" if math.isinf(self.load) else self.load
        return out

    @classmethod
    def from_stored(cls, metadata: dict[str, Any], records: list[dict[str, Any]]) -> MeasuredRun:
        """The run back from what :meth:`metadata` wrote and its records."""
        values = {k: v for k, v in metadata.items() if k in cls.__dataclass_fields__}
        values["load"] = math.inf if values.get("load") == "inf" else float(values.get("load") or 0)
        return cls(**values, records=records)


@runtime_checkable
class BenchmarkImporter(Protocol):
    """What ``planner_benchmark_importers`` returns: one object per file format.

    ``name`` is a lowercase slug, ``title`` what a user reads in an error (``vLLM bench serve
    JSON``). ``can_read(path, head)`` looks at the file name and its first :data:`HEAD_BYTES`
    bytes (decoded, possibly cut mid-token) and says whether the file is this format; it must
    not raise. ``read(path)`` returns the file's runs, or raises :class:`BenchmarkFileError`
    naming the field that failed.
    """

    name: str
    title: str

    def can_read(self, path: Path, head: str) -> bool:
        """True when the file is this format."""
        ...

    def read(self, path: Path) -> list[MeasuredRun]:
        """Every run in the file."""
        ...


@dataclass(frozen=True)
class FileReader:
    """Reads one file for an importer and turns each failure into a :class:`BenchmarkFileError`."""

    path: Path
    format_title: str

    def fail(self, where: str, problem: str, fix: str = "") -> BenchmarkFileError:
        """The error to raise for ``where`` (a field path such as ``benchmarks[2].metrics``)."""
        return BenchmarkFileError(self.path, self.format_title, where, problem, fix)

    def text(self) -> str:
        """The whole file as text; an empty or unreadable file fails here."""
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.fail("", f"cannot read the file: {exc}", "check the path and that it is a text file") from exc
        if not text.strip():
            raise self.fail("", "the file is empty", "rerun the benchmark; it wrote nothing")
        return text

    def json(self) -> Any:
        """The file parsed as one JSON document."""
        text = self.text()
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            end = " (the file ends early: truncated?)" if exc.pos >= len(text.rstrip()) - 1 else ""
            raise self.fail(f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}{end}") from exc

    def json_lines(self) -> list[Any]:
        """The file parsed as JSON Lines (one document per non-blank line)."""
        lines = self.text().splitlines()
        try:
            # One parse of the whole file is several times faster than one per line.
            return list(json.loads("[" + ",".join(line for line in lines if line.strip()) + "]"))
        except json.JSONDecodeError:
            pass
        out = []
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise self.fail(f"line {number}", f"invalid JSON: {exc.msg}") from exc
        return out

    def yaml(self) -> Any:
        """The file parsed as YAML."""
        import yaml

        try:
            return yaml.safe_load(self.text())
        except yaml.YAMLError as exc:
            raise self.fail("", f"invalid YAML: {exc}") from exc

    def csv_sections(self) -> list[list[list[str]]]:
        """The file as CSV sections (blocks of rows separated by blank lines)."""
        sections: list[list[list[str]]] = [[]]
        for row in csv.reader(io.StringIO(self.text())):
            if not any(cell.strip() for cell in row):
                if sections[-1]:
                    sections.append([])
                continue
            sections[-1].append(row)
        return [s for s in sections if s]

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        """``value`` when it is a JSON object, else a failure at ``where``."""
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, found {_kind(value)}")
        return value

    def number(self, value: Any, where: str, *, required: bool = True) -> float | None:
        """``value`` as a float: numbers, numeric strings (some tools write ``"131"``) and ``"inf"``.

        ``None`` (and a missing value) is ``None`` unless ``required``.
        """
        if value is None:
            if required:
                raise self.fail(where, "the field is missing", "the file must come from the tool unedited")
            return None
        if isinstance(value, bool):
            raise self.fail(where, f"expected a number, found {_kind(value)}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise self.fail(where, f"expected a number, found {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"the text {shown!r}"
    return {dict: "an object", list: "a list", bool: f"{value!r}".lower()}.get(type(value), type(value).__name__)


def distribution(values: dict[str, float | None]) -> dict[str, float]:
    """The statistics of :data:`STATISTICS` that are present and finite."""
    return {k: float(v) for k, v in values.items() if k in STATISTICS and v is not None and math.isfinite(v)}
