"""The runtime's token budget per step as a searched knob (issue 12 item 4): tried beside the
runtime's default on the cheapest candidates, one budget kept per deployment, a pinned budget
honoured, and a pinned budget vLLM would refuse named with the fix."""

from __future__ import annotations

from typing import Any

import pytest

from planner.catalog import build_catalog
from planner.manager import make_plugin_manager
from planner.planfile import parse_plan
from planner.render import candidates_table
from planner.resolve import resolve_plan
from planner.sizing.estimate import estimate
from planner.sizing.pins import pin_conflicts
from planner.sizing.search import BUDGET_CHOICES, budget_knob, search
from planner.sizing.steady_state import token_budget
from tests.test_validation import CLEAN

#: CLEAN with TP open, so search has layouts to rank, and long prompts with short outputs: past ten
#: requests more than 5% of the steps carry a prompt chunk, so the p95 gap is a stretched one, and a
#: smaller budget caps the chunk and that gap. The ITL target (150 ms) is one the budget moves; at
#: 60 ms no budget meets it past ten requests (the simulator agrees: 21 ms at 10, 102 ms at 12 on TP8).
OPEN_TP = (
    CLEAN.replace("runtime: {id: vllm, tp: 4}", "runtime: {id: vllm}")
    .replace("input_tokens: {p50: 1000, p95: 2000, p99: 3000}", "input_tokens: {p50: 6000, p95: 12000, p99: 14000}")
    .replace("itl_ms: 60,", "itl_ms: 150,")
)


@pytest.fixture(scope="module")
def catalog() -> Any:
    return build_catalog(make_plugin_manager())


def _search(catalog: Any, text: str) -> tuple[list[Any], int]:
    return search(resolve_plan(parse_plan(text), catalog), catalog)


def test_search_tries_the_other_budgets_on_the_cheapest_and_keeps_one_per_deployment(catalog: Any) -> None:
    ranked, _ = _search(catalog, OPEN_TP)
    deployments = [c.sizing.deployment for c in ranked]
    plain = [(d.gpu.id, d.weights_dtype, d.kv_dtype, d.tp, d.pp, d.ep, d.attention_dp) for d in deployments]
    assert len(plain) == len(set(plain))  # the other budgets of a deployment are dominated and dropped
    budgets = {token_budget(d) for d in deployments}
    assert budgets - {8192} and budgets <= {8192, *BUDGET_CHOICES}  # vLLM's default on H100 is 8,192
    assert "tok/step" in candidates_table(ranked, 3)
    best = deployments[0]
    for other in {8192, *BUDGET_CHOICES} - {token_budget(best)}:
        knobs = f"knobs: {{{budget_knob(best)}: {other}}}"
        pinned, _ = _search(
            catalog, OPEN_TP.replace("runtime: {id: vllm}", f"runtime: {{id: vllm, tp: {best.tp}, {knobs}}}")
        )
        assert all(token_budget(c.sizing.deployment) == other for c in pinned)  # a pin is honoured, never searched
        assert not pinned or ranked[0].sort_key <= pinned[0].sort_key, other  # the kept budget is the cheapest


def test_the_budget_trades_ttft_for_itl_as_vllm_documents(catalog: Any) -> None:
    # "Smaller values (e.g., 2048) achieve better inter-token latency ... Higher values achieve better
    # time to first token" (https://docs.vllm.ai/en/v0.11.0/configuration/optimization.html)
    small, _ = _search(
        catalog,
        OPEN_TP.replace("runtime: {id: vllm}", "runtime: {id: vllm, tp: 8, knobs: {max_num_batched_tokens: 2048}}"),
    )
    large, _ = _search(
        catalog,
        OPEN_TP.replace("runtime: {id: vllm}", "runtime: {id: vllm, tp: 8, knobs: {max_num_batched_tokens: 16384}}"),
    )
    at = [estimate(s[0].sizing.deployment, 12000, 400, model=s[0].sizing.model, concurrency=16) for s in (small, large)]
    assert at[0].itl_ms < at[1].itl_ms and at[0].ttft_ms > at[1].ttft_ms


def test_a_budget_vllm_refuses_is_a_pin_conflict_with_the_fix(catalog: Any) -> None:
    below_seqs = CLEAN.replace(
        "runtime: {id: vllm, tp: 4}",
        "runtime: {id: vllm, tp: 4, knobs: {max_num_batched_tokens: 512, max_num_seqs: 1024}}",
    )
    [conflict] = pin_conflicts(resolve_plan(parse_plan(below_seqs), catalog), catalog)
    assert conflict.pin == "runtime.knobs.max_num_batched_tokens" and "max_num_seqs (1,024" in conflict.why
    assert conflict.nearest == "runtime.knobs.max_num_batched_tokens: 1024"
    # with max_num_seqs left open planner deploy writes one within the budget, which vLLM takes
    budget_only = CLEAN.replace(
        "runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, tp: 4, knobs: {max_num_batched_tokens: 512}}"
    )
    assert pin_conflicts(resolve_plan(parse_plan(budget_only), catalog), catalog) == []
    unchunked = CLEAN.replace(
        "runtime: {id: vllm, tp: 4}",
        "runtime: {id: vllm, tp: 4, knobs: {max_num_batched_tokens: 2048, enable_chunked_prefill: false}}",
    )
    [conflict] = pin_conflicts(resolve_plan(parse_plan(unchunked), catalog), catalog)
    assert "chunked prefill off" in conflict.why and "enable_chunked_prefill: true" in conflict.nearest
    open_budget = CLEAN.replace(
        "runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, tp: 4, knobs: {enable_chunked_prefill: false}}"
    )
    [conflict] = pin_conflicts(resolve_plan(parse_plan(open_budget), catalog), catalog)
    assert conflict.pin == "runtime.knobs.enable_chunked_prefill" and "left at vLLM's 8,192" in conflict.why
    assert "runtime.knobs.max_num_batched_tokens: 131072" in conflict.nearest, "the context llama-3.1-70b serves"
    fine = CLEAN.replace(
        "runtime: {id: vllm, tp: 4}", "runtime: {id: vllm, tp: 4, knobs: {max_num_batched_tokens: 4096}}"
    )
    assert pin_conflicts(resolve_plan(parse_plan(fine), catalog), catalog) == []


def test_a_vllm_budget_below_the_default_running_batch_caps_the_limit_deploy_writes(catalog: Any) -> None:
    # vLLM refuses max_num_seqs above max_num_batched_tokens; with only the budget set, the limit the
    # plan sizes, simulates and deploys is the budget (vLLM's default of 1,024 would not start)
    from planner.sizing.capacity import scheduler_sequences, size_capacity
    from planner.sizing.deployment import Deployment
    from planner.sizing.pins import budget_refusal

    model, gpu, vllm = catalog.models.get("llama-3.1-8b"), catalog.gpus.get("h100-sxm"), catalog.runtimes.get("vllm")
    dep = Deployment(model, gpu, vllm, "bf16", "bf16", knobs={"max_num_batched_tokens": 512})
    cap = size_capacity(dep, 256)  # (short requests: memory holds more than 512)
    assert (cap.sequence_cap, cap.binding_cap) == (512, "max_num_seqs") and cap.memory_cap > 512
    assert scheduler_sequences(dep, cap.max_concurrency) == 512 and budget_refusal(dep, 2048) is None
    pinned = Deployment(model, gpu, vllm, "bf16", "bf16", knobs={"max_num_batched_tokens": 512, "max_num_seqs": 600})
    assert budget_refusal(pinned, 2048) is not None


def test_the_search_tries_a_ranks_budgets_where_the_runtime_splits_the_knob(catalog: Any) -> None:
    """SGLang divides chunked_prefill_size over its attention-DP ranks: the search tries each choice
    times the ranks there, so that a rank may carry what a replica without attention DP does; vLLM's
    engines each run the knob, so its choices stand."""
    import dataclasses

    from planner.sizing.capacity import knob, rank_batched_tokens
    from planner.sizing.search import budget_options
    from tests.test_steady_state import dep

    sglang = dataclasses.replace(
        dep(catalog, "deepseek-r1", "b200", "sglang", tp=1, ep=8, attention_dp=True), weights_dtype="fp8"
    )
    vllm = dataclasses.replace(sglang, runtime=catalog.runtimes.get("vllm"))
    tried = {d.runtime.id: sorted(int(knob(o, "batched_tokens")) for o in budget_options(d)) for d in (sglang, vllm)}
    assert tried["sglang"] == [8 * b for b in BUDGET_CHOICES if 8 * b != 16384]
    assert tried["vllm"] == [b for b in BUDGET_CHOICES if b != 8192]
    assert {rank_batched_tokens(o) for o in budget_options(sglang)} <= set(BUDGET_CHOICES)
