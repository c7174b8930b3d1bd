"""Benchmark import: every format on real-shaped files (tests/data/benchmarks, see its README),
awkward ones included, malformed files with the error checked, and all-or-nothing storage."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from planner import hookimpl, workflows
from planner.bench.importing import benchmark_importers, read_benchmark_files
from planner.manager import make_plugin_manager
from planner.measured_run import BenchmarkFileError, FileReader, MeasuredRun
from planner.simulate import percentile
from tests.conftest import REPO, run_cli

DATA = REPO / "tests" / "data" / "benchmarks"
GENAI = DATA / "genai-perf" / "meta-llama_Llama-3.1-8B-Instruct-openai-chat-concurrency8"
AIPERF = DATA / "aiperf" / "gpt-oss-20b-openai-chat-concurrency32"
LLMPERF = DATA / "llmperf" / "tinyLlama-TinyLlama-1-1B-Chat-v1-0_256_100"


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


def read(session: workflows.Session, *paths: Path) -> list[MeasuredRun]:
    return workflows.import_benchmarks(session, list(paths)).runs


# ------------------------------------------------------------------------------ vLLM


def test_vllm_current_keys_in_milliseconds(session: workflows.Session) -> None:
    (run,) = read(session, DATA / "vllm-serve-concurrency16.json")
    assert (run.format, run.mode, run.load, run.completed, run.errors) == ("vllm-bench-serve", "closed", 16, 498, 2)
    assert run.latency["ttft_ms"] == {"mean": 61.3, "p50": 55.2, "p90": 88.1, "p95": 104.7, "p99": 151.9}
    assert run.latency["tpot_ms"]["p95"] == 14.4 and run.latency["itl_ms"]["p99"] == 31.2
    assert run.latency["e2e_ms"]["p50"] == 1950.3  # vLLM's e2el
    assert run.input_tokens_mean == pytest.approx(255000 / 498) and run.hardware == "1x H100-SXM5-80GB"


def test_vllm_detailed_arrays_in_seconds_become_milliseconds(session: workflows.Session) -> None:
    raw = json.loads((DATA / "vllm-serve-detailed-4qps.json").read_text())
    (run,) = read(session, DATA / "vllm-serve-detailed-4qps.json")
    assert (run.mode, run.load, run.completed, run.errors, len(run.records)) == ("open", 4.0, 198, 2, 200)
    assert run.records[0]["ttft_ms"] == pytest.approx(raw["ttfts"][0] * 1000)
    assert run.records[0]["e2e_ms"] == pytest.approx(raw["latencies"][0] * 1000)
    assert run.records[17]["error"] == "Bad Request: 400"
    # the file's own figures (ms) are kept; the percentiles it lacks come from the records (s)
    assert run.latency["ttft_ms"]["p99"] == raw["p99_ttft_ms"]
    good = sorted(t * 1000 for t, e in zip(raw["ttfts"], raw["errors"], strict=True) if not e)
    assert run.latency["ttft_ms"]["p95"] == pytest.approx(percentile(good, 95))
    assert run.latency["ttft_ms"]["p50"] == pytest.approx(raw["median_ttft_ms"], abs=0.5)
    assert run.latency["tpot_ms"]["mean"] == pytest.approx(raw["mean_tpot_ms"], rel=1e-3)


def test_vllm_legacy_file_and_appended_results(session: workflows.Session) -> None:
    (legacy,) = read(session, DATA / "benchmark_serving-legacy-2qps.json")
    assert (legacy.mode, legacy.load, legacy.completed, legacy.errors) == ("open", 2.0, 1000, 0)
    assert any("legacy" in note for note in legacy.notes)
    runs = read(session, DATA / "vllm-append-result.jsonl")
    assert [(r.load, r.source.endswith(f"#{i + 1}")) for i, r in enumerate(runs)] == [(1.0, True), (8.0, True)]


# -------------------------------------------------------------------------- GuideLLM


def test_a_guidellm_sweep_with_failed_requests_becomes_one_run_per_rate(session: workflows.Session) -> None:
    runs = read(session, DATA / "guidellm-sweep.json")
    assert [(r.mode, r.load) for r in runs] == [
        ("closed", 1.0),
        ("closed", 156.3),  # throughput: the measured mean concurrency
        ("open", 7.03),
        ("open", 13.1),
        ("open", 19.1),
    ]
    assert [r.errors for r in runs] == [0, 37, 0, 0, 12]
    fast = runs[2]
    assert fast.latency["tpot_ms"]["p50"] == pytest.approx(10.2 * 0.98)  # inter_token_latency_ms, not TPOT
    assert fast.latency["e2e_ms"]["mean"] == pytest.approx(1340.0)  # request_latency is in seconds
    assert fast.records_sampled and fast.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert runs[1].records[-1]["error"].startswith("TimeoutError")


def test_guidellm_0_3_yaml_with_the_median_outside_the_percentiles(session: workflows.Session) -> None:
    runs = read(session, DATA / "guidellm-v0.3-concurrent.yaml")
    assert [(r.mode, r.load, r.completed) for r in runs] == [("closed", 4.0, 320), ("closed", 16.0, 1280)]
    assert runs[0].latency["ttft_ms"]["p50"] == pytest.approx(45.0 * 0.95)
    assert runs[1].duration_s == pytest.approx(120.0) and "0.3" in runs[1].server["tool"]


# ------------------------------------------------------------------- GenAI-Perf / AIPerf


def test_genai_perf_json_and_csv_agree(session: workflows.Session) -> None:
    (as_json,) = read(session, GENAI / "profile_export_genai_perf.json")
    (as_csv,) = read(session, GENAI / "profile_export_genai_perf.csv")
    assert as_json.format == as_csv.format == "genai-perf"
    assert (as_json.mode, as_json.load) == (as_csv.mode, as_csv.load) == ("closed", 8.0)  # CSV: from the JSON beside
    for name in ("ttft_ms", "tpot_ms", "e2e_ms"):
        for stat, value in as_json.latency[name].items():
            assert as_csv.latency[name][stat] == pytest.approx(value, abs=0.01)
    assert as_csv.request_s == 5.81 and as_csv.completed == 400


def test_an_aiperf_csv_with_extra_columns_and_a_telemetry_section(session: workflows.Session) -> None:
    (run,) = read(session, AIPERF / "profile_export_aiperf.csv")
    assert (run.format, run.mode, run.load, run.completed, run.errors) == ("aiperf", "closed", 32.0, 400, 3)
    assert run.latency["ttft_ms"]["p95"] == pytest.approx(401.4) and run.output_tok_s == pytest.approx(1316.0)
    (from_json,) = read(session, AIPERF / "profile_export_aiperf.json")
    assert from_json.model == "openai/gpt-oss-20b" and from_json.errors == 3 and from_json.duration_s == 30.4


def test_a_csv_alone_takes_its_load_from_the_artifact_folder_or_says_it_cannot(
    session: workflows.Session, tmp_path: Path
) -> None:
    folder = tmp_path / "llama-openai-chat-request_rate2.5"
    folder.mkdir()
    shutil.copy(GENAI / "profile_export_genai_perf.csv", folder)
    (run,) = read(session, folder / "profile_export_genai_perf.csv")
    assert (run.mode, run.load) == ("open", 2.5)
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(GENAI / "profile_export_genai_perf.csv", bare)
    with pytest.raises(BenchmarkFileError, match=r"GenAI-Perf/AIPerf profile export CSV, input_config"):
        read(session, bare / "profile_export_genai_perf.csv")


def test_aiperf_per_request_records_are_summarised_by_the_planner(session: workflows.Session) -> None:
    (run,) = read(session, AIPERF / "profile_export.jsonl")
    assert (run.mode, run.load, run.completed, run.errors, len(run.records)) == ("closed", 32.0, 59, 1, 60)
    ttfts = sorted(r["ttft_ms"] for r in run.records if not r["error"])
    assert run.latency["ttft_ms"]["p95"] == pytest.approx(percentile(ttfts, 95))
    assert run.records[0]["start_s"] == 0.0 and run.records[1]["start_s"] == pytest.approx(0.075)
    assert run.request_s == pytest.approx(59 / run.duration_s)


# --------------------------------------------------------------------------- llmperf


def test_llmperf_summary_derives_tpot_because_its_itl_includes_the_ttft(session: workflows.Session) -> None:
    (run,) = read(session, Path(f"{LLMPERF}_summary.json"))
    assert (run.mode, run.load, run.completed, run.errors) == ("closed", 5.0, 49, 1)
    assert run.latency["ttft_ms"]["p99"] == pytest.approx(587.5)
    assert run.latency["tpot_ms"] == {"mean": pytest.approx((1184.1 - 253.8) / 98.44)}
    assert run.input_tokens_mean == 256  # written as the text "256" next to it
    assert run.request_s == pytest.approx(202.1 / 60)


def test_llmperf_responses_take_the_concurrency_from_their_summary(session: workflows.Session, tmp_path: Path) -> None:
    (run,) = read(session, Path(f"{LLMPERF}_individual_responses.json"))
    assert (run.load, run.completed, run.errors) == (5.0, 49, 1)
    record = run.records[0]
    assert record["tpot_ms"] == pytest.approx((record["e2e_ms"] - record["ttft_ms"]) / (record["output_tokens"] - 1))
    alone = tmp_path / "x_individual_responses.json"
    shutil.copy(Path(f"{LLMPERF}_individual_responses.json"), alone)
    with pytest.raises(BenchmarkFileError, match="llmperf per-request responses, num_concurrent_requests"):
        read(session, alone)


# ------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty.json", "not a known benchmark format: the file is empty"),
        ("unknown-format.json", "no importer recognises this file"),
        ("vllm-truncated.json", "read as vLLM bench serve JSON, line 29 column 25: invalid JSON.*truncated"),
        ("vllm-wrong-type.json", "read as vLLM bench serve JSON, completed: expected a number, found the text"),
        (
            "guidellm-wrong-type.json",
            r"read as GuideLLM report, benchmarks\[2\]\.metrics\.time_to_first_token_ms\.successful\.percentiles\.p95",
        ),
        ("guidellm-trace.json", r"benchmarks\[0\]\.config\.strategy\.type_: unknown strategy 'trace'"),
        ("profile_export.jsonl", "read as AIPerf per-request JSONL, line 6: invalid JSON"),
    ],
)
def test_a_malformed_file_names_the_format_guessed_and_the_field(
    session: workflows.Session, name: str, expected: str
) -> None:
    with pytest.raises(BenchmarkFileError, match=expected) as caught:
        read(session, DATA / "malformed" / name)
    assert caught.value.path.endswith(name) and caught.value.fix


def test_the_command_line_exits_2_with_one_message(tmp_path: Path) -> None:
    done = run_cli("bench", "import", str(DATA / "malformed" / "vllm-wrong-type.json"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "completed: expected a number" in done.stderr
    assert "Traceback" not in done.stderr


# ----------------------------------------------------------------------------- store


def test_import_into_a_project_stores_all_or_nothing_and_once(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert run_cli("project", "new", "Chat", "--db", str(db)).returncode == 0
    bad = run_cli(
        "bench",
        "import",
        str(DATA / "guidellm-sweep.json"),
        str(DATA / "malformed" / "vllm-truncated.json"),
        "--project",
        "Chat",
        "--db",
        str(db),
    )
    assert bad.returncode == 2 and "vllm-truncated.json" in bad.stderr
    assert workflows.list_runs("Chat", db) == []
    good = run_cli(
        "bench",
        "import",
        str(DATA / "guidellm-sweep.json"),
        str(DATA / "vllm-serve-detailed-4qps.json"),
        "--project",
        "Chat",
        "--db",
        str(db),
        "--json",
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["stored"] == [1, 2, 3, 4, 5, 6]
    again = run_cli("bench", "import", str(DATA / "guidellm-sweep.json"), "--project", "Chat", "--db", str(db))
    assert again.returncode == 0 and "already stored" in again.stdout
    assert len(workflows.list_runs("Chat", db)) == 6
    stored = workflows.load_run("Chat", "6", db)
    back = MeasuredRun.from_stored(stored.summary.metadata, stored.records)
    assert back.load == 4.0 and len(back.records) == 200 and stored.intact
    (sweep_throughput,) = [s for s in workflows.list_runs("Chat", db) if s.name == "closed loop c=156.3"]
    assert sweep_throughput.metadata["errors"] == 37


def test_a_run_sent_all_at_once_survives_the_store(tmp_path: Path) -> None:
    run = MeasuredRun(format="x", source="f", mode="open", load=math.inf, completed=3)
    assert MeasuredRun.from_stored(json.loads(json.dumps(run.metadata())), []).load == math.inf


# ---------------------------------------------------------------------------- plugins


class _AcmeCsv:
    """A vendor's format: ``acme-bench`` CSV with one row per concurrency."""

    name = "acme-bench"
    title = "Acme bench CSV"

    def can_read(self, path: Path, head: str) -> bool:
        return head.startswith("acme-bench")

    def read(self, path: Path) -> list[MeasuredRun]:
        reader = FileReader(path, self.title)
        rows = reader.csv_sections()[0][2:]
        return [
            MeasuredRun(
                format=self.name,
                source=f"{path}#{i + 1}",
                mode="closed",
                load=reader.number(row[0], f"row {i + 3} users") or 0.0,
                completed=100,
                latency={"ttft_ms": {"p95": reader.number(row[1], f"row {i + 3} ttft") or 0.0}},
            )
            for i, row in enumerate(rows)
        ]


class _AcmePlugin:
    @hookimpl
    def planner_benchmark_importers(self) -> list[Any]:
        return [_AcmeCsv(), "not an importer"]


def test_a_vendor_format_plugs_in_through_the_hook(tmp_path: Path) -> None:
    host = make_plugin_manager(entry_points=False, extra_plugins=[("acme", _AcmePlugin())])
    importers = benchmark_importers(host)
    assert [i.name for i in importers][-1] == "acme-bench" and importers[0].plugin == "vllm_bench"
    assert any(p.plugin == "acme" and "not an importer" in p.error for p in host.problems)
    path = tmp_path / "acme.csv"
    path.write_text("acme-bench v1\nusers,ttft_p95_ms\n8,120\n32,410\n", encoding="utf-8")
    runs = read_benchmark_files([path], importers)
    assert [(r.load, r.latency["ttft_ms"]["p95"]) for r in runs] == [(8.0, 120.0), (32.0, 410.0)]
    path.write_text("acme-bench v1\nusers,ttft_p95_ms\neight,120\n", encoding="utf-8")
    with pytest.raises(BenchmarkFileError, match="read as Acme bench CSV, row 3 users: expected a number"):
        read_benchmark_files([path], importers)
