"""Benchmark importer: ``vllm bench serve --save-result`` JSON (and legacy ``benchmark_serving.py``).

Keys from vllm-project/vllm ``vllm/benchmarks/serve.py`` (``main_async``, ``benchmark()``) and
the legacy ``benchmarks/benchmark_serving.py``: summary latencies are ``mean_/median_/pNN_{m}_ms``
in milliseconds; the per-request arrays of ``--save-detailed`` (``ttfts``, ``latencies``,
``itls``) are in seconds. ``--append-result`` writes one JSON object per line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from planner import hookimpl
from planner.measured_run import FileReader, MeasuredRun, distribution

#: vLLM metric names and the planner's (``e2el`` is vLLM's end-to-end latency).
_METRICS = {"ttft": "ttft_ms", "tpot": "tpot_ms", "itl": "itl_ms", "e2el": "e2e_ms"}
_SIGNATURE = re.compile(r'"request_throughput"\s*:\s*-?\d|"num_prompts"\s*:')
#: Header keys that describe the server rather than the load.
_SERVER_KEYS = ("backend", "endpoint_type", "label", "tokenizer_id", "burstiness", "date")


class VllmBenchServe:
    """``vllm bench serve --save-result`` JSON or JSONL."""

    name = "vllm-bench-serve"
    title = "vLLM bench serve JSON"

    def can_read(self, path: Path, head: str) -> bool:
        """A JSON object with vLLM's ``request_throughput`` number or its ``num_prompts`` header."""
        return head.lstrip().startswith("{") and bool(_SIGNATURE.search(head)) and '"results_' not in head

    def read(self, path: Path) -> list[MeasuredRun]:
        """One run per JSON object in the file."""
        reader = FileReader(path, self.title)
        text = reader.text()
        lines = [line for line in text.splitlines() if line.strip()]
        appended = len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines)
        documents = reader.json_lines() if appended else [reader.json()]
        return [
            _run(reader, reader.mapping(doc, f"line {i + 1}" if appended else "the top level"), i, len(documents))
            for i, doc in enumerate(documents)
        ]


def _run(reader: FileReader, doc: dict[str, Any], index: int, count: int) -> MeasuredRun:
    completed = int(reader.number(doc.get("completed"), "completed") or 0)
    records = _records(reader, doc)
    failed = doc.get("failed")
    errors = int(reader.number(failed, "failed") or 0) if failed is not None else sum(1 for r in records if r["error"])
    mode, load, notes = _load(reader, doc)
    if "request_goodput:" in doc:
        notes.append("legacy benchmark_serving.py file (its goodput key ends in a colon)")
    inputs = reader.number(doc.get("total_input_tokens"), "total_input_tokens", required=False)
    outputs = reader.number(doc.get("total_output_tokens"), "total_output_tokens", required=False)
    return MeasuredRun(
        format=VllmBenchServe.name,
        source=str(reader.path) + (f"#{index + 1}" if count > 1 else ""),
        mode=mode,
        load=load,
        completed=completed,
        errors=errors,
        duration_s=reader.number(doc.get("duration"), "duration", required=False),
        latency=_latencies(reader, doc),
        request_s=reader.number(doc.get("request_throughput"), "request_throughput", required=False),
        output_tok_s=reader.number(doc.get("output_throughput"), "output_throughput", required=False),
        total_tok_s=reader.number(doc.get("total_token_throughput"), "total_token_throughput", required=False),
        input_tokens_mean=inputs / completed if inputs is not None and completed else None,
        output_tokens_mean=outputs / completed if outputs is not None and completed else None,
        model=doc.get("model_id"),
        hardware=doc.get("hardware") or doc.get("gpu"),
        server={k: doc[k] for k in _SERVER_KEYS if doc.get(k) is not None},
        notes=notes,
        records=records,
    )


def _load(reader: FileReader, doc: dict[str, Any]) -> tuple[str, float, list[str]]:
    """``request_rate`` inf with ``max_concurrency`` N is a closed loop of N; a finite rate is an open loop."""
    rate = reader.number(doc.get("request_rate"), "request_rate")
    cap = reader.number(doc.get("max_concurrency"), "max_concurrency", required=False)
    assert rate is not None
    if math.isinf(rate):
        return ("closed", cap, []) if cap else ("open", math.inf, ["every request sent at once (request_rate inf)"])
    notes = [f"open loop capped at {cap:g} requests in flight (max_concurrency)"] if cap else []
    return "open", rate, notes


def _latencies(reader: FileReader, doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for theirs, ours in _METRICS.items():
        values = {
            "mean": doc.get(f"mean_{theirs}_ms"),
            "p50": doc.get(f"median_{theirs}_ms", doc.get(f"p50_{theirs}_ms")),
            **{f"p{q}": doc.get(f"p{q}_{theirs}_ms") for q in (90, 95, 99)},
        }
        numbers = {k: reader.number(v, f"{k}_{theirs}_ms", required=False) for k, v in values.items()}
        found = distribution(numbers)
        if found:
            out[ours] = found
    return out


def _records(reader: FileReader, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-request records from the ``--save-detailed`` arrays (seconds), when the file has them."""
    if not isinstance(doc.get("ttfts"), list) or not isinstance(doc.get("latencies"), list):
        return []
    arrays = {key: doc.get(key) for key in ("ttfts", "latencies", "output_lens", "input_lens", "errors", "start_times")}
    size = len(arrays["ttfts"] or [])
    for key, values in arrays.items():
        if values is not None and (not isinstance(values, list) or len(values) != size):
            raise reader.fail(key, f"expected a list of {size} values (one per request, like ttfts)")
    ttfts, latencies = arrays["ttfts"] or [], arrays["latencies"] or []
    outs, ins = arrays["output_lens"] or [None] * size, arrays["input_lens"] or [None] * size
    errs, starts = arrays["errors"] or [""] * size, arrays["start_times"] or [None] * size
    try:
        return [_record(*row) for row in zip(ttfts, latencies, outs, ins, errs, starts, strict=True)]
    except (TypeError, ValueError) as exc:
        for key in ("ttfts", "latencies", "output_lens", "input_lens", "start_times"):
            for i, value in enumerate(arrays[key] or []):
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise reader.fail(f"{key}[{i}]", f"expected a number, found {value!r}") from exc
        raise reader.fail("the per-request arrays", str(exc)) from exc


def _record(ttft_s: Any, e2e_s: Any, out: Any, isl: Any, error: Any, start: Any) -> dict[str, Any]:
    e2e_ms = float(e2e_s) * 1000
    ttft_ms = float(ttft_s) * 1000
    tpot = (e2e_ms - ttft_ms) / (out - 1) if out is not None and out > 1 else None
    return {
        "ttft_ms": ttft_ms,
        "tpot_ms": tpot,
        "e2e_ms": e2e_ms,
        "input_tokens": isl,
        "output_tokens": out,
        "start_s": start,
        "error": error or None,
    }


@hookimpl
def planner_benchmark_importers() -> list[Any]:
    """Return the vLLM bench serve importer."""
    return [VllmBenchServe()]
