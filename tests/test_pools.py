"""A plan that asks for disaggregated prefill/decode is sized as two pools in simulation, with the
KV cache moved over its transport, and every command reports the pools."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner import workflows
from planner.decision import _beyond_e2e, rerun_pools
from planner.disaggregation import disaggregation
from planner.errors import PlannerError
from planner.plan import Plan
from planner.planfile import parse_plan
from planner.render import simulation_text
from planner.simulate import Targets
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
    pool = (d.deployment, d.model)
    duration_s = pools.summary["simulated_s"]
    if pools.prefill_replicas > 1:
        fewer = disaggregation(
            plan, pool, pool, pools.rate_req_s, pools.prefill_replicas - 1, pools.aggregated_replicas, "nixl",
            duration_s=duration_s,
        )  # fmt: skip
        assert fewer["at_percentile_ms"]["ttft"] > 500, "one prefill replica fewer misses TTFT"
    if pools.decode_replicas > 1:
        fewer = disaggregation(
            plan, pool, pool, pools.rate_req_s, pools.prefill_replicas, pools.decode_replicas - 1, "nixl",
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


def test_plan_text_and_json_report_the_pools(planned: workflows.PlanReport) -> None:
    chosen = planned.to_json()["sizing"]["chosen"]["simulation"]
    pools = chosen["disaggregated"]
    assert pools["prefill_replicas"] + pools["decode_replicas"] == chosen["replicas_for_load"]
    assert pools["run"]["meets_slo"] and pools["transport"] == "nixl"
    assert planned.tco is not None and "prefill/decode pools" in planned.tco.to_json()["throughput"]["label"]


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
    with pytest.raises(PlannerError, match="KServe does not run sglang"):
        workflows.deploy(session, given, "kserve", tmp_path / "k", backend="builtin")
    with pytest.raises(PlannerError, match="does not write prefill/decode pools for llm-d with sglang"):
        workflows.deploy(session, given, "llm-d", tmp_path / "l", backend="builtin")


CODE = PLANS / "code-assistant.yaml"


def _with_stack(section: dict[str, object], fabric: str | None = None) -> Plan:
    data = yaml.safe_load(CODE.read_text(encoding="utf-8"))
    data["serving_stack"] = {**data.get("serving_stack", {}), **section}
    if fabric:
        data.setdefault("hardware", {})["inter_node_fabric"] = fabric
    return parse_plan(yaml.safe_dump(data))


def test_open_disaggregation_is_chosen_when_the_pools_need_fewer_gpus(session: workflows.Session) -> None:
    report = workflows.plan(session, workflows.read_plan(CODE), "code.yaml", backend="builtin")
    d = report.decision
    assert d is not None and d.pools is not None, "the code assistant's prefill-heavy load pools well"
    pools = d.pools
    assert set(pools.stacks) >= {"dynamo", "llm-d"} and "runtime-server" not in pools.stacks
    spare = report.resolved.plan.slo.spare_failure_domains
    assert d.replicas_for_load + d.spares < pools.aggregated_replicas + spare, "fewer GPUs, both spares counted"
    chosen = report.to_json()["sizing"]["chosen"]["simulation"]["disaggregated"]
    assert chosen["chosen_over_aggregated"] and chosen["prefill_replicas"] == pools.prefill_replicas
    assert "disaggregation was left open" in pools.describe(d.deployment.label)
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
