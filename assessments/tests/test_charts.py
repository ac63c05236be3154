"""The SVG trend chart: pure functions, so no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree

from assessments.charts import Frame, Series, daily_last, data_table, date_ticks, line_chart, percent, summarise

SVG = "{http://www.w3.org/2000/svg}"
START, END = date(2026, 8, 24), date(2026, 11, 22)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def texts(root: ElementTree.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def polyline_points(root: ElementTree.Element) -> list[tuple[float, float]]:
    (line,) = root.iter(f"{SVG}polyline")
    return [tuple(float(n) for n in pair.split(",")) for pair in line.get("points").split()]  # type: ignore[misc]


def test_frame_maps_percentages_onto_the_plot_height():
    frame = Frame(width=360, height=150, start=START, end=END)

    assert frame.y(100) == frame.top
    assert frame.y(0) == frame.baseline
    assert frame.y(50) == frame.top + frame.plot_height / 2
    # Out-of-range values are clamped to the axes rather than drawn outside them.
    assert frame.y(130) == frame.y(100)
    assert frame.y(-5) == frame.y(0)


def test_frame_maps_dates_onto_the_plot_width():
    frame = Frame(width=360, height=150, start=START, end=END)

    assert frame.x(START) == frame.left
    assert frame.x(END) == frame.left + frame.plot_width
    assert frame.x(date(2026, 10, 8)) == round(frame.left + frame.plot_width * 45 / 90, 1)


def test_chart_draws_the_points_where_the_frame_puts_them():
    points = [(START, 20), (date(2026, 10, 8), Decimal("55.5")), (END, 90)]
    root = parse(line_chart([Series("Cyber Essentials", points)], title="Trend", start=START, end=END))
    frame = Frame(width=360, height=150, start=START, end=END)

    assert polyline_points(root) == [(frame.x(day), frame.y(value)) for day, value in points]
    assert len(list(root.iter(f"{SVG}circle"))) == 3  # few points: each one marked


def test_chart_has_axes_from_0_to_100_percent_band_guides_and_short_date_labels():
    root = parse(line_chart([Series("ISO 27001", [(START, 10), (END, 60)])], title="Trend"))

    labels = texts(root)
    assert [label for label in labels if label.endswith("%")] == ["0%", "50%", "80%", "100%"]
    assert "24 Aug" in labels
    assert "22 Nov" in labels
    guides = [line for line in root.iter(f"{SVG}line") if "chart-guide" in (line.get("class") or "")]
    assert [float(line.get("y1")) for line in guides] == [  # type: ignore[arg-type]
        Frame(width=360, height=150, start=START, end=END).y(value) for value in (50, 80)
    ]


def test_chart_is_an_accessible_image_with_title_and_description():
    root = parse(line_chart([Series("UK GDPR", [(START, 40), (END, 70)])], title="UK GDPR readiness", chart_id="gdpr"))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "gdpr-title gdpr-desc"
    assert root.find(f"{SVG}title").text == "UK GDPR readiness"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == (  # type: ignore[union-attr]
        "UK GDPR: from 40% on 24 August 2026 to 70% on 22 November 2026 (up 30 points)."
    )
    assert "style" not in line_chart([Series("UK GDPR", [(START, 40)])], title="t")


def test_single_point_is_a_dot_in_the_middle_without_a_line():
    root = parse(line_chart([Series("SOC 2", [(END, 42.5)])], title="Trend"))

    assert list(root.iter(f"{SVG}polyline")) == []
    (dot,) = root.iter(f"{SVG}circle")
    frame = Frame(width=360, height=150, start=END, end=END)
    assert (float(dot.get("cx")), float(dot.get("cy"))) == (frame.left + frame.plot_width / 2, frame.y(42.5))  # type: ignore[arg-type]
    assert "22 Nov" in texts(root)


def test_empty_data_draws_the_axes_and_says_nothing_is_recorded():
    root = parse(line_chart([], title="Trend", start=START, end=END))

    assert list(root.iter(f"{SVG}polyline")) == []
    assert list(root.iter(f"{SVG}circle")) == []
    assert "Nothing recorded yet" in texts(root)
    assert "100%" in texts(root)


def test_long_series_marks_only_the_latest_point():
    points = [(date.fromordinal(START.toordinal() + day), day % 100) for day in range(91)]
    root = parse(line_chart([Series("PCI DSS", points)], title="Trend"))

    assert len(polyline_points(root)) == 91
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_labels_titles_and_names_are_escaped():
    hostile = '<script>alert("x")</script> & Co'
    svg = line_chart([Series(hostile, [(START, 10), (END, 20)])], title=hostile, description=hostile)
    table = data_table([Series(hostile, [(START, 10)])], caption=hostile)

    assert "<script>" not in svg
    assert "<script>" not in table
    root = parse(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == hostile  # type: ignore[union-attr]
    assert "&lt;script&gt;" in table


def test_chart_id_is_made_safe_for_id_references():
    svg = line_chart([], title="Trend", chart_id="trend-nist-csf-2.0 <x>")

    assert 'aria-labelledby="trend-nist-csf-2-0-x-title trend-nist-csf-2-0-x-desc"' in svg


def test_data_table_has_a_row_per_date_and_a_column_per_series():
    table = data_table(
        [Series("Overall", [(START, 10), (END, Decimal("62.5"))]), Series("SOC 2", [(END, 80)])],
        caption="Readiness",
    )

    root = parse(table)
    assert root.get("class") == "visually-hidden"
    assert root[0].tag == "table"
    rows = [[cell.text for cell in row] for row in root.iter("tr")]
    assert rows == [["Date", "Overall", "SOC 2"], ["24 August 2026", "10%", "–"], ["22 November 2026", "62.5%", "80%"]]


def test_daily_last_keeps_the_last_value_of_each_day():
    points = [
        (datetime(2026, 11, 20, 9, tzinfo=UTC), 10),
        (datetime(2026, 11, 20, 12, tzinfo=UTC), 20),
        (datetime(2026, 11, 20, 17, tzinfo=UTC), 30),
        (datetime(2026, 11, 21, 9, tzinfo=UTC), 40),
    ]

    assert daily_last(points) == [(date(2026, 11, 20), 30), (date(2026, 11, 21), 40)]


def test_daily_last_reads_days_in_uk_time():
    # 23:30 UTC on 20 June is 00:30 on 21 June in London (British Summer Time).
    points = [(datetime(2026, 6, 20, 22, tzinfo=UTC), 10), (datetime(2026, 6, 20, 23, 30, tzinfo=UTC), 20)]

    assert daily_last(points) == [(date(2026, 6, 20), 10), (date(2026, 6, 21), 20)]


def test_date_ticks_are_spread_and_never_repeat():
    assert date_ticks(START, END) == [START, date(2026, 9, 23), date(2026, 10, 23), END]
    assert date_ticks(END, END) == [END]
    assert date_ticks(date(2026, 11, 21), END) == [date(2026, 11, 21), END]


def test_summary_reads_each_series_in_words():
    summary = summarise([Series("A", [(START, 50), (END, 40)]), Series("B", []), Series("C", [(END, 80)])])

    assert summary == (
        "A: from 50% on 24 August 2026 to 40% on 22 November 2026 (down 10 points). "
        "B: nothing recorded yet. C: 80% on 22 November 2026."
    )
    assert percent(Decimal("80.0")) == "80%"
