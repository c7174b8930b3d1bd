"""The Plugins page shows the hook API each plugin was written for, and a mismatch as a problem."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QTableWidget

from planner import hookimpl, workflows
from planner.catalog import build_catalog
from planner.gui.pages import PluginsPage


class _OldVendor:
    PLANNER_HOOK_API = "0"

    @hookimpl
    def planner_gpus(self) -> list[Any]:
        return []


def test_the_plugins_page_shows_the_hook_api_and_a_mismatch(planner_make_host: Any, qtbot: Any) -> None:
    host = planner_make_host(("old", _OldVendor()))
    page = PluginsPage(workflows.plugin_report(workflows.Session(host, build_catalog(host))))
    qtbot.addWidget(page)
    table = page.findChild(QTableWidget, "plugins")
    headers = [table.horizontalHeaderItem(i).text() for i in range(table.columnCount())]
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert table.item(rows["old"], headers.index("hook API")).text() == "0"
    assert table.item(rows["nvidia"], headers.index("hook API")).text() == "1"
    assert "written for hook API 0" in table.item(rows["old"], headers.index("problems")).text()
