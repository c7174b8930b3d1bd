"""What the app keeps between runs (window state, recent files, the autosave) and the pick lists' figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from planner import workflows
from planner.paths import user_home


def settings() -> QSettings:
    """The app's settings (window state, recent files), kept beside the planner's own files."""
    return QSettings(str(user_home() / "gui.ini"), QSettings.Format.IniFormat)


def remember(key: str, value: str, keep: int = 8) -> list[str]:
    """Put ``value`` first in the list of recent ones kept under ``key`` (no repeats, the newest ``keep``)."""
    store = settings()
    recent = [value] + [v for v in as_list(store.value(key)) if v != value]
    store.setValue(key, recent[:keep])
    return recent[:keep]


def autosave_path() -> Path:
    """Where every edit is written at once, so a crash loses at most the last one."""
    return user_home() / "autosave.json"


def key_figures(session: workflows.Session) -> dict[str, list[tuple[str, str]]]:
    """Each pick list's ids with the figures a planner chooses by."""

    def gpu(s: Any) -> str:
        fp8 = s.dense_tflops.get("fp8")
        return f"{s.hbm_gib:,.0f} GiB, {s.hbm_tb_s:,.2f} TB/s" + (f", fp8 {fp8:,.0f} TFLOP/s" if fp8 else "")

    def model(s: Any) -> str:
        return f"{s.total_params / 1e9:,.0f}B params, {s.max_context:,} context, {s.license}"

    def named(s: Any) -> str:
        return str(s.name)

    describe = {"gpus": gpu, "models": model, "runtimes": named, "stacks": named}
    return {
        kind: [(e.spec.id, describe[kind](e.spec)) for e in workflows.catalog_entries(session, kind)]
        for kind in describe
    }


def as_list(value: object) -> list[str]:
    """A settings value read back as a list of strings (one value comes back bare)."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
