"""Fuzz the planner's input edges at scale: plan files, config.json files and flags.

Mutates the bundled and test plans, the test configs and the command lines of the flags'
commands (structure-aware: a value swapped for one that breaks programs, a key dropped, added
or written twice, bytes that are not UTF-8, UTF-16, deep nesting, 5,000-digit numbers, bad
YAML tags, alias bombs), runs each in-process in a child process that survives crashes, and
classifies every outcome:

- ``ok``: the command answered (exit 0, 1 for check's findings, or 3 for nothing fits);
- ``clean``: a clear input error (a ``PlannerError``, exit 2, or argparse's exit 2);
- ``internal``: any other exception (a traceback the user would have seen as exit 70);
- ``crash``: the child process died (a segfault, an abort, out of memory);
- ``hang``: no answer within the timeout (the child is killed and restarted).

A reproduction of each internal error, crash and hang is saved under ``--out`` (the input
files, the command line, and the traceback). Most plan cases stop at the input edge (read,
validate, resolve against the catalog: where inputs are refused); one in ``--full-every``
runs the whole command (check, plan, simulate, envelope, search, mix or tco) under a
simulation ``--time-limit``. Prints the counts, the seed and the rate.

    nice python benchmarks/fuzz.py --count 20000 --seed 1 [--out fuzz-out] [--timeout 30]

Reproduce one saved case with ``python benchmarks/fuzz.py --replay fuzz-out/internal-12``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PLAN_SEEDS = sorted(REPO.glob("tests/data/plans/**/*.yaml")) + sorted(REPO.glob("tests/data/plans/*.json"))
PLAN_SEEDS += sorted(REPO.glob("planner/examples/*.yaml"))
CONFIG_SEEDS = sorted(p for p in REPO.glob("tests/data/configs/*.json") if "not-json" not in p.name)
QUANT_SIDECAR = REPO / "tests/data/configs/nvfp4-modelopt/hf_quant_config.json"
FULL_COMMANDS = ["check", "plan", "simulate", "envelope", "search", "mix", "tco"]
MODELS = ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3", "gpt-oss-120b", "nope", ""]
GPUS = ["h100-sxm", "h200-sxm", "mi300x", "a100-sxm-80gb", "l40s", "gaudi3", "h100", "x", ""]
NUMBERS = ["0", "-1", "1", "2", "3", "4", "8", "16", "1024", "1025", "1e400", "nan", "inf", "-inf", "0.5", "1.5",
           "99999999999999999999", "abc", "", "0x10", "1_000", "1e-300", "86400", "86401", "5"]  # fmt: skip
FLAG_SETS = {
    "simulate": ["--rate", "--concurrency", "--replicas", "--cv", "--think", "--duration", "--seed", "--time-limit"],
    "envelope": ["--duration", "--seed", "--time-limit"],
    "mix": ["--buckets"],
    "search": ["--top"],
    "tco": ["--years"],
}
NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, 10**30, -(10**30), 0.0, -0.0, 1e-300, 1e300, 0.95, 1.5,
    float("nan"), float("inf"), float("-inf"), "", "auto", "40%", "1.5 s", "fp8", "h100-sxm", "nan", "!!", "é" * 3,
    [], [1, 2], {}, {"a": 1}, {"p50": 10, "p95": 5}, "x" * 300,
]  # fmt: skip
OUTCOMES = ("ok", "clean", "internal", "crash", "hang")


@dataclass
class Case:
    """One input: the files it writes (name to bytes) and what runs on them."""

    kind: str  # plan, config, flags
    stage: str  # edge (read + validate + resolve), parse (flags only), full (the whole command)
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)


# ------------------------------------------------------------------ mutations


def _leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _leaf_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _leaf_paths(value, (*prefix, index))
    return found


def mutate_structure(doc: Any, rng: random.Random, *, mild: bool = False) -> Any:
    """Replace, delete or add one to three values anywhere in ``doc``; ``mild`` only rescales
    numbers (the type stays right, so the input gets past validation into sizing)."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = _leaf_paths(doc)
        if not paths:
            return rng.choice(NASTY)
        path = rng.choice(paths)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = "perturb" if mild else rng.choice(["perturb"] * 3 + ["replace", "replace", "delete", "add", "swap"])
        value = parent[path[-1]]
        if action == "perturb" and isinstance(value, int | float) and not isinstance(value, bool):
            # Same type, another size: the values that pass validation and trip what comes after.
            factor = rng.choice([0, -1, 0.5, 2, 3, 10, 1000, 1e6, 1e-6])
            parent[path[-1]] = type(value)(value * factor) if math.isfinite(value * factor) else value
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            key = rng.choice([*map(str, parent), "knobs", "efficiency", "extra", "text_config", "quantization_config"])
            parent[key] = copy.deepcopy(rng.choice(NASTY))
        elif action == "swap" and isinstance(parent, dict) and len(paths) > 1:
            other = rng.choice(paths)
            source = doc
            for part in other:
                source = source[part] if isinstance(source, dict | list) else source
            parent[path[-1]] = copy.deepcopy(source)
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(NASTY))
    return doc


def _yaml_text(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def mutate_text(text: str, rng: random.Random, as_json: bool) -> bytes:
    """Text-level damage the parsed structure cannot express."""
    lines = text.splitlines(keepends=True) or [""]
    choice = rng.randrange(12)
    if choice == 0 and len(lines) > 1:  # a line written twice: a duplicate key
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif choice == 1:
        return text.encode("utf-16")
    elif choice == 2:
        data = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            data.insert(rng.randrange(len(data) + 1), rng.choice([0xFF, 0xFE, 0xC3, 0x00, 0x80]))
        return bytes(data)
    elif choice == 3:
        return text.encode()[: rng.randrange(max(len(text), 1))]
    elif choice == 4:
        depth = rng.choice([50, 65, 1000, 100_000])
        if as_json:
            return ('{"schema_version": 1, "x": ' + "[" * depth + "]" * depth + "}").encode()
        return (text + "\nextra: " + "[" * depth + "]" * depth + "\n").encode()
    elif choice == 5:
        digits = "9" * rng.choice([31, 4301, 5000])
        return (text.replace(": 1\n", f": {digits}\n", 1) if not as_json else text.replace("1", digits, 1)).encode()
    elif choice == 6 and not as_json:
        tag = rng.choice(["!!float 'abc'", "!!int 'x'", "!!binary '%%%'", "!!python/object/apply:os.system ['true']",
                          "!!timestamp 'yesterday'", "!!set {a, b}", "&a [*a]", "!!str"])  # fmt: skip
        i = rng.randrange(len(lines))
        lines.insert(i, f"extra: {tag}\n")
    elif choice == 7 and not as_json:
        bomb = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"]
        bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, rng.randint(3, 9))]
        lines = bomb + lines
    elif choice == 8:  # a lone surrogate, a DOS end-of-file, a stray tab key
        return text.encode() + rng.choice([b"\xed\xa0\x80", b"\n\x1a", b"\n\t\t:"])
    elif choice == 9:
        return ("\ufeff" + text).encode()
    elif choice == 10 and as_json:
        return text.replace("1", rng.choice(["NaN", "Infinity", "-Infinity", "1e400"]), 1).encode()
    return "".join(lines).encode("utf-8", "surrogatepass")


def plan_case(rng: random.Random, full: bool) -> Case:
    """A mutated plan file, checked at the edge or run through a whole command."""
    seed = rng.choice(PLAN_SEEDS)
    as_json = rng.random() < 0.3
    text = seed.read_text(encoding="utf-8")
    if rng.random() < 0.75:
        doc = mutate_structure(yaml.safe_load(text), rng, mild=full and rng.random() < 0.7)
        text = json.dumps(doc, allow_nan=True) if as_json else _yaml_text(doc)
        data = text.encode() if rng.random() < 0.8 else mutate_text(text, rng, as_json)
    else:
        data = mutate_text(text, rng, as_json)
    name = "plan.json" if as_json else "plan.yaml"
    if not full:
        return Case("plan", "edge", [name], {name: data})
    command = rng.choice(FULL_COMMANDS)
    argv = [command, name, "--perf-backend", "builtin"]
    if command in ("simulate", "envelope", "plan", "check", "search", "tco"):
        argv += ["--time-limit", "20"]
    return Case("plan", "full", argv, {name: data})


def config_case(rng: random.Random) -> Case:
    """A mutated config.json (sometimes with a damaged quantization sidecar), imported."""
    config = json.loads(rng.choice(CONFIG_SEEDS).read_text(encoding="utf-8"))
    text = json.dumps(mutate_structure(config, rng), allow_nan=True)
    data = text.encode() if rng.random() < 0.85 else mutate_text(text, rng, as_json=True)
    files = {"config.json": data}
    if rng.random() < 0.15:
        sidecar = QUANT_SIDECAR.read_text(encoding="utf-8")
        files["hf_quant_config.json"] = (
            json.dumps(mutate_structure(json.loads(sidecar), rng), allow_nan=True).encode()
            if rng.random() < 0.6
            else mutate_text(sidecar, rng, as_json=True)
        )
    argv = ["model", "import", "config.json", "--force"]
    if rng.random() < 0.4:
        argv += ["--name", rng.choice(["ok-name", "////", "x" * 100, "Mixed Case!", "", "é", "a" * 80, "-"])]
    if rng.random() < 0.1:
        argv += ["--license", rng.choice(["", "mit", "x" * 500])]
    return Case("config", "edge", argv, files)


def flags_case(rng: random.Random, full: bool) -> Case:
    """Random values for the numeric flags: estimate runs; the plan commands parse (or run, when full)."""
    if rng.random() < 0.5:
        argv = ["estimate", "--model", rng.choice(MODELS), "--gpu", rng.choice(GPUS)]
        for flag in ("--isl", "--osl"):
            argv += [flag, rng.choice(NUMBERS + ["100", "2000"] * 4)]
        for flag in rng.sample(["--gpus", "--tp", "--pp", "--ep"], rng.randint(0, 4)):
            argv += [flag, rng.choice(NUMBERS)]
        argv += rng.choice([["--offline"], ["--concurrency", rng.choice(NUMBERS)]])
        if rng.random() < 0.3:
            argv.append("--attention-dp")
        if rng.random() < 0.2:
            argv += rng.choice(
                [["--weights", "fp8"], ["--kv-dtype", "fp8"], ["--weights", "fp3"], ["--runtime", "sglang"]]
            )
        return Case("flags", "full", [*argv, "--perf-backend", "builtin"])
    command = rng.choice(sorted(FLAG_SETS))
    plan = rng.choice([p for p in PLAN_SEEDS if "bad-" not in p.name])
    argv = [command, "plan.yaml"]
    for flag in rng.sample(FLAG_SETS[command], rng.randint(1, len(FLAG_SETS[command]))):
        argv += [flag, rng.choice(NUMBERS)]
    files = {"plan.yaml": plan.read_bytes()}
    if not full:
        return Case("flags", "parse", argv, files)
    if "--time-limit" not in argv:
        argv += ["--time-limit", "20"]
    return Case("flags", "full", [*argv, "--perf-backend", "builtin"], files)


def make_case(rng: random.Random, full_every: int) -> Case:
    """The next input: plans, configs and flags in the proportions the edges need."""
    full = rng.randrange(full_every) == 0
    roll = rng.random()
    if roll < 0.45:
        return plan_case(rng, full)
    if roll < 0.75:
        return config_case(rng)
    return flags_case(rng, full)


# --------------------------------------------------------------- the child


def child_main(conn: Any, home: str) -> None:
    """Run cases sent over ``conn`` in this process until told to stop; answer (outcome, detail)."""
    os.environ["PLANNER_HOME"] = home
    os.environ["PLANNER_DEBUG"] = "1"  # internal errors raise, so the traceback is kept
    os.environ.setdefault("PLANNER_PERF_BACKEND", "builtin")
    from planner import cli, workflows

    session = workflows.open_session()
    # One session for every case: building the catalog per case would dominate the run.
    cli.open_session = lambda args, warn=True: session  # type: ignore[assignment]
    parser = cli.build_parser()
    work = Path(tempfile.mkdtemp(prefix="planner-fuzz-"))
    while True:
        case = conn.recv()
        if case is None:
            return
        conn.send(run_case(case, work, session, parser))


def run_case(case: Case, work: Path, session: Any, parser: Any) -> tuple[str, str]:
    """Write the case's files and run it; return its outcome and, for failures, the traceback."""
    from planner import cli, workflows
    from planner.errors import PlannerError
    from planner.resolve import resolve_plan

    for old in work.iterdir():
        old.unlink()
    for name, data in case.files.items():
        (work / name).write_bytes(data)
    argv = [str(work / a) if a in case.files else a for a in case.argv]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            if case.stage == "edge" and case.kind == "plan":
                resolve_plan(workflows.read_plan(argv[0]), session.catalog, argv[0])
                return "ok", ""
            if case.stage == "parse":
                parser.parse_args(argv)
                return "ok", ""
            code = cli.main(argv)
    except PlannerError:
        return "clean", ""
    except SystemExit as exc:
        return ("clean", "") if exc.code == 2 else ("internal", f"SystemExit({exc.code!r})\n{out.getvalue()[-2000:]}")
    except Exception:
        return "internal", traceback.format_exc()
    if code in (0, 1, 3):
        return "ok", ""
    if code == 2:
        return "clean", ""
    return "internal", f"exit {code}\n{out.getvalue()[-4000:]}"


# --------------------------------------------------------------- the parent


class Runner:
    """A child process that runs cases; restarted after a crash or a hang."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.context = mp.get_context("spawn")
        self.process: Any = None
        self.conn: Any = None

    def start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=child_main, args=(child, self.home), daemon=True)
        self.process.start()
        self.conn = parent

    def run(self, case: Case, timeout_s: float) -> tuple[str, str]:
        if self.process is None or not self.process.is_alive():
            self.start()
        try:
            self.conn.send(case)
            if not self.conn.poll(timeout_s):
                self.stop()
                return "hang", f"no answer within {timeout_s:g} s"
            return self.conn.recv()  # type: ignore[no-any-return]
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            code = self.process.exitcode if self.process is not None else None
            self.stop()
            return "crash", f"the child process died (exit code {code})"

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(5)
        self.stop()


def save_reproduction(out: Path, outcome: str, number: int, case: Case, detail: str) -> Path:
    """Write the case's files, its command line and what happened; return the folder."""
    folder = out / f"{outcome}-{number}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    (folder / "case.json").write_text(
        json.dumps({"kind": case.kind, "stage": case.stage, "argv": case.argv, "files": sorted(case.files)}, indent=2)
    )
    (folder / "detail.txt").write_text(detail, encoding="utf-8")
    return folder


def place_of(detail: str) -> str:
    """The innermost ``File "...", line N`` of a traceback: where the failure happened."""
    frames = [line.strip() for line in detail.splitlines() if line.strip().startswith('File "')]
    return frames[-1] if frames else detail.splitlines()[0] if detail else "?"


def fuzz(count: int, seed: int, out: Path, timeout_s: float, full_every: int) -> Counter[str]:
    """Run ``count`` cases from ``seed``; print progress and the counts; return them."""
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    by_kind: Counter[tuple[str, str, str]] = Counter()
    places: Counter[str] = Counter()
    home = tempfile.mkdtemp(prefix="planner-fuzz-home-")
    runner = Runner(home)
    started = time.monotonic()
    try:
        for number in range(1, count + 1):
            case = make_case(rng, full_every)
            limit = timeout_s * (4 if case.stage == "full" else 1)
            outcome, detail = runner.run(case, limit)
            counts[outcome] += 1
            by_kind[(case.kind, case.stage, outcome)] += 1
            if outcome in ("internal", "crash", "hang"):
                places[place_of(detail)] += 1
                folder = save_reproduction(out, outcome, number, case, detail)
                print(f"  {outcome}: {folder} ({place_of(detail)})", flush=True)
            if number % 500 == 0 or number == count:
                rate = number / (time.monotonic() - started)
                summary = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES)
                print(f"[{number}/{count}] {summary} ({rate:.1f} inputs/s)", flush=True)
    finally:
        runner.close()
        shutil.rmtree(home, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(f"\nseed {seed}: {count} inputs in {elapsed:.0f} s ({count / elapsed:.1f}/s)")
    for outcome in OUTCOMES:
        print(f"  {outcome:9s} {counts[outcome]}")
    print("by kind and stage:")
    for (kind, stage, outcome), n in sorted(by_kind.items()):
        print(f"  {kind:7s} {stage:6s} {outcome:9s} {n}")
    if places:
        print(f"distinct failure places: {len(places)}")
        for place, n in places.most_common(30):
            print(f"  {n:5d}  {place}")
    return counts


def replay(folder: Path) -> int:
    """Run one saved reproduction in this process, printing its output and traceback."""
    meta = json.loads((folder / "case.json").read_text())
    case = Case(meta["kind"], meta["stage"], meta["argv"], {n: (folder / n).read_bytes() for n in meta["files"]})
    print("argv:", " ".join(case.argv))
    os.environ["PLANNER_DEBUG"] = "1"
    from planner import cli, workflows

    session = workflows.open_session()
    outcome, detail = run_case(case, Path(tempfile.mkdtemp(prefix="planner-replay-")), session, cli.build_parser())
    print(outcome, detail, sep="\n")
    return 0 if outcome in ("ok", "clean") else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="inputs to run (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="where reproductions go")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before an edge case is a hang (x4 for full runs)"
    )
    parser.add_argument("--full-every", type=int, default=200, help="one in N cases runs a whole command")
    parser.add_argument("--replay", type=Path, help="run one saved reproduction folder instead")
    args = parser.parse_args()
    if args.replay:
        return replay(args.replay)
    counts = fuzz(args.count, args.seed, args.out, args.timeout, args.full_every)
    return 0 if not (counts["internal"] or counts["crash"] or counts["hang"]) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
