"""Live results: every edit re-sized on the window's worker, each stage shown in every view (the
search's estimate, then the checked sizing and its findings), the steps' states, and the envelope
simulated on demand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from planner import workflows
from planner.gui.steps import STEPS, StepState, step_of, step_state
from planner.gui.viewmodels import finding_field
from planner.plan import Plan

if TYPE_CHECKING:
    from planner.gui.main_window import MainWindow


@dataclass(frozen=True)
class Sized:
    """A live sizing's report and where its simulations stopped early (the CLI warns of the same)."""

    report: workflows.PlanReport
    stops: list[str]


class LiveSizing(QObject):
    """Connects the window's workers to its views: what each sizing and simulation shows where.

    A QObject child of the window, so Qt drops its connections when the window dies and a signal
    sent while the window's children are deleted never reaches a half-deleted view.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        window.sizer.finished.connect(self._show_sized)
        window.sizer.previewed.connect(self._show_estimate)
        window.sizer.failed.connect(self._show_failure)
        window.sizer.busy_changed.connect(self._show_busy)
        window.baseline_page.simulate_requested.connect(self.simulate_envelope)
        window.baseline_page.cancel_requested.connect(window.simulator.cancel)
        window.simulator.busy_changed.connect(window.baseline_page.set_running)
        window.simulator.progressed.connect(window.baseline_page.show_progress)
        window.simulator.finished.connect(self._show_envelope)
        window.simulator.failed.connect(self._show_simulation_failure)

    def resize(self) -> None:
        """Size the window's plan when every field holds (the older sizing is superseded); else say why not."""
        window = self.window
        plan = window.document.checked.plan
        if plan is not None:
            source = window.document.source
            window.sizer.request(lambda progress, preview: self._sized(plan, source, progress, preview))
        else:
            window.sizer.cancel()
            window.state_label.setText(f"{len(window.document.checked.problems)} field problem(s): not sized")

    def show_states(self) -> None:
        """Mark each step: not started, complete, warnings (a finding points at its fields) or errors."""
        window = self.window
        report, document = window.report, window.document
        warned = set()
        if report is not None:
            for f in report.validation.findings:
                where = finding_field(f.rule_id, f.evidence)
                step = step_of(where) if where else None
                if step and f.severity in ("error", "warning"):
                    warned.add(step.number)
        states = {s.number: step_state(s, document.data, document.checked, warned) for s in STEPS}
        if report is None:
            states[6] = states[11] = StepState.NOT_STARTED
        elif report.sizing.best is None:
            states[6] = states[11] = StepState.ERRORS
        window.navigator.show_states(states)

    def simulate_envelope(self) -> None:
        """Simulate the chosen deployment's envelope off the UI thread (cancellable)."""
        window = self.window
        plan = window.document.checked.plan
        if plan is None:
            window.error("Nothing to simulate", "Fix the fields marked in red first.")
            return
        session, source, backend = window.session, window.document.source, window.backend
        window.simulator.request(
            lambda progress, _preview: workflows.envelope(session, plan, source, backend=backend, progress=progress)
        )

    def _sized(self, plan: Plan, source: str, progress: workflows.Progress, preview: Callable[[object], None]) -> Sized:
        """Size and check ``plan`` on the worker thread (under the worker's simulation budget, the
        command line's).

        The sizing's search by estimate is shown as soon as it is ranked (``preview``); the simulation
        that settles the replicas, and the rules, follow.
        """
        window = self.window
        report = workflows.plan(
            window.session, plan, source, backend=window.backend, progress=progress, on_estimate=preview
        )
        return Sized(report, list(workflows.active_budget().stops))

    def _show_estimate(self, search: workflows.SearchReport) -> None:
        window = self.window
        plan = window.document.checked.plan
        best = search.ranked[0] if search.ranked else None
        if best is None or plan is None:
            return
        window.sizing_page.capacity.show_estimate(best)
        window.sizing_page.performance.show_estimate(best, plan.slo)
        window.fleet.show_estimate(search)
        window.decision_page.fleet.show_estimate(search)
        window.decision_page.model.set_candidates(search.ranked)
        window.state_label.setText("estimate shown; simulating...")
        window.estimated.emit(search)

    def _show_sized(self, sized: Sized) -> None:
        if sized.stops:
            self.window.statusBar().showMessage("simulation stopped early: " + "; ".join(sized.stops), 15_000)
        self._show_report(sized.report)

    def _show_report(self, report: workflows.PlanReport) -> None:
        window = self.window
        window.report = report
        window.sizing_page.show_report(report)
        window.decision_page.show_report(report)
        window.measured.show_predicted(report)
        window.fleet.show_report(report)
        window.findings.show_findings(report.validation.findings)
        self.show_states()
        if window.pending_revision is not None and window.project:
            message, window.pending_revision = window.pending_revision, None
            window.projects.save_revision(message)
        window.sized.emit(report)

    def _show_busy(self, busy: bool) -> None:
        self.window.state_label.setText("sizing..." if busy else "up to date")

    def _show_failure(self, message: str) -> None:
        self.window.report = None
        self.window.state_label.setText("sizing failed")
        self.window.error("The plan cannot be sized", message)

    def _show_envelope(self, report: workflows.EnvelopeReport) -> None:
        plan = self.window.document.checked.plan
        self.window.baseline_page.show_envelope(report, plan.slo.e2e_ms if plan else None)

    def _show_simulation_failure(self, message: str) -> None:
        self.window.error("The simulation failed", message)
