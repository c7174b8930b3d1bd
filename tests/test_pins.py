"""Pinned choices are used as given, or the plan fails naming the pin, why, and the nearest choice
that holds; nothing is quietly replaced."""

from __future__ import annotations

from typing import Any

import pytest

from planner import workflows
from planner.catalog import build_catalog
from planner.manager import make_plugin_manager
from planner.planfile import parse_plan
from planner.resolve import resolve_plan
from planner.sizing.pins import nearest_divisor, pin_conflicts
from planner.sizing.plan_sizing import size_plan
from planner.sizing.search import candidate_deployments
from tests.conftest import run_cli
from tests.test_validation import CLEAN

# pin -> (edit of CLEAN, words the conflict's line must hold: why, and the nearest that holds)
CONFLICTS: dict[str, tuple[tuple[str, str], tuple[str, ...]]] = {
    "runtime.tp": (("tp: 4}", "tp: 3}"), ("does not divide the 64 attention heads", "runtime.tp: 4")),
    "runtime.ep": (
        ("model: {id: llama-3.1-70b", "model: {id: mixtral-8x7b"),
        ("it does not divide the 8 experts", "runtime.ep: 4"),
    ),
    "model.id": (
        ("{p50: 1000, p95: 2000, p99: 3000}", "{p50: 1000, p95: 140000, p99: 150000}"),
        ("p95 context (140,400 tokens) is longer than the 131,072", "a model with a longer context"),
    ),
    "model.weights": (("gpu: h100-sxm", "gpu: a100-sxm-80gb"), ("a100-sxm-80gb (ampere) does not compute fp8", "bf16")),
    "runtime.id": (("gpu: h100-sxm", "gpu: mi300x"), ("it does not run on amd GPUs (mi300x)", "runtime.id: sglang")),
    "serving_stack.disaggregated": (
        ("id: llm-d, ", "id: runtime-server, disaggregated: true, "),
        ("runtime-server has no separate prefill and decode pools", "serving_stack.id: dynamo"),
    ),
    "serving_stack.kv_transport": (
        ("id: llm-d, ", "id: ray-serve, disaggregated: true, kv_transport: rdma, "),
        ("ray-serve moves the KV cache over nixl, lmcache, ucx", "serving_stack.kv_transport: nixl"),
    ),
}


@pytest.fixture(scope="module")
def catalog() -> Any:
    return build_catalog(make_plugin_manager())


def _resolved(catalog: Any, text: str) -> Any:
    return resolve_plan(parse_plan(text), catalog)


def test_a_plan_without_conflicting_pins_has_none(catalog: Any) -> None:
    assert pin_conflicts(_resolved(catalog, CLEAN), catalog) == []


@pytest.mark.parametrize("pin", sorted(CONFLICTS))
def test_a_pin_that_cannot_hold_is_named_with_why_and_the_nearest_that_holds(catalog: Any, pin: str) -> None:
    (old, new), words = CONFLICTS[pin]
    assert old in CLEAN
    text = CLEAN.replace(old, new)
    runtime = {"runtime.ep": "runtime: {id: vllm, tp: 4, ep: 3}", "runtime.id": "runtime: {id: trtllm, tp: 4}"}
    text = text.replace("runtime: {id: vllm, tp: 4}", runtime.get(pin, "runtime: {id: vllm, tp: 4}"))
    resolved = _resolved(catalog, text)
    found = {c.pin: c for c in pin_conflicts(resolved, catalog)}
    assert pin in found, sorted(found)
    for word in words:
        assert word in found[pin].line, found[pin].line
    sizing = size_plan(resolved, catalog, simulate=False)
    assert sizing.best is None and sizing.tried == 0, "the plan fails instead of sizing something else"
    assert found[pin].line in sizing.why_none


def test_the_search_never_offers_a_tp_that_does_not_divide_the_heads(catalog: Any) -> None:
    resolved = _resolved(catalog, CLEAN.replace("tp: 4}", "tp: 3}"))
    assert list(candidate_deployments(resolved, catalog)) == []
    open_tp = _resolved(catalog, CLEAN.replace("runtime: {id: vllm, tp: 4}", "runtime: {id: vllm}"))
    assert {d.tp for d in candidate_deployments(open_tp, catalog)} <= {1, 2, 4, 8}


def test_an_ep_wider_than_the_replica_names_both_ways_out(catalog: Any) -> None:
    text = CLEAN.replace("model: {id: llama-3.1-70b", "model: {id: mixtral-8x7b").replace(
        "runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, tp: 2, ep: 4}"
    )
    (conflict,) = pin_conflicts(_resolved(catalog, text), catalog)
    assert "TP 2 x PP 1 gives 2" in conflict.why and conflict.nearest == "runtime.ep: 2, or runtime.tp: 4"


#: runtime.dp pins attention data parallelism: (the runtime line of CLEAN's plan with a MoE model, the pin
#: that cannot hold, words its line must hold).
DP_CONFLICTS = [
    ("runtime: {id: sglang, dp: 6}", "runtime.dp", ("does not divide them", "runtime.dp: 8")),
    ("runtime: {id: sglang, tp: 8, dp: 8}", "runtime.tp", ("each of the 8 ranks runs attention on its own GPU",
                                                          "runtime.tp: 1")),
    ("runtime: {id: sglang, pp: 2, dp: 8}", "runtime.pp", ("runtime.pp: 1",)),
    ("runtime: {id: sglang, ep: 4, dp: 8}", "runtime.ep", ("experts are split over its 8 ranks", "runtime.ep: 8")),
]  # fmt: skip


@pytest.mark.parametrize(("runtime", "pin", "words"), DP_CONFLICTS)
def test_an_attention_dp_pin_that_cannot_hold_is_named_with_the_nearest_that_holds(
    catalog: Any, runtime: str, pin: str, words: tuple[str, ...]
) -> None:
    text = CLEAN.replace("model: {id: llama-3.1-70b", "model: {id: deepseek-r1").replace(
        "runtime: {id: vllm, tp: 4}", runtime
    )
    resolved = _resolved(catalog, text)
    (conflict,) = pin_conflicts(resolved, catalog)
    assert conflict.pin == pin
    for word in words:
        assert word in conflict.line, conflict.line
    assert list(candidate_deployments(resolved, catalog)) == [], "nothing else is sized in its place"


def test_an_attention_dp_pin_on_a_dense_model_says_its_replicas_are_the_fleets(catalog: Any) -> None:
    resolved = _resolved(catalog, CLEAN.replace("runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, dp: 2}"))
    (conflict,) = pin_conflicts(resolved, catalog)
    assert conflict.pin == "runtime.dp" and "llama-3.1-70b is dense" in conflict.why
    assert conflict.nearest == "leave runtime.dp out"


def test_nearest_divisor_prefers_the_closest_then_the_larger() -> None:
    assert nearest_divisor(64, 3) == 4 and nearest_divisor(64, 6) == 8 and nearest_divisor(8, 3) == 4
    assert nearest_divisor(128, 16, limit=12) == 8 and nearest_divisor(40, 3) == 4


def test_plan_search_and_check_agree_that_a_pin_cannot_hold(tmp_path: Any) -> None:
    path = tmp_path / "tp3.yaml"
    path.write_text(CLEAN.replace("tp: 4}", "tp: 3}"), encoding="utf-8")
    planned = run_cli("plan", str(path))
    assert planned.returncode == 3 and "runtime.tp: 3 cannot hold" in planned.stdout, planned.stdout
    assert "nothing sized: the plan pins what cannot hold" in planned.stdout
    searched = run_cli("search", str(path))
    assert "runtime.tp: 3 cannot hold" in searched.stdout
    checked = run_cli("check", str(path))
    assert checked.returncode == 1
    assert "sizing.nothing-meets-the-plan" in checked.stdout and "seams.tp-does-not-divide-heads" in checked.stdout
    assert "the nearest is runtime.tp: 4" in checked.stdout
    plan = workflows.read_plan(path)
    assert plan.runtime.tp == 3, "the plan file keeps what the user wrote"


def test_plan_sizes_the_attention_dp_layout_runtime_dp_pins(tmp_path: Any) -> None:
    """runtime.dp 8 on a MoE model is sized as attention data parallelism over 8 GPUs (it was once
    shown and then ignored: the search chose TP 8 instead), and a layout knob is refused."""
    from tests.test_layouts import _open_runtime

    text = _open_runtime("qwen3-235b-a22b").replace("users: 4000", "users: 400")
    path = tmp_path / "dp8.yaml"
    path.write_text(text.replace("runtime: {id: sglang}", "runtime: {id: sglang, dp: 8}"), encoding="utf-8")
    planned = run_cli("plan", str(path))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "attention data parallel over 8 GPUs (DP 8, EP 8, TP 1, PP 1)" in planned.stdout
    assert "qwen3-235b-a22b on h100-sxm x8 DP-attn+EP8" in planned.stdout, planned.stdout
    path.write_text(text.replace("runtime: {id: sglang}", "runtime: {id: sglang, knobs: {dp_size: 8}}"), "utf-8")
    refused = run_cli("plan", str(path))
    assert refused.returncode == 2 and "runtime.knobs.dp_size" in refused.stderr and "runtime.dp: 8" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_runtime_dp_is_an_open_choice_of_a_moe_plan_only(catalog: Any) -> None:
    """A MoE plan that leaves the layout open lets the planner choose attention data parallelism, and
    says so; runtime.dp 8 closes TP, PP and EP with it; a dense plan has no such choice."""
    moe = CLEAN.replace("model: {id: llama-3.1-70b", "model: {id: deepseek-r1")
    assert (
        "runtime.dp"
        in _resolved(catalog, moe.replace("runtime: {id: vllm, tp: 4}", "runtime: {id: vllm}")).open_choices
    )
    pinned = _resolved(catalog, moe.replace("runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, dp: 8}")).open_choices
    assert not any(choice.startswith("runtime.") for choice in pinned), pinned
    assert (
        "runtime.dp" not in _resolved(catalog, CLEAN.replace("runtime: {id: vllm, tp: 4}", "runtime: {}")).open_choices
    )
