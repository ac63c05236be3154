"""Building an organisation export into a file: data as JSON, stored files streamed in, then the manifest.

Rows are read in batches of `BATCH` and written one JSON line at a time; stored files are copied in
chunks of `CHUNK`. Memory therefore holds one batch and one chunk, whatever the organisation's size. Every
member's size and SHA-256 are taken as it is written, so the manifest costs no second read.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Any

from django.core.files.storage import Storage
from django.db import models
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.portability import records
from accounts.portability.format import (
    EXCLUDED_MODELS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    NATURAL_KEYS,
    README,
    USER_LABEL,
    ModelSpec,
    Ref,
    Relation,
    data_member,
    file_member,
    greenlight_version,
    join_table,
    model_specs,
)
from accounts.portability.readme import readme_text

logger = logging.getLogger(__name__)

BATCH = 1000
CHUNK = 1024 * 1024
# Already compressed: deflating them again costs time and saves nothing.
STORED_AS_IS = frozenset(
    {".zip", ".gz", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"}
)

Progress = Callable[[int, str], None]


@dataclass
class ExportSummary:
    counts: dict[str, int]
    files: int
    missing_files: list[str] = field(default_factory=list)
    left_for_next_export: dict[str, int] = field(default_factory=dict)


class _Member:
    """One member being written: passes bytes on and keeps their count and SHA-256."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.size += len(data)
        self.digest.update(data)


class _Archive:
    def __init__(self, archive: zipfile.ZipFile, when: datetime) -> None:
        self._archive = archive
        local = timezone.localtime(when)
        self._date_time = (local.year, local.month, local.day, local.hour, local.minute, local.second)
        self.entries: list[dict[str, Any]] = []

    @contextmanager
    def member(self, name: str, *, compress: bool = True, listed: bool = True) -> Iterator[_Member]:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16  # an ordinary readable file once extracted
        # Sizes are not known before a member is written: ZIP64 headers let any member pass 4 GiB.
        with self._archive.open(info, mode="w", force_zip64=True) as handle:
            member = _Member(handle)
            yield member
        if listed:
            self.entries.append({"path": name, "size": member.size, "sha256": member.digest.hexdigest()})


class _References:
    """Writes relations: people by email and the library by natural key, loaded as they are first met."""

    def __init__(self) -> None:
        self.users: dict[int, tuple[str, str]] = {}
        self._library: dict[str, dict[int, list[str]]] = {}

    def load_users(self, ids: Iterable[int]) -> None:
        wanted = {pk for pk in ids if pk is not None and pk not in self.users}
        if wanted:
            for pk, email, full_name in User.objects.filter(pk__in=wanted).values_list("pk", "email", "full_name"):
                self.users[pk] = (email.lower(), full_name)

    def write(self, relation: Relation, value: Any) -> Any:
        if value is None:
            return None
        if relation.kind == Ref.USER:
            return self.users[value][0]
        if relation.kind == Ref.LIBRARY:
            return self._library_keys(relation.target)[value]
        return value  # the organisation or another exported row: its original id

    def _library_keys(self, label: str) -> dict[int, list[str]]:
        if label not in self._library:
            from django.apps import apps

            model = apps.get_model(label)
            paths = NATURAL_KEYS[label]
            self._library[label] = {
                row[0]: list(row[1:]) for row in model._base_manager.values_list("pk", *paths).iterator()
            }
        return self._library[label]


class _Tracker:
    """Progress in percent, reported only when it moves: rows take the first 60%, files the next 35%."""

    def __init__(self, report: Progress | None, total_rows: int) -> None:
        self._report = report
        self._total_rows = max(total_rows, 1)
        self._rows = 0
        self._last: tuple[int, str] | None = None

    def _send(self, percent: int, message: str) -> None:
        if self._report is not None and (percent, message) != self._last:
            self._last = (percent, message)
            self._report(percent, message)

    def rows(self, done: int, message: str) -> None:
        self._rows += done
        self._send(5 + 55 * min(self._rows, self._total_rows) // self._total_rows, message)

    def files(self, done: int, total: int) -> None:
        self._send(60 + 35 * done // max(total, 1), f"Copying stored files: {done:,} of {total:,}")


def build_export(organisation: Organisation, out: IO[bytes], *, progress: Progress | None = None) -> ExportSummary:
    """Write the organisation's export as a ZIP to `out` (a file open for writing in binary)."""
    exported_at = timezone.now()
    specs = model_specs()
    if progress is not None:
        progress(1, "Counting what there is to export")
    totals = {spec.label: _rows(spec, organisation).count() for spec in specs}
    tracker = _Tracker(progress, sum(totals.values()))
    references = _References()
    files: dict[str, tuple[Storage, str]] = {}
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, mode="w", allowZip64=True) as archive_file:
        archive = _Archive(archive_file, exported_at)
        with archive.member(README) as member:
            member.write(readme_text(organisation_name=organisation.name, exported_at=exported_at).encode())
        written_ids: dict[str, set[int]] = {}
        too_new: dict[str, int] = {}
        for spec in specs:
            counts[spec.label], skipped = _write_model(
                archive, spec, organisation, references, files, tracker, written_ids
            )
            if skipped:
                too_new[spec.label] = skipped
        counts[USER_LABEL] = _write_users(archive, references)
        missing = _write_files(archive, files, tracker)
        manifest = {
            "format": {"name": FORMAT_NAME, "version": FORMAT_VERSION},
            "greenlight": greenlight_version(),
            "exported_at": exported_at.isoformat(),
            "organisation": {"name": organisation.name, "slug": organisation.slug},
            "counts": counts,
            "excluded": EXCLUDED_MODELS,
            "missing_files": missing,
            # Rows made while the export was written that refer to rows written before them: in the next one.
            "left_for_next_export": too_new,
            "files": archive.entries,
        }
        if progress is not None:
            progress(96, "Writing the manifest")
        # The manifest lists every other member; it cannot list itself.
        with archive.member(MANIFEST, listed=False) as member:
            member.write(json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    return ExportSummary(
        counts=counts, files=len(files) - len(missing), missing_files=missing, left_for_next_export=too_new
    )


def _rows(spec: ModelSpec, organisation: Organisation) -> models.QuerySet[Any]:
    manager = spec.model._base_manager  # never a manager that hides rows
    if spec.is_tenant:
        return manager.filter(organisation=organisation)
    return manager.filter(pk=organisation.pk)


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    while batch := list(itertools.islice(rows, BATCH)):
        yield batch


def _write_model(
    archive: _Archive,
    spec: ModelSpec,
    organisation: Organisation,
    references: _References,
    files: dict[str, tuple[Storage, str]],
    tracker: _Tracker,
    written_ids: dict[str, set[int]],
) -> tuple[int, int]:
    """Write one model's rows; returns how many were written and how many were left out as too new.

    Rows are read model by model while people keep working, so a row may refer to one made after its
    model was written. Such a row is left for the next export (and so are rows referring to it), so the
    export never refers to a row it does not hold."""
    columns = ["pk", *(f.attname for f in spec.fields)]
    rows = _rows(spec, organisation).order_by("pk").values_list(*columns).iterator(chunk_size=BATCH)
    user_columns = [
        i
        for i, f in enumerate(spec.fields, start=1)
        if spec.relations.get(f.name, None) and spec.relations[f.name].kind == Ref.USER
    ]
    earlier = [
        (i, written_ids[spec.relations[f.name].target])
        for i, f in enumerate(spec.fields, start=1)
        if f.name in spec.relations
        and spec.relations[f.name].target in written_ids
        and spec.relations[f.name].target != spec.label
    ]
    kept = written_ids.setdefault(spec.label, set())
    written = skipped = 0
    with archive.member(data_member(spec.label)) as member:
        member.write(b"[")
        for batch in _batches(rows):
            pks = [row[0] for row in batch]
            many = {m2m.name: _many_to_many(m2m, pks) for m2m in spec.many_to_many}
            references.load_users(row[i] for row in batch for i in user_columns)
            for m2m in spec.many_to_many:
                if spec.relations[m2m.name].kind == Ref.USER:
                    references.load_users(pk for targets in many[m2m.name].values() for pk in targets)
            for row in batch:
                if any(row[i] is not None and row[i] not in ids for i, ids in earlier):
                    skipped += 1
                    continue
                record = {"pk": row[0], "fields": _fields(spec, row, many, references, files)}
                member.write(b"\n" if written == 0 else b",\n")
                member.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
                kept.add(row[0])
                written += 1
            tracker.rows(len(batch), f"Exporting {spec.model._meta.verbose_name_plural}")
        member.write(b"\n]\n" if written else b"]\n")
    return written, skipped


def _many_to_many(m2m: models.ManyToManyField, pks: list[int]) -> dict[int, list[int]]:
    through, source, target = join_table(m2m)
    linked: dict[int, list[int]] = defaultdict(list)
    for owner, other in through._base_manager.filter(**{f"{source}__in": pks}).values_list(source, target):
        linked[owner].append(other)
    return linked


def _fields(
    spec: ModelSpec,
    row: tuple[Any, ...],
    many: dict[str, dict[int, list[int]]],
    references: _References,
    files: dict[str, tuple[Storage, str]],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f, value in zip(spec.fields, row[1:], strict=True):
        relation = spec.relations.get(f.name)
        if relation is not None:
            values[f.name] = references.write(relation, value)
        elif isinstance(f, models.FileField):
            values[f.name] = _file(f, value, files)
        else:
            values[f.name] = records.encode(f, value)
    for m2m in spec.many_to_many:
        relation = spec.relations[m2m.name]
        # Sorted, so the same data always makes the same file (and the same checksum).
        values[m2m.name] = sorted(references.write(relation, pk) for pk in many[m2m.name].get(row[0], []))
    return values


def _file(file_field: models.FileField, name: str | None, files: dict[str, tuple[Storage, str]]) -> str:
    if not name:
        return ""
    member = file_member(name)
    files[member] = (file_field.storage, name)
    return member


def _write_users(archive: _Archive, references: _References) -> int:
    people = sorted(references.users.values())
    with archive.member(data_member(USER_LABEL)) as member:
        member.write(
            json.dumps(
                [{"email": email, "full_name": full_name} for email, full_name in people], indent=1, ensure_ascii=False
            ).encode()
        )
    return len(people)


def _write_files(archive: _Archive, files: dict[str, tuple[Storage, str]], tracker: _Tracker) -> list[str]:
    """Copy each stored file in chunks. One that has gone from storage is listed as missing, not fatal: the
    rest of the organisation's data is still worth having."""
    missing: list[str] = []
    for done, (member_name, (storage, name)) in enumerate(sorted(files.items()), start=1):
        try:
            handle = storage.open(name, "rb")
        except (FileNotFoundError, OSError):
            logger.warning("Stored file %s is missing; the export lists it as missing.", name)
            missing.append(member_name)
            continue
        with (
            handle,
            archive.member(member_name, compress=PurePosixPath(name).suffix.lower() not in STORED_AS_IS) as member,
        ):
            for chunk in handle.chunks(CHUNK):
                member.write(chunk)
        tracker.files(done, len(files))
    return missing
