"""The Statement of Applicability as a landscape A4 PDF: who and when at the top, then a table of every
Annex A control whose header row repeats on each page."""

from __future__ import annotations

from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from assessments.exports.soa import COLUMNS, StatementOfApplicability
from config.formatting import long_date
from config.pdf import BOLD, FONT, HEADER_FILL, INK, MUTED, RULE, paragraph_text, register_fonts

PDF_CONTENT_TYPE = "application/pdf"
MARGIN = 12 * mm
# Shares of the usable width, in the order of COLUMNS.
SHARES = (0.06, 0.17, 0.11, 0.08, 0.26, 0.11, 0.21)
STRIPE_COLOUR = colors.HexColor("#F6F8F7")


def _styles() -> dict[str, ParagraphStyle]:
    # The brand's font: the organisation's own words (justifications, evidence titles, names) may hold
    # letters Helvetica cannot print.
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, textColor=INK, spaceAfter=3)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5, alignment=TA_LEFT, spaceAfter=0)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=18, leading=22, spaceAfter=8),
        "body": body,
        "cell": cell,
        "header": ParagraphStyle("header", parent=cell, fontName=BOLD),
    }


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(paragraph_text(value), style)


def soa_pdf(statement: StatementOfApplicability) -> bytes:
    styles = _styles()
    buffer = BytesIO()
    page = landscape(A4)
    document = SimpleDocTemplate(
        buffer,
        pagesize=page,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Statement of Applicability: {statement.organisation.name}",
        author="Greenlight",
    )
    story: list[Flowable] = [Paragraph("Statement of Applicability", styles["title"])]
    for label, value in statement.facts():
        story.append(_text(f"{label}: {value}", styles["body"]))
    for note in statement.notes():
        story.append(_text(note, styles["cell"]))
    story.append(Spacer(1, 4 * mm))
    header = [_text(title, styles["header"]) for title in COLUMNS]
    body = [[_text(cell, styles["cell"]) for cell in statement.cells(row)] for row in statement.rows]
    width = page[0] - 2 * MARGIN
    table = Table([header, *body], colWidths=[width * share for share in SHARES], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, STRIPE_COLOUR]),
                ("GRID", (0, 0), (-1, -1), 0.25, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(table)

    def footer(canvas, doc) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(MUTED)
        text = f"{statement.organisation.name} · Statement of Applicability · {long_date(statement.generated_on)}"
        canvas.drawString(MARGIN, MARGIN / 2, text)
        canvas.drawRightString(page[0] - MARGIN, MARGIN / 2, f"Page {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
