"""The simulation commands of the command line: simulate, envelope, mix.

Kept apart from :mod:`planner.cli` so the main module stays small; imported only when
one of these commands runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from planner.cli import _backend, _load, _print_json


def _chosen(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Load, resolve and size a plan; return (plan, chosen fleet sizing, catalog)."""
    from planner.errors import PlannerError
    from planner.planfile import load_plan
    from planner.resolve import resolve_plan
    from planner.sizing.plan_sizing import size_plan

    _, catalog = _load(args)
    resolved = resolve_plan(load_plan(args.file), catalog, str(args.file))
    sizing = size_plan(resolved, catalog, performance=_backend(args, catalog))
    if sizing.best is None:
        raise PlannerError(
            "no configuration meets the SLOs on both axes, so there is nothing to simulate",
            path=str(args.file),
            fix="run `planner plan` to see what each candidate misses",
        )
    return resolved.plan, sizing.best.sizing, catalog


def simulate(args: argparse.Namespace) -> int:
    """``planner simulate PLAN``: percentiles with the queue for the chosen deployment."""
    import math

    from planner.envelope import LoadSpec, disaggregation, fleet_check, simulate_plan
    from planner.tco import yearly_cost_eur

    plan, fleet, catalog = _chosen(args)
    dep = fleet.deployment
    mode = args.mode or ("closed" if args.concurrency else "open")
    rate = args.rate
    if mode == "open" and rate is None:
        op = fleet.operating_point
        per_replica = op.timing.batch / (op.e2e_ms / 1000) if op and op.timing else 1.0
        rate = per_replica * args.replicas
    load = LoadSpec(
        mode,
        rate=rate,
        concurrency=args.concurrency or fleet.per_replica * args.replicas,
        arrival=args.arrival,
        cv=args.cv,
        peak_factor=plan.traffic.peak_factor,
        think_s=args.think,
    )
    summary = simulate_plan(
        plan,
        dep,
        load,
        replicas=args.replicas,
        duration_s=args.duration,
        seed=args.seed,
        router=args.router,
        lengths=args.lengths,
    )
    summary["deployment"] = dep.label
    if args.failure:
        peak = (fleet.operating_point.timing.batch / (fleet.operating_point.e2e_ms / 1000)) * fleet.replicas_for_load
        summary["failure"] = fleet_check(
            plan, dep, fleet.replicas, fleet.spares, peak, duration_s=args.duration, seed=args.seed
        )
    if args.disaggregated and mode == "open" and rate:
        decode_dep = dep
        if args.decode_gpu:
            from dataclasses import replace

            decode_dep = replace(dep, gpu=catalog.gpus.get(args.decode_gpu))
        gpus = max(args.replicas * dep.gpus, 2)
        splits = []
        for prefill in range(1, gpus // dep.gpus):
            decode = gpus // dep.gpus - prefill
            splits.append(
                disaggregation(
                    plan,
                    dep,
                    decode_dep,
                    rate,
                    prefill,
                    decode,
                    plan.serving_stack.kv_transport or "nixl",
                    duration_s=args.duration,
                    seed=args.seed,
                )
            )
        for split in splits:
            yearly = (yearly_cost_eur(dep.gpu, split["prefill_gpus"]) or 0) + (
                yearly_cost_eur(decode_dep.gpu, split["decode_gpus"]) or 0
            )
            split["goodput_per_keur_year"] = split["goodput_req_s"] / (yearly / 1000) if yearly else None
        best = max(splits, key=lambda s: s["goodput_per_gpu"]) if splits else None
        aggregated = summary["goodput_req_s"] / max(summary["gpus"], 1)
        agg_yearly = yearly_cost_eur(dep.gpu, summary["gpus"])
        summary["goodput_per_keur_year"] = summary["goodput_req_s"] / (agg_yearly / 1000) if agg_yearly else None
        summary["disaggregated"] = best
        if best:
            gain = best["goodput_per_gpu"] / aggregated - 1 if aggregated else math.inf
            per_eur = ""
            if best.get("goodput_per_keur_year") and summary.get("goodput_per_keur_year"):
                eur_gain = best["goodput_per_keur_year"] / summary["goodput_per_keur_year"] - 1
                per_eur = f"; per EUR {'disaggregated' if eur_gain > 0 else 'aggregated'} wins by {abs(eur_gain):.0%}"
            summary["disaggregation_verdict"] = (
                f"{'disaggregated' if gain > 0 else 'aggregated'} wins on goodput per GPU by {abs(gain):.0%}: "
                f"{best['goodput_per_gpu']:.3f} vs {aggregated:.3f} good requests/s per GPU{per_eur}"
            )
    if args.json:
        _print_json(summary)
    else:
        print(_simulation_text(summary))
    return 0


def _simulation_text(s: dict[str, Any]) -> str:
    lines = [
        f"{s['deployment']}: {s['replicas']} replica(s), {s['gpus']} GPU(s); load {s['load']}",
        f"requests measured {s['requests']}, dropped {s['dropped']}, unfinished {s['unfinished']}, "
        f"preemptions {s['preemptions']}",
    ]
    for name in ("ttft_ms", "itl_ms", "e2e_ms"):
        d = s[name]
        lines.append(
            f"{name[:-3].upper():5s} p50 {d['p50']:9,.1f}  p90 {d['p90']:9,.1f}  "
            f"p95 {d['p95']:9,.1f}  p99 {d['p99']:9,.1f} ms"
        )
    lines.append(
        f"throughput {s['throughput_req_s']:.3f} req/s, {s['output_tok_s']:,.0f} output tok/s; goodput "
        f"{s['goodput_share']:.1%} of requests ({s['goodput_req_s']:.3f} req/s)"
    )
    lines.append(
        f"KV use mean {s['kv_utilisation']['mean']:.0%} max {s['kv_utilisation']['max']:.0%}; "
        f"batch mean {s['batch']['mean']:.1f} max {s['batch']['max']}"
    )
    lines.append("meets the SLOs" if s["meets_slo"] else "misses the SLOs")
    if s.get("failure"):
        f = s["failure"]
        lines.append(
            f"fleet at peak: {f['all_up']['replicas']} replicas "
            f"{'meet' if f['all_up']['meets_slo'] else 'miss'} the SLOs; "
            f"with spares down ({f['spares_down']['replicas']} left) they "
            f"{'still meet them' if f['survives_failure'] else 'miss them: N+1/N+2 fails'}"
        )
    if s.get("disaggregation_verdict"):
        lines.append(
            f"P/D: {s['disaggregated']['prefill']} + {s['disaggregated']['decode']}: {s['disaggregation_verdict']}"
        )
    return "\n".join(lines)


def envelope(args: argparse.Namespace) -> int:
    """``planner envelope PLAN``: Cr_closed, Cr_open and the latency-vs-load curve."""
    from planner.envelope import envelopes
    from planner.render import table

    plan, fleet, _ = _chosen(args)
    progress = None if args.json or args.csv or not sys.stderr.isatty() else (lambda m: print(m, file=sys.stderr))
    result = envelopes(plan, fleet.deployment, duration_s=args.duration, seed=args.seed, progress=progress)
    if args.json:
        _print_json(result)
        return 0
    columns = [
        "mode",
        "load",
        "meets_slo",
        "ttft_p50_ms",
        "ttft_p95_ms",
        "itl_p95_ms",
        "e2e_p50_ms",
        "e2e_p95_ms",
        "output_tok_s",
        "goodput_share",
    ]
    if args.csv:
        print(",".join(columns))
        for point in result["curve"]:
            print(",".join(str(point[c]) for c in columns))
        return 0
    print(f"{result['deployment']}")
    print(f"Cr_closed = {result['cr_closed']} concurrent requests (closed loop, per replica)")
    print(f"Cr_open   = {result['cr_open_req_s']:.3f} requests/s (open loop, queue included, per replica)")
    rows = [[p[c] if not isinstance(p[c], float) else f"{p[c]:,.1f}" for c in columns] for p in result["curve"]]
    print(table(columns, rows))
    return 0


def mix(args: argparse.Namespace) -> int:
    """``planner mix PLAN``: cheapest assignment of request-size buckets to GPU classes."""
    from planner.envelope import class_throughput, heterogeneous_mix, size_buckets
    from planner.planfile import load_plan
    from planner.resolve import resolve_plan
    from planner.sizing.search import candidate_deployments
    from planner.tco import yearly_cost_eur

    _, catalog = _load(args)
    performance = _backend(args, catalog)
    resolved = resolve_plan(load_plan(args.file), catalog, str(args.file))
    plan = resolved.plan
    buckets = size_buckets(plan, args.buckets)
    by_gpu: dict[str, list[Any]] = {}
    for dep in candidate_deployments(dataclasses.replace(resolved, gpu=None), catalog):
        by_gpu.setdefault(dep.gpu.id, []).append(dep)
    classes = []
    for gpu_id, deps in sorted(by_gpu.items()):
        yearly = yearly_cost_eur(deps[0].gpu, 1)
        if yearly is not None:
            classes.append((gpu_id, yearly / 8760, class_throughput(plan, deps, performance)))
    if not classes:
        from planner.errors import PlannerError

        raise PlannerError(
            "no GPU class the plan allows has a price hint, so there is no cost to minimise",
            path=str(args.file),
            fix="unpin hardware.gpu or add price hints to the GPU catalog",
        )
    result = heterogeneous_mix(buckets, classes)
    result["buckets"] = [{"bucket": n, "requests_per_s": r, "isl_p95": i, "osl_p95": o} for n, r, i, o in buckets]
    if args.json:
        _print_json(result)
        return 0
    for b in result["buckets"]:
        print(
            f"bucket {b['bucket']:>16s}: {b['requests_per_s']:.3f} req/s, "
            f"p95 {b['isl_p95']:,} in / {b['osl_p95']:,} out"
            f" -> {result['mix'].get(b['bucket'], '-')}"
        )
    print(f"mix: {result['mix_gpus']} at {result['mix_eur_per_hour']:.2f} EUR/hour")
    print(f"best single class: {result['best_single_class']} at {result['single_eur_per_hour']:.2f} EUR/hour")
    if result["saving"] is not None:
        print(f"saving of the mix: {result['saving']:.1%} (EUR per 1M tokens falls by the same share)")
    return 0
