"""Shared fixtures. The ``planner_*`` fixtures come from ``planner.testing``, the pytest
plugin we ship for vendors (loaded through its ``pytest11`` entry point)."""

from __future__ import annotations

import os
import shutil
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


#: What a copy of a project for a build leaves out: version control, environments, caches and
#: earlier builds' output (which setuptools would otherwise pack again).
NOT_SOURCES = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache",
               ".ruff_cache", ".import_linter_cache", ".hypothesis")  # fmt: skip


def copy_sources(project: Path, destination: Path) -> Path:
    """Copy ``project`` to ``destination`` without what :data:`NOT_SOURCES` names; returns the copy."""
    shutil.copytree(project, destination, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    return destination


def build_wheel(project: Path, root: Path) -> Path:
    """Build a wheel of ``project`` as a vendor or a packager does, offline (no dependencies, no
    build isolation), from a copy in ``root``: setuptools writes build/ and *.egg-info next to
    the sources, and the checkout must stay as it was.

    :param root: an empty folder for this build; it receives the copy and the wheel
    :returns: the wheel
    """
    source = copy_sources(project, root / "src" / project.name)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
               "--no-build-isolation", "-w", str(root), str(source)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (wheel,) = root.glob("*.whl")
    return wheel


def build_template_wheel(root: Path) -> Path:
    """Build a wheel of a copy of packaging/plugin-template in ``root``, offline, as a vendor would."""
    return build_wheel(REPO / "packaging" / "plugin-template", root)


@pytest.fixture(scope="session")
def planner_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planner's own wheel, built once per session from a copy of this checkout: the offline
    install, the wheelhouse and the desktop bundle tests all start from it."""
    return build_wheel(REPO, tmp_path_factory.mktemp("planner-wheel"))
