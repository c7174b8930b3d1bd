"""The ``planner`` command line: a thin layer over the core's functions.

Imports stay inside the command functions so ``planner --help`` starts fast and
never loads pydantic, Qt or openpyxl. User errors print one clear message and exit
with code 2; an unexpected error prints a one-line report (set ``PLANNER_DEBUG=1``
for the traceback) and exits with code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXAMPLE_PLAN = "knowledge-assistant.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        return _report_error(exc)


def _report_error(exc: Exception) -> int:
    from planner.errors import PlannerError

    if isinstance(exc, PlannerError):
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    if os.environ.get("PLANNER_DEBUG") == "1":
        raise exc
    print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    print("  this is a bug in the planner or a plugin; rerun with PLANNER_DEBUG=1 for details", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--disable-plugin",
        action="append",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="do not load plugin NAME (repeatable); see `planner plugins`",
    )
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Size, check and cost an LLM inference deployment, offline (the 11-step method).",
        epilog="Environment: PLANNER_LOAD_PLUGINS=a,b loads only those plugins; PLANNER_HOME sets the user folder.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"planner {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("plan", parents=[common], help="validate a plan file and print it resolved")
    p.add_argument("file", type=Path, help="plan file (.yaml, .yml or .json)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("demo", parents=[common], help="resolve the bundled example plan (internal knowledge assistant)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--show", action="store_true", help="print the example plan file instead")
    _add_backend(p)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("estimate", parents=[common], help="capacity and performance of one configuration")
    p.add_argument("--model", required=True, help="model id, alias or Hugging Face id")
    p.add_argument("--gpu", required=True, help="GPU id or alias")
    p.add_argument("--gpus", type=int, help="GPUs in the replica (default TP x PP)")
    p.add_argument("--tp", type=int, help="tensor-parallel size (default: --gpus / --pp, else 1)")
    p.add_argument("--pp", type=int, default=1, help="pipeline-parallel size")
    p.add_argument("--ep", type=int, default=1, help="expert-parallel size (MoE)")
    p.add_argument("--attention-dp", action="store_true", help="attention data parallel over --ep GPUs (MoE)")
    p.add_argument("--weights", help="weight precision (default: the checkpoint's)")
    p.add_argument("--kv-dtype", help="KV-cache precision (default bf16)")
    p.add_argument("--runtime", default="vllm", help="runtime id (default vllm)")
    p.add_argument("--isl", type=int, required=True, help="input tokens per request")
    p.add_argument("--osl", type=int, required=True, help="output tokens per request")
    load = p.add_mutually_exclusive_group(required=True)
    load.add_argument("--concurrency", type=int, help="requests in flight")
    load.add_argument("--offline", action="store_true", help="the largest batch the replica holds")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_estimate)

    p = sub.add_parser("check", parents=[common], help="validate a plan against the principles and traps")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("search", parents=[common], help="rank the configurations that meet a plan's SLOs")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--top", type=int, default=10, help="how many to print (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("simulate", parents=[common], help="simulate the plan's deployment with the queue")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--mode", choices=["open", "closed"], default=None, help="open loop (rate) or closed loop (users)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--rate", type=float, help="requests/s for the whole fleet (open loop)")
    load.add_argument("--concurrency", type=int, help="users in the closed loop")
    p.add_argument("--replicas", type=int, default=1, help="replicas behind the router (default 1)")
    p.add_argument("--router", choices=["least-outstanding", "round-robin"], default="least-outstanding")
    p.add_argument("--arrival", choices=["poisson", "gamma", "daily"], default="poisson")
    p.add_argument("--cv", type=float, default=2.0, help="coefficient of variation of gamma arrivals")
    p.add_argument("--think", type=float, default=0.0, help="closed loop think time, seconds")
    p.add_argument("--lengths", type=Path, help="replay input/output token counts from a JSONL or CSV file")
    p.add_argument("--duration", type=float, default=300.0, help="seconds of arrivals (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--disaggregated", action="store_true", help="compare with separate prefill/decode pools")
    p.add_argument("--decode-gpu", metavar="ID", help="GPU class of the decode pool (default: the same)")
    p.add_argument("--failure", action="store_true", help="run the sized fleet at peak, then with N+1/N+2 spares down")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_simulate)

    p = sub.add_parser("envelope", parents=[common], help="Cr_closed, Cr_open and the latency-vs-load curve")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--duration", type=float, default=200.0, help="simulated seconds per point (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", action="store_true", help="print the curve as CSV")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_envelope)

    p = sub.add_parser("mix", parents=[common], help="cheapest mix of GPU classes by request size")
    p.add_argument("file", type=Path, help="plan file")
    p.add_argument("--buckets", type=int, default=3, help="request-size buckets (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_backend(p)
    p.set_defaults(handler=cmd_mix)

    p = sub.add_parser("schema", parents=[common], help="print the JSON Schema of plan files")
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("plugins", parents=[common], help="list plugins, what they contribute and any problem")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_plugins)

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


def _add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--perf-backend",
        metavar="NAME",
        default="auto",
        help="performance model: auto (default: per metric, the backend with the lower measured error), "
        "builtin, aiconfigurator, or another from `planner plugins`",
    )


def _backend(args: argparse.Namespace, catalog: Any) -> Any:
    """The performance model ``--perf-backend`` names (``auto`` by default)."""
    return catalog.performance_model(getattr(args, "perf_backend", "auto"))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _version() -> str:
    from planner import __version__

    return __version__


def _load(args: argparse.Namespace, *, warn: bool = True) -> tuple[Any, Any]:
    from planner.catalog import load_catalog

    host, catalog = load_catalog(blocked=tuple(getattr(args, "disable_plugin", ()) or ()))
    if warn:
        for problem in catalog.problems:
            print(f"warning: {problem} (see `planner plugins`)", file=sys.stderr)
    return host, catalog


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_plan(args: argparse.Namespace) -> int:
    """``planner plan FILE``: validate, resolve and print a plan."""
    from planner.planfile import load_plan

    plan = load_plan(args.file)
    return _show_resolved(plan, str(args.file), args)


def _validate(host: Any, catalog: Any, resolved: Any, sizing: Any) -> Any:
    from planner.validation import build_engine, validate_plan

    validation = validate_plan(resolved, catalog, sizing, build_engine(host))
    for problem in validation.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return validation


def _show_resolved(plan: Any, filename: str, args: argparse.Namespace) -> int:
    from planner.render import findings_text, fleet_text, resolved_plan_text
    from planner.resolve import resolve_plan
    from planner.sizing.plan_sizing import size_plan

    host, catalog = _load(args)
    resolved = resolve_plan(plan, catalog, filename)
    sizing = size_plan(resolved, catalog, progress=_progress_bar(args), performance=_backend(args, catalog))
    validation = _validate(host, catalog, resolved, sizing)
    envelope = _envelope_sizing(resolved.plan, sizing)
    if args.json:
        findings = [f.model_dump(mode="json") for f in validation.findings]
        _print_json({**resolved.to_json(), "sizing": sizing.to_json(), "envelope": envelope, "findings": findings})
        return 0
    print(resolved_plan_text(resolved, filename))
    print()
    if sizing.best is None:
        print(f"6 Sizing     none of the {sizing.tried} candidate configurations meets the SLOs on both axes:")
        for line in sizing.why_none:
            print(f"             - {line}")
        print("             pin fewer choices (`planner search` shows what else is possible) or relax the SLOs")
    else:
        print(fleet_text(sizing.best.sizing, sizing.best.eur_per_m_tokens))
        print(
            f"             chosen as the cheapest of {sizing.feasible} feasible configurations out of {sizing.tried};"
            " `planner search` lists them"
        )
        if envelope:
            print(
                f"10 Envelope  simulated ({envelope['simulated_s']:g} s a point): "
                f"Cr_closed {envelope['cr_closed']} per replica, "
                f"Cr_open {envelope['cr_open_req_s']:.3f} req/s per replica -> {envelope['replicas']} replicas "
                f"({envelope['replicas_for_load']} + {envelope['spares']} spare) sized on the simulated envelope"
            )
    print()
    print(findings_text(validation))
    return 0


#: Simulated seconds per point when `planner plan` sizes on the envelope.
PLAN_ENVELOPE_S = 60.0


def _envelope_sizing(plan: Any, sizing: Any) -> dict[str, Any] | None:
    """For full-envelope plans, size replicas on the simulated Cr_closed instead of the estimate."""
    import math

    from planner.envelope import envelopes

    if plan.slo.effective_scenario != "full-envelope" or sizing.best is None:
        return None
    fleet = sizing.best.sizing
    result = envelopes(plan, fleet.deployment, duration_s=PLAN_ENVELOPE_S)
    per_replica = max(result["cr_closed"], 0)
    replicas = math.ceil(fleet.provisioned_concurrency / per_replica) if per_replica else 0
    return {
        "simulated_s": PLAN_ENVELOPE_S,
        "cr_closed": result["cr_closed"],
        "cr_open_req_s": result["cr_open_req_s"],
        "replicas_for_load": replicas,
        "spares": plan.slo.spare_failure_domains,
        "replicas": replicas + plan.slo.spare_failure_domains if replicas else 0,
        "curve": result["curve"],
    }


def cmd_check(args: argparse.Namespace) -> int:
    """``planner check PLAN``: findings by severity; exit 1 when any is an error (a review gate)."""
    from planner.planfile import load_plan
    from planner.render import findings_text
    from planner.resolve import resolve_plan
    from planner.sizing.plan_sizing import size_plan

    host, catalog = _load(args)
    resolved = resolve_plan(load_plan(args.file), catalog, str(args.file))
    validation = _validate(host, catalog, resolved, size_plan(resolved, catalog, performance=_backend(args, catalog)))
    if args.json:
        _print_json(
            {
                "errors": sum(f.severity == "error" for f in validation.findings),
                "findings": [f.model_dump(mode="json") for f in validation.findings],
                "rule_problems": [str(p) for p in validation.problems],
            }
        )
    else:
        print(findings_text(validation))
    return 1 if validation.has_errors else 0


def _progress_bar(args: argparse.Namespace) -> Callable[[int, int], None] | None:
    """A progress bar on stderr for long searches (only on a terminal, never in --json)."""
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < 50:
            return
        width = 30
        filled = int(width * done / total)
        end = "\n" if done == total else ""
        print(f"\rsearching [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr)

    return show


def cmd_estimate(args: argparse.Namespace) -> int:
    """``planner estimate``: capacity and performance of one configuration."""
    from dataclasses import replace

    from planner.errors import PlannerError
    from planner.perfmodel import choose
    from planner.render import estimate_text
    from planner.sizing.deployment import Deployment
    from planner.sizing.estimate import estimate

    _, catalog = _load(args)
    model = catalog.models.get(args.model)
    gpu = catalog.gpus.get(args.gpu)
    runtime = catalog.runtimes.get(args.runtime)
    tp = args.tp or (args.gpus // args.pp if args.gpus and not args.attention_dp else 1)
    weights = args.weights or model.native_weight_dtype
    kv = args.kv_dtype or "bf16"
    problems = _estimate_problems(args, model, gpu, tp, weights, kv)
    if problems:
        raise PlannerError(
            "; ".join(p[0] for p in problems), path="planner estimate", fix="; ".join(p[1] for p in problems)
        )
    dep = Deployment(model, gpu, runtime, weights, kv, tp=tp, pp=args.pp, ep=args.ep, attention_dp=args.attention_dp)
    dep = replace(dep, performance=choose(_backend(args, catalog), dep))
    est = estimate(dep, args.isl, args.osl, concurrency=args.concurrency, offline=args.offline)
    if args.json:
        _print_json(est.to_json())
    else:
        print(estimate_text(est))
    return 0


def _estimate_problems(
    args: argparse.Namespace, model: Any, gpu: Any, tp: int, weights: str, kv: str
) -> list[tuple[str, str]]:
    from planner.specs import BYTES_PER_ELEMENT

    problems = []
    if weights not in BYTES_PER_ELEMENT:
        problems.append((f"--weights {weights} is not a known precision", f"use one of {', '.join(BYTES_PER_ELEMENT)}"))
    if kv not in BYTES_PER_ELEMENT:
        problems.append((f"--kv-dtype {kv} is not a known precision", "use bf16, fp16, fp8 or nvfp4"))
    if kv in ("fp8", "nvfp4") and not gpu.supports("fp8"):
        problems.append((f"{gpu.id} has no fp8", "use --kv-dtype bf16"))
    if args.gpus and not args.attention_dp and tp * args.pp != args.gpus:
        problems.append((f"--gpus {args.gpus} is not TP {tp} x PP {args.pp}", "make --gpus equal --tp x --pp"))
    if model.num_attention_heads % tp:
        problems.append(
            (f"TP {tp} does not divide {model.num_attention_heads} attention heads", "choose a TP that divides them")
        )
    for name in ("isl", "osl", "concurrency"):
        value = getattr(args, name)
        if value is not None and value < 1:
            problems.append((f"--{name} must be at least 1", f"give a positive --{name}"))
    return problems


def cmd_simulate(args: argparse.Namespace) -> int:
    """``planner simulate PLAN``: percentiles with the queue (see :mod:`planner.cli_simulation`)."""
    from planner.cli_simulation import simulate

    return simulate(args)


def cmd_envelope(args: argparse.Namespace) -> int:
    """``planner envelope PLAN``: Cr_closed, Cr_open and the latency-vs-load curve."""
    from planner.cli_simulation import envelope

    return envelope(args)


def cmd_mix(args: argparse.Namespace) -> int:
    """``planner mix PLAN``: cheapest assignment of request-size buckets to GPU classes."""
    from planner.cli_simulation import mix

    return mix(args)


def cmd_search(args: argparse.Namespace) -> int:
    """``planner search PLAN``: rank the configurations that meet the plan on both axes."""
    from planner.planfile import load_plan
    from planner.render import candidates_table
    from planner.resolve import resolve_plan
    from planner.sizing.search import search

    _, catalog = _load(args)
    resolved = resolve_plan(load_plan(args.file), catalog, str(args.file))
    ranked, tried = search(resolved, catalog, progress=_progress_bar(args), performance=_backend(args, catalog))
    if args.json:
        _print_json(
            {
                "candidates_tried": tried,
                "feasible": len(ranked),
                "candidates": [
                    {**c.sizing.to_json(), "eur_per_1m_tokens": c.eur_per_m_tokens} for c in ranked[: args.top]
                ],
            }
        )
        return 0
    print(f"{len(ranked)} of {tried} configurations meet the SLOs on both axes; ranked by EUR per 1M tokens, then GPUs")
    if ranked:
        print(candidates_table(ranked, args.top))
    return 0


def example_plan_path() -> Path:
    """Return the path of the bundled example plan (use case 1)."""
    from importlib import resources

    return Path(str(resources.files("planner") / "examples" / EXAMPLE_PLAN))


def cmd_demo(args: argparse.Namespace) -> int:
    """``planner demo``: the bundled example, resolved like any plan."""
    from planner.planfile import load_plan

    path = example_plan_path()
    if args.show:
        print(path.read_text(encoding="utf-8"), end="")
        return 0
    return _show_resolved(load_plan(path), f"example {EXAMPLE_PLAN}", args)


def cmd_schema(args: argparse.Namespace) -> int:
    """``planner schema``: the JSON Schema of plan files."""
    from planner.plan import plan_json_schema

    _print_json(plan_json_schema())
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """``planner plugins``: every plugin, its version, contributions and problems."""
    from planner.render import plugins_table

    host, catalog = _load(args, warn=False)
    if args.json:
        contributions = catalog.contributions()
        _print_json(
            [
                {
                    "name": info.name,
                    "version": info.version,
                    "status": info.status,
                    "builtin": info.builtin,
                    "distribution": info.distribution,
                    "module": info.module,
                    "contributes": contributions.get(info.name, {}),
                    "performance_models": catalog.performance_models_of(info.name),
                    "problems": [p.error for p in catalog.problems if p.plugin == info.name],
                }
                for info in sorted(host.plugins.values(), key=lambda i: i.name)
            ]
        )
    else:
        print(plugins_table(host, catalog))
        orphans = [p for p in catalog.problems if p.plugin not in host.plugins]
        for problem in orphans:
            print(f"problem: {problem}")
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    """``planner catalog KIND``: list one kind of catalog entry with sources."""
    from planner.render import CATALOG_TABLES

    _, catalog = _load(args)
    section = catalog.section(args.kind)
    if args.json:
        _print_json(
            [{**spec.model_dump(mode="json"), "plugin": section.plugin_of(spec.id)} for spec in section.specs()]
        )
    else:
        print(CATALOG_TABLES[args.kind](section.specs()))
    return 0


def cmd_model_import(args: argparse.Namespace) -> int:
    """``planner model import CONFIG``: convert and store a config.json."""
    from planner.modelimport import import_model
    from planner.render import billions

    host, catalog = _load(args)
    imported = import_model(args.config, host, catalog, name=args.name, force=args.force, license=args.license)
    spec = imported.spec
    if args.json:
        _print_json(spec.model_dump(mode="json"))
    else:
        print(
            f"imported {spec.id} ({spec.architecture}, via plugin {imported.plugin}): "
            f"{billions(spec.total_params)} total, {billions(spec.active_params)} active parameters, "
            f"weights {spec.native_weight_dtype}, context {spec.max_context:,}"
        )
    print(f"stored in {imported.path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
