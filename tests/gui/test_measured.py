"""Step 10 with measured runs, driven through the window: benchmark files imported into the open
project, measured against predicted, calibration written into the plan, step 11's recommendation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QPushButton

from planner import workflows
from planner.gui.document import PlanDocument
from planner.gui.main_window import MainWindow
from tests.conftest import REPO
from tests.gui.conftest import CODE_ASSISTANT, Dialogs
from tests.gui.test_main_window import sized

BENCHMARKS = REPO / "tests" / "data" / "benchmarks"
#: Result files of four tools, closed and open loop (12 runs in all).
RESULT_FILES = sorted(p for p in BENCHMARKS.iterdir() if p.suffix in (".json", ".jsonl", ".yaml"))


def measured_project(qtbot: Any, make_window: Callable[..., MainWindow], name: str) -> MainWindow:
    """A window on the example plan, sized and saved as the first revision of project ``name``."""
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(CODE_ASSISTANT)))
    assert window.projects.new_project(name) and window.projects.save_revision("predicted")
    return window


def test_benchmark_files_are_imported_and_drawn_against_the_prediction(
    qtbot: Any, make_window: Callable[..., MainWindow], planner_home: Path, dialogs: Dialogs
) -> None:
    window = measured_project(qtbot, make_window, "lab")
    panel = window.measured
    assert panel.import_button.isEnabled() and not panel.calibrate_button.isEnabled(), "no runs yet"
    report = panel.import_files(RESULT_FILES)
    assert report is not None and len(report.stored) == len(report.runs) == 12
    stored = workflows.list_runs("lab", planner_home / "projects.db")
    assert [panel.runs.item(r, 0).text() for r in range(panel.runs.rowCount())] == [str(s.number) for s in stored]
    expected = workflows.bench_envelope(window.session, project="lab", db=planner_home / "projects.db").envelope
    assert f"Cr_closed {expected.cr_closed:g}" in panel.summary.text()
    chart = panel.plot.chart()
    names = [s.name() for s in chart.series()]
    assert "measured TTFT p95" in names and "predicted TTFT (tail)" in names
    assert f"predicted Cr_closed {window.report.decision.cr_closed}" in names
    again = panel.import_files(RESULT_FILES[:1])
    assert again is not None and not again.stored and again.already, "a file imported twice is stored once"
    assert panel.runs.rowCount() == 12 and not dialogs.errors


def test_a_malformed_benchmark_file_is_a_dialog_and_nothing_is_stored(
    qtbot: Any, make_window: Callable[..., MainWindow], planner_home: Path, dialogs: Dialogs
) -> None:
    window = make_window()
    window.set_document(PlanDocument.open(CODE_ASSISTANT))
    assert not window.measured.import_button.isEnabled(), "runs live in a project"
    assert window.measured.import_files(RESULT_FILES) is None
    assert dialogs.errors[-1][0] == "No project"
    window.projects.new_project("broken-files")
    bad = BENCHMARKS / "malformed" / "vllm-truncated.json"
    assert window.measured.import_files([RESULT_FILES[0], bad]) is None
    title, message = dialogs.errors[-1]
    assert title == "The benchmark files were not imported" and "vllm-truncated.json" in message
    assert workflows.list_runs("broken-files", planner_home / "projects.db") == []
    assert window.measured.runs.rowCount() == 0


def test_calibration_goes_into_the_plan_and_step_11_recommends_a_lever(
    qtbot: Any, make_window: Callable[..., MainWindow], planner_home: Path
) -> None:
    window = measured_project(qtbot, make_window, "tuned")
    panel = window.measured
    panel.import_files(RESULT_FILES)
    apply = window.findChild(QPushButton, "apply-calibration")
    assert not apply.isEnabled(), "nothing fitted yet"
    window.findChild(QPushButton, "calibrate").click()
    fitted = panel.calibration
    assert fitted is not None and "runs fitted" in panel.calibration_text.text()
    assert workflows.history("tuned", planner_home / "projects.db").entries[-1].revision.message == "predicted"
    apply.click()
    assert window.document.get(("runtime", "efficiency")) == fitted.calibration.factors()
    assert window.pending_revision is not None and window.pending_revision.startswith("calibrated on 12 runs")
    window.undo_stack.undo()
    assert window.document.get(("runtime", "efficiency")) in (None, {})
    window.findChild(QPushButton, "recommend").click()
    decision = workflows.scale(
        window.session, "tuned", backend="builtin", record=False, db=planner_home / "projects.db"
    )
    assert f"Bottleneck: {decision.decision.bottleneck}" in panel.recommendation.text()
    recorded = workflows.show_project("tuned", planner_home / "projects.db").decisions
    assert len(recorded) == (decision.decision.lever is not None), "a lever is recorded as the project's decision"
    window.sizer.cancel()  # the calibrated plan's simulation is not what this test waits for
