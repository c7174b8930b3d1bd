"""The benchmark commands of the command line (step 10): ``bench import``.

Like the rest of the command line, each command parses, calls one workflow and prints what it
returns.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_bench_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``bench`` and its sub-commands on the command line's sub-parsers."""
    from planner.cli_projects import add_db_option

    bench = sub.add_parser(
        "bench", parents=[common], help="import benchmark results (vLLM, GuideLLM, GenAI-Perf/AIPerf, llmperf)"
    )
    commands = bench.add_subparsers(title="bench commands", metavar="COMMAND")
    bench.set_defaults(handler=lambda args: _help(bench))

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


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def cmd_bench_import(args: argparse.Namespace) -> int:
    """``planner bench import FILE... [--project P]``."""
    from planner import workflows
    from planner.cli import open_session, print_json, styled
    from planner.render_bench import imported_runs_text

    report = workflows.import_benchmarks(open_session(args), args.files, project=args.project, db=args.db)
    if args.json:
        print_json(report.to_json())
    else:
        print(imported_runs_text(report, styled=styled(args)))
    return 0
