"""Models the user imported with ``planner model import``, from their planner folder.

An unreadable file is reported (as a warning, which the plugin manager shows as a
problem of this plugin) and the other files still load.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from planner import hookimpl
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
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            warnings.warn(f"skipped {path}: {exc}; re-run `planner model import` or delete the file", stacklevel=1)
            continue
        if not isinstance(data, dict):
            warnings.warn(f"skipped {path}: not a JSON object", stacklevel=1)
            continue
        specs.append(data)
    return specs
