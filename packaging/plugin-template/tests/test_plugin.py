"""The template's tests: they pass out of the box, and keep passing as you replace the data.

The ``planner_*`` fixtures come from ``planner.testing``, the pytest plugin installed with
the planner; run ``pytest`` in this folder after ``pip install -e .``.
"""

from __future__ import annotations

from typing import Any

import planner_vendor_template as plugin
from planner_vendor_template.performance import NAME, VendorRoofline

from planner import workflows
from planner.sizing.deployment import Deployment

PLUGIN = ("vendor_template", plugin)


def test_the_gpu_is_valid_and_every_number_cites_a_source(planner_assert_sourced: Any) -> None:
    catalog = planner_assert_sourced(*PLUGIN)
    gpu = catalog.gpus.get("mi210")
    assert gpu.hbm_gib == 64.0 and gpu.supports("bf16") and not gpu.supports("fp8")
    assert catalog.gpus.get("Instinct MI210").id == "mi210", "aliases resolve to the id"


def test_the_rule_pack_compiles(planner_assert_rule_packs_compile: Any) -> None:
    engine = planner_assert_rule_packs_compile(*PLUGIN)
    assert {rule.id for _, rule in engine.rules} == {"vendor_template.cdna2-rocm-build"}


def _deployment(catalog: Any, gpu: str) -> Deployment:
    model, runtime = catalog.models.get("llama-3.3-70b"), catalog.runtimes.get("vllm")
    return Deployment(model, catalog.gpus.get(gpu), runtime, weights_dtype="bf16", kv_dtype="bf16", tp=4)


def test_the_performance_model_times_only_the_vendor_generations(planner_make_session: Any) -> None:
    catalog = planner_make_session(PLUGIN).catalog
    model = VendorRoofline()
    ours, theirs = _deployment(catalog, "mi210"), _deployment(catalog, "h100-sxm")
    assert model.coverage(ours) is None
    assert "cdna2" in (model.coverage(theirs) or ""), "elsewhere the built-in model answers"
    # Decode of a 70B model in bf16 on TP 4 reads ~35 GB per GPU per step: bandwidth-bound.
    step_s = model.decode_step_s(ours, batch=1, context=2048)
    assert 35e9 / 1.6384e12 < step_s < 0.2, step_s
    assert model.prefill_s(ours, 1, 2048) > model.decode_step_s(ours, 1, 2048)


def test_the_sample_plan_sized_on_the_vendor_gpu(planner_make_session: Any, planner_sample_plan: Any) -> None:
    data = planner_sample_plan.model_dump(mode="json", exclude_none=True)
    data["hardware"] = {"gpu": "mi210"}
    data["model"].update(weights="bf16", kv_cache="bf16")  # CDNA2 has no fp8
    # A 2021 PCIe card: the sample's 1.5 s TTFT is out of reach for a 70B model on it.
    data["slo"].update(ttft_ms=4000, itl_ms=100, e2e_ms=90000)
    plan = workflows.plan_from_fields(data)
    report = workflows.plan(planner_make_session(PLUGIN), plan, "sample.yaml", backend=NAME)
    best = report.sizing.best
    assert best is not None, report.sizing.why_none
    assert best.sizing.deployment.gpu.id == "mi210"
    assert "vendor_template.cdna2-rocm-build" in {f.rule_id for f in report.validation.findings}
