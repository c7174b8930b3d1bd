"""Published measurements as estimator inputs (the calibration file's format).

Each row of a calibration CSV (see ``benchmarks/data/calibration.md``) becomes a
:class:`Measurement`: the configuration in catalog terms, how the load was applied,
and the measured figures. The accuracy script and the calibration fit both read it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from planner.catalog import Catalog
from planner.catalogfiles import load_entries
from planner.errors import InputError, PlannerError, UnknownIdError
from planner.inputfiles import read_text_file

#: Settings of the benchmark harnesses behind the calibration rows, each with its source.
HARNESSES_FILE = "calibration/harnesses.yaml"


@cache
def _harness_settings() -> dict[str, Any]:
    return {entry["id"]: entry["value"] for entry in load_entries(HARNESSES_FILE)}


def harness_setting(name: str) -> Any:
    """A setting of a benchmark harness a calibration row ran under (see ``catalogs/calibration/harnesses.yaml``)."""
    return _harness_settings()[name]


#: Mean prompt length (tokens) of each MLPerf Inference LLM dataset, whose result logs
#: carry only the output mean. Three are derived (total input tokens / samples) from
#: per-sample token counts taken from the official dataset files; the 405B figure is
#: stated by AMD. Sources in ``MLPERF_INPUT_SOURCES``.
MLPERF_MEAN_INPUT: dict[str, int] = {
    "llama2-70b-99": 222,  # 5,463,976 / 24,576 samples
    "llama2-70b-99.9": 222,
    "mixtral-8x7b": 427,  # 6,410,905 / 15,000 samples
    "llama3.1-8b": 871,  # 11,639,915 / 13,368 samples (CNN-DailyMail, datacenter set)
    "llama3.1-405b": 9428,  # stated
}
_PSAP = "https://github.com/openshift-psap/performance-dashboard/blob"
MLPERF_INPUT_SOURCES: dict[str, str] = {
    "llama2-70b-99": f"{_PSAP}/7cd1065d1e2c53ee745cbda08e2a8f13a42c93bb/mlperf-data/summaries/llama2-70b-99.csv",
    "mixtral-8x7b": f"{_PSAP}/67033baeaac181a3a35641dd2b86a7cb22d856dd/mlperf-data/summaries/mixtral-8x7b.csv",
    "llama3.1-8b": f"{_PSAP}/b04ea53f86b6b9b2c153f143084a7818376e6f0c/mlperf-data/summaries/llama3-1-8b-datacenter.csv",
    "llama3.1-405b": "https://rocm.blogs.amd.com/artificial-intelligence/mlperf-inference-v5.1/README.html (stated)",
}


@dataclass
class Measurement:
    """One published measurement, mapped onto the catalog."""

    row_id: str
    source_type: str
    source: str
    model_id: str
    gpu_id: str
    runtime_id: str
    weights_dtype: str
    kv_dtype: str
    tp: int
    pp: int
    ep: int
    attention_dp: bool
    replicas: int
    num_gpus: int
    mode: str  # offline, static, rate, concurrency, prefill_latency, prefill_throughput, decode_throughput
    isl: int
    osl: int
    batch: float | None = None  # static batch or closed-loop concurrency
    rate_per_s: float | None = None  # whole system; None with mode 'rate' means all at once
    max_batch: int | None = None  # engine batch limit per replica when the source gives it
    requests: int | None = None  # requests issued at once ('inf' rate rows)
    measured: dict[str, float] = field(default_factory=dict)
    #: The source's median TTFT, ms, where it gives one: then ``measured``'s ``ttft_ms`` (see
    #: ``FIGURE_COLUMNS``), which the replay predicts with the model's median.
    ttft_median_ms: float | None = None
    #: The source's mean TTFT, ms, where it gives one (``benchmarks/ttft_floor.py`` reads it too).
    ttft_mean_ms: float | None = None
    harness: str = ""
    notes: str = ""

    @property
    def family(self) -> str:
        """Calibration family: the runtime id, with TensorRT-LLM's pre-in-flight-batching
        harness (gptSessionBenchmark, v0.5-v0.6 static batching) kept apart."""
        return "trtllm-legacy" if "gptsession" in self.harness.lower() else self.runtime_id

    @property
    def early_build(self) -> bool:
        """Measured on an engine build from the model's first weeks (its source document is one of
        ``early_builds`` in ``catalogs/calibration/harnesses.yaml``): fitted into the general class
        only, never into a runtime's or configuration class's factors."""
        return self.source.split(" ")[0] in harness_setting("early_builds")


class CalibrationFileError(PlannerError):
    """A calibration file that cannot be read."""


def _number(text: str) -> float | None:
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)", text or "")
    return float(match.group(1)) if match else None


def _weights(text: str, model_native: str) -> str:
    t = text.lower()
    if "nvfp4" in t or ("fp4" in t and model_native != "mxfp4"):
        return "nvfp4"
    if "fp4" in t or model_native == "mxfp4":
        return "mxfp4"
    if "fp8" in t:
        return "fp8"
    if "fp16" in t and "bf16" not in t:
        return "fp16"
    return "bf16"


def _kv(text: str, weights: str) -> str:
    """A row's KV cache dtype from its kv_cache_dtype column. "auto" (the runtimes' default,
    which a column names when the source ran it) is the activation dtype, BF16 here, unless
    the checkpoint carries KV scales, which such a column does not claim. An empty column
    with FP8 or FP4 weights is FP8: the vendors' sources left blank (TensorRT-LLM's, AMD's
    FP8-KV checkpoints, the MLPerf harnesses) quantise the KV cache with the weights."""
    t = text.lower()
    if t.startswith("auto"):
        return "bf16"
    if "fp8" in t:
        return "fp8"
    if "fp16" in t or "bf16" in t:
        return "bf16"
    return "fp8" if weights in ("fp8", "nvfp4") else "bf16"


def _runtime(text: str) -> str:
    """The runtime a row's runtime column names: its leading name, before any parenthesis,
    since what follows may name the benchmark client ("vLLM (vllm serve; dstack-modified
    sglang bench_serving)" is a vLLM server measured with SGLang's client)."""
    t = text.split("(", 1)[0].lower() or text.lower()
    if "tensorrt" in t:
        return "trtllm"
    if "sglang" in t:
        return "sglang"
    return "vllm"


def _mode(scenario: str) -> str:
    return {
        "offline_max_throughput": "offline",
        "mlperf_offline": "offline",
        "offline_static_batch": "static",
        "static_batch_latency": "static",
        "online_request_rate": "rate",
        "mlperf_server": "rate",
        "mlperf_interactive": "rate",
        "online_fixed_concurrency": "concurrency",
        "batch1_prefill_latency": "prefill_latency",
        "min_latency_batch1": "static",
        "prefill_only_throughput": "prefill_throughput",
        "decode_only_throughput": "decode_throughput",
    }.get(scenario, "")


#: Each figure a row can give, read from the first of its columns the row fills: (column, metric).
#: A TTFT is the median where the source gives one (the replay predicts the model's median there),
#: else the mean: a finite closed-loop run's mean carries what a steady state does not hold, its
#: clients' first requests sent at once and the queue they leave (SGLang's cookbook, DeepSeek-R1 on
#: 8 B200 at 64 clients of 4k-token prompts: mean 914 ms, median 225 ms, p99 6.3 s), where the median
#: is the steady state's. A mean E2E stands before the median. An ITL is the mean gap (``itl_ms``)
#: where the source gives one (what throughput = batch / ITL ties to), else the median gap
#: (``itl_p50_ms``), a metric of its own: prompt chunks stretch a minority of the gaps and so raise
#: the mean above the median, and the replay predicts each.
FIGURE_COLUMNS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("output_tok_s_total", "output_tok_s"),),
    (("total_tok_s", "total_tok_s"), ("tok_s_unspecified", "total_tok_s")),
    (("ttft_p50_ms", "ttft_ms"), ("ttft_mean_ms", "ttft_ms")),
    (("itl_mean_ms", "itl_ms"), ("itl_p50_ms", "itl_p50_ms")),
    (("e2e_mean_ms", "e2e_ms"), ("e2e_p50_ms", "e2e_ms")),
)


def _measured(row: dict[str, str]) -> dict[str, float]:
    """A row's figures by metric (see ``FIGURE_COLUMNS``)."""
    out: dict[str, float] = {}
    for columns in FIGURE_COLUMNS:
        for column, metric in columns:
            value = _number(row.get(column, ""))
            if value is not None:
                out[metric] = value
                break
    return out


def parse_row(row: dict[str, str], catalog: Catalog) -> Measurement | str:
    """Map one CSV row onto the catalog; return a reason string when it cannot be used."""
    try:
        model = catalog.models.get(re.sub(r"/.*$", "", row["model"]))
        gpu = catalog.gpus.get(row["gpu"])
    except UnknownIdError as exc:
        return exc.message
    mode = _mode(row["scenario"])
    if row["scenario"].endswith("_speculative"):
        return "measured with speculative decoding (MTP), where the model times plain autoregressive decode"
    if not mode:
        return f"scenario {row['scenario']!r} not modelled"
    tp_text, ep_text = row["tp"], row["ep"]
    attention_dp = "attention-dp" in tp_text.lower()
    tp = int(_number(tp_text) or 1)
    ep = int(_number(ep_text) or 1)
    num_gpus = int(_number(row["num_gpus"]) or 1)
    replicas = int(_number(row["replicas"]) or 1)
    if attention_dp:
        ep = tp if tp > 1 else num_gpus // replicas
        tp = 1
    weights = _weights(row["weight_precision"], model.native_weight_dtype)
    osl = round(_number(row["output_len"]) or 1)
    isl_value = _number(row["input_len"])
    if isl_value is None:
        benchmark = _mlperf_benchmark(row["source"])
        if benchmark not in MLPERF_MEAN_INPUT:
            return f"no input length for MLPerf benchmark {benchmark!r}"
        isl_value = MLPERF_MEAN_INPUT[benchmark]
    rate_text = row["request_rate_per_s"]
    measurement = Measurement(
        row_id=row["id"],
        source_type=row["source_type"],
        source=row["source"],
        model_id=model.id,
        gpu_id=gpu.id,
        runtime_id=_runtime(row["runtime"]),
        weights_dtype=weights,
        kv_dtype=_kv(row["kv_cache_dtype"], weights),
        tp=tp,
        pp=int(_number(row["pp"]) or 1),
        ep=ep,
        attention_dp=attention_dp,
        replicas=replicas,
        num_gpus=num_gpus,
        mode=mode,
        isl=int(isl_value),
        osl=osl,
        batch=_number(row["concurrency"]) or _number(row["max_batch"])
        if mode == "static"
        else _number(row["concurrency"]),
        rate_per_s=_number(rate_text) if mode == "rate" else None,
        max_batch=int(_number(row["max_batch"]) or 0) or None,
        requests=harness_setting("trtllm_online_requests_per_point") if "inf" in rate_text else None,
        measured=_measured(row),
        ttft_median_ms=_number(row.get("ttft_p50_ms", "")),
        ttft_mean_ms=_number(row.get("ttft_mean_ms", "")),
        harness=row["runtime"],
        notes=row.get("notes", ""),
    )
    if row["scenario"] == "batch1_prefill_latency":
        measurement.batch = 1
    if not measurement.measured:
        return "no measured figure"
    return measurement


def _mlperf_benchmark(source: str) -> str:
    match = re.search(r"/results/[^/]+/([^/]+)/", source)
    return match.group(1) if match else ""


def load_measurements(path: Path, catalog: Catalog) -> tuple[list[Measurement], list[tuple[str, str]]]:
    """Read a calibration CSV.

    :returns: the usable measurements, and ``(row id, reason)`` for rows left out.
    :raises CalibrationFileError: when the file is missing, not UTF-8 text, or lacks required columns.
    """
    try:
        text = read_text_file(path)
    except InputError as exc:
        problem = exc.problems[0]
        raise CalibrationFileError(f"cannot read {path}: {problem.what}", fix=problem.fix) from None
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    required = {"id", "model", "gpu", "scenario", "tp", "num_gpus", "input_len", "output_len", "runtime"}
    missing = required - set(rows[0] if rows else ())
    if missing:
        raise CalibrationFileError(
            f"{path} lacks columns {', '.join(sorted(missing))}", fix="use the calibration.csv column layout"
        )
    usable, skipped = [], []
    for row in rows:
        parsed = parse_row(row, catalog)
        if isinstance(parsed, str):
            skipped.append((row["id"], parsed))
        else:
            usable.append(parsed)
    return usable, skipped
