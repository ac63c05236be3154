"""Small evidence files made in memory: a one-page PDF and a PNG, each different every time, so an upload
is never refused as a duplicate of an earlier one."""

from __future__ import annotations

import io
import secrets
from datetime import date


def pdf(title: str) -> bytes:
    """A one-page PDF as an SMB would scan or export: a title, a date and a reference that makes it unique."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setTitle(title)
    page.drawString(72, 770, title)
    page.drawString(72, 750, f"Checked on {date.today():%d %B %Y}, reference {secrets.token_hex(8)}.")
    page.drawString(72, 730, "Every laptop has full-disk encryption turned on and a screen lock after five minutes.")
    page.showPage()
    page.save()
    return buffer.getvalue()


def png() -> bytes:
    """A small screenshot-sized PNG with random pixels."""
    from PIL import Image

    image = Image.frombytes("RGB", (64, 48), secrets.token_bytes(64 * 48 * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
