"""The look every Greenlight PDF shares: the brand's colours and one font family that can write the
names a UK business's staff and suppliers have.

reportlab's built-in Helvetica covers Western European letters only, so a name such as "Łukasz" or
"Σοφία" would print as boxes. DejaVu Sans (Debian's fonts-dejavu, in the production image) covers
Latin, Greek and Cyrillic; Bitstream Vera, which ships inside reportlab, is the fallback.
"""

from __future__ import annotations

import functools
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

INK = colors.HexColor("#1c2b25")
ACCENT = colors.HexColor("#1f6f4a")
MUTED = colors.HexColor("#5b6b64")
RULE = colors.HexColor("#c9d3ce")
HEADER_FILL = colors.HexColor("#eef3f0")

FONT = "GreenlightSans"
BOLD = f"{FONT}-Bold"
_FACES = (FONT, BOLD, f"{FONT}-Italic", f"{FONT}-BoldItalic")
_FONT_CANDIDATES = (
    (
        Path("/usr/share/fonts/truetype/dejavu"),
        ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    ),
    (Path(reportlab.__file__).parent / "fonts", ("Vera.ttf", "VeraBd.ttf", "VeraIt.ttf", "VeraBI.ttf")),
)


@functools.cache
def register_fonts() -> None:
    """Register FONT and its bold and italic faces with reportlab, once per process."""
    folder, files = next(
        (folder, files) for folder, files in _FONT_CANDIDATES if all((folder / name).exists() for name in files)
    )
    for face, name in zip(_FACES, files, strict=True):
        pdfmetrics.registerFont(TTFont(face, str(folder / name)))
    pdfmetrics.registerFontFamily(FONT, normal=_FACES[0], bold=_FACES[1], italic=_FACES[2], boldItalic=_FACES[3])


def paragraph_text(value: object) -> str:
    """Plain text as reportlab paragraph markup: escaped, its line breaks kept."""
    return escape(str(value)).replace("\n", "<br/>")
