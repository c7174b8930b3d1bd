"""Wall time of the command line, in fresh processes: start-up, and the sizing commands per backend.

Prints, for each command, the median and best of repeated runs. The sizing commands run
with the default performance model (``auto``) and with ``builtin`` beside it; with
``auto``, the first run on a machine builds and probes aiconfigurator's databases (the
``cold`` figure: every run in a fresh PLANNER_HOME), later runs answer from the memo in
``PLANNER_HOME/cache`` (``warm``). Targets on a 2-core machine: ``--help`` and
``catalog gpus`` under 0.5 s; with ``auto`` warm, ``demo`` under 2 s, ``search`` on the
demo plan under 3 s, ``estimate`` under 0.5 s. Also lists the slowest imports of
``planner catalog gpus`` from ``python -X importtime``.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO_PLAN = str(Path(__file__).resolve().parent.parent / "planner" / "examples" / "knowledge-assistant.yaml")
ESTIMATE = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl", "2000", "--osl", "200"]
ESTIMATE += ["--concurrency", "16"]
START_UP = {"planner --help": ["--help"], "planner catalog gpus": ["catalog", "gpus"]}
SIZING = {
    "planner demo": ["demo"],
    "planner search (demo plan)": ["search", DEMO_PLAN],
    "planner estimate (Llama 3.1 8B, H100)": ESTIMATE,
}


def time_command(args: list[str], runs: int, env: dict[str, str], fresh_home: bool = False) -> list[float]:
    """Run ``python -m planner ARGS`` ``runs`` times; return the wall times in seconds.

    :param fresh_home: run each in a new, empty PLANNER_HOME (no memo from earlier runs).
    """
    times = []
    for _ in range(runs):
        run_env = {**env, "PLANNER_HOME": tempfile.mkdtemp(prefix="planner-bench-")} if fresh_home else env
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "planner", *args], check=True, capture_output=True, env=run_env)
        times.append(time.perf_counter() - start)
    return times


def slowest_imports(env: dict[str, str], top: int = 8) -> list[tuple[int, str]]:
    """Return the ``top`` largest cumulative import times (microseconds, module)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "planner", "catalog", "gpus"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:top]


def _line(label: str, times: list[float]) -> str:
    return f"{label:52s} median {statistics.median(times):6.2f} s   best {min(times):6.2f} s"


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PLANNER_HOME": tempfile.mkdtemp(prefix="planner-bench-")}
    env.pop("PLANNER_PERF_BACKEND", None)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs each")
    for label, argv in START_UP.items():
        print(_line(label, time_command(argv, args.runs, env)))
    for label, argv in SIZING.items():
        print(
            _line(f"{label} --perf-backend builtin", time_command([*argv, "--perf-backend", "builtin"], args.runs, env))
        )
        print(_line(f"{label} auto, cold", time_command(argv, max(args.runs // 2, 1), env, fresh_home=True)))
        time_command(argv, 1, env)  # fill the memo of this PLANNER_HOME
        print(_line(f"{label} auto, warm", time_command(argv, args.runs, env)))
    print("slowest imports of `planner catalog gpus` (cumulative):")
    for micros, name in slowest_imports(env):
        print(f"  {micros / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
