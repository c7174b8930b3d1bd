"""Meta-tests that keep the plugin contract honest: every hook is documented for plugin
authors, every hook is exercised by a test, and every built-in plugin is declared both
as an entry point and by import path."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path
from typing import Any

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


#: Hooks declared for plugin authors that the core does not call yet, each with the reason.
#: A reserved hook that gains a caller fails the test below until it is removed from here.
RESERVED: dict[str, str] = {}


def test_every_hook_has_a_caller_in_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run what the core runs (catalog, rules, model import) and record every hook it calls:
    a hook nobody calls cannot pass unless it is reserved, with a reason, in ``RESERVED``."""
    from planner import workflows
    from planner.manager import PluginHost

    called: set[str] = set()
    each, first = PluginHost.call_each, PluginHost.call_first

    def record_each(self: PluginHost, hook_name: str, **kwargs: Any) -> Any:
        called.add(hook_name)
        return each(self, hook_name, **kwargs)

    def record_first(self: PluginHost, hook_name: str, **kwargs: Any) -> Any:
        called.add(hook_name)
        return first(self, hook_name, **kwargs)

    monkeypatch.setattr(PluginHost, "call_each", record_each)
    monkeypatch.setattr(PluginHost, "call_first", record_first)
    session = workflows.open_session()
    assert session.rules.rules
    workflows.import_model(session, REPO / "tests" / "data" / "configs" / "qwen2.5-7b.json")
    workflows.import_benchmarks(session, [REPO / "tests" / "data" / "benchmarks" / "vllm-serve-concurrency16.json"])
    uncalled = sorted(set(HOOKS) - called - set(RESERVED))
    assert not uncalled, f"no core code calls {uncalled}: call them, or reserve them with a reason"
    wired = sorted(called & set(RESERVED))
    assert not wired, f"{wired} now have a caller: remove them from RESERVED"
    for hook, reason in RESERVED.items():
        assert reason and "Reserved" in (getattr(hookspecs, hook).__doc__ or ""), hook


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


def test_every_planner_package_ships_in_the_wheel() -> None:
    """A sub-package missing from the explicit setuptools list installs as a broken CLI
    (the editable install the other tests use does not notice)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "planner").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


def test_ci_runs_the_readmes_test_commands_as_written() -> None:
    """The README's test command and its packaging tests are what CI runs, word for word, so a
    reader who runs them runs what CI checks."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    test_commands = [block for block in re.findall(r"```\n(.*?)\n```", readme, re.S) if "pytest" in block][:2]
    assert len(test_commands) == 2 and "PLANNER_TEST_BUNDLE=1" in test_commands[1], "README: suite, then packaging"
    # The shell joins a line that ends in a backslash with the next one.
    ci_lines = re.sub(r"\\\n\s*", "", (REPO / ".ci" / "run").read_text(encoding="utf-8")).splitlines()
    for command in test_commands:
        assert command in ci_lines, f".ci/run must run the README's command as written: {command}"
    assert ci_lines.index(test_commands[0]) < ci_lines.index(test_commands[1]), "the suite runs first"
