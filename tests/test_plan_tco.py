"""The TCO of a sized plan (planner/plan_tco.py) and its growth view (planner/growth.py): the fleet
the plan recommends, Cr_closed from the best evidence, spares apart, the alternatives, break-even,
sensitivity, and the fleet and costs quarter by quarter as traffic grows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from planner import workflows
from planner.decision import FleetDecision
from planner.growth import growth_view
from planner.load_curve import estimated_curve
from planner.plan import Baseline, Plan
from planner.plan_costs import CostInputs
from planner.plan_tco import SENSITIVITY_PRICE_FACTORS, plan_tco, sensitivity
from planner.sizing.estimate import estimate
from planner.sizing.fleet import FleetSizing, nodes_for
from planner.tco import HOURS_PER_YEAR, SECONDS_PER_YEAR, cost_assumptions, cost_lines, eur_per_million_tokens
from planner.traffic import slo_targets
from tests.conftest import PLANS


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


@pytest.fixture(scope="module")
def demo(session: workflows.Session) -> workflows.PlanReport:
    """The bundled example, planned with the built-in model, served aggregated (left open, it is
    sized as prefill/decode pools, priced at their peak run: tests/test_pools.py)."""
    plan = workflows.read_plan(workflows.example_plan_path())
    plan = plan.model_copy(update={"serving_stack": plan.serving_stack.model_copy(update={"disaggregated": False})})
    return workflows.plan(session, plan, "demo", backend="builtin")


def chosen(report: workflows.PlanReport) -> FleetSizing:
    assert report.sizing.best is not None
    return report.sizing.best.sizing


def test_the_plan_prices_its_fleet_at_the_simulated_cr_closed(demo: workflows.PlanReport) -> None:
    tco, fleet, decision = demo.tco, chosen(demo), demo.decision
    assert tco is not None and decision is not None and tco.throughput.kind == "simulated"
    assert tco.output_tok_s == decision.output_tok_s_at_cr_closed * decision.replicas_for_load
    assert tco.throughput.concurrency_per_replica == decision.cr_closed
    assert tco.fleet.gpus == fleet.gpus == decision.gpus and tco.fleet.nodes == fleet.nodes
    assert tco.ranked_eur_per_million_output == pytest.approx(demo.sizing.best.eur_per_m_tokens), "one answer"  # type: ignore[union-attr]
    tokens = tco.output_tok_s * SECONDS_PER_YEAR * tco.costs.utilisation
    assert tco.output_tokens_per_year == pytest.approx(tokens)
    assert tco.eur_per_million_output == pytest.approx(tco.eur_per_year / tokens * 1e6)
    assert tco.eur_per_million_total == pytest.approx(tco.eur_per_year / (tokens * (1 + fleet.isl / fleet.osl)) * 1e6)
    assert tco.eur_per_gpu_hour == pytest.approx(tco.eur_per_year / (fleet.gpus * HOURS_PER_YEAR))
    assert tco.eur_per_million_output > tco.ranked_eur_per_million_output, "every line costs more than two"  # type: ignore[operator]


def test_without_a_simulation_the_estimate_prices_the_fleet(demo: workflows.PlanReport) -> None:
    fleet = chosen(demo)
    tco = plan_tco(demo.resolved.plan, fleet, None, demo.costs)
    assert tco is not None and tco.throughput.kind == "estimated" and "estimated" in tco.throughput.label
    assert tco.output_tok_s == fleet.fleet_output_tok_s, "the sizing's Cr_closed at the operating point"


def test_the_spares_are_priced_apart(demo: workflows.PlanReport) -> None:
    tco = demo.tco
    assert tco is not None and tco.fleet.spares == 1
    f = tco.fleet
    assert f.spare_gpus == f.deployment.gpus and f.spare_nodes == f.nodes - nodes_for(f.deployment, f.replicas_for_load)
    spare = cost_lines(tco.gpu, f.spare_gpus, f.spare_nodes, tco.costs)
    assert spare is not None and tco.spare_lines.total == pytest.approx(spare.total) and spare.total > 0
    load = cost_lines(tco.gpu, f.gpus - f.spare_gpus, f.nodes - f.spare_nodes, tco.costs)
    assert load is not None and load.total + spare.total == pytest.approx(tco.eur_per_year)
    assert tco.line_items()[0][0] == "GPU servers (amortised)"


def test_renting_the_api_and_break_even(demo: workflows.PlanReport) -> None:
    tco = demo.tco
    assert tco is not None
    rent = tco.costs.rent(tco.gpu)
    assert rent is not None and tco.rented_eur_per_year == pytest.approx(
        tco.fleet.gpus * HOURS_PER_YEAR * tco.costs.utilisation * rent
    )
    assert tco.break_even_vs_rent == pytest.approx(tco.eur_per_year / (tco.fleet.gpus * HOURS_PER_YEAR * rent))
    api = tco.isl / tco.osl * 0.8096 + 0.8096
    assert tco.api_eur_per_million_output == pytest.approx(api)
    assert tco.break_even_vs_api == pytest.approx(tco.eur_per_year / (tco.output_tok_s * SECONDS_PER_YEAR * api / 1e6))
    at_break_even = replace(tco, costs=replace(tco.costs, utilisation=tco.break_even_vs_rent))
    assert at_break_even.eur_per_million_output == pytest.approx(at_break_even.rented_eur_per_million_output)
    prices = {"own": tco.eur_per_million_output, "rent": tco.rented_eur_per_million_output, "API": api}
    assert tco.cheapest == min(prices, key=lambda k: prices[k])  # type: ignore[arg-type, return-value]


def test_a_measured_baseline_replaces_the_estimate(demo: workflows.PlanReport) -> None:
    plan = demo.resolved.plan.model_copy(
        update={"baseline": Baseline(cr_closed_output_tok_s=500.0, cr_closed_concurrency=30, tool="guidellm")}
    )
    tco = plan_tco(plan, chosen(demo), None, demo.costs)
    assert tco is not None and tco.throughput.kind == "measured" and "guidellm" in tco.throughput.label
    assert tco.output_tok_s == 500.0 * chosen(demo).replicas_for_load
    assert tco.throughput.concurrency_per_replica == 30
    assert tco.eur_per_year == pytest.approx(demo.tco.eur_per_year), "the same fleet"  # type: ignore[union-attr]


def test_the_simulated_decision_sets_the_fleet_and_cr_closed(demo: workflows.PlanReport) -> None:
    fleet = chosen(demo)
    curve = [
        {"mode": "closed", "load": 20, "output_tok_s": 400.0},
        {"mode": "closed", "load": 32, "output_tok_s": 555.0},
        {"mode": "open", "load": 0.5, "output_tok_s": 300.0},
    ]
    decision = FleetDecision(fleet, 12, 15, 1, 32, 0.6, 555.0, None, [], [], curve)
    tco = plan_tco(demo.resolved.plan, fleet, decision, demo.costs)
    assert tco is not None and tco.throughput.kind == "simulated"
    assert tco.fleet.replicas == 16 and tco.fleet.gpus == 16 * fleet.deployment.gpus, "the simulation's fleet"
    assert tco.output_tok_s == 555.0 * 15 and tco.throughput.concurrency_per_replica == 32


def test_a_gpu_without_price_is_priced_by_a_quote_only(demo: workflows.PlanReport) -> None:
    fleet = chosen(demo)
    unpriced = replace(
        fleet, deployment=replace(fleet.deployment, gpu=fleet.deployment.gpu.model_copy(update={"price": None}))
    )
    assert plan_tco(demo.resolved.plan, unpriced, None, demo.costs) is None
    quoted = cost_assumptions(CostInputs(server_price_eur={fleet.deployment.gpu.id: 200_000.0}))
    tco = plan_tco(demo.resolved.plan, unpriced, None, quoted)
    assert tco is not None and tco.server_eur_per_gpu == 200_000 / fleet.deployment.gpu.gpus_per_node


def test_sensitivity_reprices_every_cell(demo: workflows.PlanReport) -> None:
    tco = demo.tco
    assert tco is not None
    grid = sensitivity(tco)
    assert grid.eur_per_kwh == tuple(tco.costs.eur_per_kwh * f for f in SENSITIVITY_PRICE_FACTORS)
    plan_column = SENSITIVITY_PRICE_FACTORS.index(1.0)
    at_plan = grid.grid[grid.utilisations.index(tco.costs.utilisation)][plan_column]
    assert at_plan == pytest.approx(tco.eur_per_million_output)
    assert grid.grid[0][plan_column] == pytest.approx(at_plan * tco.costs.utilisation / grid.utilisations[0])
    for row in grid.grid:
        assert list(row) == sorted(row), "dearer electricity never makes a token cheaper"  # type: ignore[type-var]
    assert grid.rented == tco.rented_eur_per_million_output and grid.api == tco.api_eur_per_million_output


def test_growth_follows_the_plans_rate_quarter_by_quarter(demo: workflows.PlanReport) -> None:
    tco, plan = demo.tco, demo.resolved.plan
    assert tco is not None and plan.traffic.growth == 0.4 and plan.traffic.horizon_months == 12
    view = growth_view(plan, tco, 3)
    q = view.quarters
    assert len(q) == 12 and view.growth_per_year == pytest.approx(0.4)
    assert q[3].growth_factor == pytest.approx(1.4) and q[7].growth_factor == pytest.approx(1.96)
    burst = plan.traffic.burst_factor - 1  # type: ignore[operator]
    per_replica = tco.throughput.concurrency_per_replica
    for quarter in q:
        provisioned = tco.peak_concurrency * quarter.growth_factor * (1 + burst)
        assert quarter.provisioned_concurrency == pytest.approx(provisioned)
        needed = max(-(-provisioned // per_replica), 1 if tco.fleet.pools is None else 2)
        assert quarter.replicas_for_load == max(needed, tco.fleet.replicas_for_load), "never below the plan's fleet"
        assert quarter.replicas == quarter.replicas_for_load + tco.fleet.spares
        fleet = tco.fleet.carrying(quarter.replicas_for_load)
        assert (quarter.gpus, quarter.nodes) == (fleet.gpus, fleet.nodes)
        if tco.fleet.pools is None:
            assert quarter.nodes == nodes_for(tco.fleet.deployment, quarter.replicas)
        assert quarter.output_tokens == pytest.approx(
            tco.output_tokens_per_year / 4 * provisioned / tco.provisioned_concurrency
        )
    assert [x.replicas for x in q] == sorted(x.replicas for x in q) and q[-1].replicas > q[0].replicas
    assert q[0].replicas_added == q[0].replicas and sum(x.replicas_added for x in q) == q[-1].replicas
    assert sum(x.nodes_added for x in q) == q[-1].nodes
    events = view.events
    added = [x for x in q[1:] if x.replicas_added]
    assert len(events) == 1 + len(added) and events[0].startswith("Q1: start with")
    assert events[1].startswith(f"Q{added[0].number}: +{added[0].replicas_added} replica")
    assert not any(x.class_change_needed for x in q), "greenfield: no existing nodes to outgrow"


def test_the_growth_view_starts_from_the_plans_fleet(demo: workflows.PlanReport, session: workflows.Session) -> None:
    """The plan's fleet is what is bought first: no quarter runs fewer replicas, and where the first
    quarter needs more (its grown peak with the burst on top, where the plan's headroom covers the
    larger of the two, not both) the start says why. Before, `planner tco` put 'Fleet: 20 x b200' above
    'Q1: start with 22 replicas' for the bank's assistant (burst 50%, growth 40%) and the code
    assistant's first quarter (burst 20%, growth 30%) ran 10 GPUs beside the plan's 11."""
    tco = demo.tco
    assert tco is not None
    burst, growth = demo.resolved.plan.traffic.burst_factor - 1, demo.resolved.plan.traffic.growth  # type: ignore[operator]
    assert burst > growth  # type: ignore[operator]
    view = growth_view(demo.resolved.plan, tco, 1)
    first = view.quarters[0]
    assert first.replicas > tco.fleet.replicas, "the burst on the grown peak needs more than the plan's headroom"
    plans = tco.fleet.replicas
    assert view.events[0].startswith(f"Q1: start with {first.replicas} replicas") and (
        f"the plan's {plans} and {first.replicas - plans} more" in view.events[0]
    )
    code = workflows.plan(session, workflows.read_plan(PLANS / "code-assistant.yaml"), "code.yaml", backend="builtin")
    assert code.tco is not None
    quarters = growth_view(code.resolved.plan, code.tco, 1).quarters
    code_burst = (code.resolved.plan.traffic.burst_factor or 1.0) - 1
    need = (
        code.tco.peak_concurrency
        * quarters[0].growth_factor
        * (1 + code_burst)
        / code.tco.throughput.concurrency_per_replica
    )
    assert need < code.tco.fleet.replicas_for_load, "its first quarter alone needs fewer than the plan buys"
    assert quarters[0].replicas == code.tco.fleet.replicas and quarters[0].gpus == code.tco.fleet.gpus
    assert growth_view(code.resolved.plan, code.tco, 1).events[0] == (
        f"Q1: start with the plan's fleet: {code.tco.fleet.replicas} replicas, {code.tco.fleet.gpus} GPUs, "
        f"{code.tco.fleet.nodes} nodes"
    )


def test_growth_costs_add_up_for_owning_renting_and_the_api(demo: workflows.PlanReport) -> None:
    tco = demo.tco
    assert tco is not None
    q = growth_view(demo.resolved.plan, tco, 2).quarters
    assert len(q) == 8
    for quarter in q:
        lines = cost_lines(tco.gpu, quarter.gpus, quarter.nodes, tco.costs)
        assert lines is not None and quarter.owned_eur == pytest.approx(lines.total / 4)
        rent = tco.costs.rent(tco.gpu)
        assert quarter.rented_eur == pytest.approx(quarter.gpus * HOURS_PER_YEAR / 4 * tco.costs.utilisation * rent)  # type: ignore[operator]
        assert quarter.api_eur == pytest.approx(quarter.output_tokens * tco.api_eur_per_million_output / 1e6)  # type: ignore[operator]
    assert q[-1].cumulative_owned_eur == pytest.approx(sum(x.owned_eur for x in q))
    assert q[-1].cumulative_rented_eur == pytest.approx(sum(x.rented_eur for x in q))  # type: ignore[misc]
    assert q[-1].cumulative_api_eur == pytest.approx(sum(x.api_eur for x in q))  # type: ignore[misc]
    per_node = tco.costs.network_eur_per_node + tco.costs.storage_eur_per_node
    bought = q[-1].gpus * tco.server_eur_per_gpu + q[-1].nodes * per_node
    assert sum(x.hardware_bought_eur for x in q) == pytest.approx(bought), "every GPU and node is bought once"


def test_growth_flags_a_gpu_class_change_when_the_fleet_outgrows_the_existing_nodes(
    demo: workflows.PlanReport,
) -> None:
    tco = demo.tco
    assert tco is not None
    plan: Plan = demo.resolved.plan
    existing = tco.fleet.nodes + 1
    brownfield = plan.model_copy(update={"hardware": plan.hardware.model_copy(update={"nodes": existing})})
    view = growth_view(brownfield, tco, 3)
    flagged = [q for q in view.quarters if q.class_change_needed]
    assert flagged and all(q.nodes > existing for q in flagged)
    assert all(not q.class_change_needed for q in view.quarters if q.nodes <= existing)
    assert any("change of GPU class" in e and f"Q{flagged[0].number}" in e for e in view.events)


def test_no_rented_or_api_price_leaves_those_figures_empty(session: workflows.Session) -> None:
    plan = workflows.read_plan(PLANS / "code-assistant.yaml")
    report = workflows.plan(session, plan, "code.yaml", backend="builtin")
    tco = report.tco
    assert tco is not None and tco.costs.api_eur_per_million_input_tokens is None, "no API price for Qwen3-32B"
    assert tco.api_eur_per_year is None and tco.break_even_vs_api is None and tco.api_eur_per_million_output is None
    bare = replace(tco, costs=replace(tco.costs, rented_eur_per_gpu_hour={}))
    assert bare.rented_eur_per_year is None and bare.break_even_vs_rent is None and bare.cheapest == "own"
    view = growth_view(report.resolved.plan, bare, 1)
    assert all(q.rented_eur is None and q.cumulative_api_eur is None for q in view.quarters)


def test_the_plans_costs_move_the_sizings_eur_per_token(session: workflows.Session, demo: Any) -> None:
    """Search ranks with the plan's assumptions; without a costs section, with the catalog's."""
    plan = demo.resolved.plan
    dearer = plan.model_copy(update={"costs": CostInputs(eur_per_kwh=0.38, utilisation=0.3)})
    for given, costs in ((plan, cost_assumptions(None)), (dearer, cost_assumptions(dearer.costs))):
        ranked = workflows.search(session, given, backend="builtin").ranked
        assert len(ranked) > 10
        for c in ranked:
            s = c.sizing
            assert c.eur_per_m_tokens == eur_per_million_tokens(s.deployment.gpu, s.gpus, s.fleet_output_tok_s, costs)
    report = workflows.plan(session, dearer, "dearer", backend="builtin")
    assert report.sizing.best is not None and report.tco is not None
    assert report.tco.ranked_eur_per_million_output == pytest.approx(report.sizing.best.eur_per_m_tokens)
    assert report.costs.from_plan == {"eur_per_kwh", "utilisation"} and report.tco.costs.eur_per_kwh == 0.38


def test_the_estimated_load_curve_brackets_the_sizings_cr_closed(demo: workflows.PlanReport) -> None:
    fleet = chosen(demo)
    curve = estimated_curve(fleet, slo_targets(demo.resolved.plan))
    loads = [p["load"] for p in curve]
    assert loads == sorted(loads) and fleet.per_replica in loads and loads[0] == 1
    assert max(loads) <= fleet.capacity_cap
    assert all(p["meets_slo"] == (p["load"] <= fleet.per_replica) for p in curve), "the latency cap is the edge"
    at_cap = next(p for p in curve if p["load"] == fleet.per_replica)
    op = estimate(
        fleet.deployment,
        fleet.isl,
        fleet.osl,
        model=fleet.model,
        concurrency=fleet.per_replica,
        population=fleet.population,
    )
    assert at_cap["output_tok_s"] == op.output_tok_s and at_cap["ttft_p95_ms"] == op.ttft_at_percentile_ms(95)
    assert at_cap["ttft_p50_ms"] == op.ttft_at_percentile_ms(50) < at_cap["ttft_p95_ms"], "over the requests"
    assert at_cap["goodput_share"] is None, "no goodput without a distribution of the requests' figures"
