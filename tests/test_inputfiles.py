"""The one reader of user files, NaN/inf refused everywhere, knob and efficiency schemas.

Each case here is a class of input the fuzzing of issue 13 found ending in a traceback or a hang.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import planner
from planner.errors import InputError
from planner.inputfiles import MAX_DEPTH, MAX_FILE_BYTES, parse_json, parse_yaml, read_document, read_text_file
from planner.planfile import load_plan, parse_plan
from tests.conftest import CONFIGS, PLANS, run_cli

BASE = (PLANS / "trap-averages-only.yaml").read_text(encoding="utf-8")


def _refusal(exc: pytest.ExceptionInfo[InputError]) -> str:
    return exc.value.render()


def _refused(action: Any) -> str:
    """The text the user reads when ``action`` refuses its input."""
    with pytest.raises(InputError) as caught:
        action()
    return caught.value.render()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfes\x00c\x00", "UTF-16"),
        (b"\x00\x00\xfe\xffx", "UTF-32"),
        (b"schema_version: 1\nname: caf\xe9\n", "line 2: byte 0xe9"),
        (b"schema_version: 1\n\x00\x01\x02", "binary data"),
    ],
    ids=["utf16", "utf32", "latin1-byte", "binary"],
)
def test_bytes_that_are_not_utf8_are_refused_with_the_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_plan(path)
    assert expected in _refusal(caught) and str(path) in _refusal(caught)
    assert "UTF-8" in _refusal(caught) or "text file" in _refusal(caught)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_plan(path).name == "Averages only"


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 10)
    assert "larger than 16 MiB" in _refused(lambda: read_text_file(path))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    assert "cannot read the file" in _refused(lambda: read_document(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_nesting_deeper_than_the_limit_is_refused(suffix: str) -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    parse = parse_json if suffix == ".json" else parse_yaml
    assert f"more than {MAX_DEPTH} levels" in _refused(lambda: parse(deep, f"deep{suffix}"))
    # Brackets inside strings are text, not nesting.
    assert parse_json('{"a": "' + "[" * 500 + '"}', "ok.json") == {"a": "[" * 500}


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("schema_version: " + "9" * 5000, "p.yaml", "out of range"),
        ('{"schema_version": ' + "9" * 5000 + "}", "p.json", "out of range"),
        ('{"schema_version": 1e400}', "p.json", "1e400 is out of range"),
        ('{"schema_version": NaN}', "p.json", "NaN is not a number"),
        ('{"schema_version": -Infinity}', "p.json", "-Infinity is not a number"),
    ],
    ids=["yaml-digits", "json-digits", "json-overflow", "json-nan", "json-infinity"],
)
def test_numbers_beyond_range_are_refused_at_read(text: str, name: str, expected: str) -> None:
    assert expected in _refused(lambda: parse_plan(text, name))


def test_a_bad_yaml_tag_value_names_the_line_and_the_tag() -> None:
    with pytest.raises(InputError) as caught:
        parse_plan(BASE + "extra: !!float 'abc'\n", "p.yaml")
    text = _refusal(caught)
    assert "line 10" in text and "not a valid float" in text and "!!float" in text


@pytest.mark.parametrize("tagged", ["!!timestamp 'yesterday'", "!!float '1,5'", "!!int 'x'"])
def test_any_malformed_tagged_value_is_refused_with_its_tag(tagged: str) -> None:
    text = _refused(lambda: parse_plan(BASE + f"extra: {tagged}\n", "p.yaml"))
    assert "line 10" in text and "is not a valid" in text and "drop the `!!" in text


def test_unsafe_yaml_tags_are_refused() -> None:
    assert "line 2" in _refused(
        lambda: parse_plan("schema_version: 1\nname: !!python/object/apply:os.system ['true']\n", "p.yaml")
    )


def test_duplicate_keys_are_refused_naming_both_lines() -> None:
    text = BASE + "slo: {ttft_ms: 5, availability_pct: 99.9}\n"
    with pytest.raises(InputError) as caught:
        parse_plan(text, "p.yaml")
    assert (
        "line 10" in _refusal(caught)
        and "'slo' appears twice" in _refusal(caught)
        and "first at line 7" in _refusal(caught)
    )
    text = _refused(lambda: parse_plan('{\n"a": 1,\n"a": 2}', "p.json"))
    assert "'a' appears twice" in text and "line 3" in text


def test_yaml_merge_keys_are_not_duplicates() -> None:
    assert parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "m.yaml")["other"] == {"x": 1, "y": 2}


def test_nested_aliases_that_expand_beyond_the_limit_are_refused_fast() -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert "expands to more than" in _refused(lambda: parse_yaml("\n".join(lines), "laughs.yaml"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("traffic: {concurrency: 100}", "traffic: {requests_per_s: 1e400}", "traffic.requests_per_s"),
        ("traffic: {concurrency: 100}", "traffic: {requests_per_s: .nan}", "finite number"),
        ("traffic: {concurrency: 100}", "traffic: {requests_per_s: .inf}", "finite number"),
        ("traffic: {concurrency: 100}", "traffic: {concurrency: 100, peak_factor: .nan}", "finite number"),
        ("traffic: {concurrency: 100}", "traffic: {requests_per_s: 1e12}", "traffic.requests_per_s"),
        ("slo: {ttft_ms: 1000", "slo: {ttft_ms: -.inf", "slo.ttft_ms"),
    ],
    ids=["overflow", "nan", "inf", "nan-in-defaulted-field", "rate-bound", "negative-inf"],
)
def test_non_finite_and_absurd_plan_numbers_are_refused(old: str, new: str, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_plan(BASE.replace(old, new), "p.yaml")
    assert expected in _refusal(caught)


def _models() -> list[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for info in pkgutil.walk_packages(planner.__path__, "planner."):
        if info.name.startswith("planner.gui") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        found |= {obj for _, obj in inspect.getmembers(module, inspect.isclass) if issubclass(obj, BaseModel)}
    return sorted(found - {BaseModel}, key=lambda m: f"{m.__module__}.{m.__qualname__}")


def test_every_model_of_the_planner_refuses_nan_and_infinity() -> None:
    models = _models()
    assert len(models) > 20
    allowing = [f"{m.__module__}.{m.__qualname__}" for m in models if m.model_config.get("allow_inf_nan", True)]
    assert not allowing, f"set allow_inf_nan=False in the model_config of {allowing}"


@pytest.mark.parametrize(
    ("runtime", "knob", "value", "expected"),
    [
        ("vllm", "max_model_len", "auto", "'auto' is not a whole number"),
        ("vllm", "gpu_memory_utilization", '"40%"', "'40%' is not a number"),
        ("vllm", "max_num_seqs", '""', "'' is not a whole number"),
        ("vllm", "gpu_memory_utilization", "0", "0 is outside a number > 0 and <= 1"),
        ("vllm", "gpu_memory_utilization", "1.5", "outside a number > 0 and <= 1"),
        ("vllm", "block_size", "0.95", "0.95 is not a whole number"),
        ("vllm", "enable_prefix_caching", "1", "1 is not true or false"),
        ("vllm", "kv_cache_dtype", "fp9", "'fp9' is not one of auto"),
        ("sglang", "page_size", "0.95", "0.95 is not a whole number"),
        ("sglang", "page_size", "0", "0 is outside a whole number >= 1"),
        ("trtllm", "tokens_per_block", "-4", "outside a whole number >= 1"),
    ],
)
def test_a_knob_outside_its_schema_is_refused_at_load(
    runtime: str, knob: str, value: str, expected: str, catalog: Any
) -> None:
    from planner.resolve import resolve_plan

    text = BASE.replace(
        "runtime: {id: vllm, knobs: {max_model_len: 8192}}", f"runtime: {{id: {runtime}, knobs: {{{knob}: {value}}}}}"
    )
    with pytest.raises(InputError) as caught:
        resolve_plan(parse_plan(text, "p.yaml"), catalog, "p.yaml")
    text = _refusal(caught)
    assert f"runtime.knobs.{knob}" in text and expected in text and f"{knob} takes" in text


def test_with_the_runtime_open_a_knob_is_checked_against_the_runtimes_that_have_it(catalog: Any) -> None:
    from planner.resolve import resolve_plan

    text = BASE.replace("runtime: {id: vllm, knobs: {max_model_len: 8192}}", "runtime: {knobs: {page_size: 0}}")
    assert "SGLang's page_size takes a whole number >= 1" in _refused(
        lambda: resolve_plan(parse_plan(text, "p.yaml"), catalog, "p.yaml")
    )


@pytest.mark.parametrize(
    ("runtime", "knobs", "words"),
    [
        ("sglang", "{enable_dp_attention: true, dp_size: 8}", (
            "runtime.knobs.enable_dp_attention: true sets the replica's parallel layout, which the plan chooses in "
            "runtime.dp", "runtime.knobs.dp_size", "write runtime.dp: 8, or leave it open")),
        ("vllm", "{tensor_parallel_size: 4}", ("runtime.knobs.tensor_parallel_size", "write runtime.tp: 4")),
        ("trtllm", "{moe_expert_parallel_size: 8}", ("runtime.knobs.moe_expert_parallel_size", "runtime.ep: 8")),
        (None, "{enable_expert_parallel: true}", ("runtime.knobs.enable_expert_parallel", "write runtime.ep: N")),
    ],
)  # fmt: skip
def test_a_knob_that_sets_the_parallel_layout_is_refused_with_the_plan_field_to_write(
    runtime: str | None, knobs: str, words: tuple[str, ...], catalog: Any
) -> None:
    """The sizing and the deployment take the layout from runtime.tp/pp/ep/dp: a layout knob would be
    ignored by the one and contradicted by the other, so the plan is refused (the runtime open, by
    every runtime that has the knob)."""
    from planner.resolve import resolve_plan

    runtime_line = f"runtime: {{id: {runtime}, knobs: {knobs}}}" if runtime else f"runtime: {{knobs: {knobs}}}"
    text = BASE.replace("runtime: {id: vllm, knobs: {max_model_len: 8192}}", runtime_line)
    refused = _refused(lambda: resolve_plan(parse_plan(text, "p.yaml"), catalog, "p.yaml"))
    for word in words:
        assert word in refused, refused


def test_a_layout_knob_already_set_by_its_plan_field_says_so(catalog: Any) -> None:
    from planner.resolve import resolve_plan

    text = BASE.replace(
        "runtime: {id: vllm, knobs: {max_model_len: 8192}}",
        "runtime: {id: vllm, tp: 2, knobs: {tensor_parallel_size: 2}}",
    )
    refused = _refused(lambda: resolve_plan(parse_plan(text, "p.yaml"), catalog, "p.yaml"))
    assert "remove runtime.knobs.tensor_parallel_size (runtime.tp: 2 already sets it)" in refused


def test_every_layout_knob_of_the_catalog_is_a_knob_its_runtime_has(catalog: Any) -> None:
    for runtime in catalog.runtimes.specs():
        assert runtime.layout_knobs, f"{runtime.id} names no knob of its parallel layout"
        assert set(runtime.layout_knobs) <= {k.name for k in runtime.knobs}


def test_every_runtime_knob_of_the_catalog_has_a_type(catalog: Any) -> None:
    for runtime in catalog.runtimes.specs():
        for knob in runtime.knobs:
            assert knob.value_type() is not None, f"{runtime.id}: knob {knob.name} needs `type:`"
            if knob.default is not None:
                assert knob.refusal(knob.default) is None, f"{runtime.id}: {knob.name} default breaks its schema"


@pytest.mark.parametrize(
    ("factor", "value"),
    [
        ("mfu_decode", "0"),
        ("mbu_decode", "0"),
        ("mfu_prefill", "1.5"),
        ("overhead_ms", "-1"),
        ("overhead_ms", "5000"),
        ("frontend_ms", "-1"),
        ("frontend_ms", "20000"),
    ],
)
def test_efficiency_overrides_outside_their_range_are_refused(factor: str, value: str) -> None:
    text = BASE.replace("knobs: {max_model_len: 8192}}", f"efficiency: {{{factor}: {value}}}}}")
    with pytest.raises(InputError) as caught:
        parse_plan(text, "p.yaml")
    assert "runtime.efficiency" in _refusal(caught) and factor in _refusal(caught)


def test_a_trace_with_absurd_token_counts_is_refused(tmp_path: Path) -> None:
    from planner.simulate import replay_lengths

    trace = tmp_path / "trace.jsonl"
    for row, expected in (
        ('{"isl": 1e300, "osl": 3}', "row 1"),
        ('{"isl": NaN, "osl": 3}', "NaN"),
        ("[1, 2]", "row 1"),
    ):
        trace.write_text(row + "\n")
        assert expected in _refused(lambda: replay_lengths(trace))


def test_the_command_line_reports_unreadable_plans_and_configs_with_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"schema_version: 1\n\xff\xfe")
    result = run_cli("check", str(plan))
    assert result.returncode == 2 and "not UTF-8" in result.stderr and "Traceback" not in result.stderr
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_bytes((CONFIGS / "llama-3.1-70b.json").read_bytes())
    (folder / "hf_quant_config.json").write_bytes(b'{"quantization": "\xff"}')
    result = run_cli("model", "import", str(folder / "config.json"), env={"PLANNER_HOME": str(tmp_path / "home")})
    assert result.returncode == 2 and "hf_quant_config.json" in result.stderr and "Traceback" not in result.stderr
