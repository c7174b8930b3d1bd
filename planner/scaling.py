"""The scaling decision (step 11): the dominant bottleneck in what was measured, and the next lever.

Signals, read at the lightest measured load that misses the SLOs (where the bottleneck
shows first), else at the heaviest:

- KV pressure: requests in flight over what the KV cache holds (``size_capacity``), or the
  server's own KV use or preemptions when the run carries them (``server.kv_cache_usage``,
  ``server.preemptions``);
- queue share: the TTFT grown since the lightest load, over the E2E (time waiting, not working);
- TTFT and ITL against their targets at the SLO percentile;
- output tokens/s against the model's prediction at the same load.

The dominant bottleneck picks a ladder of levers in the method's order (serving stack tuning,
then runtime, hardware, replicas, model change); the first lever this project has not already
decided is the one recommended, one at a time. Replicas come only after the cheaper levers,
with their yearly cost. Each lever's expected effect comes from the simulator: the plan's
deployment at the same load with the lever applied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from planner.bench.measured import judge, slo_key
from planner.measured_run import MeasuredRun
from planner.perfmodel import PerformanceModel
from planner.plan import Plan
from planner.plan_simulation import LoadSpec, RunLength, context_of, simulate_plan, targets_of
from planner.sizing.capacity import knob, scheduler_sequences, size_capacity
from planner.sizing.deployment import Deployment
from planner.tco import cost_assumptions, yearly_cost_eur

#: Requests in flight at or above this share of what the KV cache holds: the scheduler queues or
#: preempts (vLLM admits a request only when its blocks fit).
KV_BOUND_SHARE = 0.9
#: Above this share of E2E spent waiting, the replica is saturated, whatever its step times.
QUEUE_BOUND_SHARE = 0.3
#: The method's order: the cheapest lever family first.
LADDER = ("serving stack", "runtime", "hardware", "replicas", "model")


@dataclass(frozen=True)
class Signals:
    """What the measurement says, at the run the decision reads."""

    run: str
    load: float
    mode: str
    in_flight: float | None
    kv_capacity: int
    kv_pressure: float | None
    queue_share: float | None
    ttft_vs_target: float | None
    itl_vs_target: float | None
    throughput_vs_predicted: float | None
    meets_slo: bool | None


@dataclass(frozen=True)
class Lever:
    """One change, in the runtime's own words, with the family it belongs to."""

    id: str
    family: str
    action: str
    knob: str | None = None
    old: Any = None
    new: Any = None


@dataclass
class ScalingDecision:
    """The bottleneck, the lever recommended, its expected effect and cost, and the rest of the ladder."""

    bottleneck: str
    why: str
    signals: Signals
    lever: Lever | None
    expected: dict[str, Any] = field(default_factory=dict)
    cost_eur_per_year: float | None = None
    ladder: list[Lever] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Every field by name."""
        return {
            "bottleneck": self.bottleneck, "why": self.why, "signals": self.signals.__dict__,
            "lever": self.lever.__dict__ if self.lever else None, "expected": self.expected,
            "cost_eur_per_year": self.cost_eur_per_year, "ladder": [lever.__dict__ for lever in self.ladder],
            "already_decided": self.tried,
        }  # fmt: skip


def read_signals(
    plan: Plan, dep: Deployment, model: PerformanceModel, runs: Sequence[MeasuredRun]
) -> tuple[Signals, MeasuredRun]:
    """The signals at the lightest load that misses the SLOs (else the heaviest measured)."""
    targets = targets_of(plan)
    key = slo_key(targets)
    judged = sorted((judge(r, targets) for r in runs if not math.isinf(r.load)), key=lambda j: (j.run.mode, j.run.load))
    if not judged:
        raise ValueError("no run with a finite load")
    mode = "closed" if any(j.run.mode == "closed" for j in judged) else "open"
    same = [j for j in judged if j.run.mode == mode]
    at = next((j for j in same if j.meets_slo is False), same[-1])
    run, lightest = at.run, same[0].run
    cap = size_capacity(dep, context_of(plan)).max_concurrency
    in_flight = run.load if run.mode == "closed" else _little(run)
    pressure = _kv_pressure(run, in_flight, cap)
    e2e = run.figure("e2e_ms", "p50")
    grown = (run.figure("ttft_ms", "p50") or 0.0) - (lightest.figure("ttft_ms", "p50") or 0.0)
    queue = max(grown, 0.0) / e2e if e2e and run is not lightest else None
    itl = run.figure("itl_ms", key) or run.figure("tpot_ms", key)
    predicted = simulate_plan(plan, dep, model, _load_of(run), duration_s=_seconds(run)).get("output_tok_s")
    return Signals(
        run=run.name, load=run.load, mode=run.mode, in_flight=in_flight, kv_capacity=cap, kv_pressure=pressure,
        queue_share=queue,
        ttft_vs_target=_ratio(run.figure("ttft_ms", key), targets.ttft_s),
        itl_vs_target=_ratio(itl, targets.itl_s),
        throughput_vs_predicted=run.output_tok_s / predicted if run.output_tok_s and predicted else None,
        meets_slo=at.meets_slo,
    ), run  # fmt: skip


def _little(run: MeasuredRun) -> float | None:
    e2e = run.figure("e2e_ms", "mean") or run.figure("e2e_ms", "p50")
    return run.request_s * e2e / 1000 if run.request_s and e2e else None


def _kv_pressure(run: MeasuredRun, in_flight: float | None, cap: int) -> float | None:
    if run.server.get("preemptions"):
        return 1.0
    if isinstance(run.server.get("kv_cache_usage"), int | float):
        return float(run.server["kv_cache_usage"])
    return in_flight / cap if in_flight is not None and cap > 0 else None


def _ratio(value_ms: float | None, target_s: float | None) -> float | None:
    return value_ms / (target_s * 1000) if value_ms is not None and target_s else None


def _load_of(run: MeasuredRun) -> LoadSpec:
    if run.mode == "closed":
        return LoadSpec("closed", concurrency=max(round(run.load), 1))
    return LoadSpec("open", rate=run.load)


def _seconds(run: MeasuredRun) -> float:
    length = RunLength(requests=200, e2e_s=(run.figure("e2e_ms", "p50") or 1000.0) / 1000)
    return length.for_load(_load_of(run))


def bottleneck_of(s: Signals) -> tuple[str, str]:
    """The dominant bottleneck and why, in the order a cause hides the next."""
    if s.meets_slo and (s.kv_pressure or 0) < KV_BOUND_SHARE:
        return "none", f"{s.run} meets the SLOs with KV {_pct(s.kv_pressure)} full"
    if s.kv_pressure is not None and s.kv_pressure >= KV_BOUND_SHARE:
        return "kv-capacity", f"{_num(s.in_flight)} requests in flight against {s.kv_capacity} the KV cache holds"
    if s.queue_share is not None and s.queue_share >= QUEUE_BOUND_SHARE:
        return "queue", f"{_pct(s.queue_share)} of E2E is waiting (TTFT grown since the lightest load)"
    ttft, itl = s.ttft_vs_target or 0.0, s.itl_vs_target or 0.0
    if ttft > 1 and ttft >= itl:
        return "prefill", f"TTFT at {ttft:.2f}x its target while ITL is at {itl:.2f}x"
    if itl > 1:
        return "decode", f"ITL at {itl:.2f}x its target while TTFT is at {ttft:.2f}x"
    return "other", "the SLOs are missed for another reason (failed requests, or a figure the run lacks)"


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g}"


def ladder_for(bottleneck: str, dep: Deployment, s: Signals) -> list[Lever]:
    """The levers for a bottleneck in the method's order, with the runtime's knob names and values."""
    batch_name = dep.runtime.knob_roles.get("max_sequences", "max_num_seqs")
    tokens_name = dep.runtime.knob_roles.get("batched_tokens", "max_num_batched_tokens")
    budget_name = dep.runtime.kv_budget_knob
    # the running-batch limit as `planner deploy` configures it: what the KV cache holds, within the engine's
    batch, tokens = scheduler_sequences(dep, s.kv_capacity), int(knob(dep, "batched_tokens"))
    budget = knob(dep, budget_name) if budget_name else None
    fp8_kv = [] if dep.kv_dtype.startswith("fp8") or "fp8" not in dep.runtime.kv_dtypes else [
        Lever("kv-fp8", "runtime", "store the KV cache in fp8 (twice the tokens per GiB)", "kv_cache_dtype",
              dep.kv_dtype, "fp8")]  # fmt: skip
    below_cap = max(int(s.kv_capacity * 0.85), 1)
    later = [
        Lever("hardware", "hardware", "move to a GPU with more HBM and bandwidth (re-plan with it)"),
        Lever("replica", "replicas", "add one replica behind the router"),
        Lever("model", "model", "a smaller or more quantised model (re-plan with it)"),
    ]
    if bottleneck == "prefill":
        first = [Lever("batched-tokens-up", "serving stack", "a larger prefill chunk per step", tokens_name, tokens,
                       tokens * 2)]  # fmt: skip
    elif bottleneck == "decode":
        lower = max(min(batch, round(s.in_flight or batch)) // 2, 1)
        first = [Lever("max-seqs-down", "serving stack", "a smaller running batch: shorter decode steps", batch_name,
                       batch, lower)]  # fmt: skip
    elif bottleneck == "kv-capacity":
        first = [Lever("max-seqs-to-kv", "serving stack", "cap the running batch below what the KV cache holds",
                       batch_name, batch, below_cap)]  # fmt: skip
        if isinstance(budget, int | float) and budget < 0.95:
            first.append(
                Lever(
                    "kv-budget-up",
                    "serving stack",
                    "give the KV cache more of the GPU",
                    budget_name,
                    budget,
                    round(min(budget + 0.03, 0.95), 2),
                )
            )
    elif bottleneck == "queue":
        first = [Lever("batched-tokens-up", "serving stack", "more tokens per step: more throughput per replica",
                       tokens_name, tokens, tokens * 2)]  # fmt: skip
    else:
        return []
    return first + fp8_kv + later


def apply(dep: Deployment, lever: Lever) -> tuple[Deployment, int]:
    """The deployment (and replica count) with a lever pulled, for the simulator."""
    if lever.id == "replica":
        return dep, 2
    if lever.id == "kv-fp8":
        return replace(dep, kv_dtype="fp8"), 1
    if lever.knob:
        return replace(dep, knobs={**dep.knobs, lever.knob: lever.new}), 1
    return dep, 1


def expected_effect(
    plan: Plan, dep: Deployment, model: PerformanceModel, run: MeasuredRun, lever: Lever
) -> dict[str, Any]:
    """The simulated figures at the run's load before and after the lever (none for a re-plan)."""
    changed, replicas = apply(dep, lever)
    if changed is dep and replicas == 1:
        return {"note": "re-plan with the change: the planner sizes it as a new revision"}
    key = slo_key(targets_of(plan))
    before = simulate_plan(plan, dep, model, _load_of(run), duration_s=_seconds(run))
    after = simulate_plan(plan, changed, model, _load_of(run), replicas=replicas, duration_s=_seconds(run))

    def figures(s: dict[str, Any]) -> dict[str, Any]:
        return {
            f"ttft_{key}_ms": s["ttft_ms"][key],
            f"itl_{key}_ms": s["itl_ms"][key],
            "e2e_p50_ms": s["e2e_ms"]["p50"],
            "output_tok_s": s["output_tok_s"],
            "meets_slo": s["meets_slo"],
        }

    return {"before": figures(before), "after": figures(after)}


def decide(
    plan: Plan,
    dep: Deployment,
    model: PerformanceModel,
    runs: Sequence[MeasuredRun],
    tried: Sequence[str] = (),
) -> ScalingDecision:
    """The bottleneck and the first lever of its ladder not in ``tried`` (lever ids already decided)."""
    signals, run = read_signals(plan, dep, model, runs)
    bottleneck, why = bottleneck_of(signals)
    ladder = ladder_for(bottleneck, dep, signals)
    fresh = [lever for lever in ladder if lever.id not in tried]
    lever = fresh[0] if fresh else None
    decision = ScalingDecision(bottleneck, why, signals, lever, ladder=ladder, tried=list(tried))
    if lever is not None:
        decision.expected = expected_effect(plan, dep, model, run, lever)
        decision.cost_eur_per_year = _cost(plan, dep, lever)
    return decision


def _cost(plan: Plan, dep: Deployment, lever: Lever) -> float | None:
    """Yearly cost of the lever: a replica's GPUs for ``replicas``, nothing for a knob."""
    if lever.family in ("serving stack", "runtime"):
        return 0.0
    if lever.family == "replicas":
        return yearly_cost_eur(dep.gpu, dep.gpus, cost_assumptions(plan.costs, dep.model.id))
    return None
