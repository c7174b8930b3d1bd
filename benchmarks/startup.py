"""Start-up cost of the command line: `planner --help` and `planner catalog gpus`.

Prints the median and best wall time over repeated runs of each command in a fresh
process (target: under 0.5 s on a 2-core machine), plus the slowest imports of
`planner catalog gpus` from `python -X importtime`.

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "planner --help": ["--help"],
    "planner catalog gpus": ["catalog", "gpus"],
    "planner demo": ["demo"],
}


def time_command(args: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Run ``python -m planner ARGS`` ``runs`` times and return the wall times in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "planner", *args], check=True, capture_output=True, env=env)
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


def main() -> None:
    """Print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "PLANNER_HOME": tempfile.mkdtemp(prefix="planner-bench-")}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs each")
    for label, argv in COMMANDS.items():
        times = time_command(argv, args.runs, env)
        print(f"{label:24s} median {statistics.median(times) * 1000:7.1f} ms   best {min(times) * 1000:7.1f} ms")
    print("slowest imports of `planner catalog gpus` (cumulative):")
    for micros, name in slowest_imports(env):
        print(f"  {micros / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
