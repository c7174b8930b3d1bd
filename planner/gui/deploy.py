"""Step 9's configuration: the chosen deployment written for an engine or platform into a folder,
and a folder's configuration checked against the plan (``planner deploy`` and ``check-config``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from planner import workflows
from planner.gui.plan_actions import PlanActionPanel, PlanSource

CHECK_COLUMNS = ("severity", "what", "configuration", "plan", "why")


class DeployPanel(PlanActionPanel):
    """Writes and checks deployment configurations on a worker thread (the plan is sized first).

    ``failed(title, message)`` carries an error for the window's dialog.
    """

    failure_title = "The configuration step failed"
    written = Signal(object)
    checked = Signal(object)

    def __init__(self, session: workflows.Session, backend: str | None, plan_input: PlanSource,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(session, backend, plan_input, parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.target = QComboBox()
        self.target.setObjectName("deploy-target")
        self.target.addItems(list(workflows.DEPLOY_TARGETS))
        self.folder = QLineEdit()
        self.folder.setObjectName("deploy-folder")
        self.folder.setPlaceholderText("folder to write the configuration into, or to check")
        self.image = QLineEdit()
        self.image.setObjectName("deploy-image")
        self.image.setPlaceholderText("engine image (default: the public one for the version and GPU vendor)")
        browse = QPushButton("Choose...")
        browse.clicked.connect(self._choose_folder)
        for label, widget in (("Target:", self.target), ("Folder:", self.folder)):
            row.addWidget(QLabel(label))
            row.addWidget(widget, 1 if widget is self.folder else 0)
        row.addWidget(browse)
        layout.addLayout(row)
        layout.addWidget(self.image)
        actions = QHBoxLayout()
        self.write_button = QPushButton("Write the configuration")
        self.write_button.setObjectName("deploy-write")
        self.check_button = QPushButton("Check the folder against the plan")
        self.check_button.setObjectName("deploy-check")
        self.progress = QProgressBar()
        actions.addWidget(self.write_button)
        actions.addWidget(self.check_button)
        actions.addWidget(self.progress)
        layout.addLayout(actions)
        self.status = QLabel()
        self.status.setObjectName("deploy-status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.files = QListWidget()
        self.files.setObjectName("deploy-files")
        layout.addWidget(self.files)
        self.check = QTableWidget(0, len(CHECK_COLUMNS))
        self.check.setObjectName("config-check")
        self.check.setHorizontalHeaderLabels(list(CHECK_COLUMNS))
        self.check.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.check, 1)
        self.write_button.clicked.connect(self.write)
        self.check_button.clicked.connect(self.check_folder)
        self.runner.busy_changed.connect(self._set_running)
        self.runner.progressed.connect(lambda done, total, message: self.progress.setFormat(f"{message} ({done})"))
        self.runner.finished.connect(self._show)

    def write(self) -> None:
        """Size the plan and write the chosen target's files into the folder."""
        given, out = self.plan_input(), self._folder()
        if given is None or out is None:
            return
        target, image = self.target.currentText(), self.image.text().strip() or None
        session, backend = self.session, self.backend
        self.runner.request(
            lambda progress, _preview: workflows.deploy(session, given, target, out, image=image, backend=backend,
                                                        progress=progress)
        )  # fmt: skip

    def check_folder(self) -> None:
        """Size the plan and list where the folder's configuration disagrees with it."""
        given, folder = self.plan_input(), self._folder()
        if given is None or folder is None:
            return
        session, backend = self.session, self.backend
        self.runner.request(
            lambda progress, _preview: workflows.check_config(session, given, folder, backend=backend,
                                                              progress=progress)
        )  # fmt: skip

    def _folder(self) -> Path | None:
        text = self.folder.text().strip()
        if not text:
            self.failed.emit("No folder", "Choose the folder to write the configuration into, or to check.")
            return None
        return Path(text).expanduser()

    def _choose_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Configuration folder", self.folder.text())
        if name:
            self.folder.setText(name)

    def _set_running(self, running: bool) -> None:
        self.write_button.setEnabled(not running)
        self.check_button.setEnabled(not running)
        self.progress.setRange(0, 0 if running else 1)  # busy indicator: the steps are not counted ahead

    def _show(self, result: object) -> None:
        if isinstance(result, workflows.DeployReport):
            self._show_written(result)
        elif isinstance(result, workflows.ConfigCheck):
            self._show_check(result)

    def _show_written(self, report: workflows.DeployReport) -> None:
        self.files.clear()
        self.files.addItems(sorted(report.files))
        v = report.values
        self.status.setText(f"{report.target}: {len(report.files)} files written to {report.out} for "
                            f"{v.fleet_text()}")  # fmt: skip
        self.written.emit(report)

    def _show_check(self, report: workflows.ConfigCheck) -> None:
        rows = [(d.severity, d.what, d.config, d.plan, d.why) for d in report.disagreements]
        rows += [(f.severity, f.rule_id, "", "", f.message) for f in report.findings]
        self.check.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                self.check.setItem(r, c, QTableWidgetItem("" if value is None else str(value)))
        self.check.resizeColumnsToContents()
        verdict = "agrees with the plan" if report.agrees else "disagrees with the plan"
        self.status.setText(f"{report.file} ({report.target}) in {report.folder} {verdict}: {len(rows)} remark(s)")
        self.checked.emit(report)
