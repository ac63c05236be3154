"""A policy version as an A4 PDF (reportlab platypus): a cover block, the sections, the approval record
and an appendix of the controls the policy satisfies, with "page N of M" and the policy in every footer.

All text reaches reportlab's paragraph mini-markup escaped; emphasis comes only from the parsed blocks.
"""

from __future__ import annotations

import functools
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    HRFlowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from config.pdf import ACCENT, FONT, HEADER_FILL, INK, MUTED, RULE, paragraph_text, register_fonts
from policies.exports import PolicyDocument, policy_document
from policies.exports.markdown_blocks import Block, Heading, ListBlock, Spans
from policies.exports.markdown_blocks import Paragraph as TextParagraph
from policies.exports.markdown_blocks import Table as TextTable
from policies.models import PolicyVersion

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
FOOTER_Y = 12 * mm
FRAME_PADDING = 6  # platypus's default padding inside the page's frame
CONTENT_LEFT = MARGIN + FRAME_PADDING
CONTENT_WIDTH = PAGE_WIDTH - 2 * CONTENT_LEFT


def policy_pdf(version: PolicyVersion) -> bytes:
    document = policy_document(version)
    buffer = io.BytesIO()
    template = _PolicyDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=f"{document.title} (version {document.version})",
        author=document.organisation,
        subject=f"{document.title}, version {document.version}, {document.status.lower()}",
        creator="Greenlight",
        lang="en-GB",
        displayDocTitle=True,
    )
    template.build(_story(document), canvasmaker=functools.partial(_NumberedCanvas, footer=document.footer))
    return buffer.getvalue()


# --- Fonts and styles -----------------------------------------------------------------------------
@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14.5, textColor=INK, spaceAfter=6)
    heading = ParagraphStyle("heading", parent=body, fontName=f"{FONT}-Bold", keepWithNext=1, textColor=ACCENT)
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=12, spaceAfter=0)
    styles = {
        "body": body,
        "organisation": ParagraphStyle("organisation", parent=body, fontSize=12, leading=16, textColor=MUTED),
        "title": ParagraphStyle(
            "title", parent=heading, fontSize=22, leading=27, spaceBefore=4, spaceAfter=10, textColor=INK
        ),
        "h1": ParagraphStyle("h1", parent=heading, fontSize=14, leading=18, spaceBefore=14, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=heading, fontSize=11.5, leading=15, spaceBefore=10, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=heading, fontSize=10.5, leading=14, spaceBefore=8, spaceAfter=3),
        "cell": cell,
        "cell_head": ParagraphStyle("cell_head", parent=cell, fontName=f"{FONT}-Bold"),
        "note": ParagraphStyle("note", parent=body, textColor=MUTED),
    }
    for level in range(3):
        indent = 16 + 16 * level
        styles[f"list{level}"] = ParagraphStyle(
            f"list{level}",
            parent=body,
            leftIndent=indent,
            bulletIndent=indent - 13,
            bulletFontName=FONT,
            spaceAfter=3,
        )
    return styles


# --- The story ------------------------------------------------------------------------------------
def _story(document: PolicyDocument) -> list[Flowable]:
    styles = _styles()
    story: list[Flowable] = [
        Paragraph(paragraph_text(document.organisation), styles["organisation"]),
        Paragraph(paragraph_text(document.title), styles["title"]),
        _key_values(document.details),
        Spacer(1, 4 * mm),
        HRFlowable(width="100%", thickness=0.75, color=RULE, spaceAfter=2 * mm),
    ]
    if not document.sections:
        story.append(Paragraph("This version has no sections yet.", styles["note"]))
    for section in document.sections:
        story.append(_heading(section.title or "Untitled section", styles["h1"], level=0))
        story.extend(_blocks(section.blocks))

    # The approval record and the appendix share a page at the back.
    story.append(PageBreak())
    story.append(_heading("Approval record", styles["h1"], level=0))
    if document.approval is None:
        story.append(Paragraph("This version has not been approved yet.", styles["note"]))
    else:
        approval = document.approval
        rows = [("Approved by", approval.approved_by), ("Approved on", approval.approved_on)]
        rows.append(("Comment", approval.comment or "No comment."))
        story.append(_key_values(rows))

    story.append(Spacer(1, 6 * mm))
    story.append(_heading("Appendix: Controls this policy satisfies", styles["h1"], level=0))
    if not document.frameworks:
        story.append(Paragraph("No controls are mapped to this policy yet.", styles["note"]))
    for group in document.frameworks:
        rows_table = _table(
            [Paragraph("Ref", styles["cell_head"]), Paragraph("Control", styles["cell_head"])],
            [
                [Paragraph(paragraph_text(ref), styles["cell"]), Paragraph(paragraph_text(title), styles["cell"])]
                for ref, title in group.controls
            ],
            [32 * mm, CONTENT_WIDTH - 32 * mm],
        )
        story.append(_heading(group.framework, styles["h2"], level=1))
        story.append(rows_table)
    return story


def _blocks(blocks: list[Block]) -> list[Flowable]:
    styles = _styles()
    flowables: list[Flowable] = []
    for block in blocks:
        if isinstance(block, Heading):
            style = styles["h2"] if block.level <= 3 else styles["h3"]
            flowables.append(Paragraph(_markup(block.spans), style))
        elif isinstance(block, TextParagraph):
            flowables.append(Paragraph(_markup(block.spans), styles["body"]))
        elif isinstance(block, ListBlock):
            flowables.extend(_list(block))
        elif isinstance(block, TextTable):
            header = [Paragraph(_markup(cell), styles["cell_head"]) for cell in block.header]
            rows = [[Paragraph(_markup(cell), styles["cell"]) for cell in row] for row in block.rows]
            widths = [CONTENT_WIDTH / len(header)] * len(header)
            flowables.extend([_table(header, rows, widths), Spacer(1, 3 * mm)])
    return flowables


def _list(block: ListBlock) -> list[Flowable]:
    styles = _styles()
    counters = [block.start - 1, 0, 0]
    flowables = []
    for item in block.items:
        counters[item.level] += 1
        for deeper in range(item.level + 1, len(counters)):
            counters[deeper] = 0
        bullet = f"{counters[item.level]}." if item.ordered else ("•", "–", "·")[item.level]
        flowables.append(Paragraph(_markup(item.spans), styles[f"list{item.level}"], bulletText=bullet))
    if flowables:
        flowables.append(Spacer(1, 2 * mm))
    return flowables


def _table(header: list[Flowable], rows: list[list[Flowable]], widths: list[float]) -> Table:
    table = Table([header, *rows], colWidths=widths, repeatRows=1, splitInRow=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, RULE),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _key_values(rows: list[tuple[str, str]]) -> Flowable:
    styles = _styles()
    data = [
        [
            Paragraph(paragraph_text(label), styles["cell_head"]),
            Paragraph(paragraph_text(value), styles["cell"]),
        ]
        for label, value in rows
    ]
    table = Table(data, colWidths=[35 * mm, CONTENT_WIDTH - 35 * mm], splitInRow=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return KeepTogether([table]) if len(rows) <= 6 else table


# --- Markup ---------------------------------------------------------------------------------------
def _markup(spans: Spans) -> str:
    parts = []
    for span in spans:
        text = escape(span.text)
        if span.italic:
            text = f"<i>{text}</i>"
        if span.bold:
            text = f"<b>{text}</b>"
        parts.append(text)
    return "".join(parts)


# --- Page furniture -------------------------------------------------------------------------------
def _heading(title: str, style: ParagraphStyle, *, level: int) -> Paragraph:
    return _Bookmarked(paragraph_text(title), style, outline=(title, level))


class _Bookmarked(Paragraph):
    """A heading that also becomes an entry in the PDF's outline (the reader's sidebar)."""

    def __init__(self, *args: Any, outline: tuple[str, int] | None = None, **kwargs: Any) -> None:
        # Paragraph.split builds the parts with this class and Paragraph's own arguments.
        super().__init__(*args, **kwargs)
        self.outline = outline

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        parts = super().split(availWidth, availHeight)
        if parts:  # a heading longer than the page: the outline points at its start
            parts[0].outline = self.outline
        return parts


class _PolicyDocTemplate(SimpleDocTemplate):
    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Bookmarked) and flowable.outline is not None:
            title, level = flowable.outline
            key = f"heading-{id(flowable)}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(title, key, level=level, closed=True)


class _NumberedCanvas(Canvas):
    """Holds every page until the end, so each footer can say "page N of M"."""

    def __init__(self, *args: Any, footer: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        page = f"Page {number} of {total}"
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(CONTENT_LEFT, FOOTER_Y + 11, PAGE_WIDTH - CONTENT_LEFT, FOOTER_Y + 11)
        self.setFont(FONT, 8)
        self.setFillColor(MUTED)
        room = CONTENT_WIDTH - pdfmetrics.stringWidth(page, FONT, 8) - 8 * mm
        self.drawString(CONTENT_LEFT, FOOTER_Y, _fit(self._footer, room))
        self.drawRightString(PAGE_WIDTH - CONTENT_LEFT, FOOTER_Y, page)
        self.restoreState()


def _fit(text: str, width: float) -> str:
    """The text, shortened with an ellipsis to fit the width at the footer's size."""
    if pdfmetrics.stringWidth(text, FONT, 8) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if pdfmetrics.stringWidth(text[:middle].rstrip() + "…", FONT, 8) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"
