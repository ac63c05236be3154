"""Plain text from an evidence file, for duplicate detection and the assistant's search.

Extraction is best effort and bounded: at most TEXT_LIMIT characters, 200 PDF pages and 20 MB of XML
read from an office package. A file whose text cannot be read yields "" rather than an error, because an
upload must never fail for that reason.
"""

from __future__ import annotations

import codecs
import html
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from itertools import islice
from typing import IO, cast

from django.core.files import File
from pypdf import PdfReader

from evidence.intake.sniffing import FullReads, Stream

TEXT_LIMIT = 200_000
PDF_PAGE_LIMIT = 200
XML_READ_LIMIT = 20 * 1024 * 1024
# Small reads keep the short-lived objects made while collapsing each piece well under a megabyte.
READ_SIZE = 16 * 1024

_WHITESPACE = re.compile(r"\s+")
# Elements that separate words (paragraphs, cells, breaks, tabs, shared strings, ODF spaces) become a
# space; every other tag, declaration or comment goes, so runs split mid-word ("Hel</w:t>...<w:t>lo") join.
# Constant replacements and possessive quantifiers keep this in C and free of backtracking on hostile XML.
_WORD_BREAK = re.compile(r"</?(?:[\w.-]++:)?+(?:p|h|br|cr|tab|tc|si|s|line-break|table-cell)(?![\w.-])[^<>]*+>")
_TAG = re.compile(r"<[^<>]*+>")
# Longer than this, an unclosed "<" or "&" is not a tag or entity still arriving, just text.
_LONGEST_TAG = 64 * 1024
_LONGEST_ENTITY = 12
_SLIDE = re.compile(r"ppt/slides/slide(\d+)\.xml")


def extract_text(path_or_file: str | os.PathLike[str] | IO[bytes] | File, kind: str) -> str:
    """Whitespace-collapsed text of a file of the given kind (an ALLOWED_KINDS key), or ""."""
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "rb") as handle:
            return _extract(handle, kind)
    return _extract(FullReads(cast(Stream, path_or_file)), kind)


def _extract(stream: Stream, kind: str) -> str:
    pieces = _EXTRACTORS.get(kind)
    if pieces is None:
        return ""
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _collect(pieces(stream))
    except Exception:
        # Hostile or damaged files make parsers fail in many ways; the upload must still go through.
        return ""


def _collect(pieces: Generator[str]) -> str:
    # Each piece is collapsed on arrival, never the joined whole: re.sub on 200,000 words would allocate
    # an object per match, several megabytes for a text that is itself a fraction of one.
    collected: list[str] = []
    length = 0
    ends_with_space = True
    with closing(pieces):
        for piece in pieces:
            piece = _WHITESPACE.sub(" ", piece)
            if ends_with_space:
                piece = piece.lstrip(" ")
            if not piece:
                continue
            collected.append(piece)
            length += len(piece)
            ends_with_space = piece.endswith(" ")
            if length > TEXT_LIMIT:
                break
    return "".join(collected)[:TEXT_LIMIT].rstrip(" ")


def _plain_text(stream: Stream) -> Generator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    while chunk := stream.read(READ_SIZE):
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


def _pdf_text(stream: Stream) -> Generator[str]:
    reader = PdfReader(cast(IO[bytes], stream))
    for page in islice(reader.pages, PDF_PAGE_LIMIT):
        yield page.extract_text() + "\n"


def _package_text(choose_parts: Callable[[list[str]], list[str]]) -> Callable[[Stream], Generator[str]]:
    def pieces(stream: Stream) -> Generator[str]:
        with zipfile.ZipFile(cast(IO[bytes], stream)) as archive:
            yield from _xml_text(_read_parts(archive, choose_parts(archive.namelist())))

    return pieces


def _read_parts(archive: zipfile.ZipFile, parts: list[str]) -> Iterator[bytes]:
    # The cap is on bytes actually inflated, so a part that lies about its size in the directory gains nothing.
    budget = XML_READ_LIMIT
    for part in parts:
        with archive.open(part) as member:
            while budget > 0 and (chunk := member.read(min(READ_SIZE, budget))):
                budget -= len(chunk)
                yield chunk
        yield b" "


def _xml_text(chunks: Iterable[bytes]) -> Generator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    started = False
    for chunk in chunks:
        pending += decoder.decode(chunk)
        if not started and pending.strip():
            # Encrypted OpenDocument parts are ciphertext; reading them as XML would index noise.
            if not pending.lstrip("\ufeff \t\r\n").startswith("<"):
                return
            started = True
        cut = _complete_upto(pending)
        yield _strip_tags(pending[:cut])
        pending = pending[cut:]
    yield _strip_tags(pending + decoder.decode(b"", final=True))


def _complete_upto(text: str) -> int:
    """How much of `text` can be stripped now without cutting a tag or an entity in half."""
    cut = len(text)
    tag = text.rfind("<", max(0, cut - _LONGEST_TAG))
    if tag >= 0 and text.find(">", tag) < 0:
        cut = tag
    entity = text.rfind("&", max(0, cut - _LONGEST_ENTITY), cut)
    if entity >= 0 and text.find(";", entity, cut) < 0:
        cut = entity
    return cut


def _strip_tags(xml: str) -> str:
    return html.unescape(_TAG.sub("", _WORD_BREAK.sub(" ", xml)))


def _slides(names: list[str]) -> list[str]:
    numbered = [(int(match.group(1)), name) for name in names if (match := _SLIDE.fullmatch(name))]
    return [name for _number, name in sorted(numbered)]


def _present(*wanted: str) -> Callable[[list[str]], list[str]]:
    return lambda names: [name for name in wanted if name in names]


_EXTRACTORS: dict[str, Callable[[Stream], Generator[str]]] = {
    "pdf": _pdf_text,
    "docx": _package_text(_present("word/document.xml")),
    "xlsx": _package_text(_present("xl/sharedStrings.xml")),
    "pptx": _package_text(_slides),
    "odt": _package_text(_present("content.xml")),
    "ods": _package_text(_present("content.xml")),
    "odp": _package_text(_present("content.xml")),
    "text": _plain_text,
    "csv": _plain_text,
    "json": _plain_text,
}
