"""Builders for the files intake tests feed in: ordinary documents and hostile ones, made in code.

Nothing here is committed as a binary. Small files are built in memory; the big ones (bombs, 25 MB files)
are streamed to a path the test provides, so building them does not itself need the memory under test.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

from docx import Document
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

MIB = 1024 * 1024
_OOXML = "application/vnd.openxmlformats-officedocument"
_PACKAGE_RELS = "application/vnd.openxmlformats-package.relationships+xml"


# ---------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------


def image_bytes(image_format: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(buffer, format=image_format)
    return buffer.getvalue()


def animated_gif(frames: int = 4) -> bytes:
    """A looping GIF with a comment: application, comment and graphic-control extensions to walk past."""
    images = [Image.new("P", (30, 20), number * 40) for number in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], loop=0, duration=100, comment=b"Rota")
    return buffer.getvalue()


def progressive_jpeg() -> bytes:
    """Several scans with tables between them, so the end of the image is not the end of the first scan."""
    buffer = io.BytesIO()
    Image.effect_noise((300, 200), 40).convert("RGB").save(buffer, format="JPEG", progressive=True, quality=90)
    return buffer.getvalue()


def png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", zlib.crc32(chunk_type + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header (with a valid CRC) claims any size, followed by a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_with_text_chunk(text: bytes) -> bytes:
    """A valid PNG with a tEXt chunk right after its header, where a PDF reader would find "%PDF-"."""
    png = image_bytes("PNG")
    after_header = 8 + 25
    return png[:after_header] + png_chunk(b"tEXt", b"Comment\x00" + text) + png[after_header:]


def corrupt_png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + os.urandom(200)


def jpeg_with_thumbnail_marker() -> bytes:
    """A JPEG whose APP1 segment holds a complete small JPEG, as an EXIF thumbnail does: FFD9 mid-file."""
    photo = image_bytes("JPEG")
    thumbnail = image_bytes("JPEG", (8, 8)) + b"PK\x03\x04 inside the thumbnail segment, not after the image"
    segment = b"\xff\xe1" + struct.pack(">H", len(thumbnail) + 2) + thumbnail
    return photo[:2] + segment + photo[2:]


# ---------------------------------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------------------------------


def reportlab_pdf(lines: list[str], *, pages: int = 1) -> bytes:
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4)
    for page in range(pages):
        for number, line in enumerate(lines):
            document.drawString(72, 760 - 18 * number, f"{line} {page + 1}" if pages > 1 else line)
        document.showPage()
    document.save()
    return buffer.getvalue()


def handmade_pdf(*, catalog_extra: str = "", objects: tuple[str, ...] = (), leading_comment: int = 0) -> bytes:
    """A small, well-formed PDF written by hand, for the names reportlab will not write (/JavaScript, /Sig).

    `objects` are numbered from 6; `leading_comment` pads the start to move later bytes to a chosen offset.
    """
    content = b"BT /F1 12 Tf 72 720 Td (Access review 2026) Tj ET"
    bodies = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>".encode(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *(body.encode() for body in objects),
    ]
    return _write_pdf(bodies, leading_comment=leading_comment)


def _write_pdf(bodies: list[bytes], *, leading_comment: int = 0) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    if leading_comment:
        out += b"%" + b"x" * leading_comment + b"\n"
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref_at)
    return bytes(out)


def pdf_with_javascript() -> bytes:
    return handmade_pdf(catalog_extra="/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>")


def pdf_with_hidden_javascript() -> bytes:
    """/JavaScript written with #-escapes, which PDF readers decode and naive scanners miss."""
    return handmade_pdf(
        catalog_extra="/Names << /J#61vaScript << /Names [(x) 6 0 R] >> >>",
        objects=("<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>",),
    )


def pdf_with_name_at(offset: int, name: str = "/JavaScript") -> bytes:
    """A PDF whose only notable name starts at `offset`, e.g. straddling a 64 KiB chunk boundary."""
    probe = handmade_pdf(catalog_extra=f"{name} << >>")
    padding = offset - probe.index(name.encode()) - 2
    data = handmade_pdf(catalog_extra=f"{name} << >>", leading_comment=padding)
    assert data.index(name.encode()) == offset
    return data


def signed_pdf() -> bytes:
    return handmade_pdf(
        catalog_extra="/AcroForm << /Fields [7 0 R] /SigFlags 3 >>",
        objects=(
            "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached "
            "/ByteRange [0 100 200 300] /Contents <3082> >>",
            "<< /FT /Sig /T (Signature1) /V 6 0 R /Rect [0 0 0 0] >>",
        ),
    )


def write_padded_pdf(path: Path, *, size: int) -> None:
    """A valid PDF of about `size` bytes: one page of text and an unreferenced stream of random bytes."""
    content = b"BT /F1 12 Tf 72 720 Td (Backup log) Tj ET"
    head = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(head, start=1):
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        offsets.append(out.tell())
        out.write(b"6 0 obj\n<< /Length %d >>\nstream\n" % size)
        _write_random(out, size)
        out.write(b"\nendstream\nendobj\n")
        xref_at = out.tell()
        out.write(b"xref\n0 7\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets))
        out.write(b"trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at)


def _write_random(out: io.BufferedWriter, size: int) -> None:
    block = os.urandom(MIB)
    for start in range(0, size, MIB):
        out.write(block[: min(MIB, size - start)])


# ---------------------------------------------------------------------------------------------------
# Office and OpenDocument packages
# ---------------------------------------------------------------------------------------------------


def docx_bytes(paragraphs: list[str]) -> bytes:
    document = Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first is not None:
            archive.writestr(stored_first, members[stored_first], compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            if name != stored_first:
                archive.writestr(name, data)
    return buffer.getvalue()


def _content_types(main: str, *overrides: tuple[str, str]) -> bytes:
    parts = "".join(f'<Override PartName="{part}" ContentType="{kind}"/>' for part, kind in overrides)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="{_PACKAGE_RELS}"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{main}{parts}</Types>"
    ).encode()


def _relationships(*targets: tuple[str, str]) -> bytes:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>' for n, (kind, target) in enumerate(targets, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>'
    ).encode()


_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


def xlsx_members(strings: list[str], *, main_type: str = f"{_OOXML}.spreadsheetml.sheet.main+xml") -> dict[str, bytes]:
    shared = "".join(f"<si><t>{value}</t></si>" for value in strings)
    cells = "".join(f'<c r="A{n}" t="s"><v>{n - 1}</v></c>' for n in range(1, len(strings) + 1))
    main = '<Override PartName="/xl/workbook.xml" ContentType="' + main_type + '"/>'
    return {
        "[Content_Types].xml": _content_types(
            main,
            ("/xl/worksheets/sheet1.xml", f"{_OOXML}.spreadsheetml.worksheet+xml"),
            ("/xl/sharedStrings.xml", f"{_OOXML}.spreadsheetml.sharedStrings+xml"),
        ),
        "_rels/.rels": _relationships((_OFFICE_DOCUMENT, "xl/workbook.xml")),
        "xl/workbook.xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><sheets><sheet name="Assets" sheetId="1" r:id="rId1" xmlns:r="http://'
            b'schemas.openxmlformats.org/officeDocument/2006/relationships"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": _relationships(
            ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet", "worksheets/sheet1.xml"),
            ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings", "sharedStrings.xml"),
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main"><sheetData><row r="1">{cells}</row></sheetData></worksheet>'
        ).encode(),
        "xl/sharedStrings.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main" count="{len(strings)}">{shared}</sst>'
        ).encode(),
    }


def xlsx_bytes(strings: list[str]) -> bytes:
    return zip_bytes(xlsx_members(strings))


def pptx_bytes(slides: dict[int, str]) -> bytes:
    """A minimal presentation; keys are slide numbers, so {10: ..., 2: ...} tests numeric ordering."""
    drawing = "http://schemas.openxmlformats.org/drawingml/2006/main"
    members = {
        "[Content_Types].xml": _content_types(
            f'<Override PartName="/ppt/presentation.xml" ContentType="{_OOXML}.presentationml.presentation.main+xml"/>',
            *((f"/ppt/slides/slide{n}.xml", f"{_OOXML}.presentationml.slide+xml") for n in slides),
        ),
        "_rels/.rels": _relationships((_OFFICE_DOCUMENT, "ppt/presentation.xml")),
        "ppt/presentation.xml": b'<?xml version="1.0"?><p:presentation xmlns:p="urn:p"/>',
    }
    for number, text in slides.items():
        members[f"ppt/slides/slide{number}.xml"] = (
            f'<?xml version="1.0"?><p:sld xmlns:p="urn:p" xmlns:a="{drawing}"><p:cSld><p:spTree><p:sp><p:txBody>'
            f"<a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
        ).encode()
    return zip_bytes(members)


def odf_bytes(kind: str, paragraphs: list[str]) -> bytes:
    """An OpenDocument package; kind is "text", "spreadsheet" or "presentation"."""
    body = "".join(f"<text:p>{paragraph}</text:p>" for paragraph in paragraphs)
    members = {
        "mimetype": f"application/vnd.oasis.opendocument.{kind}".encode(),
        "content.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
            f"<office:body><office:{kind}>{body}</office:{kind}></office:body></office:document-content>"
        ).encode(),
        "META-INF/manifest.xml": b'<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:m"/>',
    }
    return zip_bytes(members, stored_first="mimetype")


def with_encrypted_members(archive: bytes) -> bytes:
    """Set the "encrypted" bit on every member, as a password-protected ZIP has (zipfile cannot write one)."""
    data = bytearray(archive)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature)
        while position >= 0:
            data[position + flag_offset] |= 0x01
            position = data.find(signature, position + 4)
    return bytes(data)


def with_declared_sizes(archive: bytes, uncompressed: int) -> bytes:
    """Rewrite every central-directory entry to claim `uncompressed` bytes: a bomb as the directory tells it."""
    data = bytearray(archive)
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        struct.pack_into("<L", data, position + 24, uncompressed)
        position = data.find(b"PK\x01\x02", position + 4)
    return bytes(data)


def write_zip_bomb(path: Path, *, megabytes: int = 50) -> None:
    """Megabytes of zeros deflated to a few dozen kilobytes, written member by member, never held whole."""
    zeros = bytes(MIB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.bin", "w") as member:
        for _ in range(megabytes):
            member.write(zeros)


def many_members_zip(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number in range(count):
            archive.writestr(f"f{number}", b"")
    return buffer.getvalue()


def write_stored_zip(path: Path, *, size: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive, archive.open("export.bin", "w") as member:
        _write_random(member, size)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# Things that are not evidence
# ---------------------------------------------------------------------------------------------------


def windows_program() -> bytes:
    return b"MZ\x90\x00\x03" + bytes(55) + b"\x80\x00\x00\x00This program cannot be run in DOS mode.\r\n" + bytes(64)


def linux_program() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + bytes(56)


def mac_program() -> bytes:
    return b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24)


def write_text(path: Path, *, size: int, line: bytes = b"2026-11-21 09:00:01 backup completed OK\n") -> None:
    block = line * (MIB // len(line))
    with path.open("wb") as out:
        written = 0
        while written < size:
            piece = block[: size - written]
            out.write(piece)
            written += len(piece)


# ---------------------------------------------------------------------------------------------------
# The hostile uploads corpus (issue 11): each built in memory, small enough to post in a test
# ---------------------------------------------------------------------------------------------------


def gif_js_polyglot() -> bytes:
    """A valid GIF that is also JavaScript: the width bytes spell "/*", the script follows the trailer."""
    gif = image_bytes("GIF")
    return b"GIF89a/*" + gif[8:] + b"*/=alert(document.domain);//"


def gif_html_polyglot() -> bytes:
    """A valid GIF with a web page after its trailer, for a browser that sniffs it as HTML."""
    return image_bytes("GIF") + b"<html><body><script>alert(document.cookie)</script></body></html>"


def png_html_polyglot() -> bytes:
    """A valid PNG with a script after its end chunk: harmless only if never served as HTML."""
    return image_bytes("PNG") + b"<script>alert(document.cookie)</script>"


def html_page() -> bytes:
    return b"<!doctype html><html><body><script>fetch('/api/').then(r => r.text())</script></body></html>"


def svg_with_script() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
    )


def zip_bomb(*, megabytes: int = 20) -> bytes:
    """Megabytes of zeros deflated to a few kilobytes: the ratio, not the size, gives it away."""
    buffer = io.BytesIO()
    write_zip_bomb(buffer, megabytes=megabytes)  # type: ignore[arg-type]
    return buffer.getvalue()


def pixel_bomb() -> bytes:
    """A PNG of a few dozen bytes whose header claims 100,000 × 100,000 pixels (30 GB decoded)."""
    return png_claiming(100_000, 100_000)


def docx_that_is_a_zip_of_other_things() -> bytes:
    """Called .docx, but a ZIP of a program and a web page with none of a Word document's parts."""
    return zip_bytes({"setup.exe": windows_program(), "index.html": html_page()})


def oversized_text(size: int) -> bytes:
    return b"x" * size


# Names a client may send; the content with them is ordinary text. (A 1,000-character name does not fit
# in a multipart part header, which Django caps at 1 KB; the service refuses one over 1,000 characters.)
HOSTILE_NAMES = {
    "three hundred characters": "a" * 296 + ".txt",
    "parent directories": "../../../../etc/cron.d/backup.txt",
    "windows parent directories": "..\\..\\..\\Windows\\System32\\backup.txt",
    "absolute path": "/etc/passwd",
    "windows absolute path": "C:\\Windows\\Temp\\backup.txt",
    "nul byte": "backup\x00.exe.txt",
    "control characters": "backup\x07\x1b[31mlog\r\n.txt",
    "right-to-left override": "backup\u202etxt.exe",
}
