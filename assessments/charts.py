"""Readiness over time as a server-rendered SVG line chart: no charting library, no script, no inline styles.

`line_chart` draws one or more series of (date, percentage) on fixed 0-100% axes, with guide lines
where the amber (50%) and green (80%) bands start, and a handful of date labels ("21 Nov"). Colours
come from CSS classes (`chart-*` in app.css) plus SVG presentation attributes, so the strict CSP
holds. For people who cannot see it, the SVG is `role="img"` with a `<title>` and a `<desc>` that
sums the data up, and `data_table` renders the same points as a visually hidden table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from config.formatting import long_date

Number = float | int | Decimal
GUIDES = (50, 80)  # where the amber and green bands start (assessments.scoring)
Y_TICKS = (0, 50, 80, 100)
# Markers on every point only while there are few enough to tell apart; the last point always has one.
MARKERS_UP_TO = 14


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[date, Number]]


@dataclass(frozen=True)
class Frame:
    """Where the plot sits inside the SVG, and how dates and percentages map onto it."""

    width: int
    height: int
    start: date
    end: date
    left: int = 38
    right: int = 14
    top: int = 10
    bottom: int = 24

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    @property
    def baseline(self) -> float:
        return self.top + self.plot_height

    def x(self, day: date) -> float:
        span = (self.end - self.start).days
        if span <= 0:  # a single day: the middle of the plot
            return round(self.left + self.plot_width / 2, 1)
        offset = min(max((day - self.start).days, 0), span)
        return round(self.left + self.plot_width * offset / span, 1)

    def y(self, value: Number) -> float:
        clamped = min(max(float(value), 0.0), 100.0)
        return round(self.top + self.plot_height * (1 - clamped / 100), 1)


def short_date(day: date) -> str:
    """ "21 Nov": the axis label."""
    return f"{day.day} {day:%b}"


def number(value: Number) -> str:
    """42.5 -> "42.5", 80.0 -> "80": one decimal at most, as the scores are kept."""
    return f"{float(value):.1f}".removesuffix(".0")


def percent(value: Number) -> str:
    return f"{number(value)}%"


def daily_last(points: Iterable[tuple[datetime | date, Number]]) -> list[tuple[date, Number]]:
    """One point per day, the day's last value: snapshots come in bursts, the chart shows days.

    `points` come oldest first (as `selectors.snapshots_for` returns them); datetimes are read in the
    current time zone.
    """
    by_day: dict[date, Number] = {}
    for moment, value in points:
        day = timezone.localtime(moment).date() if isinstance(moment, datetime) else moment
        by_day[day] = value
    return sorted(by_day.items())


def date_ticks(start: date, end: date, *, count: int = 4) -> list[date]:
    """Up to `count` evenly spaced dates from start to end, both included, without repeats."""
    span = (end - start).days
    if span <= 0:
        return [start]
    steps = min(count - 1, span)
    return sorted({start + timedelta(days=round(span * i / steps)) for i in range(steps + 1)})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    description: str = "",
    chart_id: str = "",
    start: date | None = None,
    end: date | None = None,
    width: int = 360,
    height: int = 150,
    empty_text: str = "Nothing recorded yet",
) -> SafeString:
    """An SVG line chart of percentages over time. Every piece of text is escaped.

    `start` and `end` fix the date axis (the dashboard shows the same 90 days for every framework);
    without them it spans the data. A series with one point is drawn as a dot.
    """
    chart_id = _slug(chart_id or title)
    days = [day for item in series for day, _value in item.points]
    start = start or (min(days) if days else timezone.localdate())
    end = end or (max(days) if days else start)
    if end < start:
        start, end = end, start
    frame = Frame(width=width, height=height, start=start, end=end)
    description = description or summarise(series)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    # Horizontal lines: the 0% axis, the band guides, and a faint 100% line.
    for tick in Y_TICKS:
        y = frame.y(tick)
        kind = "axis" if tick == 0 else "guide" if tick in GUIDES else "grid"
        line_class = f"chart-{kind}" + (f" chart-guide-{tick}" if kind == "guide" else "")
        dash = ' stroke-dasharray="4 3"' if kind == "guide" else ""
        parts.append(
            f'<line class="{line_class}" x1="{frame.left}" y1="{y}" x2="{width - frame.right}" y2="{y}"'
            f' stroke="currentColor" stroke-width="1"{dash}/>'
        )
        parts.append(
            f'<text class="chart-label" x="{frame.left - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="10" fill="currentColor">{tick}%</text>'
        )
    parts.append(
        f'<line class="chart-axis" x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.baseline}"'
        f' stroke="currentColor" stroke-width="1"/>'
    )
    ticks = date_ticks(start, end)
    for index, day in enumerate(ticks):
        anchor = "middle"
        if len(ticks) > 1:
            anchor = "start" if index == 0 else "end" if index == len(ticks) - 1 else "middle"
        parts.append(
            f'<text class="chart-label" x="{frame.x(day)}" y="{height - 6}" text-anchor="{anchor}" '
            f'font-size="10" fill="currentColor">{escape(short_date(day))}</text>'
        )

    if not days:
        parts.append(
            f'<text class="chart-empty" x="{frame.left + frame.plot_width / 2}" y="{frame.top + frame.plot_height / 2}"'
            f' text-anchor="middle" dominant-baseline="middle" font-size="12" fill="currentColor">'
            f"{escape(empty_text)}</text>"
        )
    for number, item in enumerate(series):
        points = sorted(item.points, key=lambda point: point[0])
        if not points:
            continue
        coordinates = [(frame.x(day), frame.y(value)) for day, value in points]
        group = [f'<g class="chart-series chart-series-{number % 6}">']
        if len(coordinates) > 1:
            joined = " ".join(f"{x},{y}" for x, y in coordinates)
            group.append(
                f'<polyline points="{joined}" fill="none" stroke="currentColor" stroke-width="2" '
                f'stroke-linejoin="round" stroke-linecap="round"/>'
            )
        marked = coordinates if len(coordinates) <= MARKERS_UP_TO else coordinates[-1:]
        group.extend(f'<circle cx="{x}" cy="{y}" r="3" fill="currentColor"/>' for x, y in marked)
        group.append("</g>")
        parts.extend(group)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text above is escaped


def summarise(series: Sequence[Series]) -> str:
    """One sentence per series: where it started, where it is now, and the change in points."""
    sentences = []
    for item in series:
        points = sorted(item.points, key=lambda point: point[0])
        if not points:
            sentences.append(f"{item.name}: nothing recorded yet.")
            continue
        (first_day, first), (last_day, last) = points[0], points[-1]
        if len(points) == 1 or first_day == last_day:
            sentences.append(f"{item.name}: {percent(last)} on {long_date(last_day)}.")
            continue
        change = float(last) - float(first)
        trend = "no change" if abs(change) < 0.05 else f"{'up' if change > 0 else 'down'} {number(abs(change))} points"
        sentences.append(
            f"{item.name}: from {percent(first)} on {long_date(first_day)} "
            f"to {percent(last)} on {long_date(last_day)} ({trend})."
        )
    return " ".join(sentences)


def data_table(series: Sequence[Series], *, caption: str, hidden: bool = True) -> SafeString:
    """The chart's points as a table, one row per date and a column per series, for screen readers."""
    values: dict[date, dict[int, Number]] = {}
    for number, item in enumerate(series):
        for day, value in item.points:
            values.setdefault(day, {})[number] = value
    header = "".join(f'<th scope="col">{escape(item.name)}</th>' for item in series)
    rows = []
    for day in sorted(values):
        cells = "".join(
            f"<td>{percent(values[day][number]) if number in values[day] else '–'}</td>"
            for number in range(len(series))
        )
        rows.append(f'<tr><th scope="row">{escape(long_date(day))}</th>{cells}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{len(series) + 1}">Nothing recorded yet.</td></tr>')
    table = (
        f'<table class="table"><caption>{escape(caption)}</caption>'
        f'<thead><tr><th scope="col">Date</th>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    # A table ignores a 1px width, so the hiding goes on a wrapper that clips it.
    if hidden:
        table = f'<div class="visually-hidden">{table}</div>'
    return mark_safe(table)  # noqa: S308 - names and dates are escaped, values are formatted numbers
