"""The report PDFs' page geometry, chart colours and paragraph styles; brand colours and fonts are config.pdf's."""

from __future__ import annotations

import functools

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from config.pdf import ACCENT, FONT, INK, MUTED, register_fonts

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FOOTER_Y = 10 * mm
FRAME_PADDING = 6  # platypus's default padding inside the page's frame
CONTENT_LEFT = MARGIN + FRAME_PADDING
CONTENT_WIDTH = PAGE_WIDTH - 2 * CONTENT_LEFT

# The bands' colours, always beside their names: colour never carries the meaning alone.
BAND_COLOURS = {
    "green": colors.HexColor("#1f7a4d"),
    "amber": colors.HexColor("#b26a00"),
    "red": colors.HexColor("#b3261e"),
}
# Trend lines: the overall line first, then one per framework; told apart by colour and by the table
# under the chart that names each line's colour and figures.
SERIES_COLOURS = (
    colors.HexColor("#1c2b25"),
    colors.HexColor("#1f77b4"),
    colors.HexColor("#d62728"),
    colors.HexColor("#2ca02c"),
    colors.HexColor("#9467bd"),
    colors.HexColor("#ff7f0e"),
    colors.HexColor("#8c564b"),
    colors.HexColor("#e377c2"),
    colors.HexColor("#17becf"),
)


@functools.cache
def styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14, textColor=INK, spaceAfter=6)
    heading = ParagraphStyle("heading", parent=body, fontName=f"{FONT}-Bold", keepWithNext=1, textColor=ACCENT)
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11, spaceAfter=0)
    return {
        "body": body,
        "note": ParagraphStyle("note", parent=body, textColor=MUTED),
        "cover_kicker": ParagraphStyle("cover_kicker", parent=body, fontSize=13, leading=18, textColor=MUTED),
        "cover_title": ParagraphStyle(
            "cover_title", parent=heading, fontSize=30, leading=36, spaceBefore=6, spaceAfter=14, textColor=INK
        ),
        "cover_score": ParagraphStyle("cover_score", parent=heading, fontSize=18, leading=24, spaceAfter=4),
        "h1": ParagraphStyle("h1", parent=heading, fontSize=15, leading=19, spaceBefore=12, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=heading, fontSize=11.5, leading=15, spaceBefore=10, spaceAfter=5),
        "cell": cell,
        "cell_muted": ParagraphStyle("cell_muted", parent=cell, textColor=MUTED),
        "cell_head": ParagraphStyle("cell_head", parent=cell, fontName=f"{FONT}-Bold"),
        "cell_number": ParagraphStyle("cell_number", parent=cell, alignment=TA_RIGHT),
        "figure": ParagraphStyle("figure", parent=body, fontName=f"{FONT}-Bold", fontSize=16, leading=19, spaceAfter=0),
        "figure_label": ParagraphStyle("figure_label", parent=cell, textColor=MUTED),
    }
