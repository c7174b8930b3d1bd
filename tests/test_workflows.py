"""The application layer: every user action returns a typed result holding what a front end
shows, errors are the planner's own, and the command line prints exactly what it returns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planner import workflows
from planner.errors import PlannerError, UnknownIdError
from planner.performance_models import BUILTIN
from planner.plan import Plan
from planner.planfile import parse_plan
from tests.conftest import CONFIGS, PLANS, run_cli

CODE = PLANS / "code-assistant.yaml"


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    """One session for the module, as the desktop app keeps one (actions name builtin)."""
    return workflows.open_session()


def test_a_session_keeps_its_models_and_rules(session: workflows.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    assert session.performance_model("builtin") is BUILTIN
    auto = session.performance_model("auto")
    assert session.performance_model("auto") is auto and session.rules is session.rules
    monkeypatch.setenv("PLANNER_PERF_BACKEND", "auto")
    assert session.performance_model() is auto
    monkeypatch.setenv("PLANNER_PERF_BACKEND", "")
    assert session.performance_model() is auto, "auto is the default"
    with pytest.raises(UnknownIdError):
        session.performance_model("nope")


def test_read_plan_and_the_example(session: workflows.Session) -> None:
    plan = workflows.read_plan(workflows.example_plan_path())
    assert isinstance(plan, Plan) and plan.model.id == "llama-3.3-70b"


def test_plan_sizes_checks_and_says_so(session: workflows.Session) -> None:
    report = workflows.plan(session, workflows.read_plan(CODE), "code.yaml", backend="builtin")
    best = report.sizing.best
    assert best is not None and best.sizing.model is BUILTIN and best.sizing.replicas > 0
    decision = best.decision
    assert decision is not None and decision.feasible, "every plan's choice is checked in simulation"
    assert best.sizing.replicas == decision.replicas and decision.loads[0].mode == "open"
    assert report.validation.findings and report.warnings == []
    data = report.to_json()
    assert data["sizing"]["chosen"]["replicas"] == best.sizing.replicas
    assert {f["rule_id"] for f in data["findings"]} == {f.rule_id for f in report.validation.findings}


def test_a_full_envelope_plan_is_sized_on_the_simulated_envelope(
    session: workflows.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import OrderedDict

    from planner import decision

    # another module's test in this worker may have decided the same plan: its memo would skip the runs
    monkeypatch.setattr(decision, "_memo", OrderedDict())
    code = workflows.read_plan(CODE)
    plan = code.model_copy(update={"slo": code.slo.model_copy(update={"scenario": "full-envelope"})})
    steps: list[tuple[int, int | None, str]] = []
    report = workflows.plan(session, plan, "c.yaml", backend="builtin", progress=lambda *a: steps.append(a))
    assert report.decision is not None and report.decision.cr_closed >= 1
    assert report.decision.replicas == report.decision.replicas_for_load + report.decision.spares
    assert {load.mode for load in report.decision.loads} == {"open", "closed"}, "both loops for a full envelope"
    assert any(total is not None for _, total, _ in steps), "the search reports its progress"
    assert any(total is None and "closed loop" in what for _, total, what in steps), "so do the simulated points"
    assert any(total is None and what.startswith("fleet of") for _, total, what in steps), "and the fleet runs"


def test_check_search_and_estimate(session: workflows.Session) -> None:
    trap = workflows.check(
        session, workflows.read_plan(PLANS / "trap-multinode-tp-pcie.yaml"), "trap.yaml", backend="builtin"
    )
    assert trap.has_errors and trap.to_json()["errors"] >= 1
    found = workflows.search(session, workflows.read_plan(CODE), "code.yaml", backend="builtin")
    assert found.ranked and found.tried >= len(found.ranked)
    assert len(found.to_json(top=3)["candidates"]) == 3
    est = workflows.estimate(
        session,
        workflows.EstimateRequest(
            model="llama-3.1-8b", gpu="h100-sxm", isl=1000, osl=100, concurrency=4, backend="builtin"
        ),
    )
    assert est.model is BUILTIN and est.timing is not None and est.deployment.tp == 1
    eight = workflows.estimate(
        session,
        workflows.EstimateRequest(model="llama-3.1-70b", gpu="h100-sxm", isl=1000, osl=100, gpus=4, offline=True),
    )
    assert eight.deployment.tp == 4 and eight.deployment.weights_dtype == "bf16" and eight.deployment.kv_dtype == "bf16"


def test_an_inconsistent_estimate_is_one_error_listing_every_problem(session: workflows.Session) -> None:
    request = workflows.EstimateRequest(model="llama-3.1-8b", gpu="h100-sxm", isl=0, osl=10, concurrency=1, tp=3)
    with pytest.raises(PlannerError) as info:
        workflows.estimate(session, request)
    assert (
        "TP 3 does not divide 32 attention heads" in info.value.message
        and "--isl 0 is out of range" in info.value.message
    )


def test_simulate_envelope_and_mix(session: workflows.Session) -> None:
    plan = workflows.read_plan(CODE)
    sim = workflows.simulate(
        session, plan, "code.yaml", workflows.SimulationRequest(duration_s=30, seed=1, backend="builtin")
    )
    assert sim.summary["requests"] > 0 and sim.to_json()["deployment"] == sim.deployment
    assert sim.summary["load"]["mode"] == "open" and sim.summary["load"]["rate"] > 0, "the rate the sizing holds"
    request = workflows.SimulationRequest(concurrency=3, duration_s=30, backend="builtin")
    closed = workflows.simulate(session, plan, "code.yaml", request)
    assert closed.summary["load"] == {"mode": "closed", "rate": None, "concurrency": 3, "arrival": "poisson"}
    env = workflows.envelope(session, plan, "code.yaml", duration_s=20, backend="builtin")
    assert env.cr_closed >= 1 and env.curve and env.to_json()["cr_open_req_s"] == env.cr_open_req_s
    mixed = workflows.mix(session, plan, "code.yaml", buckets=2, backend="builtin")
    assert len(mixed.buckets) == 2 and mixed.result.mix and len(mixed.to_json()["buckets"]) == 2


def test_nothing_to_simulate_is_a_user_error(session: workflows.Session) -> None:
    with pytest.raises(PlannerError, match="nothing to simulate") as info:
        workflows.simulate(
            session, workflows.read_plan(PLANS / "trap-multinode-tp-pcie.yaml"), "t.yaml", workflows.SimulationRequest()
        )
    assert info.value.path == "t.yaml"


def test_plugins_catalog_import_and_schema(session: workflows.Session, planner_home: Path) -> None:
    report = workflows.plugin_report(session)
    rows = {row.name: row for row in report.rows}
    assert rows["nvidia"].contributes["gpus"] > 0 and rows["analytic"].performance_models == ["builtin"]
    assert "planner_rule_packs" in rows["principles"].hooks
    gpus = workflows.catalog_entries(session, "gpus")
    assert gpus and gpus[0].to_json()["plugin"] == gpus[0].plugin
    imported = workflows.import_model(session, CONFIGS / "qwen2.5-7b.json", license="apache-2.0")
    assert imported.path.is_file() and imported.path.is_relative_to(planner_home)
    assert workflows.plan_schema()["title"] == "Plan"


def test_the_command_line_prints_what_the_workflow_returns(session: workflows.Session) -> None:
    report = workflows.plan(session, workflows.read_plan(CODE), str(CODE), backend="builtin")
    printed = run_cli("plan", str(CODE), "--json")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == json.loads(json.dumps(report.to_json()))
    search: Any = json.loads(run_cli("search", str(CODE), "--json", "--top", "4").stdout)
    found = workflows.search(session, workflows.read_plan(CODE), str(CODE), backend="builtin")
    assert search == json.loads(json.dumps(found.to_json(top=4)))


def test_disaggregation_comparison(session: workflows.Session) -> None:
    request = workflows.SimulationRequest(replicas=2, duration_s=40, backend="builtin")
    report = workflows.compare_disaggregation(session, workflows.read_plan(CODE), "code.yaml", request)
    d = report.disaggregation
    assert d is not None and d.best is not None and d.splits
    assert d.best["goodput_per_gpu"] == max(s["goodput_per_gpu"] for s in d.splits)
    assert "wins on goodput per GPU" in d.verdict and report.to_json()["disaggregation_verdict"] == d.verdict


def test_a_checkpoint_with_a_precision_suffix_pins_that_precision_and_says_so(session: workflows.Session) -> None:
    from planner.errors import InputError

    text = CODE.read_text(encoding="utf-8").replace("id: Qwen/Qwen3-32B, weights: fp8", "id: Qwen/Qwen3-32B-FP8")
    plan = parse_plan(text, "fp8.yaml")
    report = workflows.plan(session, plan, "fp8.yaml", backend="builtin")
    assert report.resolved.plan.model.weights == "fp8" and report.resolved.model.id == "qwen3-32b"
    assert report.resolved.notes == [
        "model.id 'Qwen/Qwen3-32B-FP8' is qwen3-32b with fp8 weights (the checkpoint's name says so)"
    ]
    assert report.sizing.best is not None and report.sizing.best.sizing.deployment.weights_dtype == "fp8"
    clash = parse_plan(text.replace("Qwen/Qwen3-32B-FP8", "Qwen/Qwen3-32B-FP8, weights: bf16"), "clash.yaml")
    with pytest.raises(InputError) as info:
        workflows.plan(session, clash, "clash.yaml", backend="builtin")
    assert (
        info.value.problems[0].where == "model.weights" and "fp8 checkpoint of qwen3-32b" in info.value.problems[0].what
    )


def test_actions_load_on_first_use_and_keep_their_names() -> None:
    probe = """
import sys
from planner import workflows
print(sorted(m for m in sys.modules if m.startswith(("planner.store", "planner.deploy", "planner.bench"))))
import planner.workflows.deploy, planner.workflows.report
print(callable(workflows.deploy), callable(workflows.report))
print(all(getattr(workflows, name) is not None for name in workflows.__all__))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "True True", "True"], "nothing heavy at import; deploy stays the action"
