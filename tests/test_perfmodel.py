"""The performance-model contract: the built-in roofline is one plugin among others, and
the sizing engine and the simulator time a deployment through whichever model it names."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from planner import hookimpl
from planner.catalog import build_catalog
from planner.errors import UnknownIdError
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN, AnalyticModel, choose
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from tests.conftest import run_cli

#: A small estimate on an NVIDIA GPU, for the command-line tests.
ESTIMATE_H100 = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl", "500", "--osl", "50"]
ESTIMATE_H100 += ["--concurrency", "2"]


@dataclass(frozen=True)
class TwiceAsSlow:
    """A test model: every phase takes ``factor`` (two) times what the built-in model says."""

    name: str = "twice-as-slow"
    factor: float = 2.0

    def coverage(self, dep: Deployment) -> str | None:
        return None if dep.gpu.vendor == "nvidia" else "NVIDIA only"

    def prefill_s(self, dep: Deployment, requests: float, length: int) -> float:
        return self.factor * BUILTIN.prefill_s(dep, requests, length)

    def decode_step_s(self, dep: Deployment, batch: float, context: int) -> float:
        return self.factor * BUILTIN.decode_step_s(dep, batch, context)

    def mixed_step_s(self, dep: Deployment, p: float, pk: float, d: float, dk: float) -> float:
        return self.factor * BUILTIN.mixed_step_s(dep, p, pk, d, dk)

    def overhead_s(self, dep: Deployment) -> float:
        return self.factor * BUILTIN.overhead_s(dep)

    def source(self, dep: Deployment) -> str:
        return "test model: twice the roofline"


class Vendor:
    @hookimpl
    def planner_performance_models(self) -> list[Any]:
        return [TwiceAsSlow(), "not a model", TwiceAsSlow()]


def dep(catalog: Any, **kw: Any) -> Deployment:
    m = catalog.models.get("llama-3.1-8b")
    return Deployment(m, catalog.gpus.get("h100-sxm"), catalog.runtimes.get("vllm"), "bf16", "bf16", **kw)


def test_builtin_model_is_registered_like_a_plugin(catalog: Any) -> None:
    plugin, model = catalog.performance_models["builtin"]
    assert plugin == "analytic" and model is BUILTIN
    assert isinstance(model, PerformanceModel) and catalog.performance_model("builtin") is BUILTIN
    with pytest.raises(UnknownIdError) as info:
        catalog.performance_model("nope")
    assert "registered models: aiconfigurator, auto, builtin" in info.value.fix


def test_a_plugin_model_times_the_estimate_and_says_so(planner_make_host: Any, catalog: Any) -> None:
    built = build_catalog(planner_make_host(("vendor", Vendor())))
    slow = built.performance_model("twice-as-slow")
    problems = [p.error for p in built.problems if p.plugin == "vendor"]
    assert any("not a performance model" in e for e in problems)
    assert any("already registered" in e for e in problems)
    base = dep(catalog)
    fast = estimate(base, 1000, 200, model=BUILTIN, offline=True)  # one batch for both (no front end's share)
    twice = estimate(base, 1000, 200, model=slow, offline=True)
    assert twice.itl_ms == pytest.approx(2 * fast.itl_ms, rel=1e-6)
    assert twice.to_json()["provenance"]["performance_model"] == "twice-as-slow"
    assert twice.efficiency is None and "twice the roofline" in twice.to_json()["provenance"]["performance"]
    assert slow.coverage(replace(base, gpu=catalog.gpus.get("mi300x"))) == "NVIDIA only"


def test_the_simulator_uses_the_deployments_model(catalog: Any) -> None:
    from planner.plan_simulation import make_replicas

    base = dep(catalog)
    plain = make_replicas(base, BUILTIN, 1, 2000)[0].step_model(1000, 500_000, 8, 8000)
    slow = make_replicas(base, TwiceAsSlow(), 1, 2000)[0].step_model(1000, 500_000, 8, 8000)
    assert slow == pytest.approx(2 * plain)


def test_fixed_factors_for_calibration(catalog: Any) -> None:
    from planner.sizing.efficiency import Efficiency

    fixed = AnalyticModel(fixed=Efficiency(0.5, 0.5, 0.5, 0.0))
    assert fixed.efficiency(dep(catalog)).mbu_decode == 0.5
    assert "calibrated" in BUILTIN.source(dep(catalog))


def test_search_times_candidates_with_the_chosen_model_and_falls_back(catalog: Any) -> None:
    from planner.planfile import load_plan
    from planner.resolve import resolve_plan
    from planner.sizing.search import candidate_deployments, search
    from tests.conftest import PLANS

    resolved = resolve_plan(load_plan(PLANS / "code-assistant.yaml"), catalog)
    deps = list(candidate_deployments(resolved, catalog))
    nvidia = [d for d in deps if d.gpu.vendor == "nvidia"]
    amd = [d for d in deps if d.gpu.vendor == "amd"]
    assert nvidia and all(choose(TwiceAsSlow(), d).name == "twice-as-slow" for d in nvidia)
    assert amd and all(choose(TwiceAsSlow(), d).name == "builtin" for d in amd)
    fallback = choose(TwiceAsSlow(), amd[0])
    assert "twice-as-slow does not cover this configuration (NVIDIA only)" in fallback.source(amd[0])
    est = estimate(amd[0], 1000, 100, model=fallback, concurrency=2)
    assert est.efficiency is not None, "the built-in model answered, with its factors"
    ranked, _ = search(resolved, catalog, TwiceAsSlow())
    models = {(c.sizing.deployment.gpu.vendor, c.sizing.model.name) for c in ranked}
    assert ("nvidia", "twice-as-slow") in models, "the shortlist's NVIDIA candidates are re-timed"
    assert ("amd", "twice-as-slow") not in models


def test_a_slower_models_first_places_are_its_own_and_settled(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chosen model re-times candidates until the first ``SETTLED`` places cannot change; those
    it leaves keep the screen's figures, rank after, and say so in every table."""
    from planner import workflows
    from planner.planfile import load_plan
    from planner.render import search_text
    from planner.resolve import resolve_plan
    from planner.sizing import search as search_module
    from planner.sizing.search import SETTLED, search
    from tests.conftest import PLANS

    resolved = resolve_plan(load_plan(PLANS / "usecases" / "2-code-assistant.yaml"), catalog)
    ranked, _ = search(resolved, catalog, TwiceAsSlow())
    retimed = [c for c in ranked if not c.screened_only]
    screened = [c for c in ranked if c.screened_only]
    assert len(retimed) >= SETTLED and screened, "the screen spared re-timing some candidates"
    assert ranked[: len(retimed)] == retimed, "the chosen model's candidates rank first"
    assert [c.sort_key for c in retimed] == sorted(c.sort_key for c in retimed), "cheapest first on its figures"
    assert {c.sizing.model.name for c in screened} == {"builtin"}
    # twice as slow never lowers a cost: the screen's cost bounds what re-timing could find
    priced = [c.eur_per_m_tokens for c in screened if c.eur_per_m_tokens is not None]
    assert priced and min(priced) > (retimed[SETTLED - 1].eur_per_m_tokens or 0)
    monkeypatch.setattr(search_module, "SETTLED", 10_000)
    everything, _ = search(resolved, catalog, TwiceAsSlow())
    assert not any(c.screened_only for c in everything)
    assert [c.sizing.deployment for c in everything[:SETTLED]] == [c.sizing.deployment for c in retimed[:SETTLED]]
    monkeypatch.undo()

    report = workflows.SearchReport(ranked, 200, backend="twice-as-slow")
    text = search_text(report, len(ranked))
    marked = [line for line in text.splitlines() if "*" in line]
    assert f"* {len(screened)} row(s) with the built-in model's screening figures" in text
    assert "twice-as-slow re-timed the candidates that could rank among the first 10" in text
    assert len(marked) == len(screened) + 1, "each screened row is marked, and the note explains the mark"
    assert "*" not in search_text(report, SETTLED), "the first places are all the chosen model's"
    shown = report.to_json(len(ranked))
    assert shown["performance_model"] == "twice-as-slow"
    assert [c["screened_only"] for c in shown["candidates"]] == [c.screened_only for c in ranked]


def test_re_timing_goes_as_far_as_the_chosen_model_lowers_a_cost() -> None:
    """The settling rule on made-up candidates costing 1..60: a model that raises every cost by half
    settles after 18 (the 19th screened costs more than the 10th re-timed, 15); one that also
    lowers a single candidate's cost to 0.3 of the screen's must reach the 55th (55 x 0.3 > 15)."""
    from types import SimpleNamespace

    from planner.sizing.search import Candidate, _retimed_until_settled

    screened = [Candidate(SimpleNamespace(deployment=i, gpus=1), float(i)) for i in range(1, 61)]  # type: ignore[arg-type]

    def retimed_by(factors: dict[int, float]) -> Any:
        def retime(batch: list[int]) -> list[Candidate]:
            return [Candidate(SimpleNamespace(deployment=i, gpus=1), i * factors.get(i, 1.5)) for i in batch]  # type: ignore[arg-type]

        return retime

    slower = _retimed_until_settled(screened, retimed_by({}))
    assert sum(not c.screened_only for c in slower) == 18
    assert [c.eur_per_m_tokens for c in slower[18:]] == [float(i) for i in range(19, 61)]
    one_cheaper = _retimed_until_settled(screened, retimed_by({5: 0.3}))
    assert sum(not c.screened_only for c in one_cheaper) == 54
    assert one_cheaper[0].eur_per_m_tokens == pytest.approx(1.5) and one_cheaper[0].sizing.deployment in (1, 5)


def test_mix_sizes_each_gpu_class_with_the_chosen_model(catalog: Any) -> None:
    from planner.mix import estimated_pool, size_buckets
    from planner.planfile import load_plan
    from tests.conftest import PLANS

    plan = load_plan(PLANS / "code-assistant.yaml")
    # an ITL target a model twice as slow can still meet on H100
    plan = plan.model_copy(update={"slo": plan.slo.model_copy(update={"itl_ms": 60})})
    every = size_buckets(plan, 3)
    fast = estimated_pool(plan, "h100-sxm", catalog)(every)
    slow = estimated_pool(plan, "h100-sxm", catalog, TwiceAsSlow())(every)
    assert fast is not None and slow is not None
    assert slow.replicas_for_load > 1.3 * fast.replicas_for_load, "the H100 fleet is timed again by the slower model"
    # where the chosen model does not cover the class, the built-in model's sizing stands
    alone = estimated_pool(plan, "mi300x", catalog)(every)
    again = estimated_pool(plan, "mi300x", catalog, TwiceAsSlow())(every)
    assert alone is not None and again is not None
    assert (again.deployment, again.gpus) == (alone.deployment, alone.gpus)


def test_cli_perf_backend_option() -> None:
    from tests.conftest import run_cli

    args = ESTIMATE_H100
    bad = run_cli(*args, "--perf-backend", "nope")
    assert bad.returncode == 2 and "registered models: aiconfigurator, auto, builtin" in bad.stderr
    assert run_cli(*args, "--perf-backend", "builtin").returncode == 0


def test_planner_runs_without_the_extra(tmp_path: Path) -> None:
    """With aiconfigurator-core unimportable, the plugin says so and the built-in model answers."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['aiconfigurator_core'] = None\n")
    env = {"PYTHONPATH": str(tmp_path)}
    listed = run_cli("plugins", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "aiconfigurator (not installed: pip install 'llm-inference-planner[aic]')" in listed.stdout
    args = [*ESTIMATE_H100, "--runtime", "trtllm", "--json"]
    asked = run_cli(*args, "--perf-backend", "aiconfigurator", env=env)
    assert asked.returncode == 0, asked.stderr
    provenance = json.loads(asked.stdout)["provenance"]
    assert provenance["performance_model"] == "builtin"
    assert (
        "aiconfigurator-core is not installed (pip install 'llm-inference-planner[aic]')" in provenance["performance"]
    )
    default = run_cli(*args, env={**env, "PLANNER_PERF_BACKEND": ""})
    assert default.returncode == 0, default.stderr
    provenance = json.loads(default.stdout)["provenance"]
    assert (
        provenance["performance_model"] == "auto" and "throughput, ITL, TTFT from builtin" in provenance["performance"]
    )
    demo = run_cli("demo", env={**env, "PLANNER_PERF_BACKEND": ""})
    assert demo.returncode in (0, 1) and "Traceback" not in demo.stderr, demo.stderr
