"""The ``planner`` command line: parses arguments, calls the workflows, prints what they return.

No decision about a plan is taken here: every command is one call into
:mod:`planner.workflows` and one rendering from :mod:`planner.render`. Imports stay
inside the command functions so ``planner --help`` starts fast and never loads
pydantic, rich, Qt or openpyxl. User errors print one clear message and exit with code
2; an unexpected error prints a short report with where it was raised (set
``PLANNER_DEBUG=1`` for the traceback) and exits with code 70 (EX_SOFTWARE).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NoReturn


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return _bounded(handler, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        return _report_error(exc)


def _bounded(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command with its simulations under one budget, and say where they stopped early."""
    from planner.workflows import simulation_budget

    with simulation_budget(getattr(args, "time_limit", None)) as budget:
        try:
            return handler(args)
        finally:
            warn([f"{why}: stopped early; runs cut short count their unfinished requests" for why in budget.stops])


def _report_error(exc: Exception) -> int:
    from planner.errors import PlannerError

    if isinstance(exc, PlannerError):
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    if os.environ.get("PLANNER_DEBUG") == "1":
        raise exc
    from planner.errors import EXIT_INTERNAL

    print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(
        f"  raised at {_raised_at(exc)} (planner {_version()}); this is a bug in the planner or a plugin: "
        "please report it with the command, its input and this message to whoever maintains your planner "
        "installation, or to the plugin's author when the place above is in a plugin; "
        "rerun with PLANNER_DEBUG=1 for the traceback",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def _raised_at(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of ``exc``, shortened to the package path."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "an unknown place"
    path = Path(tb.tb_frame.f_code.co_filename)
    parts = path.parts
    for anchor in ("planner", "plugins", "site-packages"):
        if anchor in parts:
            path = Path(*parts[len(parts) - parts[::-1].index(anchor) - 1 :])
            break
    return f"{path.as_posix()}:{tb.tb_lineno}"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    from planner.cli_bench import add_bench_commands
    from planner.cli_costs import add_cost_commands
    from planner.cli_deploy import add_deploy_commands
    from planner.cli_projects import add_db_option, add_project_commands
    from planner.cli_report import add_report_command
    from planner.cli_simulation import add_simulation_commands
    from planner.limits import CONCURRENCY, PARALLEL, TOKENS, TOP

    common = Parser(add_help=False)
    common.add_argument(
        "--disable-plugin",
        action="append",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="do not load plugin NAME (repeatable); see `planner plugins`",
    )
    parser = Parser(
        prog="planner",
        description="Size, check and cost an LLM inference deployment, offline (the 11-step method).",
        epilog="Environment: PLANNER_LOAD_PLUGINS=a,b loads only those plugins; PLANNER_HOME sets the user folder; "
        "PLANNER_PERF_BACKEND sets the default of --perf-backend.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"planner {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "plan",
        parents=[common],
        help="validate a plan file, size it (cheapest configuration meeting the SLOs) and check it against the rules",
    )
    p.add_argument("file", type=Path, help="plan file (.yaml, .yml or .json)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--save", metavar="PROJECT", help="store the plan, its sizing and findings as PROJECT's next revision"
    )
    p.add_argument("-m", "--message", default="", help="with --save: what changed and why")
    add_db_option(p)
    add_backend_option(p)
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("demo", parents=[common], help="plan the bundled example (an internal knowledge assistant)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--show", action="store_true", help="print the example plan file instead")
    add_backend_option(p)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("estimate", parents=[common], help="capacity and performance of one configuration")
    p.add_argument("--model", required=True, help="model id, alias or Hugging Face id")
    p.add_argument("--gpu", required=True, help="GPU id or alias")
    p.add_argument("--gpus", type=bounded(PARALLEL), help="GPUs in the replica (default TP x PP)")
    p.add_argument("--tp", type=bounded(PARALLEL), help="tensor-parallel size (default: --gpus / --pp, else 1)")
    p.add_argument("--pp", type=bounded(PARALLEL), default=1, help="pipeline-parallel size")
    p.add_argument("--ep", type=bounded(PARALLEL), default=1, help="expert-parallel size (MoE)")
    p.add_argument("--attention-dp", action="store_true", help="attention data parallel over --ep GPUs (MoE)")
    p.add_argument("--weights", help="weight precision (default: the checkpoint's)")
    p.add_argument("--kv-dtype", help="KV-cache precision (default bf16)")
    p.add_argument("--runtime", default="vllm", help="runtime id (default vllm)")
    p.add_argument("--isl", type=bounded(TOKENS), required=True, help="input tokens per request")
    p.add_argument("--osl", type=bounded(TOKENS), required=True, help="output tokens per request")
    p.add_argument(
        "--isl-p50",
        type=bounded(TOKENS),
        help="median input tokens of the batch's requests: --isl/--osl are then the p95 request among them",
    )
    p.add_argument("--osl-p50", type=bounded(TOKENS), help="median output tokens of the batch's requests")
    p.add_argument(
        "--shared-prefix", type=bounded(TOKENS), default=0, help="prompt tokens every request shares (prefix-cached)"
    )
    p.add_argument(
        "--knob",
        action="append",
        default=[],
        type=knob_setting,
        metavar="NAME=VALUE",
        help="a runtime knob, as a plan's runtime.knobs sets it (repeatable), e.g. chunked_prefill_size=2048; "
        "`planner catalog runtimes --json` lists each runtime's knobs",
    )
    load = p.add_mutually_exclusive_group(required=True)
    load.add_argument("--concurrency", type=bounded(CONCURRENCY), help="requests in flight")
    load.add_argument("--offline", action="store_true", help="the largest batch the replica holds")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    p.set_defaults(handler=cmd_estimate)

    p = sub.add_parser("check", parents=[common], help="size a plan and check it against the principles and traps")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("search", parents=[common], help="rank the configurations that meet a plan's SLOs")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--top", type=bounded(TOP), default=10, help="how many to print (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_backend_option(p)
    p.set_defaults(handler=cmd_search)

    add_simulation_commands(sub, common)
    add_project_commands(sub, common)
    add_cost_commands(sub, common)
    add_bench_commands(sub, common)
    add_deploy_commands(sub, common)
    add_report_command(sub, common)

    p = sub.add_parser("gui", parents=[common], help="open the desktop app (also `planner-gui`), with a plan file")
    p.add_argument("plan", nargs="?", type=Path, help="a plan file (YAML/JSON) or project file to open")
    p.add_argument("--perf-backend", default=None, help="performance model (default: PLANNER_PERF_BACKEND, else auto)")
    p.set_defaults(handler=cmd_gui)

    p = sub.add_parser("schema", parents=[common], help="print the JSON Schema of plan files")
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("plugins", parents=[common], help="list plugins, what they contribute and any problem")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_plugins)
    actions = p.add_subparsers(dest="plugins_action", metavar="{install,remove}")
    a = actions.add_parser(
        "install",
        parents=[common],
        help="install a plugin wheel offline, after checking the sha256 the administrator approved",
        description="Checks WHEEL against --hash, then installs it with no network and no dependencies into "
        "the planner's plugins folder (PLANNER_HOME/plugins); commands started afterwards load it.",
    )
    a.add_argument("wheel", type=Path, help="the plugin's .whl file")
    a.add_argument("--hash", required=True, metavar="sha256:HEX", help="the approved hash (`pip hash WHEEL`)")
    a.set_defaults(handler=cmd_plugins_install)
    a = actions.add_parser("remove", parents=[common], help="remove a plugin installed with `planner plugins install`")
    a.add_argument("name", help="its distribution or plugin name (see `planner plugins`)")
    a.set_defaults(handler=cmd_plugins_remove)

    p = sub.add_parser("catalog", parents=[common], help="list GPUs, models, runtimes or serving stacks")
    p.add_argument("kind", choices=["gpus", "models", "runtimes", "stacks"])
    p.add_argument("--json", action="store_true", help="print JSON with every field and source")
    p.set_defaults(handler=cmd_catalog)

    model = sub.add_parser("model", parents=[common], help="manage models in your catalog")
    model_sub = model.add_subparsers(title="model commands", metavar="COMMAND")
    p = model_sub.add_parser("import", parents=[common], help="import a Hugging Face config.json")
    p.add_argument("config", type=Path, help="path to config.json")
    p.add_argument("--name", metavar="ID", help="id to store it under (default: from the config)")
    p.add_argument("--force", action="store_true", help="replace a model you imported before under the same id")
    p.add_argument("--license", metavar="ID", help="licence of the model, e.g. apache-2.0 (default: unknown)")
    p.add_argument("--json", action="store_true", help="print the resulting spec as JSON")
    p.set_defaults(handler=cmd_model_import)
    model.set_defaults(handler=lambda args: _help(model))
    return parser


class Parser(argparse.ArgumentParser):
    """argparse, with its errors written like the planner's own: ``error:``, then ``fix:``."""

    def error(self, message: str) -> NoReturn:
        """Print the problem and its fix (exit code 2, as for any bad input)."""
        flag, _, problem = message.partition(": ")
        what, _, fix = problem.partition("; give ")
        if flag.startswith("argument ") and fix:  # a bounded number: "--rate nan is not a finite number"
            message, fix = f"{flag.removeprefix('argument ')} {what}", f"give {fix}"
        else:
            fix = f"see `{self.prog} --help`"
        self.exit(2, f"error: {self.prog}: {message}\n  fix: {fix}\n")


def bounded(bound: Any) -> Callable[[str], float]:
    """An argparse type for a number within a :class:`planner.limits.Bound`; argparse exits 2
    naming the flag, the value and the range when it is not."""

    def parse(text: str) -> float:
        try:
            value: float = int(text) if bound.integer else float(text)
        except ValueError:
            kind = "a whole number" if bound.integer else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}; give {bound.text()}") from None
        problem = bound.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}; give {bound.text()}")
        return value

    parse.__name__ = "whole number" if bound.integer else "number"
    return parse


def knob_setting(text: str) -> tuple[str, str]:
    """An argparse type for ``NAME=VALUE`` (a runtime knob; its value is read by the knob's type later)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE; give e.g. chunked_prefill_size=2048")
    return name.strip(), value.strip()


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """The options of every command that sizes: ``--perf-backend NAME`` (default:
    ``PLANNER_PERF_BACKEND``, else auto) and ``--time-limit SECONDS`` for its simulations."""
    from planner.limits import WALL

    parser.add_argument(
        "--time-limit",
        type=bounded(WALL),
        metavar="SECONDS",
        default=None,
        help="wall-clock budget of the command's simulations; runs still going then stop early and say so "
        "(default: PLANNER_SIM_WALL_S, else 900)",
    )
    parser.add_argument(
        "--perf-backend",
        metavar="NAME",
        default=None,
        help="performance model: auto (default: per metric, the backend with the lower measured error), "
        "builtin, aiconfigurator, or another from `planner plugins`",
    )


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _version() -> str:
    from planner import __version__

    return __version__


def open_session(args: argparse.Namespace, *, warn: bool = True) -> Any:
    """The workflows' session for this command; plugin problems become warnings on stderr."""
    from planner import workflows

    session = workflows.open_session(tuple(getattr(args, "disable_plugin", ()) or ()))
    if warn:
        for problem in session.problems:
            print(f"warning: {problem} (see `planner plugins`)", file=sys.stderr)
    return session


def warn(lines: Sequence[str]) -> None:
    """Print each line as a warning on stderr."""
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def styled(args: argparse.Namespace) -> bool:
    """True when tables may be styled: stdout is a terminal and no machine format was asked for."""
    from planner.terminal import is_terminal

    return not getattr(args, "json", False) and not getattr(args, "csv", False) and is_terminal(sys.stdout)


def progress(args: argparse.Namespace) -> AbstractContextManager[Any]:
    """A progress bar on stderr for a long action (only on a terminal, never with --json or --csv)."""
    from planner.terminal import progress_bar

    return progress_bar(not getattr(args, "json", False) and not getattr(args, "csv", False))


def cmd_plan(args: argparse.Namespace) -> int:
    """``planner plan FILE [--save PROJECT]``: validate, resolve, size and check a plan (and store it)."""
    from planner import workflows
    from planner.errors import PlannerError

    for given, option in ((args.message, "-m/--message"), (args.db, "--db")):
        if given and not args.save:
            raise PlannerError(f"{option} goes with --save", path="planner plan", fix="add --save PROJECT, or drop it")
    return _show_plan(workflows.read_plan(args.file), str(args.file), args)


def cmd_demo(args: argparse.Namespace) -> int:
    """``planner demo``: the bundled example, planned like any plan file."""
    from planner import workflows
    from planner.workflows.planning import EXAMPLE_PLAN

    path = workflows.example_plan_path()
    if args.show:
        print(path.read_text(encoding="utf-8"), end="")
        return 0
    return _show_plan(workflows.read_plan(path), f"example {EXAMPLE_PLAN}", args)


def _show_plan(plan: Any, source: str, args: argparse.Namespace) -> int:
    from planner import workflows
    from planner.errors import EXIT_NOTHING_FITS, EXIT_OK
    from planner.render import plan_report_text

    session = open_session(args)
    if getattr(args, "save", None):
        return _plan_and_save(session, plan, source, args)
    with progress(args) as bar:
        report = workflows.plan(session, plan, source, backend=args.perf_backend, progress=bar)
    warn(report.warnings)
    if args.json:
        print_json(report.to_json())
    else:
        print(plan_report_text(report))
    return EXIT_OK if report.feasible else EXIT_NOTHING_FITS


def _plan_and_save(session: Any, plan: Any, source: str, args: argparse.Namespace) -> int:
    from planner import workflows
    from planner.render import plan_report_text
    from planner.render_projects import saved_text

    with progress(args) as bar:
        done = workflows.plan_and_save(
            session, plan, source, args.save, args.message, backend=args.perf_backend, progress=bar, db=args.db
        )
    warn(done.report.warnings)
    if args.json:
        print_json(done.to_json())
    else:
        print(plan_report_text(done.report) + "\n\n" + saved_text(done.saved))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """``planner check PLAN``: findings by severity; exit 1 when any is an error (a review gate)."""
    from planner import workflows
    from planner.errors import EXIT_FINDINGS, EXIT_OK
    from planner.render import check_text

    session = open_session(args)
    plan = workflows.read_plan(args.file)
    with progress(args) as bar:
        report = workflows.check(session, plan, str(args.file), backend=args.perf_backend, progress=bar)
    warn(report.warnings)
    if args.json:
        print_json(report.to_json())
    else:
        print(check_text(report))
    return EXIT_FINDINGS if report.has_errors else EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    """``planner search PLAN``: rank the configurations that meet the plan on both axes."""
    from planner import workflows
    from planner.render import search_text

    session = open_session(args)
    plan = workflows.read_plan(args.file)
    with progress(args) as bar:
        report = workflows.search(session, plan, str(args.file), backend=args.perf_backend, progress=bar)
    if args.json:
        print_json(report.to_json(args.top))
    else:
        print(search_text(report, args.top, styled=styled(args)))
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    """``planner estimate``: capacity and performance of one configuration."""
    from planner import workflows
    from planner.render import estimate_text

    session = open_session(args)
    request = workflows.EstimateRequest(
        model=args.model,
        gpu=args.gpu,
        isl=args.isl,
        osl=args.osl,
        concurrency=args.concurrency,
        offline=args.offline,
        gpus=args.gpus,
        tp=args.tp,
        pp=args.pp,
        ep=args.ep,
        attention_dp=args.attention_dp,
        weights=args.weights,
        kv_dtype=args.kv_dtype,
        runtime=args.runtime,
        backend=args.perf_backend,
        isl_p50=args.isl_p50,
        osl_p50=args.osl_p50,
        shared_prefix=args.shared_prefix,
        knobs=dict(args.knob),
    )
    est = workflows.estimate(session, request)
    if args.json:
        print_json(est.to_json())
    else:
        print(estimate_text(est))
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the desktop app (Qt is imported here only, so other commands start without it)."""
    from planner.gui.app import main as gui_main

    argv = [str(args.plan)] if args.plan is not None else []
    if args.perf_backend:
        argv += ["--perf-backend", args.perf_backend]
    for name in getattr(args, "disable_plugin", []):
        argv += ["--disable-plugin", name]
    return gui_main(argv)


def cmd_schema(args: argparse.Namespace) -> int:
    """``planner schema``: the JSON Schema of plan files."""
    from planner import workflows

    print_json(workflows.plan_schema())
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """``planner plugins``: every plugin, its version, contributions and problems."""
    from planner import workflows
    from planner.render import plugins_table

    report = workflows.plugin_report(open_session(args, warn=False))
    if args.json:
        print_json(report.to_json())
    else:
        print(plugins_table(report, styled=styled(args)))
    return 0


def cmd_plugins_install(args: argparse.Namespace) -> int:
    """``planner plugins install WHEEL --hash sha256:...``: verify, then install offline."""
    from planner import workflows

    installed = workflows.install_plugin(args.wheel, args.hash)
    names = ", ".join(installed.plugin_names)
    print(f"installed {installed.distribution} {installed.version} (plugin {names}) into {installed.folder}")
    return 0


def cmd_plugins_remove(args: argparse.Namespace) -> int:
    """``planner plugins remove NAME``: delete a plugin installed with ``planner plugins install``."""
    from planner import workflows

    removed = workflows.uninstall_plugin(args.name)
    print(f"removed {removed.distribution} {removed.version} from {removed.folder}")
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    """``planner catalog KIND``: list one kind of catalog entry with sources."""
    from planner import workflows
    from planner.render import CATALOG_TABLES

    entries = workflows.catalog_entries(open_session(args), args.kind)
    if args.json:
        print_json([entry.to_json() for entry in entries])
    else:
        print(CATALOG_TABLES[args.kind]([entry.spec for entry in entries], styled=styled(args)))
    return 0


def cmd_model_import(args: argparse.Namespace) -> int:
    """``planner model import CONFIG``: convert and store a config.json."""
    from planner import workflows
    from planner.render import imported_model_text

    imported = workflows.import_model(
        open_session(args), args.config, name=args.name, force=args.force, license=args.license
    )
    if args.json:
        print_json(imported.spec.model_dump(mode="json"))
    else:
        print(imported_model_text(imported))
    print(f"stored in {imported.path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
