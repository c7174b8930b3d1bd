"""Models the user imported with ``planner model import``, from their planner folder.

An unreadable file is reported (as a warning, which the plugin manager shows as a
problem of this plugin) and the other files still load.
"""

from __future__ import annotations

import warnings
from typing import Any

from planner import hookimpl
from planner.errors import InputError
from planner.inputfiles import read_document
from planner.paths import user_models_dir


@hookimpl
def planner_models() -> list[dict[str, Any]]:
    """Return the model specs stored as JSON files in the user's ``models`` folder."""
    folder = user_models_dir()
    if not folder.is_dir():
        return []
    specs = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = read_document(path)
        except InputError as exc:
            warnings.warn(f"skipped {exc.render()}; re-run `planner model import` or delete the file", stacklevel=1)
            continue
        if not isinstance(data, dict):
            warnings.warn(f"skipped {path}: not a JSON object", stacklevel=1)
            continue
        specs.append(data)
    return specs
