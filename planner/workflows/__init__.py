"""The application layer: one function per user action, each returning a typed result.

Front ends (the command line, the desktop app, tests) call these and format what they
return; no decision about a plan is taken anywhere above this package. Each action takes
a :class:`Session` (the loaded plugins and catalog, kept by a long-lived front end) and
plain inputs, and raises only :class:`planner.errors.PlannerError` for what the user can
fix. Results carry ``to_json()`` where the command line prints them as JSON.

- steps 1-9: :func:`read_plan`, :func:`plan_from_fields` (a form's fields), :func:`write_plan`,
  :func:`plan`, :func:`check`, :func:`search`, :func:`estimate`;
- step 10 predictions: :func:`simulate`, :func:`compare_disaggregation`, :func:`envelope`, :func:`mix`;
- projects (the 5-9 loop's revisions, hand-over): :func:`create_project`, :func:`list_projects`,
  :func:`show_project`, :func:`rename_project`, :func:`delete_project`, :func:`plan_and_save`,
  :func:`save_revision`, :func:`history`, :func:`diff`, :func:`open_revision`, :func:`checkout`,
  :func:`export_project`, :func:`import_project`; runs, baseline and decisions: :func:`add_run`,
  :func:`list_runs`, :func:`load_run`, :func:`set_baseline`, :func:`record_decision` (the types they
  take and return come from :mod:`planner.store`);
- benchmarks (step 10): :func:`bench_run` (measure an endpoint, :class:`LoadRequest`),
  :func:`import_benchmarks` (runs as :class:`MeasuredRun`),
  :func:`bench_envelope`, :func:`bench_baseline`, :func:`bench_plan`, :func:`calibrate` (the factors fitted
  to the project's runs); step 11: :func:`scale`;
- costs: :func:`tco`, :func:`price` (of a plan already sized), :func:`export` (the Excel TCO workbook);
- the decision record (sign-off): :func:`report` (what it shows: :func:`decision_record`);
- step 9 configuration: :func:`deploy`, :func:`check_config`, :func:`tune`, of the plan
  :func:`open_plan` reads from a plan file or a project's revision;
- the simulation budget of a command: :func:`simulation_budget`, and the one under way: :func:`active_budget`;
- the catalog and plugins: :func:`plugin_report`, :func:`catalog_entries`,
  :func:`import_model`, :func:`plan_schema`.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.bench.loadgen import Endpoint, Limits
    from planner.bench.scenario import BenchmarkPlan
    from planner.deploy.tuning import TuningPlan
    from planner.measured_run import MeasuredRun
    from planner.simulate import active_budget, simulation_budget
    from planner.store import (
        Baseline,
        Change,
        Decision,
        Exported,
        Imported,
        Project,
        Revision,
        RevisionDiff,
        RevisionSummary,
        Run,
        RunDraft,
        RunSummary,
    )
    from planner.workflows.bench import (
        BaselineReport,
        BenchEnvelopeReport,
        BenchImportReport,
        BenchRunReport,
        CalibrationReport,
        LoadRequest,
        ScaleReport,
        SloTargets,
        bench_baseline,
        bench_envelope,
        bench_plan,
        bench_run,
        calibrate,
        import_benchmarks,
        scale,
    )
    from planner.workflows.catalogs import (
        CatalogEntry,
        PluginReport,
        PluginRow,
        catalog_entries,
        import_model,
        install_plugin,
        plan_schema,
        plugin_report,
        uninstall_plugin,
    )
    from planner.workflows.costs import ExportResult, TcoReport, export, price, tco
    from planner.workflows.deploy import (
        DEPLOY_TARGETS,
        ConfigCheck,
        DeployReport,
        check_config,
        deploy,
        tune,
    )
    from planner.workflows.planning import (
        CheckReport,
        EstimateRequest,
        PlanReport,
        SearchReport,
        check,
        estimate,
        example_plan_path,
        plan,
        plan_from_fields,
        read_plan,
        search,
        write_plan,
    )
    from planner.workflows.projects import (
        CheckedOut,
        History,
        HistoryEntry,
        ImportReport,
        OpenedRevision,
        PlanInput,
        ProjectList,
        ProjectReport,
        SavedPlan,
        SavedRevision,
        add_run,
        checkout,
        create_project,
        database_path,
        delete_project,
        diff,
        export_project,
        history,
        import_project,
        list_projects,
        list_runs,
        load_run,
        open_plan,
        open_revision,
        plan_and_save,
        record_decision,
        rename_project,
        save_revision,
        set_baseline,
        show_project,
    )
    from planner.workflows.report import ReportResult, decision_record, report
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
        write_pool_plans,
    )

#: Where each public name lives: imported on first use (PEP 562), so a front end pays only for the
#: actions it calls (the desktop app's first window needs neither benchmarks, deploy nor the store).
_HOMES: dict[str, str] = {
    "Endpoint": "planner.bench.loadgen",
    "Limits": "planner.bench.loadgen",
    "BenchRunReport": "planner.workflows.bench",
    "LoadRequest": "planner.workflows.bench",
    "bench_run": "planner.workflows.bench",
    "install_plugin": "planner.workflows.catalogs",
    "uninstall_plugin": "planner.workflows.catalogs",
    "BenchmarkPlan": "planner.bench.scenario",
    "TuningPlan": "planner.deploy.tuning",
    "MeasuredRun": "planner.measured_run",
    "simulation_budget": "planner.simulate",
    "active_budget": "planner.simulate",
    "Baseline": "planner.store",
    "Change": "planner.store",
    "Decision": "planner.store",
    "Exported": "planner.store",
    "Imported": "planner.store",
    "Project": "planner.store",
    "Revision": "planner.store",
    "RevisionDiff": "planner.store",
    "RevisionSummary": "planner.store",
    "Run": "planner.store",
    "RunDraft": "planner.store",
    "RunSummary": "planner.store",
    "BaselineReport": "planner.workflows.bench",
    "BenchEnvelopeReport": "planner.workflows.bench",
    "BenchImportReport": "planner.workflows.bench",
    "CalibrationReport": "planner.workflows.bench",
    "ScaleReport": "planner.workflows.bench",
    "SloTargets": "planner.workflows.bench",
    "bench_baseline": "planner.workflows.bench",
    "bench_envelope": "planner.workflows.bench",
    "bench_plan": "planner.workflows.bench",
    "calibrate": "planner.workflows.bench",
    "import_benchmarks": "planner.workflows.bench",
    "scale": "planner.workflows.bench",
    "CatalogEntry": "planner.workflows.catalogs",
    "PluginReport": "planner.workflows.catalogs",
    "PluginRow": "planner.workflows.catalogs",
    "catalog_entries": "planner.workflows.catalogs",
    "import_model": "planner.workflows.catalogs",
    "plan_schema": "planner.workflows.catalogs",
    "plugin_report": "planner.workflows.catalogs",
    "ExportResult": "planner.workflows.costs",
    "TcoReport": "planner.workflows.costs",
    "export": "planner.workflows.costs",
    "price": "planner.workflows.costs",
    "tco": "planner.workflows.costs",
    "DEPLOY_TARGETS": "planner.workflows.deploy",
    "ConfigCheck": "planner.workflows.deploy",
    "DeployReport": "planner.workflows.deploy",
    "check_config": "planner.workflows.deploy",
    "deploy": "planner.workflows.deploy",
    "tune": "planner.workflows.deploy",
    "CheckReport": "planner.workflows.planning",
    "EstimateRequest": "planner.workflows.planning",
    "PlanReport": "planner.workflows.planning",
    "SearchReport": "planner.workflows.planning",
    "check": "planner.workflows.planning",
    "estimate": "planner.workflows.planning",
    "example_plan_path": "planner.workflows.planning",
    "plan": "planner.workflows.planning",
    "plan_from_fields": "planner.workflows.planning",
    "read_plan": "planner.workflows.planning",
    "search": "planner.workflows.planning",
    "write_plan": "planner.workflows.planning",
    "CheckedOut": "planner.workflows.projects",
    "History": "planner.workflows.projects",
    "HistoryEntry": "planner.workflows.projects",
    "ImportReport": "planner.workflows.projects",
    "OpenedRevision": "planner.workflows.projects",
    "PlanInput": "planner.workflows.projects",
    "ProjectList": "planner.workflows.projects",
    "ProjectReport": "planner.workflows.projects",
    "SavedPlan": "planner.workflows.projects",
    "SavedRevision": "planner.workflows.projects",
    "add_run": "planner.workflows.projects",
    "checkout": "planner.workflows.projects",
    "create_project": "planner.workflows.projects",
    "database_path": "planner.workflows.projects",
    "delete_project": "planner.workflows.projects",
    "diff": "planner.workflows.projects",
    "export_project": "planner.workflows.projects",
    "history": "planner.workflows.projects",
    "import_project": "planner.workflows.projects",
    "list_projects": "planner.workflows.projects",
    "list_runs": "planner.workflows.projects",
    "load_run": "planner.workflows.projects",
    "open_plan": "planner.workflows.projects",
    "open_revision": "planner.workflows.projects",
    "plan_and_save": "planner.workflows.projects",
    "record_decision": "planner.workflows.projects",
    "rename_project": "planner.workflows.projects",
    "save_revision": "planner.workflows.projects",
    "set_baseline": "planner.workflows.projects",
    "show_project": "planner.workflows.projects",
    "ReportResult": "planner.workflows.report",
    "decision_record": "planner.workflows.report",
    "report": "planner.workflows.report",
    "DEFAULT_BACKEND": "planner.workflows.session",
    "Progress": "planner.workflows.session",
    "Session": "planner.workflows.session",
    "open_session": "planner.workflows.session",
    "EnvelopeReport": "planner.workflows.simulation",
    "MixReport": "planner.workflows.simulation",
    "SimulationReport": "planner.workflows.simulation",
    "SimulationRequest": "planner.workflows.simulation",
    "compare_disaggregation": "planner.workflows.simulation",
    "envelope": "planner.workflows.simulation",
    "mix": "planner.workflows.simulation",
    "simulate": "planner.workflows.simulation",
    "write_pool_plans": "planner.workflows.simulation",
}


class _Package(types.ModuleType):
    """This package, keeping its actions' names when a submodule of the same name loads.

    Importing ``planner.workflows.deploy`` (or ``.report``) binds the submodule on the package, which
    would hide the action :func:`deploy` (or :func:`report`) once it is imported lazily."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _HOMES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """Import the module that holds ``name`` on first use and keep the name here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "DEFAULT_BACKEND",
    "DEPLOY_TARGETS",
    "Baseline",
    "BaselineReport",
    "BenchEnvelopeReport",
    "BenchImportReport",
    "BenchRunReport",
    "BenchmarkPlan",
    "CalibrationReport",
    "CatalogEntry",
    "Change",
    "CheckReport",
    "CheckedOut",
    "ConfigCheck",
    "Decision",
    "DeployReport",
    "Endpoint",
    "EnvelopeReport",
    "EstimateRequest",
    "ExportResult",
    "Exported",
    "History",
    "HistoryEntry",
    "ImportReport",
    "Imported",
    "Limits",
    "LoadRequest",
    "MeasuredRun",
    "MixReport",
    "OpenedRevision",
    "PlanInput",
    "PlanReport",
    "PluginReport",
    "PluginRow",
    "Progress",
    "Project",
    "ProjectList",
    "ProjectReport",
    "ReportResult",
    "Revision",
    "RevisionDiff",
    "RevisionSummary",
    "Run",
    "RunDraft",
    "RunSummary",
    "SavedPlan",
    "SavedRevision",
    "ScaleReport",
    "SearchReport",
    "Session",
    "SimulationReport",
    "SimulationRequest",
    "SloTargets",
    "TcoReport",
    "TuningPlan",
    "active_budget",
    "add_run",
    "bench_baseline",
    "bench_envelope",
    "bench_plan",
    "bench_run",
    "calibrate",
    "catalog_entries",
    "check",
    "check_config",
    "checkout",
    "compare_disaggregation",
    "create_project",
    "database_path",
    "decision_record",
    "delete_project",
    "deploy",
    "diff",
    "envelope",
    "estimate",
    "example_plan_path",
    "export",
    "export_project",
    "history",
    "import_benchmarks",
    "import_model",
    "import_project",
    "install_plugin",
    "list_projects",
    "list_runs",
    "load_run",
    "mix",
    "open_plan",
    "open_revision",
    "open_session",
    "plan",
    "plan_and_save",
    "plan_from_fields",
    "plan_schema",
    "plugin_report",
    "price",
    "read_plan",
    "record_decision",
    "rename_project",
    "report",
    "save_revision",
    "scale",
    "search",
    "set_baseline",
    "show_project",
    "simulate",
    "simulation_budget",
    "tco",
    "tune",
    "uninstall_plugin",
    "write_plan",
    "write_pool_plans",
]
