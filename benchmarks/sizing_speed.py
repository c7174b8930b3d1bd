"""Speed of the sizing engine in one process (what the desktop app sees): estimates and searches.

For the built-in model and for ``auto`` (the default), prints one estimate's first call
(``auto`` builds and probes aiconfigurator's database for the configuration unless the
memo in PLANNER_HOME/cache already knows it) and the median of warm calls, then a search
of the demo plan over the catalog. Targets on a 2-core machine: a warm estimate under
0.5 s (builtin under 5 ms of compute), the demo plan's search under 2 s with builtin and
under 3 s with auto.

    python benchmarks/sizing_speed.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from planner import workflows
from planner.resolve import resolve_plan
from planner.sizing.search import search
from planner.workflows import EstimateRequest

ESTIMATES = {
    "llama-3.1-70b fp8 on 4x h100-sxm (vllm)": EstimateRequest(
        model="llama-3.1-70b", gpu="h100-sxm", isl=4000, osl=500, concurrency=64, tp=4, weights="fp8", kv_dtype="fp8"
    ),
    "llama-3.1-8b bf16 on 1x h100-sxm (trtllm)": EstimateRequest(
        model="llama-3.1-8b", gpu="h100-sxm", isl=4000, osl=500, concurrency=64, runtime="trtllm"
    ),
    "deepseek-r1 fp8 on 8x h200-sxm (sglang)": EstimateRequest(
        model="deepseek-r1", gpu="h200-sxm", isl=4000, osl=500, concurrency=64, tp=8, weights="fp8", kv_dtype="fp8",
        runtime="sglang",
    ),
}  # fmt: skip


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall times in seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Print the figures."""
    session = workflows.open_session()
    for backend in ("builtin", "auto"):
        for label, request in ESTIMATES.items():
            asked = EstimateRequest(**{**request.__dict__, "backend": backend})
            first = timed(lambda asked=asked: workflows.estimate(session, asked), 1)[0]
            warm = timed(lambda asked=asked: workflows.estimate(session, asked), 50)
            print(
                f"estimate {backend:7s} {label:42s} first {first * 1000:8.1f} ms   "
                f"warm median {statistics.median(warm) * 1000:7.2f} ms  max {max(warm) * 1000:7.2f} ms"
            )
    plan = workflows.read_plan(workflows.example_plan_path())
    resolved = resolve_plan(plan, session.catalog)
    open_runtime = plan.model_copy(update={"runtime": plan.runtime.model_copy(update={"id": None})})
    for backend in ("builtin", "auto"):
        model = session.performance_model(backend)
        time_search(f"search demo plan, {backend}", lambda m=model: search(resolved, session.catalog, m), 3)
        time_search(
            f"search demo plan with the runtime open too, {backend}",
            lambda m=model: search(resolve_plan(open_runtime, session.catalog), session.catalog, m),
            3,
        )


def time_search(label: str, run: Callable[[], tuple[list[Any], int]], repeats: int) -> None:
    """Print how long a search over the catalog takes."""
    found: dict[str, int] = {}

    def run_search() -> None:
        ranked, tried = run()
        found.update(tried=tried, feasible=len(ranked))

    times = timed(run_search, repeats)
    print(
        f"{label}: {found['tried']} candidates, {found['feasible']} feasible, "
        f"first {times[0]:.3f} s, median {statistics.median(times):.3f} s"
    )


if __name__ == "__main__":
    main()
