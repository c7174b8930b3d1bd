"""A real install: the planner wheel and a third-party plugin wheel in a fresh virtual
environment, run from another folder."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

from tests.conftest import DATA, build_wheel

pytestmark = pytest.mark.slow  # builds three wheels and a virtual environment

PIP_QUIET = ["--disable-pip-version-check", "-q"]


def _run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, planner_wheel: Path) -> dict[str, Path]:
    """The planner wheel and both fixture plugins' wheels, installed into a new venv."""
    root = tmp_path_factory.mktemp("install")
    plugins = [build_wheel(DATA / "plugins" / name, root / name) for name in ("planner-acme", "planner-broken")]
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    _run(bin_dir / "python", "-m", "pip", "install", *PIP_QUIET, planner_wheel, *plugins)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return {"bin": bin_dir, "cwd": elsewhere, "home": root / "home"}


def _planner(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PLANNER_LOAD_PLUGINS")}
    env["PLANNER_HOME"] = str(installed["home"])
    return subprocess.run(
        [str(installed["bin"] / "planner"), *args], capture_output=True, text=True, cwd=installed["cwd"], env=env
    )


def test_wheel_finds_every_plugin_and_catalog_from_another_folder(installed: dict[str, Path], catalog: object) -> None:
    demo = _planner(installed, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "llama-3.3-70b" in demo.stdout
    for kind in ("gpus", "models", "runtimes", "stacks"):
        listed = json.loads(_planner(installed, "catalog", kind, "--json").stdout)
        ours = {spec.id for spec in catalog.section(kind).specs()}  # type: ignore[attr-defined]
        assert ours <= {e["id"] for e in listed}, f"{kind} missing from the wheel"


def test_third_party_gpu_appears_in_catalog(installed: dict[str, Path]) -> None:
    result = _planner(installed, "catalog", "gpus")
    assert result.returncode == 0
    assert "acme-x1" in result.stdout and "h100-sxm" in result.stdout
    gpus = {e["id"]: e for e in json.loads(_planner(installed, "catalog", "gpus", "--json").stdout)}
    assert gpus["acme-x1"]["plugin"] == "acme" and gpus["acme-x1"]["hbm_gib"] == 96.0


def test_broken_plugin_is_reported_not_fatal(installed: dict[str, Path]) -> None:
    result = _planner(installed, "catalog", "gpus")
    assert result.returncode == 0
    assert "plugin broken: failed to load: ModuleNotFoundError" in result.stderr
    plugins = {p["name"]: p for p in json.loads(_planner(installed, "plugins", "--json").stdout)}
    assert plugins["broken"]["status"] == "failed"
    assert "vendor_sdk_that_is_not_installed" in plugins["broken"]["problems"][0]
    assert plugins["acme"]["version"] == "1.2.0" and plugins["acme"]["distribution"] == "planner-acme"
    assert plugins["acme"]["contributes"] == {"gpus": 1}
    assert not plugins["broken"]["builtin"] and plugins["nvidia"]["builtin"]


def test_disabling_the_broken_plugin_silences_it(installed: dict[str, Path]) -> None:
    result = _planner(installed, "--disable-plugin", "broken", "catalog", "gpus")
    assert result.returncode == 0 and result.stderr == ""


def test_projects_work_from_the_wheel(installed: dict[str, Path]) -> None:
    assert _planner(installed, "project", "new", "Wheel").returncode == 0
    demo = _planner(installed, "demo", "--show").stdout
    plan = installed["cwd"] / "demo.yaml"
    plan.write_text(demo, encoding="utf-8")
    saved = _planner(
        installed, "plan", str(plan), "--save", "Wheel", "-m", "from the wheel", "--perf-backend", "builtin"
    )
    assert saved.returncode == 0 and "saved as revision 1" in saved.stdout, saved.stderr
    assert "from the wheel" in _planner(installed, "history", "Wheel").stdout
    assert (installed["home"] / "projects.db").exists()
