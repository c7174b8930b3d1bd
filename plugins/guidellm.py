"""Benchmark importer: GuideLLM reports (JSON or YAML), every report schema since 0.3.

Shapes from vllm-project/guidellm: ``src/guidellm/benchmark/schemas/report.py`` (v0.7:
``metadata.version`` 2 with ``config``; v0.5-0.6: version 1 with ``args``; v0.4: ``args``
without metadata) and tag v0.3.0 ``src/guidellm/benchmark/benchmark.py`` (each benchmark
with its own ``args`` and ``run_stats``). A sweep is already expanded by GuideLLM into one
benchmark per rate; each becomes a run. Metrics are status distribution summaries
(``{successful: {mean, median, percentiles: {p50, p90, ...}}}``); ``request_latency`` is in
seconds, the ``*_ms`` ones in milliseconds. ``inter_token_latency_ms`` excludes the first
token (the planner's TPOT); ``time_per_output_token_ms`` includes it and is not used.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from planner import hookimpl
from planner.measured_run import FileReader, MeasuredRun, distribution

#: GuideLLM metric, the planner's figure, and the factor to milliseconds.
_LATENCIES = (
    ("time_to_first_token_ms", "ttft_ms", 1.0),
    ("inter_token_latency_ms", "tpot_ms", 1.0),
    ("request_latency", "e2e_ms", 1000.0),
)
_SIGNATURE = re.compile(r"generative_benchmark|guidellm_version|time_to_first_token_ms")


class GuideLLMReport:
    """A GuideLLM benchmarks report, JSON or YAML."""

    name = "guidellm"
    title = "GuideLLM report"

    def can_read(self, path: Path, head: str) -> bool:
        """A document with ``benchmarks`` and GuideLLM's benchmark type or metric names."""
        return "benchmarks" in head and bool(_SIGNATURE.search(head))

    def read(self, path: Path) -> list[MeasuredRun]:
        """One run per benchmark (a sweep's rates included)."""
        reader = FileReader(path, self.title)
        yaml_file = path.suffix.lower() in (".yaml", ".yml") or not reader.text().lstrip().startswith("{")
        report = reader.mapping(reader.yaml() if yaml_file else reader.json(), "the top level")
        benchmarks = report.get("benchmarks")
        if not isinstance(benchmarks, list) or not benchmarks:
            raise reader.fail("benchmarks", "expected a non-empty list of benchmarks")
        version = _version(report)
        model = _model(report)
        return [
            _run(reader, reader.mapping(b, f"benchmarks[{i}]"), f"benchmarks[{i}]", i, len(benchmarks), version, model)
            for i, b in enumerate(benchmarks)
        ]


def _version(report: dict[str, Any]) -> str:
    meta = report.get("metadata")
    if isinstance(meta, dict):
        return f"guidellm {meta.get('guidellm_version', '?')} (report schema {meta.get('version', '?')})"
    return "guidellm 0.4 (args, no metadata)" if "args" in report else "guidellm 0.3 (per-benchmark args)"


def _model(report: dict[str, Any]) -> str | None:
    for section in ("config", "args"):
        value = report.get(section)
        if isinstance(value, dict) and isinstance(value.get("model"), str):
            return str(value["model"])
    return None


def _strategy(reader: FileReader, b: dict[str, Any], where: str) -> dict[str, Any]:
    for section in ("config", "args", "scheduler"):
        holder = b.get(section)
        if isinstance(holder, dict) and isinstance(holder.get("strategy"), dict):
            return dict(holder["strategy"])
    raise reader.fail(f"{where}.config.strategy", "the benchmark does not say how load was applied")


def _load(reader: FileReader, b: dict[str, Any], where: str, metrics: dict[str, Any]) -> tuple[str, float, list[str]]:
    """GuideLLM strategies as loads: synchronous and concurrent are closed loops, constant and poisson open ones."""
    strategy = _strategy(reader, b, where)
    kind = strategy.get("type_")
    at = f"{where}.config.strategy"
    if kind == "synchronous":
        return "closed", 1.0, []
    if kind == "concurrent":
        return "closed", reader.number(strategy.get("streams"), f"{at}.streams") or 1.0, []
    if kind in ("constant", "poisson"):
        return "open", reader.number(strategy.get("rate"), f"{at}.rate") or 0.0, [f"{kind} arrivals"]
    if kind == "throughput":
        cap = reader.number(strategy.get("max_concurrency"), f"{at}.max_concurrency", required=False)
        if cap:
            return "closed", cap, ["throughput strategy: as many requests as max_concurrency allows"]
        measured = _stat(reader, metrics, "request_concurrency", f"{where}.metrics").get("mean")
        if measured:
            return "closed", round(measured, 1), ["throughput strategy: load is the measured mean concurrency"]
        return "open", math.inf, ["throughput strategy: every request sent at once"]
    raise reader.fail(
        f"{at}.type_",
        f"unknown strategy {kind!r}",
        "expected synchronous, concurrent, throughput, constant or poisson (a trace replay has no single load)",
    )


def _stat(reader: FileReader, metrics: dict[str, Any], name: str, where: str) -> dict[str, float]:
    """The successful requests' mean and percentiles of one metric (``{}`` when absent)."""
    node = metrics.get(name)
    if node is None:
        return {}
    node = reader.mapping(node, f"{where}.{name}")
    summary = reader.mapping(node.get("successful", {}), f"{where}.{name}.successful")
    pct = reader.mapping(summary.get("percentiles") or {}, f"{where}.{name}.successful.percentiles")
    values = {
        "mean": summary.get("mean"),
        "p50": pct.get("p50", summary.get("median")),
        **{f"p{q}": pct.get(f"p{q}") for q in (90, 95, 99)},
    }
    here = f"{where}.{name}.successful"
    fields = {k: f"{here}.{k}" if k == "mean" else f"{here}.percentiles.{k}" for k in values}
    return distribution({k: reader.number(v, fields[k], required=False) for k, v in values.items()})


def _totals(reader: FileReader, b: dict[str, Any], metrics: dict[str, Any], where: str) -> dict[str, int]:
    for holder, key, at in (
        (metrics, "request_totals", f"{where}.metrics.request_totals"),
        (b.get("run_stats") or {}, "requests_made", f"{where}.run_stats.requests_made"),
        (b.get("scheduler_metrics") or {}, "requests_made", f"{where}.scheduler_metrics.requests_made"),
    ):
        if isinstance(holder, dict) and key in holder:
            counts = reader.mapping(holder[key], at)
            return {
                s: int(reader.number(counts.get(s, 0), f"{at}.{s}") or 0)
                for s in ("successful", "errored", "incomplete")
            }
    raise reader.fail(f"{where}.metrics.request_totals", "the benchmark does not count its requests")


def _duration(reader: FileReader, b: dict[str, Any], where: str) -> float | None:
    if b.get("duration") is not None:
        return reader.number(b["duration"], f"{where}.duration")
    for holder in (b, b.get("run_stats") or {}):
        if isinstance(holder, dict) and holder.get("start_time") is not None and holder.get("end_time") is not None:
            end = reader.number(holder["end_time"], f"{where}.end_time") or 0.0
            return end - (reader.number(holder["start_time"], f"{where}.start_time") or 0.0)
    return None


def _run(
    reader: FileReader, b: dict[str, Any], where: str, index: int, count: int, version: str, model: str | None
) -> MeasuredRun:
    metrics = reader.mapping(b.get("metrics"), f"{where}.metrics")
    totals = _totals(reader, b, metrics, where)
    mode, load, notes = _load(reader, b, where, metrics)
    if totals["incomplete"]:
        notes.append(f"{totals['incomplete']} requests still running when the benchmark ended (not counted)")
    latency = {}
    for theirs, ours, to_ms in _LATENCIES:
        found = _stat(reader, metrics, theirs, f"{where}.metrics")
        if found:
            latency[ours] = {k: v * to_ms for k, v in found.items()}

    def mean(name: str) -> float | None:
        return _stat(reader, metrics, name, f"{where}.metrics").get("mean")

    return MeasuredRun(
        format=GuideLLMReport.name,
        source=f"{reader.path}#{index + 1}" if count > 1 else str(reader.path),
        mode=mode,
        load=load,
        completed=totals["successful"],
        errors=totals["errored"],
        duration_s=_duration(reader, b, where),
        latency=latency,
        request_s=mean("requests_per_second"),
        output_tok_s=mean("output_tokens_per_second"),
        total_tok_s=mean("tokens_per_second"),
        input_tokens_mean=mean("prompt_token_count"),
        output_tokens_mean=mean("output_token_count"),
        model=model,
        server={"tool": version},
        notes=notes,
        records=_records(reader, b.get("requests"), f"{where}.requests"),
        records_sampled=True,
    )


def _records(reader: FileReader, requests: Any, where: str) -> list[dict[str, Any]]:
    """The requests GuideLLM kept (a sample per status), in the planner's record shape."""
    if not isinstance(requests, dict):
        return []
    out = []
    for status in ("successful", "errored"):
        for i, r in enumerate(requests.get(status) or []):
            at = f"{where}.{status}[{i}]"
            r = reader.mapping(r, at)
            latency_s = reader.number(r.get("request_latency"), f"{at}.request_latency", required=False)
            out.append(
                {
                    "ttft_ms": reader.number(r.get("time_to_first_token_ms"), f"{at}.ttft", required=False),
                    "tpot_ms": reader.number(r.get("inter_token_latency_ms"), f"{at}.itl", required=False),
                    "e2e_ms": latency_s * 1000 if latency_s is not None else None,
                    "input_tokens": r.get("prompt_tokens"),
                    "output_tokens": r.get("output_tokens"),
                    "start_s": None,
                    "error": None if status == "successful" else str(r.get("error") or "errored"),
                }
            )
    return out


@hookimpl
def planner_benchmark_importers() -> list[Any]:
    """Return the GuideLLM report importer."""
    return [GuideLLMReport()]
