"""What a chart shows, Qt-free: view-models describe charts with these, :mod:`planner.gui.charts` draws them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bars:
    """One horizontal bar split in named segments (memory per GPU)."""

    title: str
    category: str
    segments: list[tuple[str, float]]
    unit: str


@dataclass(frozen=True)
class Line:
    """A named series of (x, y) points."""

    name: str
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Marker:
    """A threshold drawn across the chart: horizontal at ``y`` or vertical at ``x``."""

    name: str
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True)
class Curves:
    """Lines over a numeric x axis, an optional band between two lines, and thresholds."""

    title: str
    x_title: str
    y_title: str
    lines: list[Line]
    band: tuple[Line, Line] | None = None
    markers: list[Marker] = field(default_factory=list)
