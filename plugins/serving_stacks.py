"""Serving stacks (plain runtime server, KServe, llm-d, Dynamo, Ray Serve)."""

from __future__ import annotations

from typing import Any

from planner import hookimpl
from planner.catalogfiles import load_entries


@hookimpl
def planner_serving_stacks() -> list[dict[str, Any]]:
    """Return the serving stacks of ``catalogs/stacks/stacks.yaml``."""
    return load_entries("stacks/stacks.yaml")
