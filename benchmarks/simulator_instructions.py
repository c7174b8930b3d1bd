"""Instructions one simulator run takes: a figure that does not move with the machine's load.

Wall time on a shared machine swings by up to 2x between minutes, too much to see a change of
10-20%; the instructions a run executes barely move. This script counts them with valgrind's
callgrind: a process that sizes the plan and simulates one replica under a closed loop of 32
users for 600 s twice, less one that stops before the two runs, halved (each after a run
outside valgrind, so Python's bytecode cache is warm in both).

    python benchmarks/simulator_instructions.py [PLAN ...]   # default: the code-assistant and demo plans

Needs ``valgrind`` on the PATH (Debian: ``apt-get install valgrind``); takes about three
minutes a plan. To compare two versions, run it with ``PYTHONPATH`` set to each tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODE_ASSISTANT = REPO / "tests" / "data" / "plans" / "usecases" / "2-code-assistant.yaml"
USERS = 32
SIMULATED_S = 600.0


def simulate_runs(path: Path, runs: int) -> None:
    """Size the plan, warm the simulator up on a short run, then simulate ``runs`` closed loops."""
    from planner import workflows
    from planner.plan_simulation import LoadSpec, simulate_plan
    from planner.planfile import load_plan
    from planner.resolve import resolve_plan
    from planner.sizing.plan_sizing import size_plan

    session = workflows.open_session()
    plan = load_plan(path)
    best = size_plan(resolve_plan(plan, session.catalog), session.catalog, simulate=False).best
    assert best is not None, f"{path.name} has no deployment"
    fleet, load = best.sizing, LoadSpec("closed", concurrency=USERS)
    simulate_plan(plan, fleet.deployment, fleet.model, load, duration_s=SIMULATED_S / 10)
    for _ in range(runs):
        simulate_plan(plan, fleet.deployment, fleet.model, load, duration_s=SIMULATED_S)


def child(path: Path, runs: int) -> list[str]:
    """The command of a child process that simulates ``runs`` closed loops of ``path``."""
    return [sys.executable, __file__, "--child", str(path), str(runs)]


def instructions(path: Path, runs: int, env: dict[str, str]) -> int:
    """Instructions a child process simulating ``runs`` closed loops of ``path`` executes."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *child(path, runs)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if match is None:
        raise SystemExit(f"valgrind did not report a count:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        simulate_runs(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    from planner import workflows

    paths = [Path(p) for p in sys.argv[1:]] or [CODE_ASSISTANT, workflows.example_plan_path()]
    env = os.environ | {
        "PLANNER_HOME": tempfile.mkdtemp(prefix="planner-bench-"),
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="planner-bench-pyc-"),
    }
    for path in paths:
        subprocess.run(child(path, 0), env=env, check=True, capture_output=True)  # warms the bytecode cache
        per_run = (instructions(path, 2, env) - instructions(path, 0, env)) / 2
        print(f"{path.name}: {per_run / 1e6:,.0f} M instructions per run (closed loop of {USERS}, {SIMULATED_S:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
