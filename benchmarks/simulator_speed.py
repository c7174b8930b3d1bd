"""Speed of the discrete-event simulator and of the commands built on it.

Prints, best of ``--repeats`` on this (shared) machine:

- simulated requests per second of wall time for one replica at batch 32 (a closed loop
  of 32 users, run and summary) on the code-assistant plan's cheapest deployment by
  estimate and on the demo plan's, fast-forwarding and stepping one event at a time
  (target: at least 20,000 with fast-forward), and per second of this process's CPU time
  (the figure to compare when other work shares the cores);
- the same, fast-forwarding and stepping, for one attention-data-parallel replica whose ranks
  step together (DeepSeek-R1 over eight B200, use case 4's requests, 45 users, 300 s);
- ``planner envelope`` on the demo plan, with the built-in model (target: under 2 s) and
  with ``auto`` (target: no slower than 2x built-in), and ``planner search`` with both, each
  in a fresh process with Python's bytecode cache on (as after an install).

    python benchmarks/simulator_speed.py [--repeats 3] [--no-commands]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from planner import simulate, workflows
from planner.plan_simulation import LoadSpec, simulate_plan
from planner.planfile import load_plan
from planner.resolve import resolve_plan
from planner.sizing.plan_sizing import size_plan

REPO = Path(__file__).resolve().parent.parent
CODE_ASSISTANT = REPO / "tests" / "data" / "plans" / "usecases" / "2-code-assistant.yaml"
SIMULATED_S = 600.0
BYTECODE_DIR = tempfile.mkdtemp(prefix="planner-bench-pyc-")
USERS = 32
REASONING_AGENT = REPO / "tests" / "data" / "plans" / "usecases" / "4-reasoning-agent.yaml"
DP_USERS = 45
DP_SIMULATED_S = 300.0


def best_s(fn: Callable[[], Any], repeats: int) -> tuple[float, Any, float]:
    """The shortest wall time of ``repeats`` calls, the last call's result, and the shortest CPU
    time of this process over a call (which says more than wall time on a shared machine)."""
    best, result, best_cpu = float("inf"), None, float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, result, best_cpu


def requests_per_wall_s(path: Path, repeats: int) -> str:
    """One replica at batch 32 on the plan's cheapest deployment: requests simulated per wall second."""
    session = workflows.open_session()
    plan = load_plan(path)
    best = size_plan(resolve_plan(plan, session.catalog), session.catalog, simulate=False).best
    assert best is not None, f"{path.name} has no deployment"
    fleet = best.sizing
    load = LoadSpec("closed", concurrency=USERS)
    figures = []
    for fast in (True, False):
        simulate._FAST_FORWARD = fast
        took, summary, cpu_s = best_s(
            lambda: simulate_plan(plan, fleet.deployment, fleet.model, load, duration_s=SIMULATED_S), repeats
        )
        simulated = summary["requests"] + summary["unfinished"]
        figures.append(
            f"{'fast-forward' if fast else 'stepping'} {simulated / took:,.0f} req/s ({took:.2f} s; "
            f"{simulated / cpu_s:,.0f} req per CPU-s)"
        )
    simulate._FAST_FORWARD = True
    mean_batch = summary["batch"]["mean"]
    return f"{path.name} ({fleet.deployment.label}, mean batch {mean_batch:.1f}): " + "; ".join(figures)


def attention_dp_requests_per_wall_s(repeats: int) -> str:
    """One attention-data-parallel replica (DeepSeek-R1 over eight B200 under SGLang, the ranks
    stepping together) at use case 4's requests and 45 users: requests simulated per wall second."""
    from planner.performance_models import BUILTIN
    from planner.sizing.deployment import Deployment

    catalog = workflows.open_session().catalog
    plan = load_plan(REASONING_AGENT)
    dep = Deployment(
        catalog.models.get("deepseek-r1"),
        catalog.gpus.get("b200"),
        catalog.runtimes.get("sglang"),
        "fp8",
        "fp8",
        ep=8,
        attention_dp=True,
    )
    load = LoadSpec("closed", concurrency=DP_USERS)
    figures = []
    for fast in (True, False):
        simulate._FAST_FORWARD = fast
        took, summary, _ = best_s(lambda: simulate_plan(plan, dep, BUILTIN, load, duration_s=DP_SIMULATED_S), repeats)
        simulated = summary["requests"] + summary["unfinished"]
        figures.append(f"{'fast-forward' if fast else 'stepping'} {simulated / took:,.0f} req/s ({took:.2f} s)")
    simulate._FAST_FORWARD = True
    return f"{REASONING_AGENT.name} ({dep.label}, {DP_USERS} users, {DP_SIMULATED_S:.0f} s): " + "; ".join(figures)


def command_s(args: list[str], repeats: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of a ``planner`` command in a fresh
    process, start-up included (CPU time says more than wall time on a shared machine)."""
    command = [sys.executable, "-m", "planner", *args]
    # Bytecode cached as an installed planner has it (pip compiles it); where the environment
    # turns the cache off, every run would compile the package first (~0.3 s here).
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": BYTECODE_DIR}
    subprocess.run(command, check=True, capture_output=True, env=env)  # writes the cache
    wall_s, cpu_s = float("inf"), float("inf")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        took, _, _ = best_s(lambda: subprocess.run(command, check=True, capture_output=True, env=env), 1)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall_s = min(wall_s, took)
        cpu_s = min(cpu_s, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall_s, cpu_s


def commands(repeats: int) -> list[str]:
    """``planner envelope`` and ``planner search`` on the demo plan, built-in and auto (auto's
    aiconfigurator verdicts are memoised in PLANNER_HOME after its first run)."""
    demo = str(workflows.example_plan_path())
    lines = []
    for command in ("envelope", "search"):
        builtin = command_s([command, demo, "--perf-backend", "builtin"], repeats)
        auto = command_s([command, demo, "--perf-backend", "auto"], repeats)
        lines.append(
            f"planner {command} (demo plan): builtin {builtin[0]:.2f} s wall ({builtin[1]:.2f} s CPU), "
            f"auto {auto[0]:.2f} s wall ({auto[1]:.2f} s CPU): auto/builtin {auto[1] / builtin[1]:.2f}x in CPU"
        )
    return lines


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-commands", action="store_true", help="only the simulator's own speed")
    args = parser.parse_args()
    for path in (CODE_ASSISTANT, workflows.example_plan_path()):
        print(requests_per_wall_s(path, args.repeats), flush=True)
    print(attention_dp_requests_per_wall_s(args.repeats), flush=True)
    if not args.no_commands:
        for line in commands(args.repeats):
            print(line, flush=True)


if __name__ == "__main__":
    main()
