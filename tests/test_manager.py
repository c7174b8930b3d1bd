"""The plugin manager: built-ins load like third-party plugins, and one broken plugin
never takes the others down."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from planner import hookimpl
from planner.catalog import build_catalog
from planner.catalogfiles import load_entries
from planner.manager import BUILTIN_PLUGINS, make_plugin_manager

H100 = next(e for e in load_entries("gpus/nvidia.yaml") if e["id"] == "h100-sxm")


def gpu(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(H100)
    spec.update(aliases=[], price=None, **changes)
    return spec


class GoodVendor:
    @hookimpl
    def planner_gpus(self) -> list[dict[str, Any]]:
        return [gpu(id="acme-x1", name="ACME X1")]


class RaisingVendor:
    @hookimpl
    def planner_gpus(self) -> list[dict[str, Any]]:
        raise RuntimeError("datasheet server unreachable")


class HalfInvalidVendor:
    @hookimpl
    def planner_gpus(self) -> list[dict[str, Any]]:
        bad = gpu(id="bad-one", name="Bad")
        bad["hbm_gib"] = "eighty"
        return [bad, gpu(id="fine-one", name="Fine")]


class GigabyteVendor:
    @hookimpl
    def planner_gpus(self) -> list[dict[str, Any]]:
        # 85.0 is the H100's 79.18 GiB written in GB (10**9 B): more than the card holds
        return [gpu(id="gb-one", name="GB One", reported_gib=85.0), gpu(id="fine-one", name="Fine")]


class DuplicateVendor:
    @hookimpl
    def planner_gpus(self) -> list[dict[str, Any]]:
        return [gpu(id="h100-sxm", name="Impostor")]


class WrongReturnType:
    @hookimpl
    def planner_gpus(self) -> dict[str, Any]:
        return {"id": "x"}


class TypoHook:
    @hookimpl
    def planner_gpu(self) -> list[Any]:  # missing 's': pluggy alone would stay silent
        return []


class WarningVendor:
    @hookimpl
    def planner_models(self) -> list[Any]:
        import warnings

        warnings.warn("skipped one unreadable file", stacklevel=1)
        return []


def test_builtins_register_through_entry_points_like_third_party(catalog: Any) -> None:
    host = make_plugin_manager()
    assert set(BUILTIN_PLUGINS) <= set(host.plugins)
    for name in BUILTIN_PLUGINS:
        info = host.plugins[name]
        assert info.status == "loaded" and info.builtin, name
        assert info.distribution != "?", "found via the entry point, with its distribution"
    assert not host.problems


def test_builtins_load_by_import_path_without_entry_points() -> None:
    """A frozen bundle has no package metadata: the built-ins must still load."""
    host = make_plugin_manager(entry_points=False)
    assert set(host.plugins) == set(BUILTIN_PLUGINS)
    catalog = build_catalog(host)
    assert catalog.gpus.get("h100-sxm").hbm_tb_s == 3.35
    assert not catalog.problems


def test_raising_plugin_is_reported_and_others_keep_working(planner_make_host: Any) -> None:
    host = planner_make_host(("raiser", RaisingVendor()), ("acme", GoodVendor()))
    catalog = build_catalog(host)
    assert catalog.gpus.get("acme-x1").name == "ACME X1"
    assert catalog.gpus.get("mi300x")
    [problem] = catalog.problems
    assert problem.plugin == "raiser" and "RuntimeError: datasheet server unreachable" in problem.error


def test_strict_mode_reraises_for_plugin_authors(planner_make_host: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PLANNER_STRICT_PLUGINS", "1")
    host = planner_make_host(("raiser", RaisingVendor()), builtins=False)
    with pytest.raises(RuntimeError, match="unreachable"):
        build_catalog(host)


def test_invalid_spec_is_skipped_with_field_and_valid_ones_load(planner_make_host: Any) -> None:
    catalog = build_catalog(planner_make_host(("half", HalfInvalidVendor()), builtins=False))
    assert [g.id for g in catalog.gpus.specs()] == ["fine-one"]
    [problem] = catalog.problems
    assert problem.plugin == "half" and "'bad-one'" in problem.error and "hbm_gib" in problem.error


def test_reported_memory_above_the_installed_is_refused_with_the_fix(planner_make_host: Any) -> None:
    catalog = build_catalog(planner_make_host(("gb", GigabyteVendor()), builtins=False))
    assert [g.id for g in catalog.gpus.specs()] == ["fine-one"]
    [problem] = catalog.problems
    assert "'gb-one'" in problem.error and "reported_gib (85.0) must be at most hbm_gib (79.65)" in problem.error
    assert "in GiB" in problem.error


def test_duplicate_id_names_both_plugins(planner_make_host: Any) -> None:
    catalog = build_catalog(planner_make_host(("impostor", DuplicateVendor())))
    assert catalog.gpus.get("h100-sxm").name != "Impostor"
    [problem] = catalog.problems
    assert problem.plugin == "impostor"
    assert "'nvidia'" in problem.error and "'impostor'" in problem.error


def test_wrong_return_type_is_reported(planner_make_host: Any) -> None:
    catalog = build_catalog(planner_make_host(("wrong", WrongReturnType()), builtins=False))
    assert "must return a list" in catalog.problems[0].error


def test_hook_name_typo_is_reported(planner_make_host: Any) -> None:
    host = planner_make_host(("typo", TypoHook()), builtins=False)
    assert any("unknown hook planner_gpu()" in p.error for p in host.problems)


def test_warnings_from_a_plugin_become_its_problems(planner_make_host: Any) -> None:
    catalog = build_catalog(planner_make_host(("warner", WarningVendor()), builtins=False))
    assert [(p.plugin, p.error) for p in catalog.problems] == [
        ("warner", "planner_models(): skipped one unreadable file")
    ]


def test_module_that_fails_to_import_is_reported(monkeypatch: Any) -> None:
    monkeypatch.setitem(BUILTIN_PLUGINS, "ghost", "planner.plugins.ghost_that_does_not_exist")
    host = make_plugin_manager(entry_points=False)
    assert host.plugins["ghost"].status == "failed"
    [problem] = host.problems
    assert problem.plugin == "ghost" and "ModuleNotFoundError" in problem.error
    assert build_catalog(host).gpus.get("h100-sxm"), "the other plugins still load"


def test_disable_plugin_by_name(catalog: Any) -> None:
    host = make_plugin_manager(blocked=("amd", "nosuch"))
    assert host.plugins["amd"].status == "disabled"
    built = build_catalog(host)
    assert "mi300x" not in built.gpus.entries
    assert any(p.plugin == "nosuch" and "no installed plugin" in p.error for p in built.problems)


def test_planner_load_plugins_selects_what_loads(monkeypatch: Any) -> None:
    from planner.catalog import load_catalog

    monkeypatch.setenv("PLANNER_LOAD_PLUGINS", "nvidia, vllm")
    host, catalog = load_catalog()
    loaded = {n for n, i in host.plugins.items() if i.status == "loaded"}
    assert loaded == {"nvidia", "vllm"}
    assert host.plugins["amd"].status == "not selected"
    assert len(catalog.gpus.entries) == 12 and not catalog.models.entries
    monkeypatch.setenv("PLANNER_LOAD_PLUGINS", "")
    host, catalog = load_catalog()
    assert not catalog.gpus.entries


def test_rule_pack_and_benchmark_importer_hooks_reach_plugins(planner_make_host: Any) -> None:
    class Extras:
        @hookimpl
        def planner_rule_packs(self) -> list[str]:
            return ["fp8-kv-needs-driver-550"]

        @hookimpl
        def planner_benchmark_importers(self) -> list[str]:
            return ["acme-bench"]

    host = planner_make_host(("extras", Extras()))
    assert ("extras", ["fp8-kv-needs-driver-550"]) in host.call_each("planner_rule_packs")
    assert ("extras", ["acme-bench"]) in host.call_each("planner_benchmark_importers")


def test_model_from_config_first_result_wins_and_errors_are_isolated(planner_make_host: Any) -> None:
    class Broken:
        @hookimpl
        def planner_model_from_config(self, config: dict[str, Any]) -> Any:
            raise KeyError("oops")

    host = planner_make_host(("broken", Broken()))
    config = dict(load_entries("models/llama.yaml")[0]["config"])
    plugin, spec = host.call_first("planner_model_from_config", config=config)
    assert plugin == "llama" and spec.num_layers == 32
    assert any(p.plugin == "broken" and "KeyError" in p.error for p in host.problems)


def test_runtime_and_stack_hooks_accept_third_party_entries(planner_make_host: Any) -> None:
    vllm = next(e for e in load_entries("runtimes/vllm.yaml"))
    stack = next(e for e in load_entries("stacks/stacks.yaml") if e["id"] == "kserve")

    class EngineVendor:
        @hookimpl
        def planner_runtimes(self) -> list[dict[str, Any]]:
            return [{**vllm, "id": "acme-engine", "name": "ACME Engine", "aliases": []}]

        @hookimpl
        def planner_serving_stacks(self) -> list[dict[str, Any]]:
            return [{**stack, "id": "acme-serve", "name": "ACME Serve", "aliases": [], "runtimes": ["acme-engine"]}]

    catalog = build_catalog(planner_make_host(("engine", EngineVendor())))
    assert catalog.runtimes.get("acme-engine").kv_budget_rule == "fraction_of_total"
    assert catalog.runtimes.plugin_of("acme-engine") == "engine"
    assert catalog.stacks.get("acme-serve").runtimes == ["acme-engine"]
    assert catalog.contributions()["engine"] == {"runtimes": 1, "stacks": 1}
    assert not catalog.problems
