"""Readiness over time as a reportlab drawing, for the PDF reports.

The same picture as the dashboard's SVG chart (assessments.charts): percentages on a fixed 0-100%
axis, dashed guides where amber (50%) and green (80%) start, and a few "21 Nov" date labels. Lines
are told apart by colour; the report prints a table naming each colour with its figures, so the chart
never carries information the text does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib.colors import Color

from assessments.charts import GUIDES, Y_TICKS, date_ticks, short_date
from assessments.reports.readiness_data import TrendSeries
from assessments.reports.styles import SERIES_COLOURS
from config.pdf import FONT, MUTED, RULE, register_fonts


def series_colour(index: int) -> Color:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def trend_chart(series: Sequence[TrendSeries], *, start: date, end: date, width: float, height: float) -> Drawing:
    """Each series' points (date, percent) as a line; the first series (overall) drawn thicker. Every
    series has at least one point: the report's trend always ends with today's score."""
    register_fonts()
    drawing = Drawing(width, height)
    span = max((end - start).days, 1)
    plot = LinePlot()
    plot.x, plot.y = 34, 20
    plot.width, plot.height = width - plot.x - 8, height - plot.y - 8
    # The x axis counts days from the start: reportlab's date axes want a locale, this needs none.
    plot.data = [[((day - start).days, value) for day, value in item.points] for item in series]
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, span
    plot.xValueAxis.valueSteps = [(day - start).days for day in date_ticks(start, end)]
    plot.xValueAxis.labelTextFormat = lambda offset: short_date(start + timedelta(days=round(offset)))
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = 0, 100
    plot.yValueAxis.valueSteps = list(Y_TICKS)
    plot.yValueAxis.labelTextFormat = "%d%%"
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName, axis.labels.fontSize, axis.labels.fillColor = FONT, 7.5, MUTED
        axis.strokeColor = RULE
    plot.yValueAxis.visibleGrid = False
    for index, item in enumerate(series):
        line = plot.lines[index]
        line.strokeColor = series_colour(index)
        line.strokeWidth = 2.2 if index == 0 else 1.2
        # A single point (a first day) is drawn as a dot: a line needs two.
        if len(item.points) == 1:
            line.symbol = makeMarker("FilledCircle", size=4, fillColor=series_colour(index))
    drawing.add(plot)
    for guide in GUIDES:
        y = plot.y + plot.height * guide / 100
        drawing.add(Line(plot.x, y, plot.x + plot.width, y, strokeColor=MUTED, strokeWidth=0.5, strokeDashArray=[3, 2]))
    return drawing
