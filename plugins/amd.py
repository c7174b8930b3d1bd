"""AMD accelerators, from ``catalogs/gpus/amd.yaml``."""

from __future__ import annotations

from typing import Any

from planner import hookimpl
from planner.catalogfiles import load_entries


@hookimpl
def planner_gpus() -> list[dict[str, Any]]:
    """Return the AMD GPUs of the built-in catalog, each number with its source."""
    return load_entries("gpus/amd.yaml")
