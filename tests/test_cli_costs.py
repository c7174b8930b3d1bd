"""The cost commands run for real (planner tco, planner export), the plan's costs section as a
user writes it, and the cost assumptions that planner plan shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from planner import workflows
from planner.export.content import SHEETS
from planner.plan_costs import CostInputs
from tests.conftest import PLANS, REPO, run_cli

DEMO = workflows.example_plan_path()


def plan_file(tmp_path: Path, base: Path = DEMO, **changes: object) -> Path:
    """The plan at ``base`` with top-level fields changed, written as YAML."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one_clear_error(result: subprocess.CompletedProcess[str], *words: str, code: int = 2) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_tco_prints_every_line_the_alternatives_and_the_growth() -> None:
    result = run_cli("tco", str(DEMO))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for words in (
        "GPU servers (amortised)", "Network: switches, NICs (amortised)", "GPU power", "Hosting", "Hardware support",
        "Operations staff", "of which spares", "EUR per 1M output tokens: owned", "rented", "API",
        "EUR per 1M tokens, input and output", "owned cost per GPU-hour", "break-even utilisation",
        "against renting", "against the API", "simulated", "Growth over 3 year(s)", "Q12",
        "Events:", "Q1: start with", "Assumptions", "eur_per_kwh", "catalog",
    ):  # fmt: skip
        assert words in out, words


def test_tco_json_is_the_model(tmp_path: Path) -> None:
    path = plan_file(tmp_path, costs={"eur_per_kwh": 0.25, "utilisation": 0.5})
    data = json.loads(run_cli("tco", str(path), "--json", "--years", "2").stdout)
    tco = data["tco"]
    lines = {k: v for k, v in tco["eur_per_year"].items() if k != "total"}
    assert tco["eur_per_year"]["total"] == pytest.approx(sum(lines.values()))
    assert tco["throughput"]["basis"] == "simulated" and tco["throughput"]["utilisation"] == 0.5
    tokens = tco["throughput"]["fleet_output_tok_s"] * 365 * 24 * 3600 * 0.5
    assert tco["eur_per_1m_output_tokens"] == pytest.approx(tco["eur_per_year"]["total"] / tokens * 1e6)
    assert data["years"] == 2 and len(data["growth"]["quarters"]) == 8
    origins = {a["key"]: a["origin"] for a in data["assumptions"]}
    assert origins["eur_per_kwh"] == "plan" and origins["pue"] == "catalog"
    assert len(data["sensitivity"]["eur_per_1m_output_tokens"]) == len(data["sensitivity"]["utilisations"])


def test_tco_refuses_what_it_cannot_cost_with_one_clear_error(tmp_path: Path) -> None:
    one_clear_error(run_cli("tco", str(DEMO), "--years", "0"), "--years 0", "fix:")
    one_clear_error(
        run_cli("tco", str(PLANS / "reasoning-agent-unreachable.yaml")), "nothing to cost", "planner plan", code=3
    )
    # pins that cannot hold are named, as `planner plan` names them (it read "meets the SLOs on both axes")
    amd = plan_file(tmp_path, hardware={"gpu": "mi300x"}, runtime={"id": "trtllm"})
    refused = run_cli("tco", str(amd))
    one_clear_error(refused, "the plan pins what cannot hold, so there is nothing to cost", "runtime.id", code=3)
    assert "does not run on amd GPUs" in refused.stderr and "SLOs" not in refused.stderr
    unpriced = plan_file(tmp_path, hardware={"gpu": "h100-pcie"})
    one_clear_error(run_cli("tco", str(unpriced)), "h100-pcie has no price hint", "server_price_eur")
    quoted = plan_file(tmp_path, hardware={"gpu": "h100-pcie"}, costs={"server_price_eur": {"H100 PCIe": 180000}})
    result = run_cli("tco", str(quoted), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tco"]["eur_per_year"]["gpu_servers"] == pytest.approx(data["tco"]["fleet"]["gpus"] * 22_500 / 4)


def test_the_costs_section_is_checked_with_its_path_and_fix(tmp_path: Path) -> None:
    bad = plan_file(tmp_path, costs={"eur_per_kwh": -1, "pue": 0.5, "utilisation": 1.5, "hosting_per_kw": 3})
    one_clear_error(
        run_cli("plan", str(bad)), "costs.eur_per_kwh", "costs.pue", "costs.utilisation", "costs.hosting_per_kw"
    )
    unknown = plan_file(tmp_path, costs={"rented_eur_per_gpu_hour": {"h100-sxn": 2.0}})
    one_clear_error(run_cli("plan", str(unknown)), "costs.rented_eur_per_gpu_hour.h100-sxn", "h100-sxm")


def test_plan_shows_the_cost_assumptions_and_where_each_comes_from(tmp_path: Path) -> None:
    every_gpu = ["a100-sxm-80gb", "b200", "b300", "h100-sxm", "h200-sxm", "mi300x", "mi325x", "mi355x"]
    rents = {gpu: 2.0 for gpu in every_gpu}  # whichever GPU the plan chooses, the plan gives its rent
    path = plan_file(tmp_path, costs={"eur_per_kwh": 0.25, "rented_eur_per_gpu_hour": rents})
    text = run_cli("plan", str(path)).stdout
    assert "Costs        from the plan: eur_per_kwh 0.25" in text and "catalog defaults: " in text
    assert "pue 1.56" in text and "total cost of ownership" in text and "for GPU servers and GPU power" in text
    data = json.loads(run_cli("plan", str(path), "--json").stdout)
    rows = {a["plan_field"] or a["key"]: a for a in data["costs"]["assumptions"]}
    assert rows["eur_per_kwh"]["origin"] == "plan" and rows["pue"]["origin"] == "catalog"
    gpu = data["sizing"]["chosen"]["operating_point"]["deployment"]["gpu"]
    assert rows["pue"]["source"].startswith("https://") and rows[f"rented_eur_per_gpu_hour.{gpu}"]["value"] == 2.0
    assert data["costs"]["tco"]["eur_per_1m_output_tokens_gpu_servers_and_power"] == pytest.approx(
        data["sizing"]["chosen"]["eur_per_1m_tokens"], abs=1e-4
    )


def test_export_writes_the_workbook(tmp_path: Path) -> None:
    out = tmp_path / "tco.xlsx"
    result = run_cli("export", str(DEMO), "--xlsx", str(out), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["path"] == str(out) and data["bytes"] == out.stat().st_size and data["sheets"] == list(SHEETS)
    assert load_workbook(out).sheetnames == list(SHEETS)
    text = run_cli("export", str(DEMO), "--xlsx", str(out)).stdout
    assert text.startswith(f"wrote {out}") and "revision sha256:" in text


def test_an_output_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    one_clear_error(run_cli("export", str(DEMO), "--xlsx", str(tmp_path / "missing" / "tco.xlsx")), "cannot write")
    folder = tmp_path / "taken.xlsx"
    folder.mkdir()
    one_clear_error(run_cli("export", str(DEMO), "--xlsx", str(folder)), "cannot write", "fix:")
    one_clear_error(run_cli("export", str(DEMO), "--xlsx", str(tmp_path / "tco.csv")), ".xlsx", "tco.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.xlsx"], "nothing half-written"


def test_only_export_loads_openpyxl(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom planner.cli import main\n"
        f"main(['tco', {str(DEMO)!r}, '--json'])\n"
        "print('AFTER-TCO', 'openpyxl' in sys.modules)\n"
        f"main(['export', {str(DEMO)!r}, '--xlsx', sys.argv[1]])\n"
        "print('AFTER-EXPORT', 'openpyxl' in sys.modules, 'numpy' in sys.modules)\n"
        "import numpy\nprint('NUMPY-STILL-IMPORTS', numpy.zeros(1).size == 1)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "tco.xlsx")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PLANNER_PERF_BACKEND": "builtin"},
    )
    assert "AFTER-TCO False" in out.stdout, out.stdout[-500:] + out.stderr
    assert "AFTER-EXPORT True False" in out.stdout, "openpyxl loaded, numpy kept out of a one-off export"
    assert "NUMPY-STILL-IMPORTS True" in out.stdout and (tmp_path / "tco.xlsx").stat().st_size > 10_000


def test_the_readme_and_docs_describe_the_commands_every_sheet_and_every_field() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert (
        "`planner tco PLAN_OR_PROJECT" in readme
        and "`planner export PLAN_OR_PROJECT --xlsx OUT.xlsx" in readme
        and "costs:" in readme
    )
    doc = (REPO / "docs" / "tco.md").read_text(encoding="utf-8")
    missing_sheets = [sheet for sheet in SHEETS if f"| {sheet} |" not in doc]
    missing_fields = [name for name in CostInputs.model_fields if f"  {name}:" not in doc]
    assert not missing_sheets and not missing_fields, (missing_sheets, missing_fields)


def test_a_saved_project_is_priced_and_exported_like_its_plan_file(tmp_path: Path) -> None:
    db, plan = tmp_path / "projects.db", PLANS / "trap-averages-only.yaml"
    assert run_cli("project", "new", "trial", "--db", str(db)).returncode == 0
    assert run_cli("plan", str(plan), "--save", "trial", "-m", "first", "--db", str(db)).returncode == 0
    by_file = json.loads(run_cli("tco", str(plan), "--json").stdout)
    by_project = json.loads(run_cli("tco", "trial", "--db", str(db), "--json").stdout)
    assert by_project["tco"] == by_file["tco"] and by_project["growth"] == by_file["growth"]
    assert by_project["source"] == "trial revision 1"
    out = tmp_path / "trial.xlsx"
    result = run_cli("export", "trial@1", "--db", str(db), "--xlsx", str(out), "--json")
    assert result.returncode == 0, result.stderr
    revision = json.loads(result.stdout)["revision"]
    assert revision.startswith("trial revision 1 (sha256:")
    book = load_workbook(out)
    assert book.properties.version == revision
    assert any(
        str(cell.value).startswith(f"Project {revision}; written by planner")
        for row in book["Summary"].iter_rows()
        for cell in row
    )
    one_clear_error(run_cli("tco", "trial@9", "--db", str(db)), "matches no revision", "revisions 1 to 1")
    one_clear_error(
        run_cli("export", "missing", "--db", str(tmp_path / "none.db"), "--xlsx", str(out)),
        "neither a plan file nor a saved project", "planner plan PLAN --save NAME",
    )  # fmt: skip
