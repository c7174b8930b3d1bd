"""Plan files: strict validation with field paths, lines and fixes (step 1-9 model)."""

from __future__ import annotations

import json

import pytest

from planner.errors import InputError
from planner.plan import Plan, plan_json_schema
from planner.planfile import load_plan, parse_plan
from tests.conftest import PLANS

MINIMAL = """\
schema_version: 1
name: minimal
use_case: {title: t, task: chat, deployment: greenfield}
workload: {input_tokens: {p50: 100, p95: 200}, output_tokens: {p50: 10, p95: 20}}
traffic: {concurrency: 4, growth: 0.2}
slo: {itl_ms: 50, availability_pct: 99.0}
model: {id: llama-3.1-8b}
"""


def problems_of(text: str) -> list[tuple[str, str, str]]:
    with pytest.raises(InputError) as info:
        parse_plan(text, "plan.yaml")
    return [(p.where, p.what, p.fix) for p in info.value.problems]


def test_minimal_plan_is_valid_and_leaves_choices_open() -> None:
    plan = parse_plan(MINIMAL)
    assert plan.runtime.id is None and plan.hardware.gpu is None and plan.serving_stack.id is None
    assert plan.workload.context_p95_tokens == 220
    assert plan.traffic.headroom == pytest.approx(0.2)
    assert plan.slo.effective_scenario == "latency-first"
    assert plan.slo.spare_failure_domains == 1


@pytest.mark.parametrize(
    "name", sorted(str(p.relative_to(PLANS)) for p in PLANS.rglob("*.*") if not p.name.startswith("bad-"))
)
def test_fixture_plans_validate(name: str) -> None:
    plan = load_plan(PLANS / name)
    assert plan.schema_version == 1


def test_unknown_key_is_named_with_line_and_suggestion() -> None:
    [(where, what, fix)] = problems_of(MINIMAL.replace("{itl_ms: 50,", "{itl_ms: 50, tftt_ms: 100,"))
    assert where == "slo.tftt_ms (line 6)"
    assert what == "unknown key"
    assert "did you mean `ttft_ms`" in fix


def test_wrong_unit_explains_the_unit_and_converts() -> None:
    [(where, _, fix)] = problems_of(MINIMAL.replace("itl_ms: 50", 'itl_ms: "0.05 s"'))
    assert where.startswith("slo.itl_ms")
    assert "write 50" in fix and "milliseconds" in fix


def test_availability_as_fraction_is_a_unit_error() -> None:
    [(where, what, fix)] = problems_of(MINIMAL.replace("availability_pct: 99.0", "availability_pct: 0.999"))
    assert where.startswith("slo.availability_pct")
    assert "percentage" in what and "99.9" in fix


def test_p95_below_p50_is_rejected() -> None:
    [(where, what, fix)] = problems_of(MINIMAL.replace("{p50: 100, p95: 200}", "{p50: 300, p95: 200}"))
    assert where.startswith("workload.input_tokens")
    assert "p95 (200) is below p50 (300)" in what
    assert "p50 <= p95" in fix


def test_duty_cycle_above_one_and_negative_tokens_are_rejected() -> None:
    text = MINIMAL.replace("{concurrency: 4, growth: 0.2}", "{users: 10, duty_cycle: 1.5, growth: 0.2}")
    text = text.replace("output_tokens: {p50: 10", "output_tokens: {p50: -10")
    wheres = {where.split(" ")[0] for where, _, _ in problems_of(text)}
    assert wheres == {"traffic.duty_cycle", "workload.output_tokens.p50"}


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of((PLANS / "bad-many-problems.yaml").read_text())
    assert len(problems) == 7
    assert all(fix for _, _, fix in problems), "every problem carries a fix"


def test_growth_given_as_percent_is_caught() -> None:
    [(_, what, fix)] = problems_of(MINIMAL.replace("growth: 0.2", "growth: 40"))
    assert "fraction" in what and "0.4" in fix


def test_exactly_one_load_definition() -> None:
    text = MINIMAL.replace("{concurrency: 4, growth: 0.2}", "{concurrency: 4, requests_per_s: 2.0}")
    [(where, what, _)] = problems_of(text)
    assert where.startswith("traffic") and "2 load definitions" in what
    [(_, what, fix)] = problems_of(MINIMAL.replace("{concurrency: 4, growth: 0.2}", "{users: 100}"))
    assert "duty_cycle" in what and "duty_cycle" in fix


def test_missing_section_and_strings_for_numbers() -> None:
    text = MINIMAL.replace("slo: {itl_ms: 50, availability_pct: 99.0}\n", "")
    [(where, what, fix)] = problems_of(text)
    assert (where, what) == ("slo", "required but missing")
    assert fix.startswith("add `slo`")
    [(where, _, _)] = problems_of(MINIMAL.replace("p95: 200", 'p95: "200"'))
    assert where.startswith("workload.input_tokens.p95")


def test_schema_version_missing_or_newer() -> None:
    [(where, what, fix)] = problems_of(MINIMAL.replace("schema_version: 1\n", ""))
    assert where == "schema_version" and "schema_version: 1" in fix
    [(_, what, fix)] = problems_of(MINIMAL.replace("schema_version: 1", "schema_version: 7"))
    assert "newer" in what and "upgrade" in fix


def test_yaml_syntax_error_names_line() -> None:
    [(where, what, _)] = problems_of(MINIMAL + "model: [unclosed\n")
    assert where.startswith("line 9") and "not valid YAML" in what


def test_json_plan_file_and_syntax_error(tmp_path) -> None:
    plan = load_plan(PLANS / "nightly-summarisation.json")
    assert plan.hardware.nodes == 4 and plan.slo.effective_scenario == "throughput-first"
    broken = tmp_path / "p.json"
    broken.write_text('{"schema_version": 1,,}')
    with pytest.raises(InputError) as info:
        load_plan(broken)
    assert info.value.problems[0].where == "line 1, column 22"


def test_unreadable_file() -> None:
    with pytest.raises(InputError) as info:
        load_plan("/nonexistent/plan.yaml")
    assert "cannot read" in info.value.problems[0].what


def test_averages_only_profile_is_accepted_for_the_rules_to_judge() -> None:
    plan = load_plan(PLANS / "trap-averages-only.yaml")
    assert not plan.workload.has_percentiles
    assert plan.workload.context_p95_tokens == 1800
    assert plan.traffic.headroom == 0


def test_json_schema_forbids_unknown_keys_and_documents_units() -> None:
    schema = plan_json_schema()
    assert schema["additionalProperties"] is False
    slo = schema["$defs"]["Slo"]
    assert slo["additionalProperties"] is False
    assert "milliseconds" in slo["properties"]["ttft_ms"]["description"]
    json.dumps(schema)
    assert set(schema["required"]) >= {"schema_version", "use_case", "workload", "traffic", "slo", "model"}


def test_plan_round_trips_through_json() -> None:
    plan = load_plan(PLANS / "reasoning-agent.yaml")
    again = Plan.model_validate_json(plan.model_dump_json(), strict=True)
    assert again == plan


def test_choices_match_whatever_their_case() -> None:
    text = MINIMAL.replace("task: chat, deployment: greenfield", "task: Chat, deployment: GreenField")
    text = text.replace("model: {id: llama-3.1-8b}", "model: {id: llama-3.1-8b, weights: FP8, kv_cache: Fp8}")
    plan = parse_plan(text.replace("availability_pct: 99.0}", "availability_pct: 99.0, scenario: Latency-First}"))
    assert (plan.use_case.task, plan.use_case.deployment) == ("chat", "greenfield")
    assert (plan.model.weights, plan.model.kv_cache, plan.slo.scenario) == ("fp8", "fp8", "latency-first")
    [(where, what, _)] = problems_of(MINIMAL.replace("task: chat", "task: Gossip"))
    assert where.startswith("use_case.task") and "gossip" in what.lower()


def test_percentages_are_read_as_what_they_mean() -> None:
    text = MINIMAL.replace(
        "traffic: {concurrency: 4, growth: 0.2}", 'traffic: {users: 100, duty_cycle: "10%", growth: 30%}'
    )
    plan = parse_plan(text.replace("availability_pct: 99.0", "availability_pct: 99.9%"))
    assert plan.traffic.growth == pytest.approx(0.3) and plan.traffic.duty_cycle == pytest.approx(0.1)
    assert plan.slo.availability_pct == pytest.approx(99.9)
    [(where, _, _)] = problems_of(MINIMAL.replace("growth: 0.2", "growth: lots%"))
    assert where.startswith("traffic.growth")
