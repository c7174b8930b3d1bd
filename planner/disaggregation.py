"""Disaggregated serving: separate prefill and decode pools with the KV cache moved between them.

:func:`disaggregation` simulates one split (prefill replicas, decode replicas, a KV
transport); :func:`compare_disaggregation` sweeps every split of the same GPUs and says
whether disaggregated or aggregated serving gives more good requests per GPU and per EUR.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from planner.catalogfiles import load_entries
from planner.perfmodel import PerformanceModel
from planner.plan import Plan
from planner.plan_simulation import DEFAULT_DURATION_S, context_of, make_replicas, targets_of, workload_of
from planner.simulate import (
    SimResult,
    TokenGaps,
    Workload,
    distribution_ms,
    percentile,
    poisson_arrivals,
    replica_use,
    run,
)
from planner.sizing.capacity import kv_bytes_per_sequence
from planner.sizing.deployment import Deployment
from planner.tco import yearly_cost_eur

#: Per-GPU bandwidth and latency of each KV transport between pools, with sources.
TRANSPORTS_FILE = "physics/kv-transports.yaml"


@cache
def transports() -> dict[str, tuple[float, float]]:
    """(GB/s per GPU, latency in seconds) of every KV transport in the catalog."""
    return {e["id"]: (float(e["gb_s"]), float(e["latency_s"])) for e in load_entries(TRANSPORTS_FILE)}


def kv_transfer_s(prefill: Deployment, decode: Deployment, tokens: int, transport: str) -> float:
    """Time to move one request's KV cache from a prefill replica to a decode replica (every GPU
    of both sides at once).

    The side whose GPUs each hold the larger slice sets the pace: a TP2 prefill replica sends
    half the KV from each GPU even when a TP8 decode replica takes an eighth on each. Between
    pools of different TP the slices are re-cut (NIXL and Mooncake move each head range to the
    rank that owns it), so each GPU of the narrower side exchanges with wider/narrower peers one
    after another: one set-up latency per peer, an estimate (no published per-message figure).
    """
    gb_s, latency_s = transports()[transport]
    slowest_side_bytes = max(kv_bytes_per_sequence(prefill, tokens), kv_bytes_per_sequence(decode, tokens))
    peers = math.ceil(max(prefill.tp, decode.tp) / min(prefill.tp, decode.tp))
    return slowest_side_bytes / (gb_s * 1e9) + latency_s * peers


def disaggregation(
    plan: Plan,
    prefill_pool: tuple[Deployment, PerformanceModel],
    decode_pool: tuple[Deployment, PerformanceModel],
    rate: float,
    prefill_replicas: int,
    decode_replicas: int,
    transport: str,
    *,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
) -> dict[str, Any]:
    """Separate prefill and decode pools with KV transfer between them, at ``rate`` requests/s.

    Prefill replicas run the prompts; each request's KV then crosses ``transport``; a decode
    replica holds that KV (its prompt arrives cached) and makes the client's tokens, the first
    once the KV has arrived and a decode slot takes it. With ``decode_replicas=0`` only the
    prefill pool runs and only its TTFT is returned (``at_percentile_ms["ttft"]``,
    ``worst_ratio``: a floor under the client's, :func:`prefill_ttft`). Each pool is a
    deployment with the model that times it. Returns percentiles, goodput per GPU, and the transfer time.
    """
    first = prefill_stage(plan, prefill_pool, rate, prefill_replicas, duration_s=duration_s, seed=seed)
    if decode_replicas == 0:  # the prefill pool alone: its TTFT does not depend on the decode pool
        return prefill_ttft(plan, first)
    return decode_stage(plan, first, decode_pool, decode_replicas, transport, seed=seed)


@dataclass(frozen=True)
class PrefillStage:
    """The prefill pool's run at a rate: the request lengths drawn and the prompts it served (the
    decode pool's arrivals follow from them, so one stage serves every decode pool tried after it)."""

    deployment: Deployment
    replicas: int
    rate_req_s: float
    duration_s: float
    lengths: list[tuple[int, int]]
    result: SimResult


def prefill_stage(
    plan: Plan,
    prefill_pool: tuple[Deployment, PerformanceModel],
    rate: float,
    replicas: int,
    *,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
    lengths: list[tuple[int, int]] | None = None,
) -> PrefillStage:
    """Run the prefill pool alone at ``rate`` requests/s (Poisson arrivals, the plan's lengths).

    :param lengths: the requests' lengths, as :func:`stage_lengths` draws them for the same
        arguments (a search over pool sizes draws them once); None draws them here.
    """
    prefill, prefill_model = prefill_pool
    if lengths is None:
        lengths = stage_lengths(plan, prefill, rate, duration_s, seed)
    served = workload_of(plan, prefill)  # (its prefix cache, as an aggregated replica has it)
    prompts = Workload(_replay([(isl, 1) for isl, _ in lengths]), served.shared_prefix_tokens, served.prefix_hit_rate)
    first = run(
        make_replicas(prefill, prefill_model, replicas, context_of(plan)),
        prompts,
        duration_s=duration_s,
        seed=seed,
        # arrivals end with the lengths drawn, however long the window's last prompt waits
        gaps=itertools.islice(poisson_arrivals(rate, random.Random(seed + 2)), len(lengths) - 1),
    )
    return PrefillStage(prefill, replicas, rate, duration_s, lengths, first)


def stage_lengths(plan: Plan, prefill: Deployment, rate: float, duration_s: float, seed: int) -> list[tuple[int, int]]:
    """The (input, output) lengths of the requests a prefill stage at ``rate`` serves, in arrival order."""
    rng = random.Random(seed + 1)
    sampler = workload_of(plan, prefill).lengths
    return [sampler(rng) for _ in range(int(rate * duration_s * 1.5) + 10)]


def prefill_ttft(plan: Plan, stage: PrefillStage) -> dict[str, Any]:
    """The prefill pool's TTFT at the SLO's percentile and its ratio to the target: a floor under
    the client's TTFT, which adds the KV's transfer and the decode pool's first step."""
    return _prefill_only(stage.result, stage.duration_s, targets_of(plan))


def decode_stage(
    plan: Plan,
    first: PrefillStage,
    decode_pool: tuple[Deployment, PerformanceModel],
    decode_replicas: int,
    transport: str,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """The decode pool fed by ``first``'s prompts, each after its KV crossed ``transport``: the
    percentiles of both pools together, goodput per GPU and the transfer time (see :func:`disaggregation`)."""
    prefill, prefill_replicas, duration_s, lengths = first.deployment, first.replicas, first.duration_s, first.lengths
    decode, decode_model = decode_pool
    served = first.result.requests
    # the prompts after the prefill pool's window go on to decode too: load, not measured
    fed = served + first.result.tail
    # each prompt length's KV transfer, worked out once (thousands of prompts, few lengths)
    moves: dict[int, float] = {}
    for r in fed:
        if r.isl not in moves:
            moves[r.isl] = kv_transfer_s(prefill, decode, r.isl, transport)
    handoffs = sorted(((r.finish_s or 0.0) + moves[r.isl], r.id, r) for r in fed)
    times = [0.0, *[t for t, _, _ in handoffs]]
    # the client's tokens all come from the decode pool, the first once the KV has arrived and a decode
    # slot takes it: the stacks' proxies send the prompt to a prefill engine for one token, which they
    # drop (vLLM's disagg_prefill_proxy_server, llm-d's routing sidecar), or hand that token over with
    # the KV (SGLang), and stream the decode engine's response
    decode_lengths = [lengths[request_id] for _, request_id, _ in handoffs]
    cached = Workload(lengths=_replay(decode_lengths), kv_handed_over=True)
    second = run(
        make_replicas(decode, decode_model, decode_replicas, context_of(plan)),
        cached,
        duration_s=times[-1] + 1e-6,
        seed=seed,
        gaps=iter([b - a for a, b in itertools.pairwise(times)]),
        warmup_s=0.0,
    )
    finished = {r.id: r for r in second.requests}
    targets = targets_of(plan)
    ttfts, e2es, tpots, good, output_tokens = [], [], [], 0, 0
    window = duration_s * 0.9
    measured = [
        (p, d)
        for order, (_handoff, _, p) in enumerate(handoffs)
        if (d := finished.get(order)) is not None and duration_s * 0.1 <= p.arrival_s <= duration_s
    ]
    token_gaps = TokenGaps([d for _, d in measured])
    for p, d in measured:
        # the front end sits before the prefill pool: its share is the prefill replicas'
        ttft = (d.first_token_s or 0.0) - p.arrival_s + first.result.frontend_s
        e2e = (d.finish_s or 0.0) - p.arrival_s + first.result.frontend_s
        itl = token_gaps.request_mean_s(d)
        if d.gap_runs:
            tpots.append(itl)
        ttfts.append(ttft)
        e2es.append(e2e)
        output_tokens += d.osl
        checks = ((targets.ttft_s, ttft), (targets.itl_s, itl), (targets.e2e_s, e2e))
        good += all(t is None or v <= t for t, v in checks)
    gpus = prefill_replicas * prefill.gpus + decode_replicas * decode.gpus
    transfer = [moves[r.isl] for r in served]
    q = min(max(targets.percentile, 50), 99.9)
    ordered = {"ttft": sorted(ttfts), "e2e": sorted(e2es), "tpot": sorted(tpots)}  # once each, for several percentiles

    def at_ms(name: str, at: float) -> float:
        return (token_gaps.percentile_s(at) if name == "itl" else percentile(ordered[name], at, ordered=True)) * 1000

    at_q = {name: at_ms(name, q) for name in ("ttft", "itl", "e2e")}
    if tpots:  # an ITL target holds for the gaps and for each request's mean gap (simulate.slo_figure_ms)
        at_q["itl"] = max(at_q["itl"], at_ms("tpot", q))
    ratios = [
        at_q[name] / (target * 1000)
        for name, target in (("ttft", targets.ttft_s), ("itl", targets.itl_s), ("e2e", targets.e2e_s))
        if target is not None
    ]
    use = replica_use(second)
    return {
        "prefill": f"{prefill_replicas} x {prefill.label}",
        "decode": f"{decode_replicas} x {decode.label}",
        "transport": transport,
        "gpus": gpus,
        "prefill_gpus": prefill_replicas * prefill.gpus,
        "decode_gpus": decode_replicas * decode.gpus,
        "requests": len(ttfts),
        "ttft_p95_ms": at_ms("ttft", 95),
        "itl_p95_ms": at_ms("itl", 95),
        "itl_p99_ms": at_ms("itl", 99),
        "e2e_p95_ms": at_ms("e2e", 95),
        "goodput_req_s": good / window,
        "goodput_per_gpu": good / window / gpus,
        "output_tok_s": output_tokens / window,
        "kv_transfer_ms_mean": sum(transfer) / max(len(transfer), 1) * 1000,
        "percentile": q,
        "at_percentile_ms": at_q,
        "worst_ratio": max(ratios, default=0.0) if ttfts else math.inf,
        "meets_slo": bool(ttfts) and max(ratios, default=0.0) <= 1,
        # the same fields as a single fleet's summary (planner.simulate.summarise), for `planner simulate`
        "ttft_ms": distribution_ms(ttfts, ordered["ttft"]),
        "itl_ms": token_gaps.distribution_ms(),
        "tpot_ms": distribution_ms(tpots, ordered["tpot"]),
        "e2e_ms": distribution_ms(e2es, ordered["e2e"]),
        "throughput_req_s": len(ttfts) / window,
        "goodput_share": good / len(ttfts) if ttfts else 0.0,
        "dropped": len(first.result.dropped) + len(second.dropped),
        "unfinished": len(second.unfinished),
        "preemptions": use["preemptions"],
        "kv_utilisation": use["kv_utilisation"],
        "batch": use["batch"],
        "replicas": prefill_replicas + decode_replicas,
        "load": {"mode": "open", "rate": first.rate_req_s, "concurrency": None, "arrival": "poisson"},
    }


def _prefill_only(first: Any, duration_s: float, targets: Any) -> dict[str, Any]:
    """TTFT of the prefill pool alone (after the warm-up), at the SLO's percentile."""
    ttfts = [
        (r.finish_s or 0.0) - r.arrival_s + first.frontend_s for r in first.requests if r.arrival_s >= duration_s * 0.1
    ]
    q = min(max(targets.percentile, 50), 99.9)
    at = percentile(ttfts, q) * 1000 if ttfts else math.inf
    ratio = at / (targets.ttft_s * 1000) if targets.ttft_s and ttfts else (math.inf if not ttfts else 0.0)
    return {
        "requests": len(ttfts),
        "at_percentile_ms": {"ttft": at},
        "worst_ratio": ratio,
        "dropped": len(first.dropped),
    }


def _replay(pairs: list[tuple[int, int]]) -> Any:
    """A length sampler that returns ``pairs`` in order."""
    queue = iter(pairs)

    def draw(_rng: random.Random) -> tuple[int, int]:
        return next(queue, pairs[-1])

    return draw


@dataclass(frozen=True)
class DisaggregationComparison:
    """Every split of the same GPUs into prefill and decode pools against the aggregated fleet."""

    splits: list[dict[str, Any]]
    best: dict[str, Any] | None
    aggregated_goodput_per_gpu: float
    aggregated_goodput_per_keur_year: float | None
    verdict: str


def compare_disaggregation(
    plan: Plan,
    prefill_pool: tuple[Deployment, PerformanceModel],
    decode_pool: tuple[Deployment, PerformanceModel],
    rate: float,
    aggregated: dict[str, Any],
    transport: str,
    *,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
) -> DisaggregationComparison:
    """Sweep the splits of the aggregated fleet's GPUs into prefill and decode pools at ``rate``.

    :param prefill_pool: the aggregated fleet's deployment and model (prefill runs on it).
    :param decode_pool: the decode pool's deployment (another GPU class, or the same) and model.
    :param aggregated: the aggregated fleet's simulation summary at the same rate (its
        ``replicas``, ``gpus`` and ``goodput_req_s``).
    :returns: every split with its goodput per GPU and per thousand EUR a year (catalog
        price hints, default cost assumptions), the best split by goodput per GPU, and a
        one-line verdict.
    """
    dep, decode_dep = prefill_pool[0], decode_pool[0]
    gpus = max(aggregated["replicas"] * dep.gpus, 2)
    splits = []
    for prefill in range(1, gpus // dep.gpus):
        decode = gpus // dep.gpus - prefill
        split = disaggregation(
            plan, prefill_pool, decode_pool, rate, prefill, decode, transport, duration_s=duration_s, seed=seed
        )
        yearly = (yearly_cost_eur(dep.gpu, split["prefill_gpus"]) or 0) + (
            yearly_cost_eur(decode_dep.gpu, split["decode_gpus"]) or 0
        )
        split["goodput_per_keur_year"] = split["goodput_req_s"] / (yearly / 1000) if yearly else None
        splits.append(split)
    best = max(splits, key=lambda s: s["goodput_per_gpu"]) if splits else None
    per_gpu = aggregated["goodput_req_s"] / max(aggregated["gpus"], 1)
    agg_yearly = yearly_cost_eur(dep.gpu, aggregated["gpus"])
    per_keur = aggregated["goodput_req_s"] / (agg_yearly / 1000) if agg_yearly else None
    return DisaggregationComparison(splits, best, per_gpu, per_keur, _verdict(best, per_gpu, per_keur))


def _verdict(best: dict[str, Any] | None, per_gpu: float, per_keur: float | None) -> str:
    """Which serving mode wins on goodput per GPU, and per EUR where both are priced."""
    if not best:
        return ""
    gain = best["goodput_per_gpu"] / per_gpu - 1 if per_gpu else math.inf
    per_eur = ""
    if best.get("goodput_per_keur_year") and per_keur:
        eur_gain = best["goodput_per_keur_year"] / per_keur - 1
        per_eur = f"; per EUR {'disaggregated' if eur_gain > 0 else 'aggregated'} wins by {abs(eur_gain):.0%}"
    return (
        f"{'disaggregated' if gain > 0 else 'aggregated'} wins on goodput per GPU by {abs(gain):.0%}: "
        f"{best['goodput_per_gpu']:.3f} vs {per_gpu:.3f} good requests/s per GPU{per_eur}"
    )
