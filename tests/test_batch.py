"""Batch jobs are sized on the work their window must hold, with the queue allowed to fill; an
existing fleet (brownfield) says what it carries and what must be added; a closed loop that
splits evenly over the fleet is simulated as one replica's share."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml

from planner import plan_simulation, workflows
from planner.brownfield import ExistingFleet
from planner.decision import peak_loads
from planner.errors import InputError
from planner.plan_simulation import LoadSpec, balanced_share, simulate_plan
from planner.planfile import parse_plan
from planner.render import plan_report_text
from planner.resolve import resolve_plan
from planner.sizing.plan_sizing import size_plan
from tests.conftest import PLANS

NIGHTLY = PLANS / "usecases" / "3-nightly-summarisation.yaml"


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


@pytest.fixture(scope="module")
def nightly(session: workflows.Session) -> workflows.PlanReport:
    return workflows.plan(session, workflows.read_plan(NIGHTLY), "nightly.yaml", backend="builtin")


def test_a_batch_window_is_a_load_definition_of_its_own() -> None:
    data = yaml.safe_load(NIGHTLY.read_text(encoding="utf-8"))
    plan = parse_plan(yaml.safe_dump(data))
    assert plan.traffic.batch is not None and plan.traffic.rate_req_s == pytest.approx(2_000_000 / 28_800)
    data["traffic"]["requests_per_s"] = 10
    with pytest.raises(InputError) as two:
        parse_plan(yaml.safe_dump(data))
    assert "2 load definitions given (requests_per_s, batch)" in str(two.value.problems)
    data["traffic"] = {"batch": {"items": 0, "window_hours": 8}}
    with pytest.raises(InputError) as zero:
        parse_plan(yaml.safe_dump(data))
    assert "traffic.batch.items" in str(zero.value.problems)


def test_a_throughput_first_rate_lets_the_queue_fill(session: workflows.Session) -> None:
    plan = workflows.read_plan(NIGHTLY)
    resolved = resolve_plan(plan, session.catalog, "n.yaml")
    best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
    assert best is not None
    (load,) = peak_loads(plan, best.sizing)
    assert load.mode == "filled" and load.rate_req_s == pytest.approx(2_000_000 / 28_800 * 1.1)


def test_the_batch_gets_the_replicas_whose_throughput_at_cr_closed_carries_its_rate(
    nightly: workflows.PlanReport,
) -> None:
    d = nightly.decision
    assert d is not None and d.feasible
    (load,) = d.loads
    rate = 2_000_000 / 28_800 * 1.1
    assert load.per_replica == d.cr_closed and load.rate_req_s == pytest.approx(rate)
    assert d.replicas_for_load >= math.ceil(rate / d.req_s_at_cr_closed - 1e-9)
    (check,) = d.final_checks()
    assert check.summary["throughput_req_s"] >= rate, "the fleet completes the window's work"
    assert check.summary["simulated_replicas"] == 1 and check.summary["replicas"] == d.replicas_for_load
    assert check.summary["load"]["concurrency"] == d.replicas_for_load * d.cr_closed, "the queue full"
    assert check.summary["meets_slo"], "each item's E2E at that load meets its p99 bound"


def test_the_existing_fleet_says_what_it_carries_and_what_to_add(nightly: workflows.PlanReport) -> None:
    d, existing = nightly.decision, nightly.existing_fleet
    assert d is not None and existing is not None
    held = 32 // d.deployment.gpus
    assert (existing.nodes, existing.gpus, existing.replicas, existing.for_load) == (4, 32, held, held - 1)
    assert existing.batch_hours == pytest.approx(2_000_000 / ((held - 1) * d.req_s_at_cr_closed) / 3600)
    assert existing.fits_window is False and existing.shortfall == d.replicas_for_load - (held - 1)
    gpus = existing.shortfall * d.deployment.gpus
    assert existing.to_add(d.deployment) == (gpus, -(-gpus // 8))
    assert existing.share == pytest.approx((held - 1) / d.replicas_for_load)


def test_an_existing_fleet_that_holds_the_job_fits_its_window() -> None:
    fleet = ExistingFleet(nodes=10, gpus_per_node=8, replicas=20, spares=1, needed=12, batch_hours=5.0, window_hours=8)
    assert fleet.fits_window and fleet.shortfall == 0 and fleet.share == pytest.approx(19 / 12)
    assert "fits its 8 h window" in fleet.describe_for("h100-sxm") and "add" not in fleet.describe_for("h100-sxm")


def test_plan_prints_and_writes_the_existing_fleet(nightly: workflows.PlanReport) -> None:
    # the command line prints this JSON: tests/test_decision_cli.py runs `plan --json` on this plan
    existing = json.loads(json.dumps(nightly.to_json()))["existing_fleet"]
    assert existing["gpus"] == 32 and existing["fits_window"] is False and existing["add_replicas"] > 0
    changes = [a["change"] for a in existing["alternatives"]]
    assert changes == [
        "llama-3.1-70b with int4 weights (AWQ/GPTQ, w4a16)",
        "llama-3.1-8b, the next smaller llama model",
    ]
    text = plan_report_text(nightly)
    held = 32 // nightly.decision.deployment.gpus if nightly.decision else 0
    assert f"Existing     4 node(s) x 8 a100-sxm-80gb hold {held} replica(s) ({held - 1} after 1 spare)" in text
    assert "which does not fit its 8 h window; add" in text
    assert "  instead    llama-3.1-8b, the next smaller llama model (llama-3.1-8b on a100-sxm-80gb" in text


def test_a_short_existing_fleet_is_offered_a_smaller_model_or_narrower_weights(nightly: workflows.PlanReport) -> None:
    existing = nightly.existing_fleet
    assert existing is not None
    narrower, smaller = nightly.alternatives
    assert narrower.decision is not None and narrower.decision.deployment.weights_dtype == "int4"
    assert narrower.decision.deployment.gpu.id == "a100-sxm-80gb", "sized on the existing GPUs"
    assert smaller.decision is not None and smaller.decision.deployment.model.id == "llama-3.1-8b"
    assert smaller.fleet is not None and smaller.fleet.gpus == existing.gpus
    # the smaller model carries a larger share of the same job on the same 32 GPUs
    assert smaller.fleet.share > existing.share and smaller.fleet.batch_hours < existing.batch_hours
    assert smaller.fleet.batch_hours == pytest.approx(
        2_000_000 / (smaller.fleet.for_load * smaller.decision.req_s_at_cr_closed) / 3600
    )


def test_an_existing_fleet_that_carries_the_load_gets_no_alternatives(session: workflows.Session) -> None:
    plan = workflows.read_plan(NIGHTLY)
    small_job = plan.model_copy(
        update={
            "traffic": plan.traffic.model_copy(update={"batch": plan.traffic.batch.model_copy(update={"items": 2_000})})
        }
    )
    report = workflows.plan(session, small_job, "small.yaml", backend="builtin")
    assert report.existing_fleet is not None and report.existing_fleet.fits_window
    assert report.alternatives == []


def test_a_balanced_closed_loop_is_one_replica_s_share(session: workflows.Session, monkeypatch: Any) -> None:
    plan = workflows.read_plan(PLANS / "code-assistant.yaml")
    resolved = resolve_plan(plan, session.catalog, "c.yaml")
    best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
    assert best is not None
    dep, model = best.sizing.deployment, best.sizing.model
    load = LoadSpec("closed", concurrency=4 * 6)
    assert balanced_share(load, 4, "least-outstanding") == 6
    assert balanced_share(LoadSpec("closed", concurrency=25), 4, "least-outstanding") is None
    assert balanced_share(load, 4, "round-robin") is None
    shared = simulate_plan(plan, dep, model, load, replicas=4, duration_s=300, seed=3)
    monkeypatch.setattr(plan_simulation, "balanced_share", lambda *a: None)
    whole = simulate_plan(plan, dep, model, load, replicas=4, duration_s=300, seed=3)
    assert "simulated_replicas" not in whole and shared["simulated_replicas"] == 1
    assert shared["replicas"] == whole["replicas"] == 4 and shared["load"]["concurrency"] == 24
    assert shared["throughput_req_s"] == pytest.approx(whole["throughput_req_s"], rel=0.1)
    for figure in ("ttft_ms", "itl_ms", "e2e_ms"):
        assert shared[figure]["p50"] == pytest.approx(whole[figure]["p50"], rel=0.15), figure
