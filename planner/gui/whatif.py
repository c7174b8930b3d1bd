"""Simulations on demand of the chosen fleet: with its spares down, and split into prefill and decode
pools against aggregated serving (``planner simulate --failure`` and ``--disaggregated``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from planner import workflows
from planner.gui.plan_actions import PlanActionPanel, PlanSource


def failure_text(report: workflows.SimulationReport) -> str:
    """The fleet all up and with its spares down: replicas, TTFT and ITL percentiles, SLOs met."""
    failure = report.failure or {}
    lines = [f"{report.deployment}, {report.decision.spares} spare(s) of {report.decision.replicas} replicas"]
    for case, title in (("all_up", "all up"), ("spares_down", "spares down")):
        run = failure.get(case)
        if run:
            ttft, itl = run["ttft_ms"], run["itl_ms"]
            latency = f"TTFT p50/p95/p99 {ttft['p50']:,.0f}/{ttft['p95']:,.0f}/{ttft['p99']:,.0f} ms"
            lines.append(f"{title}: {run['replicas']} replicas, {latency}, ITL p95 {itl['p95']:,.1f} ms, "
                         f"meets the SLOs: {run['meets_slo']}")  # fmt: skip
    survives = failure.get("survives_failure")
    lines.append(
        "The fleet survives losing its spares." if survives else "The fleet misses the SLOs with its spares down."
    )
    return "\n".join(lines)


def disaggregation_text(report: workflows.SimulationReport) -> str:
    """Which split of the same GPUs wins against aggregated serving, and by how much."""
    compared = report.disaggregation
    if compared is None:
        return f"{report.deployment}: the plan is not loaded in open loop, so no split was compared"
    best = compared.best
    lines = [f"{report.deployment}: {compared.verdict}",
             f"aggregated goodput per GPU: {compared.aggregated_goodput_per_gpu:,.3f} req/s"]  # fmt: skip
    if best is not None:
        lines.append("best split: " + ", ".join(f"{k} {v}" for k, v in best.items() if not isinstance(v, (dict, list))))
    lines.append(f"{len(compared.splits)} split(s) simulated")
    return "\n".join(lines)


class WhatIfPanel(PlanActionPanel):
    """Runs one what-if simulation at a time on its own worker, with a busy bar and Cancel."""

    failure_title = "The simulation failed"

    def __init__(self, session: workflows.Session, backend: str | None, plan_input: PlanSource,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(session, backend, plan_input, parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.failure_button = QPushButton("Simulate with the spares down")
        self.failure_button.setObjectName("simulate-failure")
        self.split_button = QPushButton("Compare prefill/decode splits")
        self.split_button.setObjectName("simulate-disaggregation")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancel-what-if")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        row.addWidget(self.failure_button)
        row.addWidget(self.split_button)
        layout.addLayout(row)
        running = QHBoxLayout()  # a row of its own: the tab fits beside the navigator on a small screen
        running.addWidget(self.cancel)
        running.addWidget(self.progress, 1)
        layout.addLayout(running)
        self.result = QLabel("Each simulation runs the fleet the plan chose; it can take a while.")
        self.result.setObjectName("what-if-result")
        self.result.setWordWrap(True)
        layout.addWidget(self.result, 1)
        self.failure_button.clicked.connect(lambda: self._run(failure=True))
        self.split_button.clicked.connect(lambda: self._run(disaggregated=True))
        self.cancel.clicked.connect(self._cancel)
        self.runner.busy_changed.connect(self._set_running)
        self.runner.finished.connect(self._show)

    def _run(self, *, failure: bool = False, disaggregated: bool = False) -> None:
        given = self.plan_input()
        if given is None:
            return
        session, request = self.session, workflows.SimulationRequest(failure=failure, backend=self.backend)
        action: Any = workflows.compare_disaggregation if disaggregated else workflows.simulate
        self.result.setText("simulating...")
        self.runner.request(lambda _progress, _preview: action(session, given.plan, given.source, request))

    def _set_running(self, running: bool) -> None:
        self.failure_button.setEnabled(not running)
        self.split_button.setEnabled(not running)
        self.cancel.setEnabled(running)
        self.progress.setRange(0, 0 if running else 1)  # busy: the simulator does not count its steps ahead

    def _cancel(self) -> None:
        self.runner.cancel()  # the simulation stops at its budget's next check
        self.result.setText("Cancelled: nothing shown.")

    def _show(self, report: workflows.SimulationReport) -> None:
        self.result.setText(disaggregation_text(report) if report.failure is None else failure_text(report))
