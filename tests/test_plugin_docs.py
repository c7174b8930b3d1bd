"""docs/plugins.md stays true: every hook's example there is a plugin that loads and
contributes, and every field of the catalog specs is documented."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import pytest

from planner import hookspecs
from planner.catalog import build_catalog
from planner.specs import GpuSpec, ModelSpec, RuntimeSpec, ServingStackSpec
from tests.conftest import CONFIGS, REPO

PAGE = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
EXAMPLES = dict(re.findall(r"```python\n# hook example: (\w+)\n(.*?)```", PAGE, flags=re.DOTALL))
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("planner_"))


def _module(hook: str) -> types.ModuleType:
    module = types.ModuleType(f"docs_example_{hook}")
    exec(compile(EXAMPLES[hook], f"docs/plugins.md ({hook})", "exec"), module.__dict__)
    return module


@pytest.fixture
def examples_host(planner_make_host: Any) -> Any:
    """The built-ins and every example of the page, each registered as its own plugin."""
    return planner_make_host(*[(f"ex_{hook}", _module(hook)) for hook in HOOKS], strict=True)


def test_every_hook_has_an_example() -> None:
    assert sorted(EXAMPLES) == HOOKS


def test_the_examples_load_and_contribute(examples_host: Any) -> None:
    catalog = build_catalog(examples_host)
    assert not catalog.problems, catalog.problems
    assert catalog.gpus.get("ACME X1").hbm_gib == 96.0
    assert catalog.models.get("acme/assistant-8b").num_kv_heads == 8
    assert catalog.runtimes.get("acme-vllm").vendors == ["acme"]
    assert catalog.stacks.get("acme-serve").runtimes == ["vllm", "acme-vllm"]
    assert catalog.performance_models_of("ex_planner_performance_models") == [
        "acme-roofline (planner roofline with ACME factors)"
    ]
    packs = [pack for _, result in examples_host.call_each("planner_rule_packs") for pack in result]
    assert "acme.driver-for-fp8-kv" in {rule.id for pack in packs for rule in pack.rules}
    assert _module("planner_gpus").PLANNER_HOOK_API == hookspecs.HOOK_API_VERSION


def test_the_converter_example_imports_its_architecture(examples_host: Any) -> None:
    config = json.loads((CONFIGS / "llama-3.1-70b.json").read_text(encoding="utf-8"))
    plugin, spec = examples_host.call_first(
        "planner_model_from_config", config={**config, "architectures": ["AcmeLlamaForCausalLM"]}
    )
    assert plugin == "ex_planner_model_from_config" and spec.num_layers == 80


def test_the_importer_example_reads_its_format(examples_host: Any, tmp_path: Path) -> None:
    results = examples_host.call_each("planner_benchmark_importers")
    importer = next(i for plugin, found in results if plugin.startswith("ex_") for i in found)
    path = tmp_path / "run.csv"
    path.write_text(
        "acme-bench,1\nconcurrency,completed,ttft_p50_ms,itl_p50_ms,output_tok_s\n16,480,210.5,22.1,700\n",
        encoding="utf-8",
    )
    assert importer.can_read(path, path.read_text(encoding="utf-8"))
    (run,) = importer.read(path)
    assert (run.load, run.latency["ttft_ms"]["p50"], run.output_tok_s) == (16.0, 210.5, 700.0)


@pytest.mark.parametrize("spec", [GpuSpec, ModelSpec, RuntimeSpec, ServingStackSpec])
def test_every_spec_field_is_documented(spec: type[Any]) -> None:
    missing = [name for name in spec.model_fields if f"`{name}`" not in PAGE]
    assert not missing, f"docs/plugins.md does not document {spec.__name__} fields {missing}"
