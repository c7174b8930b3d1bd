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
- benchmarks (step 10): :func:`import_benchmarks` (runs as :class:`MeasuredRun`),
  :func:`bench_envelope`, :func:`bench_baseline`, :func:`bench_plan`, :func:`calibrate` (the factors fitted
  to the project's runs); step 11: :func:`scale`;
- costs: :func:`tco`, :func:`price` (of a plan already sized), :func:`export` (the Excel TCO workbook);
- the decision record (sign-off): :func:`report` (what it shows: :func:`decision_record`);
- step 9 configuration: :func:`deploy`, :func:`check_config`, :func:`tune`, of the plan
  :func:`open_plan` reads from a plan file or a project's revision;
- the simulation budget of a command: :func:`simulation_budget`;
- the catalog and plugins: :func:`plugin_report`, :func:`catalog_entries`,
  :func:`import_model`, :func:`plan_schema`.
"""

from __future__ import annotations

from planner.bench.scenario import BenchmarkPlan
from planner.deploy.tuning import TuningPlan
from planner.measured_run import MeasuredRun
from planner.simulate import simulation_budget
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
    CalibrationReport,
    ScaleReport,
    SloTargets,
    bench_baseline,
    bench_envelope,
    bench_plan,
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
    plan_schema,
    plugin_report,
)
from planner.workflows.costs import ExportResult, TcoReport, export, price, tco
from planner.workflows.deploy import (
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
)

__all__ = [
    "DEFAULT_BACKEND",
    "Baseline",
    "BaselineReport",
    "BenchEnvelopeReport",
    "BenchImportReport",
    "BenchmarkPlan",
    "CalibrationReport",
    "CatalogEntry",
    "Change",
    "CheckReport",
    "CheckedOut",
    "ConfigCheck",
    "Decision",
    "DeployReport",
    "EnvelopeReport",
    "EstimateRequest",
    "ExportResult",
    "Exported",
    "History",
    "HistoryEntry",
    "ImportReport",
    "Imported",
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
    "add_run",
    "bench_baseline",
    "bench_envelope",
    "bench_plan",
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
    "write_plan",
]
