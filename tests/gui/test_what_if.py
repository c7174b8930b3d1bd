"""The simulations on demand of step 11's last tab: the fleet with its spares down, and the
prefill/decode splits against aggregated serving, each with a busy bar and Cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from planner import workflows
from planner.gui.document import PlanDocument
from planner.gui.main_window import MainWindow
from planner.simulate import SimulationBudget
from tests.gui.conftest import CODE_ASSISTANT
from tests.gui.test_main_window import SIZING_TIMEOUT_MS, sized


def sized_window(qtbot: Any, make_window: Callable[..., MainWindow]) -> MainWindow:
    """A window on the example plan, sized (the simulations run the fleet it chose)."""
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(CODE_ASSISTANT)))
    return window


def test_a_cancelled_what_if_stops_its_simulation_and_the_spares_down_run_is_shown(
    qtbot: Any, make_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = sized_window(qtbot, make_window).whatif
    shown: list[object] = []
    panel.runner.finished.connect(shown.append)
    checks: list[int] = []  # the simulation budget's checks, one every 1,024 events of a run
    check = SimulationBudget.stop_reason
    monkeypatch.setattr(
        SimulationBudget, "stop_reason", lambda self, events: checks.append(events) or check(self, events)
    )
    panel.failure_button.click()
    assert panel.cancel.isEnabled() and not panel.failure_button.isEnabled()
    qtbot.waitUntil(lambda: len(checks) > 1, timeout=SIZING_TIMEOUT_MS)  # well into the simulated run
    at_cancel = len(checks)
    panel.cancel.click()
    assert panel.runner.wait()
    assert len(checks) - at_cancel <= 2, "the run stops at its next check, not at its end"
    qtbot.wait(10)  # deliver whatever the worker sent before it stopped
    assert shown == [] and panel.result.text() == "Cancelled: nothing shown."
    assert panel.failure_button.isEnabled() and not panel.cancel.isEnabled()
    with qtbot.waitSignal(panel.runner.finished, timeout=SIZING_TIMEOUT_MS) as blocker:
        panel.failure_button.click()
    report: workflows.SimulationReport = blocker.args[0]
    assert report.failure is not None
    text = panel.result.text()
    assert f"spares down: {report.failure['spares_down']['replicas']} replicas" in text
    verdict = "survives losing its spares" if report.failure["survives_failure"] else "misses the SLOs"
    assert verdict in text


@pytest.mark.slow
def test_the_prefill_decode_splits_are_compared_on_demand(qtbot: Any, make_window: Callable[..., MainWindow]) -> None:
    panel = sized_window(qtbot, make_window).whatif
    with qtbot.waitSignal(panel.runner.finished, timeout=SIZING_TIMEOUT_MS) as blocker:
        panel.split_button.click()
    report: workflows.SimulationReport = blocker.args[0]
    assert report.disaggregation is not None
    assert report.disaggregation.verdict in panel.result.text()
    assert f"{len(report.disaggregation.splits)} split(s) simulated" in panel.result.text()
