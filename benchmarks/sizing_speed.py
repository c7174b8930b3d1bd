"""Speed of the sizing engine: one estimate, and a search over the whole catalog.

Targets: one `estimate` under 5 ms of compute; `search` over the built-in catalog for
the demo plan under 2 s on a 2-core machine. Prints the figures.

    python benchmarks/sizing_speed.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from planner.catalog import load_catalog
from planner.performance_models import BUILTIN
from planner.planfile import load_plan
from planner.resolve import resolve_plan
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import estimate
from planner.sizing.search import search
from planner.workflows import example_plan_path


def timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall times in seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Print the figures."""
    _, catalog = load_catalog()
    configs = {
        "llama-3.1-70b fp8 on 4x h100-sxm (vllm)": Deployment(
            catalog.models.get("llama-3.1-70b"), catalog.gpus.get("h100-sxm"), catalog.runtimes.get("vllm"),
            "fp8", "fp8", tp=4,
        ),
        "deepseek-r1 fp8 on 8x h200-sxm (sglang)": Deployment(
            catalog.models.get("deepseek-r1"), catalog.gpus.get("h200-sxm"), catalog.runtimes.get("sglang"),
            "fp8", "fp8", tp=8,
        ),
    }  # fmt: skip
    for label, dep in configs.items():
        times = timed(lambda dep=dep: estimate(dep, 4000, 500, model=BUILTIN, concurrency=64), 500)
        print(f"estimate {label:42s} median {statistics.median(times) * 1000:6.3f} ms  max {max(times) * 1000:6.3f} ms")
    resolved = resolve_plan(load_plan(example_plan_path()), catalog)
    time_search("search demo plan over the catalog", resolved, catalog, 5)
    open_runtime = resolved.plan.model_copy(update={"runtime": resolved.plan.runtime.model_copy(update={"id": None})})
    time_search("search demo plan with the runtime open too", resolve_plan(open_runtime, catalog), catalog, 3)


def time_search(label: str, resolved, catalog, repeats: int) -> None:  # type: ignore[no-untyped-def]
    """Print how long a search over the catalog takes."""
    result: dict[str, int] = {}

    def run_search() -> None:
        ranked, tried = search(resolved, catalog)
        result.update(tried=tried, feasible=len(ranked))

    times = timed(run_search, repeats)
    print(
        f"{label}: {result['tried']} candidates, {result['feasible']} feasible, "
        f"median {statistics.median(times):.3f} s  max {max(times):.3f} s"
    )


if __name__ == "__main__":
    main()
