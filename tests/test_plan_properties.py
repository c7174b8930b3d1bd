"""Property tests: valid plans always validate, impossible values are always rejected
with the offending field's path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.errors import InputError
from planner.plan import Plan
from planner.planfile import parse_plan

tokens = st.integers(min_value=1, max_value=200_000)


@st.composite
def distributions(draw: Any) -> dict[str, int]:
    p50 = draw(tokens)
    p95 = draw(st.integers(min_value=p50, max_value=p50 * 20))
    out = {"p50": p50, "p95": p95}
    if draw(st.booleans()):
        out["p99"] = draw(st.integers(min_value=p95, max_value=p95 * 3))
    return out


@st.composite
def traffic(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["users", "rps", "concurrency"]))
    out: dict[str, Any] = {
        "users": {"users": draw(st.integers(1, 10**6)), "duty_cycle": draw(st.floats(0.001, 1.0))},
        "rps": {"requests_per_s": draw(st.floats(0.01, 1e5))},
        "concurrency": {"concurrency": draw(st.integers(1, 10**5))},
    }[kind]
    if draw(st.booleans()):
        out["growth"] = draw(st.floats(0, 5))
    if draw(st.booleans()):
        out["burst_factor"] = draw(st.floats(1, 10))
    return out


@st.composite
def plans(draw: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "name": draw(st.text(min_size=1, max_size=20)),
        "use_case": {"title": "t", "task": "chat", "deployment": draw(st.sampled_from(["greenfield", "brownfield"]))},
        "workload": {"input_tokens": draw(distributions()), "output_tokens": draw(distributions())},
        "traffic": draw(traffic()),
        "slo": {
            "ttft_ms": draw(st.floats(1, 1e6)),
            "availability_pct": draw(st.floats(90, 99.999)),
            "critical": draw(st.booleans()),
        },
        "model": {"id": "llama-3.1-8b"},
    }


@settings(max_examples=150, deadline=None)
@given(plans())
def test_valid_plans_validate_and_keep_invariants(data: dict[str, Any]) -> None:
    plan = Plan.model_validate(data, strict=True)
    w = plan.workload
    assert w.context_p95_tokens >= w.input_tokens.typical + w.output_tokens.typical
    assert plan.traffic.headroom >= 0
    assert plan.slo.spare_failure_domains in (1, 2)


@settings(max_examples=150, deadline=None)
@given(plans(), st.sampled_from(["input_tokens", "output_tokens"]), st.integers(1, 10_000))
def test_p95_below_p50_always_rejected_at_its_path(data: dict[str, Any], which: str, gap: int) -> None:
    dist = data["workload"][which]
    dist.pop("p99", None)
    dist["p50"] = dist["p95"] + gap
    with pytest.raises(ValidationError) as info:
        Plan.model_validate(data, strict=True)
    assert ("workload", which) in [tuple(e["loc"]) for e in info.value.errors()]


@settings(max_examples=100, deadline=None)
@given(plans(), st.floats(1.0001, 100))
def test_duty_cycle_above_one_always_rejected(data: dict[str, Any], duty: float) -> None:
    data["traffic"] = {"users": 10, "duty_cycle": duty}
    with pytest.raises(ValidationError) as info:
        Plan.model_validate(data, strict=True)
    assert ("traffic", "duty_cycle") in [tuple(e["loc"]) for e in info.value.errors()]


@settings(max_examples=100, deadline=None)
@given(plans(), st.integers(-(10**6), 0), st.sampled_from(["p50", "p95"]))
def test_non_positive_tokens_always_rejected(data: dict[str, Any], bad: int, field: str) -> None:
    data["workload"]["output_tokens"][field] = bad
    with pytest.raises(ValidationError) as info:
        Plan.model_validate(data, strict=True)
    assert any(e["loc"][:2] == ("workload", "output_tokens") for e in info.value.errors())


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text_never_escapes_as_anything_but_input_error(text: str) -> None:
    try:
        parse_plan(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.problems and exc.render().startswith("error: fuzz.yaml")
