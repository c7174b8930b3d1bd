"""Line charts as inline SVG, built by hand: the decision record draws predicted against measured
envelopes without a plotting library, a network or a script.

A chart is a list of :class:`Series` on shared axes: lines (a predicted curve), points (measured
runs), error bars (the predicted band at a measured load) and horizontal target lines (an SLO).
The x axis turns logarithmic when the loads span a factor of ten or more, so a sweep of 1 to 256
users spreads evenly. Every text is escaped; the SVG carries a ``<title>`` and ``<desc>`` so a
screen reader, and a printed page, say what it shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Literal

#: Colours that stay apart in print and for the common colour-vision deficiencies (Okabe-Ito).
PREDICTED_COLOUR = "#0072B2"
MEASURED_COLOUR = "#D55E00"
TARGET_COLOUR = "#009E73"

_WIDTH, _HEIGHT = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 44


@dataclass(frozen=True)
class Series:
    """One thing drawn on a chart.

    :param kind: ``line`` joins the points, ``points`` marks each one, ``bars`` draws each
        (x, low, high) as an error bar, ``target`` a horizontal line at ``points[0][1]``.
    :param points: (x, y) pairs; for ``bars``, ``lows`` and ``highs`` give each bar's ends.
    """

    name: str
    kind: Literal["line", "points", "bars", "target"]
    colour: str
    points: Sequence[tuple[float, float]]
    lows: Sequence[float] = field(default_factory=tuple)
    highs: Sequence[float] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Axes:
    """The data ranges and how they map onto the plotting area."""

    x_min: float
    x_max: float
    y_max: float
    log_x: bool

    def x(self, value: float) -> float:
        span_px = _WIDTH - _LEFT - _RIGHT
        if self.log_x:
            share = (math.log10(value) - math.log10(self.x_min)) / (math.log10(self.x_max) - math.log10(self.x_min))
        else:
            share = (value - self.x_min) / (self.x_max - self.x_min)
        return _LEFT + share * span_px

    def y(self, value: float) -> float:
        return _HEIGHT - _BOTTOM - value / self.y_max * (_HEIGHT - _TOP - _BOTTOM)


def line_chart(title: str, x_label: str, y_label: str, series: Sequence[Series], *, log_x: bool | None = None) -> str:
    """An SVG chart of ``series`` with axes, ticks, a legend and a text description; ``""`` when
    no series has a point to draw.

    :param log_x: a logarithmic x axis (default: when the x values span a factor of ten or more).
    """
    drawn = [s for s in series if s.points]
    data = [s for s in drawn if s.kind != "target"]
    if not data:
        return ""
    axes = _axes(drawn, log_x)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" '
        f'height="{_HEIGHT}" role="img" class="chart">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_description(title, x_label, y_label, drawn))}</desc>",
        '<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
        *_grid(axes, x_label, y_label),
    ]
    for s in drawn:
        parts += _draw(s, axes)
    parts += _legend(drawn)
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(series: Sequence[Series], log_x: bool | None) -> _Axes:
    xs = [x for s in series if s.kind != "target" for x, _ in s.points if x > 0]
    ys = [y for s in series for _, y in s.points] + [h for s in series for h in s.highs]
    x_min, x_max = (min(xs), max(xs)) if xs else (1.0, 2.0)
    if log_x is None:
        log_x = x_min > 0 and x_max / x_min >= 10
    if x_max == x_min:
        x_min, x_max = (x_min / 2, x_max * 1.5) if log_x or x_min > 0 else (x_min - 1, x_max + 1)
    elif log_x:  # a margin, so the first and last points do not sit on the axes
        x_min, x_max = x_min / 1.15, x_max * 1.15
    else:
        margin = (x_max - x_min) * 0.04
        x_min, x_max = (max(x_min - margin, 0.0) if x_min >= 0 else x_min - margin), x_max + margin
    y_max = max([y for y in ys if math.isfinite(y)] + [1e-9]) * 1.1
    return _Axes(x_min, x_max, _nice_ceiling(y_max), log_x)


def _nice_ceiling(value: float) -> float:
    """The next 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value))


def _x_ticks(axes: _Axes) -> list[float]:
    if axes.log_x:
        low, high = math.floor(math.log10(axes.x_min)), math.ceil(math.log10(axes.x_max))
        ticks = [m * 10**e for e in range(low, high + 1) for m in (1, 2, 5)]
        return [t for t in ticks if axes.x_min <= t <= axes.x_max] or [axes.x_min, axes.x_max]
    step = _nice_ceiling((axes.x_max - axes.x_min) / 5)
    first = math.ceil(axes.x_min / step) * step
    return [first + i * step for i in range(int((axes.x_max - first) / step) + 1)]


def _label(value: float) -> str:
    """A tick label: 1.5M for millions, 12k for thousands, no trailing zeros."""
    if abs(value) >= 1_000_000:
        return f"{value / 1e6:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.4g}"


def _grid(axes: _Axes, x_label: str, y_label: str) -> list[str]:
    bottom, right = _HEIGHT - _BOTTOM, _WIDTH - _RIGHT
    parts = ['<g font-family="sans-serif" font-size="11" fill="#333333" stroke-width="1">']
    for i in range(6):
        value = axes.y_max * i / 5
        y = axes.y(value)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#dddddd"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(value)}</text>')
    for value in _x_ticks(axes):
        x = axes.x(value)
        parts.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#eeeeee"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{_label(value)}</text>')
    parts.append(f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333333"/>')
    parts.append(f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="#333333"/>')
    scale = " (log scale)" if axes.log_x else ""
    parts.append(
        f'<text x="{(_LEFT + right) / 2}" y="{_HEIGHT - 6}" text-anchor="middle">{escape(x_label)}{scale}</text>'
    )
    parts.append(
        f'<text x="14" y="{(_TOP + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(_TOP + bottom) / 2})">{escape(y_label)}</text>'
    )
    parts.append("</g>")
    return parts


def _draw(s: Series, axes: _Axes) -> list[str]:
    name = f"<title>{escape(s.name)}</title>"
    if s.kind == "target":
        y = axes.y(s.points[0][1])
        return [
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}" stroke="{s.colour}" '
            f'stroke-width="1.5" stroke-dasharray="6 4">{name}</line>'
        ]
    if s.kind == "line":
        path = " ".join(f"{axes.x(x):.1f},{axes.y(y):.1f}" for x, y in sorted(s.points) if x > 0 or not axes.log_x)
        return [f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2">{name}</polyline>']
    if s.kind == "bars":
        out = []
        for (x, _), low, high in zip(s.points, s.lows, s.highs, strict=True):
            px, top, bottom = axes.x(x), axes.y(high), axes.y(low)
            out.append(
                f'<path d="M{px - 4:.1f},{top:.1f}H{px + 4:.1f}M{px:.1f},{top:.1f}V{bottom:.1f}'
                f'M{px - 4:.1f},{bottom:.1f}H{px + 4:.1f}" stroke="{s.colour}" stroke-width="1.5" fill="none">'
                f"{name}</path>"
            )
        return out
    return [
        f'<circle cx="{axes.x(x):.1f}" cy="{axes.y(y):.1f}" r="4" fill="{s.colour}">{name}</circle>'
        for x, y in s.points
        if x > 0 or not axes.log_x
    ]


def _legend(series: Sequence[Series]) -> list[str]:
    parts = ['<g font-family="sans-serif" font-size="11" fill="#333333">']
    x = _LEFT
    for s in series:
        mark = (
            f'<circle cx="{x + 6}" cy="14" r="4" fill="{s.colour}"/>'
            if s.kind == "points"
            else f'<line x1="{x}" y1="14" x2="{x + 14}" y2="14" stroke="{s.colour}" stroke-width="2"'
            + (' stroke-dasharray="4 2"' if s.kind in ("target", "bars") else "")
            + "/>"
        )
        parts.append(f'{mark}<text x="{x + 18}" y="18">{escape(s.name)}</text>')
        x += 24 + 6 * len(s.name)
    parts.append("</g>")
    return parts


def _description(title: str, x_label: str, y_label: str, series: Sequence[Series]) -> str:
    """What the chart shows in words: each series with its points."""
    lines = [f"{title}: {y_label} against {x_label}."]
    for s in series:
        if s.kind == "target":
            lines.append(f"{s.name}: {s.points[0][1]:,.4g}.")
        else:
            lines.append(f"{s.name}: " + ", ".join(f"{x:,.4g} -> {y:,.4g}" for x, y in s.points) + ".")
    return " ".join(lines)
