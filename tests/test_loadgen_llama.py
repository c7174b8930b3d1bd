"""The load generator against a REAL server: llama.cpp's llama-server (built by .ci/run) serving a
random-weight llama, and the loop closed end to end (predict, measure, calibrate, predict again)
with a vendor-style plugin for this machine. Skipped, with the reason, where the binary is absent."""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.bench.loadgen import Endpoint, LevelResult, Limits, run_sweep
from planner.bench.prompts import LengthDistribution, fit_tokenizer, synthetic_prompts
from tests.conftest import run_cli
from tests.llama_server import llama_server, server_binary, write_llama_gguf

BINARY = server_binary()
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="llama-server not built: run .ci/run (it builds it into ~/.cache/planner-ci) or set PLANNER_LLAMA_SERVER",
)
SLOTS = 8
PLUGIN = Path(__file__).parent / "data" / "plugins" / "planner-thiscpu"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-server with 8 slots on 127.0.0.1, serving the test llama as ``tiny``."""
    assert BINARY is not None
    model = write_llama_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf")
    with llama_server(BINARY, model, slots=SLOTS, context=1024) as url:
        yield url


def _sweep(url: str, loads: list[float], seconds: float) -> dict[float, LevelResult]:
    import asyncio

    endpoint = Endpoint(url, "tiny", ignore_eos=True)
    fit = asyncio.run(fit_tokenizer(endpoint))
    assert fit.measured, "llama-server reports usage in the stream"
    prompts = synthetic_prompts(fit, LengthDistribution.fixed(96), LengthDistribution.fixed(48))
    return {r.load: r for r in run_sweep(endpoint, prompts, "closed", loads, Limits(10_000, seconds))}


def _p50(result: LevelResult, figure: str) -> float:
    values = [g for r in result.records for g in r["itl_ms"]] if figure == "itl_ms" else [
        r[figure] for r in result.records]  # fmt: skip
    return statistics.median(values)


def test_real_server_batches_and_queues_past_its_slots(server: str) -> None:
    levels = _sweep(server, [1, SLOTS, 2 * SLOTS], seconds=1.5)
    for result in levels.values():
        assert result.records and all(r["error"] is None for r in result.records)
        assert all(r["output_tokens"] == 48 and not r["tokens_counted"] for r in result.records)
        # Random words vary in length: the prompt tokens scatter around the 96 asked for.
        assert abs(statistics.median(r["input_tokens"] for r in result.records) - 96) <= 10
        assert all(abs(r["input_tokens"] - 96) <= 36 for r in result.records)
    one, full, over = levels[1], levels[SLOTS], levels[2 * SLOTS]
    print(
        f"\nllama-server, {SLOTS} slots: TTFT p50 {_p50(one, 'ttft_ms'):.1f} / {_p50(full, 'ttft_ms'):.1f} / "
        f"{_p50(over, 'ttft_ms'):.1f} ms and ITL p50 {_p50(one, 'itl_ms'):.2f} / {_p50(full, 'itl_ms'):.2f} / "
        f"{_p50(over, 'itl_ms'):.2f} ms at c=1 / {SLOTS} / {2 * SLOTS}"
    )
    assert _p50(full, "ttft_ms") > _p50(one, "ttft_ms"), "TTFT rises with concurrency"
    assert _p50(over, "ttft_ms") > _p50(full, "ttft_ms"), "TTFT rises with concurrency"
    assert _p50(full, "itl_ms") > 1.5 * _p50(one, "itl_ms"), "ITL rises with the batch"
    # Past the slots, about half the requests wait for a running one to end: a TTFT near a whole E2E.
    e2e_full = _p50(full, "e2e_ms")
    queued = [r for r in over.records if r["ttft_ms"] > 0.5 * e2e_full]
    assert len(queued) >= 0.25 * len(over.records), "requests beyond the slot count queue"
    waited = sum(r["ttft_ms"] > 0.5 * e2e_full for r in full.records) / len(full.records)
    assert len(queued) / len(over.records) > waited, "within the slots, fewer requests wait"


def _installed_plugin(tmp_path: Path) -> dict[str, str]:
    """The vendor plugin installed as a distribution with an entry point, on PYTHONPATH."""
    site = tmp_path / "site"
    dist = site / "planner_thiscpu-0.1.0.dist-info"
    dist.mkdir(parents=True)
    shutil.copy(PLUGIN / "planner_thiscpu.py", site)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: planner-thiscpu\nVersion: 0.1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[planner]\nthiscpu = planner_thiscpu\n", encoding="utf-8")
    return {"PYTHONPATH": str(site), "PLANNER_HOME": str(tmp_path / "home")}


PLAN = """\
schema_version: 1
name: CI tiny llama on the CI machine
use_case: {title: Close the loop, problem: predictions must match measurement, actor: the test suite, task: chat,
           deployment: greenfield, hosting: on-prem}
workload: {input_tokens: {p50: 96, p95: 96}, output_tokens: {p50: 48, p95: 48}}
traffic: {concurrency: 8, growth: 0.1, burst_factor: 1.1}
slo: {percentile: 95, ttft_ms: 2000, itl_ms: 200, e2e_ms: 20000, availability_pct: 99.0}
model: {id: ci-tiny-llama, weights: fp32, kv_cache: fp16, context_tokens: 1024}
runtime: {id: llama.cpp, knobs: {parallel: 8}}
hardware: {gpu: ci-epyc-2vcpu}
"""


def _median_error_pct(baseline: dict) -> float:
    return statistics.median(abs(c["error_pct"]) for c in baseline["comparisons"])


def test_the_loop_closes_predict_measure_calibrate_predict_better(server: str, tmp_path: Path) -> None:
    env = _installed_plugin(tmp_path)
    plan, db = tmp_path / "plan.yaml", str(tmp_path / "projects.db")

    def cli(*args: str) -> dict:
        out = run_cli(*args, "--db", db, env=env) if args[0] != "plan" else run_cli(*args, env=env)
        assert out.returncode in (0, 1), out.stdout + out.stderr
        return json.loads(out.stdout) if "--json" in args else {}

    plan.write_text(PLAN, encoding="utf-8")
    cli("project", "new", "Loop")
    predicted = cli("plan", str(plan), "--save", "Loop", "--db", db, "--json")
    cr_predicted = predicted["sizing"]["chosen"]["simulation"]["cr_closed"]
    loads = ",".join(str(c) for c in range(1, SLOTS + 1))
    measured = cli("bench", "run", "--endpoint", server, "--model", "tiny", "--concurrency", loads, "--duration", "0.6",
                   "--plan", str(plan), "--ignore-eos", "--project", "Loop", "--json")  # fmt: skip
    assert all(r["completed"] > 0 and r["errors"] == 0 for r in measured["runs"]), [
        (r["name"], r["completed"], r["notes"]) for r in measured["runs"]]  # fmt: skip
    before = cli("bench", "baseline", "Loop", "all", "--perf-backend", "builtin", "--json")
    calibrated = cli("calibrate", "Loop", "--json")
    after = cli("bench", "baseline", "Loop", "all", "--perf-backend", "builtin", "--json")
    error_before, error_after = _median_error_pct(before), _median_error_pct(after)
    print(
        f"\npredicted Cr_closed {cr_predicted}, measured {before['envelope'].get('cr_closed')}; "
        f"median |error| of TTFT/ITL/E2E predictions over {len(before['comparisons'])} figures: "
        f"{error_before:.0f}% before calibration, {error_after:.0f}% after; "
        f"fit {calibrated['fitted_error_pct'][0]:.0f}% -> {calibrated['fitted_error_pct'][1]:.0f}%"
    )
    assert calibrated["saved_revision"] is not None
    assert calibrated["fitted_error_pct"][1] < calibrated["fitted_error_pct"][0]
    assert error_after < error_before
