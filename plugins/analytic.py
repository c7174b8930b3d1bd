"""The built-in performance model: a roofline with calibrated efficiency factors."""

from __future__ import annotations

from planner import hookimpl
from planner.perfmodel import PerformanceModel
from planner.performance_models import BUILTIN


@hookimpl
def planner_performance_models() -> list[PerformanceModel]:
    """Return the built-in analytic model (named ``builtin``)."""
    return [BUILTIN]
