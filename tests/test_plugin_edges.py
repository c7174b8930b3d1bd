"""Plugins cannot take over a built-in id or stall a command: built-ins win duplicate ids and
the message names the losing plugin; slow hooks run off the main thread within a budget."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from planner import hookimpl
from planner.catalog import build_catalog
from planner.catalogfiles import load_entries
from planner.errors import UnknownIdError
from tests.conftest import run_cli

RELEASE = threading.Event()


def _fake_h100() -> dict[str, Any]:
    real = next(e for e in load_entries("gpus/nvidia.yaml") if e["id"] == "h100-sxm")
    return {**real, "name": "Counterfeit H100", "hbm_gib": 1.0, "reported_gib": None}


class SlowVendor:
    """A vendor whose GPU hook hangs until the test releases it (a stuck datasheet server)."""

    @hookimpl
    def planner_gpus(self) -> list[Any]:
        RELEASE.wait(30)
        return [{**_fake_h100(), "id": "slow-x1", "aliases": []}]


class FastVendor:
    @hookimpl
    def planner_gpus(self) -> list[Any]:
        return [{**_fake_h100(), "id": "fast-x1", "name": "Fast X1", "aliases": []}]


@pytest.fixture(autouse=True)
def _release_hung_hooks() -> Any:
    RELEASE.clear()
    yield
    RELEASE.set()


def test_a_slow_third_party_hook_is_skipped_within_the_budget(planner_make_host: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PLANNER_PLUGIN_BUDGET_S", "0.5")
    started = time.monotonic()
    host = planner_make_host(("slowco", SlowVendor()), ("fastco", FastVendor()))
    catalog = build_catalog(host)
    assert time.monotonic() - started < 10
    assert catalog.gpus.get("fast-x1").name == "Fast X1" and catalog.gpus.get("h100-sxm").hbm_gib > 1
    with pytest.raises(UnknownIdError):
        catalog.gpus.get("slow-x1")
    assert host.plugins["slowco"].status == "slow" and host.plugins["fastco"].status == "loaded"
    [problem] = [p for p in catalog.problems if p.plugin == "slowco"]
    assert "slow: planner_gpus() ran past the plugin's 0.5 s budget" in problem.error
    # Its later hooks are skipped at once: the budget is spent.
    again = time.monotonic()
    assert host.call_each("planner_gpus") and time.monotonic() - again < 1


def test_a_raising_hook_on_the_worker_thread_is_still_reported(planner_make_host: Any) -> None:
    class Raiser:
        @hookimpl
        def planner_gpus(self) -> list[Any]:
            raise RuntimeError("datasheet server unreachable")

    catalog = build_catalog(planner_make_host(("raiser", Raiser())))
    [problem] = [p for p in catalog.problems if p.plugin == "raiser"]
    assert "RuntimeError: datasheet server unreachable" in problem.error


def _install(site: Path, name: str, body: str) -> None:
    """Install a plugin for real: a module and a dist-info with its ``planner`` entry point."""
    (site / f"{name}.py").write_text(body, encoding="utf-8")
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[planner]\n{name} = {name}\n", encoding="utf-8")


PLUGIN = """
import time
from planner import hookimpl
from planner.catalogfiles import load_entries

@hookimpl
def planner_gpus():
    real = next(e for e in load_entries("gpus/nvidia.yaml") if e["id"] == "h100-sxm")
    return [{**real, "name": "Counterfeit H100", "hbm_gib": 1.0, "reported_gib": None}]

@hookimpl
def planner_models():
    time.sleep(30)
    return []
"""


def test_an_installed_plugin_sorting_first_neither_replaces_a_builtin_nor_stalls_commands(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "aaa_vendor", PLUGIN)  # sorts before "nvidia"
    env = {"PYTHONPATH": os.pathsep.join([str(site), *sys.path]), "PLANNER_PLUGIN_BUDGET_S": "1"}
    started = time.monotonic()
    gpus = run_cli("catalog", "gpus", "--json", env=env)
    assert time.monotonic() - started < 25, "the 30 s hook must not hold the command"
    assert gpus.returncode == 0, gpus.stderr
    h100 = next(g for g in json.loads(gpus.stdout) if g["id"] == "h100-sxm")
    assert h100["plugin"] == "nvidia" and h100["hbm_gib"] > 1
    assert "plugin aaa_vendor: GPU 'h100-sxm'" in gpus.stderr and "from plugin 'nvidia'" in gpus.stderr
    assert "the entry from 'aaa_vendor' was skipped" in gpus.stderr
    assert "plugin aaa_vendor: slow: planner_models() ran past" in gpus.stderr
    listed = run_cli("plugins", env=env)
    assert listed.returncode == 0 and "slow" in listed.stdout and "aaa_vendor" in listed.stdout


def test_an_entry_point_reusing_a_builtin_name_is_reported_not_loaded(monkeypatch: Any) -> None:
    from planner import manager

    real = manager.entry_points
    impostor = EntryPoint(name="nvidia", value="json", group="planner")
    monkeypatch.setattr(manager, "entry_points", lambda group: [impostor, *real(group=group)])
    host = manager.make_plugin_manager()
    assert host.plugins["nvidia"].builtin and host.plugins["nvidia"].module == "planner.plugins.nvidia"
    [problem] = [p for p in host.problems if p.plugin == "nvidia"]
    assert "json" in problem.error and "the built-in plugin has its name" in problem.error
