"""The simulation commands of the command line: simulate, envelope, mix.

Kept apart from :mod:`planner.cli` so the main module stays small; like it, each command
parses, calls one workflow and prints what it returns.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_simulation_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``simulate``, ``envelope`` and ``mix`` on the command line's sub-parsers."""
    from planner.cli import add_backend_option, bounded
    from planner.limits import BUCKETS, CONCURRENCY, CV, DURATION, RATE, REPLICAS, SEED, THINK

    p = sub.add_parser(
        "simulate", parents=[common], help="simulate the plan's fleet at its peak (or another load) with the queue"
    )
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--mode", choices=["open", "closed"], default=None, help="open loop (rate) or closed loop (users)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--rate", type=bounded(RATE), help="requests/s for the whole fleet (open loop)")
    load.add_argument("--concurrency", type=bounded(CONCURRENCY), help="users in the closed loop")
    p.add_argument("--replicas", type=bounded(REPLICAS), help="replicas behind the router (default: the plan's)")
    p.add_argument("--router", choices=["least-outstanding", "round-robin"], default="least-outstanding")
    p.add_argument("--arrival", choices=["poisson", "gamma", "daily"], default="poisson")
    p.add_argument("--cv", type=bounded(CV), default=2.0, help="coefficient of variation of gamma arrivals")
    p.add_argument("--think", type=bounded(THINK), default=0.0, help="closed loop think time, seconds")
    p.add_argument("--lengths", type=Path, help="replay input/output token counts from a JSONL or CSV file")
    p.add_argument(
        "--duration",
        type=bounded(DURATION),
        help="seconds of arrivals (default: as long as the plan's decision ran it)",
    )
    p.add_argument("--seed", type=bounded(SEED), default=0, help="random seed of the run")
    p.add_argument("--disaggregated", action="store_true", help="compare with separate prefill/decode pools")
    p.add_argument("--decode-gpu", metavar="ID", help="GPU class of the decode pool (default: the same)")
    p.add_argument("--failure", action="store_true", help="run the sized fleet at peak, then with N+1/N+2 spares down")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    p.set_defaults(handler=cmd_simulate)

    p = sub.add_parser("envelope", parents=[common], help="Cr_closed, Cr_open and the latency-vs-load curve")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument(
        "--duration",
        type=bounded(DURATION),
        help="simulated seconds of every run (default: long enough for its requests)",
    )
    p.add_argument("--seed", type=bounded(SEED), default=0, help="random seed of the run")
    p.add_argument("--csv", action="store_true", help="print the curve as CSV")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    p.set_defaults(handler=cmd_envelope)

    p = sub.add_parser("mix", parents=[common], help="cheapest mix of GPU classes by request size")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--buckets", type=bounded(BUCKETS), default=3, help="request-size buckets (default 3)")
    p.add_argument(
        "--write-plans",
        metavar="DIR",
        type=Path,
        help="write the plan of each pool of the mix into DIR (`planner plan` on each gives its fleet)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    p.set_defaults(handler=cmd_mix)


def cmd_simulate(args: argparse.Namespace) -> int:
    """``planner simulate PLAN``: percentiles with the queue for the chosen deployment."""
    from planner import workflows
    from planner.cli import open_session, print_json
    from planner.render import simulation_text

    session = open_session(args)
    request = workflows.SimulationRequest(
        mode=args.mode,
        rate=args.rate,
        concurrency=args.concurrency,
        replicas=args.replicas,
        router=args.router,
        arrival=args.arrival,
        cv=args.cv,
        think_s=args.think,
        lengths=args.lengths,
        duration_s=args.duration,
        seed=args.seed,
        failure=args.failure,
        disaggregated=args.disaggregated,
        decode_gpu=args.decode_gpu,
        backend=args.perf_backend,
    )
    report = workflows.simulate(session, workflows.read_plan(args.file), str(args.file), request)
    if args.json:
        print_json(report.to_json())
    else:
        print(simulation_text(report))
    return 0


def cmd_envelope(args: argparse.Namespace) -> int:
    """``planner envelope PLAN``: Cr_closed, Cr_open and the latency-vs-load curve."""
    from planner import workflows
    from planner.cli import open_session, print_json, progress, styled
    from planner.render import envelope_csv, envelope_text

    session = open_session(args)
    plan = workflows.read_plan(args.file)
    with progress(args) as bar:
        report = workflows.envelope(
            session,
            plan,
            str(args.file),
            duration_s=args.duration,
            seed=args.seed,
            backend=args.perf_backend,
            progress=bar,
        )
    if args.json:
        print_json(report.to_json())
    elif args.csv:
        print(envelope_csv(report))
    else:
        print(envelope_text(report, styled=styled(args)))
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    """``planner mix PLAN``: cheapest assignment of request-size buckets to GPU classes."""
    from planner import workflows
    from planner.cli import open_session, print_json, progress
    from planner.render import mix_text

    session = open_session(args)
    plan = workflows.read_plan(args.file)
    with progress(args) as bar:
        report = workflows.mix(
            session, plan, str(args.file), buckets=args.buckets, backend=args.perf_backend, progress=bar
        )
    written = workflows.write_pool_plans(report, args.write_plans) if args.write_plans else []
    if args.json:
        print_json({**report.to_json(), "pool_plans": [str(path) for path in written]})
    else:
        print(mix_text(report))
        for path in written:
            print(f"wrote {path}")
    return 0
