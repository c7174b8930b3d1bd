"""The cost commands of the command line: tco and export.

Like :mod:`planner.cli`, each command parses, calls one workflow and prints what it returns.
openpyxl is imported only by the export workflow, when it writes a workbook.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_cost_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``tco`` and ``export`` on the command line's sub-parsers."""
    from planner.cli import add_backend_option, bounded
    from planner.cli_projects import add_db_option
    from planner.limits import YEARS

    p = sub.add_parser(
        "tco",
        parents=[common],
        help="size a plan and price its fleet: yearly cost by line, EUR per 1M tokens, owned vs rented vs API, "
        "break-even utilisation, and the fleet and costs quarter by quarter as traffic grows",
    )
    p.add_argument("file", help="plan file, or a saved project (PROJECT or PROJECT@REV)")
    p.add_argument(
        "--years", type=bounded(YEARS), help="years of the growth view (default: costs.horizon_years, else 3)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    add_db_option(p)
    p.set_defaults(handler=cmd_tco)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="size, check and price a plan, and write the Excel TCO workbook for finance (live formulas)",
    )
    p.add_argument("file", help="plan file, or a saved project (PROJECT or PROJECT@REV)")
    p.add_argument("--xlsx", type=Path, required=True, metavar="OUT.xlsx", help="workbook to write")
    p.add_argument(
        "--years", type=bounded(YEARS), help="years of the Growth sheet (default: costs.horizon_years, else 3)"
    )
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    add_backend_option(p)
    add_db_option(p)
    p.set_defaults(handler=cmd_export)


def cmd_tco(args: argparse.Namespace) -> int:
    """``planner tco PLAN_OR_PROJECT``: the plan's TCO and its growth over the years."""
    from planner import workflows
    from planner.cli import open_session, print_json, progress, styled, warn
    from planner.render import tco_text

    session = open_session(args)
    given = workflows.open_plan(args.file, args.db)
    with progress(args) as bar:
        report = workflows.tco(
            session, given.plan, given.source, years=args.years, backend=args.perf_backend, progress=bar
        )
    warn(report.plan.warnings)
    if args.json:
        print_json(report.to_json())
    else:
        print(tco_text(report, styled=styled(args)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``planner export PLAN_OR_PROJECT --xlsx OUT.xlsx``: write the TCO workbook."""
    from planner import workflows
    from planner.cli import open_session, print_json, progress
    from planner.render import export_text

    session = open_session(args)
    given = workflows.open_plan(args.file, args.db)
    with progress(args) as bar:
        result = workflows.export(
            session, given.plan, args.xlsx, given.source, years=args.years, backend=args.perf_backend,
            progress=bar, version=given.version,
        )  # fmt: skip
    if args.json:
        print_json(result.to_json())
    else:
        print(export_text(result))
    return 0
