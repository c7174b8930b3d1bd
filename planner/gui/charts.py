"""The app's own small plotting interface, drawn with QtCharts (PySide6 Addons).

Views describe what to draw (:class:`Bars`, :class:`Curves`) and hand it to a :class:`Plot`;
only this module knows QtCharts, so Qt Graphs (its successor) can replace it here alone.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCharts import (
    QAreaSeries,
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalStackedBarSeries,
    QLineSeries,
    QScatterSeries,
    QValueAxis,
    QXYSeries,
)
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from planner.gui.charts_data import Bars, Curves, Line, Marker

__all__ = ["Bars", "Curves", "Line", "Marker", "Plot"]

#: Colours of the named segments and lines, readable on light and dark palettes.
COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#bab0ac", "#59a14f", "#edc948", "#b07aa1"]


class Plot(QChartView):
    """A chart a view fills with :meth:`show_bars` or :meth:`show_curves`; empty until then.

    The chart takes the light or dark theme of the palette, and is drawn again when the palette
    turns from one to the other (the system switched its colour scheme).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(180)
        self._drawn_dark = _dark(self)
        self._redraw: Callable[[], None] = lambda: self.clear("")
        self.clear("")

    def changeEvent(self, event: QEvent) -> None:
        """Draw the chart again in the new palette's theme when it turned light or dark."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and _dark(self) != self._drawn_dark:
            self._redraw()

    def _fresh_chart(self, title: str, redraw: Callable[[], None]) -> QChart:
        chart = QChart()
        chart.setTitle(title)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self._drawn_dark, self._redraw = _dark(self), redraw
        chart.setTheme(QChart.ChartTheme.ChartThemeDark if self._drawn_dark else QChart.ChartTheme.ChartThemeLight)
        old = self.chart()
        self.setChart(chart)
        if old is not None:
            old.deleteLater()
        return chart

    def clear(self, message: str = "") -> None:
        """Show an empty chart titled ``message`` (why there is nothing to draw)."""
        self._fresh_chart(message, lambda: self.clear(message))

    def show_bars(self, bars: Bars) -> None:
        """Draw one stacked horizontal bar."""
        chart = self._fresh_chart(bars.title, lambda: self.show_bars(bars))
        series = QHorizontalStackedBarSeries(chart)
        for i, (name, value) in enumerate(bars.segments):
            bar = QBarSet(f"{name} {value:,.1f} {bars.unit}", series)
            bar.setColor(QColor(COLOURS[i % len(COLOURS)]))
            bar.append(value)
            series.append(bar)
        chart.addSeries(series)
        axis_y = QBarCategoryAxis(chart)
        axis_y.append([bars.category])
        axis_x = QValueAxis(chart)
        axis_x.setRange(0, max(sum(v for _, v in bars.segments), 1e-9))
        axis_x.setTitleText(bars.unit)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis_x)
        series.attachAxis(axis_y)

    def show_curves(self, curves: Curves) -> None:
        """Draw lines, the band between two lines, and threshold markers on shared axes."""
        chart = self._fresh_chart(curves.title, lambda: self.show_curves(curves))
        axis_x, axis_y = QValueAxis(chart), QValueAxis(chart)
        axis_x.setTitleText(curves.x_title)
        axis_y.setTitleText(curves.y_title)
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        xs = [x for line in curves.lines for x, _ in line.points] or [0.0, 1.0]
        ys = [y for line in curves.lines for _, y in line.points]
        if curves.band:
            ys += [y for line in curves.band for _, y in line.points]
            self._add_band(chart, curves.band, axis_x, axis_y)
        for i, line in enumerate(curves.lines):
            series = _line_series(chart, line, QColor(COLOURS[i % len(COLOURS)]))
            chart.addSeries(series)
            series.attachAxis(axis_x)
            series.attachAxis(axis_y)
        ys += [m.y for m in curves.markers if m.y is not None]
        x_range = (min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1)
        y_range = (0.0, max(ys, default=1.0) * 1.1 or 1.0)
        for marker in curves.markers:
            self._add_marker(chart, marker, x_range, y_range, axis_x, axis_y)
        axis_x.setRange(*x_range)
        axis_y.setRange(*y_range)

    def _add_band(self, chart: QChart, band: tuple[Line, Line], axis_x: QValueAxis, axis_y: QValueAxis) -> None:
        lower, upper = (_boundary(chart, line) for line in band)
        area = QAreaSeries(upper, lower)
        # The area does not own its boundary series: without a parent they are collected and
        # drawing the chart crashes (reliability-and-deps.md, PySide6).
        upper.setParent(area)
        lower.setParent(area)
        area.setName(f"{band[0].name} - {band[1].name}")
        colour = QColor(COLOURS[0])
        colour.setAlpha(60)
        area.setColor(colour)
        area.setBorderColor(colour)
        chart.addSeries(area)
        area.attachAxis(axis_x)
        area.attachAxis(axis_y)

    def _add_marker(
        self,
        chart: QChart,
        marker: Marker,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        axis_x: QValueAxis,
        axis_y: QValueAxis,
    ) -> None:
        if marker.y is not None:
            points = [(x_range[0], marker.y), (x_range[1], marker.y)]
        else:
            points = [(marker.x or 0.0, y_range[0]), (marker.x or 0.0, y_range[1])]
        series = _line_series(chart, Line(marker.name, points), QColor("#e15759"))
        pen = QPen(QColor("#e15759"))
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setWidth(2)
        series.setPen(pen)
        chart.addSeries(series)
        series.attachAxis(axis_x)
        series.attachAxis(axis_y)


def _line_series(chart: QChart, line: Line, colour: QColor) -> QXYSeries:
    series = QLineSeries(chart) if len(line.points) > 1 else QScatterSeries(chart)
    series.setName(line.name)
    series.setColor(colour)
    for x, y in line.points:
        series.append(QPointF(x, y))
    return series


def _boundary(chart: QChart, line: Line) -> QLineSeries:
    series = QLineSeries(chart)
    for x, y in line.points:
        series.append(QPointF(x, y))
    return series


def _dark(widget: QWidget) -> bool:
    """True when ``widget``'s palette is dark (its window colour darker than mid-grey)."""
    return widget.palette().window().color().lightness() < 128
