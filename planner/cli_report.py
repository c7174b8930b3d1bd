"""The decision record command: ``planner report PROJECT --out record.html``.

Like the rest of the command line, it parses, calls one workflow and prints what it returns.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_report_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``report`` on the command line's sub-parsers."""
    from planner.cli import bounded
    from planner.cli_projects import add_db_option
    from planner.limits import YEARS

    p = sub.add_parser(
        "report",
        parents=[common],
        help="write a project's decision record: one self-contained HTML page to sign off and print to PDF",
    )
    p.add_argument(
        "project", metavar="PROJECT", help="a saved project (PROJECT for its latest revision, or PROJECT@REV)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html", help="the page to write")
    p.add_argument(
        "--years", type=bounded(YEARS), help="years of the growth view (default: costs.horizon_years, else 3)"
    )
    p.add_argument(
        "--perf-backend",
        dest="backend",
        metavar="NAME",
        help="performance model of the predictions (default: the one the revision was sized with)",
    )
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """``planner report PROJECT --out FILE.html``."""
    from planner import workflows
    from planner.cli import open_session, print_json, progress

    session = open_session(args)
    with progress(args) as bar:
        result = workflows.report(
            session, args.project, args.out, years=args.years, backend=args.backend, progress=bar, db=args.db
        )
    if args.json:
        print_json(result.to_json())
    else:
        priced = "" if result.priced else "; not priced (see its TCO section)"
        print(
            f"wrote the decision record of {result.project} revision {result.revision} to {result.path} "
            f"({result.size_bytes:,} bytes; {result.runs} run(s), {result.decisions} decision(s){priced})"
        )
    return 0
