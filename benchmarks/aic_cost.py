"""What the aiconfigurator extra costs: install size, start-up, and time per query.

    python benchmarks/aic_cost.py [--runs 8]

Prints
- the disk size of ``aiconfigurator-core`` and of every package it pulls in that the
  planner itself does not need (from the installed distributions' file lists);
- the wall time of CLI commands with the plugin installed: ``--help`` and
  ``catalog gpus`` (which must not import the SDK), and ``estimate`` with the
  built-in model, with ``aiconfigurator`` and with ``auto``;
- in-process: SDK import, the first query of a configuration (database and model
  load), and a warm query (a decode step not seen before).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, distribution, requires
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from startup import time_command

ESTIMATE = ["estimate", "--model", "llama-3.1-70b", "--gpu", "h100-sxm", "--runtime", "trtllm", "--tp", "4",
            "--weights", "fp8", "--isl", "2000", "--osl", "400", "--concurrency", "64"]  # fmt: skip
COMMANDS = {
    "planner --help": ["--help"],
    "planner catalog gpus": ["catalog", "gpus"],
    "estimate --perf-backend builtin": [*ESTIMATE, "--perf-backend", "builtin"],
    "estimate --perf-backend aiconfigurator": [*ESTIMATE, "--perf-backend", "aiconfigurator"],
    "estimate (auto)": ESTIMATE,
}


def closure(name: str) -> set[str]:
    """The distribution ``name`` and everything it requires (extras ignored), lower-cased."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop().lower()
        if current in seen:
            continue
        try:
            needs = requires(current) or []
        except PackageNotFoundError:
            continue
        seen.add(current)
        for need in needs:
            if "extra ==" in need:
                continue
            match = re.match(r"[A-Za-z0-9_.\-]+", need)
            if match:
                todo.append(match.group(0).replace("_", "-"))
    return seen


def installed_mib(name: str) -> float:
    """Disk size of one installed distribution's files, MiB."""
    dist = distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total / 2**20


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    try:
        core = distribution("aiconfigurator-core").version
    except PackageNotFoundError:
        print("aiconfigurator-core is not installed: pip install '.[aic]' first")
        return
    extra = sorted(closure("aiconfigurator-core") - closure("llm-inference-planner"))
    sizes = {name: installed_mib(name) for name in extra}
    print(f"aiconfigurator-core {core}; installed by the extra beyond the planner's own needs:")
    for name, mib in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"  {name:28s} {mib:8.1f} MiB")
    print(f"  {'total':28s} {sum(sizes.values()):8.1f} MiB")

    env = {**os.environ, "PLANNER_HOME": tempfile.mkdtemp(prefix="planner-bench-")}
    print(f"\nCLI wall time, {args.runs} runs each (median / best):")
    for label, argv in COMMANDS.items():
        times = time_command(argv, args.runs, env)
        print(f"  {label:40s} {statistics.median(times) * 1000:7.0f} ms / {min(times) * 1000:5.0f} ms")

    from planner.plugins import aiconfigurator as aic

    from planner.catalog import load_catalog
    from planner.sizing.deployment import Deployment

    start = time.perf_counter()
    aic._sdk()
    print(f"\nSDK import: {(time.perf_counter() - start) * 1000:.0f} ms")
    _, catalog = load_catalog()
    model = catalog.models.get("llama-3.1-70b")
    dep = Deployment(model, catalog.gpus.get("h100-sxm"), catalog.runtimes.get("trtllm"), "fp8", "fp8", tp=4)
    start = time.perf_counter()
    assert aic.MODEL.coverage(dep) is None
    print(f"first query of a configuration (database + model): {(time.perf_counter() - start) * 1000:.0f} ms")
    times = []
    for batch in range(2, 2 + 50):
        start = time.perf_counter()
        aic.MODEL.decode_step_s(dep, batch, 3000 + batch)
        times.append(time.perf_counter() - start)
    print(f"warm decode-step query (uncached): median {statistics.median(times) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
