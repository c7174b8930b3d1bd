"""The scaling decision on crafted measurements, one per bottleneck: the lever in the method's
order under the runtime's own knob name, one at a time, replicas only when the cheaper are decided."""

from __future__ import annotations

from typing import Any

import pytest

from planner import workflows
from planner.measured_run import MeasuredRun
from planner.plan_simulation import context_of
from planner.scaling import decide
from planner.sizing.capacity import size_capacity
from planner.sizing.deployment import Deployment
from tests.conftest import REPO

CODE = REPO / "tests" / "data" / "plans" / "code-assistant.yaml"  # TTFT 500 ms, ITL 25 ms at p95


@pytest.fixture(scope="module")
def setting() -> tuple[Any, Deployment, Any]:
    session = workflows.open_session()
    plan = workflows.read_plan(CODE)
    c = session.catalog
    dep = Deployment(c.models.get("qwen3-32b"), c.gpus.get("h100-sxm"), c.runtimes.get("vllm"), "fp8", "bf16", tp=2)
    return plan, dep, session.performance_model("builtin")


def run(users: float, ttft_p50: float, ttft_p95: float, itl_p95: float, e2e_p50: float, **extra: Any) -> MeasuredRun:
    return MeasuredRun(
        format="crafted", source=f"c{users}", mode="closed", load=users, completed=400,
        latency={"ttft_ms": {"p50": ttft_p50, "p95": ttft_p95}, "itl_ms": {"p50": itl_p95 * 0.8, "p95": itl_p95},
                 "e2e_ms": {"p50": e2e_p50, "mean": e2e_p50}},
        output_tok_s=1000.0, request_s=users / (e2e_p50 / 1000), **extra,
    )  # fmt: skip


def test_a_prefill_bound_ttft_turns_max_num_batched_tokens_up(setting: Any) -> None:
    plan, dep, model = setting
    d = decide(plan, dep, model, [run(1, 120, 150, 12, 2000), run(8, 300, 900, 18, 2600)])
    assert d.bottleneck == "prefill" and d.signals.run == "closed loop c=8"
    assert (d.lever.family, d.lever.knob) == ("serving stack", "max_num_batched_tokens")  # type: ignore[union-attr]
    assert d.lever.new == 2 * d.lever.old and d.cost_eur_per_year == 0  # type: ignore[union-attr]
    assert set(d.expected["before"]) == set(d.expected["after"]) and "ttft_p95_ms" in d.expected["after"]


def test_a_decode_bound_itl_turns_max_num_seqs_down(setting: Any) -> None:
    plan, dep, model = setting
    d = decide(plan, dep, model, [run(1, 120, 150, 12, 2000), run(16, 150, 260, 41, 4000)])
    assert d.bottleneck == "decode" and d.lever is not None
    assert (d.lever.knob, d.lever.new) == ("max_num_seqs", 8)


def test_kv_pressure_caps_max_num_seqs_below_what_the_cache_holds(setting: Any) -> None:
    plan, dep, model = setting
    cap = size_capacity(dep, context_of(plan)).max_concurrency
    d = decide(plan, dep, model, [run(1, 120, 150, 12, 2000), run(cap, 300, 700, 30, 9000)])
    assert d.bottleneck == "kv-capacity" and d.lever is not None
    # from what `planner deploy` configured (what the KV cache holds), not the engine's default of 1,024
    assert (d.lever.knob, d.lever.old, d.lever.new) == ("max_num_seqs", cap, int(cap * 0.85)) and cap < 1024
    preempted = run(4, 300, 700, 30, 3000, server={"preemptions": 12})
    assert decide(plan, dep, model, [run(1, 120, 150, 12, 2000), preempted]).bottleneck == "kv-capacity"


def test_a_queue_is_answered_by_throughput_levers_then_replicas_with_their_cost(setting: Any) -> None:
    plan, dep, model = setting
    runs = [run(1, 120, 150, 12, 2000), run(8, 2200, 2600, 20, 4500)]
    first = decide(plan, dep, model, runs)
    assert first.bottleneck == "queue" and first.lever is not None and first.lever.family == "serving stack"
    families = [lever.family for lever in first.ladder]
    assert families == sorted(families, key=["serving stack", "runtime", "hardware", "replicas", "model"].index)
    cheaper = [lever.id for lever in first.ladder if lever.family in ("serving stack", "runtime", "hardware")]
    replica = decide(plan, dep, model, runs, tried=cheaper)
    assert replica.lever is not None and replica.lever.id == "replica"
    assert replica.cost_eur_per_year and replica.cost_eur_per_year > 10_000
    # the simulator prices the replica at the same load: two replicas of the plan's deployment
    assert set(replica.expected) == {"before", "after"}


def test_no_lever_when_the_slos_hold(setting: Any) -> None:
    plan, dep, model = setting
    d = decide(plan, dep, model, [run(1, 120, 150, 12, 2000), run(4, 130, 200, 14, 2100)])
    assert (d.bottleneck, d.lever) == ("none", None)
