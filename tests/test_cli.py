"""The command line, run for real in subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONFIGS, PLANS, run_cli


def test_help_lists_commands_without_heavy_imports() -> None:
    code = (
        "import sys; from planner.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'openpyxl', 'pydantic', 'yaml', 'rich', 'sqlite_utils')]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    for command in ("plan", "demo", "schema", "plugins", "catalog", "model", "project", "history", "diff", "checkout"):
        assert command in out


def test_a_json_command_never_loads_rich() -> None:
    """A command that prints JSON draws no table and no bar, so it does not import rich (about
    50 ms of every scripted call at a quiet moment: planner.terminal imports it only to draw)."""
    code = (
        "import io, sys, contextlib; from planner.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['demo', '--json'])\n"
        "print('RICH', sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "RICH []" in out


def test_demo_prints_the_resolved_example() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    assert "Internal knowledge assistant" in result.stdout
    assert "llama-3.3-70b" in result.stdout and "weights fp8, KV fp8" in result.stdout
    assert "Open choices" in result.stdout and "hardware.gpu" in result.stdout
    for word in (
        "6 Sizing",
        "per replica served aggregated: memory holds",
        "dominant:",
        "7-8 Fleet",
        "N+1",
        "EUR per 1M",
    ):
        assert word in result.stdout
    # the operating point's TTFT at the target's percentile, inside its band (moved with it)
    ttft = re.search(r"TTFT p95 ([\d,]+) ms \[([\d,]+)-([\d,]+)\]", result.stdout)
    assert ttft, result.stdout
    value, low, high = (float(x.replace(",", "")) for x in ttft.groups())
    assert low <= value <= high
    assert result.stderr == ""


def test_demo_json_and_show() -> None:
    data = json.loads(run_cli("demo", "--json").stdout)
    assert data["resolved"]["model"]["id"] == "llama-3.3-70b"
    assert data["resolved"]["runtime"]["id"] == "vllm"
    assert data["resolved"]["gpu"] is None
    assert data["effective"] == {
        "weights_dtype": "fp8",
        "kv_dtype": "fp8",
        "context_tokens": 16384,
        "context_p95_tokens": 6700,
        "headroom": 0.5,
        "scenario": "latency-first",
        "spare_failure_domains": 1,
    }
    assert "hardware.gpu" in data["open_choices"]
    chosen = data["sizing"]["chosen"]
    assert chosen["replicas"] == chosen["replicas_for_load"] + chosen["spares"]
    assert chosen["provisioned_concurrency"] == pytest.approx(450)
    assert all(a["origin"] in ("catalog", "none") for a in data["costs"]["assumptions"]), "no costs section"
    assert run_cli("demo", "--show").stdout.startswith("# Use case 1")


def test_plan_resolves_ids_to_specs() -> None:
    data = json.loads(run_cli("plan", str(PLANS / "reasoning-agent.yaml"), "--json").stdout)
    resolved = data["resolved"]
    assert resolved["model"]["attention"] == "mla"
    assert resolved["gpu"]["hbm_tb_s"] == 4.8
    assert resolved["serving_stack"]["disaggregated_prefill_decode"] is True
    assert data["open_choices"] == ["model.weights", "runtime.pp"]
    assert data["effective"]["spare_failure_domains"] == 2


def test_bad_plan_exits_2_with_paths_and_fixes_and_no_traceback() -> None:
    result = run_cli("plan", str(PLANS / "bad-many-problems.yaml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "7 problems found" in result.stderr
    assert "slo.ttft_ms (line 8)" in result.stderr and "write 1500" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_ids_and_knobs_exit_2_with_suggestions() -> None:
    result = run_cli("plan", str(PLANS / "bad-unknown-ids.yaml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "model.id: unknown model 'llama-3.3-70bb'" in result.stderr
    assert "did you mean h100-sxm" in result.stderr
    assert "did you mean `gpu_memory_utilization`?" in result.stderr


def test_missing_file_exits_2() -> None:
    result = run_cli("plan", "/nonexistent/plan.yaml")
    assert result.returncode == 2 and "cannot read the file" in result.stderr


def test_schema_is_json_schema() -> None:
    schema = json.loads(run_cli("schema").stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["schema_version"]["const"] == 1


@pytest.mark.parametrize("kind", ["gpus", "models", "runtimes", "stacks"])
def test_catalog_lists_with_sources(kind: str) -> None:
    text = run_cli("catalog", kind)
    assert text.returncode == 0 and "source" in text.stdout.splitlines()[0]
    assert "https://" in text.stdout
    entries = json.loads(run_cli("catalog", kind, "--json").stdout)
    assert entries and all(e["source"].startswith(("https://", "http://")) for e in entries)
    assert all(e["plugin"] for e in entries)


def test_plugins_lists_versions_contributions_and_problems() -> None:
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["nvidia"]["contributes"] == {"gpus": 12}
    assert plugins["llama"]["version"] and plugins["llama"]["builtin"]
    assert all(not p["problems"] for p in plugins.values())
    text = run_cli("plugins").stdout
    assert "config.json import" in text and "built-in" in text


def test_disable_plugin_option() -> None:
    result = run_cli("catalog", "gpus", "--json", "--disable-plugin", "amd")
    ids = {e["id"] for e in json.loads(result.stdout)}
    assert "mi300x" not in ids and "h100-sxm" in ids
    result = run_cli("--disable-plugin", "nvidia", "plan", str(PLANS / "reasoning-agent.yaml"))
    assert result.returncode == 2 and "unknown GPU 'h200-sxm'" in result.stderr


def test_load_plugins_env_var() -> None:
    result = run_cli("plugins", "--json", env={"PLANNER_LOAD_PLUGINS": "nvidia"})
    status = {p["name"]: p["status"] for p in json.loads(result.stdout)}
    assert status["nvidia"] == "loaded" and status["amd"] == "not selected"


def test_model_import_stores_spec_usable_by_plans(planner_home: Path, tmp_path: Path) -> None:
    env = {"PLANNER_HOME": str(planner_home)}
    result = run_cli("model", "import", str(CONFIGS / "qwen2.5-7b.json"), "--json", "--license", "apache-2.0", env=env)
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert spec["id"] == "qwen2.5-7b-instruct" and spec["license"] == "apache-2.0"
    assert spec["total_params"] == pytest.approx(7.62e9, rel=0.01)
    assert spec["active_params"] < spec["total_params"]
    stored = planner_home / "models" / "qwen2.5-7b-instruct.json"
    assert json.loads(stored.read_text())["id"] == spec["id"]
    assert not list((planner_home / "models").glob(".*.tmp")), "no temporary file left behind"

    plan = (PLANS / "code-assistant.yaml").read_text().replace("Qwen/Qwen3-32B", "Qwen/Qwen2.5-7B-Instruct")
    (tmp_path / "plan.yaml").write_text(plan)
    data = json.loads(run_cli("plan", str(tmp_path / "plan.yaml"), "--json", env=env).stdout)
    assert data["resolved"]["model"]["id"] == "qwen2.5-7b-instruct"


def test_model_import_refuses_to_shadow_and_force_replaces(planner_home: Path) -> None:
    env = {"PLANNER_HOME": str(planner_home)}
    clash = run_cli("model", "import", str(CONFIGS / "llama-3.1-70b.json"), env=env)
    assert clash.returncode == 2 and "already names 'llama-3.1-70b'" in clash.stderr and "--name" in clash.stderr
    first = run_cli("model", "import", str(CONFIGS / "llama-3.1-70b.json"), "--name", "mine", env=env)
    assert first.returncode == 0, first.stderr
    again = run_cli("model", "import", str(CONFIGS / "llama-3.1-70b.json"), "--name", "mine", env=env)
    assert again.returncode == 2 and "--force" in again.stderr
    forced = run_cli("model", "import", str(CONFIGS / "llama-3.1-70b.json"), "--name", "mine", "--force", env=env)
    assert forced.returncode == 0
    listed = json.loads(run_cli("catalog", "models", "--json", env=env).stdout)
    assert {e["id"]: e["plugin"] for e in listed}["mine"] == "user_catalog"
    assert run_cli("catalog", "models", env=env).stderr == "", "the built-in keeps its Hugging Face id"


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("unknown-architecture.json", "no loaded plugin converts 'FalconForCausalLM'"),
        ("malformed-llama.json", "num_hidden_layers: expected an integer, got 'eighty'"),
    ],
)
def test_model_import_errors_exit_2(planner_home: Path, file: str, message: str) -> None:
    result = run_cli("model", "import", str(CONFIGS / file), env={"PLANNER_HOME": str(planner_home)})
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (planner_home / "models").exists() or not list((planner_home / "models").iterdir())


def test_corrupt_user_model_is_reported_not_fatal(planner_home: Path) -> None:
    (planner_home / "models").mkdir()
    (planner_home / "models" / "broken.json").write_text("{not json")
    result = run_cli("catalog", "models", env={"PLANNER_HOME": str(planner_home)})
    assert result.returncode == 0 and "llama-3.1-70b" in result.stdout
    assert "user_catalog" in result.stderr and "broken.json" in result.stderr


def test_unexpected_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    plugin = tmp_path / "sitecustomize.py"
    plugin.write_text(
        "import planner.resolve as r\n"
        "def boom(*a, **k):\n    raise ZeroDivisionError('simulated bug')\n"
        "r.resolve_plan = boom\n"
    )
    env: dict[str, Any] = {"PYTHONPATH": str(tmp_path)}
    result = run_cli("demo", env=env)
    assert result.returncode == 70
    assert "internal error: ZeroDivisionError: simulated bug" in result.stderr and "please report it" in result.stderr
    assert "Traceback" not in result.stderr and "PLANNER_DEBUG=1" in result.stderr


def test_no_command_opens_a_network_connection(tmp_path: Path, planner_home: Path) -> None:
    """Air-gapped laptops: every command works with sockets forbidden."""
    (tmp_path / "sitecustomize.py").write_text(
        "import socket\n"
        "def _refuse(*args, **kwargs):\n    raise OSError('network use is forbidden in this test')\n"
        "socket.socket.connect = _refuse\nsocket.create_connection = _refuse\nsocket.getaddrinfo = _refuse\n"
    )
    env = {"PYTHONPATH": str(tmp_path), "PLANNER_HOME": str(planner_home), "HF_HUB_OFFLINE": ""}
    env["PLANNER_PERF_BACKEND"] = "auto"  # the default, which reaches into aiconfigurator's databases
    for args in (
        ["demo"],
        ["plan", str(PLANS / "usecases" / "1-knowledge-assistant.yaml"), "--json", "--perf-backend", "builtin"],
        ["search", str(PLANS / "code-assistant.yaml")],
        ["catalog", "models"],
        ["plugins"],
        ["model", "import", str(CONFIGS / "qwen2.5-7b.json")],
    ):
        result = run_cli(*args, env=env)
        assert result.returncode == 0, (args, result.stderr)
