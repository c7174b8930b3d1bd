"""Time to plan the use cases of examples.md, and what each plan decides.

For each use-case plan (tests/data/plans/usecases) and the bundled example, runs
``workflows.plan`` in one process with the built-in model and a fresh decision (sizing by
estimate, the simulation of the cheapest candidates' whole fleets at the peak, the rules),
and prints the wall time with the decision: the deployment, replicas (estimate -> simulated,
aggregated against aggregated, with the prefill and decode pools that serve a disaggregated
plan; plus spares), Cr_closed, Cr_open, EUR per 1M output tokens (GPU servers and power), the
count of findings by severity. Target: a full-envelope plan (use case 4) under 30 s on this
2-core machine. The nightly batch job (use case 3) takes minutes and runs only with --all.

    python benchmarks/plan_speed.py [--all] [--backend builtin|auto]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from planner import decision, workflows

REPO = Path(__file__).resolve().parent.parent
USE_CASES = REPO / "tests" / "data" / "plans" / "usecases"
SLOW = {"3-nightly-summarisation.yaml"}


def plan_once(session: workflows.Session, path: Path, backend: str) -> str:
    """Plan one file from a fresh decision and describe what it decided, with the time it took."""
    decision._memo.clear()
    plan = workflows.read_plan(path)
    start = time.perf_counter()
    report = workflows.plan(session, plan, path.name, backend=backend)
    took = time.perf_counter() - start
    counts = {s: sum(f.severity == s for f in report.validation.findings) for s in ("error", "warning", "info")}
    found = f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info"
    d, best = report.decision, report.sizing.best
    if d is None or best is None:
        return f"{path.name:28s} {took:6.1f} s  nothing meets the plan; {found}"
    cost = f"{best.eur_per_m_tokens:.3f}" if best.eur_per_m_tokens is not None else "n/a"
    # the estimate sizes aggregated replicas: the pools that serve a disaggregated plan are named apart
    pools = (
        f" aggregated, served as {d.pools.prefill_replicas} prefill + {d.pools.decode_replicas} decode"
        if d.pools
        else ""
    )
    return (
        f"{path.name:28s} {took:6.1f} s  {d.deployment.label}: {d.estimated_replicas} -> "
        f"{d.simulated_aggregated_replicas}{pools} (+{d.spares}) replicas, Cr_closed {d.cr_closed}, "
        f"Cr_open {d.cr_open_req_s:.3f} req/s, {cost} EUR/1M output tokens; {found}"
    )


def main() -> None:
    """Plan every use case and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also the nightly batch job (minutes)")
    parser.add_argument("--backend", default="builtin")
    args = parser.parse_args()
    session = workflows.open_session()
    workflows.plan(session, workflows.read_plan(workflows.example_plan_path()), backend=args.backend)  # warm
    paths = [workflows.example_plan_path(), *sorted(USE_CASES.glob("*.yaml"))]
    for path in paths:
        if path.name in SLOW and not args.all:
            print(f"{path.name:28s} skipped (minutes; --all runs it)")
            continue
        print(plan_once(session, path, args.backend), flush=True)


if __name__ == "__main__":
    main()
