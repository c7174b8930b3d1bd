"""The TensorRT-LLM runtime, from ``catalogs/runtimes/trtllm.yaml``."""

from __future__ import annotations

from typing import Any

from planner import hookimpl
from planner.catalogfiles import load_entries


@hookimpl
def planner_runtimes() -> list[dict[str, Any]]:
    """Return TensorRT-LLM: parallelism, dtypes, knobs with defaults, KV budget rule."""
    return load_entries("runtimes/trtllm.yaml")
