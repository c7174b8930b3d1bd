"""How far a plan's estimate lies from the simulator of the same plan, per use case and load.

For each use-case plan (tests/data/plans/usecases; the first is the bundled example), takes the cheapest
configuration by estimate (built-in model, no simulation), then at 1/2, 1, 1.5 and 2 times its
per-replica concurrency (at most what its memory holds) runs one replica in closed loop in the simulator (the plan's log-normal
request lengths and shared prefix, 600 s, seed 1) and prints, beside the simulator's figures at
the SLO's percentile, the estimate's: the plan's worst-case request timed in a batch of the plan's
requests (as sizing does) and, for comparison, in a batch of worst-case requests (as sizing did
before). Loads stop at what the estimate's memory holds: beyond it the estimate queues requests
at the p95 context's KV cache (the worst case, by principle), where the simulator holds the
lengths it draws. Then the median absolute error of each over every point, per metric.

    python benchmarks/estimate_vs_simulation.py
    python benchmarks/estimate_vs_simulation.py --runtimes   # and the TTFT over three runtimes (20 s)

``--runtimes`` adds 27 closed loops of use case 2's requests (Llama-3.1-8B on one H100 and on four
with 2,048-token chunks, Qwen3-32B on two; fp8; vLLM, TensorRT-LLM and SGLang; three loads each,
600 s, seed 1) and prints the simulator's TTFT at p95 beside the estimate's, then their median
absolute and mean signed error.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PLANNER_HOME", tempfile.mkdtemp(prefix="planner-bench-"))

from planner import workflows
from planner.performance_models import BUILTIN
from planner.plan_simulation import LoadSpec, simulate_plan
from planner.planfile import load_plan
from planner.resolve import resolve_plan
from planner.simulate import slo_figure_ms
from planner.sizing.deployment import Deployment
from planner.sizing.estimate import Estimate, estimate
from planner.sizing.plan_sizing import size_plan
from planner.traffic import demand_of

REPO = Path(__file__).resolve().parent.parent
USE_CASES = REPO / "tests" / "data" / "plans" / "usecases"
LOAD_MULTIPLES = (0.5, 1.0, 1.5, 2.0)
METRICS = ("ITL", "TTFT", "output tok/s")


def figures(est: Estimate, percentile: int) -> tuple[float, float, float]:
    """The estimate's ITL and TTFT at the percentile and output tokens/s."""
    return est.itl_at_percentile_ms(percentile), est.ttft_at_percentile_ms(percentile), est.output_tok_s


def compare(session: workflows.Session, path: Path, errors: dict[str, dict[str, list[float]]]) -> None:
    """Print one plan's points and add their errors to ``errors`` (way -> metric -> |error|)."""
    plan = workflows.read_plan(path)
    best = size_plan(resolve_plan(plan, session.catalog, path.name), session.catalog, BUILTIN, simulate=False).best
    if best is None:
        print(f"{path.name}: nothing meets the plan")
        return
    dep, demand = best.sizing.deployment, demand_of(plan)
    q = int(demand.targets.percentile)
    print(f"\n{path.name}: {dep.label}, p{q} request {demand.isl:,} / {demand.osl:,} in a batch of "
          f"{demand.population.describe() if demand.population else 'alike'}")  # fmt: skip
    print(
        f"  clients | ITL p{q} ms: sim / est / alike | TTFT p{q} ms: sim / est / alike | output tok/s: sim / est / alike"
    )
    loads = {min(max(round(best.sizing.per_replica * m), 1), best.sizing.capacity_cap) for m in LOAD_MULTIPLES}
    for clients in sorted(loads):
        sim = simulate_plan(plan, dep, BUILTIN, LoadSpec("closed", concurrency=clients), duration_s=600, seed=1)
        measured = (slo_figure_ms(sim, "itl_ms", f"p{q}"), sim["ttft_ms"][f"p{q}"], sim["output_tok_s"])
        in_population = estimate(
            dep, demand.isl, demand.osl, model=BUILTIN, concurrency=clients, population=demand.population
        )
        alike = estimate(dep, demand.isl, demand.osl, model=BUILTIN, concurrency=clients)
        ways = {"population": figures(in_population, q), "alike": figures(alike, q)}
        for way, predicted in ways.items():
            for metric, p, m in zip(METRICS, predicted, measured, strict=True):
                errors[way][metric].append(abs(p / m - 1))
        cells = [f"{m:,.1f} / {ways['population'][i]:,.1f} / {ways['alike'][i]:,.1f}" for i, m in enumerate(measured)]
        print(f"  {clients:7d} | " + " | ".join(cells))


#: The runtimes' loops of ``--runtimes``: (model, GPU, TP, SGLang's knobs, loads).
RUNTIME_CASES = [
    ("llama-3.1-8b", "h100-sxm", 4, {"chunked_prefill_size": 2048}, (20, 40, 65)),
    ("llama-3.1-8b", "h100-sxm", 1, {}, (8, 16, 32)),
    ("qwen3-32b", "h100-sxm", 2, {}, (8, 16, 32)),
]


def runtimes(session: workflows.Session) -> None:
    """Print the TTFT at p95 of use case 2's requests in closed loops under each runtime, simulator
    against estimate, and the pooled errors; then SGLang's ITL at p95 and p99 in the same loops (its
    gaps a decode step or a prefill run: how many prompts a run holds sets them)."""
    plan = load_plan(USE_CASES / "2-code-assistant.yaml")
    demand = demand_of(plan)
    catalog = session.catalog
    errors = []
    gaps: dict[int, list[tuple[str, float, float]]] = {95: [], 99: []}
    print("\nuse case 2's requests, closed loop: TTFT p95 ms, sim / est")
    for runtime in ("vllm", "trtllm", "sglang"):
        for model, gpu, tp, knobs, loads in RUNTIME_CASES:
            spec = catalog.models.get(model)
            dep = Deployment(
                spec, catalog.gpus.get(gpu), catalog.runtimes.get(runtime), "fp8", "fp8", tp=tp,
                knobs=knobs if runtime == "sglang" else {},
            )  # fmt: skip
            cells = []
            for clients in loads:
                sim = simulate_plan(plan, dep, BUILTIN, LoadSpec("closed", concurrency=clients), duration_s=600, seed=1)
                est = estimate(
                    dep, demand.isl, demand.osl, model=BUILTIN, concurrency=clients, population=demand.population
                )
                measured, predicted = sim["ttft_ms"]["p95"], est.ttft_at_percentile_ms(95)
                errors.append(predicted / measured - 1)
                cells.append(f"{clients}: {measured:,.0f} / {predicted:,.0f} ({errors[-1]:+.0%})")
                for q in gaps if runtime == "sglang" else ():
                    at = f"{model} TP{tp} at {clients}"
                    gaps[q].append((at, slo_figure_ms(sim, "itl_ms", f"p{q}"), est.itl_at_percentile_ms(q)))
            print(f"  {runtime:7s} {model} TP{tp} on {gpu}: " + ", ".join(cells))
    print(
        f"  median absolute error {statistics.median(abs(e) for e in errors):.1%}, mean signed "
        f"{statistics.mean(errors):+.1%} ({len(errors)} loops)"
    )
    for q, found in gaps.items():
        print(f"SGLang, ITL p{q} ms, sim / est: " + ", ".join(f"{at} {m:,.1f} / {p:,.1f}" for at, m, p in found))
        misses = [p / m - 1 for _, m, p in found]
        print(
            f"  median absolute error {statistics.median(abs(e) for e in misses):.1%}, mean signed "
            f"{statistics.mean(misses):+.1%} ({len(misses)} loops)"
        )


def main() -> None:
    """Compare every use case and print the pooled errors."""
    session = workflows.open_session()
    errors: dict[str, dict[str, list[float]]] = {w: {m: [] for m in METRICS} for w in ("population", "alike")}
    for path in sorted(USE_CASES.glob("*.yaml")):
        compare(session, path, errors)
    print("\nmedian absolute error against the simulator, every point:")
    for way, label in (("population", "in a batch of the plan's requests"), ("alike", "in a batch of p95 requests")):
        cells = ", ".join(f"{m} {statistics.median(v):.1%}" for m, v in errors[way].items())
        print(f"  {label}: {cells} ({len(errors[way]['ITL'])} points)")
    if "--runtimes" in sys.argv[1:]:
        runtimes(session)


if __name__ == "__main__":
    main()
