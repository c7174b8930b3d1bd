"""The live sheets of the TCO workbook: Assumptions, TCO, Growth and Sensitivity.

Every input sits once, named, on Assumptions; every figure on TCO, Growth and Sensitivity is
a formula over those names, the same arithmetic as :mod:`planner.tco`,
:mod:`planner.plan_tco` and :mod:`planner.growth`, so a spreadsheet program recalculates what
the planner computed and follows any input finance changes. Missing prices (no rented price
for a GPU class, no API price for a model) leave an empty input and read "n/a", never an error.
"""

from __future__ import annotations

from openpyxl.cell.cell import Cell
from openpyxl.chart import LineChart, Reference, ScatterChart, Series
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from planner.decision import PoolDecision
from planner.export.cells import (
    CHART_ROWS,
    COUNT,
    DECIMAL,
    EUR,
    EUR_CENTS,
    EUR_PER_TOKEN,
    SHARE,
    WRAP,
    finish_sheet,
    header_row,
    mark_editable,
    name_cell,
    put_formula,
    put_text,
    put_value,
    section,
)
from planner.export.content import TcoWorkbook
from planner.plan_tco import SENSITIVITY_PRICE_FACTORS
from planner.tco import HOURS_PER_YEAR, LINE_LABELS, SECONDS_PER_YEAR

NA = '"n/a"'

#: Number format by the unit an assumption is given in.
UNIT_FORMATS = {
    "fraction": SHARE,
    "EUR per kWh": '0.000 "EUR"',
    "EUR per GPU-hour": EUR_CENTS,
    "EUR per 1M tokens": '0.0000 "EUR"',
    "FTE per GPU": "0.0000",
    "ratio": DECIMAL,
    "years": "0.##",
    "RU": "0.##",
}

#: Inputs finance may not change in the file (the Growth sheet's rows follow the horizon).
FIXED_INPUTS = {"horizon_years"}


def assumptions_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Every input once, named, with its unit, origin and source; the cost inputs editable."""
    header_row(ws, 1, ("Input", "Value", "Unit", "From", "Name in formulas", "Source"))
    note = (
        "Yellow cells are inputs: change one and every figure follows. The rest is protected (no password). "
        "Empty prices mean none is known: the figures that need them read n/a."
    )
    put_text(ws, 2, 1, note)
    row = 4
    section(ws, row, "Costs and prices")
    for a in c.assumptions:
        row += 1
        cell = _input_row(wb, ws, row, a.label, a.value, a.unit, a.origin, a.key, a.source)
        if a.key not in FIXED_INPUTS:
            mark_editable(cell)
    row = _fixed_inputs(wb, ws, row + 2, c)


def _input_row(
    wb: Workbook,
    ws: Worksheet,
    row: int,
    label: str,
    value: float | int | None,
    unit: str,
    origin: str,
    name: str,
    source: str,
) -> Cell:
    put_text(ws, row, 1, label)
    cell = put_value(ws, row, 2, value, UNIT_FORMATS.get(unit, EUR if unit.startswith("EUR") else DECIMAL))
    put_text(ws, row, 3, unit)
    put_text(ws, row, 4, origin)
    put_text(ws, row, 5, name)
    put_text(ws, row, 6, source)
    name_cell(wb, name, cell)
    return cell


def _fixed_inputs(wb: Workbook, ws: Worksheet, row: int, c: TcoWorkbook) -> int:
    """Hardware, fleet, throughput and growth inputs from the catalog, the sizing and the plan."""
    t, gpu, dep = c.tco, c.tco.gpu, c.tco.fleet.deployment
    g = c.growth.inputs
    groups: list[tuple[str, list[tuple[str, float | int, str, str, str]]]] = [
        ("Hardware (catalog)", [
            ("gpu_tdp_w", gpu.tdp_w, "W", f"{gpu.id} TDP", "catalog"),
            ("gpus_per_node", gpu.gpus_per_node, "GPUs", f"{gpu.id} GPUs per node", "catalog"),
        ]),
        ("Fleet (sizing)", [
            ("fleet_replicas_for_load", t.fleet.replicas_for_load, "replicas", "Replicas carrying the load", "sizing"),
            ("spare_replicas", t.fleet.spares, "replicas", "Spare replicas (N+1/N+2)", "plan's availability"),
            ("min_nodes", t.fleet.min_nodes, "nodes",
             "Fewest nodes the replicas spread over (failure domains: placement, N+2 spares)", "plan's availability"),
            ("gpus_per_replica", dep.gpus, "GPUs", f"GPUs per replica ({dep.label})" if t.fleet.pools is None
             else f"GPUs per replica served aggregated ({dep.label}; the pools' are below)", "sizing"),
            *_pool_inputs(t.fleet.pools),
        ]),
        ("Throughput at Cr_closed", [
            ("output_tok_s_per_replica", t.throughput.output_tok_s_per_replica, "tokens/s",
             f"Output tokens/s per replica: {t.throughput.label}", t.throughput.kind),
            ("concurrency_per_replica", t.throughput.concurrency_per_replica, "requests",
             "Concurrent requests per replica at Cr_closed" + (
                 " (pools: the sizing's concurrency at the pools' Cr_closed rate, per replica of either pool)"
                 if t.fleet.pools is not None else ""), t.throughput.kind),
            ("isl_tokens", t.isl, "tokens", "Input tokens per request (sizing percentile)", "plan"),
            ("osl_tokens", t.osl, "tokens", "Output tokens per request (sizing percentile)", "plan"),
            ("peak_concurrency", t.peak_concurrency, "requests", "Peak concurrency today", "plan"),
            ("sized_provisioned_concurrency", t.provisioned_concurrency, "requests",
             "Concurrency the sized fleet is provisioned for (headroom included)", "sizing"),
        ]),
        ("Traffic growth (plan)", [
            ("traffic_growth", g.traffic_growth, "fraction", "Traffic growth over the growth horizon", "plan"),
            ("growth_horizon_months", g.growth_horizon_months, "months", "Months the growth is given over", "plan"),
            ("burst_headroom", g.burst_headroom, "fraction", "Burst headroom on each quarter's peak", "plan"),
            ("existing_nodes", g.existing_nodes, "nodes", "Nodes that exist (0: greenfield)", "plan"),
        ]),
    ]  # fmt: skip
    editable = {"traffic_growth", "burst_headroom"}
    for title, items in groups:
        section(ws, row, title)
        for name, value, unit, label, origin in items:
            row += 1
            source = gpu.source if origin == "catalog" else ""
            cell = _input_row(wb, ws, row, label, value, unit, origin, name, source)
            if name in editable:
                mark_editable(cell)
        row += 2
    section(ws, row, "Fleet quantities (formulas)")
    for name, label, formula in (
        ("fleet_replicas", "Replicas in all", "fleet_replicas_for_load+spare_replicas"),
        *(_FLEET_QUANTITIES if t.fleet.pools is None else _POOL_QUANTITIES),
    ):
        row += 1
        put_text(ws, row, 1, label)
        name_cell(wb, name, put_formula(ws, row, 2, formula, COUNT))
        put_text(ws, row, 5, name)
    finish_sheet(ws)
    ws.column_dimensions["A"].width = 60
    return row


def _nodes(replicas: str, per_replica: str = "gpus_per_replica") -> str:
    """Nodes ``replicas`` replicas of ``per_replica`` GPUs pack into (as :func:`planner.sizing.fleet.nodes_for`)."""
    return (
        f"IF({per_replica}>gpus_per_node,{replicas}*ROUNDUP({per_replica}/gpus_per_node,0),"
        f"ROUNDUP({replicas}*{per_replica}/gpus_per_node,0))"
    )


def _spread(nodes: str, replicas: str) -> str:
    """``nodes`` spread over ``min_nodes`` failure domains, one a replica at most (as
    :func:`planner.sizing.fleet.spread_over`)."""
    return f"MAX({nodes},MIN(min_nodes,{replicas}))"


#: GPUs and nodes of replicas of one deployment, the spares' apart.
_FLEET_QUANTITIES = (
    ("fleet_gpus", "GPUs in all", "fleet_replicas*gpus_per_replica"),
    ("fleet_nodes", "Nodes in all", _spread(_nodes("fleet_replicas"), "fleet_replicas")),
    ("spare_gpus", "GPUs of the spares", "spare_replicas*gpus_per_replica"),
    ("spare_nodes", "Nodes the spares add", "fleet_nodes-" + _nodes("fleet_replicas_for_load")),
)
#: The same of disaggregated prefill and decode pools, each its own layout on its own nodes, half the spares in each.
_PREFILL, _DECODE = "(prefill_replicas_for_load+spare_replicas/2)", "(decode_replicas_for_load+spare_replicas/2)"
_POOL_QUANTITIES = (
    ("fleet_gpus", "GPUs in all (both pools)",
     f"{_PREFILL}*prefill_gpus_per_replica+{_DECODE}*decode_gpus_per_replica"),
    ("fleet_nodes", "Nodes in all (both pools)", _spread(
        _nodes(_PREFILL, "prefill_gpus_per_replica") + "+" + _nodes(_DECODE, "decode_gpus_per_replica"),
        "fleet_replicas")),
    ("spare_gpus", "GPUs of the spares", "spare_replicas/2*(prefill_gpus_per_replica+decode_gpus_per_replica)"),
    ("spare_nodes", "Nodes the spares add", "fleet_nodes-"
     + _nodes("prefill_replicas_for_load", "prefill_gpus_per_replica") + "-"
     + _nodes("decode_replicas_for_load", "decode_gpus_per_replica")),
)  # fmt: skip


def _pool_inputs(pools: PoolDecision | None) -> list[tuple[str, float | int, str, str, str]]:
    """Each pool's replicas and GPUs per replica, for a fleet served as prefill and decode pools."""
    if pools is None:
        return []
    prefill, decode = pools.prefill[0], pools.decode[0]
    return [
        (
            "prefill_replicas_for_load",
            pools.prefill_replicas,
            "replicas",
            "Prefill replicas carrying the load",
            "sizing",
        ),
        ("prefill_gpus_per_replica", prefill.gpus, "GPUs", f"GPUs per prefill replica ({prefill.label})", "sizing"),
        ("decode_replicas_for_load", pools.decode_replicas, "replicas", "Decode replicas carrying the load", "sizing"),
        ("decode_gpus_per_replica", decode.gpus, "GPUs", f"GPUs per decode replica ({decode.label})", "sizing"),
    ]


# ------------------------------------------------------------------------- TCO

#: Each cost line as a formula over {gpus} and {nodes} (the fleet's or the spares'); the same
#: arithmetic as :func:`planner.tco.cost_lines`.
LINE_FORMULAS = {
    "gpu_servers": "{gpus}*server_cost_per_gpu*(1-residual_value_fraction)/amortisation_years",
    "network": "{nodes}*network_eur_per_node*(1-residual_value_fraction)/amortisation_years",
    "storage": "{nodes}*storage_eur_per_node*(1-residual_value_fraction)/amortisation_years",
    "gpu_power": "{gpus}*gpu_tdp_w/1000*pue*" + f"{HOURS_PER_YEAR}" + "*eur_per_kwh*load_factor",
    "server_power": "{gpu_power}*server_power_overhead_fraction",
    "hosting": "{gpus}*gpu_tdp_w/1000*(1+server_power_overhead_fraction)*hosting_eur_per_kw_year"
    "+{nodes}*rack_units_per_node*hosting_eur_per_rack_unit_year",
    "licences": "{gpus}*licences_eur_per_gpu_year",
    "support": "{gpus}*support_eur_per_gpu_year",
    "operations": "{gpus}*operations_fte_per_gpu*operations_eur_per_fte_year",
}

#: Derived per-unit figures the lines and the Growth sheet use: (name, label, formula, format).
UNIT_COSTS = (
    ("server_cost_per_gpu", "Server cost per GPU (your quote / GPUs per node, else the price hint x (1 + overhead))",
     "IF(server_price_eur>0,server_price_eur/gpus_per_node,gpu_price_eur*(1+server_overhead_fraction))", EUR),
    ("cost_per_gpu_year", "Yearly cost of one more GPU (every line that scales with GPUs)",
     "server_cost_per_gpu*(1-residual_value_fraction)/amortisation_years"
     f"+gpu_tdp_w/1000*pue*{HOURS_PER_YEAR}*eur_per_kwh*load_factor*(1+server_power_overhead_fraction)"
     "+gpu_tdp_w/1000*(1+server_power_overhead_fraction)*hosting_eur_per_kw_year"
     "+licences_eur_per_gpu_year+support_eur_per_gpu_year+operations_fte_per_gpu*operations_eur_per_fte_year",
     EUR),
    ("cost_per_node_year", "Yearly cost of one more node (network, storage, rack space)",
     "(network_eur_per_node+storage_eur_per_node)*(1-residual_value_fraction)/amortisation_years"
     "+rack_units_per_node*hosting_eur_per_rack_unit_year", EUR),
    ("energy_kwh_per_year", "Energy of the fleet a year, kWh (GPUs and servers, PUE included)",
     f"fleet_gpus*gpu_tdp_w/1000*pue*{HOURS_PER_YEAR}*load_factor*(1+server_power_overhead_fraction)", COUNT),
)  # fmt: skip

_PER_MILLION = "IF(output_tokens_per_year>0,{eur}/output_tokens_per_year*1000000," + NA + ")"
_API_FULL_USE = f"fleet_output_tok_s*{SECONDS_PER_YEAR}*api_eur_per_1m_output_tokens/1000000"

#: Results: (name, label, formula, format); names match :class:`planner.plan_tco.PlanTco`'s figures.
RESULTS = (
    ("fleet_output_tok_s", "Output tokens/s of the fleet at Cr_closed",
     "output_tok_s_per_replica*fleet_replicas_for_load", COUNT),
    ("output_tokens_per_year", "Output tokens a year at Cr_closed x utilisation",
     f"fleet_output_tok_s*{SECONDS_PER_YEAR}*utilisation", COUNT),
    ("total_tokens_per_year", "Input and output tokens a year",
     "output_tokens_per_year*(1+isl_tokens/osl_tokens)", COUNT),
    ("eur_per_1m_output_tokens", "EUR per 1M output tokens (owned, every line)", _PER_MILLION.format(eur="tco_total"),
     EUR_PER_TOKEN),
    ("eur_per_1m_total_tokens", "EUR per 1M tokens, input and output (owned, every line)",
     "IF(total_tokens_per_year>0,tco_total/total_tokens_per_year*1000000," + NA + ")", EUR_PER_TOKEN),
    ("eur_per_1m_gpu_servers_and_power", "EUR per 1M output tokens of GPU servers and GPU power (what search ranks by)",
     _PER_MILLION.format(eur="(tco_gpu_servers+tco_gpu_power)"), EUR_PER_TOKEN),
    ("eur_per_gpu_hour", "Owned cost per GPU-hour (every line, every hour)", f"tco_total/(fleet_gpus*{HOURS_PER_YEAR})",
     EUR_CENTS),
    ("rented_eur_per_year", "Rented: the same GPUs for the hours the load uses, a year",
     f"IF(rented_eur_per_gpu_hour>0,fleet_gpus*{HOURS_PER_YEAR}*utilisation*rented_eur_per_gpu_hour,{NA})", EUR),
    ("rented_eur_per_1m_output_tokens", "EUR per 1M output tokens, rented",
     f"IF(AND(rented_eur_per_gpu_hour>0,output_tokens_per_year>0),rented_eur_per_year/output_tokens_per_year*1000000,{NA})",
     EUR_PER_TOKEN),
    ("api_eur_per_1m_output_tokens", "EUR per 1M output tokens through the API (their input tokens included)",
     "IF(AND(ISNUMBER(api_eur_per_million_input_tokens),ISNUMBER(api_eur_per_million_output_tokens)),"
     f"isl_tokens/osl_tokens*api_eur_per_million_input_tokens+api_eur_per_million_output_tokens,{NA})", EUR_PER_TOKEN),
    ("api_eur_per_year", "API: the same tokens, a year",
     "IF(ISNUMBER(api_eur_per_1m_output_tokens),"
     f"output_tokens_per_year*api_eur_per_1m_output_tokens/1000000,{NA})", EUR),
    ("break_even_vs_rent", "Break-even utilisation against renting (owning is cheaper above it)",
     f"IF(rented_eur_per_gpu_hour>0,tco_total/(fleet_gpus*{HOURS_PER_YEAR}*rented_eur_per_gpu_hour),{NA})", SHARE),
    ("break_even_vs_api", "Break-even utilisation against the API (owning is cheaper above it)",
     f"IF(ISNUMBER(api_eur_per_1m_output_tokens),IF({_API_FULL_USE}>0,tco_total/({_API_FULL_USE}),{NA}),{NA})", SHARE),
    ("cheapest", "Cheapest at the assumed utilisation",
     "IF(MIN(eur_per_1m_output_tokens,rented_eur_per_1m_output_tokens,api_eur_per_1m_output_tokens)"
     '=eur_per_1m_output_tokens,"own",IF(MIN(eur_per_1m_output_tokens,rented_eur_per_1m_output_tokens,'
     'api_eur_per_1m_output_tokens)=rented_eur_per_1m_output_tokens,"rent","API"))', ""),
)  # fmt: skip


def tco_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Yearly cost by line for the fleet and its spares, then EUR per token and the alternatives."""
    header_row(ws, 1, ("Cost line", "EUR a year, whole fleet", "of which spares (N+1/N+2)", "Formula"))
    for row, (key, label) in enumerate(LINE_LABELS.items(), start=2):
        put_text(ws, row, 1, label)
        for column, gpus, nodes in ((2, "fleet_gpus", "fleet_nodes"), (3, "spare_gpus", "spare_nodes")):
            template = LINE_FORMULAS[key]
            power = f"{'B' if column == 2 else 'C'}{2 + list(LINE_LABELS).index('gpu_power')}"
            cell = put_formula(ws, row, column, template.format(gpus=gpus, nodes=nodes, gpu_power=power), EUR)
            if column == 2:
                name_cell(wb, f"tco_{key}", cell)
        put_text(ws, row, 4, LINE_FORMULAS[key].format(gpus="GPUs", nodes="nodes", gpu_power="GPU power"))
    total_row = 2 + len(LINE_LABELS)
    put_text(ws, total_row, 1, "Total", bold=True)
    name_cell(wb, "tco_total", put_formula(ws, total_row, 2, f"SUM(B2:B{total_row - 1})", EUR))
    name_cell(wb, "tco_spares_total", put_formula(ws, total_row, 3, f"SUM(C2:C{total_row - 1})", EUR))
    row = total_row + 2
    section(ws, row, "Per unit")
    row = _named_formulas(wb, ws, row, UNIT_COSTS)
    section(ws, row + 1, f"EUR per token at {c.tco.throughput.label}, and the alternatives")
    _named_formulas(wb, ws, row + 1, RESULTS)
    finish_sheet(ws)
    ws.column_dimensions["A"].width = 70
    ws.column_dimensions["D"].width = 70


def _named_formulas(wb: Workbook, ws: Worksheet, row: int, items: tuple[tuple[str, str, str, str], ...]) -> int:
    for name, label, formula, number_format in items:
        row += 1
        put_text(ws, row, 1, label).alignment = WRAP
        name_cell(wb, name, put_formula(ws, row, 2, formula, number_format))
        put_text(ws, row, 4, name)
    return row + 1


# ----------------------------------------------------------------------- Growth

#: The Growth sheet's columns: (header, :class:`planner.growth.Quarter` field, format).
GROWTH_COLUMNS = (
    ("Quarter", "number", "0"),
    ("Traffic factor", "growth_factor", "0.000"),
    ("Peak concurrency", "peak_concurrency", DECIMAL),
    ("Provisioned concurrency", "provisioned_concurrency", DECIMAL),
    ("Replicas for the load", "replicas_for_load", COUNT),
    ("Replicas", "replicas", COUNT),
    ("GPUs", "gpus", COUNT),
    ("Nodes", "nodes", COUNT),
    ("Replicas added", "replicas_added", COUNT),
    ("Nodes added", "nodes_added", COUNT),
    ("GPU class change needed", "class_change_needed", ""),
    ("Output tokens", "output_tokens", COUNT),
    ("Owned, EUR", "owned_eur", EUR),
    ("Hardware bought, EUR", "hardware_bought_eur", EUR),
    ("Rented, EUR", "rented_eur", EUR),
    ("API, EUR", "api_eur", EUR),
    ("Cumulative owned, EUR", "cumulative_owned_eur", EUR),
    ("Cumulative rented, EUR", "cumulative_rented_eur", EUR),
    ("Cumulative API, EUR", "cumulative_api_eur", EUR),
)


def _pooled_quantities(r: int) -> tuple[str, str]:
    """GPUs and nodes of row ``r``'s replicas for the load split into prefill and decode pools in
    the sized pools' ratio, a replica each at least (:func:`planner.plan_tco.prefill_share_of`)."""
    prefill_q = (
        f"MIN(MAX(ROUNDUP(E{r}*prefill_replicas_for_load/(prefill_replicas_for_load+decode_replicas_for_load)"
        f"-0.000000001,0),1),E{r}-1)"
    )
    prefill, decode = f"({prefill_q}+spare_replicas/2)", f"(E{r}-{prefill_q}+spare_replicas/2)"
    gpus = f"{prefill}*prefill_gpus_per_replica+{decode}*decode_gpus_per_replica"
    nodes = _nodes(prefill, "prefill_gpus_per_replica") + "+" + _nodes(decode, "decode_gpus_per_replica")
    return gpus, _spread(nodes, f"F{r}")


def _growth_formulas(r: int, pooled: bool = False) -> dict[str, str]:
    """The formulas of row ``r`` (the first quarter is row 2); ``pooled``: the fleet is prefill and decode pools."""
    p = r - 1
    first = r == 2
    gpus, nodes = (f"F{r}*gpus_per_replica", _spread(_nodes(f"F{r}"), f"F{r}")) if not pooled else _pooled_quantities(r)
    return {
        "growth_factor": f"(1+traffic_growth)^(3*A{r}/growth_horizon_months)",
        "peak_concurrency": f"peak_concurrency*B{r}",
        "provisioned_concurrency": f"C{r}*(1+burst_headroom)",
        "replicas_for_load": (
            f"MAX(ROUNDUP(D{r}/concurrency_per_replica-0.000000001,0),{2 if pooled else 1},fleet_replicas_for_load)"
        ),
        "replicas": f"E{r}+spare_replicas",
        "gpus": gpus,
        "nodes": nodes,
        "replicas_added": f"F{r}" if first else f"F{r}-F{p}",
        "nodes_added": f"H{r}" if first else f"H{r}-H{p}",
        "class_change_needed": f'IF(AND(existing_nodes>0,H{r}>existing_nodes),"yes","no")',
        "output_tokens": f"output_tokens_per_year/4*D{r}/sized_provisioned_concurrency",
        "owned_eur": f"(G{r}*cost_per_gpu_year+H{r}*cost_per_node_year)/4",
        "hardware_bought_eur": (f"G{r}" if first else f"(G{r}-G{p})") + "*server_cost_per_gpu+"
        + (f"H{r}" if first else f"(H{r}-H{p})") + "*(network_eur_per_node+storage_eur_per_node)",
        "rented_eur": f"IF(rented_eur_per_gpu_hour>0,G{r}*{HOURS_PER_YEAR}/4*utilisation*rented_eur_per_gpu_hour,{NA})",
        "api_eur": f"IF(ISNUMBER(api_eur_per_1m_output_tokens),L{r}*api_eur_per_1m_output_tokens/1000000,{NA})",
        "cumulative_owned_eur": f"M{r}" if first else f"Q{p}+M{r}",
        "cumulative_rented_eur": f"O{r}" if first else f"IF(AND(ISNUMBER(R{p}),ISNUMBER(O{r})),R{p}+O{r},{NA})",
        "cumulative_api_eur": f"P{r}" if first else f"IF(AND(ISNUMBER(S{p}),ISNUMBER(P{r})),S{p}+P{r},{NA})",
    }  # fmt: skip


def growth_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """One row per quarter, every column a formula of the growth rate and the cost inputs."""
    header_row(ws, 1, [title for title, _, _ in GROWTH_COLUMNS])
    for r, quarter in enumerate(c.growth.quarters, start=2):
        formulas = _growth_formulas(r, pooled=c.tco.fleet.pools is not None)
        put_value(ws, r, 1, quarter.number, "0")
        for column, (_, key, number_format) in enumerate(GROWTH_COLUMNS[1:], start=2):
            put_formula(ws, r, column, formulas[key], number_format)
    last = 1 + len(c.growth.quarters)
    chart = LineChart()
    chart.title = "Cumulative cost per quarter: owned, rented, API"
    chart.y_axis.title = "EUR"
    chart.x_axis.title = "Quarter"
    for column in (17, 18, 19):
        chart.add_data(Reference(ws, min_col=column, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    _show_axes(chart)
    chart.width, chart.height = 24, 12
    ws.add_chart(chart, f"B{last + 3}")
    finish_sheet(ws, "B2", chart_rows=CHART_ROWS)


def _show_axes(chart: LineChart | ScatterChart) -> None:
    # openpyxl 3.1 leaves the axes' delete flag unset, which Excel reads as hidden axes.
    chart.x_axis.delete = False
    chart.y_axis.delete = False


# ------------------------------------------------------------------ Sensitivity

SENSITIVITY_TOP = 3


def sensitivity_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """EUR per 1M output tokens against utilisation and electricity price, with the alternatives."""
    put_text(ws, 1, 1, "EUR per 1M output tokens (owned, every line) against utilisation (rows) and electricity "
                       "price in EUR per kWh (columns); rented and API for comparison.")  # fmt: skip
    top = SENSITIVITY_TOP
    put_text(ws, top, 1, "Utilisation", bold=True)
    prices = len(SENSITIVITY_PRICE_FACTORS)
    for column, factor in enumerate(SENSITIVITY_PRICE_FACTORS, start=2):
        put_formula(ws, top, column, f"eur_per_kwh*{factor}", '0.000 "EUR/kWh"').font = Font(bold=True)
    put_text(ws, top, prices + 2, "Rented", bold=True)
    put_text(ws, top, prices + 3, "API", bold=True)
    for r, utilisation in enumerate(c.sensitivity.utilisations, start=top + 1):
        put_value(ws, r, 1, utilisation, "0%")
        for column in range(2, prices + 2):
            letter = get_column_letter(column)
            put_formula(
                ws, r, column,
                f"(tco_total+({letter}${top}-eur_per_kwh)*energy_kwh_per_year)"
                f"/(fleet_output_tok_s*{SECONDS_PER_YEAR}*$A{r})*1000000",
                EUR_PER_TOKEN,
            )  # fmt: skip
        put_formula(ws, r, prices + 2, "rented_eur_per_1m_output_tokens", EUR_PER_TOKEN)
        put_formula(ws, r, prices + 3, "api_eur_per_1m_output_tokens", EUR_PER_TOKEN)
    _utilisation_chart(ws, c, top, prices)
    finish_sheet(ws, f"B{top + 1}", chart_rows=CHART_ROWS)


def _utilisation_chart(ws: Worksheet, c: TcoWorkbook, top: int, prices: int) -> None:
    last = top + len(c.sensitivity.utilisations)
    chart = ScatterChart()
    chart.title = "EUR per 1M output tokens against utilisation"
    chart.x_axis.title = "Utilisation"
    chart.y_axis.title = "EUR per 1M output tokens"
    utilisation = Reference(ws, min_col=1, min_row=top + 1, max_row=last)
    plan_price = 2 + SENSITIVITY_PRICE_FACTORS.index(1.0)
    series = [(plan_price, "Owned at the plan's electricity price")]
    if c.sensitivity.rented is not None:
        series.append((prices + 2, "Rented"))
    if c.sensitivity.api is not None:
        series.append((prices + 3, "API"))
    for column, title in series:
        values = Reference(ws, min_col=column, min_row=top + 1, max_row=last)
        chart.series.append(Series(values, utilisation, title=title))
    _show_axes(chart)
    chart.width, chart.height = 24, 12
    ws.add_chart(chart, f"B{last + 3}")
