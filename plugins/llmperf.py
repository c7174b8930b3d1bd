"""Benchmark importers: ray-project/llmperf summary JSON and its per-request responses.

Keys from llmperf ``token_benchmark_ray.py`` and ``src/llmperf/common_metrics.py``: the summary
is a nested dict flattened with ``_`` (``results_ttft_s_quantiles_p99``), latencies in seconds.
llmperf's ``inter_token_latency_s`` divides the whole request time, TTFT included, by the
output tokens, so the planner's TPOT is derived as ``(e2e - ttft) / (out - 1)``. Load is
always a closed loop of ``num_concurrent_requests``. The per-request file
(``*_individual_responses.json``) is a JSON list; a JSONL of the same objects is read too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from planner import hookimpl
from planner.measured_run import FileReader, MeasuredRun, distribution

_LATENCIES = {"ttft_s": "ttft_ms", "end_to_end_latency_s": "e2e_ms"}


class LlmperfSummary:
    """``<model>_<in>_<out>_summary.json``."""

    name = "llmperf-summary"
    title = "llmperf summary JSON"

    def can_read(self, path: Path, head: str) -> bool:
        """A JSON object with llmperf's flattened ``results_`` keys."""
        return head.lstrip().startswith("{") and '"results_' in head and '"num_concurrent_requests"' in head

    def read(self, path: Path) -> list[MeasuredRun]:
        """The one run of the summary."""
        reader = FileReader(path, self.title)
        doc = reader.mapping(reader.json(), "the top level")

        def num(key: str, *, required: bool = False) -> float | None:
            return reader.number(doc.get(key), key, required=required)

        latency = {}
        for theirs, ours in _LATENCIES.items():
            values = {"mean": num(f"results_{theirs}_mean")} | {
                f"p{q}": num(f"results_{theirs}_quantiles_p{q}") for q in (50, 90, 95, 99)
            }
            found = distribution(values)
            if found:
                latency[ours] = {k: v * 1000 for k, v in found.items()}
        out_mean = num("results_number_output_tokens_mean") or num("mean_output_tokens")
        e2e, ttft = latency.get("e2e_ms", {}).get("mean"), latency.get("ttft_ms", {}).get("mean")
        notes = []
        if e2e is not None and ttft is not None and out_mean and out_mean > 1:
            # Only the mean can be derived: the quantiles of a difference are not differences of quantiles.
            latency["tpot_ms"] = {"mean": (e2e - ttft) / (out_mean - 1)}
            notes.append("TPOT derived from the means: (e2e - ttft) / (output tokens - 1)")
        completed = num("results_num_completed_requests", required=True) or 0.0
        per_min = num("results_num_completed_requests_per_min")
        request_s = per_min / 60 if per_min else None
        return [
            MeasuredRun(
                format="llmperf",
                source=str(path),
                mode="closed",
                load=num("num_concurrent_requests", required=True) or 1.0,
                completed=int(completed),
                errors=int(num("results_number_errors") or 0),
                duration_s=completed / request_s if request_s else None,
                latency=latency,
                request_s=request_s,
                output_tok_s=num("results_mean_output_throughput_token_per_s"),
                input_tokens_mean=num("results_number_input_tokens_mean") or num("mean_input_tokens"),
                output_tokens_mean=out_mean,
                model=doc.get("model"),
                server={"tool": f"llmperf {doc.get('version', '?')}"},
                notes=notes,
            )
        ]


class LlmperfResponses:
    """``<model>_<in>_<out>_individual_responses.json`` (a list) or the same objects as JSONL."""

    name = "llmperf-responses"
    title = "llmperf per-request responses"

    def can_read(self, path: Path, head: str) -> bool:
        """Objects with llmperf's per-request ``ttft_s`` and ``end_to_end_latency_s``."""
        return '"end_to_end_latency_s"' in head and '"ttft_s"' in head and '"results_' not in head

    def read(self, path: Path) -> list[MeasuredRun]:
        """The one run: records here, load from the summary beside the file."""
        reader = FileReader(path, self.title)
        items = reader.json() if reader.text().lstrip().startswith("[") else reader.json_lines()
        if not isinstance(items, list) or not items:
            raise reader.fail("the top level", "expected a non-empty list of responses")
        records = [_record(reader, reader.mapping(item, f"[{i}]"), f"[{i}]") for i, item in enumerate(items)]
        done = [r for r in records if not r["error"]]
        return [
            MeasuredRun(
                format="llmperf",
                source=str(path),
                mode="closed",
                load=_concurrency(reader),
                completed=len(done),
                errors=len(records) - len(done),
                server={"tool": "llmperf"},
                notes=["no request start times: throughput comes from the summary file"],
                records=records,
            )
        ]


def _record(reader: FileReader, item: dict[str, Any], at: str) -> dict[str, Any]:
    def num(key: str) -> float | None:
        return reader.number(item.get(key), f"{at}.{key}", required=False)

    ttft, e2e, out = num("ttft_s"), num("end_to_end_latency_s"), num("number_output_tokens")
    failed = item.get("error_code") or item.get("error_msg")
    return {
        "ttft_ms": ttft * 1000 if ttft is not None else None,
        "tpot_ms": (e2e - ttft) / (out - 1) * 1000 if None not in (ttft, e2e, out) and out > 1 else None,  # type: ignore[operator]
        "e2e_ms": e2e * 1000 if e2e is not None else None,
        "input_tokens": num("number_input_tokens"),
        "output_tokens": out,
        "start_s": None,
        "error": str(item.get("error_msg") or item.get("error_code")) if failed else None,
    }


def _concurrency(reader: FileReader) -> float:
    summary = reader.path.with_name(reader.path.name.replace("_individual_responses", "_summary"))
    try:
        value = json.loads(summary.read_text(encoding="utf-8")).get("num_concurrent_requests")
        return float(value)
    except (OSError, ValueError, TypeError, AttributeError):
        raise reader.fail(
            "num_concurrent_requests",
            f"the responses do not say the concurrency, and {summary.name} beside them could not be read",
            "import it from the folder llmperf wrote, with its *_summary.json",
        ) from None


@hookimpl
def planner_benchmark_importers() -> list[Any]:
    """Return the llmperf summary and per-request importers."""
    return [LlmperfSummary(), LlmperfResponses()]
