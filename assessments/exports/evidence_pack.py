"""The evidence pack for an auditor: a ZIP with each evidence file under framework/control/, and an index
(index.html to browse, index.csv to sort) of every item, including links and written notes.

What goes in is read first, in two queries (items, then their controls); the files are then streamed one
chunk at a time from storage into the archive, so memory holds one chunk whatever the size of the pack.
A file supports every control it is mapped to, so it appears once under each of them. The index is
written last, so it can say truthfully what the archive holds: the SHA-256 of each file as written, and
any file that storage could not give us.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import Storage, default_storage, storages
from django.db.models import Exists, OuterRef
from django.utils.html import escape, format_html, format_html_join

from accounts.models import Organisation
from assessments.exports.csv_exports import spreadsheet_text
from assessments.exports.zipstream import ZipStream
from compliance.models import Framework
from config.formatting import long_date
from evidence.kinds import EvidenceType
from evidence.models import Evidence, EvidenceForm, EvidenceStatus
from evidence.selectors import current_evidence_q

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
SPILL_BYTES = 1024 * 1024
ZIP_CONTENT_TYPE = "application/zip"
SCOPES = {
    "current": "Current evidence: submitted or accepted, within its valid-until date",
    "accepted": "Accepted evidence only, within its valid-until date",
}
DEFAULT_SCOPE = "current"
UNMAPPED_FOLDER = "not-mapped-to-a-control"
# Formats that are compressed already: deflating them again costs time and saves nothing.
STORED_KINDS = frozenset({"pdf", "png", "jpeg", "gif", "webp", "docx", "xlsx", "pptx", "odt", "ods", "odp", "zip"})
INDEX_COLUMNS = (
    "Reference",
    "Title",
    "Type",
    "Form",
    "Status",
    "Collected on",
    "Valid until",
    "Controls",
    "In this pack",
    "Size (bytes)",
    "SHA-256",
)
# Characters no file system accepts in a folder or file name, and control characters.
UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
PART_LENGTH = 80
# Between the paths of a file filed under several controls: one a line (control titles hold semicolons).
PATH_SEPARATOR = "\n"


@dataclass(frozen=True)
class PackOptions:
    framework: Framework | None = None
    scope: str = DEFAULT_SCOPE


@dataclass(frozen=True, slots=True)
class ControlRef:
    framework_slug: str
    framework_position: int
    ref: str
    title: str
    position: int

    def __str__(self) -> str:
        return f"{self.framework_slug} {self.ref}"

    @property
    def folder(self) -> str:
        return f"{safe_part(self.framework_slug)}/{safe_part(f'{self.ref} {self.title}')}"


@dataclass(slots=True)
class PackItem:
    pk: int
    title: str
    evidence_type: str
    form: str
    status: str
    collected_on: date
    valid_until: date | None
    url: str
    note: str
    file_name: str  # the stored name, "" for links and notes
    original_name: str
    file_kind: str
    size: int
    controls: list[ControlRef] = field(default_factory=list)
    # Filled in while the pack is written.
    paths: list[str] = field(default_factory=list)
    written_sha256: str = ""
    written_size: int = 0
    missing: bool = False

    @property
    def reference(self) -> str:
        return f"#{self.pk}"

    @property
    def in_pack(self) -> str:
        if self.form == EvidenceForm.LINK:
            return self.url
        if self.form == EvidenceForm.NOTE:
            return self.note
        if self.missing:
            return "The file is missing from storage and could not be added."
        return PATH_SEPARATOR.join(self.paths)


@dataclass(frozen=True)
class EvidencePack:
    organisation: Organisation
    options: PackOptions
    items: list[PackItem]
    generated_on: date

    @property
    def filename(self) -> str:
        parts = ["evidence-pack", self.organisation.slug]
        if self.options.framework is not None:
            parts.append(self.options.framework.slug)
        return f"{'-'.join(parts)}-{self.generated_on.isoformat()}.zip"

    def entries(self) -> list[tuple[str, PackItem]]:
        """(path in the archive, item) for every file, in framework and control order."""
        placed: list[tuple[tuple[int, int, int], str, PackItem]] = []
        for item in self.items:
            if not item.file_name:
                continue
            name = safe_part(f"{item.pk}-{item.original_name or 'evidence'}")
            if not item.controls:
                placed.append(((1 << 30, 0, item.pk), f"{UNMAPPED_FOLDER}/{name}", item))
            for control in item.controls:
                key = (control.framework_position, control.position, item.pk)
                placed.append((key, f"{control.folder}/{name}", item))
        placed.sort(key=lambda entry: entry[0])
        return [(path, item) for _key, path, item in placed]


def safe_part(text: str) -> str:
    """A folder or file name every operating system will extract: no separators, no control characters."""
    cleaned = " ".join(UNSAFE.sub(" ", text).split()).strip(". ")
    if len(cleaned) > PART_LENGTH:
        _stem, dot, extension = cleaned.rpartition(".")
        keep = PART_LENGTH - len(extension) - 1 if dot and len(extension) <= 5 else PART_LENGTH
        cleaned = cleaned[:keep].rstrip(". ") + (f".{extension}" if dot and len(extension) <= 5 else "")
    return cleaned or "item"


def pack_for(organisation: Organisation, options: PackOptions, *, today: date | None = None) -> EvidencePack:
    """The items in the pack and their controls: two queries, however many items."""
    today = today or date.today()
    items = Evidence.objects.filter(organisation=organisation).filter(current_evidence_q(today))
    if options.scope == "accepted":
        items = items.filter(status=EvidenceStatus.ACCEPTED)
    links = Evidence.controls.through.objects.filter(control__retired_at__isnull=True)
    if options.framework is not None:
        in_framework = links.filter(evidence=OuterRef("pk"), control__framework=options.framework)
        items = items.filter(Exists(in_framework))
        links = links.filter(control__framework=options.framework)
    rows = items.order_by("pk").values_list(
        "pk",
        "title",
        "evidence_type",
        "form",
        "status",
        "collected_on",
        "valid_until",
        "url",
        "note",
        "current_revision__file",
        "current_revision__original_name",
        "current_revision__file_kind",
        "current_revision__size",
    )
    found: dict[int, PackItem] = {}
    types, statuses = dict(EvidenceType.choices), dict(EvidenceStatus.choices)
    for pk, title, kind, form, status, collected, valid, url, note, name, original, file_kind, size in rows:
        found[pk] = PackItem(
            pk=pk,
            title=title,
            evidence_type=str(types.get(kind, kind)),
            form=form,
            status=str(statuses.get(status, status)),
            collected_on=collected,
            valid_until=valid,
            url=url,
            note=note,
            file_name=(name or "") if form == EvidenceForm.FILE else "",
            original_name=original or "",
            file_kind=file_kind or "",
            size=size or 0,
        )
    controls: dict[int, list[ControlRef]] = defaultdict(list)
    for evidence_id, slug, framework_position, ref, title, position in (
        links.filter(evidence__in=items.values("pk"))
        .order_by("control__framework__position", "control__position")
        .values_list(
            "evidence_id",
            "control__framework__slug",
            "control__framework__position",
            "control__ref",
            "control__title",
            "control__position",
        )
    ):
        controls[evidence_id].append(ControlRef(slug, framework_position, ref, title, position))
    for pk, item in found.items():
        item.controls = controls.get(pk, [])
    return EvidencePack(organisation=organisation, options=options, items=list(found.values()), generated_on=today)


class _Tally:
    """The checksum and length of a file as it passes into the archive."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def chunks(self, handle: Any, first: bytes) -> Iterator[bytes]:
        chunk = first
        while chunk:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk
            chunk = handle.read(CHUNK_BYTES)


def pack_storage() -> Storage:
    """The default storage, read so that memory stays bounded. On S3, django-storages downloads a file
    into a SpooledTemporaryFile that by default never spills to disk, so a 50 MB file would sit in memory
    whole: the pack's copy of the storage spills past SPILL_BYTES instead."""
    config: Any = settings.STORAGES["default"]
    if "s3" not in str(config["BACKEND"]).lower():
        return default_storage
    return storages.create_storage({**config, "OPTIONS": {**config.get("OPTIONS", {}), "max_memory_size": SPILL_BYTES}})


def pack_stream(pack: EvidencePack, *, storage: Storage | None = None) -> Iterator[bytes]:
    """The archive's bytes, as they are written. Reads no database: everything was read by `pack_for`."""
    storage = storage or pack_storage()
    archive = ZipStream()
    for path, item in pack.entries():
        if item.missing:
            continue
        handle = None
        try:
            handle = storage.open(item.file_name, "rb")
            first = handle.read(CHUNK_BYTES)
        # Local storage raises OSError, S3 its client's own errors: either way the file cannot be had,
        # and one lost file should not cost the auditor the rest of the pack.
        except Exception:
            logger.warning("Evidence pack: could not read %s", item.file_name, exc_info=True)
            if handle is not None:
                handle.close()
            item.missing = True
            continue
        tally = _Tally()
        with handle:
            yield from archive.add(
                path,
                tally.chunks(handle, first),
                size=item.size or None,
                compress=item.file_kind not in STORED_KINDS,
                modified=item.collected_on,
            )
        item.paths.append(path)
        item.written_sha256 = tally.digest.hexdigest()
        item.written_size = tally.size
    yield from archive.add("index.csv", index_csv(pack), modified=pack.generated_on)
    yield from archive.add("index.html", index_html(pack), modified=pack.generated_on)
    yield from archive.close()


def _index_rows(pack: EvidencePack) -> Iterator[list[str]]:
    for item in pack.items:
        has_file = item.form == EvidenceForm.FILE and not item.missing and item.paths
        yield [
            item.reference,
            item.title,
            item.evidence_type,
            EvidenceForm(item.form).label if item.form in EvidenceForm.values else item.form,
            item.status,
            long_date(item.collected_on),
            long_date(item.valid_until) if item.valid_until else "",
            "; ".join(str(control) for control in item.controls),
            item.in_pack,
            str(item.written_size) if has_file else "",
            item.written_sha256 if has_file else "",
        ]


def _batched(pieces: Iterable[str]) -> Iterator[bytes]:
    """Text in chunks of about CHUNK_BYTES: an index is written as it is made, never held whole."""
    pending: list[str] = []
    size = 0
    for piece in pieces:
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")


class _Echo:
    """csv.writer's file: hands each written row straight back."""

    def write(self, value: str) -> str:
        return value


def index_csv(pack: EvidencePack) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    # With a byte order mark, Excel opens the file as UTF-8 rather than guessing.
    lines = chain(
        ["\ufeff", writer.writerow(INDEX_COLUMNS)],
        (writer.writerow(map(spreadsheet_text, row)) for row in _index_rows(pack)),
    )
    return _batched(lines)


def _html_cell(item: PackItem, column: str, value: str) -> str:
    if column == "In this pack" and item.paths:
        return format_html_join("<br>", '<a href="{}">{}</a>', ((quote(path), path) for path in item.paths))
    if column == "In this pack" and item.form == EvidenceForm.LINK and value:
        return format_html('<a href="{}" rel="noreferrer">{}</a>', value, value)
    return escape(value).replace("\n", "<br>")


def _html_rows(pack: EvidencePack) -> Iterator[str]:
    for item, cells in zip(pack.items, _index_rows(pack), strict=True):
        row = "".join(
            f"<td>{_html_cell(item, column, value)}</td>" for column, value in zip(INDEX_COLUMNS, cells, strict=True)
        )
        yield f"<tr>{row}</tr>\n"


def index_html(pack: EvidencePack) -> Iterator[bytes]:
    scope = SCOPES.get(pack.options.scope, "")
    framework = pack.options.framework
    header = "".join(format_html("<th>{}</th>", column) for column in INDEX_COLUMNS)
    summary = format_html(
        "<p>{} · Generated on {} · {}{} · {} items</p>",
        pack.organisation.name,
        long_date(pack.generated_on),
        scope,
        f" · {framework.name} {framework.version}" if framework else "",
        len(pack.items),
    )
    head = f"""<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>{escape(f"Evidence pack: {pack.organisation.name}")}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border: 1px solid #c8d1cc; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }}
th {{ background: #1f4e3d; color: #fff; position: sticky; top: 0; }}
td:last-child {{ font-family: monospace; font-size: 0.75rem; word-break: break-all; }}
</style></head>
<body>
<h1>Evidence pack</h1>
{summary}
<p>Each file sits in a folder per framework and control, and appears under every control it supports.
Links and written notes have no file: their address or text is given here. SHA-256 is of the file as
written into this pack.</p>
<table><thead><tr>{header}</tr></thead><tbody>
"""
    return _batched(chain([head], _html_rows(pack), ["</tbody></table>\n</body></html>\n"]))
