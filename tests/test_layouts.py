"""The search covers the parallel layouts deployed in practice: TP within a node, PP across nodes
when one node cannot hold the weights, attention data parallelism with expert parallelism for MoE."""

from __future__ import annotations

from typing import Any

import pytest

from planner.catalog import build_catalog
from planner.manager import make_plugin_manager
from planner.planfile import parse_plan
from planner.resolve import resolve_plan
from planner.sizing.search import candidate_deployments, search
from tests.test_validation import CLEAN


@pytest.fixture(scope="module")
def catalog() -> Any:
    return build_catalog(make_plugin_manager())


def _layouts(catalog: Any, text: str) -> set[str]:
    resolved = resolve_plan(parse_plan(text), catalog)
    return {d.label.split(" x", 1)[1].split(" w")[0] for d in candidate_deployments(resolved, catalog)}


def _open_runtime(model: str, fabric: str = "infiniband") -> str:
    return (
        CLEAN.replace("model: {id: llama-3.1-70b", f"model: {{id: {model}")
        .replace("runtime: {id: vllm, tp: 4}", "runtime: {id: sglang}")
        .replace("placement: multi-rack}", f"placement: multi-rack, inter_node_fabric: {fabric}}}")
    )


def test_pipeline_stages_span_nodes_only_when_one_node_cannot_hold_the_weights(catalog: Any) -> None:
    deepseek = _layouts(catalog, _open_runtime("deepseek-r1"))
    assert {"16 TP8 PP2", "32 TP8 PP4"} <= deepseek, "671B in fp8 does not fit 8 x 80 GB"
    assert not any("PP" in layout for layout in _layouts(catalog, _open_runtime("llama-3.1-70b")))


def test_attention_data_parallelism_splits_the_experts_over_a_node_or_two(catalog: Any) -> None:
    over_ib = _layouts(catalog, _open_runtime("qwen3-235b-a22b"))
    assert {"8 DP-attn+EP8", "16 DP-attn+EP16"} <= over_ib
    over_ethernet = _layouts(catalog, _open_runtime("qwen3-235b-a22b", "ethernet"))
    assert "8 DP-attn+EP8" in over_ethernet and "16 DP-attn+EP16" not in over_ethernet
    assert not any("DP-attn" in layout for layout in _layouts(catalog, _open_runtime("llama-3.1-70b")))
    pinned_tp = _open_runtime("qwen3-235b-a22b").replace("runtime: {id: sglang}", "runtime: {id: sglang, tp: 8}")
    assert not any("DP-attn" in layout for layout in _layouts(catalog, pinned_tp)), "a pinned TP is kept"


def test_runtime_dp_pins_attention_data_parallelism_on_or_off(catalog: Any) -> None:
    """runtime.dp above 1 leaves only the ranks it names (EP as many, one GPU each), with TP and PP
    left open or 1; runtime.dp 1 leaves none; on a runtime without attention DP, nothing."""
    qwen = _open_runtime("qwen3-235b-a22b")
    assert _layouts(catalog, qwen.replace("runtime: {id: sglang}", "runtime: {id: sglang, dp: 8}")) == {"8 DP-attn+EP8"}
    assert _layouts(catalog, qwen.replace("runtime: {id: sglang}", "runtime: {id: sglang, tp: 1, dp: 16}")) == {
        "16 DP-attn+EP16"
    }
    off = _layouts(catalog, qwen.replace("runtime: {id: sglang}", "runtime: {id: sglang, dp: 1}"))
    assert off and not any("DP-attn" in layout for layout in off)
    assert off == {layout for layout in _layouts(catalog, qwen) if "DP-attn" not in layout}


def test_a_pinned_ep_is_never_spread_over_fewer_gpus_than_it_names(catalog: Any) -> None:
    """With TP left open, a pinned EP 8 takes only layouts of at least 8 GPUs (it once came with TP 1,
    2 and 4: DeepSeek-R1 'TP1 EP4' on one B200, as if a quarter of its experts fit one GPU)."""
    resolved = resolve_plan(
        parse_plan(_open_runtime("qwen3-235b-a22b").replace("runtime: {id: sglang}", "runtime: {id: sglang, ep: 8}")),
        catalog,
    )
    layouts = list(candidate_deployments(resolved, catalog))
    assert layouts and all(d.ep == 8 and d.gpus >= 8 for d in layouts), [d.label for d in layouts]


def test_a_model_too_large_for_one_node_is_served_across_two(catalog: Any) -> None:
    resolved = resolve_plan(parse_plan(_open_runtime("deepseek-r1").replace("users: 4000", "users: 400")), catalog)
    ranked, _ = search(resolved, catalog)
    labels = [c.sizing.deployment.label for c in ranked]
    assert any("h100-sxm x16 TP8 PP2" in label for label in labels), labels[:10]
