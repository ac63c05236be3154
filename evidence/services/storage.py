"""Evidence files in `STORAGES["default"]` (local disk, or private S3): storing, deleting, cleaning up.

A file is stored before its row is written and deleted again if the row cannot be written, so a
failed upload leaves nothing behind; rows are deleted before their files, once the transaction commits.
`cleanup_orphans` catches what a crash between those steps could still leave. A save that fails part-way
(a full disk) removes what it had written and, when the disk or quota is full, raises StorageFull.
"""

from __future__ import annotations

import errno
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

PREFIX = "evidence"
# Files younger than this may belong to an upload still being written: the cleanup leaves them alone.
ORPHAN_GRACE = timedelta(hours=1)


class StorageFull(OSError):
    """There is no room to store the file (disk full or quota reached); nothing of it was kept."""

    message = (
        "There is no room left to store files, so nothing was stored. Try again later; if it keeps "
        "happening, tell whoever looks after Greenlight for your organisation."
    )


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def store(*, organisation_id: int, name: str, content: IO[bytes], folder: str = "") -> str:
    """Save the content under the organisation's prefix and a random folder (or `folder` under the prefix,
    for a caller that must find its files again); returns the stored name.

    Raises StorageFull when the disk is full; no partial file is left behind."""
    content.seek(0)
    base = f"{PREFIX}/{organisation_id}/{folder or uuid.uuid4().hex}"
    path = f"{base}/{name}"
    try:
        return default_storage.save(path, content if isinstance(content, File) else File(content, name=name))
    except OSError as error:
        # A new random folder holds only this upload's partial file; a given one may hold others.
        delete_quietly([path] if folder else [path, base])
        if error.errno in _FULL:
            raise StorageFull(error.errno, StorageFull.message) from error
        raise


def delete_quietly(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a file already gone is what we wanted; anything else is logged for the cleanup
            logger.warning("Could not delete evidence file %s", name, exc_info=True)


def delete_on_commit(names: Iterable[str]) -> None:
    """Delete files once the rows that pointed at them are really gone."""
    pending = [name for name in names if name]
    if pending:
        transaction.on_commit(lambda: delete_quietly(pending))


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _walk(storage, f"{folder}/{sub}")


def files_under(folder: str) -> list[str]:
    """Every stored file below `folder`, at any depth."""
    return list(_walk(default_storage, folder))


@dataclass(frozen=True)
class CleanupReport:
    orphan_files_deleted: int
    rows_missing_files: int


def cleanup_orphans() -> CleanupReport:
    """Delete stored files no revision points at, and report revisions whose file has gone missing."""
    from evidence.models import EvidenceRevision

    known = set(EvidenceRevision.objects.values_list("file", flat=True))
    cutoff = timezone.now() - ORPHAN_GRACE
    deleted = 0
    stored: set[str] = set()
    for name in _walk(default_storage, PREFIX):
        stored.add(name)
        if name in known:
            continue
        try:
            modified = default_storage.get_modified_time(name)
        except (NotImplementedError, OSError):
            modified = None
        if modified is not None and modified > cutoff:
            continue
        delete_quietly([name])
        deleted += 1
    # One listing instead of a request per file: the names listed are compared with the rows.
    missing = sorted(known - stored)
    for name in missing:
        logger.error("An evidence revision has lost its file %s", name)
    return CleanupReport(orphan_files_deleted=deleted, rows_missing_files=len(missing))
