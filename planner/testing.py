"""pytest fixtures for plugin authors (loaded automatically as the ``planner`` pytest plugin).

A vendor tests a plugin in a few lines::

    import acme_planner_plugin

    def test_my_gpu_loads(planner_check_plugin):
        catalog = planner_check_plugin("acme", acme_planner_plugin)
        assert catalog.gpus.get("acme-x1").hbm_gib == 96

Every fixture points ``PLANNER_HOME`` at a temporary folder, so tests never touch the
user's own imported models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.catalog import Catalog, build_catalog
from planner.manager import PluginHost, make_plugin_manager


@pytest.fixture
def planner_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty user folder set as ``PLANNER_HOME`` for the test."""
    home = tmp_path / "planner-home"
    home.mkdir()
    monkeypatch.setenv("PLANNER_HOME", str(home))
    monkeypatch.delenv("PLANNER_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("PLANNER_STRICT_PLUGINS", raising=False)
    yield home


@pytest.fixture
def planner_make_host(planner_home: Path) -> Callable[..., PluginHost]:
    """Factory: ``planner_make_host(("name", plugin), ..., builtins=True)`` builds a fresh host.

    With ``builtins=False`` only the given plugins load, so a test sees exactly what
    they contribute.
    """

    def make(*plugins: tuple[str, object], builtins: bool = True, **kwargs: Any) -> PluginHost:
        only = None if builtins else frozenset(name for name, _ in plugins)
        return make_plugin_manager(entry_points=builtins, only=only, extra_plugins=plugins, **kwargs)

    return make


@pytest.fixture
def planner_check_plugin(planner_make_host: Callable[..., PluginHost]) -> Callable[[str, object], Catalog]:
    """Load one plugin on its own, fail the test on any problem, return its catalog."""

    def check(name: str, plugin: object) -> Catalog:
        host = planner_make_host((name, plugin), builtins=False, strict=False)
        catalog = build_catalog(host)
        problems = [str(p) for p in catalog.problems]
        assert not problems, "plugin problems:\n" + "\n".join(problems)
        return catalog

    return check
