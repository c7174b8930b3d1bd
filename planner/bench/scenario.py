"""What to benchmark for a plan (step 10 before measuring): loads, request shape, run lengths, commands.

The plan's SLO profile picks the scenario (``Slo.effective_scenario``): latency-first runs
open-loop Poisson arrivals at the target and peak rates; throughput-first a closed-loop
concurrency sweep; full envelope both. The request shape is the plan's input and output
lengths, drawn by the tools around their mean (that of the log-normal lengths through the plan's
p50 and p95, which the simulator and the baseline's predictions draw) with a spread that reaches
the p95. Each point runs long enough for a stable p99
(:data:`MIN_REQUESTS` requests after a warm-up of :data:`WARMUP_SHARE`), and the command
lines of ``vllm bench serve``, GuideLLM and AIPerf carry the same shape and loads, so their
results import (``planner bench import``) into comparable runs.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from typing import Any

from planner.plan import Plan
from planner.traffic import Z95, demand_of, mean_lengths

#: Requests per load point: at 200, the p99 rests on the two slowest requests, the least that
#: is not one outlier; more when the rate allows two minutes of arrivals.
MIN_REQUESTS = 200
OPEN_LOOP_S = 120.0
#: Share of each point's requests sent first and not measured (caches, CUDA graphs, batch ramp-up).
WARMUP_SHARE = 0.1
#: A concurrency sweep goes to twice the concurrency the plan expects per endpoint, to see the knee above it.
SWEEP_BEYOND = 2.0


@dataclass(frozen=True)
class Shape:
    """Input and output tokens per request: the median, the p95, and the mean the tools draw around.

    The benchmark tools draw normal (GuideLLM, AIPerf) or uniform (vLLM) lengths, not log-normal
    ones: centred on the median they would send lighter requests than the plan's (use case 4: mean
    12,000 input and 1,500 output tokens against the plan's 14,014 and 1,792), and the baseline,
    which predicts the plan's requests at the run's load, would read the difference as the model's
    error. Centred on the mean with a spread that reaches the p95, they carry the plan's tokens and
    its tail; their median is then the mean, not the plan's."""

    input_p50: int
    input_p95: int
    output_p50: int
    output_p95: int
    #: Mean tokens of the plan's log-normal lengths (:func:`planner.traffic.mean_lengths`): what the tools draw around.
    input_mean: int
    output_mean: int

    @property
    def input_stdev(self) -> int:
        """A normal spread around :attr:`input_mean` that reaches the p95."""
        return round(max(self.input_p95 - self.input_mean, 0) / Z95)

    @property
    def output_stdev(self) -> int:
        """As :attr:`input_stdev`, for output tokens."""
        return round(max(self.output_p95 - self.output_mean, 0) / Z95)

    def range_ratio(self, center: int, p95: int) -> float:
        """vLLM's ``--random-range-ratio``: uniform in [c(1-r), c(1+r)] has its p95 at c(1+0.9r)."""
        return round(min(max(p95 / center - 1, 0.0) / 0.9, 0.95), 2) if center else 0.0


@dataclass(frozen=True)
class LoadPoint:
    """One load to run: mode and level, requests measured, warm-up requests, about how long."""

    mode: str
    load: float
    requests: int
    warmup: int
    duration_s: float | None
    why: str


@dataclass
class BenchmarkPlan:
    """The scenario, the shape, the load points, and one command per tool and point."""

    scenario: str
    shape: Shape
    points: list[LoadPoint]
    commands: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Every field by name."""
        return {
            "scenario": self.scenario,
            "shape": self.shape.__dict__ | {"input_stdev": self.shape.input_stdev,
                                            "output_stdev": self.shape.output_stdev},
            "points": [p.__dict__ for p in self.points],
            "commands": self.commands,
            "notes": self.notes,
        }  # fmt: skip


def shape_of(plan: Plan) -> Shape:
    """The plan's request shape at p50 and p95 (the worst case where no p95 is given), and its mean."""
    w = plan.workload
    mean_in, mean_out = mean_lengths(w)
    return Shape(
        w.input_tokens.typical,
        w.input_tokens.p95 or w.input_tokens.worst_case,
        w.output_tokens.typical,
        w.output_tokens.p95 or w.output_tokens.worst_case,
        mean_in,
        mean_out,
    )


def _e2e_bound_s(plan: Plan, shape: Shape) -> float:
    """The end-to-end time the SLOs allow the mean request (Little's law's): the E2E target, else
    TTFT + (its output - 1) x ITL."""
    s = plan.slo
    if s.e2e_ms:
        return s.e2e_ms / 1000
    return ((s.ttft_ms or 1000.0) + (shape.output_mean - 1) * (s.itl_ms or 50.0)) / 1000


def open_points(
    plan: Plan, shape: Shape, replicas: int, notes: list[str], mean_e2e_s: float | None = None
) -> list[LoadPoint]:
    """Poisson arrivals at the target and peak rates per endpoint; a plan of users or requests in
    flight turns them into a rate over ``mean_e2e_s`` (Little's law), else over what the SLOs allow."""
    t, demand = plan.traffic, demand_of(plan)
    if t.requests_per_s:
        target, peak = t.requests_per_s, demand.peak_rate_req_s
    else:
        concurrency = demand.peak_concurrency or 1.0
        if mean_e2e_s:
            e2e = mean_e2e_s
            why = (
                f"rates from {concurrency:g} requests in flight over the {e2e:.3g} s the plan's mean request takes "
                "at its operating point (Little's law, as the plan's simulation takes them)"
            )
        else:
            e2e = _e2e_bound_s(plan, shape)
            why = (
                f"rates from {concurrency:g} requests in flight over the {e2e:g} s the SLOs allow (Little's law): "
                "a faster server needs a higher rate to carry the same users"
            )
        peak = concurrency / e2e
        target = peak / t.peak_factor
        notes.append(why)
    points = []
    for rate, why in ((target / replicas, "target rate"), (peak / replicas, "peak rate")):
        requests = max(MIN_REQUESTS, math.ceil(rate * OPEN_LOOP_S))
        points.append(LoadPoint("open", round(rate, 3), requests, _warmup(requests), round(requests / rate, 1), why))
    return points if points[0].load != points[1].load else points[1:]


def closed_points(plan: Plan, shape: Shape, replicas: int) -> list[LoadPoint]:
    """Concurrency 1, 2, 4... to twice the plan's in-flight requests per endpoint."""
    demand = demand_of(plan)
    expected = demand.peak_concurrency or demand.peak_rate_req_s * _e2e_bound_s(plan, shape)
    top = max(8, 2 ** math.ceil(math.log2(max(expected / replicas * SWEEP_BEYOND, 1))))
    levels = [2**i for i in range(int(math.log2(min(top, 1024))) + 1)]
    points = []
    for users in levels:
        requests = max(MIN_REQUESTS, 20 * users)
        points.append(LoadPoint("closed", users, requests, max(_warmup(requests), 2 * users), None, "sweep"))
    return points


def _warmup(requests: int) -> int:
    return max(math.ceil(requests * WARMUP_SHARE), 10)


def benchmark_plan(
    plan: Plan,
    *,
    replicas: int = 1,
    url: str = "http://localhost:8000",
    model: str | None = None,
    mean_e2e_s: float | None = None,
) -> BenchmarkPlan:
    """The loads, shape and command lines that measure ``plan`` (per endpoint of ``replicas`` replicas).

    :param mean_e2e_s: E2E of the plan's mean request at its sized operating point, which turns a
        plan's requests in flight into a rate as its simulation does; None: what the SLOs allow.
    """
    scenario, shape = plan.slo.effective_scenario, shape_of(plan)
    notes: list[str] = []
    points: list[LoadPoint] = []
    if scenario in ("latency-first", "full-envelope"):
        points += open_points(plan, shape, replicas, notes, mean_e2e_s)
    if scenario in ("throughput-first", "full-envelope"):
        points += closed_points(plan, shape, replicas)
    name = model or plan.model.id
    if shape.range_ratio(shape.input_mean, shape.input_p95) >= 0.95:
        notes.append(
            f"vLLM's random lengths are uniform: its widest range around the mean reaches "
            f"{round(shape.input_mean * 1.855)} input tokens at p95, not the plan's {shape.input_p95}; replay real "
            "prompts (--dataset-name custom) to hold it"
        )
    if replicas > 1:
        notes.append(f"loads are per endpoint serving 1/{replicas} of the traffic (one of {replicas} replicas)")
    commands = {
        "vllm bench serve": [_vllm(p, shape, url, name) for p in points],
        "guidellm": _guidellm(points, shape, url, name),
        "aiperf": [_aiperf(p, shape, url, name) for p in points],
    }
    return BenchmarkPlan(scenario, shape, points, commands, notes)


def _join(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _vllm(p: LoadPoint, s: Shape, url: str, model: str) -> str:
    load = ["--request-rate", f"{p.load:g}", "--burstiness", "1.0"] if p.mode == "open" else \
        ["--request-rate", "inf", "--max-concurrency", f"{p.load:g}"]  # fmt: skip
    name = f"{p.mode}-{p.load:g}"
    return _join([
        "vllm", "bench", "serve", "--base-url", url, "--model", model, "--dataset-name", "random",
        "--random-input-len", str(s.input_mean), "--random-output-len", str(s.output_mean),
        "--random-range-ratio", f"{s.range_ratio(s.input_mean, s.input_p95):g}", "--ignore-eos",
        "--num-prompts", str(p.requests), "--num-warmups", str(p.warmup), *load,
        "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,95,99",
        "--save-result", "--save-detailed", "--result-filename", f"vllm-{name}.json",
    ])  # fmt: skip


def _guidellm(points: list[LoadPoint], s: Shape, url: str, model: str) -> list[str]:
    data = (f"prompt_tokens={s.input_mean},prompt_tokens_stdev={s.input_stdev},"
            f"output_tokens={s.output_mean},output_tokens_stdev={s.output_stdev}")  # fmt: skip
    out = []
    for mode, profile in (("open", "poisson"), ("closed", "concurrent")):
        chosen = [p for p in points if p.mode == mode]
        if not chosen:
            continue
        rates = ",".join(f"{p.load:g}" for p in chosen)
        # Open points run for a time, closed ones for a number of requests (the largest point's).
        limit = ["--max-seconds", str(math.ceil(max(p.duration_s or OPEN_LOOP_S for p in chosen)))] \
            if mode == "open" else ["--max-requests", str(max(p.requests for p in chosen))]  # fmt: skip
        out.append(_join([
            "guidellm", "benchmark", "--target", url, "--model", model, "--profile", profile, "--rate", rates,
            "--data", data, *limit, "--warmup", f"{WARMUP_SHARE:g}", "--output-path", f"guidellm-{profile}.json",
        ]))  # fmt: skip
    return out


def _aiperf(p: LoadPoint, s: Shape, url: str, model: str) -> str:
    load = ["--request-rate", f"{p.load:g}"] if p.mode == "open" else ["--concurrency", f"{p.load:g}"]
    folder = f"artifacts/{model.split('/')[-1]}-openai-chat-" + (
        f"request_rate{p.load:g}" if p.mode == "open" else f"concurrency{p.load:g}"
    )
    return _join([
        "aiperf", "profile", "-m", model, "--url", url, "--endpoint-type", "chat", "--streaming",
        "--isl", str(s.input_mean), "--isl-stddev", str(s.input_stdev), "--osl", str(s.output_mean),
        "--osl-stddev", str(s.output_stdev), *load, "--request-count", str(p.requests),
        "--warmup-request-count", str(p.warmup), "--artifact-dir", folder,
    ])  # fmt: skip
