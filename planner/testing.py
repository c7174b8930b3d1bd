"""pytest fixtures for plugin authors (loaded automatically as the ``planner`` pytest plugin).

The planner's wheel registers this module under the ``pytest11`` entry point, so wherever
the planner is installed, pytest offers these fixtures with no import. A vendor tests a
plugin in a few lines::

    import acme_planner_plugin

    def test_my_gpu_loads(planner_check_plugin):
        catalog = planner_check_plugin("acme", acme_planner_plugin)
        assert catalog.gpus.get("acme-x1").hbm_gib == 96

    def test_my_numbers_are_sourced(planner_assert_sourced):
        planner_assert_sourced("acme", acme_planner_plugin)

    def test_my_rules_compile(planner_assert_rule_packs_compile):
        engine = planner_assert_rule_packs_compile("acme", acme_planner_plugin)
        assert "acme.driver-too-old" in {rule.id for _, rule in engine.rules}

``packaging/plugin-template/tests/`` also sizes ``planner_sample_plan`` on the vendor's GPU.

Every fixture points ``PLANNER_HOME`` at a temporary folder, so tests never touch the
user's own imported models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.catalog import Catalog, build_catalog
from planner.manager import PluginHost, make_plugin_manager
from planner.plan import Plan
from planner.validation import RulesEngine, collect_rule_packs

#: What a source must contain to count as public: a web address.
_PUBLIC_SOURCE = re.compile(r"https?://[^\s]+\.[a-z]{2,}")


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


@pytest.fixture
def planner_host(planner_make_host: Callable[..., PluginHost]) -> PluginHost:
    """A fresh plugin manager with the built-in plugins and every installed one, as a command builds it."""
    return planner_make_host()


@pytest.fixture
def planner_make_session(planner_make_host: Callable[..., PluginHost]) -> Callable[..., Any]:
    """Factory: ``planner_make_session(("name", plugin), ...)`` opens a workflows session (what
    a command or the desktop app works in) over the built-ins and the given plugins.

    Pass it to :func:`planner.workflows.plan` to size and check a plan as ``planner plan`` does.
    """

    def make(*plugins: tuple[str, object], builtins: bool = True) -> Any:
        from planner.workflows import Session

        host = planner_make_host(*plugins, builtins=builtins)
        return Session(host, build_catalog(host))

    return make


@pytest.fixture
def planner_sample_plan() -> Plan:
    """The demo plan of ``planner demo`` (a knowledge assistant), ready to size or to change.

    ``planner_sample_plan.model_copy(update=...)`` or ``model_dump()`` then
    :func:`planner.workflows.plan_from_fields` gives a variant, e.g. pinned to your GPU.
    """
    from planner import workflows

    return workflows.read_plan(workflows.example_plan_path())


def unsourced_numbers(catalog: Catalog) -> list[str]:
    """Every catalog entry, or per-field source, that cites no public web address; and every
    estimate with no ``notes`` saying how it was made.

    :param catalog: a catalog built from the plugins under test.
    :returns: one line per problem, naming the entry (``gpus:acme-x1``) and the field.
    """
    found = []
    for kind in ("gpus", "models", "runtimes", "stacks"):
        for spec in catalog.section(kind).specs():
            label = f"{kind}:{spec.id}"
            if not _PUBLIC_SOURCE.search(spec.source):
                found.append(f"{label}: `source` cites no public web address (a datasheet or model card URL)")
            for field_path, source in spec.field_sources.items():
                if not _PUBLIC_SOURCE.search(source):
                    found.append(f"{label}: field_sources.{field_path} cites no public web address")
            if spec.estimates and not spec.notes.strip():
                found.append(f"{label}: estimates {spec.estimates} need `notes` saying how they were made")
    return found


@pytest.fixture
def planner_assert_sourced(planner_check_plugin: Callable[[str, object], Catalog]) -> Callable[[str, object], Catalog]:
    """Load one plugin on its own; fail on any invalid spec or any number without a public source.

    :returns: ``check(name, plugin)``, which returns the plugin's catalog.
    """

    def check(name: str, plugin: object) -> Catalog:
        catalog = planner_check_plugin(name, plugin)
        problems = unsourced_numbers(catalog)
        assert not problems, "numbers without a source:\n" + "\n".join(problems)
        return catalog

    return check


@pytest.fixture
def planner_assert_rule_packs_compile(
    planner_make_host: Callable[..., PluginHost],
) -> Callable[[str, object], RulesEngine]:
    """Load one plugin on its own, validate its rule packs and compile them in the rules engine.

    Fails when the plugin contributes no pack, a pack is invalid, or a condition does not
    compile.

    :returns: ``check(name, plugin)``, which returns the compiled :class:`RulesEngine`
        (``engine.rules`` lists ``(pack name, rule)``).
    """

    def check(name: str, plugin: object) -> RulesEngine:
        host = planner_make_host((name, plugin), builtins=False, strict=False)
        packs, problems = collect_rule_packs(host)
        engine = RulesEngine(packs)
        messages = [str(p) for p in [*host.problems, *problems, *engine.problems]]
        assert not messages, "rule pack problems:\n" + "\n".join(messages)
        assert packs, f"plugin {name} contributes no rule pack (planner_rule_packs)"
        return engine

    return check
