"""A plan that turns the engine's prefix caching off is sized, simulated and deployed without it,
and one that leaves it on gets its shared prefix cached in every path, the disaggregated prefill
pool's included (it once prefilled every prompt whole while the aggregated replicas skipped the
prefix, and a plan's `enable_prefix_caching: false` was shown, then ignored by sizing and deploy)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from planner import workflows
from planner.performance_models import BUILTIN
from planner.plan_simulation import workload_of
from planner.pool_capacity import prefill_busy_s, request_shape
from planner.sizing.capacity import caches_prefixes
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from planner.traffic import population_of
from tests.conftest import PLANS, run_cli

USE_CASE_1 = PLANS / "usecases" / "1-knowledge-assistant.yaml"
#: Each runtime's knob that turns its prefix cache off, and the value that does.
OFF = {"vllm": ("enable_prefix_caching", False), "sglang": ("disable_radix_cache", True),
       "trtllm": ("enable_block_reuse", False)}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Any:
    return workflows.open_session().catalog


def _dep(catalog: Any, runtime: str, **knobs: Any) -> Deployment:
    return Deployment(
        catalog.models.get("llama-3.3-70b"), catalog.gpus.get("h100-sxm"), catalog.runtimes.get(runtime), "fp8", "fp8",
        tp=2, knobs=knobs,
    )  # fmt: skip


@pytest.mark.parametrize("runtime", sorted(OFF))
def test_each_runtime_caches_prefixes_unless_its_knob_turns_it_off(catalog: Any, runtime: str) -> None:
    name, value = OFF[runtime]
    assert caches_prefixes(_dep(catalog, runtime)), "every engine caches prefixes by default"
    assert not caches_prefixes(_dep(catalog, runtime, **{name: value}))
    assert caches_prefixes(_dep(catalog, runtime, **{name: not value}))


def test_without_prefix_caching_every_prompt_is_prefilled_whole(catalog: Any) -> None:
    """Use case 1's 800 shared tokens: the estimate's batch skips them only where the engine caches
    them (its TTFT longer without), the simulator's requests likewise, and the prefill pool's floor
    counts the tokens it computes."""
    plan = workflows.read_plan(USE_CASE_1)
    population = population_of(plan.workload)
    assert population.cached_tokens == 800
    on, off = _dep(catalog, "vllm"), _dep(catalog, "vllm", enable_prefix_caching=False)
    cached = estimate(on, 6000, 700, model=BUILTIN, concurrency=8, population=population)
    whole = estimate(off, 6000, 700, model=BUILTIN, concurrency=8, population=population)
    assert cached.timing is not None and whole.timing is not None
    assert cached.timing.population == population
    assert whole.timing.population == replace(population, cached_tokens=0.0)
    assert whole.ttft_ms > cached.ttft_ms
    assert workload_of(plan, on).prefix_hit_rate == 1.0 and workload_of(plan, off).prefix_hit_rate == 0.0
    shape_on, shape_off = request_shape(plan, on), request_shape(plan, off)
    assert shape_on.mean_cached_tokens == pytest.approx(800, rel=0.01) and shape_off.mean_cached_tokens == 0
    busy_on, busy_off = prefill_busy_s((on, BUILTIN), shape_on), prefill_busy_s((off, BUILTIN), shape_off)
    computed = (shape_on.mean_input_tokens - 800) / shape_on.mean_input_tokens
    assert busy_on / busy_off == pytest.approx(computed, rel=0.1)


def test_the_prefill_pool_caches_the_shared_prefix_as_an_aggregated_replica_does(catalog: Any) -> None:
    from planner.disaggregation import prefill_stage, prefill_ttft

    plan = workflows.read_plan(USE_CASE_1)
    on, off = _dep(catalog, "vllm"), _dep(catalog, "vllm", enable_prefix_caching=False)
    stages = {dep: prefill_stage(plan, (dep, BUILTIN), 8.0, 2, duration_s=60.0) for dep in (on, off)}
    cached = [r.cached_tokens for r in stages[on].result.requests]
    assert cached and min(cached) > 0, "every prompt's shared prefix is cached"
    assert not any(r.cached_tokens for r in stages[off].result.requests)
    ttft = {dep: prefill_ttft(plan, stage)["at_percentile_ms"]["ttft"] for dep, stage in stages.items()}
    assert ttft[on] < ttft[off]


def test_plan_and_deploy_keep_prefix_caching_off_where_the_plan_turns_it_off(tmp_path: Any) -> None:
    text = USE_CASE_1.read_text(encoding="utf-8")
    assert "  id: vllm\n" in text
    path = tmp_path / "no-cache.yaml"
    path.write_text(text.replace("  id: vllm\n", "  id: vllm\n  knobs: {enable_prefix_caching: false}\n"), "utf-8")
    planned = run_cli("plan", str(path))
    assert planned.returncode in (0, 1), planned.stderr
    assert "prefix tokens cached" not in planned.stdout, "sized with every prompt prefilled whole"
    assert "prefix tokens cached" in run_cli("plan", str(USE_CASE_1)).stdout
    out = tmp_path / "config"
    deployed = run_cli("deploy", str(path), "--target", "llm-d", "--out", str(out))
    assert deployed.returncode == 0, deployed.stderr
    values = (out / "llm-d-values.yaml").read_text(encoding="utf-8")
    assert "--no-enable-prefix-caching" in values and "--enable-prefix-caching\n" not in values


def test_the_tuning_plan_says_the_plan_turned_prefix_caching_off(catalog: Any) -> None:
    """Step 9's prefix-caching experiment no longer says the generated configuration turns caching on
    where the plan turns it off (and the configuration with it)."""
    from planner.deploy.tuning import tuning_plan
    from planner.resolve import resolve_plan
    from planner.sizing.plan_sizing import size_plan

    session = workflows.open_session()
    texts = {}
    for off in (False, True):
        plan = workflows.read_plan(USE_CASE_1)
        if off:
            plan = plan.model_copy(
                update={"runtime": plan.runtime.model_copy(update={"knobs": {"enable_prefix_caching": False}})}
            )
        resolved = resolve_plan(plan, session.catalog, "uc1.yaml")
        fleet = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
        assert fleet is not None
        step = next(e for e in tuning_plan(resolved, fleet.sizing, "0.11.0").experiments if "prefix" in e.lever)
        texts[off] = step.change
    assert "the generated configuration turns it on" in texts[False]
    assert "the plan turns it off in runtime.knobs" in texts[True]
