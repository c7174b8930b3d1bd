"""The measurement commands of the command line (steps 10-11): ``bench plan|run|import|envelope|baseline``,
``calibrate`` and ``scale``.

Like the rest of the command line, each command parses, calls one workflow and prints what it
returns.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_bench_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``bench`` and its sub-commands on the command line's sub-parsers."""
    from planner.cli import add_backend_option
    from planner.cli_projects import add_db_option

    bench = sub.add_parser(
        "bench", parents=[common], help="import benchmark results (vLLM, GuideLLM, GenAI-Perf/AIPerf, llmperf)"
    )
    commands = bench.add_subparsers(title="bench commands", metavar="COMMAND")
    bench.set_defaults(handler=lambda args: _help(bench))
    add_scale_command(sub, common)
    add_calibrate_command(sub, common)

    p = commands.add_parser(
        "plan",
        parents=[common],
        help="what to benchmark for a plan: loads, request shape, run lengths, vllm/GuideLLM/AIPerf command lines",
    )
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="replicas behind the URL: loads are divided by it (default: the replicas the plan serves its peak "
        "with, so the loads are one replica's share, as `bench baseline` predicts a run)",
    )
    add_backend_option(p)
    p.add_argument("--url", default="http://localhost:8000", help="the endpoint to load (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_bench_plan)

    add_bench_run_command(commands, common)

    p = commands.add_parser(
        "import",
        parents=[common],
        help="read benchmark result files (format detected) into runs; with --project, store them",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="result files, any supported format")
    p.add_argument("--project", metavar="P", help="store the runs in project P (all files or, on an error, none)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_bench_import)

    p = commands.add_parser(
        "envelope",
        parents=[common],
        help="Cr_closed, Cr_open, goodput and the latency-vs-load curve from measured runs, against the SLOs",
    )
    p.add_argument("source", nargs="+", metavar="PROJECT|FILE", help="a project name, or result files")
    p.add_argument("--plan", type=Path, metavar="FILE", help="take the SLOs from this plan file")
    _add_slo_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_bench_envelope)

    p = commands.add_parser(
        "baseline",
        parents=[common],
        help="make runs the project's baseline (step 10) and compare them with what the plan predicted",
    )
    p.add_argument("project", help="project name")
    p.add_argument("runset", metavar="RUNSET", help="runs: numbers and ranges (1,3,5-8), digest prefixes, or all")
    p.add_argument("--note", default="", help="why this is the baseline (what was deployed, when)")
    p.add_argument(
        "--save", action="store_true", help="store the plan with its measured baseline section as the next revision"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--perf-backend", dest="backend", metavar="NAME", help="performance model of the prediction")
    add_db_option(p)
    p.set_defaults(handler=cmd_bench_baseline)


def add_bench_run_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register ``bench run``: measure an OpenAI-compatible endpoint with the planner's own load generator."""
    from planner.cli_projects import add_db_option

    p = commands.add_parser(
        "run",
        parents=[common],
        help="measure an OpenAI-compatible endpoint (streaming, closed or open loop); with --project, store the runs",
        description="Stream requests to one OpenAI-compatible endpoint at each load level and record TTFT, "
        "ITL, E2E and tokens per request. Only --endpoint is contacted. Ctrl-C stops and keeps what was measured.",
    )
    p.add_argument(
        "--endpoint", required=True, metavar="URL", help="the server (http://host:port), its /v1, or the full URL"
    )
    p.add_argument("--model", required=True, metavar="NAME", help="the model name the server serves")
    loads = p.add_mutually_exclusive_group(required=True)
    loads.add_argument("--concurrency", metavar="N,N,...", type=_numbers, help="closed loop: users in flight per level")
    loads.add_argument(
        "--rate", metavar="R,R,...", type=_numbers, help="open loop: Poisson arrivals per second per level"
    )
    prompts = p.add_mutually_exclusive_group()
    prompts.add_argument(
        "--plan", type=Path, metavar="FILE", help="draw prompt and output lengths from this plan's workload"
    )
    prompts.add_argument(
        "--dataset", type=Path, metavar="FILE", help='JSON Lines prompts: {"prompt": "...", "max_tokens": 128}'
    )
    for flag, kind, default, metavar, text in _NUMBER_OPTIONS:
        p.add_argument(flag, type=kind, default=default, metavar=metavar, help=f"{text} (default %(default)s)")
    p.add_argument(
        "--api", choices=["chat", "completions"], default="chat", help="the API to call (default %(default)s)"
    )
    p.add_argument(
        "--ignore-eos",
        action="store_true",
        help="ask the server to generate exactly max_tokens (vLLM, SGLang, llama.cpp)",
    )
    p.add_argument("--project", metavar="P", help="store the runs in project P")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_bench_run)


#: The numeric options of ``bench run``: flag, type, default, metavar, help.
_NUMBER_OPTIONS: tuple[tuple[str, type, float, str, str], ...] = (
    ("--requests", int, 200, "N", "at most N requests per level"),
    ("--duration", float, 60.0, "S", "no new request after S seconds per level"),
    ("--input-tokens", int, 512, "N", "prompt tokens without --plan or --dataset"),
    ("--output-tokens", int, 128, "N", "max_tokens without --plan (and for dataset lines without one)"),
    ("--timeout", float, 120.0, "S", "a request taking longer fails as a timeout"),
    ("--stall-timeout", float, 30.0, "S", "a stream silent longer fails as stalled"),
)


def _numbers(text: str) -> list[float]:
    """``1,2,4`` as numbers (argparse reports a bad one with the option's name)."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, found {text!r}") from None


def add_scale_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``scale`` (step 11) on the command line's sub-parsers."""
    from planner.cli_projects import add_db_option

    p = sub.add_parser(
        "scale",
        parents=[common],
        help="step 11: the dominant bottleneck in the measured runs and the next lever (stored as a decision)",
    )
    p.add_argument("project", help="project name")
    p.add_argument("--dry-run", action="store_true", help="say what would be decided without recording it")
    p.add_argument("--perf-backend", dest="backend", metavar="NAME", help="performance model of the expected effect")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_scale)


def add_calibrate_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``calibrate`` on the command line's sub-parsers."""
    from planner.cli_projects import add_db_option

    p = sub.add_parser(
        "calibrate",
        parents=[common],
        help="fit the efficiency factors to a project's measured runs and re-size the plan with them",
    )
    p.add_argument("project", help="project name")
    p.add_argument("--dry-run", action="store_true", help="fit and show, but store no revision")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_calibrate)


def _add_slo_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ttft-ms", type=float, help="TTFT target (replaces the plan's)")
    p.add_argument("--itl-ms", type=float, help="ITL target (replaces the plan's)")
    p.add_argument("--e2e-ms", type=float, help="end-to-end target (replaces the plan's)")
    p.add_argument("--percentile", type=float, help="the percentile the targets hold at (default: the plan's, or 95)")


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _show(args: argparse.Namespace, report: Any, text: Callable[[], str]) -> int:
    """Print ``report`` as JSON with ``--json``, else the text ``text()`` renders."""
    from planner.cli import print_json

    if args.json:
        print_json(report.to_json())
    else:
        print(text())
    return 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    """``planner bench run --endpoint URL --model NAME (--concurrency ...|--rate ...)``."""
    from planner import workflows
    from planner.cli import open_session, styled
    from planner.render_bench import measured_runs_text
    from planner.terminal import progress_bar

    mode, loads = ("closed", args.concurrency) if args.concurrency else ("open", args.rate)
    endpoint = workflows.Endpoint(
        args.endpoint, args.model, args.api, request_timeout_s=args.timeout, stall_timeout_s=args.stall_timeout,
        ignore_eos=args.ignore_eos,
    )  # fmt: skip
    request = workflows.LoadRequest(
        endpoint, mode, loads, workflows.Limits(args.requests, args.duration), plan_file=args.plan,
        dataset=args.dataset, input_tokens=args.input_tokens, output_tokens=args.output_tokens,
    )  # fmt: skip
    session = open_session(args)
    with progress_bar(not args.json) as update:
        report = workflows.bench_run(
            session, request, project=args.project, db=args.db, progress=_ticker(update, mode, args.requests)
        )
    return _show(args, report, lambda: measured_runs_text(report, styled=styled(args)))


def _ticker(update: Any, mode: str, requests: int) -> Callable[[float, dict[str, Any]], None] | None:
    """The progress callback for the bar: one bar per load level, with its errors so far."""
    if update is None:
        return None
    counts: dict[float, list[int]] = {}

    def tick(load: float, record: dict[str, Any]) -> None:
        done = counts.setdefault(load, [0, 0])
        done[0] += 1
        done[1] += bool(record.get("error"))
        level = f"c={load:g}" if mode == "closed" else f"{load:g} req/s"
        update(done[0], requests, f"{level}: {done[1]} errors")

    return tick


def cmd_bench_import(args: argparse.Namespace) -> int:
    """``planner bench import FILE... [--project P]``."""
    from planner import workflows
    from planner.cli import open_session, styled
    from planner.render_bench import imported_runs_text

    report = workflows.import_benchmarks(open_session(args), args.files, project=args.project, db=args.db)
    return _show(args, report, lambda: imported_runs_text(report, styled=styled(args)))


#: Result files end so; one argument that does not names a project.
_RESULT_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml", ".csv")


def cmd_bench_envelope(args: argparse.Namespace) -> int:
    """``planner bench envelope PROJECT|FILE...``."""
    from planner import workflows
    from planner.cli import open_session, styled
    from planner.render_bench import measured_envelope_text

    slo = workflows.SloTargets(args.ttft_ms, args.itl_ms, args.e2e_ms, args.percentile)
    project = args.source[0] if len(args.source) == 1 and not args.source[0].endswith(_RESULT_SUFFIXES) else None
    files = [] if project else [Path(f) for f in args.source]
    report = workflows.bench_envelope(
        open_session(args), project=project, files=files, plan_file=args.plan, slo=slo, db=args.db
    )
    return _show(args, report, lambda: measured_envelope_text(report, styled=styled(args)))


def cmd_bench_baseline(args: argparse.Namespace) -> int:
    """``planner bench baseline PROJECT RUNSET``."""
    from planner import workflows
    from planner.cli import open_session, styled
    from planner.render_bench import baseline_text

    report = workflows.bench_baseline(
        open_session(args), args.project, args.runset, note=args.note, save=args.save, backend=args.backend, db=args.db
    )
    return _show(args, report, lambda: baseline_text(report, styled=styled(args)))


def cmd_bench_plan(args: argparse.Namespace) -> int:
    """``planner bench plan PLAN``."""
    from planner import workflows
    from planner.cli import open_session, styled
    from planner.render_bench import benchmark_plan_text

    session = open_session(args)
    report = workflows.bench_plan(
        session,
        workflows.read_plan(args.file),
        replicas=args.replicas,
        url=args.url,
        source=str(args.file),
        backend=args.perf_backend,
    )
    return _show(args, report, lambda: benchmark_plan_text(report, styled=styled(args)))


def cmd_scale(args: argparse.Namespace) -> int:
    """``planner scale PROJECT``."""
    from planner import workflows
    from planner.cli import open_session
    from planner.render_bench import scale_text

    report = workflows.scale(
        open_session(args), args.project, backend=args.backend, record=not args.dry_run, db=args.db
    )
    return _show(args, report, lambda: scale_text(report))


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``planner calibrate PROJECT``."""
    from planner import workflows
    from planner.cli import open_session
    from planner.render_bench import calibration_text

    report = workflows.calibrate(open_session(args), args.project, save=not args.dry_run, db=args.db)
    return _show(args, report, lambda: calibration_text(report))
