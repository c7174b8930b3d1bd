"""Meta-tests that keep the plugin contract honest: every hook is documented for plugin
authors, every hook is exercised by a test, and every built-in plugin is declared both
as an entry point and by import path."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest

from planner import hookspecs
from planner.manager import BUILTIN_PLUGINS
from tests.conftest import REPO

HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("planner_") and hasattr(fn, "planner_spec")
)
TESTS = Path(__file__).parent
THIS_FILE = Path(__file__).name


def test_the_hooks_are_the_documented_set() -> None:
    assert HOOKS == [
        "planner_benchmark_importers",
        "planner_gpus",
        "planner_model_from_config",
        "planner_models",
        "planner_performance_models",
        "planner_rule_packs",
        "planner_runtimes",
        "planner_serving_stacks",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_for_plugin_authors(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert len(doc.splitlines()[0]) > 20, f"{hook}: needs a summary line"
    assert ":returns:" in doc, f"{hook}: document what it returns"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{hook}: document parameter {param}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_a_test(hook: str) -> None:
    users = [p.name for p in TESTS.glob("test_*.py") if p.name != THIS_FILE and hook in p.read_text(encoding="utf-8")]
    assert users, f"no test exercises {hook}"


def test_builtin_plugins_are_entry_points_and_import_paths() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["project"]["entry-points"]["planner"]
    assert declared == BUILTIN_PLUGINS


def test_builtin_plugins_have_documented_hooks() -> None:
    import importlib

    for name, module_path in BUILTIN_PLUGINS.items():
        module = importlib.import_module(module_path)
        assert module.__doc__, f"plugin {name} needs a module docstring"
        for attr in dir(module):
            fn = getattr(module, attr)
            if attr.startswith("planner_") and callable(fn):
                assert fn.__doc__, f"{name}.{attr} needs a docstring"
