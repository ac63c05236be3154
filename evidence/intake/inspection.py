"""The entry point for evidence intake: inspect an uploaded file before anything stores it.

`inspect_upload` reads the upload once from the start in 64 KiB chunks (hashing, counting and scanning as
it goes), then seeks to the few places that matter: the ZIP central directory, image headers and what
follows an image's end marker. It never holds the whole file in memory and never extracts an archive.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, cast

from django.core.files import File
from PIL import Image

from evidence.intake.naming import display_name, safe_filename
from evidence.intake.sniffing import (
    ALLOWED_KINDS,
    CHUNK_SIZE,
    FullReads,
    Stream,
    UploadRefused,
    classify_package,
    read_zip_directory,
    refuse_corrupt,
    refuse_polyglot,
    refuse_type,
    sniff_head,
)
from evidence.intake.text import extract_text

MAX_IMAGE_PIXELS = 50_000_000
MAX_IMAGE_SIDE = 20_000
JSON_PARSE_LIMIT = 4 * 1024 * 1024

FLAG_DESCRIPTIONS = {
    "pdf_active_content": "This PDF contains scripts, automatic actions or attached files, or disguises its contents. "
    "Open it with care.",
    "pdf_encrypted": "This PDF is encrypted, so its text could not be read for search.",
    "encrypted_archive": "This ZIP contains password-protected files, so its contents could not be checked.",
    "private_key": "This file appears to contain a private key. Keys should never be shared as evidence.",
}


@dataclass(frozen=True)
class InspectedFile:
    """What intake learnt about an accepted file.

    `kind` is an ALLOWED_KINDS key and `content_type` the type to serve it with, both from the content;
    `safe_name` is the sanitised name with the extension of that kind; `flags` (see FLAG_DESCRIPTIONS) are
    shown, not refused; `text` is at most TEXT_LIMIT characters; width and height are set for images.
    """

    safe_name: str
    kind: str
    content_type: str
    size: int
    sha256: str
    flags: tuple[str, ...]
    signed: bool
    text: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class _Verdict:
    kind: str
    flags: tuple[str, ...] = ()
    signed: bool = False
    width: int | None = None
    height: int | None = None


def inspect_upload(file: IO[bytes] | File, *, original_name: str, max_bytes: int) -> InspectedFile:
    """Check an upload and describe it, or raise UploadRefused with a message for the person uploading."""
    shown = display_name(original_name)
    stream = FullReads(cast(Stream, file))
    stream.seek(0)
    try:
        scan = _scan(stream, max_bytes=max_bytes, name=shown)
        verdict = _judge(stream, scan, name=shown)
        text = extract_text(cast(IO[bytes], stream), verdict.kind)
    finally:
        stream.seek(0)
    kind = ALLOWED_KINDS[verdict.kind]
    return InspectedFile(
        safe_name=safe_filename(original_name, extension=kind.extension),
        kind=verdict.kind,
        content_type=kind.content_type,
        size=scan.size,
        sha256=scan.sha256,
        flags=verdict.flags + scan.flags,
        signed=verdict.signed,
        text=text,
        width=verdict.width,
        height=verdict.height,
    )


# ---------------------------------------------------------------------------------------------------
# One streaming pass
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scan:
    size: int
    sha256: str
    head: bytes
    family: str
    pdf_names: frozenset[bytes]
    text: _TextCheck

    @property
    def flags(self) -> tuple[str, ...]:
        return ("private_key",) if self.family == "text" and self.text.private_key else ()


def _scan(stream: Stream, *, max_bytes: int, name: str) -> _Scan:
    head = _read_head(stream)
    if not head:
        raise UploadRefused("empty", f"“{name}” is empty (0 bytes). Check you chose the right file and try again.")
    family = sniff_head(head, name=name)
    digest = hashlib.sha256()
    pdf = _PdfNames()
    text = _TextCheck()
    feeders: list[Callable[[bytes], None]] = [digest.update]
    if family == "pdf":
        feeders.append(pdf.feed)
    if family == "text":
        feeders.append(text.feed)
    size = 0
    chunk = head
    while chunk:
        # The running count is the only size we trust: a client's declared size can be anything.
        size += len(chunk)
        if size > max_bytes:
            raise UploadRefused(
                "too_large", f"“{name}” is larger than the {_megabytes(max_bytes)} limit. Upload a smaller file."
            )
        for feed in feeders:
            feed(chunk)
        chunk = stream.read(CHUNK_SIZE)
    pdf.finish()
    text.finish()
    return _Scan(size, digest.hexdigest(), head, family, frozenset(pdf.found), text)


def _read_head(stream: Stream) -> bytes:
    head = b""
    while len(head) < CHUNK_SIZE and (chunk := stream.read(CHUNK_SIZE - len(head))):
        head += chunk
    return head


def _megabytes(size: int) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:.0f} MB" if megabytes == int(megabytes) else f"{megabytes:.1f} MB"


_PDF_DELIMITER = rb"[\x00\t\n\x0c\r ()<>\[\]{}/%]"
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# A name of letters with at least one letter written as #xx: /J#61vaScript is /JavaScript to a reader.
_ESCAPED_LETTER = rb"#[4-7][0-9A-Fa-f]"
_ESCAPED_NAME = rb"[A-Za-z]*+%s(?:[A-Za-z]|%s){0,40}" % (_ESCAPED_LETTER, _ESCAPED_LETTER)
OBFUSCATED = b"#obfuscated"


@functools.cache
def _pdf_name_pattern(plain: frozenset[bytes], escaped: bool) -> re.Pattern[bytes] | None:
    """Matches the `plain` names still to be found and, while `escaped`, any name with escaped letters.

    Names already found drop out of the pattern, so a file repeating /JS a million times costs one match.
    """
    end = rb"(?=%s|\Z)" % _PDF_DELIMITER
    branches = []
    if plain:
        spelled = b"|".join(re.escape(name) for name in sorted(plain, key=len, reverse=True))
        branches.append(rb"(?P<plain>(?:%s)%s)" % (spelled, end))
    if escaped:
        branches.append(rb"(?P<escaped>%s%s)" % (_ESCAPED_NAME, end))
    # The lookahead rejects "//" and "/ " before any branch is tried: several times faster on hostile input.
    return re.compile(rb"/(?=[A-Za-z#])(?:%s)" % b"|".join(branches)) if branches else None


class _PdfNames:
    """Collects interesting PDF names (/JavaScript, /Sig...) outside stream data, across chunk boundaries.

    Stream data (page content, images, fonts) is skipped: it is most of a PDF's bytes, and compressed data
    spells "/JS " by chance often enough to flag one large scan in five.
    """

    WANTED = frozenset(
        {
            b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia",
            b"OpenAction", b"AA", b"ByteRange", b"Sig", b"Encrypt",
        }
    )  # fmt: skip
    # Honest PDFs almost never escape letters; past this many, the file is hiding something (and decoding
    # each one in Python would let a crafted file tie up the server).
    ESCAPED_LIMIT = 1_000
    OVERLAP = 160
    _STREAM_START = re.compile(rb">>\s{0,64}stream\r?\n")
    _STREAM_END = b"endstream"

    def __init__(self) -> None:
        self.found: set[bytes] = set()
        self._carry = b""
        self._escaped_seen = 0
        self._in_stream = False

    def feed(self, chunk: bytes) -> None:
        window = self._carry + chunk
        self._carry = window[self._scan(window, final=False) :]

    def finish(self) -> None:
        self._scan(self._carry, final=True)

    def _scan(self, window: bytes, *, final: bool) -> int:
        """Scan what can be judged now; return where the next window must start."""
        position = 0
        while True:
            if self._in_stream:
                end = window.find(self._STREAM_END, position)
                if end < 0:
                    return max(position, len(window) - len(self._STREAM_END))
                self._in_stream = False
                position = end + len(self._STREAM_END)
                continue
            start = self._STREAM_START.search(window, position)
            stop = start.start() if start else len(window)
            self._search_names(window, position, stop, final=final or start is not None)
            if start is None:
                return max(position, len(window) - self.OVERLAP)
            self._in_stream = True
            position = start.end()

    def _search_names(self, window: bytes, position: int, stop: int, *, final: bool) -> None:
        while (pattern := self._pattern()) and (match := pattern.search(window, position, stop)):
            position = match.end()
            if position == stop and not final:
                return  # the name may go on in the next chunk: /JS could be the start of /JSONSchema
            self._note(match)

    def _pattern(self) -> re.Pattern[bytes] | None:
        return _pdf_name_pattern(frozenset(self.WANTED - self.found), self._escaped_seen < self.ESCAPED_LIMIT)

    def _note(self, match: re.Match[bytes]) -> None:
        if plain := match.group("plain"):
            self.found.add(plain)
            return
        self._escaped_seen += 1
        name = _PDF_ESCAPE.sub(lambda escape: bytes([int(escape.group(1), 16)]), match.group("escaped"))
        if name in self.WANTED:
            self.found.add(name)
        if self._escaped_seen >= self.ESCAPED_LIMIT:
            self.found.add(OBFUSCATED)


class _TextCheck:
    """Whether the whole stream is UTF-8 without NUL bytes, checked incrementally; notes private keys too."""

    _KEY = b"PRIVATE KEY-----"

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._tail = b""
        self.valid = True
        self.has_nul = False
        self.private_key = False

    def feed(self, chunk: bytes) -> None:
        if not self.valid:
            return
        if b"\x00" in chunk:
            self.valid, self.has_nul = False, True
            return
        window = self._tail + chunk
        self.private_key = self.private_key or self._KEY in window
        self._tail = window[-len(self._KEY) :]
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self.valid = False

    def finish(self) -> None:
        if self.valid:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.valid = False


# ---------------------------------------------------------------------------------------------------
# Judging what the pass found
# ---------------------------------------------------------------------------------------------------


def _judge(stream: Stream, scan: _Scan, *, name: str) -> _Verdict:
    if scan.family == "text":
        return _judge_text(stream, scan, name=name)
    directory = read_zip_directory(stream, scan.size, name=name)
    if scan.family == "zip":
        if directory is None:
            raise refuse_corrupt(name, "a ZIP archive")
        package = classify_package(stream, directory, name=name)
        return _Verdict(package.kind, flags=package.flags, signed=package.signed)
    label = ALLOWED_KINDS[scan.family].label
    if directory is not None and directory.names:
        raise refuse_polyglot(name, f"is {label} with a ZIP archive inside it")
    if scan.family == "pdf":
        return _judge_pdf(scan.pdf_names)
    return _judge_image(stream, scan, name=name)


def _judge_text(stream: Stream, scan: _Scan, *, name: str) -> _Verdict:
    if not scan.text.valid:
        if scan.text.has_nul or not _mostly_printable(scan.head):
            raise refuse_type(name, "not a file type we accept")
        raise refuse_type(
            name,
            "text that is not saved as UTF-8",
            "Save it as UTF-8 (in Excel, choose “CSV UTF-8”) and upload it again.",
        )
    if "." in name and name.rpartition(".")[2].lower() == "csv":
        return _Verdict("csv")
    if scan.size <= JSON_PARSE_LIMIT and _parses_as_json(stream, scan):
        return _Verdict("json")
    return _Verdict("text")


def _mostly_printable(head: bytes) -> bool:
    """Text in a legacy encoding (Windows-1252 CSVs from Excel) is mostly ASCII; binary formats are not."""
    printable = sum(1 for byte in head if 32 <= byte < 127 or byte in b"\t\r\n")
    return printable >= 0.8 * len(head)


def _parses_as_json(stream: Stream, scan: _Scan) -> bool:
    if scan.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        return False  # a bare number or string is JSON too, but nobody means it as a JSON document
    stream.seek(0)
    try:
        json.loads(stream.read(scan.size).decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return False
    return True


def _judge_pdf(names: frozenset[bytes]) -> _Verdict:
    flags = []
    if names & _ACTIVE_PDF_NAMES or OBFUSCATED in names:
        flags.append("pdf_active_content")
    if b"Encrypt" in names:
        flags.append("pdf_encrypted")
    return _Verdict("pdf", flags=tuple(flags), signed={b"ByteRange", b"Sig"} <= names)


_ACTIVE_PDF_NAMES = frozenset(
    {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"OpenAction", b"AA"}
)


# ---------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------

_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
# What must never follow an image's end marker: an archive, a web page or script, a PDF.
_TRAILER_MARKERS = (b"pk\x03\x04", b"<script", b"<html", b"<svg", b"<iframe", b"<?php", b"<!doctype html", b"%pdf-")


class _Unwalkable(Exception):
    """An image built from so many tiny blocks that walking it would tie up the server."""


def _judge_image(stream: Stream, scan: _Scan, *, name: str) -> _Verdict:
    label = ALLOWED_KINDS[scan.family].label
    width, height = _image_size(stream, scan.family, name=name)
    try:
        end = _IMAGE_END[scan.family](stream, scan)
    except _Unwalkable as error:
        raise refuse_corrupt(name, label) from error
    if end is not None and end < scan.size:
        _check_trailer(stream, end, name=name, label=label)
    return _Verdict(scan.family, width=width, height=height)


def _image_size(stream: Stream, kind: str, *, name: str) -> tuple[int, int]:
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice it; we want the refusal, not a log line.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(cast(IO[bytes], stream), formats=[_PILLOW_FORMATS[kind]]) as image:
                width, height = image.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise _too_many_pixels(name) from error
        except Exception as error:
            raise refuse_corrupt(name, ALLOWED_KINDS[kind].label) from error
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise _too_many_pixels(name, f" ({width:,} × {height:,} pixels)")
    return width, height


def _too_many_pixels(name: str, dimensions: str = "") -> UploadRefused:
    return UploadRefused(
        "image_too_large",
        f"“{name}” is too large an image{dimensions}. Images can be at most {MAX_IMAGE_SIDE:,} pixels on a side "
        f"and {MAX_IMAGE_PIXELS // 1_000_000} megapixels in all; resize it and upload it again.",
    )


def _check_trailer(stream: Stream, start: int, *, name: str, label: str) -> None:
    stream.seek(start)
    carry = b""
    while chunk := stream.read(CHUNK_SIZE):
        window = carry + chunk.lower()
        if any(marker in window for marker in _TRAILER_MARKERS):
            raise refuse_polyglot(name, f"is {label} with another file hidden after the end of the picture")
        carry = window[-16:]


# Each walker returns the offset just after the image's end marker, or None when it cannot find one (the
# image is then judged by Pillow and the ZIP check alone). Real images have a few thousand blocks at most.
MAX_IMAGE_BLOCKS = 500_000


def _png_end(stream: Stream, scan: _Scan) -> int | None:
    position = 8
    for _ in range(MAX_IMAGE_BLOCKS):
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            return None
        length, chunk_type = struct.unpack(">I4s", header)
        position += 12 + length
        if chunk_type == b"IEND":
            return position
    raise _Unwalkable


def _webp_end(stream: Stream, scan: _Scan) -> int | None:
    (riff_size,) = struct.unpack_from("<I", scan.head, 4)
    return 8 + riff_size + (riff_size & 1)


def _gif_end(stream: Stream, scan: _Scan) -> int | None:
    if len(scan.head) < 13:
        return None
    position = 13 + _gif_colour_table(scan.head[10])
    for _ in range(MAX_IMAGE_BLOCKS):
        stream.seek(position)
        block = stream.read(1)
        if block == b"\x3b":
            return position + 1
        if block == b"\x21":
            found = _skip_sub_blocks(stream, position + 2)
        elif block == b"\x2c":
            descriptor = stream.read(9)
            if len(descriptor) < 9:
                return None
            found = _skip_sub_blocks(stream, position + 11 + _gif_colour_table(descriptor[8]))
        else:
            return None
        if found is None:
            return None
        position = found
    raise _Unwalkable


def _gif_colour_table(flags: int) -> int:
    return 3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(stream: Stream, position: int) -> int | None:
    for _ in range(MAX_IMAGE_BLOCKS):
        stream.seek(position)
        length = stream.read(1)
        if not length:
            return None
        position += 1 + length[0]
        if length[0] == 0:
            return position
    raise _Unwalkable


def _jpeg_end(stream: Stream, scan: _Scan) -> int | None:
    """Walks segments by their lengths rather than searching for FFD9.

    A search would stop at the end of the EXIF thumbnail, which is a complete JPEG of its own.
    """
    position = 2
    for _ in range(MAX_IMAGE_BLOCKS):
        stream.seek(position)
        marker = _next_marker(stream)
        if marker is None:
            return None
        code, position = marker
        if code == 0xD9:
            return position
        if code == 0x01 or 0xD0 <= code <= 0xD7:
            continue
        length = stream.read(2)
        if len(length) < 2 or int.from_bytes(length) < 2:
            return None
        position += int.from_bytes(length)
        if code == 0xDA:
            found = _end_of_scan(stream, position)
            if found is None:
                return None
            position = found
    raise _Unwalkable


def _next_marker(stream: Stream) -> tuple[int, int] | None:
    if stream.read(1) != b"\xff":
        return None
    code = stream.read(1)
    while code == b"\xff":  # fill bytes may pad a marker
        code = stream.read(1)
    if not code:
        return None
    return code[0], stream.tell()


# Inside entropy-coded data FF is always followed by 00 (a stuffed byte), a restart marker or more FF fill.
_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _end_of_scan(stream: Stream, position: int) -> int | None:
    """Offset of the first marker after a scan's entropy-coded data."""
    stream.seek(position)
    carry = b""
    base = position
    while chunk := stream.read(CHUNK_SIZE):
        window = carry + chunk
        if found := _MARKER_AFTER_SCAN.search(window):
            return base + found.start()
        carry = window[-1:]
        base += len(window) - 1
    return None


_IMAGE_END: dict[str, Callable[[Stream, _Scan], int | None]] = {
    "png": _png_end,
    "jpeg": _jpeg_end,
    "gif": _gif_end,
    "webp": _webp_end,
}
