"""Decide what an uploaded file is from its bytes, never from its name or the browser's content type.

Three questions are answered here: what the first bytes say (`sniff_head`), whether the file carries a
ZIP central directory and whether that directory describes a decompression bomb (`read_zip_directory`,
which reads the directory records only and never inflates anything), and which ZIP-based document a
package is (`classify_package`: Word/Excel/PowerPoint, OpenDocument or a plain archive).
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Protocol, cast

CHUNK_SIZE = 64 * 1024
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE_TOTAL = 1024**3
MAX_MEMBER_RATIO = 200
RATIO_CHECK_FROM = 10 * 1024 * 1024
# zipfile reads the whole central directory into memory; 10,000 honest entries need well under this.
MAX_DIRECTORY_BYTES = 8 * 1024 * 1024
PACKAGE_PART_LIMIT = 1024 * 1024


class UploadRefused(Exception):
    """An upload we will not store; `message` is written for the person who uploaded it."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Stream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...


class FullReads:
    """Wraps a stream so every read returns all it asked for, short only at the end of the file.

    Raw streams may return short reads; zipfile, Pillow and our own record parsers would take one for a
    truncated file.
    """

    def __init__(self, raw: Stream) -> None:
        self._raw = raw

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        if size is None or size < 0:
            return data + b"".join(iter(self._raw.read, b""))
        while len(data) < size and (more := self._raw.read(size - len(data))):
            data += more
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


@dataclass(frozen=True)
class Kind:
    """How a kind is served and named; `aliases` are other extensions a file of this kind may keep."""

    content_type: str
    extension: str
    label: str
    aliases: frozenset[str] = frozenset()


_OOXML = "application/vnd.openxmlformats-officedocument"
_ODF = "application/vnd.oasis.opendocument"
_TEXT_EXTENSIONS = ("txt", "text", "log", "md", "xml", "yaml", "yml", "ini", "conf", "cfg", "toml", "tsv", "json")
_OTHER_TEXT = ("pem", "crt", "cer", "eml")

ALLOWED_KINDS: dict[str, Kind] = {
    "pdf": Kind("application/pdf", "pdf", "a PDF"),
    "png": Kind("image/png", "png", "a PNG image"),
    "jpeg": Kind("image/jpeg", "jpg", "a JPEG image", frozenset({"jpeg", "jpe"})),
    "gif": Kind("image/gif", "gif", "a GIF image"),
    "webp": Kind("image/webp", "webp", "a WebP image"),
    "docx": Kind(f"{_OOXML}.wordprocessingml.document", "docx", "a Word document"),
    "xlsx": Kind(f"{_OOXML}.spreadsheetml.sheet", "xlsx", "an Excel workbook"),
    "pptx": Kind(f"{_OOXML}.presentationml.presentation", "pptx", "a PowerPoint presentation"),
    "odt": Kind(f"{_ODF}.text", "odt", "an OpenDocument text document"),
    "ods": Kind(f"{_ODF}.spreadsheet", "ods", "an OpenDocument spreadsheet"),
    "odp": Kind(f"{_ODF}.presentation", "odp", "an OpenDocument presentation"),
    "zip": Kind("application/zip", "zip", "a ZIP archive"),
    "text": Kind("text/plain; charset=utf-8", "txt", "a text file", frozenset(_TEXT_EXTENSIONS + _OTHER_TEXT)),
    "csv": Kind("text/csv; charset=utf-8", "csv", "a CSV file"),
    "json": Kind("application/json", "json", "a JSON file"),
}
_SCRIPTS = "Web pages and SVG images can carry scripts, so we do not store them."
ALLOWED_SENTENCE = (
    "Evidence can be PDF, Word, Excel, PowerPoint, OpenDocument, images (PNG, JPEG, GIF, WebP), text, CSV, JSON or ZIP."
)


def refuse_type(name: str, what: str, advice: str = ALLOWED_SENTENCE) -> UploadRefused:
    return UploadRefused("type_not_allowed", f"“{name}” is {what}. {advice}")


def refuse_polyglot(name: str, detail: str) -> UploadRefused:
    return UploadRefused(
        "polyglot",
        f"“{name}” {detail}, so it could be opened as two different kinds of file. "
        "Export or save it again from the program that made it, then upload the new copy.",
    )


def refuse_corrupt(name: str, what: str) -> UploadRefused:
    return UploadRefused(
        "corrupt", f"“{name}” looks like {what} but is damaged and cannot be read. Save it again and re-upload it."
    )


# ---------------------------------------------------------------------------------------------------
# The first bytes
# ---------------------------------------------------------------------------------------------------

_ALLOWED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
)
_PROGRAM = "a program, and programs cannot be stored as evidence"
_OLD_OFFICE = "an older Microsoft Office file (such as .doc, .xls, .ppt or .msg) or a password-protected document"
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xfe\xed\xfa\xce", "a Mac program"),
    (b"\xfe\xed\xfa\xcf", "a Mac program"),
    (b"\xce\xfa\xed\xfe", "a Mac program"),
    (b"\xcf\xfa\xed\xfe", "a Mac program"),
    (b"\xca\xfe\xba\xbe", _PROGRAM),
    (b"\x00asm", _PROGRAM),
    (b"dex\n", "an Android program"),
    (b"#!", "a script"),
    (b"<?php", "a PHP script"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _OLD_OFFICE),
    (b"{\\rtf", "a Rich Text (RTF) document"),
    (b"%!PS", "a PostScript file"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an XZ archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"SQLite format 3\x00", "a database file"),
    (b"\x1aE\xdf\xa3", "a video file"),
    (b"OggS", "an audio or video file"),
    (b"fLaC", "an audio file"),
    (b"\xff\xfe", "text saved as UTF-16"),
    (b"\xfe\xff", "text saved as UTF-16"),
)
_ADVICE = {
    "text saved as UTF-16": "Save it as UTF-8 text (in Excel, choose “CSV UTF-8”) and upload it again.",
    "a Rich Text (RTF) document": "Save it as a Word document (.docx) or PDF and upload that.",
    "a PostScript file": "Save it as a PDF and upload that.",
    _OLD_OFFICE: "Save it as .docx, .xlsx or .pptx without a password (or as a PDF) and upload that.",
    "an HEIC photo": "Export it as JPEG or PNG (on an iPhone, choose Settings, Camera, Formats, Most Compatible).",
    "an AVIF image": "Export it as JPEG or PNG and upload that.",
}
_FTYP_BRANDS = {b"heic": "an HEIC photo", b"heix": "an HEIC photo", b"mif1": "an HEIC photo", b"avif": "an AVIF image"}


def sniff_head(head: bytes, *, name: str) -> str:
    """The family of file the first bytes announce: an image kind, "zip", "pdf" or "text" (still to be checked).

    Raises UploadRefused for every type we recognise and do not accept, naming it.
    """
    for magic, family in _ALLOWED_MAGIC:
        if head.startswith(magic):
            return _image_or_zip(head, family, name=name)
    if head[:4] == b"RIFF":
        return _riff(head, name=name)
    refusal = _refused_by_magic(head)
    if refusal:
        raise refuse_type(name, refusal, _ADVICE.get(refusal, ALLOWED_SENTENCE))
    markup = markup_kind(head)
    if markup:
        raise refuse_type(name, markup, f"{_SCRIPTS} {ALLOWED_SENTENCE}")
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return "text"


def _image_or_zip(head: bytes, family: str, *, name: str) -> str:
    # A PDF header this early makes PDF readers open the file as a PDF whatever came first. A ZIP is the
    # exception: its first member's stored bytes sit there, and a ZIP is only ever downloaded as an archive.
    if family != "zip" and b"%PDF-" in head[:1024]:
        raise refuse_polyglot(name, "is an image that also starts a PDF document")
    return family


def _riff(head: bytes, *, name: str) -> str:
    form = head[8:12]
    if form == b"WEBP":
        return "webp"
    what = {b"WAVE": "an audio file", b"AVI ": "a video file"}.get(form, "a file type we do not accept")
    raise refuse_type(name, what)


def _refused_by_magic(head: bytes) -> str | None:
    for magic, what in _REFUSED_MAGIC:
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "a video or audio file")
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return "a BMP image"
    return None


# Tags browsers treat as the start of a web page (WHATWG MIME sniffing, plus the usual suspects).
_HTML_ROOTS = frozenset(
    {
        "html", "head", "body", "script", "iframe", "h1", "div", "font", "table", "a", "style", "title", "b",
        "br", "p", "meta", "link", "img", "form", "object", "embed", "frameset", "frame", "xmp", "math",
    }
)  # fmt: skip
# Possessive quantifiers throughout: these run on attacker-chosen bytes, so no pattern may backtrack.
_PROLOG = re.compile(r"\s*+(?:<\?.*?\?>|<!--.*?-->|<!doctype(?:[^>\[]|\[[^\]]*+\])*+>)", re.DOTALL)
_ROOT = re.compile(r"\s*+<(?:[a-z_][\w.-]*+:)?+([a-z_][\w.-]*+)([^>]*+)")


def markup_kind(head: bytes) -> str | None:
    """Name the markup ("a web page", "an SVG image") when the document element is HTML or SVG, else None.

    Only the start of the file is judged, as browsers do: a log that merely quotes "<script>" is text.
    """
    text = head.decode("utf-8", "ignore").lstrip("\ufeff").lower()
    position = 0
    while match := _PROLOG.match(text, position):
        declaration = match.group(0).strip()
        if declaration.startswith("<!doctype"):
            if "svg" in declaration:
                return "an SVG image"
            if "html" in declaration:
                return "a web page"
        position = match.end()
    root = _ROOT.match(text, position)
    if root is None:
        return None
    tag, attributes = root.groups()
    if tag == "svg" or "http://www.w3.org/2000/svg" in attributes:
        return "an SVG image"
    if tag in _HTML_ROOTS or "http://www.w3.org/1999/xhtml" in attributes:
        return "a web page"
    return None


# ---------------------------------------------------------------------------------------------------
# ZIP central directory
# ---------------------------------------------------------------------------------------------------

_END = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_ENCRYPTED_FLAG = 0x1
_UTF8_FLAG = 0x800


@dataclass(frozen=True)
class ZipDirectory:
    names: tuple[str, ...]
    encrypted: tuple[str, ...]
    total_size: int


@dataclass(frozen=True)
class _DirectoryLocation:
    start: int
    length: int


def read_zip_directory(stream: Stream, size: int, *, name: str) -> ZipDirectory | None:
    """The members a ZIP central directory lists, or None when there is no readable directory.

    Raises UploadRefused("zip_bomb") as soon as the directory describes a bomb; nothing is inflated.
    """
    location = _locate_directory(stream, size)
    if location is None:
        return None
    if location.length > MAX_DIRECTORY_BYTES:
        raise _bomb(name, "has an archive index far larger than any real document needs")
    return _walk_directory(stream, location, name=name)


def _locate_directory(stream: Stream, size: int) -> _DirectoryLocation | None:
    tail_start = max(0, size - _END.size - 0xFFFF)
    stream.seek(tail_start)
    tail = stream.read(size - tail_start)
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or found + _END.size > len(tail):
        return None
    end_at = tail_start + found
    _sig, disk, directory_disk, _here, _total, length, offset, _comment = _END.unpack_from(tail, found)
    if disk or directory_disk:
        return None
    if 0xFFFFFFFF in (length, offset) or 0xFFFF in (_here, _total):
        zip64 = _zip64_location(stream, end_at)
        if zip64 is not None:
            end_at, length, offset = zip64
    # Data prepended to an archive shifts every offset; zipfile tolerates it, so we must look where it looks.
    start = end_at - length
    if start < 0 or offset > start:
        return None
    return _DirectoryLocation(start=start, length=length)


def _zip64_location(stream: Stream, end_at: int) -> tuple[int, int, int] | None:
    record_at = end_at - _ZIP64_LOCATOR.size - _ZIP64_END.size
    if record_at < 0:
        return None
    stream.seek(record_at)
    data = stream.read(_ZIP64_END.size + _ZIP64_LOCATOR.size)
    if len(data) != _ZIP64_END.size + _ZIP64_LOCATOR.size:
        return None
    record = _ZIP64_END.unpack_from(data)
    locator = _ZIP64_LOCATOR.unpack_from(data, _ZIP64_END.size)
    if record[0] != b"PK\x06\x06" or locator[0] != b"PK\x06\x07":
        return None
    return record_at, record[8], record[9]


def _walk_directory(stream: Stream, location: _DirectoryLocation, *, name: str) -> ZipDirectory | None:
    stream.seek(location.start)
    consumed = total = 0
    names: list[str] = []
    encrypted: list[str] = []
    while consumed < location.length:
        entry = _read_entry(stream)
        if entry is None:
            return None
        member, flags, compressed, uncompressed, record_size = entry
        consumed += record_size
        total += uncompressed
        names.append(member)
        if flags & _ENCRYPTED_FLAG:
            encrypted.append(member)
        _check_bomb(name, count=len(names), total=total, compressed=compressed, uncompressed=uncompressed)
    return ZipDirectory(names=tuple(names), encrypted=tuple(encrypted), total_size=total)


def _read_entry(stream: Stream) -> tuple[str, int, int, int, int] | None:
    fixed = stream.read(_CENTRAL.size)
    if len(fixed) != _CENTRAL.size:
        return None
    fields = _CENTRAL.unpack(fixed)
    if fields[0] != b"PK\x01\x02":
        return None
    flags, compressed, uncompressed = fields[5], fields[10], fields[11]
    name_length, extra_length, comment_length = fields[12:15]
    variable = stream.read(name_length + extra_length + comment_length)
    if len(variable) != name_length + extra_length + comment_length:
        return None
    if 0xFFFFFFFF in (compressed, uncompressed):
        extra = variable[name_length : name_length + extra_length]
        compressed, uncompressed = _zip64_sizes(extra, compressed, uncompressed)
    member = variable[:name_length].decode("utf-8" if flags & _UTF8_FLAG else "cp437", "replace")
    return member, flags, compressed, uncompressed, _CENTRAL.size + len(variable)


def _zip64_sizes(extra: bytes, compressed: int, uncompressed: int) -> tuple[int, int]:
    position = 0
    while position + 4 <= len(extra):
        header_id, length = struct.unpack_from("<HH", extra, position)
        if header_id == 0x0001:
            values = list(struct.unpack_from(f"<{min(length, len(extra) - position - 4) // 8}Q", extra, position + 4))
            # Only the fields that overflowed are present, in this order.
            if uncompressed == 0xFFFFFFFF and values:
                uncompressed = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            break
        position += 4 + length
    return compressed, uncompressed


def _check_bomb(name: str, *, count: int, total: int, compressed: int, uncompressed: int) -> None:
    if count > MAX_ARCHIVE_MEMBERS:
        raise _bomb(name, f"contains more than {MAX_ARCHIVE_MEMBERS:,} files")
    if total > MAX_ARCHIVE_TOTAL:
        raise _bomb(name, "would unpack to more than 1 GB")
    if uncompressed > RATIO_CHECK_FROM and uncompressed > compressed * MAX_MEMBER_RATIO:
        raise _bomb(name, f"contains a file that would unpack to over {MAX_MEMBER_RATIO} times its stored size")


def _bomb(name: str, detail: str) -> UploadRefused:
    return UploadRefused(
        "zip_bomb",
        f"“{name}” {detail}, which is how archive bombs crash servers. "
        "If it is genuine, split it into smaller archives and upload those.",
    )


# ---------------------------------------------------------------------------------------------------
# ZIP-based documents
# ---------------------------------------------------------------------------------------------------

_OOXML_MAIN = {
    f"{_OOXML}.wordprocessingml.document.main+xml": "docx",
    f"{_OOXML}.wordprocessingml.template.main+xml": "docx",
    f"{_OOXML}.spreadsheetml.sheet.main+xml": "xlsx",
    f"{_OOXML}.spreadsheetml.template.main+xml": "xlsx",
    f"{_OOXML}.presentationml.presentation.main+xml": "pptx",
    f"{_OOXML}.presentationml.template.main+xml": "pptx",
    f"{_OOXML}.presentationml.slideshow.main+xml": "pptx",
}
_OOXML_FOLDER = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
_ODF_MIMETYPES = {f"{_ODF}.text": "odt", f"{_ODF}.spreadsheet": "ods", f"{_ODF}.presentation": "odp"}
_CONTENT_TYPE = re.compile(rb'ContentType\s*=\s*"([^"]+)"')


@dataclass(frozen=True)
class Package:
    kind: str
    signed: bool = False
    flags: tuple[str, ...] = ()


def classify_package(stream: Stream, directory: ZipDirectory, *, name: str) -> Package:
    """Which ZIP-based kind this is; refuses macro documents and office files with encrypted parts."""
    names = set(directory.names)
    is_ooxml = "[Content_Types].xml" in names
    is_odf = "mimetype" in names
    if is_ooxml and is_odf:
        raise refuse_polyglot(name, "is built as both a Microsoft Office and an OpenDocument file")
    if not (is_ooxml or is_odf):
        return Package("zip", flags=("encrypted_archive",) if directory.encrypted else ())
    if directory.encrypted:
        raise UploadRefused(
            "encrypted_archive",
            f"“{name}” has password-protected parts, so it cannot be checked. "
            "Remove the password, save it again and upload the new copy.",
        )
    reader = _package_reader(stream, name=name)
    return _ooxml(reader, names, name=name) if is_ooxml else _odf(reader, names)


def _package_reader(stream: Stream, *, name: str) -> Callable[[str], bytes]:
    def read_part(part: str) -> bytes:
        try:
            with zipfile.ZipFile(cast(IO[bytes], stream)) as archive, archive.open(part) as member:
                return member.read(PACKAGE_PART_LIMIT)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, NotImplementedError) as error:
            raise refuse_corrupt(name, "an office document") from error

    return read_part


def _ooxml(read_part: Callable[[str], bytes], names: set[str], *, name: str) -> Package:
    declared = _CONTENT_TYPE.findall(read_part("[Content_Types].xml"))
    content_types = {value.decode("utf-8", "replace") for value in declared}
    if any("macroenabled" in value.lower() or "vbaproject" in value.lower() for value in content_types) or any(
        member.lower().endswith("vbaproject.bin") for member in names
    ):
        raise refuse_type(
            name,
            "an Office file with macros, which run code when opened",
            "Save it as an ordinary .docx, .xlsx or .pptx (without macros) and upload that.",
        )
    kinds = {_OOXML_MAIN[value] for value in content_types if value in _OOXML_MAIN}
    if len(kinds) > 1:
        raise refuse_polyglot(name, "claims to be more than one kind of Office document")
    if not kinds:
        return Package("zip")
    kind = kinds.pop()
    if not any(member.startswith(_OOXML_FOLDER[kind]) for member in names):
        raise refuse_corrupt(name, ALLOWED_KINDS[kind].label)
    return Package(kind, signed=any(member.startswith("_xmlsignatures/") for member in names))


def _odf(read_part: Callable[[str], bytes], names: set[str]) -> Package:
    mimetype = read_part("mimetype").decode("ascii", "replace").strip()
    kind = _ODF_MIMETYPES.get(mimetype, "zip")
    return Package(kind, signed=kind != "zip" and "META-INF/documentsignatures.xml" in names)
