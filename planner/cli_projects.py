"""The project commands of the command line: project new|list|show|rename|delete|export|import,
history, diff, checkout (``planner plan --save`` lives with ``plan`` in :mod:`planner.cli`).

Like the rest of the command line, each command parses, calls one workflow and prints what it
returns; nothing here imports sqlite-utils, which the workflows import when a project opens.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db FILE``: the project database (default: ``projects.db`` in the planner folder)."""
    parser.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        default=None,
        help="project database file (default: projects.db in PLANNER_HOME, see `planner project list`)",
    )


def add_project_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``project``, ``history``, ``diff`` and ``checkout`` on the command line's sub-parsers."""
    project = sub.add_parser(
        "project", parents=[common], help="keep plans and their revisions in projects; hand a project over"
    )
    commands = project.add_subparsers(title="project commands", metavar="COMMAND")
    _add_project_subcommands(commands, common)
    project.set_defaults(handler=lambda args: _help(project))

    p = sub.add_parser("history", parents=[common], help="a project's revisions and what changed in each")
    p.add_argument("project", help="project name")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser(
        "diff", parents=[common], help="two revisions field by field: inputs, configuration, figures, findings"
    )
    p.add_argument("project", help="project name")
    p.add_argument("rev_a", metavar="REV_A", help="revision number, `head`, or a digest prefix")
    p.add_argument("rev_b", metavar="REV_B", help="revision number, `head`, or a digest prefix")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_diff)

    p = sub.add_parser("checkout", parents=[common], help="write a revision back to a plan file")
    p.add_argument("project", help="project name")
    p.add_argument("rev", metavar="REV", help="revision number, `head`, or a digest prefix")
    p.add_argument("-o", "--output", type=Path, required=True, help="plan file to write (.yaml, or .json)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    add_db_option(p)
    p.set_defaults(handler=cmd_checkout)


def _add_project_subcommands(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("new", parents=[common], help="create a project")
    p.add_argument("name", help="project name")
    p.add_argument("--plan", type=Path, metavar="FILE", help="take the steps 1-4 inputs from this plan file")
    p.add_argument("--notes", default="", help="notes on the project (customer, contacts, scope)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_new)

    p = commands.add_parser("list", parents=[common], help="list the projects with their latest figures")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_list)

    p = commands.add_parser("show", parents=[common], help="a project's inputs, revisions, runs and decisions")
    p.add_argument("name", help="project name")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_show)

    p = commands.add_parser("rename", parents=[common], help="rename a project")
    p.add_argument("name", help="project name")
    p.add_argument("new_name", metavar="NEW_NAME", help="its new name")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_rename)

    p = commands.add_parser("delete", parents=[common], help="delete a project and everything in it")
    p.add_argument("name", help="project name")
    p.add_argument("--yes", action="store_true", help="do not ask (needed when not on a terminal)")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_delete)

    p = commands.add_parser("export", parents=[common], help="write a project to one file for another machine")
    p.add_argument("name", help="project name")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: NAME.planner.json here)")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_export)

    p = commands.add_parser("import", parents=[common], help="add a project file (from `project export`)")
    p.add_argument("file", type=Path, help="project file")
    p.add_argument("--as", dest="rename_to", metavar="NAME", help="name for a new project whose name is taken here")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(handler=cmd_project_import)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _print(args: argparse.Namespace, report: Any, text: str) -> int:
    from planner.cli import print_json

    if getattr(args, "json", False):
        print_json(report.to_json())
    else:
        print(text)
    return 0


def cmd_project_new(args: argparse.Namespace) -> int:
    """``planner project new NAME``: an empty project, optionally with a plan's steps 1-4."""
    from planner import workflows
    from planner.render_projects import project_line

    plan = workflows.read_plan(args.plan) if args.plan else None
    report = workflows.create_project(args.name, plan_=plan, notes=args.notes, db=args.db)
    return _print(args, report, project_line(report, "created"))


def cmd_project_list(args: argparse.Namespace) -> int:
    """``planner project list``: the projects with their latest revision's figures."""
    from planner import workflows
    from planner.cli import styled
    from planner.render_projects import project_list_text

    report = workflows.list_projects(args.db)
    return _print(args, report, project_list_text(report, styled=styled(args)))


def cmd_project_show(args: argparse.Namespace) -> int:
    """``planner project show NAME``: inputs, revisions, runs, baseline, decisions."""
    from planner import workflows
    from planner.cli import styled
    from planner.render_projects import project_detail_text

    report = workflows.show_project(args.name, args.db)
    return _print(args, report, project_detail_text(report, styled=styled(args)))


def cmd_project_rename(args: argparse.Namespace) -> int:
    """``planner project rename NAME NEW_NAME``."""
    from planner import workflows
    from planner.render_projects import project_line

    report = workflows.rename_project(args.name, args.new_name, args.db)
    print(project_line(report, "renamed to"))
    return 0


def cmd_project_delete(args: argparse.Namespace) -> int:
    """``planner project delete NAME``: asks on a terminal; elsewhere needs ``--yes``."""
    from planner import workflows
    from planner.errors import PlannerError
    from planner.render_projects import project_line, safe
    from planner.terminal import is_terminal

    if not args.yes:
        if not is_terminal(sys.stdin):
            raise PlannerError(
                f"not deleting project {args.name!r} without confirmation",
                path=str(workflows.database_path(args.db)),
                fix="pass --yes to delete it (with all its revisions and runs) from a script",
            )
        where = workflows.database_path(args.db)
        question = f"Delete project '{safe(args.name)}' with all its revisions and runs from {where}? [y/N] "
        if input(question).strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 0
    print(project_line(workflows.delete_project(args.name, args.db), "deleted"))
    return 0


def cmd_project_export(args: argparse.Namespace) -> int:
    """``planner project export NAME``: one file with everything, checksummed."""
    from planner import workflows
    from planner.render_projects import exported_text

    print(exported_text(workflows.export_project(args.name, args.output, args.db)))
    return 0


def cmd_project_import(args: argparse.Namespace) -> int:
    """``planner project import FILE``: add it; nothing already here is added twice."""
    from planner import workflows
    from planner.render_projects import imported_text

    report = workflows.import_project(args.file, rename_to=args.rename_to, db=args.db)
    return _print(args, report, imported_text(report))


def cmd_history(args: argparse.Namespace) -> int:
    """``planner history PROJECT``: one line per revision."""
    from planner import workflows
    from planner.cli import styled
    from planner.render_projects import history_text

    report = workflows.history(args.project, args.db)
    return _print(args, report, history_text(report, styled=styled(args)))


def cmd_diff(args: argparse.Namespace) -> int:
    """``planner diff PROJECT REV_A REV_B``."""
    from planner import workflows
    from planner.render_projects import diff_text

    report = workflows.diff(args.project, args.rev_a, args.rev_b, args.db)
    return _print(args, report, diff_text(report))


def cmd_checkout(args: argparse.Namespace) -> int:
    """``planner checkout PROJECT REV -o plan.yaml``."""
    from planner import workflows
    from planner.render_projects import checked_out_text

    done = workflows.checkout(args.project, args.rev, args.output, force=args.force, db=args.db)
    print(checked_out_text(done))
    return 0
