"""Exit codes are distinct, documented, and what the commands return."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from planner import errors
from tests.conftest import PLANS, REPO, run_cli


def test_exit_codes_are_distinct_and_the_readme_lists_each() -> None:
    codes = {name: value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert len(set(codes.values())) == len(codes) == 5
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"Exit codes: (.+?)\n\n", readme, re.DOTALL)
    assert listed, "README.md must keep its `Exit codes:` paragraph"
    for value in codes.values():
        assert re.search(rf"(^|[;:] ){value} ", listed.group(1)), f"README does not document exit code {value}"


def test_check_gates_on_error_findings_with_exit_1_and_bad_input_is_2(tmp_path: Path) -> None:
    gate = run_cli("check", str(PLANS / "trap-multinode-tp-pcie.yaml"))
    assert gate.returncode == errors.EXIT_FINDINGS == 1 and "error" in gate.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: x\nname: y\n", encoding="utf-8")
    refused = run_cli("check", str(bad))
    assert refused.returncode == errors.EXIT_INPUT == 2 and "'name' appears twice" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_internal_error_exits_70_and_says_where_it_was_raised(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(
        "import planner.resolve as r\ndef boom(*a, **k):\n    return 1 / 0\nr.resolve_plan = boom\n"
    )
    env: dict[str, Any] = {"PYTHONPATH": str(tmp_path)}
    result = run_cli("check", str(PLANS / "code-assistant.yaml"), env=env)
    assert result.returncode == errors.EXIT_INTERNAL == 70
    assert "internal error: ZeroDivisionError" in result.stderr and "raised at " in result.stderr
    assert "sitecustomize.py:3" in result.stderr and "please report it" in result.stderr
    assert "Traceback" not in result.stderr
