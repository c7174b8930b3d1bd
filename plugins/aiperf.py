"""Benchmark importers: NVIDIA GenAI-Perf and AIPerf profile exports (JSON, CSV, per-request JSONL).

Shapes from triton-inference-server/perf_analyzer ``genai-perf/genai_perf/export_data/``
(``json_exporter.py``, ``csv_exporter.py``) and ai-dynamo/aiperf
(``aiperf/common/models/export_models.py``, ``docs/tutorials/working-with-profile-exports.md``).
Each metric carries its ``unit``; ``inter_token_latency`` is ``(latency - TTFT) / (OSL - 1)``,
the planner's TPOT. The CSV and the JSONL do not say how load was applied: it is read from
the JSON export beside them, else from the artifact folder's name (``...-concurrency64``,
``...-request_rate4.0``), which both tools write by default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from planner import hookimpl
from planner.measured_run import FileReader, MeasuredRun, distribution

#: Their metric, the planner's figure.
_LATENCIES = {"time_to_first_token": "ttft_ms", "inter_token_latency": "tpot_ms", "request_latency": "e2e_ms"}
#: Milliseconds per unit, as the tools write units.
_TO_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "seconds": 1000.0, "us": 1e-3, "µs": 1e-3, "ns": 1e-6}
_STATS = {"avg": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99"}
#: The JSON exports that may lie beside a CSV or JSONL, holding the load configuration.
_JSON_EXPORTS = ("profile_export_aiperf.json", "profile_export_genai_perf.json")
_FOLDER_LOAD = re.compile(r"(concurrency|request_rate)[-_]?(\d+(?:\.\d+)?)")


def _tool(text: str) -> str:
    return "aiperf" if "aiperf" in text.lower() or "benchmark_duration" in text else "genai-perf"


class ProfileExportJson:
    """``profile_export_aiperf.json`` or ``<stem>_genai_perf.json``."""

    name = "aiperf-json"
    title = "GenAI-Perf/AIPerf profile export JSON"

    def can_read(self, path: Path, head: str) -> bool:
        """A JSON object of metrics with units, like ``"time_to_first_token": {"unit": "ms"``."""
        # The per-request JSONL and GuideLLM's reports have metrics of the same names.
        others = '"request_start_ns"' in head or '"benchmarks"' in head
        return (
            head.lstrip().startswith("{")
            and not others
            and bool(re.search(r'"(time_to_first_token|request_latency|request_throughput)"\s*:\s*\{\s*"unit"', head))
        )

    def read(self, path: Path) -> list[MeasuredRun]:
        """The one run of the export."""
        reader = FileReader(path, self.title)
        doc = reader.mapping(reader.json(), "the top level")
        figures = {k: _figure(reader, v, k) for k, v in doc.items() if isinstance(v, dict) and "unit" in v}
        if not any(k in figures for k in _LATENCIES):
            raise reader.fail("time_to_first_token", "no latency metric in the export")
        config = doc.get("input_config") if isinstance(doc.get("input_config"), dict) else {}
        mode, load = _load_from_config(config) or _load_from_folder(reader)
        return [_run(reader, _tool(reader.text()[:4096] + str(config)), figures, mode, load, _model(config), doc)]


def _figure(reader: FileReader, node: dict[str, Any], where: str) -> dict[str, float]:
    """One metric's statistics, latencies converted to milliseconds from their ``unit``."""
    unit = str(node.get("unit", "")).strip().lower()
    stats = {
        ours: reader.number(node.get(theirs), f"{where}.{theirs}", required=False) for theirs, ours in _STATS.items()
    }
    if where in _LATENCIES:
        if unit not in _TO_MS:
            raise reader.fail(f"{where}.unit", f"unknown time unit {unit!r}", f"expected one of {sorted(_TO_MS)}")
        stats = {k: v * _TO_MS[unit] if v is not None else None for k, v in stats.items()}
    return distribution(stats)


def _load_from_config(config: dict[str, Any]) -> tuple[str, float] | None:
    """AIPerf ``input_config.loadgen``, GenAI-Perf's flat ``input_config`` or its ``perf_analyzer.stimulus``."""
    analyzer = config.get("perf_analyzer")
    stimulus = analyzer.get("stimulus") if isinstance(analyzer, dict) else None
    for holder in (config.get("loadgen"), config, stimulus):
        if not isinstance(holder, dict):
            continue
        rate, users = holder.get("request_rate"), holder.get("concurrency")
        if isinstance(rate, int | float) and rate > 0:
            return "open", float(rate)
        if isinstance(users, int | float) and users > 0:
            return "closed", float(users)
    return None


def _load_from_folder(reader: FileReader) -> tuple[str, float]:
    for part in reversed(reader.path.resolve().parts[:-1]):
        found = _FOLDER_LOAD.search(part)
        if found:
            return ("closed" if found.group(1) == "concurrency" else "open"), float(found.group(2))
    raise reader.fail(
        "input_config",
        "the export does not say how load was applied (no concurrency or request rate)",
        "keep the file in its artifact folder (named ...-concurrency64 or ...-request_rate4.0) "
        "or beside its JSON export",
    )


def _model(config: dict[str, Any]) -> str | None:
    endpoint = config.get("endpoint") if isinstance(config.get("endpoint"), dict) else config
    names = endpoint.get("model_names") or config.get("model_names") or config.get("model")
    if isinstance(names, list) and names:
        return str(names[0])
    return names if isinstance(names, str) else None


def _run(
    reader: FileReader, tool: str, figures: dict[str, dict[str, float]], mode: str, load: float,
    model: str | None, doc: dict[str, Any],
) -> MeasuredRun:  # fmt: skip
    def mean(name: str) -> float | None:
        return figures.get(name, {}).get("mean")

    count = mean("request_count")
    if count is None:
        raise reader.fail("request_count", "the export does not count its requests")
    errors = mean("error_request_count") or sum(
        int(e.get("count", 0)) for e in doc.get("error_summary") or [] if isinstance(e, dict)
    )
    isl, osl, request_s = mean("input_sequence_length"), mean("output_sequence_length"), mean("request_throughput")
    total = (isl + osl) * request_s if None not in (isl, osl, request_s) else None  # type: ignore[operator]
    return MeasuredRun(
        format=tool,
        source=str(reader.path),
        mode=mode,
        load=load,
        completed=int(count),
        errors=int(errors),
        duration_s=mean("benchmark_duration"),
        latency={ours: figures[theirs] for theirs, ours in _LATENCIES.items() if figures.get(theirs)},
        request_s=request_s,
        output_tok_s=mean("output_token_throughput"),
        total_tok_s=total,
        input_tokens_mean=isl,
        output_tokens_mean=osl,
        model=model,
        server={"tool": tool},
    )


class ProfileExportCsv:
    """``profile_export_aiperf.csv`` or ``<stem>_genai_perf.csv``: a statistics section, then ``Metric,Value``."""

    name = "aiperf-csv"
    title = "GenAI-Perf/AIPerf profile export CSV"

    def can_read(self, path: Path, head: str) -> bool:
        """A CSV whose header starts ``Metric,avg`` and names a first-token row."""
        return head.lstrip().startswith("Metric,") and "time to first token" in head.lower()

    def read(self, path: Path) -> list[MeasuredRun]:
        """The one run of the export: statistics by column name, so extra columns are ignored."""
        reader = FileReader(path, self.title)
        figures: dict[str, dict[str, float]] = {}
        for s, section in enumerate(reader.csv_sections()):
            header = [cell.strip().lower() for cell in section[0]]
            if not header or header[0] != "metric":
                continue  # the GPU telemetry section starts with Endpoint
            for r, row in enumerate(section[1:], 2):
                name, unit = _csv_metric(row[0])
                values = dict(zip(header[1:], row[1:], strict=False))
                at = f"section {s + 1} row {r} ({row[0]!r})"
                if "value" in values:
                    stats = {"mean": reader.number(values["value"].replace(",", ""), f"{at} Value")}
                else:
                    stats = {
                        o: reader.number(values.get(t) or None, f"{at} {t}", required=False) for t, o in _STATS.items()
                    }
                    if name in _LATENCIES:
                        if unit not in _TO_MS:
                            raise reader.fail(at, f"unknown time unit {unit!r}", f"expected one of {sorted(_TO_MS)}")
                        stats = {k: v * _TO_MS[unit] if v is not None else None for k, v in stats.items()}
                figures[name] = distribution(stats)
        if not any(k in figures for k in _LATENCIES):
            raise reader.fail("Time to First Token", "no latency row in the CSV")
        mode, load = _sibling_load(reader) or _load_from_folder(reader)
        return [_run(reader, _tool_of_csv(reader), figures, mode, load, None, {})]


def _csv_metric(label: str) -> tuple[str, str]:
    """``Time To First Token (ms)`` -> (``time_to_first_token``, ``ms``); unit-less rows keep ''."""
    found = re.match(r"\s*(.*?)\s*(?:\(([^)]*)\))?\s*$", label)
    text, unit = (found.group(1), found.group(2) or "") if found else (label, "")
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_"), unit.strip().lower()


def _tool_of_csv(reader: FileReader) -> str:
    return "genai-perf" if "Time To First Token" in reader.text() else "aiperf"


def _sibling_load(reader: FileReader) -> tuple[str, float] | None:
    """The load from the JSON export in the same folder, when there is one."""
    import json

    for name in (*_JSON_EXPORTS, *(p.name for p in reader.path.parent.glob("*_genai_perf.json"))):
        sibling = reader.path.parent / name
        try:
            config = json.loads(sibling.read_text(encoding="utf-8")).get("input_config")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(config, dict) and (found := _load_from_config(config)):
            return found
    return None


class ProfileExportJsonl:
    """AIPerf ``profile_export.jsonl``: one record per request, metrics with units."""

    name = "aiperf-jsonl"
    title = "AIPerf per-request JSONL"

    def can_read(self, path: Path, head: str) -> bool:
        """JSON lines with ``metadata.request_start_ns`` and a ``metrics`` object."""
        return head.lstrip().startswith("{") and '"request_start_ns"' in head and '"metrics"' in head

    def read(self, path: Path) -> list[MeasuredRun]:
        """The one run, summarised by the planner from its records."""
        reader = FileReader(path, self.title)
        records, starts, ends = [], [], []
        for i, line in enumerate(reader.json_lines()):
            try:
                record, start, end = _well_formed_record(line)
            except (KeyError, TypeError, AttributeError):
                # Only a malformed line takes the slow path, which names the field that fails.
                record, start, end = _checked_record(reader, line, f"line {i + 1}")
            starts.append(start)
            ends.append(end)
            records.append(record)
        if not records:
            raise reader.fail("", "no request in the file")
        first = min(starts)
        for record in records:
            record["start_s"] = (record["start_s"] - first) / 1e9
        duration = (max(ends) - first) / 1e9
        done = [r for r in records if not r["error"]]
        mode, load = _sibling_load(reader) or _load_from_folder(reader)
        outputs = sum(r["output_tokens"] or 0 for r in done)
        return [
            MeasuredRun(
                format="aiperf",
                source=str(path),
                mode=mode,
                load=load,
                completed=len(done),
                errors=len(records) - len(done),
                duration_s=duration,
                request_s=len(done) / duration if duration > 0 else None,
                output_tok_s=outputs / duration if duration > 0 else None,
                server={"tool": "aiperf"},
                records=records,
            )
        ]


_RECORD_FIELDS = (
    ("ttft_ms", "time_to_first_token", True),
    ("tpot_ms", "inter_token_latency", True),
    ("e2e_ms", "request_latency", True),
    ("input_tokens", "input_sequence_length", False),
    ("output_tokens", "output_sequence_length", False),
)


def _well_formed_record(line: Any) -> tuple[dict[str, Any], float, float]:
    """A record of a line as AIPerf writes it, fast; raises KeyError or TypeError on anything else."""
    meta, metrics = line["metadata"], line["metrics"] or {}
    start = meta["request_start_ns"]
    end = meta.get("request_end_ns") or start
    if type(start) is not int or type(end) is not int:
        raise TypeError("timestamps")
    record: dict[str, Any] = {"start_s": start}
    for ours, theirs, time in _RECORD_FIELDS:
        node = metrics.get(theirs)
        if node is None:
            record[ours] = None
            continue
        value = node["value"]
        if type(value) not in (int, float):
            raise TypeError(theirs)
        record[ours] = value * _TO_MS[node.get("unit", "ms").lower()] if time else value
    record["error"] = _error_text(line.get("error"))
    return record, float(start), float(end)


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    return str(error.get("type") or error.get("message")) if isinstance(error, dict) else str(error)


def _checked_record(reader: FileReader, line: Any, at: str) -> tuple[dict[str, Any], float, float]:
    line = reader.mapping(line, at)
    meta = reader.mapping(line.get("metadata"), f"{at}.metadata")
    start = reader.number(meta.get("request_start_ns"), f"{at}.metadata.request_start_ns") or 0.0
    end = reader.number(meta.get("request_end_ns"), f"{at}.metadata.request_end_ns", required=False)
    return _jsonl_record(reader, line, at, start), start, end or start


def _jsonl_record(reader: FileReader, line: dict[str, Any], at: str, start_ns: float) -> dict[str, Any]:
    metrics = line.get("metrics") or {}
    metrics = reader.mapping(metrics, f"{at}.metrics")

    def value(name: str, *, time: bool) -> float | None:
        node = metrics.get(name)
        if not isinstance(node, dict):
            return None
        number = reader.number(node.get("value"), f"{at}.metrics.{name}.value", required=False)
        if number is None or not time:
            return number
        unit = str(node.get("unit", "ms")).lower()
        if unit not in _TO_MS:
            raise reader.fail(f"{at}.metrics.{name}.unit", f"unknown time unit {unit!r}")
        return number * _TO_MS[unit]

    return {
        "ttft_ms": value("time_to_first_token", time=True),
        "tpot_ms": value("inter_token_latency", time=True),
        "e2e_ms": value("request_latency", time=True),
        "input_tokens": value("input_sequence_length", time=False),
        "output_tokens": value("output_sequence_length", time=False),
        "start_s": start_ns,
        "error": _error_text(line.get("error")),
    }


@hookimpl
def planner_benchmark_importers() -> list[Any]:
    """Return the GenAI-Perf/AIPerf JSON, CSV and per-request JSONL importers."""
    return [ProfileExportJson(), ProfileExportCsv(), ProfileExportJsonl()]
