"""The decision record: the sign-off document of a project as one self-contained HTML page.

:func:`write_record` writes a :class:`DecisionRecord` (gathered by ``planner.workflows.report``);
charts are hand-built SVG (:mod:`planner.report.svg`), so the page needs no plotting library, no
network and no script to be read or printed.
"""

from __future__ import annotations

from planner.report.content import DecisionRecord, MeasuredEvidence, RevisionStep
from planner.report.document import SECTIONS, record_html, write_record

__all__ = ["SECTIONS", "DecisionRecord", "MeasuredEvidence", "RevisionStep", "record_html", "write_record"]
