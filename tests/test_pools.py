"""A plan that asks for disaggregated prefill/decode is sized as two pools in simulation, with the
KV cache moved over its transport, and every command reports the pools."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner import workflows
from planner.decision import _beyond_e2e, _fewest_gpus, rerun_pools
from planner.deploy.manifests import dynamo
from planner.deploy.runtime_args import flag_for, serve_command
from planner.deploy.values import deploy_values
from planner.disaggregation import disaggregation, kv_transfer_s, transports
from planner.errors import PlannerError
from planner.growth import growth_view
from planner.plan import Plan
from planner.plan_simulation import context_of, scheduler_for
from planner.planfile import parse_plan
from planner.pool_capacity import handoff_s, request_shape
from planner.render import plan_report_text, simulation_text
from planner.simulate import Targets
from planner.sizing.capacity import kv_bytes_per_sequence
from planner.sizing.plan_sizing import PlanSizing
from planner.tco import cost_assumptions, eur_per_million_tokens
from planner.workflows.deploy import _pools, origin_of
from tests.conftest import PLANS

DISAGGREGATED = PLANS / "code-assistant-disaggregated.yaml"


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


@pytest.fixture(scope="module")
def planned(session: workflows.Session) -> workflows.PlanReport:
    return workflows.plan(session, workflows.read_plan(DISAGGREGATED), "pd.yaml", backend="builtin")


def test_the_pools_are_the_fewest_that_meet_the_slos(planned: workflows.PlanReport) -> None:
    d = planned.decision
    assert d is not None and d.pools is not None
    pools, plan = d.pools, planned.resolved.plan
    assert d.replicas_for_load == pools.prefill_replicas + pools.decode_replicas
    assert d.spares == 2, "a spare in each pool (N+1)"
    assert pools.summary["meets_slo"] and pools.transport == "nixl"
    assert pools.rate_req_s == pytest.approx(40 * 1.3), "the peak with headroom"
    prefill, decode = pools.prefill, pools.decode
    duration_s = pools.summary["simulated_s"]
    if pools.prefill_replicas > 1:  # the prefill pool alone misses what TTFT leaves it: no decode pool needed
        fewer = disaggregation(
            plan, prefill, decode, pools.rate_req_s, pools.prefill_replicas - 1, 0, "nixl", duration_s=duration_s
        )
        fleet = planned.sizing.best.sizing  # type: ignore[union-attr]
        own, shape = (fleet.deployment, fleet.model), request_shape(plan, fleet.deployment)
        left_ms = 500 - 1000 * handoff_s(prefill[0], own, shape, "nixl", 0.025)
        assert fewer["at_percentile_ms"]["ttft"] > left_ms, "one prefill replica fewer misses TTFT less the handoff"
        whole = disaggregation(
            plan, prefill, decode, pools.rate_req_s, pools.prefill_replicas, 0, "nixl", duration_s=duration_s
        )
        assert whole["at_percentile_ms"]["ttft"] <= left_ms < 500
        assert pools.summary["at_percentile_ms"]["ttft"] > whole["at_percentile_ms"]["ttft"], "the client's is later"
    if pools.decode_replicas > 1:
        fewer = disaggregation(
            plan, prefill, decode, pools.rate_req_s, pools.prefill_replicas, pools.decode_replicas - 1, "nixl",
            duration_s=duration_s,
        )  # fmt: skip
        assert not fewer["meets_slo"], "one decode replica fewer misses ITL or E2E"
    again = rerun_pools(plan, d, pools)
    assert again["at_percentile_ms"] == pools.summary["at_percentile_ms"], "simulate reruns the same run"


def test_a_split_whose_prefill_pool_alone_misses_e2e_is_judged_without_its_decode_pool(
    planned: workflows.PlanReport,
) -> None:
    d = planned.decision
    assert d is not None and d.pools is not None
    at = d.pools.summary["at_percentile_ms"]
    assert at["e2e"] >= at["ttft"], "the bound the shortcut rests on: E2E includes TTFT"
    prefill_only = {"requests": 90, "at_percentile_ms": {"ttft": 1_500.0}, "worst_ratio": 0.5, "dropped": 0}
    beyond = _beyond_e2e(prefill_only, Targets(ttft_s=None, itl_s=None, e2e_s=1.0))
    assert beyond is not None and beyond["worst_ratio"] == pytest.approx(1.5) and not beyond["meets_slo"]
    assert _beyond_e2e(prefill_only, Targets(ttft_s=None, itl_s=None, e2e_s=2.0)) is None, "the decode pool decides"
    assert _beyond_e2e(prefill_only, Targets(ttft_s=1.0, itl_s=None, e2e_s=None)) is None, "no E2E target"


def test_the_estimates_error_weighs_aggregated_replicas_against_aggregated_ones(session: workflows.Session) -> None:
    """The estimate sizes aggregated replicas: the check's finding, the plan's text and the decision
    record compare it with the aggregated replicas the simulation found, and name the pools apart
    (use case 1, whose pools need other replicas than aggregated serving, so the two can be told apart)."""
    from planner.render import plan_report_text
    from planner.report.sections import _simulated_rows

    path = PLANS / "usecases" / "1-knowledge-assistant.yaml"
    planned = workflows.plan(session, workflows.read_plan(path), path.name, backend="builtin")
    d = planned.decision
    assert d is not None and d.pools is not None and d.estimate_off_by is not None
    aggregated = d.simulated_aggregated_replicas
    assert aggregated != d.replicas_for_load, "the pools serve the load with other replicas than aggregated serving"
    assert d.estimated_replicas != aggregated, "the simulation moved the estimate (else nothing to report)"
    f = {f.rule_id: f for f in planned.validation.findings}["sizing.simulation-corrected-estimate"]
    assert f.evidence["simulated_replicas"] == aggregated
    assert f.evidence["off_by_pct"] == round(100 * (d.estimated_replicas / aggregated - 1))
    pools = d.pools
    assert f"settled {aggregated} (the estimate was off by {f.evidence['off_by_pct']}%); the plan serves the load " \
        f"disaggregated instead, with {pools.prefill_replicas} prefill and {pools.decode_replicas} decode replicas" \
        in f.message  # fmt: skip
    text = plan_report_text(planned)
    assert f"against {aggregated} aggregated in simulation" in text
    assert f"simulated per replica served aggregated: Cr_closed {d.cr_closed:,} requests in flight" in text
    sim = d.to_json()
    row = _simulated_rows({}, sim)
    assert f"the analytic estimate said {d.estimated_replicas} aggregated replicas, against {aggregated} " in str(row)
    from types import SimpleNamespace

    from planner.report.sections import _cr_closed_text

    assert pools.prefill_capacity is not None and pools.decode_capacity is not None
    assert _cr_closed_text(SimpleNamespace(simulation=sim, measured=None)) == (  # type: ignore[arg-type]
        f"{d.cr_closed:,} requests in flight (simulated, served aggregated); the pools: "
        f"{pools.prefill_capacity.cr_closed:,} per prefill and {pools.decode_capacity.cr_closed:,} per decode replica"
    )


def test_each_pool_says_which_axis_binds_it(session: workflows.Session) -> None:
    """An aggregated replica of use case 1 is latency-bound (the SLOs hold 19 where memory holds
    89), and the check said so for a plan served as pools: 'choose hardware for the latency axis;
    improving the other axis will not add capacity', where its decode replicas run all their KV
    cache holds. Each pool now says what binds it, and the aggregated axes are labelled so."""
    from planner.render import plan_report_text

    path = PLANS / "usecases" / "1-knowledge-assistant.yaml"
    planned = workflows.plan(session, workflows.read_plan(path), path.name, backend="builtin")
    d = planned.decision
    assert d is not None and d.pools is not None
    prefill, decode = d.pools.prefill_capacity, d.pools.decode_capacity
    assert prefill is not None and decode is not None
    assert decode.memory_binds and decode.cr_closed == decode.memory_holds > planned.sizing.best.sizing.latency_cap
    assert not prefill.memory_binds and prefill.cr_closed < prefill.memory_holds
    ids = {f.rule_id: f for f in planned.validation.findings}
    assert "axes.dominant-constraint" not in ids
    finding = ids["axes.each-pools-constraint"]
    assert f"a decode replica runs {decode.cr_closed} requests in flight, all its KV cache holds (memory binds)" in (
        finding.message
    )
    assert f"a prefill replica {prefill.cr_closed} in flight within TTFT" in finding.message
    text = plan_report_text(planned)
    assert "estimate per replica served aggregated: memory holds" in text
    assert f"each pool's own axis: {d.pools.axes_text()}" in text
    cr = planned.to_json()["sizing"]["chosen"]["simulation"]["disaggregated"]["cr_closed"]
    assert (cr["decode_memory_holds"], cr["prefill_memory_holds"]) == (decode.memory_holds, prefill.memory_holds)
    # the decision record reads the stored revision the same way
    from planner.report.content import DecisionRecord
    from planner.report.sections import _settled

    record = DecisionRecord({}, "", {"result": planned.to_json()}, [], [], None, None, [], None, "", "", "")
    from planner.report.sections import _configuration_text

    configuration = _configuration_text(record.chosen, record.simulation)
    pooled = d.pools.to_json()
    assert configuration.startswith(f"{d.pools.prefill_replicas} prefill x {pooled['prefill_deployment']} + ")
    assert configuration.endswith(
        f"(aggregated serving would need {d.pools.aggregated_replicas} x {d.deployment.label})"
    )
    step6 = _settled(record, 6)
    assert step6.startswith("per replica served aggregated, memory holds")
    assert step6.endswith(f"served as pools, each bound by its own axis: {d.pools.axes_text()}")


def test_plan_text_and_json_report_the_pools(planned: workflows.PlanReport) -> None:
    chosen = planned.to_json()["sizing"]["chosen"]["simulation"]
    pools = chosen["disaggregated"]
    assert pools["prefill_replicas"] + pools["decode_replicas"] == chosen["replicas_for_load"]
    assert pools["run"]["meets_slo"] and pools["transport"] == "nixl"
    assert planned.tco is not None and "prefill/decode pools" in planned.tco.to_json()["throughput"]["label"]


def test_the_pools_are_priced_at_their_pooled_cr_closed_everywhere(planned: workflows.PlanReport) -> None:
    d = planned.decision
    assert d is not None and d.pools is not None
    pools, spare = d.pools, d.spares // 2
    prefill, decode = pools.prefill_capacity, pools.decode_capacity
    assert prefill is not None and decode is not None and prefill.cr_closed >= 1 and decode.cr_closed >= 1
    pooled = min(pools.prefill_replicas * prefill.req_s, pools.decode_replicas * decode.req_s)
    carried = pools.summary["throughput_req_s"]
    assert pools.req_s_at_cr_closed == max(pooled, carried)
    assert pools.output_tok_s_at_cr_closed > pools.summary["output_tok_s"], "capacity, not the peak's load"
    gpus = (pools.prefill_replicas + spare) * pools.prefill[0].gpus + (pools.decode_replicas + spare) * pools.decode[
        0
    ].gpus
    assert d.gpus == gpus
    costs = cost_assumptions(planned.resolved.plan.costs)
    price = eur_per_million_tokens(d.deployment.gpu, gpus, pools.output_tok_s_at_cr_closed, costs)
    assert d.eur_per_m_tokens == price
    assert planned.tco is not None and planned.tco.ranked_eur_per_million_output == pytest.approx(price, rel=1e-12)
    assert planned.to_json()["sizing"]["chosen"]["eur_per_1m_tokens"] == round(price, 4)
    text = plan_report_text(planned)
    assert (
        f"= {gpus} x {d.deployment.gpu.id}" in text and f"{price:,.3f} EUR per 1M output tokens at the pools'" in text
    )


def test_kv_moves_between_layouts_at_the_pace_of_the_larger_slice(planned: workflows.PlanReport) -> None:
    d = planned.decision
    assert d is not None
    tp2 = replace(d.deployment, tp=2)
    tp8 = replace(d.deployment, tp=8)
    gb_s, latency_s = transports()["nixl"]
    assert kv_transfer_s(tp8, tp8, 8000, "nixl") == pytest.approx(
        kv_bytes_per_sequence(tp8, 8000) / (gb_s * 1e9) + latency_s
    )
    # a TP2 prefill replica sends a quarter of the KV from each GPU to four TP8 ranks, one after another
    slowest = kv_bytes_per_sequence(tp2, 8000) / (gb_s * 1e9)
    assert kv_transfer_s(tp2, tp8, 8000, "nixl") == pytest.approx(slowest + 4 * latency_s)
    assert kv_transfer_s(tp8, tp2, 8000, "nixl") == kv_transfer_s(tp2, tp8, 8000, "nixl")
    assert kv_transfer_s(tp2, tp8, 8000, "nixl") > kv_transfer_s(tp8, tp8, 8000, "nixl")


@dataclass(frozen=True)
class Layout:
    """What the pool search reads of a deployment: its GPUs per replica."""

    name: str
    gpus: int


def test_the_pool_search_skips_layouts_that_cannot_beat_the_best_found() -> None:
    """Layouts of 2, 1 and 4 GPUs per replica with floors of 2, 2 and 8 GPUs. TP2 goes first and
    needs 2 replicas in simulation (+1 spare: 6 GPUs, twice its floor); TP1's floor scaled so (4
    GPUs, +1 spare) is below 6, so it runs, and needs 6 replicas: more than the 4 that would beat
    TP2. TP4's scaled floor (16 GPUs) cannot beat 6: it never runs."""
    needs = {"tp2": 2, "tp1": 6, "tp4": 1}
    layouts = {name: (Layout(name, gpus), "model") for name, gpus in (("tp2", 2), ("tp1", 1), ("tp4", 4))}
    floors: list[tuple[Any, int | None]] = [(layouts["tp2"], 2), (layouts["tp1"], 2), (layouts["tp4"], 8)]
    runs: list[str] = []

    def shortfall_of(layout: Any) -> Any:
        name = next(n for n, pool in layouts.items() if pool is layout)

        def shortfall(replicas: int) -> float:
            runs.append(name)
            return 0.5 if replicas >= needs[name] else 2.0

        return shortfall

    found = _fewest_gpus(floors, math.inf, shortfall_of, spare=1, most=100)
    assert found is not None and found[1] is layouts["tp2"] and found[2] == 2 and found[0] == 6
    assert set(runs) == {"tp2", "tp1"}, "the TP4 layout is dominated: never simulated"
    assert _fewest_gpus(floors, 7, shortfall_of, spare=1, most=100) == found
    assert _fewest_gpus(floors, 6, shortfall_of, spare=1, most=100) is None, "no pool needs fewer than 6 GPUs"


def test_the_pool_search_runs_the_most_replicas_a_layout_may_have_only_when_fewer_miss() -> None:
    """One layout of one GPU a replica, floor 2, and at most 18 replicas (under 20 GPUs, a spare):
    needing 4, the search runs 2, the middle 10, then down to 4 and never 18; needing 19 (more
    than it may have), it runs 2, 10 and 18, and the layout is out."""
    layout = (Layout("tp1", 1), "model")
    runs: list[int] = []

    def shortfall_of(needs: int) -> Any:
        def shortfall(replicas: int) -> float:
            runs.append(replicas)
            return needs / replicas

        return lambda _pool: shortfall

    found = _fewest_gpus([(layout, 2)], 20, shortfall_of(4), spare=1, most=100)
    assert found is not None and found[2] == 4 and found[0] == 5
    assert runs == [2, 10, 6, 4, 3], "18 is never run"
    runs.clear()
    assert _fewest_gpus([(layout, 2)], 20, shortfall_of(19), spare=1, most=100) is None
    assert runs == [2, 10, 18]


def test_deploy_writes_each_pool_with_its_own_layout(session: workflows.Session, planned: workflows.PlanReport) -> None:
    d, best = planned.decision, planned.sizing.best
    assert d is not None and d.pools is not None and best is not None
    wider = replace(d.deployment, tp=2 * d.deployment.tp)
    # the prefill pool on the chosen deployment's own layout, the decode pool twice as wide
    split = replace(d.pools, prefill=(d.deployment, d.model), decode=(wider, d.model))
    sizing = PlanSizing(replace(best, decision=replace(d, pools=split)), [], 1, 1)
    pools = _pools(sizing)
    assert pools is not None and pools.prefill is None and pools.decode == wider, "only the decode pool differs"
    given = workflows.open_plan(DISAGGREGATED)
    values = deploy_values(planned.resolved, best.sizing, session.catalog, "dynamo", origin_of(given),
                           "registry.local/sglang:0.5.3", pools)  # fmt: skip
    services = dynamo(values, serve_command(values))["dynamo-graph.yaml"]["spec"]["services"]
    flag = flag_for(values.runtime, "tensor_parallel", values.runtime_version)
    batch = flag_for(values.runtime, "max_sequences", values.runtime_version)
    assert flag is not None and batch is not None
    limits = set()
    for name, dep in (("PrefillWorker", d.deployment), ("DecodeWorker", wider)):
        worker = services[name]
        args = worker["extraPodSpec"]["mainContainer"]["args"]
        tp = args[args.index(flag.flag) + 1] if flag.flag in args else "1"  # the runtime's default: no flag
        assert tp == str(dep.tp) and worker["resources"]["limits"]["gpu"] == str(dep.gpus)
        # each pool admits what its layout's KV cache holds, as the simulation that sized it ran it
        simulated = scheduler_for(dep, context_of(planned.resolved.plan)).max_num_seqs
        assert args[args.index(batch.flag) + 1] == str(simulated)
        limits.add(simulated)
    assert len(limits) == 2, "the wider decode layout holds more sequences"


def test_the_tuning_plan_of_pools_keeps_the_decode_pools_batch(planned: workflows.PlanReport) -> None:
    """A disaggregated fleet's tuning plan expects what the pools' simulation gave and leaves out the
    lever that lowers the running batch to an aggregated replica's latency cap: the decode pool was
    sized to run what its KV cache holds (it told use case 1 to cut its decode replicas' 85 to 19)."""
    from planner.workflows.deploy import tune

    d = planned.decision
    assert d is not None and d.pools is not None
    tuning = tune(workflows.open_session(), workflows.open_plan(DISAGGREGATED), backend="builtin")
    assert "served disaggregated" in tuning.deployment and f"{d.pools.decode_replicas} decode" in tuning.deployment
    baseline = tuning.experiments[0]
    at = d.pools.summary["at_percentile_ms"]
    assert f"the simulation that sized the pools gives TTFT p95 {at['ttft']:,.0f} ms, ITL p95 {at['itl']:,.1f} ms" in (
        baseline.expect
    ), "the figures the plan prints for its pools"
    batch = d.deployment.runtime.knob_roles.get("max_sequences", "max_num_seqs")
    assert batch not in [e.lever for e in tuning.experiments]
    assert any(s.lever == batch and "served disaggregated" in s.why for s in tuning.skipped)


def test_the_failure_check_of_pools_takes_a_spare_out_of_each_pool(
    session: workflows.Session, planned: workflows.PlanReport
) -> None:
    """`planner simulate --failure` runs the fleet the plan serves: both pools with a spare each, then
    with the spares down. It ran aggregated replicas, as many as the pools have, and told use case 1
    that its 17 B200 miss the SLOs and N+1 fails where the plan's pools meet them."""
    d = planned.decision
    assert d is not None and d.pools is not None
    plan = workflows.read_plan(DISAGGREGATED)
    report = workflows.simulate(session, plan, "pd.yaml", workflows.SimulationRequest(failure=True, backend="builtin"))
    assert "prefill +" in report.deployment and report.meets_slo
    failure = report.failure
    assert failure is not None and failure["survives_failure"] and failure["all_up"]["meets_slo"]
    assert failure["all_up"]["replicas"] == d.replicas and failure["spares_down"]["replicas"] == d.replicas_for_load
    assert failure["spares_down"]["gpus"] < failure["all_up"]["gpus"] == d.gpus


def test_simulate_runs_the_pools_by_default(session: workflows.Session, planned: workflows.PlanReport) -> None:
    plan = workflows.read_plan(DISAGGREGATED)
    report = workflows.simulate(session, plan, "pd.yaml", workflows.SimulationRequest(backend="builtin"))
    data = report.to_json()
    assert data["meets_slo"] and data["pools"]["prefill_replicas"] >= 1
    assert "prefill +" in data["deployment"] and "decode replicas (KV over nixl)" in data["deployment"]
    assert (
        data["replicas"] == data["plan"]["replicas_for_load"] == planned.to_json()["sizing"]["chosen"]["replicas"] - 2
    )
    text = simulation_text(report)
    assert "meets the SLOs" in text and "decode replicas (KV over nixl)" in text
    pools = report.decision.pools
    assert pools is not None and pools.prefill_capacity and pools.decode_capacity
    assert (
        f"{pools.prefill_replicas} prefill + {pools.decode_replicas} decode; Cr_closed "
        f"{pools.prefill_capacity.cr_closed:,} per prefill and {pools.decode_capacity.cr_closed:,} per decode replica "
        f"(served aggregated: per replica Cr_closed {report.decision.cr_closed:,}"
    ) in text.splitlines()[0], "the pools' envelopes first, the aggregated replica's named as such"
    from planner.render import envelope_text

    envelope = workflows.envelope(session, plan, "pd.yaml", backend="builtin")
    assert envelope.to_json()["pools"] == envelope.pools and f"{pools.prefill_replicas} prefill + " in envelope.pools
    assert "the envelope below is of one replica served aggregated" in envelope_text(envelope)
    from planner.gui.viewmodels import fleet_summary

    summary = fleet_summary(planned)
    assert summary is not None and summary.pools_cr_closed == pools.cr_closed_text() != ""
    assert summary.deployment == pools.label, "the desktop app names each pool's layout, as `planner tco` does"


def test_deploy_writes_the_pools_and_check_config_reads_them_back(
    session: workflows.Session, planned: workflows.PlanReport, tmp_path: Path
) -> None:
    d = planned.decision
    assert d is not None and d.pools is not None
    given = workflows.open_plan(DISAGGREGATED)
    out = tmp_path / "dynamo"
    workflows.deploy(session, given, "dynamo", out, image="registry.local/sglang:0.5.3", backend="builtin")
    (graph,) = [doc for doc in yaml.safe_load_all((out / "dynamo-graph.yaml").read_text()) if doc]
    services = graph["spec"]["services"]
    prefill, decode = services["PrefillWorker"], services["DecodeWorker"]
    assert "Worker" not in services
    assert prefill["replicas"] == d.pools.prefill_replicas + 1 and decode["replicas"] == d.pools.decode_replicas + 1
    args = prefill["extraPodSpec"]["mainContainer"]["args"]
    assert args[args.index("--disaggregation-mode") + 1] == "prefill"
    assert args[args.index("--disaggregation-transfer-backend") + 1] == "nixl"
    checked = workflows.check_config(session, given, out, backend="builtin")
    assert not checked.disagreements and not checked.findings, checked.to_json()
    # A replica moved from the prefill pool to the decode pool keeps the total: each pool is checked.
    prefill["replicas"] -= 1
    decode["replicas"] += 1
    (out / "dynamo-graph.yaml").write_text(yaml.safe_dump(graph), encoding="utf-8")
    moved = workflows.check_config(session, given, out, backend="builtin")
    assert [x.what for x in moved.disagreements] == ["prefill pool: replicas"] and not moved.agrees
    with pytest.raises(PlannerError, match="KServe does not run sglang"):
        workflows.deploy(session, given, "kserve", tmp_path / "k", backend="builtin")
    with pytest.raises(PlannerError, match="does not write prefill/decode pools for llm-d with sglang") as refused:
        workflows.deploy(session, given, "llm-d", tmp_path / "l", backend="builtin")
    # the fix names the target that writes sglang's pools, not the one that just refused them
    assert refused.value.fix.startswith("deploy the pools with --target dynamo (")


CODE = PLANS / "code-assistant.yaml"
#: The code assistant with longer prompts: prefill-heavy enough that its pools need fewer GPUs.
LONG_PROMPTS = PLANS / "code-assistant-long-prompts.yaml"


def _with_stack(section: dict[str, object], fabric: str | None = None) -> Plan:
    data = yaml.safe_load(CODE.read_text(encoding="utf-8"))
    data["serving_stack"] = {**data.get("serving_stack", {}), **section}
    if fabric:
        data.setdefault("hardware", {})["inter_node_fabric"] = fabric
    return parse_plan(yaml.safe_dump(data))


def test_open_disaggregation_is_chosen_when_the_pools_need_fewer_gpus(session: workflows.Session) -> None:
    report = workflows.plan(session, workflows.read_plan(LONG_PROMPTS), "code.yaml", backend="builtin")
    d = report.decision
    assert d is not None and d.pools is not None, "the code assistant's prefill-heavy load pools well"
    pools = d.pools
    assert set(pools.stacks) >= {"dynamo", "llm-d"} and "runtime-server" not in pools.stacks
    spare = report.resolved.plan.slo.spare_failure_domains
    aggregated_gpus = (pools.aggregated_replicas + spare) * d.deployment.gpus
    assert d.gpus == pools.gpus(spare) < aggregated_gpus, "fewer GPUs, both spares counted"
    chosen = report.to_json()["sizing"]["chosen"]["simulation"]["disaggregated"]
    assert chosen["chosen_over_aggregated"] and chosen["prefill_replicas"] == pools.prefill_replicas
    assert "disaggregation was left open" in pools.describe(d.deployment)
    facts = {f["rule_id"] for f in report.to_json()["findings"]}
    assert "trap.disaggregation-without-rdma" not in facts, "NIXL over the plan's InfiniBand is RDMA"


def test_a_plan_that_says_no_to_disaggregation_is_served_aggregated(session: workflows.Session) -> None:
    report = workflows.plan(session, _with_stack({"disaggregated": False}), "agg.yaml", backend="builtin")
    d = report.decision
    assert d is not None and d.pools is None and d.spares == 1


def test_only_stacks_that_can_run_the_pools_open_the_choice(session: workflows.Session) -> None:
    from planner.resolve import resolve_plan
    from planner.sizing.plan_sizing import pool_stacks

    def stacks(plan: Plan, runtime: str = "vllm") -> list[str]:
        return pool_stacks(resolve_plan(plan, session.catalog, "p.yaml"), session.catalog, runtime)

    assert set(stacks(_with_stack({}))) == {"dynamo", "llm-d", "kserve", "ray-serve"}
    assert stacks(_with_stack({"id": "runtime-server"})) == [], "the plain server has no pools"
    assert stacks(_with_stack({"id": "dynamo"}), "trtllm") == ["dynamo"]
    assert stacks(_with_stack({"disaggregated": True})) == [], "pinned: sized as pools anyway, not a choice"
    assert stacks(_with_stack({}, fabric="ethernet")) == ["ray-serve"], "the others need RDMA for the KV cache"


def test_the_growth_view_at_the_sizings_own_demand_needs_the_pools_that_carry_its_rate(
    planned: workflows.PlanReport,
) -> None:
    """Concurrency per replica of either pool is the sizing's: at the demand the pools were sized for,
    the growth view asks for no more replicas than the plan's pools, and for enough that the pooled
    Cr_closed rate per replica carries the sized rate (each pool's own Cr_closed added up counted a
    request in both pools and asked for too few)."""
    tco, d = planned.tco, planned.decision
    assert tco is not None and d is not None and d.pools is not None
    pools = d.pools
    for_load = max(math.ceil(tco.provisioned_concurrency / tco.throughput.concurrency_per_replica - 1e-9), 2)
    assert for_load <= pools.replicas
    assert for_load * pools.req_s_at_cr_closed / pools.replicas >= pools.rate_req_s


def test_the_growth_view_grows_each_pool_in_its_own_layout(planned: workflows.PlanReport) -> None:
    tco = planned.tco
    assert tco is not None and tco.fleet.pools is not None
    pools = tco.fleet.pools
    assert pools.prefill[0].gpus != pools.decode[0].gpus or pools.prefill[0] == pools.decode[0]
    same = tco.fleet.carrying(tco.fleet.replicas_for_load)
    assert (same.gpus, same.nodes) == (tco.fleet.gpus, tco.fleet.nodes), "the sized count gives the TCO's fleet"
    for quarter in growth_view(planned.resolved.plan, tco, 2).quarters:
        grown = tco.fleet.carrying(quarter.replicas_for_load).pools
        assert grown is not None and grown.prefill_replicas >= 1 and grown.decode_replicas >= 1
        assert grown.prefill_replicas + grown.decode_replicas == quarter.replicas_for_load
        spares = tco.fleet.spares // 2
        assert (
            quarter.gpus
            == (grown.prefill_replicas + spares) * pools.prefill[0].gpus
            + (grown.decode_replicas + spares) * pools.decode[0].gpus
        )


def test_the_tco_and_the_workbook_name_each_pools_layout(session: workflows.Session, tmp_path: Path) -> None:
    """The disaggregated code assistant runs TP 2 prefill and TP 1 decode replicas (under `auto`);
    `planner tco` and the workbook named the deployment of a replica served aggregated ('x1 TP1'),
    and `mix` likewise for each class served as pools. They name each pool's layout."""
    from openpyxl import load_workbook

    from planner.render import tco_text

    report = workflows.tco(session, workflows.read_plan(DISAGGREGATED), "pd.yaml", backend="builtin")
    pools = report.tco.fleet.pools
    assert pools is not None
    label = pools.label
    assert f"x{pools.prefill[0].gpus} {pools.prefill[0].parallelism} prefill + " in label
    assert f"x{pools.decode[0].gpus} {pools.decode[0].parallelism} decode" in label
    assert tco_text(report).splitlines()[0].endswith(f": {label}")
    assert report.to_json()["tco"]["deployment"] == label
    out = tmp_path / "pools.xlsx"
    workflows.export(session, workflows.read_plan(DISAGGREGATED), out, "pd.yaml", backend="builtin")
    book = load_workbook(out)
    assert any(row[1].value == label for row in book["Summary"].iter_rows() if row[0].value == "Deployment")
    (sized,) = [row for row in book["Sizing"].iter_rows() if row[0].value == "Deployment"]
    assert sized[2].value.startswith("a replica served aggregated: the load is served by " + label)


def test_a_load_the_user_names_runs_as_many_replicas_as_aggregated_serving_needs(session: workflows.Session) -> None:
    """`planner simulate --rate R` (or `--disaggregated`, `--concurrency N`) runs the plan's deployment
    served aggregated; for a plan served as pools it ran as many aggregated replicas as the pools
    have (8 for the disaggregated code assistant, whose aggregated serving needs 18), which missed
    every SLO at the plan's own peak and made the split comparison meaningless. (Use case 1 under the
    built-in model: its pools have fewer replicas than aggregated serving needs.)"""
    plan = workflows.read_plan(PLANS / "usecases" / "1-knowledge-assistant.yaml")
    request = workflows.SimulationRequest(rate=20.0, duration_s=60, backend="builtin")
    report = workflows.simulate(session, plan, "1.yaml", request)
    d = report.decision
    assert d.pools is not None and d.simulated_aggregated_replicas > d.replicas_for_load
    assert report.summary["replicas"] == d.simulated_aggregated_replicas
    assert report.deployment.endswith("served aggregated")
    closed = workflows.simulate(session, plan, "1.yaml", workflows.SimulationRequest(mode="closed", backend="builtin"))
    assert closed.summary["replicas"] == d.simulated_aggregated_replicas
    # the plan's users spread over those replicas alike (the peak load rounded up to fill each)
    assert closed.summary["load"]["concurrency"] % d.simulated_aggregated_replicas == 0


def test_an_existing_fleet_is_measured_against_the_pools_gpus(session: workflows.Session, tmp_path: Path) -> None:
    """Two nodes of 8 B200 against the long-prompt code assistant, served as TP 2 prefill and TP 1
    decode pools where aggregated serving would run TP 2 replicas: the existing fleet was counted in
    replicas of the layout served aggregated (8 of 2 GPUs, against the pools' count of replicas),
    which said to add 12 GPUs; counted in the pools' GPUs, it lacks 8."""
    data = yaml.safe_load((PLANS / "code-assistant-long-prompts.yaml").read_text(encoding="utf-8"))
    data["hardware"] = {"gpu": "b200", "nodes": 2, "gpus_per_node": 8}
    path = tmp_path / "brownfield.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    planned = workflows.plan(session, workflows.read_plan(path), path.name, backend="builtin")
    d, existing = planned.decision, planned.existing_fleet
    assert d is not None and d.pools is not None and existing is not None and existing.in_gpus
    assert {d.pools.prefill[0].gpus, d.pools.decode[0].gpus} != {d.deployment.gpus}, "pools of another layout"
    load_gpus, all_gpus = d.pools.gpus(), d.pools.gpus(d.spares // 2)
    assert (existing.replicas, existing.needed, existing.spares) == (16, load_gpus, all_gpus - load_gpus)
    assert existing.share == pytest.approx((16 - (all_gpus - load_gpus)) / load_gpus)
    assert existing.shortfall == max(all_gpus - 16, 0) and all_gpus > 16, "the pools need more than the nodes hold"
    gpus, nodes = existing.to_add(d.deployment)
    assert (gpus, nodes) == (all_gpus - 16, 1)
    f = {f.rule_id: f for f in planned.validation.findings}["resilience.cannot-lose-a-domain"]
    assert f"only {existing.for_load} GPU(s) of the pools remain, but the peak needs {load_gpus}" in f.message
    assert f"Add {gpus} GPU(s) to the prefill and decode pools" in f.remedy
    printed = planned.to_json()["existing_fleet"]
    assert printed["counted_in"] == "gpus" and printed["add_gpus"] == gpus


def test_the_deployment_trace_gives_each_pools_gpus_and_settings(session: workflows.Session, tmp_path: Path) -> None:
    """The long-prompt code assistant (built-in model) runs TP 2 prefill and TP 1 decode replicas.
    `planner deploy` wrote their manifests right, but TRACE.md, the command's line and its JSON
    gave one layout for the whole fleet ('14 replicas x 2 b200 = 28 GPUs' where the pools take 24)
    and traced only the settings of a replica served aggregated."""
    from planner.deploy.bundle import TRACE_FILE

    given = workflows.open_plan(PLANS / "code-assistant-long-prompts.yaml")
    report = workflows.deploy(
        session, given, "dynamo", tmp_path / "d", image="registry.local/sglang", backend="builtin"
    )
    planned = workflows.plan(session, given.plan, "long.yaml", backend="builtin")
    d = planned.decision
    assert d is not None and d.pools is not None
    prefill, decode = d.pools.prefill[0], d.pools.decode[0]
    assert prefill.gpus != decode.gpus, "pools of two layouts"
    gpus = d.pools.gpus(d.spares // 2)
    fleet = report.to_json()["fleet"]
    assert fleet["gpus"] == gpus == planned.to_json()["sizing"]["chosen"]["gpus"]
    assert fleet["pools"]["prefill"] == {"replicas": d.pools.prefill_replicas + 1, "gpus_per_replica": prefill.gpus}
    assert fleet["pools"]["decode"] == {"replicas": d.pools.decode_replicas + 1, "gpus_per_replica": decode.gpus}
    trace = report.files[TRACE_FILE]
    assert f"+ {d.pools.decode_replicas + 1} decode x {decode.gpus} " in trace and f"= {gpus} GPUs on" in trace
    from planner.deploy.bundle import DASHBOARD_FILE

    replicas = d.pools.replicas + d.spares
    assert f"Serving replicas (N+1 in each pool: {replicas})" in report.files[DASHBOARD_FILE], "not N+2"
    limits = [report.files[TRACE_FILE].split(f"## The {name} pool")[1].split("--max-running-requests` | ")[1].split(" ")[0]
              for name in ("prefill", "decode")]  # fmt: skip
    assert f"admits up to {limits[0]} in the prefill pool and {limits[1]} in the decode pool" in " ".join(
        report.files[DASHBOARD_FILE].split()
    )
    for name, layout in (("prefill", prefill), ("decode", decode)):
        section = trace.split(f"## The {name} pool")[1].split("## ")[0]
        assert f"| tensor_parallel | `--tp-size` | {layout.tp} |" in section
        assert "the latency axis holds" not in section, "a pool's replicas run what their KV cache holds"
