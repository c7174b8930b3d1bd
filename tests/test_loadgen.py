"""The load generator (``planner bench run``) against a small in-test OpenAI-compatible server:
faults by kind, the two loops, tokenizer calibration, storing runs, bad input, Ctrl-C."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from planner import workflows
from planner.bench.loadgen import Endpoint, Limits, Prompt, measured_run, run_sweep
from planner.errors import PlannerError
from planner.workflows.bench import project_runs
from tests.conftest import CLI_BACKEND, run_cli
from tests.openai_stub import StubServer, serving

FAULTS = ("ok", "429", "500", "503", "stall", "drop", "malformed", "no_usage")


def _prompts(tokens: int = 4) -> itertools.repeat[Prompt]:
    return itertools.repeat(Prompt("a short prompt", tokens))


def test_each_fault_is_recorded_as_its_kind_and_the_run_survives() -> None:
    # The stall timeout leaves a busy machine's slow answers well clear of it.
    with serving(StubServer(behaviours=FAULTS, tokens=4, stall_s=3.0)) as stub:
        endpoint = Endpoint(stub.url, "m", stall_timeout_s=1.0)
        [result] = run_sweep(endpoint, _prompts(), "closed", [2], Limits(2 * len(FAULTS), 20))
    run = measured_run(result, endpoint, "stub")
    kinds = {r["error"] for r in result.records}
    assert run.server["error_kinds"] == {"rate_limited": 2, "server_error": 4, "stalled": 2, "dropped": 2,
                                         "malformed": 2}  # fmt: skip
    assert kinds >= {None} and run.completed == 4 and run.errors == 12
    # The server that ignored stream_options: completed, tokens counted from chunks and flagged.
    counted = [r for r in result.records if r["tokens_counted"] and not r["error"]]
    assert len(counted) == 2 and all(r["output_tokens"] == 4 for r in counted)
    assert run.server["tokens_counted"] == 2
    assert any("counted from text chunks" in n for n in run.notes)
    # Summary figures come from the successful requests only.
    assert run.output_tokens_mean == 4 and run.latency["ttft_ms"]["p50"] > 0


def test_closed_loop_holds_the_users_in_flight_and_records_streams() -> None:
    with serving(StubServer(tokens=5, token_delay_s=0.01)) as stub:
        endpoint = Endpoint(stub.url, "m")
        [result] = run_sweep(endpoint, _prompts(5), "closed", [3], Limits(12, 20))
        assert stub.max_in_flight == 3
        body = stub.bodies[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "a short prompt"}]
    assert len(result.records) == 12 and all(r["error"] is None for r in result.records)
    record = result.records[0]
    # First chunk carries only the role: TTFT is the first text; 5 tokens 10 ms apart give 4 gaps
    # (a late read can merge two chunks, so only their sum is certain, less the first one's lateness).
    assert len(record["itl_ms"]) == 4 and sum(record["itl_ms"]) >= 25
    assert record["e2e_ms"] == pytest.approx(record["ttft_ms"] + sum(record["itl_ms"]), abs=0.01)
    assert record["output_tokens"] == 5
    assert record["tpot_ms"] == pytest.approx((record["e2e_ms"] - record["ttft_ms"]) / 4, abs=0.01)


def test_open_loop_arrivals_are_not_slowed_by_a_slow_server() -> None:
    # Each request takes ~0.25 s; at 40 req/s a closed loop could not keep up, an open loop must.
    with serving(StubServer(tokens=5, token_delay_s=0.05, keep_bodies=False)) as stub:
        endpoint = Endpoint(stub.url, "m", api="completions")
        [result] = run_sweep(endpoint, _prompts(5), "open", [40], Limits(30, 10))
        assert stub.max_in_flight >= 5
    starts = [r["start_s"] for r in result.records]
    assert len(starts) == 30 and all(r["error"] is None for r in result.records)
    # 30 Poisson arrivals at 40/s span about 0.75 s, whatever the server's pace.
    assert starts[-1] - starts[0] < 2.0
    assert all(r["e2e_ms"] >= 200 for r in result.records)
    run = measured_run(result, endpoint, "stub")
    assert run.mode == "open" and run.load == 40 and run.name == "open loop 40 req/s"


def test_a_connection_closed_before_any_answer_is_sent_again_once() -> None:
    with serving(StubServer(behaviours=("close", "ok", "close", "close"), tokens=3)) as stub:
        endpoint = Endpoint(stub.url, "m")
        [result] = run_sweep(endpoint, _prompts(3), "closed", [1], Limits(2, 10))
    first, second = result.records
    assert first["retried"] and first["error"] is None and first["output_tokens"] == 3
    assert second["retried"] and second["error"] == "connection"


def test_a_request_longer_than_the_timeout_is_a_timeout_though_tokens_keep_coming() -> None:
    with serving(StubServer(tokens=20, token_delay_s=0.05)) as stub:
        endpoint = Endpoint(stub.url, "m", request_timeout_s=0.3, stall_timeout_s=5)
        [result] = run_sweep(endpoint, _prompts(20), "closed", [1], Limits(2, 10))
    assert [r["error"] for r in result.records] == ["timeout", "timeout"]
    assert all(300 <= r["e2e_ms"] < 1000 and r["ttft_ms"] is not None for r in result.records)


def test_connection_refused_is_a_connection_error(tmp_path: Path) -> None:
    with serving(StubServer()) as stub:
        url = stub.url  # the port is free again once the server is gone
    endpoint = Endpoint(url, "m", request_timeout_s=5)
    [result] = run_sweep(endpoint, _prompts(), "closed", [1], Limits(3, 5))
    assert [r["error"] for r in result.records] == ["connection"] * 3


def _project(tmp_path: Path) -> Path:
    db = tmp_path / "projects.db"
    workflows.create_project("Live", db=db)
    return db


def test_cli_measures_calibrates_prompt_lengths_and_stores_runs(tmp_path: Path) -> None:
    db = _project(tmp_path)
    with serving(StubServer(tokens=6)) as stub:
        out = run_cli("bench", "run", "--endpoint", stub.url + "/v1", "--model", "tiny", "--concurrency", "1,2",
                      "--requests", "8", "--input-tokens", "40", "--output-tokens", "6", "--project", "Live",
                      "--db", str(db), "--json")  # fmt: skip
        probes = stub.bodies[:2]
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    # The stub counts whitespace words of the message list: 1 per word plus 3 of template.
    assert report["tokenizer"]["measured"] and report["tokenizer"]["tokens_per_word"] == pytest.approx(1.0)
    assert [p["max_tokens"] for p in probes] == [1, 1]
    assert [r["name"] for r in report["runs"]] == ["closed loop c=1", "closed loop c=2"]
    assert all(r["input_tokens_mean"] == pytest.approx(40, abs=1) for r in report["runs"])
    assert report["stored"] == [1, 2]
    slo = workflows.SloTargets(ttft_ms=2000, itl_ms=200, e2e_ms=5000)
    envelope = workflows.bench_envelope(workflows.open_session(), project="Live", slo=slo, db=db)
    assert envelope.runs == 2 and envelope.envelope.cr_closed == 2
    runs = project_runs("Live", db)
    assert runs[0].format == "planner-loadgen" and len(runs[0].records) == 8
    assert runs[1].records[0]["itl_ms"] and runs[1].latency["itl_ms"]["p50"] >= 0


def test_cli_plain_text_and_dataset_prompts(tmp_path: Path) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "one two three", "max_tokens": 3}\n{"prompt": "four five"}\n', encoding="utf-8")
    with serving(StubServer()) as stub:
        out = run_cli("bench", "run", "--endpoint", stub.url, "--model", "m", "--rate", "50", "--requests", "4",
                      "--dataset", str(data), "--output-tokens", "2", "--api", "completions")  # fmt: skip
        bodies = stub.bodies
    assert out.returncode == 0, out.stderr
    # Open-loop arrivals may overtake each other on the wire: compare as sets of pairs.
    assert sorted((b["prompt"], b["max_tokens"]) for b in bodies) == [("four five", 2)] * 2 + [("one two three", 3)] * 2
    assert "open loop 50 req/s" in out.stdout and "not stored" in out.stdout
    assert "prompts: dataset" in out.stdout
    assert out.stderr == "", "no progress bar on a pipe"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"loads": [0.0]}, ["--concurrency"]),
        ({"loads": [1.5]}, ["--concurrency"]),
        ({"limits": Limits(0, 10)}, ["--requests"]),
        ({"limits": Limits(5, -1)}, ["--duration"]),
        ({"output_tokens": 0}, ["--output-tokens"]),
        ({"project": "Nope"}, ["no project named 'Nope'"]),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(tmp_path: Path, change: dict, names: list[str]) -> None:
    db = _project(tmp_path)
    project = change.pop("project", "Live")
    with serving(StubServer()) as stub:
        request = workflows.LoadRequest(Endpoint(stub.url, "m"), "closed", [1.0], Limits(5, 10))
        with pytest.raises(PlannerError) as caught:
            workflows.bench_run(workflows.open_session(), replace(request, **change), project=project, db=db)
        assert stub.requests == 0
    assert all(name in str(caught.value) + caught.value.path for name in names), str(caught.value)


def test_cli_bad_dataset_line_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "fine"}\n{"prompt": "x", "max_tokens": "many"}\n', encoding="utf-8")
    with serving(StubServer()) as stub:
        out = run_cli(
            "bench", "run", "--endpoint", stub.url, "--model", "m", "--concurrency", "1", "--dataset", str(data)
        )
        assert stub.requests == 0
    assert out.returncode == 2, out.stdout + out.stderr
    assert "prompts.jsonl" in out.stderr and "line 2, max_tokens" in out.stderr and "Traceback" not in out.stderr


def test_an_endpoint_that_is_down_fails_the_probe_with_one_clear_error() -> None:
    with serving(StubServer()) as stub:
        url = stub.url
    request = workflows.LoadRequest(Endpoint(url, "m", request_timeout_s=5), "closed", [1.0], Limits(5, 10))
    with pytest.raises(PlannerError, match=r"probe request \(connection") as caught:
        workflows.bench_run(workflows.open_session(), request)
    assert caught.value.path.endswith("/v1/chat/completions") and "--model" in caught.value.fix


def test_ctrl_c_stops_cleanly_and_keeps_what_was_measured(tmp_path: Path) -> None:
    db = _project(tmp_path)
    with serving(StubServer(tokens=4, token_delay_s=0.02, keep_bodies=False)) as stub:
        command = [sys.executable, "-m", "planner", "bench", "run", "--endpoint", stub.url, "--model", "m",
                   "--concurrency", "2,4", "--duration", "60", "--requests", "100000", "--input-tokens", "8", "--output-tokens", "4",
                   "--project", "Live", "--db", str(db)]  # fmt: skip
        env = {**os.environ, **CLI_BACKEND}
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
            deadline = time.monotonic() + 30
            while stub.requests < 12 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "stopped (Ctrl-C)" in stdout and "stored runs 1" in stdout
    [run] = project_runs("Live", db)
    assert run.load == 2 and run.completed >= 4 and run.server["stopped"] == "stopped (Ctrl-C)"
    assert all(r["error"] is None for r in run.records)


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux `script` (a pseudo-terminal) is not installed")
def test_a_terminal_gets_a_progress_bar_per_level() -> None:
    with serving(StubServer(tokens=2, keep_bodies=False)) as stub:
        command = (f"{sys.executable} -m planner bench run --endpoint {stub.url} --model m --concurrency 1,2 "
                   "--requests 20 --input-tokens 4 --output-tokens 2")  # fmt: skip
        env = {**os.environ, **CLI_BACKEND, "COLUMNS": "120"}
        tty = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, env=env,
                             timeout=60)  # fmt: skip
    assert tty.returncode == 0, tty.stdout
    assert "c=1: 0 errors" in tty.stdout and "20/20" in tty.stdout
