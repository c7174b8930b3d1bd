"""Shared fixtures. The ``planner_*`` fixtures come from ``planner.testing``, the pytest
plugin we ship for vendors (loaded through its ``pytest11`` entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.catalog import Catalog, build_catalog
from planner.manager import make_plugin_manager

DATA = Path(__file__).parent / "data"
PLANS = DATA / "plans"
CONFIGS = DATA / "configs"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _isolated_home(planner_home: Path) -> Iterator[Path]:
    """Every test gets an empty PLANNER_HOME, so the user's own models never leak in."""
    yield planner_home


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The catalog of the installed plugins, built once, with an empty user folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_HOME", str(tmp_path_factory.mktemp("session-home")))
        mp.delenv("PLANNER_LOAD_PLUGINS", raising=False)
        return build_catalog(make_plugin_manager())


@pytest.fixture(scope="session")
def report_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real plan report as JSON (the code-assistant plan sized with the built-in model): what
    store tests save as revisions, so they run on the data the store meets."""
    from planner import workflows

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_HOME", str(tmp_path_factory.mktemp("report-home")))
        session = workflows.open_session()
        plan = workflows.read_plan(PLANS / "code-assistant.yaml")
        return workflows.plan(session, plan, "code.yaml", backend="builtin").to_json()


#: Command-line tests time deployments with the built-in model unless they test a backend
#: (they pass --perf-backend, or PLANNER_PERF_BACKEND in ``env``): it is what they check,
#: and it keeps them fast.
CLI_BACKEND = {"PLANNER_PERF_BACKEND": "builtin"}


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m planner ARGS`` in a real subprocess and capture its output."""
    full_env = {**os.environ, **CLI_BACKEND, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "planner", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def build_template_wheel(root: Path) -> Path:
    """Build a wheel of a copy of packaging/plugin-template in ``root``, offline, as a vendor would."""
    import shutil

    project = root / "planner-vendor-template"
    ignored = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")
    shutil.copytree(REPO / "packaging" / "plugin-template", project, ignore=ignored)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root)]
    result = subprocess.run([*command, str(project)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return next(root.glob("planner_vendor_template-*.whl"))
