"""The result views and the extras: candidates applied as a revision, the envelope on demand,
undo and redo, a screenshot that is not blank, nothing left running at teardown."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCharts import QChart
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication

from planner import workflows
from planner.gui.charts import Curves, Line, Marker, Plot
from planner.gui.document import PlanDocument
from planner.gui.main_window import MainWindow
from tests.conftest import REPO
from tests.gui.conftest import CODE_ASSISTANT
from tests.gui.test_main_window import SIZING_TIMEOUT_MS, sized, type_into


def test_a_candidate_is_filtered_sorted_and_applied_as_a_new_revision(
    qtbot: Any, make_window: Callable[..., MainWindow], planner_home: Path
) -> None:
    window = make_window()
    report = sized(qtbot, window, lambda: window.set_document(PlanDocument.open(CODE_ASSISTANT)))
    assert window.projects.new_project("ide") and window.projects.save_revision("open choices")
    page = window.decision_page
    assert page.cost_plot.chart().series() and page.growth_plot.chart().series(), "cost and growth are drawn"
    assert page.proxy.rowCount() == 1 + len(report.sizing.alternatives)
    page.filter.setText(report.sizing.best.sizing.deployment.gpu.id)
    assert 0 < page.proxy.rowCount() <= page.model.rowCount()
    page.table.selectRow(0)
    chosen = page.model.candidates[page.proxy.mapToSource(page.proxy.index(0, 0)).row()]
    with qtbot.waitSignal(window.sized, timeout=SIZING_TIMEOUT_MS):
        page.apply.click()
    assert window.document.get(("hardware", "gpu")) == chosen.sizing.deployment.gpu.id
    assert window.document.get(("runtime", "tp")) == chosen.sizing.deployment.tp
    entries = workflows.history("ide", planner_home / "projects.db").entries
    assert [e.revision.message for e in entries][-1].startswith("applied candidate")
    assert len(entries) == 2


def test_the_envelope_is_simulated_on_demand(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(CODE_ASSISTANT)))
    with qtbot.waitSignal(window.simulator.finished, timeout=SIZING_TIMEOUT_MS) as blocker:
        window.baseline_page.run.click()
    report: workflows.EnvelopeReport = blocker.args[0]
    assert report.cr_closed == window.report.decision.cr_closed
    chart = window.baseline_page.plot.chart()
    assert str(report.cr_closed) in chart.title()
    assert len(chart.series()) >= 3, "median, band and markers are drawn"
    assert window.baseline_page.run.isEnabled() and not window.baseline_page.cancel.isEnabled()


def test_undo_and_redo_walk_the_edits(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.set_document(PlanDocument.open(CODE_ASSISTANT))
    type_into(qtbot, window, "traffic.requests_per_s", "50")
    type_into(qtbot, window, "traffic.requests_per_s", "60")
    assert window.document.get(("traffic", "requests_per_s")) == 60
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert window.document.get(("traffic", "requests_per_s")) == 40
    window.undo_stack.redo()
    assert window.document.get(("traffic", "requests_per_s")) == 50
    assert (
        window.findChild(type(window.forms[3].editors[("traffic", "requests_per_s")]), "traffic.requests_per_s").text()
        == "50"
    )


def test_a_screenshot_is_not_blank(qtbot: Any, tmp_path: Path, monkeypatch: Any, dialogs: Any) -> None:
    monkeypatch.setenv("PLANNER_PERF_BACKEND", "builtin")
    monkeypatch.syspath_prepend(str(REPO / "packaging"))
    sys.modules.pop("screenshots", None)
    import screenshots

    [path] = screenshots.take_screenshots(tmp_path, CODE_ASSISTANT, {"sizing.png": (5, 0)})
    image = QImage(str(path))
    assert image.width() > 800 and image.height() > 500
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 50, "the chart, the table and the text are drawn"


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21; body text wants 4.5)."""

    def luminance(c: QColor) -> float:
        linear = [
            v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in (c.redF(), c.greenF(), c.blueF())
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_a_chart_follows_the_palette_to_dark_and_back(qtbot: Any) -> None:
    plot = Plot()
    qtbot.addWidget(plot)
    plot.show_curves(Curves("TTFT against load", "requests in flight", "ms", [Line("p50", [(1, 10), (8, 40)])],
                            markers=[Marker("SLO", y=30)]))  # fmt: skip
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light = app.palette()
    try:
        app.setPalette(QPalette(QColor("#353535")))  # what Fusion shows under a dark system colour scheme
        app.processEvents()  # the palette reaches the widgets as posted events
        chart = plot.chart()
        assert chart.theme() == QChart.ChartTheme.ChartThemeDark
        assert chart.title() == "TTFT against load" and len(chart.series()) == 2, "the same drawing, redrawn"
        texts = [chart.titleBrush().color(), chart.legend().labelColor()]
        texts += [axis.labelsBrush().color() for axis in chart.axes()]
        assert all(contrast(text, chart.backgroundBrush().color()) >= 4.5 for text in texts)
    finally:
        app.setPalette(light)
        app.processEvents()
    assert plot.chart().theme() == QChart.ChartTheme.ChartThemeLight


def test_nothing_keeps_running_after_the_window_closes(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.show()
    window.set_document(PlanDocument.open(CODE_ASSISTANT))  # a sizing starts
    assert window.close()
    assert window.sizer.pool.activeThreadCount() == 0 and window.simulator.pool.activeThreadCount() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def test_the_envelope_of_a_fleet_served_by_pools_names_the_pools_first() -> None:
    from planner.gui.results import _envelope_text
    from planner.gui.viewmodels import FleetSummary

    served = "Cr_closed 2 per prefill and 121 per decode replica"
    pooled = FleetSummary("qwen3-32b", 9, 2, 11, 11, 2, 0.844, 1.483, 7161.0, 9, 3.556, 85, 160, served)
    assert _envelope_text(pooled) == (
        f"{served} (served aggregated: Cr_closed 9 in flight, Cr_open 3.556 req/s per replica)"
    )
    aggregated = FleetSummary("qwen3-32b", 9, 2, 11, 11, 2, 0.844, 1.483, 7161.0, 9, 3.556, 85, 160)
    assert _envelope_text(aggregated) == "Cr_closed 9 in flight, Cr_open 3.556 req/s per replica"


def test_the_estimate_is_shown_before_the_simulation_ends(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(CODE_ASSISTANT)))
    with qtbot.waitSignal(window.estimated, timeout=SIZING_TIMEOUT_MS) as blocker:
        type_into(qtbot, window, "traffic.requests_per_s", "48")
    search: workflows.SearchReport = blocker.args[0]
    assert "estimate" in window.fleet.values["deployment"].text()
    assert window.decision_page.model.candidates == search.ranked
    from dataclasses import replace

    from planner.gui.candidates import COLUMNS, timed_by

    column, model = [title for title, _ in COLUMNS].index("timed by"), window.decision_page.model
    assert {model.data(model.index(row, column)) for row in range(model.rowCount())} == {search.backend}
    assert timed_by(replace(search.ranked[-1], screened_only=True)) == f"{search.backend} (screen only)"
    assert "estimate" in window.sizing_page.capacity.plot.chart().title()
    window.sizer.cancel()  # the simulation of 48 req/s is not what this test waits for


def test_the_window_state_is_restored(make_window: Callable[..., MainWindow], planner_home: Path) -> None:
    window = make_window()
    window.resize(640, 480)  # inside the offscreen screen (800 x 800)
    window.show()
    shown = (window.width(), window.height())  # at least the layout's minimum
    assert window.close()
    assert (planner_home / "gui.ini").is_file()
    again = make_window()
    assert (again.width(), again.height()) == shown != (1400, 900)


def test_a_cancelled_simulation_shows_nothing(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(CODE_ASSISTANT)))
    page = window.baseline_page
    shown: list[object] = []
    window.simulator.finished.connect(shown.append)
    page.run.click()
    assert page.cancel.isEnabled() and not page.run.isEnabled()
    page.cancel.click()
    assert window.simulator.wait()
    QApplication.processEvents()  # deliver whatever the worker sent before it stopped
    assert shown == [] and "Cr_closed" not in page.plot.chart().title()
    assert page.run.isEnabled() and not page.cancel.isEnabled()


def test_applying_an_attention_dp_candidate_pins_the_layout_it_was_sized_in() -> None:
    """The pins "Apply" writes size the candidate again: an attention-data-parallel one pins runtime.dp
    (its ranks) beside TP 1 and EP, any other runtime.dp 1, so neither turns into another layout."""
    from planner.catalog import build_catalog
    from planner.gui.candidates import candidate_pins
    from planner.manager import make_plugin_manager
    from planner.plan import Plan
    from planner.planfile import parse_plan
    from planner.resolve import resolve_plan
    from planner.sizing.search import candidate_deployments, search
    from tests.test_layouts import _open_runtime

    catalog = build_catalog(make_plugin_manager())
    plan = parse_plan(_open_runtime("qwen3-235b-a22b").replace("users: 4000", "users: 400"))
    ranked, _ = search(resolve_plan(plan, catalog), catalog)
    chosen = [
        next(c for c in ranked if c.sizing.deployment.attention_dp),
        next(c for c in ranked if not c.sizing.deployment.attention_dp and c.sizing.deployment.ep > 1),
    ]
    for candidate in chosen:
        data = plan.model_dump(exclude_none=True)
        for (part, name), value in candidate_pins(candidate).items():
            data.setdefault(part, {})[name] = value
        pinned = resolve_plan(Plan.model_validate(data), catalog)
        layouts = {(d.tp, d.pp, d.ep, d.attention_dp) for d in candidate_deployments(pinned, catalog)}
        dep = candidate.sizing.deployment
        assert layouts == {(dep.tp, dep.pp, dep.ep, dep.attention_dp)}, (dep.label, layouts)
