"""The benchmark plan: loads by SLO profile, the request shape, and commands whose results import
back into the same loads."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from planner import workflows
from planner.bench.scenario import MIN_REQUESTS, benchmark_plan
from planner.traffic import population_of
from tests.conftest import REPO, run_cli

PLANS = REPO / "tests" / "data" / "plans"
DATA = REPO / "tests" / "data" / "benchmarks"


def plan_with(name: str, **slo: object) -> workflows.Plan:  # type: ignore[name-defined]
    plan = workflows.read_plan(PLANS / name)
    return plan.model_copy(update={"slo": plan.slo.model_copy(update=slo)})


def test_latency_first_runs_open_loops_at_the_target_and_peak_rates() -> None:
    plan = workflows.read_plan(PLANS / "code-assistant.yaml")
    plan = plan.model_copy(
        update={"traffic": plan.traffic.model_copy(update={"requests_per_s": 10.0, "peak_factor": 2.0})}
    )
    bench = benchmark_plan(plan)
    assert bench.scenario == "latency-first"
    assert [(p.mode, p.load, p.why) for p in bench.points] == [
        ("open", 10.0, "target rate"),
        ("open", 20.0, "peak rate"),
    ]
    assert [p.requests for p in bench.points] == [1200, 2400] and bench.points[0].warmup == 120
    halves = benchmark_plan(plan, replicas=2)
    assert [p.load for p in halves.points] == [5.0, 10.0]


def test_throughput_first_sweeps_concurrency_past_twice_the_expected() -> None:
    plan = plan_with("reasoning-agent.yaml", scenario="throughput-first")
    bench = benchmark_plan(plan)
    loads = [p.load for p in bench.points]
    assert all(p.mode == "closed" for p in bench.points) and loads[0] == 1
    assert loads == [2**i for i in range(len(loads))] and loads[-1] >= 2 * 150  # the plan's 150 in flight
    assert all(p.requests >= MIN_REQUESTS for p in bench.points)


def test_the_shape_and_the_commands_carry_the_plans_lengths() -> None:
    bench = benchmark_plan(workflows.read_plan(PLANS / "reasoning-agent.yaml"), model="org/m")
    assert bench.scenario == "full-envelope" and {p.mode for p in bench.points} == {"open", "closed"}
    assert (bench.shape.input_p50, bench.shape.output_p95) == (12000, 4000)
    # the tools draw around the plan's mean request, the one the simulator and the baseline's
    # predictions draw (log-normal through p50 and p95), not around the median: 14,014 / 1,792 tokens
    plan = workflows.read_plan(PLANS / "reasoning-agent.yaml")
    mean_in, mean_out = population_of(plan.workload).mean_isl, population_of(plan.workload).mean_osl
    assert (bench.shape.input_mean, bench.shape.output_mean) == (mean_in, mean_out) and mean_in > 12000
    assert bench.shape.output_stdev == round((4000 - mean_out) / 1.645)
    vllm = shlex.split(bench.commands["vllm bench serve"][-1])
    assert (
        vllm[vllm.index("--random-input-len") + 1] == str(mean_in) and vllm[vllm.index("--request-rate") + 1] == "inf"
    )
    assert vllm[vllm.index("--random-output-len") + 1] == str(mean_out)
    guidellm = shlex.split(bench.commands["guidellm"][0])
    assert f"prompt_tokens={mean_in}," in guidellm[guidellm.index("--data") + 1]
    aiperf = shlex.split(bench.commands["aiperf"][0])
    assert aiperf[aiperf.index("--isl") + 1] == str(mean_in) and aiperf[aiperf.index("--osl") + 1] == str(mean_out)


def test_each_tools_result_imports_back_into_the_load_the_plan_asked_for(tmp_path: Path) -> None:
    bench = benchmark_plan(workflows.read_plan(PLANS / "reasoning-agent.yaml"), model="org/m")
    point, command = bench.points[3], shlex.split(bench.commands["aiperf"][3])
    folder = tmp_path / command[command.index("--artifact-dir") + 1]
    folder.mkdir(parents=True)
    csv = (
        DATA
        / "genai-perf"
        / "meta-llama_Llama-3.1-8B-Instruct-openai-chat-concurrency8"
        / "profile_export_genai_perf.csv"
    )
    shutil.copy(csv, folder)
    (run,) = workflows.import_benchmarks(workflows.open_session(), [folder / csv.name]).runs
    assert (run.mode, run.load) == (point.mode, point.load)


def test_bench_plan_from_the_command_line() -> None:
    done = run_cli("bench", "plan", str(PLANS / "code-assistant.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["scenario"] == "latency-first" and set(report["commands"]) == {
        "vllm bench serve",
        "guidellm",
        "aiperf",
    }
    assert "Qwen/Qwen3-32B" in report["commands"]["aiperf"][0]
    text = run_cli("bench", "plan", str(PLANS / "code-assistant.yaml"), "--replicas", "0")
    assert text.returncode == 2 and "--replicas" in text.stderr


@pytest.mark.parametrize("scenario", ["latency-first", "throughput-first", "full-envelope"])
def test_every_scenario_has_commands_for_every_point(scenario: str) -> None:
    bench = benchmark_plan(plan_with("code-assistant.yaml", scenario=scenario))
    assert len(bench.commands["vllm bench serve"]) == len(bench.commands["aiperf"]) == len(bench.points) > 0


def test_the_default_loads_are_one_replicas_share_of_the_peak_the_plan_simulated() -> None:
    """`bench baseline` predicts each run as one replica at the run's load, so `bench plan` loads one
    replica with its share of the plan's peak, and turns a plan's users into a rate with the E2E its
    simulation takes. It loaded one endpoint with the whole service's peak (use case 4: 2.0 requests/s,
    which one of its 19 replicas cannot carry) at a rate over the E2E the SLOs allow (74.6 s, where the
    plan's mean request takes 64.8 s)."""
    from planner.sizing.fleet import mean_request_e2e_ms
    from planner.traffic import demand_of

    session = workflows.open_session()
    plan = workflows.read_plan(PLANS / "usecases" / "4-reasoning-agent.yaml")
    bench = workflows.bench_plan(session, plan, backend="builtin")
    planned = workflows.plan(session, plan, "4.yaml", backend="builtin")
    d, demand = planned.decision, demand_of(plan)
    assert d is not None and d.pools is None and d.replicas_for_load > 1 and planned.sizing.best is not None
    e2e_s = mean_request_e2e_ms(planned.sizing.best.sizing, demand) / 1000  # type: ignore[operator]
    (peak,) = [p for p in bench.points if p.mode == "open"]
    assert peak.load == round(demand.peak_concurrency / e2e_s / d.replicas_for_load, 3)  # type: ignore[operator]
    # the plan's own open-loop check: the same rate over its replicas, with the headroom on top
    (checked,) = [load for load in d.loads if load.mode == "open"]
    assert checked.rate_req_s == pytest.approx(peak.load * d.replicas_for_load * (1 + demand.headroom), rel=1e-3)
    assert f"one of {d.replicas_for_load} replicas" in " ".join(bench.notes)
    whole = workflows.bench_plan(session, plan, replicas=1, backend="builtin")
    (whole_peak,) = [p.load for p in whole.points if p.mode == "open"]
    assert whole_peak == pytest.approx(peak.load * d.replicas_for_load, abs=0.01)
    assert max(p.load for p in whole.points) > max(p.load for p in bench.points), "the sweep, per replica too"


def test_a_plan_served_as_pools_loads_one_of_the_replicas_aggregated_serving_needs() -> None:
    session = workflows.open_session()
    plan = workflows.read_plan(PLANS / "code-assistant-disaggregated.yaml")
    bench = workflows.bench_plan(session, plan, backend="builtin")
    d = workflows.plan(session, plan, "p.yaml", backend="builtin").decision
    assert d is not None and d.pools is not None
    (peak,) = [p for p in bench.points if p.mode == "open" and p.why == "peak rate"]
    assert peak.load == round(40 / d.simulated_aggregated_replicas, 3)
    assert "one of the" in bench.notes[-1] and "bench baseline" in bench.notes[-1]
