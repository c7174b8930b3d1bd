"""The simulator's fast-forward (runs of identical decode steps in one go, a replica's steps
chained between events) gives the same run as stepping one event at a time: every request's
times and gaps, every percentile and goodput, on seeded aggregated, chunked-prefill,
multi-replica, closed-loop, KV-pressure and disaggregated runs."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from planner import simulate
from planner.disaggregation import disaggregation
from planner.plan_simulation import LoadSpec, simulate_plan
from planner.planfile import load_plan
from planner.resolve import resolve_plan
from planner.simulate import Replica, Request, SchedulerConfig, SimResult, Targets, Workload, poisson_arrivals, run
from planner.sizing.plan_sizing import size_plan
from tests.conftest import REPO


def plan_and_deployment(catalog: Any) -> tuple[Any, Any]:
    """The demo plan and its cheapest deployment by estimate (not simulated: that is what is tested)."""
    from planner.workflows import example_plan_path

    plan = load_plan(example_plan_path())
    sizing = size_plan(resolve_plan(plan, catalog), catalog, simulate=False)
    return plan, sizing.best.sizing


def both_ways(monkeypatch: pytest.MonkeyPatch, simulation: Callable[[], Any]) -> tuple[Any, Any]:
    """The simulation stepped one event at a time, then fast-forwarded."""
    monkeypatch.setattr(simulate, "_FAST_FORWARD", False)
    stepped = simulation()
    monkeypatch.setattr(simulate, "_FAST_FORWARD", True)
    return stepped, simulation()


def assert_close(stepped: Any, fast: Any, where: str = "") -> None:
    """Equal, floats to a relative 1e-9 (nan equal to nan)."""
    if isinstance(stepped, dict):
        assert stepped.keys() == fast.keys(), where
        for key in stepped:
            assert_close(stepped[key], fast[key], f"{where}.{key}")
    elif isinstance(stepped, list | tuple):
        assert len(stepped) == len(fast), where
        for i, (a, b) in enumerate(zip(stepped, fast, strict=True)):
            assert_close(a, b, f"{where}[{i}]")
    elif isinstance(stepped, float) and math.isnan(stepped):
        assert isinstance(fast, float) and math.isnan(fast), where
    elif isinstance(stepped, float):
        assert fast == pytest.approx(stepped, rel=1e-9, abs=1e-12), where
    else:
        assert stepped == fast, where


def request_times(requests: list[Request]) -> list[tuple[Any, ...]]:
    """What a request's life recorded: lengths, times, gaps, preemptions (by id: replicas
    chained between events hand in their finished requests in another order)."""
    return [
        (r.id, r.isl, r.osl, r.arrival_s, r.first_token_s, r.finish_s, r.gaps_s, r.preemptions, r.decoded)
        for r in sorted(requests, key=lambda r: r.id)
    ]


def assert_same_run(stepped: SimResult, fast: SimResult) -> None:
    """Same requests with the same times, same drops, same unfinished, same percentiles and goodput."""
    assert_close(request_times(stepped.requests), request_times(fast.requests), "requests")
    assert_close(request_times(stepped.unfinished), request_times(fast.unfinished), "unfinished")
    assert_close(request_times(stepped.dropped), request_times(fast.dropped), "dropped")
    targets = Targets(ttft_s=0.5, itl_s=0.03, e2e_s=20.0)
    assert_close(simulate.summarise(stepped, targets), simulate.summarise(fast, targets), "summary")


def linear_step(prefill: float, keys: float, batch: float, decode_keys: float) -> float:
    """A test machine whose decode steps grow with the keys they read."""
    return 1e-5 * prefill + 1e-9 * keys + (0.004 + 2e-4 * batch + 1e-8 * decode_keys if batch else 0.0)


def shrinking_step(prefill: float, keys: float, batch: float, decode_keys: float) -> float:
    """A step model (a plugin's, say) whose decode steps grow shorter as they read more keys (the
    built-in model's only grow longer)."""
    return 1e-5 * prefill + (max(0.01 - 1e-7 * decode_keys, 0.001) if batch else 0.0)


def instant_decode(prefill: float, keys: float, batch: float, decode_keys: float) -> float:
    """Decode steps that take no time: each is taken as a nanosecond, as :meth:`Replica.step` does."""
    return 1e-4 * prefill


def replicas(
    count: int,
    *,
    seqs: int = 32,
    budget: int = 4096,
    blocks: int = 10**6,
    block: int = 16,
    alone: bool = False,
    step: Callable[[float, float, float, float], float] = linear_step,
) -> list[Replica]:
    config = SchedulerConfig(
        max_num_seqs=seqs, token_budget=budget, block_tokens=block, kv_blocks=blocks, prefill_first=alone
    )
    return [Replica(i, config, step) for i in range(count)]


def ranked_replicas(
    count: int, *, ranks: int = 4, alone: bool = True, blocks: int = 4000, dispatch: str = "round_robin"
) -> list[Replica]:
    """Attention-data-parallel replicas of ``ranks`` ranks (a rank's budget 512, 8 sequences, ``blocks``
    KV blocks of 16 tokens), their step the slowest rank's as :func:`linear_step` times it plus the
    experts' share of all tokens."""
    from planner.simulate import RankedReplica

    def ranked(work: Any) -> float:
        tokens = sum(w[0] + w[2] for w in work)
        return max(linear_step(*w) for w in work) + 2e-6 * tokens

    config = SchedulerConfig(max_num_seqs=8, token_budget=512, block_tokens=16, kv_blocks=blocks, prefill_first=alone)
    return [RankedReplica(i, config, ranks, ranked, dispatch=dispatch) for i in range(count)]


def lengths(rng: random.Random) -> tuple[int, int]:
    return max(round(rng.lognormvariate(6.0, 0.8)), 1), max(round(rng.lognormvariate(5.0, 0.9)), 1)


WORKLOAD = Workload(lengths=lengths, shared_prefix_tokens=200, prefix_hit_rate=0.5)
HANDED_OVER = Workload(lengths=lengths, kv_handed_over=True)

CASES: dict[str, Callable[[], SimResult]] = {
    "open loop, one replica": lambda: run(
        replicas(1), WORKLOAD, duration_s=40, seed=1, gaps=poisson_arrivals(4.0, random.Random(2))
    ),
    "chunked prefill (budget 256)": lambda: run(
        replicas(1, budget=256), WORKLOAD, duration_s=30, seed=3, gaps=poisson_arrivals(3.0, random.Random(4))
    ),
    "open loop, six replicas": lambda: run(
        replicas(6), WORKLOAD, duration_s=15, seed=5, gaps=poisson_arrivals(20.0, random.Random(6))
    ),
    "open loop, eight replicas, round robin": lambda: run(
        replicas(8),
        WORKLOAD,
        duration_s=10,
        seed=12,
        gaps=poisson_arrivals(25.0, random.Random(13)),
        router=simulate.round_robin,
    ),
    "closed loop at batch 32": lambda: run(replicas(1), WORKLOAD, duration_s=15, seed=7, users=32),
    "closed loop, 50 users over six replicas": lambda: run(replicas(6), WORKLOAD, duration_s=10, seed=14, users=50),
    "closed loop, think time, two replicas": lambda: run(
        replicas(2), WORKLOAD, duration_s=15, seed=8, users=24, think_s=0.5, router=simulate.round_robin
    ),
    "KV pressure: preemptions": lambda: run(replicas(1, blocks=300), WORKLOAD, duration_s=5, seed=9, users=12),
    # prefills run alone (SGLang): the sequences that sat one out close a longer gap at the next step
    "prefill alone, closed loop at batch 32, one-token blocks": lambda: run(
        replicas(1, block=1, alone=True), WORKLOAD, duration_s=15, seed=15, users=32
    ),
    "prefill alone, open loop, three replicas": lambda: run(
        replicas(3, alone=True), WORKLOAD, duration_s=15, seed=16, gaps=poisson_arrivals(12.0, random.Random(17))
    ),
    # a disaggregated decode pool: each prompt arrives with its KV, its last token computed with the decodes
    "prefill alone, prompts handed over, closed loop, attention-DP": lambda: run(
        ranked_replicas(1), HANDED_OVER, duration_s=8, seed=35, users=24
    ),
    "prefill alone, prompts handed over, open loop": lambda: run(
        replicas(2, alone=True), HANDED_OVER, duration_s=15, seed=36, gaps=poisson_arrivals(10.0, random.Random(37))
    ),
    "prefill alone, KV pressure": lambda: run(
        replicas(1, blocks=300, alone=True), WORKLOAD, duration_s=5, seed=18, users=12
    ),
    "cut off by the time limit": lambda: run(
        replicas(1), WORKLOAD, duration_s=10, seed=10, gaps=poisson_arrivals(20.0, random.Random(11)), max_sim_s=12
    ),
    "decode steps that shrink as the keys grow, open loop": lambda: run(
        replicas(2, step=shrinking_step),
        WORKLOAD,
        duration_s=15,
        seed=25,
        gaps=poisson_arrivals(8.0, random.Random(26)),
    ),
    "decode steps of no time": lambda: run(replicas(1, step=instant_decode), WORKLOAD, duration_s=5, seed=27, users=12),
    # attention data parallelism: each replica's ranks step together, each rank as a replica steps
    "attention-DP ranks, closed loop, two replicas": lambda: run(
        ranked_replicas(2), WORKLOAD, duration_s=10, seed=28, users=40
    ),
    "attention-DP ranks, mixed prefill, open loop": lambda: run(
        ranked_replicas(1, alone=False),
        WORKLOAD,
        duration_s=10,
        seed=29,
        gaps=poisson_arrivals(10.0, random.Random(30)),
    ),
    # vLLM's data-parallel client (least loaded) and TensorRT-LLM's queue (prompt tokens balanced while
    # the ranks have room: 60 users over four ranks of 8 sequences, the rest wait at the replica)
    "attention-DP ranks, least loaded, open loop": lambda: run(
        ranked_replicas(1, alone=False, dispatch="least_loaded"),
        WORKLOAD,
        duration_s=10,
        seed=32,
        gaps=poisson_arrivals(10.0, random.Random(33)),
    ),
    "attention-DP ranks, fewest prompt tokens, closed loop past the ranks' room": lambda: run(
        ranked_replicas(1, alone=False, dispatch="fewest_prompt_tokens"), WORKLOAD, duration_s=8, seed=34, users=60
    ),
    "attention-DP ranks, KV pressure: preemptions": lambda: run(
        ranked_replicas(1, blocks=200), WORKLOAD, duration_s=5, seed=31, users=24
    ),
    # a finished user's next request is taken at once, not queued as an event: up to the limit only
    "closed loop cut off by the time limit": lambda: run(
        replicas(1), WORKLOAD, duration_s=15, seed=24, users=32, max_sim_s=6
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_forward_equals_stepping(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stepped, fast = both_ways(monkeypatch, CASES[case])
    assert len(stepped.requests) > 20, "the case simulates something"
    if "KV pressure" in case:
        assert sum(r.preemptions for r in stepped.replicas) > 0
    assert_same_run(stepped, fast)


def test_fast_forward_equals_stepping_on_a_real_plan(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, fleet = plan_and_deployment(catalog)

    def simulation() -> dict[str, Any]:
        return simulate_plan(plan, fleet.deployment, fleet.model, LoadSpec("closed", concurrency=8), duration_s=20)

    stepped, fast = both_ways(monkeypatch, simulation)
    assert stepped["requests"] > 10
    assert_close(stepped, fast, "summary")


def test_fast_forward_equals_stepping_disaggregated(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, fleet = plan_and_deployment(catalog)
    dep = fleet.deployment

    def simulation() -> dict[str, Any]:
        pool = (dep, fleet.model)
        return disaggregation(plan, pool, pool, 2.0, 1, 2, "nvlink", duration_s=120, seed=3)

    stepped, fast = both_ways(monkeypatch, simulation)
    assert_close(stepped, fast, "disaggregation")


@pytest.mark.parametrize(
    ("replica_class", "case"),
    [("Replica", "open loop, one replica"), ("RankedReplica", "attention-DP ranks, closed loop, two replicas")],
)
def test_fast_forward_takes_fewer_events(replica_class: str, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast-forwarding is not stepping under another name: decode runs are taken in one go (an
    attention-DP replica's ranks together), far fewer of the replica's steps, the same run."""
    cls = getattr(simulate, replica_class)
    calls = {"steps": 0}
    original = cls.step

    def counted(self: Replica, now: float) -> tuple[float, list[Request]]:
        calls["steps"] += 1
        return original(self, now)  # type: ignore[no-any-return]

    monkeypatch.setattr(cls, "step", counted)
    monkeypatch.setattr(simulate, "_FAST_FORWARD", False)
    stepped = CASES[case]()
    stepped_calls, calls["steps"] = calls["steps"], 0
    monkeypatch.setattr(simulate, "_FAST_FORWARD", True)
    fast = CASES[case]()
    assert calls["steps"] * 3 < stepped_calls
    assert_same_run(stepped, fast)


def test_fast_forward_equals_stepping_on_an_attention_dp_deployment(
    catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeepSeek-R1 over eight B200 under SGLang's attention data parallelism, timed by the built-in
    roofline (whose runs of decode steps the ranks take through ``ranks_decode_steps_s``): the same
    summary stepped and fast-forwarded, closed and open loop."""
    from planner.performance_models import BUILTIN
    from planner.plan_simulation import make_replicas
    from planner.sizing.deployment import Deployment

    plan = load_plan(REPO / "tests" / "data" / "plans" / "usecases" / "4-reasoning-agent.yaml")
    dep = Deployment(catalog.models.get("deepseek-r1"), catalog.gpus.get("b200"), catalog.runtimes.get("sglang"),
                     "fp8", "fp8", ep=8, attention_dp=True)  # fmt: skip
    assert make_replicas(dep, BUILTIN, 1, 34_000)[0].decode_steps is not None, "the roofline times runs of steps"
    for load in (LoadSpec("closed", concurrency=40), LoadSpec("open", rate=0.3)):
        stepped, fast = both_ways(monkeypatch, lambda: simulate_plan(plan, dep, BUILTIN, load, duration_s=120))  # noqa: B023 (called at once)
        assert stepped["requests"] > 10
        assert_close(stepped, fast, f"summary ({load.mode})")


def as_seen(replica: Replica, request: Request) -> tuple[Any, ...]:
    """A running sequence's tokens, KV blocks, last token time and gaps, read through its replica's
    group where the group keeps them."""
    if not request.grouped:
        return request.id, request.prefilled, request.decoded, request.blocks, request.last_token_s, request.gaps_s
    group = replica.group
    decoded = group.steps - request.group_offset
    blocks = -(-(request.prefilled + decoded + group.blocks_ahead) // group.block_tokens)
    gaps = request.gaps_s + [gap for run in group.runs[request.group_joined :] for gap in run]
    return request.id, request.prefilled, decoded, blocks, group.last_token_s, gaps


@pytest.mark.parametrize(
    ("block", "alone", "kv_blocks"), [(16, False, 10**6), (1, True, 10**6), (16, True, 10**6), (16, False, 600)]
)
def test_the_group_keeps_what_stepping_each_sequence_shows(block: int, alone: bool, kv_blocks: int) -> None:
    """Steps that keep the decoding sequences as one group leave every sequence, read through the
    group, as steps that look at each sequence do: the same tokens, blocks, gaps and finishes."""
    grouped, reference = (replicas(1, budget=512, block=block, blocks=kv_blocks, alone=alone)[0] for _ in range(2))
    reference.batched = False
    rng = random.Random(21)
    for number in range(60):
        isl, osl = lengths(rng)
        for replica in (grouped, reference):
            replica.waiting.append(Request(id=number, arrival_s=0.0, isl=isl, osl=osl))
    now, most_grouped = 0.0, 0
    while reference.running or reference.waiting:
        end, done = grouped.step(now)
        expected_end, expected_done = reference.step(now)
        assert (end, [r.id for r in done]) == (expected_end, [r.id for r in expected_done])
        assert [as_seen(grouped, r) for r in grouped.running] == [as_seen(reference, r) for r in reference.running]
        assert grouped.free_blocks == reference.free_blocks and grouped.samples == reference.samples
        most_grouped = max(most_grouped, grouped.group.size)
        now = end
    assert most_grouped > 10
    assert (grouped.preemptions > 0) == (kv_blocks < 10**6) == (reference.preemptions > 0)


def test_a_group_extends_its_last_gap_run_while_its_members_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consecutive decode runs of an unchanged group (cut short by arrivals routed elsewhere) share
    one gap run: the requests hold fewer runs than stepping gives them, with the same gaps."""
    stepped, fast = both_ways(monkeypatch, CASES["open loop, six replicas"])
    assert request_times(stepped.requests) == request_times(fast.requests)
    assert sum(len(r.gap_runs) for r in fast.requests) < sum(len(r.gap_runs) for r in stepped.requests)
