"""Writing cells of the TCO workbook: user text that can never become a formula, numbers and
formulas with their formats, named cells, the editable-input style, column widths.

openpyxl stores any string that starts with ``=`` as a formula, so text from a plan (its
name, notes, model names, findings) goes through :func:`put_text`, which marks the cell as
a string after assigning it; characters XML cannot hold are dropped first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

# Formats: currency, money per token, counts, shares.
EUR = '#,##0 "EUR"'
EUR_CENTS = '#,##0.00 "EUR"'
EUR_PER_TOKEN = '#,##0.000 "EUR"'
COUNT = "#,##0"
DECIMAL = "#,##0.00"
SHARE = "0.0%"

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
SECTION_FONT = Font(bold=True, size=12)
TITLE_FONT = Font(bold=True, size=14)
#: Editable inputs are yellow with a border, as finance models mark their inputs.
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
INPUT_BORDER = Border(*(Side(style="thin", color="BF9000"),) * 4)
WRAP = Alignment(wrap_text=True, vertical="top")


def safe_text(text: str) -> str:
    """``text`` without the control characters an xlsx file cannot hold (tab and CR are kept)."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _cell(ws: Worksheet, row: int, column: int) -> Cell:
    """The cell at ``row``, ``column`` (the workbook merges no cells)."""
    cell = ws.cell(row=row, column=column)
    if isinstance(cell, MergedCell):
        raise ValueError(f"{ws.title}!{cell.coordinate} is merged")
    return cell


def put_text(ws: Worksheet, row: int, column: int, text: str, *, bold: bool = False) -> Cell:
    """Write ``text`` as a string cell: never a formula, whatever it starts with."""
    cell = _cell(ws, row, column)
    cell.value = safe_text(text)
    cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    return cell


def put_value(ws: Worksheet, row: int, column: int, value: float | int | None, number_format: str = "") -> Cell:
    """Write a number (or leave the cell empty for ``None``) with its format."""
    cell = _cell(ws, row, column)
    cell.value = value
    if number_format:
        cell.number_format = number_format
    return cell


def put_formula(ws: Worksheet, row: int, column: int, formula: str, number_format: str = "") -> Cell:
    """Write a formula (``formula`` without its leading ``=``) with its format."""
    cell = _cell(ws, row, column)
    cell.value = f"={formula}"
    if number_format:
        cell.number_format = number_format
    return cell


def mark_editable(cell: Cell) -> None:
    """Style ``cell`` as an input and leave it unlocked when its sheet is protected."""
    cell.fill = INPUT_FILL
    cell.border = INPUT_BORDER
    cell.protection = Protection(locked=False)


def name_cell(wb: Workbook, name: str, cell: Cell) -> None:
    """Give ``cell`` a workbook-wide name that formulas use."""
    ref = f"{quote_sheetname(cell.parent.title)}!{absolute_coordinate(cell.coordinate)}"
    wb.defined_names[name] = DefinedName(name, attr_text=ref)


def header_row(ws: Worksheet, row: int, titles: Sequence[str]) -> None:
    """Bold white-on-blue column titles."""
    for column, title in enumerate(titles, start=1):
        cell = put_text(ws, row, column, title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def section(ws: Worksheet, row: int, title: str) -> None:
    """A section title in column A."""
    put_text(ws, row, 1, title).font = SECTION_FONT


def fit_columns(ws: Worksheet, minimum: int = 8, maximum: int = 70) -> None:
    """Column widths that fit the longest text or number shown in each column."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            widths[cell.column] = max(widths.get(cell.column, 0), _shown_length(cell.value))
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(max(width + 2, minimum), maximum)


def _shown_length(value: Any) -> int:
    """Characters a value takes on screen (a formula's result is assumed short)."""
    if isinstance(value, str) and value.startswith("="):
        return 14
    if isinstance(value, int | float):
        return len(f"{value:,.3f}") + 4  # room for a unit such as " EUR"
    return max((len(line) for line in str(value).splitlines()), default=0)


#: Rows a chart of the workbook covers below the table it plots (12 cm at the default row height).
CHART_ROWS = 26


def finish_sheet(ws: Worksheet, freeze: str = "A2", chart_rows: int = 0) -> None:
    """Freeze the header rows, fit the columns, set the print area (charts below the table
    included), protect without a password."""
    ws.freeze_panes = freeze
    fit_columns(ws)
    last_row = max(ws.max_row, 1) + chart_rows
    ws.print_area = f"A1:{get_column_letter(max(ws.max_column, 1))}{last_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if ws.sheet_properties.pageSetUpPr is not None:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.protection.sheet = True
