"""Step 9's configuration through the window: refused with the command line's message, written for a
platform into a folder, that folder checked against the plan, a folder it did not write refused; recent projects in the File menu."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner import workflows
from planner.gui.document import PlanDocument
from planner.gui.main_window import MainWindow
from tests.gui.conftest import LONG_PROMPTS, Dialogs
from tests.gui.test_main_window import SIZING_TIMEOUT_MS, sized

#: The plan is sized as prefill/decode pools: Dynamo runs them, given an sglang image.
IMAGE = "registry.lab.local/sglang:0.4.9"


def deployed(qtbot: Any, window: MainWindow, action: Callable[[], None]) -> object:
    """Do ``action`` and wait for the configuration step it starts."""
    with qtbot.waitSignal(window.deploy.runner.finished, timeout=SIZING_TIMEOUT_MS) as blocker:
        action()
    return blocker.args[0]


def test_a_configuration_is_written_and_checked_against_the_plan(
    qtbot: Any, make_window: Callable[..., MainWindow], tmp_path: Path, dialogs: Dialogs
) -> None:
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(LONG_PROMPTS)))
    panel = window.deploy
    out = tmp_path / "dynamo"
    panel.folder.setText(str(out))
    panel.target.setCurrentText("sglang")
    with qtbot.waitSignal(panel.runner.failed, timeout=SIZING_TIMEOUT_MS):
        panel.write_button.click()
    title, message = dialogs.errors[-1]
    assert title == "The configuration step failed"
    assert "sized as disaggregated prefill/decode, which sglang cannot run" in message and "fix:" in message
    assert not out.exists(), "a refused target writes nothing"
    panel.target.setCurrentText("dynamo")
    panel.image.setText(IMAGE)
    report = deployed(qtbot, window, panel.write_button.click)
    assert isinstance(report, workflows.DeployReport) and report.target == "dynamo"
    assert sorted(p.name for p in out.iterdir()) == sorted(report.files)
    assert [panel.files.item(i).text() for i in range(panel.files.count())] == sorted(report.files)
    assert IMAGE in "".join(report.files.values())
    # the long-prompt plan is served as pools of two layouts: the status gives each pool's replicas and GPUs
    assert panel.status.text().endswith(f"for {report.values.fleet_text()}") and " prefill x " in panel.status.text()
    check = deployed(qtbot, window, panel.check_button.click)
    assert isinstance(check, workflows.ConfigCheck) and check.agrees and "agrees with the plan" in panel.status.text()
    assert check.file in report.files
    panel.folder.setText(str(tmp_path))  # a folder `planner deploy` did not write
    with qtbot.waitSignal(panel.runner.failed, timeout=SIZING_TIMEOUT_MS):
        panel.check_button.click()
    assert dialogs.errors[-1][0] == "The configuration step failed" and "fix:" in dialogs.errors[-1][1]
    assert panel.write_button.isEnabled() and panel.check_button.isEnabled()


def test_recent_projects_are_in_the_file_menu(
    qtbot: Any, make_window: Callable[..., MainWindow], dialogs: Dialogs
) -> None:
    window = make_window()
    sized(qtbot, window, lambda: window.set_document(PlanDocument.open(LONG_PROMPTS)))
    assert (
        window.projects.new_project("first")
        and window.projects.save_revision("kept")
        and window.projects.new_project("second")
    )
    assert [a.text() for a in window.menus.recent_projects_menu.actions()] == ["second", "first"]
    again = make_window()
    assert [a.text() for a in again.menus.recent_projects_menu.actions()] == ["second", "first"], "kept between runs"
    again.menus.recent_projects_menu.actions()[1].trigger()
    assert again.project == "first" and again.document.get(("model", "id")) == "Qwen/Qwen3-32B"
    assert [a.text() for a in again.menus.recent_projects_menu.actions()] == ["first", "second"] and not dialogs.errors
