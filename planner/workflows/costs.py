"""Costs as user actions: the TCO of a plan over the years, and the Excel workbook for finance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from planner import __version__
from planner.errors import PlannerError
from planner.export import check_workbook_path, write_workbook
from planner.export.content import SHEETS, TcoWorkbook
from planner.growth import GrowthView, growth_view
from planner.load_curve import estimated_curve
from planner.plan import Plan
from planner.plan_tco import PlanTco, Sensitivity, sensitivity
from planner.sizing.fleet import FleetSizing
from planner.traffic import slo_targets
from planner.workflows.planning import PlanReport, nothing_sized, plan
from planner.workflows.session import Progress, Session

#: The growth view covers at most this many years (``--years``).
MAX_YEARS = 10


@dataclass
class TcoReport:
    """A plan priced: yearly cost by line, EUR per token, renting and the API, and the years ahead."""

    plan: PlanReport
    fleet: FleetSizing
    tco: PlanTco
    growth: GrowthView
    sensitivity: Sensitivity

    @property
    def years(self) -> int:
        """Years the growth view covers."""
        return len(self.growth.quarters) // 4

    def to_json(self) -> dict[str, Any]:
        """The assumptions with their origins, the TCO, the growth view and the sensitivity grid."""
        return {
            "plan": self.plan.resolved.plan.name,
            "source": self.plan.source,
            "assumptions": [vars(a) for a in self.plan.assumptions],
            "tco": self.tco.to_json(),
            "years": self.years,
            "growth": self.growth.to_json(),
            "sensitivity": {
                "utilisations": list(self.sensitivity.utilisations),
                "eur_per_kwh": list(self.sensitivity.eur_per_kwh),
                "eur_per_1m_output_tokens": [list(row) for row in self.sensitivity.grid],
                "rented": self.sensitivity.rented,
                "api": self.sensitivity.api,
            },
        }


def tco(
    session: Session,
    plan_: Plan,
    source: str = "<plan>",
    *,
    years: int | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
) -> TcoReport:
    """Size and check the plan (as ``planner plan``), then price the fleet it recommends: every
    cost line, EUR per 1M tokens at Cr_closed x utilisation, renting and the API, break-even
    utilisations, and the fleet and cumulative costs quarter by quarter as the traffic grows.

    :param years: the growth view's horizon (default: the plan's ``costs.horizon_years``, else 3).
    :raises PlannerError: when nothing meets the SLOs, the GPU has no price, or ``years`` is out of range.
    """
    if years is not None and not 1 <= years <= MAX_YEARS:
        raise PlannerError(f"--years {years} is out of range", path=source, fix=f"give 1 to {MAX_YEARS} years")
    return price(plan(session, plan_, source, backend=backend, progress=progress), years)


def price(report: PlanReport, years: int | None = None) -> TcoReport:
    """Price a plan already sized and checked (what :func:`planner.workflows.plan` returned), without
    sizing it again: what :func:`tco` adds to it (the desktop app prices each live sizing).

    :raises PlannerError: when nothing meets the SLOs or the GPU has no price.
    """
    fleet, priced = _priced(report, report.source)
    horizon = years or report.costs.horizon_years
    return TcoReport(report, fleet, priced, growth_view(report.resolved.plan, priced, horizon), sensitivity(priced))


def _priced(report: PlanReport, source: str) -> tuple[FleetSizing, PlanTco]:
    """The plan's sized fleet and its TCO, or the error that says why there is none."""
    if report.sizing.best is None:
        raise nothing_sized(report.sizing, source, "nothing to cost")
    if report.tco is None:
        gpu = report.sizing.best.sizing.deployment.gpu.id
        raise PlannerError(
            f"{gpu} has no price hint in the catalog, so the owned fleet has no cost",
            path=source,
            fix=f"give your quote per server in the plan: costs: {{server_price_eur: {{{gpu}: EUR}}}}",
        )
    return report.sizing.best.sizing, report.tco


@dataclass(frozen=True)
class ExportResult:
    """A workbook written: where, its sheets and its size."""

    path: Path
    sheets: tuple[str, ...]
    size_bytes: int
    revision: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "path": str(self.path),
            "sheets": list(self.sheets),
            "bytes": self.size_bytes,
            "revision": self.revision,
        }


def export(
    session: Session,
    plan_: Plan,
    out: Path,
    source: str = "<plan>",
    *,
    years: int | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
    version: str | None = None,
) -> ExportResult:
    """Write the Excel TCO workbook of a plan file to ``out`` (see ``docs/tco.md`` for its sheets).

    :param version: the plan's version in the workbook's properties and Summary (a project's
        revision, see :class:`~planner.workflows.projects.PlanInput`; default: its content's SHA-256).
    :raises PlannerError: as :func:`tco` does, and when ``out`` is not an ``.xlsx`` path that can be written.
    """
    check_workbook_path(out)  # before the sizing: a bad path costs no simulation
    costed = tco(session, plan_, source, years=years, backend=backend, progress=progress)
    content = workbook_content(costed, version or revision_of(plan_))
    size = write_workbook(content, out)
    return ExportResult(out, SHEETS, size, content.revision)


def revision_of(plan_: Plan) -> str:
    """Names this version of the plan: the first 12 hex digits of the SHA-256 of its content."""
    canonical = json.dumps(plan_.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def workbook_content(costed: TcoReport, revision: str) -> TcoWorkbook:
    """What the workbook shows, from the priced plan."""
    report, fleet = costed.plan, costed.fleet
    plan_, decision = report.resolved.plan, report.decision
    kind: Literal["simulated", "estimated"]
    if decision is not None and decision.curve:
        curve, kind, cr_open = decision.curve, "simulated", decision.cr_open_req_s
    else:
        curve, kind, cr_open = estimated_curve(fleet, slo_targets(plan_)), "estimated", fleet.replica_rate_req_s
    return TcoWorkbook(
        plan_name=plan_.name,
        description=plan_.description,
        source=report.source,
        revision=revision,
        planner_version=__version__,
        resolved=report.resolved,
        fleet=fleet,
        decision=decision,
        curve=curve,
        curve_kind=kind,
        cr_open_req_s=cr_open,
        tco=costed.tco,
        growth=costed.growth,
        sensitivity=costed.sensitivity,
        assumptions=report.assumptions,
        findings=list(report.validation.findings),
        performance_model=fleet.model.source(fleet.deployment),
    )
