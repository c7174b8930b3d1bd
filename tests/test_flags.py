"""Command-line flags are typed and ranged; simulations stop at their budget and say so.

The flag cases run :func:`planner.cli.main` in process (argparse exits 2 before any plan is
read); one case per class also runs the real command in a subprocess.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from planner import workflows
from planner.cli import main
from planner.errors import PlannerError
from planner.limits import PARALLEL, RATE, Bound
from tests.conftest import PLANS, run_cli

PLAN = str(PLANS / "trap-averages-only.yaml")
ESTIMATE = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl", "100", "--osl", "10"]


def _exit_code(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    return int(caught.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([*ESTIMATE, "--concurrency", "1", "--pp", "0"], "--pp 0 is out of range"),
        ([*ESTIMATE, "--concurrency", "1", "--ep", "0", "--attention-dp"], "--ep 0 is out of range"),
        ([*ESTIMATE, "--concurrency", "1", "--tp", "2.5"], "--tp '2.5' is not a whole number"),
        ([*ESTIMATE, "--concurrency", "-3"], "--concurrency -3 is out of range"),
        ([*ESTIMATE[:-2], "--osl", "99999999999", "--offline"], "--osl 99,999,999,999 is out of range"),
        (["simulate", PLAN, "--replicas", "-1"], "--replicas -1 is out of range"),
        (["simulate", PLAN, "--rate", "nan"], "--rate nan is not a finite number"),
        (["simulate", PLAN, "--rate", "inf"], "--rate inf is not a finite number"),
        (["simulate", PLAN, "--rate", "0"], "--rate 0 is out of range"),
        (["simulate", PLAN, "--cv", "-1"], "--cv -1 is out of range"),
        (["simulate", PLAN, "--think", "1e9"], "--think 1,000,000,000 is out of range"),
        (["simulate", PLAN, "--duration", "-5"], "--duration -5 is out of range"),
        (["envelope", PLAN, "--duration", "1e400"], "--duration inf is not a finite number"),
        (["envelope", PLAN, "--seed", "-1"], "--seed -1 is out of range"),
        (["mix", PLAN, "--buckets", "0"], "--buckets 0 is out of range"),
        (["search", PLAN, "--top", "0"], "--top 0 is out of range"),
        (["tco", PLAN, "--years", "500"], "--years 500 is out of range"),
        (["plan", PLAN, "--time-limit", "0"], "--time-limit 0 is out of range"),
    ],
)
def test_flags_out_of_range_exit_2_naming_the_flag_and_the_range(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _exit_code(argv, capsys)
    assert code == 2 and expected in err and "Traceback" not in err
    assert err.startswith("error: planner ") and "\n  fix: give a" in err


def test_gpus_that_tp_times_pp_cannot_split_are_refused_before_dividing() -> None:
    session = workflows.open_session()
    request = workflows.EstimateRequest(
        model="llama-3.1-8b", gpu="h100-sxm", isl=100, osl=10, concurrency=1, gpus=1, pp=4
    )
    with pytest.raises(PlannerError, match="--gpus 1 is not a multiple of --pp 4"):
        workflows.estimate(session, request)
    for bad in ({"pp": 0}, {"ep": 0, "attention_dp": True}, {"tp": -2}, {"isl": 0}):
        args: dict[str, Any] = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "isl": 100, "osl": 10, "concurrency": 1}
        with pytest.raises(PlannerError, match="out of range"):
            workflows.estimate(session, workflows.EstimateRequest(**(args | bad)))


def test_expert_parallelism_must_fit_the_model_and_the_replica() -> None:
    session = workflows.open_session()
    base: dict[str, Any] = {"gpu": "h100-sxm", "isl": 100, "osl": 10, "concurrency": 1}
    with pytest.raises(PlannerError, match="has no experts"):
        workflows.estimate(session, workflows.EstimateRequest(model="llama-3.1-8b", ep=2, tp=2, **base))
    with pytest.raises(PlannerError, match="does not divide 8 experts"):
        workflows.estimate(session, workflows.EstimateRequest(model="mixtral-8x7b", ep=3, tp=4, **base))
    with pytest.raises(PlannerError, match="more than the replica's 2 GPUs"):
        workflows.estimate(session, workflows.EstimateRequest(model="mixtral-8x7b", ep=4, tp=2, **base))


def test_the_simulation_workflow_refuses_what_the_flags_refuse() -> None:
    session = workflows.open_session()
    plan = workflows.read_plan(PLANS / "trap-averages-only.yaml")
    for bad in ({"replicas": -1}, {"rate": float("nan")}, {"duration_s": 1e9}, {"cv": 0.0}):
        with pytest.raises(PlannerError, match=r"out of range|not a finite number"):
            workflows.simulate(session, plan, "p.yaml", workflows.SimulationRequest(**bad))  # type: ignore[arg-type]
    with pytest.raises(PlannerError, match="--duration"):
        workflows.envelope(session, plan, "p.yaml", duration_s=-1)


@pytest.mark.parametrize(
    ("bound", "value", "expected"),
    [
        (PARALLEL, 4, None),
        (PARALLEL, 4.0, None),
        (PARALLEL, 4.5, "4.5 is not a whole number"),
        (PARALLEL, True, "True is not a number"),
        (RATE, 0.0, "0 is out of range"),
        (RATE, float("-inf"), "-inf is not a finite number"),
        (Bound(0, 1), 1.0, None),
    ],
)
def test_a_bound_says_what_is_wrong(bound: Bound, value: float, expected: str | None) -> None:
    assert bound.problem(value) == expected


def _endless_run(budget_wall_s: float, max_events: int, on_check: Any = None) -> tuple[Any, Any]:
    """A replica offered 100 requests/s it serves at 10/s for a simulated day: millions of events."""
    from planner.simulate import (
        Replica,
        SchedulerConfig,
        Targets,
        Workload,
        poisson_arrivals,
        run,
        simulation_budget,
        summarise,
    )

    replica = Replica(0, SchedulerConfig(max_num_seqs=1, token_budget=10**9, block_tokens=16, kv_blocks=10**9),
                      lambda prefill, keys, batch, decode_keys: 0.1)  # fmt: skip
    with simulation_budget(wall_s=budget_wall_s, on_check=on_check) as budget:
        budget.max_events = max_events
        result = run([replica], Workload(lengths=lambda rng: (10, 1)), duration_s=86_400,
                     gaps=poisson_arrivals(100.0, random.Random(1)))  # fmt: skip
    return summarise(result, Targets(ttft_s=1.0, itl_s=None, e2e_s=None)), budget


def test_a_run_stops_at_its_event_budget_and_reports_it() -> None:
    summary, budget = _endless_run(600, 5000)
    assert summary["stopped_early"] == "a simulated run reached 5,000 events"
    assert budget.stops == ["a simulated run reached 5,000 events"]
    assert summary["unfinished"] > 0


def test_a_run_stops_when_the_commands_wall_time_is_spent() -> None:
    started = time.monotonic()
    summary, budget = _endless_run(0.3, 10**9)
    assert time.monotonic() - started < 5
    assert summary["stopped_early"] == "the simulations used their 0.3 s of wall time" and budget.stops


def test_what_the_budgets_check_raises_abandons_the_run_at_that_check() -> None:
    class Cancelled(Exception):
        pass

    checks: list[int] = []

    def cancel_at_the_third_check() -> None:  # the desktop app's Cancel
        checks.append(1)
        if len(checks) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        _endless_run(600, 10**9, cancel_at_the_third_check)
    assert len(checks) == 3


def test_a_command_over_its_time_limit_finishes_and_says_it_stopped_early() -> None:
    result = run_cli("simulate", PLAN, env={"PLANNER_SIM_WALL_S": "0.01"})
    # The budget ran out while the plan was being sized: exit 3, and it says why, not "nothing fits".
    assert result.returncode == 3, result.stderr
    assert "before the simulations stopped early (the simulations used their 0.01 s of wall time)" in result.stderr
    assert "--time-limit" in result.stderr and "Traceback" not in result.stderr


def test_flags_are_refused_by_the_real_command(tmp_path: Path) -> None:
    result = run_cli("simulate", PLAN, "--rate", "nan")
    assert result.returncode == 2 and "--rate nan is not a finite number" in result.stderr


def test_a_mix_search_too_large_to_try_is_refused_and_the_rest_size_each_pool_once() -> None:
    from planner.mix import MAX_POOLS, Bucket, heterogeneous_mix

    calls: list[tuple[str, ...]] = []

    def sized(run: Any) -> Any:
        calls.append(tuple(b.name for b in run))
        return SimpleNamespace(feasible=True, gpus=1)

    classes = [(f"gpu{i}", 1.0 + i, sized) for i in range(6)]
    buckets = [Bucket(f"b{i}", 1 / 8, i / 8, 100 * i + 1, 100 * (i + 1)) for i in range(8)]
    result = heterogeneous_mix(buckets[:3], classes)
    # a pool serves a run of consecutive buckets: 6 runs of 3 buckets, each sized once per class
    assert len(calls) == 6 * len(set(calls)) == 6 * 6 and result.single is not None and result.single.gpu == "gpu0"
    with pytest.raises(PlannerError, match=f"6\\^8 assignments and 216 pools to size, .* and {MAX_POOLS}") as caught:
        heterogeneous_mix(buckets, classes)
    assert "--buckets 5 or fewer" in caught.value.fix
