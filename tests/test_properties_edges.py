"""Property tests over the input edges: whatever a plan file, a config.json or a flag holds,
the planner answers with a result or a :class:`PlannerError` (exit 2), never anything else.

In-process and fast (2,000 examples in all, with the 560 of test_plan_properties.py); ``benchmarks/fuzz.py`` runs the same
question at scale through the command line, in a child process that survives crashes.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog import Catalog
from planner.cli import build_parser
from planner.errors import InputError, PlannerError
from planner.inputfiles import decode_text
from planner.limits import CONCURRENCY, PARALLEL, RATE, TOKENS
from planner.manager import make_plugin_manager
from planner.modelimport import convert_config_file
from planner.planfile import parse_plan
from planner.resolve import resolve_plan
from tests.conftest import CONFIGS, PLANS

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
SEEDS = [
    yaml.safe_load((PLANS / name).read_text(encoding="utf-8"))
    for name in ("code-assistant.yaml", "trap-averages-only.yaml", "reasoning-agent.yaml")
]
CONFIG_SEEDS = [
    json.loads((CONFIGS / name).read_text(encoding="utf-8"))
    for name in ("qwen3-30b-a3b.json", "llama-3.1-70b.json", "deepseek-v3.json")
]

#: Values that break programs: wrong types, edges of ranges, huge, tiny, non-finite, odd text.
nasty_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.95, 1.5]),
    st.text(max_size=12),
    st.sampled_from(["", "auto", "40%", "1.5 s", "fp8", "h100", "nan", "inf", "-1", "!!"]),
)
nasty_values = st.one_of(
    nasty_scalars,
    st.lists(nasty_scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), nasty_scalars, max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (mappings and lists)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


@st.composite
def mutated(draw: Any, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """A seed document with one to three values replaced, deleted or given a new sibling key."""
    doc = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from([*map(str, parent), "knobs", "efficiency", "x"]))] = draw(nasty_values)
        else:
            _set(doc, path, draw(nasty_values))
    return doc


def _as_text(doc: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(doc, allow_nan=True)
    return yaml.safe_dump(doc, allow_unicode=True)


@pytest.fixture(scope="module")
def host() -> Any:
    return make_plugin_manager()


@settings(FAST, max_examples=500)
@given(doc=mutated(SEEDS), as_json=st.booleans())
def test_a_mutated_plan_resolves_or_is_refused_as_input(doc: dict[str, Any], as_json: bool, catalog: Catalog) -> None:
    name = "fuzz.json" if as_json else "fuzz.yaml"
    try:
        plan = parse_plan(_as_text(doc, as_json), name)
    except InputError as exc:
        assert exc.problems and exc.render().startswith(f"error: {name}")
        return
    for value in (plan.traffic.requests_per_s, plan.traffic.peak_factor, plan.slo.ttft_ms, plan.slo.percentile):
        assert value is None or math.isfinite(value)
    try:
        resolved = resolve_plan(plan, catalog, name)
    except PlannerError as exc:
        assert exc.render().startswith("error:")
        return
    for knob, value in plan.runtime.knobs.items():
        if resolved.runtime is not None and knob in {k.name for k in resolved.runtime.knobs}:
            assert resolved.runtime.knob(knob).refusal(value) is None


@settings(FAST, max_examples=300)
@given(data=st.binary(max_size=400) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_plan_file_are_a_plan_or_one_input_error(data: bytes) -> None:
    try:
        parse_plan(decode_text(data, "fuzz.yaml"), "fuzz.yaml")
    except InputError as exc:
        assert exc.render().startswith("error: fuzz.yaml") and all(p.what for p in exc.problems)


_CONFIG_DIR = Path(tempfile.mkdtemp(prefix="planner-fuzz-config-"))


@settings(FAST, max_examples=400)
@given(config=mutated(CONFIG_SEEDS))
def test_a_mutated_config_converts_or_is_refused_as_input(config: dict[str, Any], host: Any) -> None:
    path = _CONFIG_DIR / "config.json"
    path.write_text(json.dumps(config, allow_nan=True), encoding="utf-8")
    before = len(host.problems)
    try:
        _, spec = convert_config_file(path, host)
    except InputError as exc:
        assert exc.problems and "config.json" in exc.render()
        return
    finally:
        del host.problems[before:]  # the host is shared: keep each example's problems apart
    assert spec.total_params >= spec.active_params > 0 and spec.num_layers >= 1


_PARSER = build_parser()  # built once: argparse keeps no state between parses
NUMERIC_FLAGS = {
    "estimate": ["--gpus", "--tp", "--pp", "--ep", "--isl", "--osl", "--concurrency"],
    "simulate": ["--rate", "--concurrency", "--replicas", "--cv", "--think", "--duration", "--seed", "--time-limit"],
    "envelope": ["--duration", "--seed", "--time-limit"],
    "mix": ["--buckets"],
    "search": ["--top"],
    "tco": ["--years"],
}
flag_text = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1", "1.5", "1e400", "nan", "-inf", "", "abc", "0x10", "1_000", " 3 "]),
)


@settings(FAST, max_examples=600)
@given(command=st.sampled_from(sorted(NUMERIC_FLAGS)), data=st.data())
def test_numeric_flags_parse_into_range_or_exit_2(command: str, data: Any) -> None:
    flags = data.draw(st.lists(st.sampled_from(NUMERIC_FLAGS[command]), min_size=1, max_size=3, unique=True))
    argv = [command, "plan.yaml"]
    if command == "estimate":
        # Given twice, a flag keeps its last value; --concurrency and --offline exclude each other.
        argv = [command, "--model", "m", "--gpu", "g", "--isl", "10", "--osl", "10"]
        argv += [] if "--concurrency" in flags else ["--offline"]
    for flag in flags:
        argv += [flag, data.draw(flag_text)]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = _PARSER.parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 2 and err.getvalue().startswith("error: planner") and "fix: " in err.getvalue()
        return
    for flag in flags:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        assert isinstance(value, int | float) and math.isfinite(value)


@settings(FAST, max_examples=200)
@given(
    gpus=st.one_of(st.none(), st.integers(-2, 40)),
    tp=st.one_of(st.none(), st.integers(-2, 40)),
    pp=st.integers(-2, 16),
    ep=st.integers(-2, 70),
    attention_dp=st.booleans(),
    model=st.sampled_from(["llama-3.1-8b", "mixtral-8x7b", "qwen3-30b-a3b"]),
    isl=st.integers(-5, 200_000),
    concurrency=st.one_of(st.none(), st.integers(-5, 5000)),
)
def test_any_estimate_request_is_an_estimate_or_one_planner_error(
    gpus: int | None,
    tp: int | None,
    pp: int,
    ep: int,
    attention_dp: bool,
    model: str,
    isl: int,
    concurrency: int | None,
) -> None:
    from planner import workflows

    request = workflows.EstimateRequest(
        model=model, gpu="h100-sxm", isl=isl, osl=200, concurrency=concurrency, offline=concurrency is None,
        gpus=gpus, tp=tp, pp=pp, ep=ep, attention_dp=attention_dp, backend="builtin",
    )  # fmt: skip
    try:
        est = workflows.estimate(_SESSION.get(), request)
    except PlannerError as exc:
        assert exc.message and exc.fix
        return
    assert all(PARALLEL.problem(v) is None for v in (est.deployment.tp, est.deployment.pp, est.deployment.ep))
    assert TOKENS.problem(isl) is None and (concurrency is None or CONCURRENCY.problem(concurrency) is None)


class _Session:
    """One workflows session for the estimate property (opening one per example would dominate)."""

    value: Any = None

    def get(self) -> Any:
        from planner import workflows

        if self.value is None:
            self.value = workflows.open_session()
        return self.value


_SESSION = _Session()


def test_the_rate_bound_refuses_what_would_never_end() -> None:
    assert RATE.problem(float("nan")) and RATE.problem(float("inf")) and RATE.problem(0.0)
