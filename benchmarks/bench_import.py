"""Speed of ``planner bench import``, through the workflow the CLI and the desktop app call.

Writes, in a temporary folder, an AIPerf per-request ``profile_export.jsonl`` of 100,000
requests (beside the JSON export that gives its load), a ``vllm bench serve --save-detailed``
JSON of 100,000 requests (its per-request arrays, inter-token gaps left out: 16 each would
triple the file without changing what is read), and a GuideLLM report of a 50-point sweep;
then prints the time to read each (detection, parsing, normalisation and summarising from
records) and to read and store it in a project. Target: the 100k-request file under 3 s.

    python benchmarks/bench_import.py
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from planner import workflows

REQUESTS, SWEEP_POINTS = 100_000, 50
TARGET_S = 3.0
SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "benchmarks"


def write_aiperf_jsonl(folder: Path, rng: random.Random) -> Path:
    """A per-request AIPerf export of ``REQUESTS`` lines, the JSON export beside it."""
    export = json.loads(
        (SAMPLES / "aiperf" / "gpt-oss-20b-openai-chat-concurrency32" / "profile_export_aiperf.json").read_text()
    )
    (folder / "profile_export_aiperf.json").write_text(json.dumps(export), encoding="utf-8")
    start = 1_759_813_207_532_900_363
    lines = []
    for i in range(REQUESTS):
        ttft, itl, osl = 150 + rng.random() * 120, 22 + rng.random() * 2, rng.randint(80, 120)
        latency = ttft + itl * (osl - 1)
        begin = start + i * 10_000_000
        metrics = {
            "input_sequence_length": {"value": 550, "unit": "tokens"},
            "time_to_first_token": {"value": ttft, "unit": "ms"},
            "request_latency": {"value": latency, "unit": "ms"},
            "output_sequence_length": {"value": osl, "unit": "tokens"},
            "inter_token_latency": {"value": itl, "unit": "ms"},
        }
        meta = {"session_num": i, "request_start_ns": begin, "request_end_ns": begin + int(latency * 1e6)}
        lines.append(json.dumps({"metadata": meta, "metrics": metrics, "error": None}))
    path = folder / "profile_export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_vllm_detailed(folder: Path, rng: random.Random) -> Path:
    """A ``--save-detailed`` vLLM result of ``REQUESTS`` requests (arrays in seconds)."""
    doc: dict[str, Any] = json.loads((SAMPLES / "vllm-serve-concurrency16.json").read_text())
    ttfts = [0.05 + rng.random() * 0.05 for _ in range(REQUESTS)]
    outs = [rng.randint(80, 120) for _ in range(REQUESTS)]
    doc |= {
        "num_prompts": REQUESTS,
        "completed": REQUESTS,
        "failed": 0,
        "input_lens": [512] * REQUESTS,
        "output_lens": outs,
        "ttfts": ttfts,
        "latencies": [t + 0.012 * (o - 1) for t, o in zip(ttfts, outs, strict=True)],
        "start_times": [i * 0.01 for i in range(REQUESTS)],
        "errors": [""] * REQUESTS,
    }
    path = folder / "vllm-detailed-100k.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_sweep(folder: Path) -> Path:
    """A GuideLLM report of ``SWEEP_POINTS`` benchmarks at rising constant rates."""
    report = json.loads((SAMPLES / "guidellm-sweep.json").read_text())
    template = report["benchmarks"][2]
    points = []
    for i in range(SWEEP_POINTS):
        point = json.loads(json.dumps(template))
        point["config"]["strategy"]["rate"] = 0.5 * (i + 1)
        points.append(point)
    report["benchmarks"] = points
    path = folder / "sweep-50.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def seconds(fn: Callable[[], Any]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    """Write the files, then time reading and storing each."""
    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp(prefix="bench-import-")) / "gpt-oss-20b-openai-chat-concurrency32"
    folder.mkdir()
    files = {
        f"AIPerf JSONL, {REQUESTS:,} requests": write_aiperf_jsonl(folder, rng),
        f"vLLM --save-detailed, {REQUESTS:,} requests": write_vllm_detailed(folder, rng),
        f"GuideLLM sweep, {SWEEP_POINTS} points": write_sweep(folder),
    }
    session = workflows.open_session()
    db = folder.parent / "projects.db"
    workflows.create_project("Bench", db=db)
    print(f"{'file':<36} {'MiB':>6} {'read s':>7} {'read+store s':>13} runs")
    worst = 0.0
    for label, path in files.items():
        read_s = seconds(lambda path=path: workflows.import_benchmarks(session, [path]))
        stored_s = seconds(lambda path=path: workflows.import_benchmarks(session, [path], project="Bench", db=db))
        runs = len(workflows.import_benchmarks(session, [path]).runs)
        size = path.stat().st_size / 2**20
        print(f"{label:<36} {size:>6.1f} {read_s:>7.2f} {stored_s:>13.2f} {runs:>4}")
        if "requests" in label:
            worst = max(worst, read_s)
    verdict = "meets" if worst < TARGET_S else "misses"
    print(f"slowest 100k-request read: {worst:.2f} s ({verdict} the {TARGET_S:.0f} s target)")


if __name__ == "__main__":
    main()
