"""The Excel TCO workbook (planner/export): its sheets, names, styles and protection; user text
that can never become a formula; no links, macros or hidden sheets; and, recalculated by a
real LibreOffice, every TCO, Growth and Sensitivity figure equal to the planner's own to the
cent, before and after finance changes assumptions in the file."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from planner import workflows
from planner.export.content import SHEETS
from planner.export.cost_sheets import GROWTH_COLUMNS, LINE_FORMULAS
from planner.growth import growth_view
from planner.plan import Baseline, Plan
from planner.plan_costs import CostInputs
from planner.plan_tco import PlanTco, plan_tco, sensitivity
from planner.tco import SCALAR_INPUTS, cost_assumptions, energy_kwh_per_year, eur_per_gpu_year, eur_per_node_year
from tests.conftest import PLANS

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (.ci/run installs it)")

#: User text that a spreadsheet would run as a formula if it were stored as one.
HOSTILE = {
    "name": '=HYPERLINK("http://example.invalid","click")',
    "description": "+SUM(1,2)",
    "title": "\r=2+2",
    "tool": "@SUM(1)",
    "measured_on": "-1+2",
}


@pytest.fixture(scope="module")
def session() -> workflows.Session:
    return workflows.open_session()


@pytest.fixture(scope="module")
def demo_plan() -> Plan:
    return workflows.read_plan(workflows.example_plan_path())


@pytest.fixture(scope="module")
def exported(session: workflows.Session, demo_plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's workbook, written once for the module."""
    path = tmp_path_factory.mktemp("export") / "demo.xlsx"
    workflows.export(session, demo_plan, path, "demo.yaml", backend="builtin")
    return path


@pytest.fixture(scope="module")
def demo_tco(session: workflows.Session, demo_plan: Plan) -> workflows.TcoReport:
    return workflows.tco(session, demo_plan, "demo.yaml", backend="builtin")


def named(wb: Workbook, name: str) -> Any:
    """The cell a workbook-wide name points at."""
    ((title, coordinate),) = list(wb.defined_names[name].destinations)
    return wb[title][coordinate.replace("$", "")]


def recalculate(path: Path, folder: Path) -> Path:
    """Open ``path`` in headless LibreOffice (its own profile, so runs can be parallel) and save
    it as xlsx with every formula's value."""
    assert SOFFICE is not None
    out = folder / "recalculated"
    profile = folder / "lo-profile"
    command = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and (out / path.name).exists(), result.stdout + result.stderr
    return out / path.name


# ------------------------------------------------------------------ structure


def test_the_workbook_has_every_sheet_named_inputs_styles_and_protection(
    exported: Path, demo_tco: workflows.TcoReport
) -> None:
    wb = load_workbook(exported)
    assert tuple(wb.sheetnames) == SHEETS
    cell = named(wb, "concurrency_per_replica")
    label = cell.parent.cell(cell.row, 1).value
    assert demo_tco.tco.fleet.pools is not None and "pools: the sizing's concurrency at the pools' Cr_closed" in label
    assert all(ws.sheet_state == "visible" for ws in wb), "no hidden sheets"
    for ws in wb:
        assert ws.protection.sheet and not ws.protection.password, f"{ws.title}: protected without a password"
        assert ws.freeze_panes is not None, f"{ws.title}: frozen header"
        assert ws.print_area, f"{ws.title}: print area"
        assert any((d.width or 0) > 10 for d in ws.column_dimensions.values()), f"{ws.title}: fitted columns"
    for key, _, _ in SCALAR_INPUTS:
        cell = named(wb, key)
        assert cell.parent.title == "Assumptions" and isinstance(cell.value, int | float), key
        assert cell.protection.locked is (key == "horizon_years"), f"{key}: inputs are unlocked"
        if key != "horizon_years":
            assert cell.fill.fgColor.rgb.endswith("FFF2CC"), f"{key}: inputs are visibly styled"
    assert named(wb, "traffic_growth").protection.locked is False
    assert named(wb, "fleet_gpus").protection.locked is True and named(wb, "fleet_gpus").value.startswith("=")
    tco = wb["TCO"]
    for row in range(2, 2 + len(LINE_FORMULAS)):
        assert str(tco.cell(row, 2).value).startswith("=") and "EUR" in tco.cell(row, 2).number_format
    assert named(wb, "eur_per_1m_output_tokens").value.startswith("=IF(output_tokens_per_year>0,tco_total")
    assert "EUR" in named(wb, "eur_per_1m_output_tokens").number_format
    assert all(str(c.value).startswith("=") for c in wb["Growth"]["B"][1:])
    envelope = wb["Envelope"]
    decision = demo_tco.plan.decision
    assert decision is not None, "every plan's fleet is settled in simulation"
    assert str(envelope["A3"].value).startswith("simulated") and envelope["B1"].value == decision.cr_closed
    assert envelope["B2"].value == pytest.approx(decision.cr_open_req_s) and envelope.max_row == 5 + len(decision.curve)
    assert wb["Findings"].max_row == 1 + len(demo_tco.plan.validation.findings)
    assert wb.properties.title == "TCO: Internal knowledge assistant"
    assert wb.properties.version and wb.properties.version.startswith("sha256:")


def test_the_charts_are_native_and_there_are_no_links_macros_or_hidden_sheets(exported: Path) -> None:
    with zipfile.ZipFile(exported) as z:
        names = z.namelist()
        charts = [n for n in names if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        assert len(charts) == 2, "EUR per 1M tokens against utilisation; cumulative cost per quarter"
        text = " ".join(z.read(n).decode() for n in charts)
        assert re.search(r"<(c:)?scatterChart>", text) and re.search(r"<(c:)?lineChart>", text)
        assert "Sensitivity" in text and "Growth" in text, "charts plot the workbook's own cells"
        assert not any("externalLink" in n or "vbaProject" in n or n.endswith(".bin") for n in names)
        types = z.read("[Content_Types].xml").decode()
        assert "macroEnabled" not in types and "externalLink" not in types
        workbook = z.read("xl/workbook.xml").decode()
        assert "hidden" not in workbook.lower() and "[1]" not in workbook, "no hidden sheets or linked books"


def test_user_text_is_stored_as_text_never_a_formula(session: workflows.Session, tmp_path: Path) -> None:
    plan = workflows.read_plan(workflows.example_plan_path())
    plan = plan.model_copy(
        update={
            "name": HOSTILE["name"],
            "description": HOSTILE["description"] + "\x01",
            "use_case": plan.use_case.model_copy(update={"title": HOSTILE["title"]}),
            "baseline": Baseline(
                cr_closed_output_tok_s=700.0, tool=HOSTILE["tool"], measured_on=HOSTILE["measured_on"]
            ),
        }
    )
    path = tmp_path / "hostile.xlsx"
    workflows.export(session, plan, path, "\t=cmd|' /C calc'!A0.yaml", backend="builtin")
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(n.endswith("sharedStrings.xml") for n in z.namelist()), "strings are stored inline"
    cells = [c for text in sheets for c in re.findall(r"<c [^>]*?(?:/>|>.*?</c>)", text, re.S)]
    formulas = [f for c in cells for f in re.findall(r"<f>(.*?)</f>", c, re.S)]
    assert len(formulas) > 100, "the workbook has its own formulas"
    for f in formulas:
        assert "HYPERLINK" not in f and "SUM(1" not in f and "calc" not in f and "2+2" not in f, f
    texts = {}
    for cell in cells:
        text = re.search(r"<is><t[^>]*>(.*?)</t></is>", cell, re.S)
        if text:
            texts[_unescape(text.group(1))] = cell
    for key, hostile in HOSTILE.items():
        holding = [cell for text, cell in texts.items() if hostile in text]
        assert holding, f"{key} is in the workbook as text"
        assert all('t="inlineStr"' in c and "<f>" not in c for c in holding), f"{key} is never a formula"
    assert any(text.startswith("\t=cmd") for text in texts), "the file name too"
    assert HOSTILE["title"] in texts and HOSTILE["name"] in [t.removeprefix("TCO: ") for t in texts]
    assert not any("\x01" in text for text in texts), "control characters dropped"
    wb = load_workbook(path)
    assert wb["Summary"]["A1"].value == "TCO: " + HOSTILE["name"] and wb["Summary"]["A1"].data_type == "s"


def _unescape(xml_text: str) -> str:
    for escaped, char in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&#13;", "\r"), ("_x000D_", "\r"),
                          ("&#9;", "\t"), ("&amp;", "&")):  # fmt: skip
        xml_text = xml_text.replace(escaped, char)
    return xml_text


# ------------------------------------------------------------- recalculated


def _close(actual: Any, expected: Any, where: str) -> None:
    """Equal to the cent (1e-12 relative for figures too large for cents); missing figures read n/a."""
    if expected is None:
        assert actual == "n/a", where
    elif isinstance(expected, bool):
        assert actual == ("yes" if expected else "no"), where
    elif isinstance(expected, str):
        assert actual == expected, where
    else:
        assert isinstance(actual, int | float), f"{where}: {actual!r}"
        # to the cent, or to 1e-12 relative where a float carries no cents (tokens a year: 1e13)
        assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=0.005), f"{where}: {actual} != {expected}"


def expected_names(tco: PlanTco) -> dict[str, Any]:
    """What each named figure of the TCO sheet must read, from the planner's model."""
    lines = {f"tco_{key}": value for key, value in tco.lines.as_dict().items()}
    return {
        **lines,
        "tco_total": tco.eur_per_year,
        "tco_spares_total": tco.spare_lines.total,
        "server_cost_per_gpu": tco.server_eur_per_gpu,
        "cost_per_gpu_year": eur_per_gpu_year(tco.gpu, tco.costs),
        "cost_per_node_year": eur_per_node_year(tco.costs),
        "energy_kwh_per_year": energy_kwh_per_year(tco.gpu, tco.fleet.gpus, tco.costs),
        "fleet_output_tok_s": tco.output_tok_s,
        "output_tokens_per_year": tco.output_tokens_per_year,
        "total_tokens_per_year": tco.total_tokens_per_year,
        "eur_per_1m_output_tokens": tco.eur_per_million_output,
        "eur_per_1m_total_tokens": tco.eur_per_million_total,
        "eur_per_1m_gpu_servers_and_power": tco.ranked_eur_per_million_output,
        "eur_per_gpu_hour": tco.eur_per_gpu_hour,
        "rented_eur_per_year": tco.rented_eur_per_year,
        "rented_eur_per_1m_output_tokens": tco.rented_eur_per_million_output,
        "api_eur_per_1m_output_tokens": tco.api_eur_per_million_output,
        "api_eur_per_year": tco.api_eur_per_year,
        "break_even_vs_rent": tco.break_even_vs_rent,
        "break_even_vs_api": tco.break_even_vs_api,
        "cheapest": tco.cheapest,
        "fleet_gpus": tco.fleet.gpus,
        "fleet_nodes": tco.fleet.nodes,
        "spare_gpus": tco.fleet.spare_gpus,
        "spare_nodes": tco.fleet.spare_nodes,
    }


def assert_workbook_is_the_model(wb: Workbook, plan: Plan, tco: PlanTco, years: int) -> dict[str, Any]:
    """Every TCO, Growth and Sensitivity cell against the planner's numbers; returns what was read."""
    read: dict[str, Any] = {}
    for name, expected in expected_names(tco).items():
        read[name] = named(wb, name).value
        _close(read[name], expected, name)
    sheet = wb["TCO"]
    for row, (_, value, spares) in enumerate(tco.line_items(), start=2):
        _close(sheet.cell(row, 2).value, value, f"TCO!B{row}")
        _close(sheet.cell(row, 3).value, spares, f"TCO!C{row}")
    growth = growth_view(plan, tco, years)
    sheet = wb["Growth"]
    assert sheet.max_row >= 1 + len(growth.quarters)
    for r, quarter in enumerate(growth.quarters, start=2):
        for column, (_, key, _) in enumerate(GROWTH_COLUMNS, start=1):
            value = sheet.cell(r, column).value
            read[f"Growth.{key}.{r}"] = value
            _close(value, getattr(quarter, key), f"Growth row {r} {key}")
    grid = sensitivity(tco)
    sheet = wb["Sensitivity"]
    for column, price in enumerate(grid.eur_per_kwh, start=2):
        _close(sheet.cell(3, column).value, price, f"Sensitivity price {column}")
    for r, row in enumerate(grid.grid, start=4):
        _close(sheet.cell(r, 1).value, grid.utilisations[r - 4], f"Sensitivity utilisation {r}")
        for column, value in enumerate(row, start=2):
            read[f"Sensitivity.{r}.{column}"] = sheet.cell(r, column).value
            _close(sheet.cell(r, column).value, value, f"Sensitivity row {r} column {column}")
        _close(sheet.cell(r, 2 + len(row)).value, grid.rented, f"Sensitivity rented {r}")
        _close(sheet.cell(r, 3 + len(row)).value, grid.api, f"Sensitivity API {r}")
    return read


def assert_no_errors(wb: Workbook) -> None:
    errors = [
        f"{ws.title}!{cell.coordinate}={cell.value}"
        for ws in wb
        for row in ws.iter_rows()
        for cell in row
        if cell.data_type == "e" or (isinstance(cell.value, str) and re.match(r"#[A-Z/0!?]+|Err:\d+", cell.value))
    ]
    assert not errors, errors


@needs_soffice
def test_libreoffice_recalculates_every_figure_to_the_cent(
    exported: Path, demo_tco: workflows.TcoReport, tmp_path: Path
) -> None:
    assert load_workbook(exported, data_only=True)["TCO"]["B2"].value is None, "openpyxl stores no values"
    wb = load_workbook(recalculate(exported, tmp_path), data_only=True)
    assert_no_errors(wb)
    assert_workbook_is_the_model(wb, demo_tco.plan.resolved.plan, demo_tco.tco, demo_tco.years)
    summary = {wb["Summary"].cell(r, 1).value: wb["Summary"].cell(r, 2).value for r in range(1, 40)}
    found = [f.severity for f in demo_tco.plan.validation.findings]
    assert found.count("warning") == 1 and found.count("error") == 0 and found.count("info") == 3
    assert [summary[s] for s in ("error", "warning", "info")] == [found.count(s) for s in ("error", "warning", "info")]
    _close(
        summary["Cumulative owned cost over 3 years (Growth)"], demo_tco.growth.quarters[-1].cumulative_owned_eur, ""
    )
    assert named(wb, "capex_total").value == pytest.approx(
        demo_tco.tco.fleet.gpus * demo_tco.tco.server_eur_per_gpu + demo_tco.tco.fleet.nodes * 28_700
    )


@needs_soffice
def test_changed_assumptions_move_every_dependent_figure_as_the_model_says(
    exported: Path, demo_tco: workflows.TcoReport, tmp_path: Path
) -> None:
    before_wb = load_workbook(recalculate(exported, tmp_path / "before"), data_only=True)
    plan, tco = demo_tco.plan.resolved.plan, demo_tco.tco
    before = assert_workbook_is_the_model(before_wb, plan, tco, demo_tco.years)
    edited = load_workbook(exported)
    gpu = tco.gpu.id
    named(edited, "eur_per_kwh").value = 0.31
    named(edited, "utilisation").value = 0.45
    named(edited, "server_price_eur").value = 250_000
    changed = tmp_path / "changed.xlsx"
    edited.save(changed)
    wb = load_workbook(recalculate(changed, tmp_path / "after"), data_only=True)
    assert_no_errors(wb)
    inputs = CostInputs(eur_per_kwh=0.31, utilisation=0.45, server_price_eur={gpu: 250_000.0})
    costs = replace(cost_assumptions(inputs, demo_tco.plan.resolved.model.id), horizon_years=tco.costs.horizon_years)
    model = plan_tco(plan, demo_tco.fleet, demo_tco.plan.decision, costs)
    assert model is not None and model.server_eur_per_gpu == 250_000 / tco.gpu.gpus_per_node
    after = assert_workbook_is_the_model(wb, plan, model, demo_tco.years)
    moved = [
        "tco_gpu_servers", "tco_gpu_power", "tco_server_power", "tco_total", "tco_spares_total",
        "server_cost_per_gpu", "cost_per_gpu_year", "output_tokens_per_year", "eur_per_1m_output_tokens",
        "eur_per_1m_total_tokens", "eur_per_1m_gpu_servers_and_power", "eur_per_gpu_hour", "rented_eur_per_year",
        "api_eur_per_year", "break_even_vs_rent", "break_even_vs_api", "Growth.owned_eur.2",
        "Growth.hardware_bought_eur.2", "Growth.rented_eur.5", "Growth.api_eur.9", "Growth.output_tokens.13",
        "Sensitivity.4.2", "Sensitivity.13.7",
    ]  # fmt: skip
    for name in moved:
        assert after[name] != pytest.approx(before[name]), f"{name} follows the inputs"
    for name in ("tco_network", "tco_hosting", "fleet_output_tok_s", "rented_eur_per_1m_output_tokens",
                 "api_eur_per_1m_output_tokens", "Growth.replicas.5"):  # fmt: skip
        assert after[name] == pytest.approx(before[name]), f"{name} does not depend on these inputs"


@needs_soffice
def test_a_plan_without_rented_or_api_prices_reads_n_a_never_an_error(
    session: workflows.Session, tmp_path: Path
) -> None:
    """Qwen3-32B has no API price in the catalog; the rented price is taken out; a brownfield limit flags a change."""
    plan = workflows.read_plan(PLANS / "code-assistant.yaml")
    plan = plan.model_copy(update={"hardware": plan.hardware.model_copy(update={"nodes": 2, "gpus_per_node": 8})})
    report = workflows.tco(session, plan, "code.yaml", years=2, backend="builtin")
    gpu = report.tco.gpu.id
    path = tmp_path / "code.xlsx"
    workflows.export(session, plan, path, "code.yaml", years=2, backend="builtin")
    edited = load_workbook(path)
    named(edited, "rented_eur_per_gpu_hour").value = None
    edited.save(path)
    wb = load_workbook(recalculate(path, tmp_path), data_only=True)
    assert_no_errors(wb)
    bare = replace(report.tco, costs=replace(report.tco.costs, rented_eur_per_gpu_hour={}))
    assert bare.costs.rent(bare.gpu) is None and bare.api_eur_per_million_output is None, gpu
    assert_workbook_is_the_model(wb, report.plan.resolved.plan, bare, 2)
    assert named(wb, "cheapest").value == "own" == bare.cheapest


#: A new value for every editable input of the Assumptions sheet (none equal to its default).
EDITS = {
    "server_overhead_fraction": 0.35, "network_eur_per_node": 20_000.0, "storage_eur_per_node": 3_000.0,
    "amortisation_years": 5.0, "residual_value_fraction": 0.1, "eur_per_kwh": 0.25, "pue": 1.4, "load_factor": 0.85,
    "server_power_overhead_fraction": 0.6, "hosting_eur_per_kw_year": 1_500.0, "hosting_eur_per_rack_unit_year": 120.0,
    "rack_units_per_node": 8.0, "licences_eur_per_gpu_year": 500.0, "support_eur_per_gpu_year": 1_800.0,
    "operations_fte_per_gpu": 0.006, "operations_eur_per_fte_year": 110_000.0, "utilisation": 0.7,
    "api_eur_per_million_input_tokens": 0.5, "api_eur_per_million_output_tokens": 1.1,
}  # fmt: skip


@needs_soffice
def test_every_input_of_the_assumptions_sheet_is_live(
    exported: Path, demo_tco: workflows.TcoReport, tmp_path: Path
) -> None:
    edited = load_workbook(exported)
    for name, value in {**EDITS, "gpu_price_eur": 15_000.0, "rented_eur_per_gpu_hour": 2.1,
                        "traffic_growth": 0.25, "burst_headroom": 0.25}.items():  # fmt: skip
        cell = named(edited, name)
        assert cell.protection.locked is False, f"{name} is editable"
        cell.value = value
    path = tmp_path / "every-input.xlsx"
    edited.save(path)
    wb = load_workbook(recalculate(path, tmp_path), data_only=True)
    assert_no_errors(wb)
    report, fleet = demo_tco.plan, demo_tco.fleet
    gpu = fleet.deployment.gpu
    assert gpu.price is not None
    cheaper = gpu.model_copy(update={"price": gpu.price.model_copy(update={"eur": 15_000.0})})
    fleet = replace(fleet, deployment=replace(fleet.deployment, gpu=cheaper))
    plan = report.resolved.plan
    plan = plan.model_copy(update={"traffic": plan.traffic.model_copy(update={"growth": 0.25, "burst_factor": 1.25})})
    inputs = CostInputs(**EDITS, rented_eur_per_gpu_hour={gpu.id: 2.1})  # type: ignore[arg-type]
    costs = replace(cost_assumptions(inputs, report.resolved.model.id), horizon_years=demo_tco.years)
    model = plan_tco(plan, fleet, report.decision, costs)
    assert model is not None
    assert_workbook_is_the_model(wb, plan, model, demo_tco.years)


@needs_soffice
def test_a_critical_fleet_spreads_over_its_failure_domains_in_every_figure(
    session: workflows.Session, tmp_path: Path
) -> None:
    """N+2 at 99.95%: the twelve one-GPU replicas would pack into two nodes, where one node's failure
    takes the spares down with what they protect; the planner spreads them over three, the rules it
    checks its own choice against stay quiet, and the TCO, the plan's text, the growth view and the
    workbook (recalculated by LibreOffice) count the same nodes."""
    from planner.render import plan_report_text
    from planner.sizing.fleet import nodes_for

    code = workflows.read_plan(PLANS / "code-assistant.yaml")
    plan = code.model_copy(update={"slo": code.slo.model_copy(update={"critical": True, "availability_pct": 99.95})})
    report = workflows.tco(session, plan, "critical.yaml", backend="builtin")
    fleet = report.tco.fleet
    packed = nodes_for(fleet.deployment, fleet.replicas)
    assert fleet.spares == 2 and fleet.min_nodes == 3 and packed < 3 == fleet.nodes
    assert report.plan.decision is not None and report.plan.decision.nodes == fleet.nodes
    resilience = {f.rule_id for f in report.plan.validation.findings if f.rule_id.startswith("resilience.")}
    assert not resilience, "the planner's own fleet passes the resilience rules"
    assert f"in 3 node(s) (they pack into {packed}: spread for the failure domains" in plan_report_text(report.plan)
    assert all(q.nodes >= min(3, q.replicas) for q in report.growth.quarters)
    path = tmp_path / "critical.xlsx"
    workflows.export(session, plan, path, "critical.yaml", backend="builtin")
    wb = load_workbook(recalculate(path, tmp_path), data_only=True)
    assert_no_errors(wb)
    assert_workbook_is_the_model(wb, report.plan.resolved.plan, report.tco, report.years)
    assert named(wb, "min_nodes").value == 3 and named(wb, "fleet_nodes").value == 3


@pytest.mark.slow
@needs_soffice
def test_a_full_envelope_plan_is_priced_at_its_simulated_cr_closed(session: workflows.Session, tmp_path: Path) -> None:
    code = workflows.read_plan(PLANS / "code-assistant.yaml")
    plan = code.model_copy(update={"slo": code.slo.model_copy(update={"scenario": "full-envelope"})})
    report = workflows.tco(session, plan, "code.yaml", backend="builtin")
    envelope = report.plan.decision
    assert envelope is not None and report.tco.throughput.kind == "simulated"
    assert report.tco.fleet.replicas == envelope.replicas, "the fleet the simulation settled"
    path = tmp_path / "envelope.xlsx"
    workflows.export(session, plan, path, "code.yaml", backend="builtin")
    wb = load_workbook(recalculate(path, tmp_path), data_only=True)
    assert_no_errors(wb)
    assert_workbook_is_the_model(wb, report.plan.resolved.plan, report.tco, report.years)
    sheet = wb["Envelope"]
    assert sheet["B1"].value == envelope.cr_closed and sheet["B2"].value == pytest.approx(envelope.cr_open_req_s)
    assert str(sheet["A3"].value).startswith("simulated") and sheet.max_row == 5 + len(envelope.curve)
