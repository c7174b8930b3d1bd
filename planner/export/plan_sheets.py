"""The descriptive sheets of the TCO workbook: Summary, Fleet, Sizing, Envelope, Findings, Sources.

Summary and Fleet refer to the named cells of Assumptions and TCO, so they follow any input
finance changes; Sizing, Envelope, Findings and Sources record what the planner found.
Every piece of text from the plan or the rules is written with
:func:`~planner.export.cells.put_text`.
"""

from __future__ import annotations

from typing import Any

from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from planner.export.cells import (
    COUNT,
    DECIMAL,
    EUR,
    EUR_CENTS,
    EUR_PER_TOKEN,
    SHARE,
    TITLE_FONT,
    WRAP,
    finish_sheet,
    header_row,
    name_cell,
    put_formula,
    put_text,
    put_value,
    section,
)
from planner.export.content import TcoWorkbook

SEVERITIES = ("error", "warning", "info")


def summary_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """The decision, the key figures (live) and the findings by severity."""
    put_text(ws, 1, 1, f"TCO: {c.plan_name}").font = TITLE_FONT
    put_text(ws, 2, 1, c.description)
    put_text(ws, 3, 1, f"{_plan_version(c)}; written by planner {c.planner_version}")
    last = 1 + len(c.growth.quarters)
    years = len(c.growth.quarters) // 4
    rows: list[tuple[str, str, str]] = [
        ("Cheapest at the assumed utilisation", "cheapest", ""),
        ("EUR per 1M output tokens, owned (every line)", "eur_per_1m_output_tokens", EUR_PER_TOKEN),
        ("EUR per 1M output tokens, rented", "rented_eur_per_1m_output_tokens", EUR_PER_TOKEN),
        ("EUR per 1M output tokens, API", "api_eur_per_1m_output_tokens", EUR_PER_TOKEN),
        ("EUR per 1M tokens, input and output, owned", "eur_per_1m_total_tokens", EUR_PER_TOKEN),
        ("Utilisation assumed", "utilisation", SHARE),
        ("Break-even utilisation against renting", "break_even_vs_rent", SHARE),
        ("Break-even utilisation against the API", "break_even_vs_api", SHARE),
        ("Owned cost a year, every line", "tco_total", EUR),
        ("of which the spares (N+1/N+2)", "tco_spares_total", EUR),
        ("Owned cost per GPU-hour", "eur_per_gpu_hour", EUR_CENTS),
        ("Replicas for the load", "fleet_replicas_for_load", COUNT),
        ("Spare replicas", "spare_replicas", COUNT),
        ("GPUs", "fleet_gpus", COUNT),
        ("Nodes", "fleet_nodes", COUNT),
        (f"Cumulative owned cost over {years} years (Growth)", f"Growth!$Q${last}", EUR),
        (f"Cumulative rented cost over {years} years (Growth)", f"Growth!$R${last}", EUR),
        (f"Cumulative API cost over {years} years (Growth)", f"Growth!$S${last}", EUR),
    ]
    section(ws, 5, "Decision")
    head = (
        ("Use case", c.resolved.plan.use_case.title),
        ("Deployment", c.tco.fleet.label),
        ("EUR per token at", c.tco.throughput.label),
    )
    for row, (label, text) in enumerate(head, start=6):
        put_text(ws, row, 1, label)
        put_text(ws, row, 2, text)
    row = 5 + len(head)
    for label, formula, number_format in rows:
        row += 1
        put_text(ws, row, 1, label)
        put_formula(ws, row, 2, formula, number_format)
    row += 2
    section(ws, row, "Findings of the rules")
    findings_range = f"Findings!$A$2:$A${max(len(c.findings), 1) + 1}"
    for severity in SEVERITIES:
        row += 1
        put_text(ws, row, 1, severity)
        put_formula(ws, row, 2, f'COUNTIF({findings_range},"{severity}")', COUNT)
    finish_sheet(ws, "A4")
    ws.column_dimensions["A"].width = 50
    ws.column_dimensions["B"].width = 60


def fleet_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Bill of materials: GPUs, servers, network and storage per node, replicas and spares."""
    dep = c.tco.fleet.deployment
    header_row(ws, 1, ("Item", "Quantity", "Unit", "EUR each", "EUR in all"))
    items = (
        (f"GPUs ({dep.gpu.id}) with their share of the servers", "fleet_gpus", "GPUs", "server_cost_per_gpu"),
        ("Network: switch ports, NICs, cables", "fleet_nodes", "nodes", "network_eur_per_node"),
        ("Storage beyond the servers", "fleet_nodes", "nodes", "storage_eur_per_node"),
    )
    for row, (label, quantity, unit, price) in enumerate(items, start=2):
        put_text(ws, row, 1, label)
        put_formula(ws, row, 2, quantity, COUNT)
        put_text(ws, row, 3, unit)
        put_formula(ws, row, 4, price, EUR)
        put_formula(ws, row, 5, f"B{row}*D{row}", EUR)
    total = 2 + len(items)
    put_text(ws, total, 1, "Hardware bought", bold=True)
    name_cell(wb, "capex_total", put_formula(ws, total, 5, f"SUM(E2:E{total - 1})", EUR))
    row = total + 2
    section(ws, row, "Fleet")
    for label, formula in (
        ("Deployment (one replica)" if c.tco.fleet.pools is None else "Deployment (the pools)", None),
        ("GPUs per replica", "gpus_per_replica"),
        ("GPUs per node", "gpus_per_node"),
        ("Replicas carrying the load", "fleet_replicas_for_load"),
        ("Spare replicas (N+1/N+2)", "spare_replicas"),
        ("Replicas in all", "fleet_replicas"),
        ("Nodes (servers)", "fleet_nodes"),
        ("GPUs of the spares", "spare_gpus"),
        ("Nodes the spares add", "spare_nodes"),
    ):
        row += 1
        put_text(ws, row, 1, label)
        if formula is None:
            put_text(ws, row, 2, c.tco.fleet.label)
        else:
            put_formula(ws, row, 2, formula, COUNT)
    finish_sheet(ws)


def sizing_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Capacity and performance of one replica, with the inputs of each formula."""
    f, dep = c.fleet, c.fleet.deployment
    header_row(ws, 1, ("Figure", "Value", "Note"))
    figures: list[tuple[str, Any, str]] = [
        (
            "Deployment",
            dep.label,
            ""
            if (pools := c.tco.fleet.pools) is None
            else f"a replica served aggregated: the load is served by {pools.label} (sheets Fleet and Inputs)",
        ),
        ("Model", f"{dep.model.id} ({dep.model.name})", dep.model.source),
        ("GPU", f"{dep.gpu.id} ({dep.gpu.name})", dep.gpu.source),
        ("Runtime", f"{dep.runtime.id} ({dep.runtime.name})", dep.runtime.source),
        ("TP x PP, EP", f"{dep.tp} x {dep.pp}, EP {dep.ep}", "attention data parallel" if dep.attention_dp else ""),
        ("Weights / KV cache", f"{dep.weights_dtype} / {dep.kv_dtype}", ""),
        ("Performance model", c.performance_model, ""),
        ("Input tokens per request", f.isl, "the sizing percentile"),
        ("Output tokens per request", f.osl, "the sizing percentile"),
        ("Peak concurrency", f.peak_concurrency, f.concurrency_source),
        ("Headroom", f.headroom, "max(growth, burst) unless the plan sets it"),
        ("Provisioned concurrency", f.provisioned_concurrency, "peak x (1 + headroom)"),
        ("Memory holds per replica", f.capacity_cap, "capacity axis (6a)"),
        ("SLOs hold per replica", f.latency_cap, "performance axis (6b)"),
        ("Per replica", f.per_replica, f"dominant constraint: {f.dominant}"),
        ("What would move it", f.to_move, ""),
    ]
    op = f.operating_point
    if op is not None and op.timing is not None:
        figures += [
            ("Operating point: requests per replica", op.clients, "in the batch, the front end or the queue"),
            ("TTFT, ms", op.ttft_ms, "at the operating point"),
            ("ITL, ms", op.itl_ms, ""),
            ("E2E, ms", op.e2e_ms, ""),
            ("Output tokens/s per replica", op.output_tok_s, ""),
            ("Total tokens/s per replica", op.timing.total_tok_s, ""),
        ]
    row = 1
    for label, value, note in figures:
        row += 1
        put_text(ws, row, 1, label)
        if isinstance(value, str):
            put_text(ws, row, 2, value)
        else:
            put_value(ws, row, 2, value, DECIMAL if isinstance(value, float) else COUNT)
        put_text(ws, row, 3, note)
    if op is not None:
        row += 2
        section(ws, row, "Memory per GPU (6a), term by term")
        row += 1
        header_row(ws, row, ("Term", "GiB", "Formula", "Provenance"))
        for term in op.capacity.terms:
            row += 1
            put_text(ws, row, 1, term.name)
            put_value(ws, row, 2, term.gib, DECIMAL)
            put_text(ws, row, 3, term.formula)
            put_text(ws, row, 4, term.provenance)
    finish_sheet(ws)


#: Columns of the Envelope sheet's latency-vs-load table.
ENVELOPE_COLUMNS = (
    ("mode", "Mode"),
    ("load", "Load (requests, or requests/s open loop)"),
    ("meets_slo", "Meets the SLOs"),
    ("ttft_p50_ms", "TTFT p50, ms"),
    ("ttft_p95_ms", "TTFT p95, ms"),
    ("itl_p95_ms", "ITL p95, ms"),
    ("e2e_p50_ms", "E2E p50, ms"),
    ("e2e_p95_ms", "E2E p95, ms"),
    ("output_tok_s", "Output tokens/s"),
    ("goodput_share", "Goodput share"),
)


def envelope_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Cr_closed, Cr_open and the latency-vs-load table, simulated or estimated."""
    simulated = c.curve_kind == "simulated"
    cr_closed = c.decision.cr_closed if simulated and c.decision is not None else c.fleet.per_replica
    put_text(ws, 1, 1, "Cr_closed, concurrent requests per replica (closed loop)")
    put_value(ws, 1, 2, cr_closed, COUNT)
    put_text(ws, 2, 1, "Cr_open, requests/s per replica (open loop, queue included)")
    put_value(ws, 2, 2, c.cr_open_req_s, "0.000")
    put_text(ws, 3, 1, "simulated by the discrete-event simulator" if simulated else
             "estimated by the analytic model (no queue; Cr_open is the rate one replica completes at the operating "
             "point): `planner envelope` simulates the envelope")  # fmt: skip
    header_row(ws, 5, tuple(title for _, title in ENVELOPE_COLUMNS))
    for row, point in enumerate(c.curve, start=6):
        for column, (key, _) in enumerate(ENVELOPE_COLUMNS, start=1):
            value = point.get(key)
            if isinstance(value, str):
                put_text(ws, row, column, value)
            elif isinstance(value, bool):
                put_text(ws, row, column, "yes" if value else "no")
            else:
                put_value(ws, row, column, value, SHARE if key == "goodput_share" else DECIMAL)
    finish_sheet(ws, "A6")


def findings_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Every finding of the rules with its evidence and remedy."""
    header_row(ws, 1, ("Severity", "Rule", "Principle", "Message", "Remedy", "Evidence"))
    order = {severity: i for i, severity in enumerate(SEVERITIES)}
    for row, finding in enumerate(sorted(c.findings, key=lambda f: order[f.severity]), start=2):
        evidence = ", ".join(f"{k}={v}" for k, v in finding.evidence.items())
        for column, text in enumerate(
            (finding.severity, finding.rule_id, finding.principle, finding.message, finding.remedy, evidence), start=1
        ):
            put_text(ws, row, column, text).alignment = WRAP
    finish_sheet(ws)
    for letter in "DEF":
        ws.column_dimensions[letter].width = 60


def sources_sheet(wb: Workbook, ws: Worksheet, c: TcoWorkbook) -> None:
    """Where every input and spec comes from."""
    header_row(ws, 1, ("Item", "Source"))
    dep = c.tco.fleet.deployment
    rows = [(a.label, a.source) for a in c.assumptions if a.source]
    rows += [
        (f"GPU {dep.gpu.id}", dep.gpu.source),
        (f"Model {dep.model.id}", dep.model.source),
        (f"Runtime {dep.runtime.id}", dep.runtime.source),
        ("Performance model", c.performance_model),
        ("Throughput at Cr_closed", c.tco.throughput.label),
        ("Plan file", c.source),
    ]
    for row, (item, source) in enumerate(dict.fromkeys(rows), start=2):
        put_text(ws, row, 1, item)
        put_text(ws, row, 2, source)
    finish_sheet(ws)


def _plan_version(c: TcoWorkbook) -> str:
    """Which plan the workbook was made from: a project's revision, or a plan file and its hash."""
    if c.revision.startswith(f"{c.source} ("):  # a project's revision names itself in full
        return f"Project {c.revision}"
    return f"Plan file {c.source}, revision {c.revision}"
