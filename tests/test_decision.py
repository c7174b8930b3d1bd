"""The sizing decision: one replica count, settled in simulation, printed alike by every command."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner import decision as decision_module
from planner import plan_simulation, workflows
from planner.decision import (
    FLEET_PRECISION,
    PeakLoad,
    _at_share,
    _bisect,
    _bisect_towards,
    _fewest,
    decide,
    peak_loads,
    rerun_pools,
    simulate_decision,
)
from planner.envelope import sustainable_req_s
from planner.plan_simulation import balanced_share, simulate_plan
from planner.render import decision_lines
from planner.resolve import resolve_plan
from planner.sizing.fleet import mean_request_e2e_ms
from planner.sizing.plan_sizing import size_plan
from planner.traffic import demand_of
from tests.conftest import PLANS, REPO

EXAMPLE = REPO / "planner" / "examples" / "knowledge-assistant.yaml"
USE_CASES = PLANS / "usecases"


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


@pytest.mark.slow
def test_the_workflows_agree_on_a_full_envelope_plan_of_a_large_moe(session: workflows.Session) -> None:
    plan = workflows.read_plan(USE_CASES / "4-reasoning-agent.yaml")
    planned = workflows.plan(session, plan, "4.yaml", backend="builtin")
    decision, best = planned.decision, planned.sizing.best
    assert decision is not None and decision.feasible and best is not None
    assert [load.mode for load in decision.loads] == ["open", "closed"], "full envelope: both loads"
    simulated = workflows.simulate(session, plan, "4.yaml", workflows.SimulationRequest(backend="builtin"))
    enveloped = workflows.envelope(session, plan, "4.yaml", backend="builtin")
    figures = (decision.cr_closed, decision.cr_open_req_s, decision.replicas_for_load)
    assert (enveloped.cr_closed, enveloped.cr_open_req_s, enveloped.replicas_for_load) == figures
    assert simulated.to_json()["plan"]["replicas"] == decision.replicas == best.sizing.replicas
    assert simulated.to_json()["meets_slo"], "the deciding run of the fleet meets the SLOs"
    # the estimate sizes aggregated replicas: it is judged against the aggregated count, not the pools'
    aggregated = decision.pools.aggregated_replicas if decision.pools else decision.replicas_for_load
    assert decision.estimate_off_by == pytest.approx(decision.estimated_replicas / aggregated - 1)


def test_the_simulated_count_holds_and_one_fewer_does_not(session: workflows.Session) -> None:
    plan = workflows.read_plan(PLANS / "code-assistant.yaml")
    # aggregated: left open, disaggregation would pool this plan (tests/test_pools.py checks that)
    plan = plan.model_copy(update={"serving_stack": plan.serving_stack.model_copy(update={"disaggregated": False})})
    resolved = resolve_plan(plan, session.catalog, "code.yaml")
    best = size_plan(resolved, session.catalog, session.performance_model("builtin")).best
    assert best is not None and best.decision is not None
    d = best.decision
    assert d.feasible and d.final_checks() and all(c.meets for c in d.final_checks())
    fewer = [c for c in d.checks if c.replicas < d.replicas_for_load and c.load == d.loads[0]]
    assert not any(c.meets for c in fewer), "no smaller fleet that was run held"
    assert d.estimate_off_by == pytest.approx(d.estimated_replicas / d.replicas_for_load - 1)
    # `planner simulate` runs this same fleet: rerun its deciding run and get the same percentiles
    check = d.final_checks()[0]
    again = simulate_plan(
        plan, d.deployment, d.model, check.load.spec(plan.traffic.peak_factor), replicas=check.replicas,
        duration_s=check.duration_s, seed=0,
    )  # fmt: skip
    assert again["ttft_ms"] == check.summary["ttft_ms"] and again["meets_slo"]


def test_a_decision_is_reused_for_the_same_question_only(session: workflows.Session) -> None:
    plan = workflows.read_plan(PLANS / "trap-averages-only.yaml")
    resolved = resolve_plan(plan, session.catalog, "t.yaml")
    best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
    assert best is not None
    told: list[str] = []
    first = decide(plan, best.sizing, fixed_s=30, seed=5, progress=told.append)
    assert told, "the first decision simulates"
    told.clear()
    assert decide(plan, best.sizing, fixed_s=30, seed=5, progress=told.append) is first and not told
    assert decide(plan, best.sizing, fixed_s=30, seed=6) is not first, "another seed is another question"


def test_pinning_the_chosen_deployment_reuses_its_decision(session: workflows.Session) -> None:
    plan = workflows.read_plan(PLANS / "trap-averages-only.yaml")
    resolved = resolve_plan(plan, session.catalog, "t.yaml")
    best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
    assert best is not None
    dep = best.sizing.deployment
    first = decide(plan, best.sizing, fixed_s=30, seed=7)
    pinned = plan.model_copy(
        update={
            "hardware": plan.hardware.model_copy(update={"gpu": dep.gpu.id}),
            "runtime": plan.runtime.model_copy(update={"id": dep.runtime.id, "tp": dep.tp, "pp": dep.pp, "ep": dep.ep}),
            "model": plan.model.model_copy(update={"weights": dep.weights_dtype, "kv_cache": dep.kv_dtype}),
        }
    )
    assert decide(pinned, best.sizing, fixed_s=30, seed=7) is first, "the pins only name the deployment decided"


def test_user_plans_are_checked_in_closed_loop_and_rate_plans_in_open_loop(session: workflows.Session) -> None:
    users = workflows.read_plan(EXAMPLE)
    rate = workflows.read_plan(PLANS / "code-assistant.yaml")
    for plan, mode in ((users, "closed"), (rate, "open")):
        resolved = resolve_plan(plan, session.catalog, "p.yaml")
        best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
        assert best is not None
        assert [load.mode for load in peak_loads(plan, best.sizing)] == [mode]
    envelope = rate.model_copy(update={"slo": rate.slo.model_copy(update={"scenario": "full-envelope"})})
    assert best is not None
    assert [load.mode for load in peak_loads(envelope, best.sizing)] == ["open", "closed"]


def test_a_user_plans_open_loop_runs_at_the_rate_of_its_mean_request(session: workflows.Session) -> None:
    """Full envelope on a plan that states users: the open loop's rate is the provisioned concurrency
    over the mean request's E2E (Little's law), not the worst case's, which halved the rate of use
    case 1 and checked the fleet at far fewer requests in flight than the users keep there."""
    users = workflows.read_plan(EXAMPLE)
    plan = users.model_copy(update={"slo": users.slo.model_copy(update={"scenario": "full-envelope"})})
    resolved = resolve_plan(plan, session.catalog, "p.yaml")
    best = size_plan(resolved, session.catalog, session.performance_model("builtin"), simulate=False).best
    assert best is not None and best.sizing.operating_point is not None
    open_loop, closed_loop = peak_loads(plan, best.sizing)
    assert closed_loop.concurrency == math.ceil(best.sizing.provisioned_concurrency - 1e-9)
    mean_e2e_ms = mean_request_e2e_ms(best.sizing, demand_of(plan))
    assert mean_e2e_ms is not None and open_loop.rate_req_s is not None
    assert open_loop.rate_req_s == pytest.approx(best.sizing.provisioned_concurrency / (mean_e2e_ms / 1000))
    assert open_loop.rate_req_s > 1.5 * best.sizing.provisioned_concurrency / (
        best.sizing.operating_point.e2e_ms / 1000
    )
    assert "of the mean request" in open_loop.source


def test_the_fleet_search_finds_the_fewest_within_its_precision() -> None:
    calls: list[int] = []

    def shortfall(threshold: int) -> Any:
        def run(replicas: int) -> float:
            calls.append(replicas)
            return threshold / replicas  # at most 1 from ``threshold`` replicas on

        return run

    for threshold, guess, likely in ((37, 20, 60), (37, 50, 80), (37, 10, 20), (100, 60, 120)):
        calls.clear()
        found = _fewest(shortfall(threshold), guess, likely)
        assert threshold <= found <= threshold * (1 + FLEET_PRECISION) + 1, (threshold, guess, likely, found)
        # (37 from 10 and 20: both miss, and so does 15 between them, run before 20: 13 runs)
        assert len(calls) <= (13 if likely < threshold else 12)
    calls.clear()
    assert _fewest(shortfall(5), 3, 10, floor=8) == 8 and min(calls) >= 8, "never below what can be sustained"
    plateau = lambda replicas: max(1.5, 40 / replicas)  # noqa: E731  a floor more replicas cannot lower
    assert _fewest(plateau, 10, 20) == 0


def test_a_bisection_towards_a_count_not_yet_run_runs_it_only_where_its_middle_misses() -> None:
    """Between a count known to miss (10) and one not yet run (30): the answer of a bisection
    from a known hold wherever the fewest that hold lie, without running 30 where the middle
    (20) holds, and two runs (the middle, then 30) to say that even 30 misses."""
    calls: list[int] = []

    def shortfall(threshold: int) -> Any:
        def run(replicas: int) -> float:
            calls.append(replicas)
            return threshold / replicas

        return run

    for threshold in range(11, 31):
        calls.clear()
        found, at_high = _bisect_towards(shortfall(threshold), 10, 30)
        towards = calls.copy()
        calls.clear()
        assert (found, at_high) == (_bisect(shortfall(threshold), 10, 30), 0.0), threshold
        assert set(towards) == set(calls) | ({30} if threshold > 20 else set()), "the runs of a bisection from 30"
        assert (30 in towards) == (threshold > 20), f"30 is run only where the middle misses ({threshold})"
        assert len(towards) == len(set(towards)), "no count run twice"
    calls.clear()
    assert _bisect_towards(shortfall(45), 10, 30) == (0, 1.5) and calls == [20, 30]
    assert _bisect_towards(shortfall(11), 10, 11) == (11, 0.0), "no middle: the count itself is run"


def test_an_open_loop_rate_above_what_a_replica_sustains_is_refused() -> None:
    curve = [
        {"mode": "closed", "load": 8, "meets_slo": True, "throughput_req_s": 1.0},
        {"mode": "closed", "load": 12, "meets_slo": False, "throughput_req_s": 1.3},
        {"mode": "closed", "load": 16, "meets_slo": False, "throughput_req_s": 1.5},
        {"mode": "open", "load": 3.0, "meets_slo": True, "throughput_req_s": 3.0},
    ]
    assert sustainable_req_s(curve, 8) == 1.3, "the first closed-loop load that misses bounds the rate"
    assert math.isinf(sustainable_req_s(curve[:1], 8)), "unknown when no closed-loop load missed"


def test_a_closed_loop_is_checked_with_every_replica_holding_the_same_share() -> None:
    """225 users on 11 replicas run as 231 (21 each): one replica's run stands for the fleet, a whole
    fleet's run of uneven shares would cost eleven times as much."""
    closed = PeakLoad("closed", None, 225, "provisioned")
    spec = closed.spec(1.0, 11)
    assert spec.concurrency == 231 and balanced_share(spec, 11, "least-outstanding") == 21
    assert closed.spec(1.0, 15).concurrency == 225, "an even split is run as given"
    assert PeakLoad("closed", 4.0, 88, "filled", per_replica=8).spec(1.0, 11).concurrency == 88
    assert PeakLoad("open", 1.5, None, "peak").spec(1.0, 11).concurrency is None


def test_a_remembered_run_is_the_run_made_again(session: workflows.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside ``remembered_runs`` a run asked twice is simulated once, and its summary is the one
    simulating it again gives (a copy: changing it changes no later answer); a different seed,
    load or replica count is a different run."""
    from planner import plan_simulation
    from planner.plan_simulation import LoadSpec, remembered_runs

    plan = workflows.read_plan(EXAMPLE)
    fleet = size_plan(resolve_plan(plan, session.catalog), session.catalog, simulate=False).best
    assert fleet is not None
    dep, model = fleet.sizing.deployment, fleet.sizing.model
    load = LoadSpec("closed", concurrency=6)
    fresh = simulate_plan(plan, dep, model, load, replicas=2, duration_s=30, seed=3)
    made: list[Any] = []
    real = plan_simulation._simulated
    monkeypatch.setattr(plan_simulation, "_simulated", lambda *a: made.append(a[3:8]) or real(*a))
    with remembered_runs():
        first = simulate_plan(plan, dep, model, load, replicas=2, duration_s=30, seed=3)
        first["requests"] = -1
        again = simulate_plan(plan, dep, model, load, replicas=2, duration_s=30, seed=3)
        # the balanced fleet of 2 at 6 is one replica at 3: the same run as asking for that replica
        one = simulate_plan(plan, dep, model, LoadSpec("closed", concurrency=3), duration_s=30, seed=3)
        other = simulate_plan(plan, dep, model, load, replicas=2, duration_s=30, seed=4)
    assert again == fresh and again is not first
    assert one["requests"] == fresh["requests"] and one["ttft_ms"] == fresh["ttft_ms"]
    assert other != fresh
    assert len(made) == 4, "the fleet and its share once each for seed 3, then both for seed 4"
    outside = simulate_plan(plan, dep, model, load, replicas=2, duration_s=30, seed=3)
    assert outside == fresh and len(made) == 6, "outside the block every run is simulated"


def test_a_fleet_beyond_what_one_run_simulates_is_run_as_a_share_of_it(
    session: workflows.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One simulation runs at most ``MAX_SIMULATED_REPLICAS`` replicas; a larger fleet runs as that
    many with their share of the load, its rates scaled back up (a plan of 500 million users asked
    for millions of replicas and ran for hours). With the most set to 5, the code assistant's fleet of
    10 is decided within a replica (9), and its disaggregated pools are sized at a share and scaled up
    (rounded up, so never fewer than the whole run's; at 3, a third of the prefill pool and its spare
    need more GPUs than the 3 aggregated replicas they are weighed against)."""
    plans = {
        name: workflows.read_plan(PLANS / f"{name}.yaml") for name in ("code-assistant", "code-assistant-disaggregated")
    }
    bests = {
        name: size_plan(
            resolve_plan(plan, session.catalog, "c.yaml"),
            session.catalog,
            session.performance_model("builtin"),
            simulate=False,
        ).best
        for name, plan in plans.items()
    }
    whole = {
        name: simulate_decision(plans[name], best.sizing, fixed_s=60, seed=1) for name, best in bests.items() if best
    }
    monkeypatch.setattr(plan_simulation, "MAX_SIMULATED_REPLICAS", 5)
    monkeypatch.setattr(decision_module, "MAX_SIMULATED_REPLICAS", 5)
    shared = {
        name: simulate_decision(plans[name], best.sizing, fixed_s=60, seed=1) for name, best in bests.items() if best
    }
    aggregated, pooled = shared["code-assistant"], shared["code-assistant-disaggregated"]
    # the same fleet within a replica: 5 of 10 with their share of the rate settle 9, the whole 10
    assert abs(aggregated.replicas_for_load - whole["code-assistant"].replicas_for_load) <= 1
    assert {c.summary["simulated_replicas"] for c in aggregated.checks} == {5}
    assert all(c.summary["replicas"] == c.replicas for c in aggregated.checks)
    run = aggregated.checks[0]
    assert run.summary["throughput_req_s"] == pytest.approx(run.load.rate_req_s, rel=0.1), (
        "the fleet's rate, not the share's"
    )
    pools, whole_pools = pooled.pools, whole["code-assistant-disaggregated"].pools
    assert pools is not None and whole_pools is not None and whole_pools.simulated_share == 1
    share = 5 / pools.aggregated_replicas  # the aggregated fleet the pools were weighed against (9)
    assert pools.simulated_share == pytest.approx(share) and pools.aggregated_replicas > 5
    assert (
        pools.prefill_replicas >= whole_pools.prefill_replicas and pools.decode_replicas >= whole_pools.decode_replicas
    )
    rerun = rerun_pools(plans["code-assistant-disaggregated"], pooled, pools, seed=1)
    assert rerun["throughput_req_s"] == pytest.approx(pools.rate_req_s, rel=0.1), "`planner simulate` reruns the share"
    assert f"sized at {share:.1%} of it, scaled up" in pools.describe(pooled.deployment)
    assert "on 5 of them with their share of the load" in "\n".join(decision_lines(aggregated))


def test_pools_scaled_up_are_rerun_with_the_replicas_their_share_ran() -> None:
    """`planner simulate` reruns pools sized at a share with the counts that share ran: 100 replicas at 256/300 of the
    rate scale up to 118, and 118 x 256/300 = 100.7 must give back 100, not 101."""
    for replicas, share in ((100, 256 / 300), (3, 3 / 11), (1, 256 / 257), (255, 0.5)):
        assert _at_share(math.ceil(replicas / share - 1e-9), share) == replicas
    assert _at_share(7, 1.0) == 7
