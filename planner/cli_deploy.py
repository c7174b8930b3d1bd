"""The step-9 commands of the command line: deploy, check-config and tune.

Like :mod:`planner.cli`, each command parses, calls one workflow and prints what it returns.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

TARGETS = ("vllm", "sglang", "trtllm", "kserve", "llm-d", "dynamo", "ray-serve")


def add_deploy_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``deploy``, ``check-config`` and ``tune`` on the command line's sub-parsers."""
    from planner.cli import add_backend_option
    from planner.cli_projects import add_db_option

    p = sub.add_parser(
        "deploy",
        parents=[common],
        help="size a plan and write the configuration that realises it: engine arguments, platform manifests, "
        "Prometheus SLO alerts, a Grafana dashboard and TRACE.md (why each value)",
    )
    p.add_argument("plan", metavar="PLAN_OR_PROJECT", help="plan file, or a saved project (NAME or NAME@REV)")
    p.add_argument("--target", required=True, choices=TARGETS, help="engine server or platform to configure")
    p.add_argument("--out", type=Path, help="folder to write (default: deploy-<plan name>-<target>)")
    p.add_argument(
        "--image", help="the engine's container image, e.g. your registry's mirror (default: the public image)"
    )
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    add_db_option(p)
    add_backend_option(p)
    p.set_defaults(handler=cmd_deploy)

    p = sub.add_parser(
        "check-config",
        parents=[common],
        help="compare a (hand-edited) configuration folder with the plan; exit 1 where they disagree",
    )
    p.add_argument("plan", metavar="PLAN_OR_PROJECT", help="plan file, or a saved project (NAME or NAME@REV)")
    p.add_argument("folder", type=Path, help="folder written by `planner deploy`")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    add_backend_option(p)
    p.set_defaults(handler=cmd_check_config)

    p = sub.add_parser(
        "tune",
        parents=[common],
        help="size a plan and print step 9's tuning experiments: engine defaults first, then one lever at a time "
        "(the dominant constraint's family first), each with the metric to watch, the model's expectation and "
        "when to stop",
    )
    p.add_argument("plan", metavar="PLAN_OR_PROJECT", help="plan file, or a saved project (NAME or NAME@REV)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    add_backend_option(p)
    p.set_defaults(handler=cmd_tune)


def cmd_deploy(args: argparse.Namespace) -> int:
    """``planner deploy PLAN --target T [--out DIR]``: write the configuration."""
    from planner.cli import open_session, print_json, progress
    from planner.workflows import open_plan
    from planner.workflows.deploy import default_out, deploy

    given = open_plan(args.plan, args.db)
    out = args.out or default_out(given, args.target)
    session = open_session(args)
    with progress(args) as bar:
        report = deploy(session, given, args.target, out, image=args.image, backend=args.perf_backend, progress=bar)
    if args.json:
        print_json(report.to_json())
        return 0
    v = report.values
    print(f"{args.target}: {v.fleet_text()}, {v.runtime.name} {v.runtime_version}")
    for name in sorted(report.files):
        print(f"  wrote {out / name}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """``planner check-config PLAN DIR``: where the configuration and the plan disagree."""
    from planner.cli import open_session, print_json, progress
    from planner.errors import EXIT_FINDINGS, EXIT_OK
    from planner.workflows import open_plan
    from planner.workflows.deploy import check_config

    given = open_plan(args.plan, args.db)
    session = open_session(args)
    with progress(args) as bar:
        report = check_config(session, given, args.folder, backend=args.perf_backend, progress=bar)
    if args.json:
        print_json(report.to_json())
    else:
        print(_check_text(report))
    return EXIT_OK if report.agrees else EXIT_FINDINGS


def _check_text(report: Any) -> str:
    head = f"{report.folder / report.file} ({report.target})"
    if not report.disagreements and not report.findings:
        return f"{head}: agrees with the plan"
    lines = [f"{head}: {len(report.disagreements) + len(report.findings)} disagreement(s) with the plan"]
    for d in report.disagreements:
        lines.append(f"  {d.severity}: {d.what}: config {d.config}, plan {d.plan} ({d.why})")
    for f in report.findings:
        lines.append(f"  {f.severity}: [{f.rule_id}] {f.message}")
        lines.append(f"    fix: {f.remedy}")
    return "\n".join(lines)


def cmd_tune(args: argparse.Namespace) -> int:
    """``planner tune PLAN``: the ordered one-lever-at-a-time experiments."""
    from planner.cli import open_session, print_json, progress
    from planner.workflows import open_plan
    from planner.workflows.deploy import tune

    given = open_plan(args.plan, args.db)
    session = open_session(args)
    with progress(args) as bar:
        plan = tune(session, given, backend=args.perf_backend, progress=bar)
    if args.json:
        print_json(plan.to_json())
        return 0
    print(f"Tuning {plan.deployment} (dominant constraint: {plan.dominant}); one lever per run, in this order:")
    for e in plan.experiments:
        print(f"\n{e.step}. [{e.family}] {e.lever}: {e.change}")
        print(f"   watch:  {', '.join(e.watch)}")
        print(f"   expect: {e.expect}")
        print(f"   stop:   {e.stop}")
    for s in plan.skipped:
        print(f"\nnot planned: [{s.family}] {s.lever}: {s.why}")
    return 0
