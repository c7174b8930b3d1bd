"""The vendor kit: the hook API version, the ``planner.testing`` fixtures, and
``planner plugins install/remove`` with a real wheel built from ``packaging/plugin-template``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planner import __version__, hookimpl, hookspecs, workflows
from planner.errors import PlannerError
from planner.plugin_install import install_wheel, installed_plugins, plugins_dir, remove_plugin
from planner.render import plugins_table
from planner.rulepack import Rule, RulePack
from tests.conftest import REPO, build_template_wheel, copy_sources, run_cli

TEMPLATE = REPO / "packaging" / "plugin-template"


class _Vendor:
    """A third-party plugin declaring a hook API (``None``: declaring none)."""

    def __init__(self, api: str | None) -> None:
        if api is not None:
            self.PLANNER_HOOK_API = api

    @hookimpl
    def planner_gpus(self) -> list[Any]:
        return []


def _session(planner_make_host: Any, *plugins: tuple[str, object]) -> workflows.Session:
    from planner.catalog import build_catalog

    host = planner_make_host(*plugins)
    return workflows.Session(host, build_catalog(host))


def test_a_plugin_written_for_another_hook_api_is_reported_and_still_loaded(planner_make_host: Any) -> None:
    session = _session(planner_make_host, ("old", _Vendor("0")), ("current", _Vendor("1")), ("silent", _Vendor(None)))
    rows = {row.name: row for row in workflows.plugin_report(session).rows}
    assert rows["old"].status == "loaded" and rows["old"].hook_api == "0"
    assert rows["old"].problems == [
        f"written for hook API 0, but planner {__version__} provides hook API 1; it is loaded, "
        'but ask its vendor for a release written for API 1 (docs/plugins.md, "Versioning")'
    ]
    assert rows["current"].hook_api == "1" and not rows["current"].problems
    assert rows["silent"].hook_api == "" and not rows["silent"].problems, "declaring is optional"
    assert rows["nvidia"].hook_api == hookspecs.HOOK_API_VERSION, "built-ins are written for the core's API"
    table = plugins_table(workflows.plugin_report(session))
    assert "hook API" in table and "written for hook API 0" in table
    assert workflows.plugin_report(session).to_json()[0]["hook_api"] is not None


# ----------------------------------------------------------------- planner.testing


class _Unsourced:
    @hookimpl
    def planner_gpus(self) -> list[Any]:
        from planner.catalogfiles import load_entries

        h100 = next(e for e in load_entries("gpus/nvidia.yaml") if e["id"] == "h100-sxm")
        return [{**h100, "id": "x9", "aliases": [], "source": "our datasheet", "field_sources": {}}]


class _Rules:
    def __init__(self, packs: list[Any]) -> None:
        self.packs = packs

    @hookimpl
    def planner_rule_packs(self) -> list[Any]:
        return self.packs


def _rule(**changes: Any) -> Rule:
    fields = {
        "id": "x.rule",
        "principle": "p",
        "severity": "info",
        "fact": "precision",
        "when": {"gpu": "x9"},
        "message": "m",
        "remedy": "r",
    }
    return Rule(**{**fields, **changes})


def test_the_sourced_assertion_fails_on_a_source_that_is_no_web_address(planner_assert_sourced: Any) -> None:
    with pytest.raises(AssertionError, match="gpus:x9: `source` cites no public web address"):
        planner_assert_sourced("x", _Unsourced())


def test_the_rule_pack_assertion_fails_on_no_pack_and_on_a_condition_that_does_not_compile(
    planner_assert_rule_packs_compile: Any,
) -> None:
    with pytest.raises(AssertionError, match="contributes no rule pack"):
        planner_assert_rule_packs_compile("x", _Rules([]))
    broken = RulePack(name="x", concern="c", rules=[_rule(when={"$nonsense": {"gpu": 1}})])
    with pytest.raises(AssertionError, match="rule pack x: could not compile"):
        planner_assert_rule_packs_compile("x", _Rules([broken]))
    engine = planner_assert_rule_packs_compile("x", _Rules([RulePack(name="x", concern="c", rules=[_rule()])]))
    assert [rule.id for _, rule in engine.rules] == ["x.rule"]


def test_the_sample_plan_is_the_demo_plan(planner_sample_plan: Any) -> None:
    assert planner_sample_plan.model.id == "llama-3.3-70b"


# -------------------------------------------------------- install: refusals (no pip)


def _fake_wheel(tmp_path: Path, name: str = "planner_x-1.0-py3-none-any.whl") -> Path:
    wheel = tmp_path / name
    wheel.write_bytes(b"not really a wheel")
    return wheel


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("sha256:" + "0" * 64, "refusing to install it"),
        ("md5:0123", "is not sha256:<64 hex digits>"),
        ("0" * 64, "is not sha256:<64 hex digits>"),
    ],
)
def test_install_refuses_a_hash_that_differs_or_is_not_sha256(tmp_path: Path, given: str, message: str) -> None:
    with pytest.raises(PlannerError, match=message) as caught:
        install_wheel(_fake_wheel(tmp_path), given)
    assert caught.value.fix
    assert not plugins_dir().exists() or not any(plugins_dir().iterdir()), "nothing installed"


def test_install_refuses_a_missing_file_or_one_that_is_not_a_wheel(tmp_path: Path) -> None:
    with pytest.raises(PlannerError, match="no such file"):
        install_wheel(tmp_path / "missing-1.0-py3-none-any.whl", "sha256:" + "0" * 64)
    notes = _fake_wheel(tmp_path, "notes.txt")
    with pytest.raises(PlannerError, match="not a wheel file name"):
        install_wheel(notes, _sha256(notes))


def test_the_command_line_names_the_file_the_hash_and_the_fix(tmp_path: Path) -> None:
    wheel = _fake_wheel(tmp_path)
    result = run_cli("plugins", "install", str(wheel), "--hash", "sha256:" + "1" * 64)
    assert result.returncode == 2, result.stderr
    assert f"error: {wheel}: the wheel's sha256 is" in result.stderr and "fix: " in result.stderr
    assert "Traceback" not in result.stderr
    missing_hash = run_cli("plugins", "install", str(wheel))
    assert missing_hash.returncode == 2 and "--hash" in missing_hash.stderr
    unknown = run_cli("plugins", "remove", "nobody")
    assert unknown.returncode == 2 and "no plugin 'nobody' was installed" in unknown.stderr


# ------------------------------------------------- the template, built and installed


@pytest.fixture(scope="module")
def template_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of a copy of the template, built offline as a vendor builds it."""
    return build_template_wheel(tmp_path_factory.mktemp("template"))


def _demo_on_the_vendor_gpu(folder: Path) -> Path:
    """The demo plan on the template's GPU, in bf16 (no fp8 on CDNA2), with SLOs it can meet."""
    data = workflows.read_plan(workflows.example_plan_path()).model_dump(mode="json", exclude_none=True)
    data["hardware"] = {"gpu": "MI210"}  # an alias the template declares
    data["model"].update(weights="bf16", kv_cache="bf16")
    data["slo"].update(ttft_ms=4000, itl_ms=100, e2e_ms=90000)
    return workflows.write_plan(workflows.plan_from_fields(data), folder / "mi210.yaml")


def test_the_template_installed_from_its_wheel_is_used_by_planner_plan(template_wheel: Path, tmp_path: Path) -> None:
    installed = run_cli("plugins", "install", str(template_wheel), "--hash", _sha256(template_wheel))
    assert installed.returncode == 0, installed.stderr
    assert "installed planner_vendor_template 1.0.0 (plugin vendor_template)" in installed.stdout
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["vendor_template"]["hook_api"] == "1" and not plugins["vendor_template"]["problems"]
    assert plugins["vendor_template"]["contributes"] == {"gpus": 1}
    assert plugins["vendor_template"]["distribution"] == "planner-vendor-template"

    plan = run_cli("plan", str(_demo_on_the_vendor_gpu(tmp_path)), "--perf-backend", "vendor-roofline", "--json")
    assert plan.returncode == 0, plan.stderr
    report = json.dumps(json.loads(plan.stdout))
    assert '"mi210"' in report and "vendor_template.cdna2-rocm-build" in report
    assert "vendor-roofline cdna2-vllm-rocm" in report, "the vendor's model timed the plan"

    removed = run_cli("plugins", "remove", "vendor_template")
    assert removed.returncode == 0 and "removed planner_vendor_template" in removed.stdout
    assert "vendor_template" not in {p["name"] for p in json.loads(run_cli("plugins", "--json").stdout)}


def test_reinstalling_replaces_the_plugin_and_a_refused_wheel_leaves_it_alone(template_wheel: Path) -> None:
    install_wheel(template_wheel, _sha256(template_wheel))
    install_wheel(template_wheel, _sha256(template_wheel))
    with pytest.raises(PlannerError):
        install_wheel(template_wheel, "sha256:" + "0" * 64)
    assert [p.plugin_names for p in installed_plugins()] == [("vendor_template",)]
    assert sorted(p.name for p in plugins_dir().iterdir()) == ["planner-vendor-template"], "no staging left"
    assert remove_plugin("planner-vendor-template").distribution == "planner_vendor_template"
    assert installed_plugins() == []


def test_the_desktop_bundle_unpacks_pure_wheels_without_pip(
    template_wheel: Path, monkeypatch: pytest.MonkeyPatch, planner_make_host: Any
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(subprocess, "run", None)  # no pip in a bundle: calling it would fail
    plugin = install_wheel(template_wheel, _sha256(template_wheel))
    assert (plugin.folder / "planner_vendor_template" / "gpus.yaml").is_file()
    try:
        host = planner_make_host()
        assert host.plugins["vendor_template"].status == "loaded" and not host.problems
    finally:  # later tests must not find the module this one imported from a temporary folder
        for name in [m for m in sys.modules if m.startswith("planner_vendor_template")]:
            del sys.modules[name]
    platform_wheel = template_wheel.with_name(template_wheel.name.replace("none-any", "cp311-manylinux_2_17_x86_64"))
    shutil.copy(template_wheel, platform_wheel)
    with pytest.raises(PlannerError, match="pure-Python plugin wheels only"):
        install_wheel(platform_wheel, _sha256(platform_wheel))


@pytest.mark.slow  # a second pytest session: about 9 s
def test_the_template_tests_pass_out_of_the_box(tmp_path: Path) -> None:
    project = copy_sources(TEMPLATE, tmp_path / "vendor")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:randomly"],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
