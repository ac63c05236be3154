"""The look shared by Greenlight's report PDFs: page geometry, colours, fonts and paragraph styles."""

from __future__ import annotations

import functools
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FOOTER_Y = 10 * mm
FRAME_PADDING = 6  # platypus's default padding inside the page's frame
CONTENT_LEFT = MARGIN + FRAME_PADDING
CONTENT_WIDTH = PAGE_WIDTH - 2 * CONTENT_LEFT

INK = colors.HexColor("#1c2b25")
ACCENT = colors.HexColor("#1f6f4a")
MUTED = colors.HexColor("#5b6b64")
RULE = colors.HexColor("#c9d3ce")
HEADER_FILL = colors.HexColor("#eef3f0")
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

FONT = "GreenlightReport"

# DejaVu Sans covers the Latin, Greek and Cyrillic names a UK business's staff may have; Bitstream Vera,
# which ships inside reportlab, is the fallback where the system has no DejaVu (Western European only).
_FONT_CANDIDATES = (
    (Path("/usr/share/fonts/truetype/dejavu"), ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")),
    (Path(reportlab.__file__).parent / "fonts", ("Vera.ttf", "VeraBd.ttf")),
)


@functools.cache
def register_fonts() -> None:
    folder, (regular, bold) = next(
        (folder, files) for folder, files in _FONT_CANDIDATES if all((folder / name).exists() for name in files)
    )
    pdfmetrics.registerFont(TTFont(FONT, str(folder / regular)))
    pdfmetrics.registerFont(TTFont(f"{FONT}-Bold", str(folder / bold)))
    # Italics are drawn with the regular face: the reports never emphasise with them.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=f"{FONT}-Bold", italic=FONT, boldItalic=f"{FONT}-Bold")


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


def text(value: object) -> str:
    """Plain text as paragraph markup: escaped, line breaks kept."""
    return escape(str(value)).replace("\n", "<br/>")
