"""`planner model import` shows the converter's own error and never a raw pydantic dump; odd
names are slugged, or refused with the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.catalog import build_catalog
from planner.errors import InputError
from planner.modelimport import MAX_ID_LENGTH, convert_config_file, import_model, slugify
from tests.conftest import CONFIGS, run_cli

QWEN_MOE = json.loads((CONFIGS / "qwen3-30b-a3b.json").read_text(encoding="utf-8"))


def _config(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**QWEN_MOE, **changes}), encoding="utf-8")
    return path


@pytest.fixture
def host(planner_make_host: Any) -> Any:
    return planner_make_host()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"num_key_value_heads": 5},
            "num_attention_heads (32) is not a multiple of num_kv_heads (config.json `num_key_value_heads`)",
        ),
        ({"num_experts_per_tok": 1000}, "active_params (config.json `num_experts_per_tok`) cannot exceed total_params"),
        ({"mlp_only_layers": 5}, "plugin qwen could not convert this Qwen3MoeForCausalLM config: TypeError"),
    ],
    ids=["kv-heads", "experts-per-token", "int-for-a-list"],
)
def test_the_converters_own_error_is_shown(tmp_path: Path, host: Any, changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(InputError) as caught:
        convert_config_file(_config(tmp_path, **changes), host)
    text = caught.value.render()
    assert expected in text and "no loaded plugin converts" not in text and "pydantic" not in text
    assert "fix:" in text


@pytest.mark.parametrize(
    ("name_or_path", "expected_id"),
    [
        ("Qwen/" + "x" * 100, "x" * MAX_ID_LENGTH),
        ("org/My Model (v2)!", "my-model-v2"),
        (["not", "text"], "custom"),
        ("///", "custom"),
    ],
    ids=["long", "odd-characters", "not-a-string", "only-slashes"],
)
def test_odd_names_in_the_config_are_slugged_and_kept_valid(
    tmp_path: Path, host: Any, name_or_path: Any, expected_id: str
) -> None:
    folder = tmp_path / "custom"
    folder.mkdir()
    path = folder / "config.json"
    path.write_text(json.dumps({**QWEN_MOE, "_name_or_path": name_or_path}), encoding="utf-8")
    imported = import_model(path, host, build_catalog(host))
    assert imported.spec.id == expected_id and imported.spec.name
    assert imported.spec.hf_id in ("", name_or_path)


@pytest.mark.parametrize("name", ["////", "a" * (MAX_ID_LENGTH + 1), "!!!"])
def test_a_name_that_cannot_be_an_id_is_refused_with_the_rule(tmp_path: Path, host: Any, name: str) -> None:
    with pytest.raises(InputError) as caught:
        import_model(_config(tmp_path), host, build_catalog(host), name=name)
    text = caught.value.render()
    assert "cannot be an id" in text and f"1 to {MAX_ID_LENGTH} characters of a-z" in text


def test_slugify_keeps_ids_within_the_rule() -> None:
    assert slugify("Llama 3 Custom") == "llama-3-custom"
    assert len(slugify("a-" * 100)) <= MAX_ID_LENGTH and not slugify("a-" * 100).endswith("-")
    assert slugify("???") == "model"


def test_the_command_shows_the_converter_error_with_exit_2(tmp_path: Path) -> None:
    result = run_cli(
        "model", "import", str(_config(tmp_path, num_key_value_heads=5)), env={"PLANNER_HOME": str(tmp_path)}
    )
    assert result.returncode == 2 and "num_key_value_heads" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    long = tmp_path / "long"
    long.mkdir()
    (long / "config.json").write_text(json.dumps({**QWEN_MOE, "_name_or_path": "org/" + "y" * 200}), encoding="utf-8")
    result = run_cli("model", "import", str(long / "config.json"), env={"PLANNER_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "y" * MAX_ID_LENGTH in result.stdout


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"num_hidden_layers": 2**63}, "num_hidden_layers"), ({"vocab_size": 10**20}, "vocab_size")],
    ids=["layers-a-converter-loops-over", "vocab"],
)
def test_absurd_config_integers_are_refused_not_looped_over(
    tmp_path: Path, host: Any, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as caught:
        convert_config_file(_config(tmp_path, **changes), host)
    assert f"{field}: must be at most" in caught.value.render()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"architectures": ["LlamaForCausalLM"], "x": "\xe9"}', "is not UTF-8"),
        ('{"a": 1}'.encode("utf-16"), "UTF-16"),
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_config_that_is_not_utf8_is_one_input_error(tmp_path: Path, host: Any, data: bytes, expected: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        convert_config_file(path, host)
    assert expected in caught.value.render() and "save" in caught.value.render()
