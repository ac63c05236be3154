"""The readiness report as an A4 PDF (reportlab platypus), written straight to a file.

Cover, executive summary (scores, bands and the trend chart), the costliest gaps, the plan, the
evidence register, policies, and an appendix with every control of every adopted framework. Every
figure comes from `ReadinessReportData`; all text reaches reportlab's paragraph markup escaped.

Progress is reported as the sections are drawn: zero-size markers in the story fire
`progress(percent, message)` when the page layout reaches them.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterator, Sequence
from typing import IO, Any

from django.core.files.storage import default_storage
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib.colors import Color
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate

from accounts.logos import inspect_logo
from assessments.charts import number, percent
from assessments.reports import Progress
from assessments.reports.charts import series_colour, trend_chart
from assessments.reports.readiness_data import (
    BAND_LABELS,
    EXPIRY_WINDOW_DAYS,
    TITLES_PER_CONTROL,
    TREND_DAYS,
    AppendixFramework,
    ControlLine,
    Listed,
    ReadinessReportData,
)
from assessments.reports.styles import BAND_COLOURS, CONTENT_LEFT, CONTENT_WIDTH, FOOTER_Y, MARGIN, PAGE_WIDTH, styles
from config.formatting import long_date
from config.pdf import ACCENT, FONT, HEADER_FILL, MUTED, RULE, paragraph_text

# A table cell: text (escaped into a paragraph) or a flowable such as a colour swatch.
type Cell = str | Flowable
# Where drawing starts and ends in the run's progress: reading the data comes before, storing after.
DRAW_FROM, DRAW_TO = 25, 95
# The box a logo is scaled into on the cover, keeping its aspect ratio.
LOGO_WIDTH, LOGO_HEIGHT = 50 * mm, 25 * mm
# Where the organisation's name sits on the cover, logo or not.
COVER_TOP = 45 * mm

logger = logging.getLogger(__name__)


def build_readiness_pdf(
    data: ReadinessReportData, out: IO[bytes], *, progress: Progress | None = None, logo: str = ""
) -> None:
    """Write the report to `out` (a file opened for binary writing).

    `logo` is the stored name of the organisation's logo (`Organisation.logo.name`), drawn on the cover.
    """
    title = f"Readiness report: {data.organisation}"
    footer = f"{data.organisation} · Readiness report · {long_date(data.generated_on)}"
    document = _ReportTemplate(
        out,
        progress=progress,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author=data.organisation,
        subject=f"Compliance readiness of {data.organisation} on {long_date(data.generated_on)}",
        creator="Greenlight",
        lang="en-GB",
        displayDocTitle=True,
    )
    document.build(
        list(_story(data, _logo(logo))), onFirstPage=_no_footer, onLaterPages=functools.partial(_footer, footer=footer)
    )


# --- The story ------------------------------------------------------------------------------------
def _story(data: ReadinessReportData, logo: Flowable | None = None) -> Iterator[Flowable]:
    yield _Progress(DRAW_FROM, "Drawing the cover")
    yield from _cover(data, logo)
    yield PageBreak()
    yield _Progress(30, "Drawing the executive summary")
    yield from _summary(data)
    yield _Progress(40, "Drawing the top gaps")
    yield from _gaps(data)
    yield _Progress(45, "Drawing the plan, evidence and policies")
    yield from _plan(data)
    yield from _evidence(data)
    yield from _policies(data)
    appendix_span = DRAW_TO - 50
    for index, framework in enumerate(data.appendix):
        yield PageBreak()
        at = 50 + appendix_span * index // max(len(data.appendix), 1)
        yield _Progress(at, f"Drawing the appendix: {framework.name}")
        yield from _appendix(framework, first=index == 0)
    if not data.appendix:
        yield PageBreak()
        yield from _appendix_empty()


def _logo(name: str) -> Flowable | None:
    """The stored logo scaled into the cover's box, or None when there is none or it cannot be read."""
    if not name:
        return None
    try:
        with default_storage.open(name, "rb") as handle:
            # The upload's checks again: a file changed or damaged in storage must not break the report.
            logo = inspect_logo(handle)
    except Exception:  # missing, unreadable or no longer a valid image: the report is built without it
        logger.warning("Skipped the unreadable logo %s on a readiness report", name, exc_info=True)
        return None
    scale = min(LOGO_WIDTH / logo.width, LOGO_HEIGHT / logo.height)
    return Image(io.BytesIO(logo.content), width=logo.width * scale, height=logo.height * scale, hAlign="LEFT")


def _cover(data: ReadinessReportData, logo: Flowable | None = None) -> Iterator[Flowable]:
    s = styles()
    if logo is None:
        yield Spacer(1, COVER_TOP)
    else:
        _width, height = logo.wrap(LOGO_WIDTH, LOGO_HEIGHT)
        yield Spacer(1, COVER_TOP - height - 6 * mm)
        yield logo
        yield Spacer(1, 6 * mm)
    yield Paragraph(paragraph_text(data.organisation), s["cover_kicker"])
    yield Paragraph("Readiness report", s["cover_title"])
    yield Paragraph(paragraph_text(long_date(data.generated_on)), s["cover_kicker"])
    yield Spacer(1, 14 * mm)
    if data.frameworks:
        band = BAND_LABELS[data.overall_band]
        yield Paragraph(f"Overall readiness {paragraph_text(percent(data.overall))}", s["cover_score"])
        yield Paragraph(
            paragraph_text(f"{band}, the average of {_count(len(data.frameworks), 'framework')}."), s["body"]
        )
        yield Spacer(1, 4 * mm)
        yield _table(
            ["Framework", "Readiness", "Band"],
            [[line.name, percent(line.percent), line.band_label] for line in data.frameworks],
            [CONTENT_WIDTH - 70 * mm, 25 * mm, 45 * mm],
            numeric=(1,),
        )
    else:
        yield Paragraph("No frameworks are adopted yet, so there is no readiness to report.", s["body"])
    yield Spacer(1, 14 * mm)
    asked = f" Asked for by {data.requested_by}." if data.requested_by else ""
    yield Paragraph(
        paragraph_text(
            f"Prepared by Greenlight from {data.organisation}'s own answers, plan, evidence and policies on "
            f"{long_date(data.generated_on)}.{asked}"
        ),
        s["note"],
    )


def _summary(data: ReadinessReportData) -> Iterator[Flowable]:
    s = styles()
    yield Paragraph("Executive summary", s["h1"])
    yield Paragraph(
        "Readiness counts each control that applies to the business, weighted by importance: implemented "
        "counts in full, partially implemented counts half, anything else counts nothing. Green starts at "
        "80%, amber at 50%. A framework would fail while a control it cannot pass without is not fully "
        "implemented, whatever its percentage. In the table, controls are those that apply to the business.",
        s["note"],
    )
    yield _figures(
        [
            (percent(data.overall), "overall readiness"),
            (str(data.gap_count), "gaps to close"),
            (str(data.plan.overdue), "overdue tasks"),
            (str(data.evidence.expiring), f"evidence items expiring within {EXPIRY_WINDOW_DAYS} days"),
            (str(data.policies.review_due), "policies due for review"),
        ]
    )
    yield Spacer(1, 4 * mm)
    if data.frameworks:
        rows = [
            [
                line.name,
                percent(line.percent),
                line.band_label,
                str(line.applicable),
                str(line.answered),
                str(line.implemented),
                "Would fail" if line.would_fail else "",
            ]
            for line in data.frameworks
        ]
        yield _table(
            ["Framework", "Readiness", "Band", "Controls", "Answered", "Implemented", "Pass"],
            rows,
            [CONTENT_WIDTH - 129 * mm, 21 * mm, 26 * mm, 18 * mm, 20 * mm, 26 * mm, 18 * mm],
            numeric=(1, 3, 4, 5),
        )
    yield from _trend(data)


def _trend(data: ReadinessReportData) -> Iterator[Flowable]:
    s = styles()
    heading = Paragraph(f"Readiness over the last {TREND_DAYS} days", s["h2"])
    if not data.frameworks:
        yield heading
        yield Paragraph("Nothing to chart until a framework is adopted.", s["note"])
        return
    chart = trend_chart(data.trend, start=data.trend_start, end=data.generated_on, width=CONTENT_WIDTH, height=56 * mm)
    rows: list[list[Cell]] = []
    for item in data.trend:
        first_day, first = item.points[0]
        last = item.points[-1][1]
        change = last - first
        rows.append(
            [
                "",
                item.name,
                f"{percent(first)} on {long_date(first_day)}",
                percent(last),
                "no change" if abs(change) < 0.05 else f"{'up' if change > 0 else 'down'} {number(abs(change))} points",
            ]
        )
    # The swatches name each line's colour: the table is the chart's legend and its data at once.
    for index, row in enumerate(rows):
        row[0] = _swatch(series_colour(index))
    table = _table(
        ["Line", "Readiness of", "First recorded", "Today", "Change"],
        rows,
        [12 * mm, CONTENT_WIDTH - 104 * mm, 45 * mm, 20 * mm, 27 * mm],
        numeric=(3, 4),
    )
    yield KeepTogether([heading, chart, Spacer(1, 3 * mm), table])


def _gaps(data: ReadinessReportData) -> Iterator[Flowable]:
    s = styles()
    yield CondPageBreak(60 * mm)
    yield Paragraph("Top gaps", s["h1"])
    if not data.gaps:
        yield Paragraph("No gaps: every control that applies is implemented.", s["body"])
        return
    shown = len(data.gaps)
    yield Paragraph(
        paragraph_text(
            f"The {_count(shown, 'gap')} that cost the most readiness, of {data.gap_count} in all. A gap that also "
            "closes mapped controls in other frameworks ranks higher; one that would fail a framework comes first."
        ),
        s["note"],
    )
    rows = [
        [
            str(position),
            gap.framework,
            gap.ref,
            gap.title,
            gap.status,
            number(gap.lost_points),
            "Would fail the framework"
            if gap.auto_fail
            else (f"Shared with {_count(gap.mapped_count, 'mapped control')}" if gap.mapped_count else ""),
        ]
        for position, gap in enumerate(data.gaps, start=1)
    ]
    yield _table(
        ["#", "Framework", "Ref", "Control", "Status", "Points lost", "Note"],
        rows,
        [7 * mm, 28 * mm, 16 * mm, CONTENT_WIDTH - 117 * mm, 24 * mm, 15 * mm, 27 * mm],
        numeric=(0, 5),
    )


def _plan(data: ReadinessReportData) -> Iterator[Flowable]:
    s = styles()
    plan = data.plan
    yield CondPageBreak(50 * mm)
    yield Paragraph("Implementation plan", s["h1"])
    if not plan.total:
        yield Paragraph("There is no plan yet: it is built from the gaps on the plan page.", s["body"])
        return
    yield _figures(
        [
            (str(plan.total), "tasks in the plan"),
            *((str(count), label.lower()) for label, count in plan.by_status),
            (str(plan.overdue), "overdue"),
            (str(plan.due_soon), "due in the next 14 days"),
        ]
    )
    yield from _listed("Overdue tasks", plan.overdue_tasks, plan.overdue, "Due", "No task is overdue.")


def _evidence(data: ReadinessReportData) -> Iterator[Flowable]:
    s = styles()
    evidence = data.evidence
    yield CondPageBreak(50 * mm)
    yield Paragraph("Evidence register", s["h1"])
    if not evidence.total:
        yield Paragraph("No evidence is held yet.", s["body"])
        return
    yield _figures(
        [
            (str(evidence.total), "items held"),
            (str(evidence.current), "current (submitted or accepted, in date)"),
            (str(evidence.expiring), f"expiring within {EXPIRY_WINDOW_DAYS} days"),
            (str(evidence.expired), "past their valid-until date"),
        ]
    )
    yield Spacer(1, 3 * mm)
    yield _table(
        ["Status", "Items"],
        [[label, str(count)] for label, count in evidence.by_status],
        [50 * mm, 20 * mm],
        numeric=(1,),
    )
    yield from _listed(
        f"Expiring within {EXPIRY_WINDOW_DAYS} days",
        evidence.expiring_items,
        evidence.expiring,
        "Valid until",
        f"Nothing expires within {EXPIRY_WINDOW_DAYS} days.",
    )


def _policies(data: ReadinessReportData) -> Iterator[Flowable]:
    s = styles()
    policies = data.policies
    yield CondPageBreak(50 * mm)
    yield Paragraph("Policies", s["h1"])
    if not policies.total:
        yield Paragraph("No policies are written yet.", s["body"])
        return
    yield _figures(
        [
            (str(policies.total), "policies"),
            *((str(count), label.lower()) for label, count in policies.by_status if count),
            (str(policies.review_due), "due for review"),
        ]
    )
    yield from _listed(
        "Due for review",
        policies.review_due_policies,
        policies.review_due,
        "Review date",
        "No policy is due for review.",
    )


def _appendix(framework: AppendixFramework, *, first: bool) -> Iterator[Flowable]:
    s = styles()
    if first:
        yield Paragraph("Appendix: every control", s["h1"])
        yield Paragraph(
            paragraph_text(
                "Each control of each adopted framework, with its answer in the open assessment round, the evidence "
                f"mapped to it (newest first, up to {TITLES_PER_CONTROL} named) and who owns it."
            ),
            s["note"],
        )
    yield Paragraph(paragraph_text(framework.name), s["h2"] if first else s["h1"])
    if not framework.controls:
        yield Paragraph("This framework has no controls to assess.", s["note"])
        return
    yield _table(
        ["Ref", "Control", "Answer", "Evidence", "Owner"],
        [_control_row(line) for line in framework.controls],
        [16 * mm, CONTENT_WIDTH - 124 * mm, 30 * mm, 50 * mm, 28 * mm],
        long=True,
    )


def _appendix_empty() -> Iterator[Flowable]:
    s = styles()
    yield Paragraph("Appendix: every control", s["h1"])
    yield Paragraph("No frameworks are adopted yet.", s["note"])


def _control_row(line: ControlLine) -> list[str]:
    if not line.evidence_count:
        evidence = "None"
    else:
        named = "; ".join(line.evidence_titles)
        more = line.evidence_count - len(line.evidence_titles)
        evidence = f"{_count(line.evidence_count, 'item')}, {line.evidence_current} current: {named}"
        if more:
            evidence += f"; and {more} more"
    return [line.ref, line.title, line.status, evidence, line.owner or "No owner"]


# --- Building blocks ------------------------------------------------------------------------------
def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _swatch(colour: Color) -> Drawing:
    drawing = Drawing(7 * mm, 3.5 * mm)
    drawing.add(Rect(0, 0, 7 * mm, 3.5 * mm, fillColor=colour, strokeColor=None))
    return drawing


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    widths: Sequence[float],
    *,
    numeric: Sequence[int] = (),
    long: bool = False,
) -> Table:
    """A table with a header row repeated on every page. `long` tables (the appendix's hundreds of rows)
    measure only the rows that fit on each page: a plain table re-measures every remaining row each time
    it splits, which grows with the square of its length."""
    s = styles()
    head = [Paragraph(paragraph_text(value), s["cell_head"]) for value in headers]
    cell_styles = [s["cell_number"] if column in numeric else s["cell"] for column in range(len(headers))]
    body = [[_cell(value, style) for value, style in zip(row, cell_styles, strict=True)] for row in rows]
    table = (LongTable if long else Table)([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
    ]
    # Bands in their colours, as a bar beside the words: the words carry the meaning.
    for row_index, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            band = next((key for key, label in BAND_LABELS.items() if label == value), None)
            if band is not None:
                commands.append(("LINEBEFORE", (column, row_index), (column, row_index), 3, BAND_COLOURS[band]))
    table.setStyle(TableStyle(commands))
    return table


def _cell(value: Cell, style: ParagraphStyle) -> Flowable | str:
    if not isinstance(value, str):
        return value
    return Paragraph(paragraph_text(value), style) if value else ""


def _figures(figures: Sequence[tuple[str, str]]) -> Table:
    """Key figures side by side: a big number over a short label."""
    s = styles()
    cells = [
        [
            Paragraph(paragraph_text(value), s["figure"]),
            Paragraph(paragraph_text(label), s["figure_label"]),
        ]
        for value, label in figures
    ]
    table = Table([cells], colWidths=[CONTENT_WIDTH / len(figures)] * len(figures), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBEFORE", (0, 0), (-1, -1), 2, ACCENT),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _listed(heading: str, lines: list[Listed], total: int, date_label: str, empty: str) -> Iterator[Flowable]:
    s = styles()
    yield Paragraph(paragraph_text(heading), s["h2"])
    if not lines:
        yield Paragraph(paragraph_text(empty), s["note"])
        return
    rows = [[line.title, long_date(line.day) if line.day else "", line.owner or "No owner"] for line in lines]
    yield _table(["Title", date_label, "Owner"], rows, [CONTENT_WIDTH - 85 * mm, 35 * mm, 50 * mm])
    if total > len(lines):
        yield Paragraph(paragraph_text(f"The first {len(lines)} of {total}, soonest first."), s["note"])


# --- Page furniture and progress ------------------------------------------------------------------
class _Progress(Flowable):
    """Takes no room; tells the template how far the drawing has got."""

    def __init__(self, at: int, message: str) -> None:
        super().__init__()
        self.at, self.message = at, message

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        return None


class _ReportTemplate(SimpleDocTemplate):
    def __init__(self, *args: Any, progress: Progress | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._progress = progress

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Progress) and self._progress is not None:
            self._progress(flowable.at, flowable.message)


def _no_footer(canvas: Canvas, document: BaseDocTemplate) -> None:
    return None


def _footer(canvas: Canvas, document: BaseDocTemplate, *, footer: str) -> None:
    page = f"Page {canvas.getPageNumber()}"
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(CONTENT_LEFT, FOOTER_Y + 10, PAGE_WIDTH - CONTENT_LEFT, FOOTER_Y + 10)
    canvas.setFont(FONT, 7.5)
    canvas.setFillColor(MUTED)
    canvas.drawString(CONTENT_LEFT, FOOTER_Y, footer[:120])
    canvas.drawRightString(PAGE_WIDTH - CONTENT_LEFT, FOOTER_Y, page)
    canvas.restoreState()
