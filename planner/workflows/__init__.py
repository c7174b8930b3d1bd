"""The application layer: one function per user action, each returning a typed result.

Front ends (the command line, the desktop app, tests) call these and format what they
return; no decision about a plan is taken anywhere above this package. Each action takes
a :class:`Session` (the loaded plugins and catalog, kept by a long-lived front end) and
plain inputs, and raises only :class:`planner.errors.PlannerError` for what the user can
fix. Results carry ``to_json()`` where the command line prints them as JSON.

- steps 1-9: :func:`read_plan`, :func:`plan`, :func:`check`, :func:`search`, :func:`estimate`;
- step 10 predictions: :func:`simulate`, :func:`compare_disaggregation`, :func:`envelope`, :func:`mix`;
- costs: :func:`tco`, :func:`export` (the Excel TCO workbook);
- the catalog and plugins: :func:`plugin_report`, :func:`catalog_entries`,
  :func:`import_model`, :func:`plan_schema`.
"""

from __future__ import annotations

from planner.workflows.catalogs import (
    CatalogEntry,
    PluginReport,
    PluginRow,
    catalog_entries,
    import_model,
    plan_schema,
    plugin_report,
)
from planner.workflows.costs import ExportResult, TcoReport, export, tco
from planner.workflows.planning import (
    CheckReport,
    EstimateRequest,
    PlanReport,
    SearchReport,
    check,
    estimate,
    example_plan_path,
    plan,
    read_plan,
    search,
)
from planner.workflows.session import DEFAULT_BACKEND, Progress, Session, open_session
from planner.workflows.simulation import (
    EnvelopeReport,
    MixReport,
    SimulationReport,
    SimulationRequest,
    compare_disaggregation,
    envelope,
    mix,
    simulate,
)

__all__ = [
    "DEFAULT_BACKEND",
    "CatalogEntry",
    "CheckReport",
    "EnvelopeReport",
    "EstimateRequest",
    "ExportResult",
    "MixReport",
    "PlanReport",
    "PluginReport",
    "PluginRow",
    "Progress",
    "SearchReport",
    "Session",
    "SimulationReport",
    "SimulationRequest",
    "TcoReport",
    "catalog_entries",
    "check",
    "compare_disaggregation",
    "envelope",
    "estimate",
    "example_plan_path",
    "export",
    "import_model",
    "mix",
    "open_session",
    "plan",
    "plan_schema",
    "plugin_report",
    "read_plan",
    "search",
    "simulate",
    "tco",
]
