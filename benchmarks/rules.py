"""Speed of the rules engine: evaluation time per plan, and 1,000 plans in one process.

Target: under 20 ms per plan for the rules (facts already built). Also prints the time
to build facts (which sizes the plan) so the two costs are not confused.

    python benchmarks/rules.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from pathlib import Path

from planner.catalog import load_catalog
from planner.facts import plan_facts
from planner.planfile import load_plan
from planner.resolve import resolve_plan
from planner.sizing.plan_sizing import size_plan
from planner.validation import build_engine

PLANS = Path(__file__).parent.parent / "tests" / "data" / "plans"


def main() -> None:
    """Print the figures."""
    host, catalog = load_catalog()
    start = time.perf_counter()
    engine = build_engine(host)
    print(
        f"engine with {len(engine.rules)} rules in {len({p for p, _ in engine.rules})} packs built in "
        f"{(time.perf_counter() - start) * 1000:.1f} ms"
    )
    fact_sets = []
    for path in sorted(PLANS.glob("*")):
        if path.name.startswith("bad-"):
            continue
        resolved = resolve_plan(load_plan(path), catalog)
        start = time.perf_counter()
        facts = plan_facts(resolved, catalog, size_plan(resolved, catalog))
        fact_sets.append((path.name, facts, time.perf_counter() - start))
    for name, facts, build_s in fact_sets:
        times = []
        for _ in range(50):
            start = time.perf_counter()
            engine.evaluate(facts)
            times.append(time.perf_counter() - start)
        print(
            f"{name:32s} rules {statistics.median(times) * 1000:6.2f} ms/plan (median of 50); "
            f"sizing + facts {build_s * 1000:7.1f} ms"
        )
    reference = [engine.evaluate(facts).findings for _, facts, _ in fact_sets]
    differing = 0
    start = time.perf_counter()
    for i in range(1000):
        index = i % len(fact_sets)
        differing += engine.evaluate(fact_sets[index][1]).findings != reference[index]
    total = time.perf_counter() - start
    print(f"1,000 plans in one process: {total:.2f} s ({total:.2f} ms/plan); {differing} gave different findings")


if __name__ == "__main__":
    main()
