"""Exports of a sized plan for people outside the planner: the Excel TCO workbook (:mod:`planner.export.xlsx`).

Nothing here imports openpyxl at import time except the workbook modules themselves, which
only the export action loads.
"""
