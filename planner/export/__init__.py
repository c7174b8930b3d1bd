"""Exports of a sized plan for people outside the planner: the Excel TCO workbook (:mod:`planner.export.xlsx`).

Importing this package loads no openpyxl; :func:`write_workbook` imports the writer on first use.
"""

from __future__ import annotations

import sys
from pathlib import Path

from planner.errors import PlannerError
from planner.export.content import TcoWorkbook


def check_workbook_path(path: Path) -> None:
    """Refuse, before any sizing, a workbook path that cannot be written: not ``.xlsx``, a folder,
    or in a folder that does not exist (the write itself still reports what only it can find).

    :raises PlannerError: naming the path and the fix.
    """
    if path.suffix.lower() != ".xlsx":
        raise PlannerError(
            "the workbook must be an .xlsx file", path=str(path), fix=f"name it {path.with_suffix('.xlsx').name}"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir():
        reason = "it is a folder" if path.is_dir() else f"the folder {folder} does not exist"
        raise PlannerError(
            f"cannot write the workbook: {reason}",
            path=str(path),
            fix="choose a file in a folder that exists and that you may write to",
        )


def write_workbook(content: TcoWorkbook, path: Path) -> int:
    """Write the workbook to ``path`` (see :func:`planner.export.xlsx.write_workbook`); its size in bytes.

    openpyxl imports numpy, when it is installed, only to accept numpy numbers in cells; the
    workbook holds Python numbers and numpy adds about 0.15 s to a one-off export, so on
    openpyxl's first import numpy is hidden from it unless something has loaded numpy already
    (then numbers from it may reach a cell, and openpyxl keeps it).
    """
    if "openpyxl" not in sys.modules and "numpy" not in sys.modules:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
        try:
            import openpyxl  # noqa: F401
        finally:
            del sys.modules["numpy"]
    from planner.export.xlsx import write_workbook as write

    return write(content, path)
