"""What the TCO workbook shows, gathered from a sized, checked and priced plan.

Kept apart from the writer so the export action can assemble it without importing openpyxl.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from planner.decision import FleetDecision
from planner.growth import GrowthView
from planner.plan_tco import PlanTco, Sensitivity
from planner.resolve import ResolvedPlan
from planner.rulepack import Finding
from planner.sizing.fleet import FleetSizing
from planner.tco import Assumption

#: The sheets, in the order the workbook has them.
SHEETS = (
    "Summary",
    "Assumptions",
    "Fleet",
    "Sizing",
    "Envelope",
    "TCO",
    "Growth",
    "Sensitivity",
    "Findings",
    "Sources",
)


@dataclass(frozen=True)
class TcoWorkbook:
    """Everything the workbook shows.

    :param revision: names this version of the plan: a project's revision number and digest, or
        the SHA-256 of a plan file's content.
    :param decision: the fleet as the simulation settled it (``None`` when it was not simulated).
    :param curve: latency-vs-load points, simulated or estimated.
    :param cr_open_req_s: open-loop capacity per replica (simulated, or the estimate's
        completion rate at the operating point).
    """

    plan_name: str
    description: str
    source: str
    revision: str
    planner_version: str
    resolved: ResolvedPlan
    fleet: FleetSizing
    decision: FleetDecision | None
    curve: list[dict[str, Any]]
    curve_kind: Literal["simulated", "estimated"]
    cr_open_req_s: float
    tco: PlanTco
    growth: GrowthView
    sensitivity: Sensitivity
    assumptions: list[Assumption]
    findings: list[Finding]
    performance_model: str
