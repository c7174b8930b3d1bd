"""The Excel TCO workbook for finance: live formulas, named inputs, native charts, no macros.

Sheets (:data:`~planner.export.content.SHEETS`): Summary, Assumptions, Fleet, Sizing,
Envelope, TCO, Growth, Sensitivity, Findings, Sources; ``docs/tco.md`` describes each. The
file has no external links, no macros and no hidden sheets; every sheet is protected
without a password, the yellow input cells unlocked. openpyxl writes formulas without
their values, so Excel and LibreOffice compute every figure when they open the file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from planner.errors import PlannerError
from planner.export import check_workbook_path
from planner.export.cells import safe_text
from planner.export.content import SHEETS, TcoWorkbook
from planner.export.cost_sheets import assumptions_sheet, growth_sheet, sensitivity_sheet, tco_sheet
from planner.export.plan_sheets import (
    envelope_sheet,
    findings_sheet,
    fleet_sheet,
    sizing_sheet,
    sources_sheet,
    summary_sheet,
)

SheetWriter = Callable[[Workbook, Worksheet, TcoWorkbook], None]

WRITERS: dict[str, SheetWriter] = {
    "Summary": summary_sheet,
    "Assumptions": assumptions_sheet,
    "Fleet": fleet_sheet,
    "Sizing": sizing_sheet,
    "Envelope": envelope_sheet,
    "TCO": tco_sheet,
    "Growth": growth_sheet,
    "Sensitivity": sensitivity_sheet,
    "Findings": findings_sheet,
    "Sources": sources_sheet,
}


def build_workbook(content: TcoWorkbook) -> Workbook:
    """The workbook in memory, every sheet written."""
    wb = Workbook()
    default = wb.active
    sheets = {title: wb.create_sheet(title) for title in SHEETS}
    if default is not None:
        wb.remove(default)
    for title in SHEETS:
        WRITERS[title](wb, sheets[title], content)
    wb.active = 0
    props = wb.properties
    props.title = safe_text(f"TCO: {content.plan_name}")[:250]
    props.subject = "Total cost of ownership of an LLM inference deployment"
    props.creator = f"planner {content.planner_version}"
    props.description = safe_text(content.description)[:1000]
    props.keywords = f"plan revision {content.revision}"
    props.version = content.revision
    props.identifier = content.revision
    return wb


def write_workbook(content: TcoWorkbook, path: Path) -> int:
    """Write the workbook to ``path`` whole or not at all; returns its size in bytes.

    :raises PlannerError: when ``path`` does not end in ``.xlsx`` or cannot be written.
    """
    check_workbook_path(path)
    wb = build_workbook(content)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".planner-", suffix=".xlsx", dir=folder)
        os.close(handle)
        try:
            wb.save(temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        raise PlannerError(
            f"cannot write the workbook: {exc.strerror or exc}",
            path=str(path),
            fix="choose a file in a folder that exists and that you may write to",
        ) from exc
    return path.stat().st_size
