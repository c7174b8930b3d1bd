"""Rules: each rule fires on a plan that breaks it and stays quiet on one that does not;
evaluations are isolated; broken rule packs are problems, not crashes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from planner import hookimpl
from planner.catalog import build_catalog
from planner.planfile import parse_plan
from planner.resolve import resolve_plan
from planner.rulepack import Rule, RulePack
from planner.sizing.plan_sizing import size_plan
from planner.validation import RulesEngine, build_engine, validate_plan
from tests.conftest import REPO

CLEAN = """\
schema_version: 1
name: clean
use_case: {title: t, task: chat, deployment: greenfield}
workload: {input_tokens: {p50: 1000, p95: 2000, p99: 3000}, output_tokens: {p50: 200, p95: 400, p99: 500}}
traffic: {users: 4000, active_fraction: 0.5, duty_cycle: 0.1, growth: 0.3, burst_factor: 1.5}
slo: {percentile: 95, ttft_ms: 3000, itl_ms: 60, e2e_ms: 60000, availability_pct: 99.9}
model: {id: llama-3.1-70b, weights: fp8, kv_cache: fp8}
runtime: {id: vllm, tp: 4}
hardware: {gpu: h100-sxm, placement: multi-rack}
serving_stack: {id: llm-d, observability: {metrics_endpoint: true, dashboards: true, alerts: true}}
exit_plan: {alternative_models: [qwen3-32b], alternative_runtimes: [sglang], alternative_hardware: [mi300x]}
baseline: {cr_closed_concurrency: 40, cr_closed_output_tok_s: 2500.0, cr_open_requests_per_s: 2.0}
"""

# rule id -> (old text, new text) pairs turning CLEAN into a plan that breaks the rule
BREAKS: dict[str, Any] = {
    # fires on CLEAN: B200 serves it about a quarter cheaper per token than the pinned H100
    # (its measured matmul ceiling is 2.2x the H100's)
    "heterogeneous.cheaper-gpu-class": ("", ""),
    "worst-case.only-averages": ("{p50: 1000, p95: 2000, p99: 3000}", "{mean: 1000}"),
    "worst-case.percentile-below-slo": [
        ("percentile: 95,", "percentile: 99,"),
        ("p95: 2000, p99: 3000}", "p95: 2000}"),
    ],
    "headroom.missing": ("growth: 0.3, burst_factor: 1.5", "growth: 0.0"),
    "headroom.below-growth-or-burst": ("burst_factor: 1.5}", "burst_factor: 1.5, provisioning_headroom: 0.2}"),
    "resilience.cannot-lose-a-domain": ("placement: multi-rack}", "placement: multi-rack, nodes: 1, gpus_per_node: 8}"),
    "resilience.one-failure-domain": ("placement: multi-rack", "placement: one-node"),
    "axes.latency-unchecked": ("ttft_ms: 3000, itl_ms: 60, ", "scenario: latency-first, "),
    # CLEAN leaves disaggregation open and is served as pools: each pool says what binds it (an
    # aggregated replica's axes would mislead: its decode replicas run all their KV cache holds where
    # an aggregated replica is latency-bound); served aggregated, the replica's two axes
    "axes.each-pools-constraint": ("", ""),  # fires on CLEAN: an info, not a fault
    "axes.dominant-constraint": ("id: llm-d, ", "id: llm-d, disaggregated: false, "),
    "slo.ttft-breach": ("runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, tp: 4, efficiency: {mfu_prefill: 0.01}}"),
    "slo.itl-breach": (
        "runtime: {id: vllm, tp: 4}",
        "runtime: {id: vllm, tp: 4, efficiency: {mbu_decode: 0.02, mfu_decode: 0.01}}",
    ),
    "slo.e2e-breach": ("e2e_ms: 60000", "e2e_ms: 3000"),
    "seams.max-model-len-below-context": ("tp: 4}", "tp: 4, knobs: {max_model_len: 1024}}"),
    "seams.max-num-seqs-above-kv": ("tp: 4}", "tp: 4, knobs: {max_num_seqs: 4096}}"),
    "seams.kv-dtype-mismatch": ("tp: 4}", "tp: 4, knobs: {kv_cache_dtype: bfloat16}}"),
    "seams.weights-precision-unsupported": ("gpu: h100-sxm", "gpu: a100-sxm-80gb"),
    "seams.kv-precision-unsupported": ("gpu: h100-sxm", "gpu: a100-sxm-80gb"),
    "seams.tp-does-not-divide-heads": ("tp: 4}", "tp: 3}"),
    "seams.ep-does-not-divide-experts": ("model: {id: llama-3.1-70b", "model: {id: mixtral-8x7b"),
    "trap.multi-node-tp-without-nvlink": ("tp: 4}", "tp: 16}"),
    "trap.disaggregation-without-rdma": ("id: llm-d, ", "id: llm-d, disaggregated: true, kv_transport: tcp, "),
    "trap.pipeline-underfilled": [("tp: 4}", "tp: 4, pp: 4}"), ("users: 4000", "users: 40")],
    "trap.ep-across-nodes-without-rdma": [
        ("model: {id: llama-3.1-70b", "model: {id: qwen3-235b-a22b"),
        ("tp: 4}", "tp: 16, ep: 16}"),
        ("placement: multi-rack}", "placement: multi-rack, inter_node_fabric: ethernet}"),
    ],
    "trap.ep-across-nodes": [
        ("model: {id: llama-3.1-70b", "model: {id: qwen3-235b-a22b"),
        ("tp: 4}", "tp: 16, ep: 16}"),
        ("placement: multi-rack}", "placement: multi-rack, inter_node_fabric: roce}"),
    ],
    "seams.ep-exceeds-replica": ("model: {id: llama-3.1-70b", "model: {id: mixtral-8x7b"),
    "seams.context-exceeds-model": ("{p50: 1000, p95: 2000, p99: 3000}", "{p50: 1000, p95: 140000, p99: 150000}"),
    "seams.stack-lacks-disaggregation": ("id: llm-d, ", "id: runtime-server, disaggregated: true, "),
    "seams.stack-lacks-kv-transport": ("id: llm-d, ", "id: ray-serve, disaggregated: true, kv_transport: rdma, "),
    "resilience.spares-share-the-failure-domain": [
        ("availability_pct: 99.9}", "availability_pct: 99.9, critical: true}"),
        ("placement: multi-rack", "placement: one-node"),
    ],
    "sizing.nothing-meets-the-plan": ("ttft_ms: 3000", "ttft_ms: 5"),
    # a tighter ITL: the simulation of the fleet served aggregated needs fewer replicas than the
    # estimate (on CLEAN it settles the estimate's count; the pools that serve it have other counts)
    "sizing.simulation-corrected-estimate": ("itl_ms: 60", "itl_ms: 40"),
    "trap.model-does-not-fit": [
        ("model: {id: llama-3.1-70b", "model: {id: llama-3.1-405b"),
        ("tp: 4}", "tp: 4, pp: 1}"),
    ],
    "exit.not-recorded": (
        "exit_plan: {alternative_models: [qwen3-32b], alternative_runtimes: [sglang], alternative_hardware: [mi300x]}\n",
        "",
    ),
    "exit.licence-forbids-use": ("deployment: greenfield}", "deployment: greenfield, monthly_active_users: 900000000}"),
    "exit.licence-unknown": ("model: {id: llama-3.1-70b", "model: {id: my-unknown-model"),
    "observability.no-metrics": ("dashboards: true", "dashboards: false"),
    "tco.not-from-cr-closed": ("cr_closed_output_tok_s: 2500.0, ", ""),
    "assumptions.no-baseline": (
        "baseline: {cr_closed_concurrency: 40, cr_closed_output_tok_s: 2500.0, cr_open_requests_per_s: 2.0}\n",
        "",
    ),
    "assumptions.efficiency-out-of-range": ("tp: 4}", "tp: 4, efficiency: {mbu_decode: 0.99}}"),
}
FIRES_ON_CLEAN = {"axes.each-pools-constraint", "heterogeneous.cheaper-gpu-class"}
EP_CASE = {
    "seams.ep-does-not-divide-experts": "runtime: {id: vllm, tp: 4, ep: 3}",
    "seams.ep-exceeds-replica": "runtime: {id: vllm, tp: 2, ep: 4}",
}


def broken(rule_id: str) -> str:
    """CLEAN with the edits that break ``rule_id``."""
    edits = BREAKS[rule_id]
    text = CLEAN
    for old, new in edits if isinstance(edits, list) else [edits]:
        assert old in text, (rule_id, old)
        text = text.replace(old, new)
    if rule_id in EP_CASE:
        text = text.replace("runtime: {id: vllm, tp: 4}", EP_CASE[rule_id])
    return text


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("rules-home")
        (home / "models").mkdir()
        # an imported model without a known licence, for exit.licence-unknown
        from planner.catalogfiles import load_entries  # noqa: F401  (catalog import path check)

        mp.setenv("PLANNER_HOME", str(home))
        from planner.manager import make_plugin_manager

        host = make_plugin_manager()
        catalog = build_catalog(host)
        spec = catalog.models.get("llama-3.1-8b").model_dump(mode="json")
        spec.update(id="my-unknown-model", name="mine", hf_id="", aliases=[], license="unknown")
        import json

        (home / "models" / "my-unknown-model.json").write_text(json.dumps(spec))
        host = make_plugin_manager()
        catalog = build_catalog(host)
        yield catalog, build_engine(host)


def findings(setup: Any, text: str) -> dict[str, Any]:
    catalog, engine = setup
    resolved = resolve_plan(parse_plan(text), catalog)
    result = validate_plan(resolved, catalog, size_plan(resolved, catalog), engine)
    assert not result.problems, result.problems
    return {f.rule_id: f for f in result.findings}


def test_every_rule_has_a_test_case(setup: Any) -> None:
    _, engine = setup
    assert {rule.id for _, rule in engine.rules} == set(BREAKS)


def test_clean_plan_is_quiet(setup: Any) -> None:
    assert set(findings(setup, CLEAN)) == FIRES_ON_CLEAN


@pytest.mark.parametrize("rule_id", sorted(set(BREAKS) - FIRES_ON_CLEAN))
def test_rule_fires_when_broken(setup: Any, rule_id: str) -> None:
    found = findings(setup, broken(rule_id))
    assert rule_id in found, sorted(found)
    finding = found[rule_id]
    assert finding.message and finding.remedy and finding.principle
    assert finding.evidence, "the numbers that fired it"


@pytest.mark.parametrize(
    ("availability", "placement", "fires"),
    [
        (99.9, "one-node", True),
        (99.9, "one-rack", False),
        (99.95, "one-rack", True),
        (99.95, "multi-rack", False),
        (99.99, "multi-rack", True),
        (99.99, "multi-site", False),
    ],
)
def test_failure_domains_follow_the_availability_target(
    setup: Any, availability: float, placement: str, fires: bool
) -> None:
    text = CLEAN.replace("availability_pct: 99.9}", f"availability_pct: {availability}}}").replace(
        "placement: multi-rack", f"placement: {placement}"
    )
    assert ("resilience.one-failure-domain" in findings(setup, text)) is fires


def test_the_estimate_is_reported_only_when_the_simulation_moved_it(setup: Any) -> None:
    catalog, engine = setup
    moved = broken("sizing.simulation-corrected-estimate")
    resolved = resolve_plan(parse_plan(moved), catalog)
    unchecked = validate_plan(resolved, catalog, size_plan(resolved, catalog, simulate=False), engine)
    assert "sizing.simulation-corrected-estimate" not in {f.rule_id for f in unchecked.findings}
    f = findings(setup, moved)["sizing.simulation-corrected-estimate"]
    assert f.evidence["estimated_replicas"] != f.evidence["simulated_replicas"] > 0
    assert f.evidence["off_by_pct"] != 0, "a count the simulation moved is off by some percent"
    # CLEAN's pools serve its load with fewer replicas than the aggregated fleet the simulation
    # settled at the estimate's count: the estimate was right, and no finding says it was off
    assert "sizing.simulation-corrected-estimate" not in findings(setup, CLEAN)


def test_the_cost_finding_names_the_throughput_it_rests_on(setup: Any) -> None:
    """Without a measured Cr_closed the cost rests on the simulated Cr_closed where the plan was checked
    in simulation (what `planner tco` prices), else on the estimate; the finding says which."""
    catalog, engine = setup
    unmeasured = broken("tco.not-from-cr-closed")
    f = findings(setup, unmeasured)["tco.not-from-cr-closed"]
    assert f.evidence["basis"] == "simulated" and "rests on simulated throughput" in f.message
    resolved = resolve_plan(parse_plan(unmeasured), catalog)
    estimated = validate_plan(resolved, catalog, size_plan(resolved, catalog, simulate=False), engine)
    assert {g.rule_id: g for g in estimated.findings}["tco.not-from-cr-closed"].evidence["basis"] == "estimated"


def test_slo_breach_reports_the_margin(setup: Any) -> None:
    f = findings(setup, broken("slo.ttft-breach"))["slo.ttft-breach"]
    assert f.evidence["ttft_margin_ms"] == pytest.approx(f.evidence["ttft_ms"] - 3000)
    assert "exceeds the p95 target of 3,000 ms" in f.message


def test_same_plan_twice_and_a_thousand_times_gives_identical_findings(setup: Any) -> None:
    catalog, engine = setup
    resolved = resolve_plan(parse_plan(broken("headroom.missing")), catalog)
    from planner.facts import plan_facts

    facts = plan_facts(resolved, catalog, size_plan(resolved, catalog))
    first = engine.evaluate(facts).findings
    for _ in range(1100):  # more than durable-rules' 1024 live sessions per ruleset
        assert engine.evaluate(facts).findings == first


def test_a_second_engine_is_independent() -> None:
    from planner.manager import make_plugin_manager

    a, b = build_engine(make_plugin_manager()), build_engine(make_plugin_manager())
    assert len(a.rules) == len(b.rules) > 0


def test_failing_rule_is_a_problem_of_its_pack_not_a_crash(setup: Any) -> None:
    catalog, _ = setup
    bad_template = RulePack(
        name="broken_pack",
        concern="tests",
        rules=[
            Rule(
                id="broken.template",
                principle="p",
                severity="warning",
                fact="traffic",
                when={"$gte": {"headroom": 0}},
                message="{no_such_field}",
                remedy="r",
            )
        ],
    )
    bad_condition = RulePack(
        name="bad_condition",
        concern="tests",
        rules=[
            Rule(
                id="bad.condition",
                principle="p",
                severity="warning",
                fact="traffic",
                when={"$nonsense": {"x": 1}},
                message="m",
                remedy="r",
            )
        ],
    )
    from planner.rules import headroom

    mixed = RulesEngine([bad_template, bad_condition, headroom.PACK])
    resolved = resolve_plan(parse_plan(broken("headroom.missing")), catalog)
    result = validate_plan(resolved, catalog, size_plan(resolved, catalog), mixed)
    assert [f.rule_id for f in result.findings] == ["headroom.missing"], "the good pack still runs"
    packs = {p.pack for p in result.problems}
    assert packs == {"broken_pack", "bad_condition"}
    assert any("no_such_field" in p.error for p in result.problems)


def test_vendor_rule_pack_runs_beside_ours(setup: Any, planner_make_host: Any) -> None:
    catalog, _ = setup

    class Vendor:
        @hookimpl
        def planner_rule_packs(self) -> list[dict[str, Any]]:
            return [
                {
                    "name": "acme_driver",
                    "concern": "ACME driver requirements",
                    "rules": [
                        {
                            "id": "acme.fp8-kv-needs-driver-550",
                            "principle": "Watch the seams between layers",
                            "severity": "warning",
                            "fact": "precision",
                            "when": {"kv": "fp8"},
                            "message": "An fp8 KV cache on {gpu} needs driver 550 or newer.",
                            "remedy": "Upgrade the driver before go-live.",
                            "evidence": ["gpu", "kv"],
                        }
                    ],
                },
                {"name": "invalid pack!", "rules": []},
            ]

    engine = build_engine(planner_make_host(("acme", Vendor())))
    resolved = resolve_plan(parse_plan(CLEAN), catalog)
    result = validate_plan(resolved, catalog, size_plan(resolved, catalog), engine)
    ids = {f.rule_id for f in result.findings}
    assert "acme.fp8-kv-needs-driver-550" in ids and "axes.each-pools-constraint" in ids
    assert any("from plugin acme is invalid" in p.error for p in result.problems)


def test_every_rule_is_documented(setup: Any) -> None:
    _, engine = setup
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    rules_table = doc.split("## The rules")[1].split("## Facts")[0]
    documented = set(re.findall(r"^\| `([a-z0-9.-]+)` \|", rules_table, flags=re.M))
    assert documented == {rule.id for _, rule in engine.rules}
    for _, rule in engine.rules:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{rule.id}` |"))
        assert rule.severity in row and rule.principle in row


def test_check_command_gates_on_errors(tmp_path: Path) -> None:
    from tests.conftest import PLANS, run_cli

    bad = run_cli("check", str(PLANS / "trap-multinode-tp-pcie.yaml"))
    assert bad.returncode == 1 and "trap.multi-node-tp-without-nvlink" in bad.stdout and "fix:" in bad.stdout
    good = tmp_path / "clean.yaml"
    good.write_text(CLEAN)
    ok = run_cli("check", str(good), "--json")
    assert ok.returncode == 0, ok.stdout
    import json

    data = json.loads(ok.stdout)
    assert data["errors"] == 0 and {f["rule_id"] for f in data["findings"]} == FIRES_ON_CLEAN
    plan = json.loads(run_cli("plan", str(PLANS / "trap-averages-only.yaml"), "--json").stdout)
    assert {"worst-case.only-averages", "headroom.missing"} <= {f["rule_id"] for f in plan["findings"]}
