"""Organisation exports on the settings page: asking for one, building it, trying again, and deleting the
files once they expire. The only code that writes DataExport rows.

Only owners may export: the file holds everything the organisation keeps, its members' names and email
addresses and its audit log included.

A build claims its row by stamping `started_at`; that stamp fences every later write, so a task delivered
again after its worker died takes the export over, and the worker it replaced (should it still be alive)
stops at its next progress report instead of overwriting the result. A ready, failed or expired export is
never built again by a redelivery: trying again is the owner's decision.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import DataExport, DataExportStatus, Membership, Organisation, data_export_path
from accounts.portability.export import build_export
from config.formatting import long_date
from config.queueing import enqueue_on_commit

logger = logging.getLogger(__name__)

# Longer than the build task's hard time limit (accounts.tasks): a row still queued or running after this
# lost its worker, and the owner may try again.
STALE_AFTER = timedelta(minutes=45)
CHUNK = 1024 * 1024
FAILED_UNEXPECTEDLY = (
    "Something went wrong while building the export, so nothing was saved. Try again; if it fails again, "
    "please tell us."
)
OWNERS_ONLY = "Only the organisation's owners can export its data, because the export holds everything it keeps."
ACTIVE = (DataExportStatus.QUEUED, DataExportStatus.RUNNING)


class _Superseded(Exception):
    """Another delivery of the task took this export over; this one stops without writing anything."""


def is_lost(export: DataExport, *, now: datetime | None = None) -> bool:
    started = export.started_at or export.created_at
    return export.status in ACTIVE and started < (now or timezone.now()) - STALE_AFTER


def can_retry(export: DataExport) -> bool:
    return export.status == DataExportStatus.FAILED or is_lost(export)


def can_download(export: DataExport) -> bool:
    return (
        export.status == DataExportStatus.READY
        and bool(export.file)
        and (export.expires_at is None or export.expires_at > timezone.now())
    )


def require_owner(organisation: Organisation, actor: Actor) -> None:
    """Services check it as well as the views, so an export is refused whichever way it is asked for."""
    if (
        actor.user is None
        or not Membership.objects.owners().filter(organisation=organisation, user=actor.user).exists()
    ):
        raise PermissionDenied(OWNERS_ONLY)


def data_export_request(*, organisation: Organisation, actor: Actor) -> DataExport:
    """Queue an export, or return the one already on its way."""
    require_owner(organisation, actor)
    cutoff = timezone.now() - STALE_AFTER
    with transaction.atomic():
        active = (
            DataExport.objects.select_for_update()
            .filter(organisation=organisation)
            .filter(
                Q(status=DataExportStatus.QUEUED, created_at__gte=cutoff)
                | Q(status=DataExportStatus.RUNNING, started_at__gte=cutoff)
            )
            .first()
        )
        if active is not None:
            return active
        export = DataExport(organisation=organisation, requested_by=actor.user, message="Waiting to start")
        export.full_clean()
        export.save()
        audit_record(
            organisation=organisation,
            actor=actor,
            action="data_export.requested",
            summary="Asked for an export of all the organisation's data",
            target=export,
        )
        _enqueue(export)
    return export


def data_export_retry(*, export: DataExport, actor: Actor) -> DataExport:
    """Build a failed (or lost) export again, in the same row."""
    require_owner(export.organisation, actor)
    if not can_retry(export):
        raise ValidationError("Only an export that failed or stopped can be tried again.")
    with transaction.atomic():
        DataExport.objects.filter(pk=export.pk).update(
            status=DataExportStatus.QUEUED,
            progress=0,
            message="Waiting to start",
            error="",
            started_at=None,
            finished_at=None,
            created_at=timezone.now(),
            requested_by=actor.user,
        )
        audit_record(
            organisation=export.organisation,
            actor=actor,
            action="data_export.retried",
            summary="Asked for the organisation's data export again after it failed",
            target=export,
        )
        _enqueue(export)
    export.refresh_from_db()
    return export


def data_export_downloaded(*, export: DataExport, actor: Actor) -> None:
    require_owner(export.organisation, actor)
    audit_record(
        organisation=export.organisation,
        actor=actor,
        action="data_export.downloaded",
        summary=f"Downloaded the data export of {long_date(timezone.localdate(export.created_at))}",
        target=export,
    )


def _enqueue(export: DataExport) -> None:
    from accounts.tasks import build_data_export

    # Through config.queueing: with Redis down the export stays queued and the sweep sends it later.
    enqueue_on_commit(build_data_export, export.pk)


# --- Building ---------------------------------------------------------------------------------------
def _claim(export_id: int) -> tuple[DataExport, datetime] | None:
    """Compare and swap on `started_at`: of two deliveries claiming at once only one wins, and the new stamp is
    always later than the old one, so the worker taken over can never match it again."""
    found = DataExport.objects.filter(pk=export_id, status__in=ACTIVE).values_list("started_at").first()
    if found is None:
        return None  # built already, failed, expired or deleted: a redelivery has nothing to do
    current = found[0]
    stamp = timezone.now()
    if current is not None and stamp <= current:
        stamp = current + timedelta(microseconds=1)
    claimed = DataExport.objects.filter(pk=export_id, status__in=ACTIVE, started_at=current).update(
        status=DataExportStatus.RUNNING, started_at=stamp, progress=0, message="Starting", error=""
    )
    if not claimed:
        return None  # another delivery claimed it a moment ago
    return DataExport.objects.select_related("organisation", "requested_by").get(pk=export_id), stamp


def data_export_build(*, export_id: int) -> DataExport | None:
    """Build the export's ZIP into a temporary file, then store it; on failure store nothing and say why."""
    claim = _claim(export_id)
    if claim is None:
        return None
    export, stamp = claim
    mine = DataExport.objects.filter(pk=export_id, status=DataExportStatus.RUNNING, started_at=stamp)

    def progress(percent: int, message: str) -> None:
        if not mine.update(progress=max(0, min(percent, 99)), message=message[:300]):
            raise _Superseded

    storage = DataExport._meta.get_field("file").storage  # type: ignore[union-attr]
    stored = ""
    try:
        with tempfile.TemporaryFile(prefix="greenlight-export-") as out:
            build_export(export.organisation, out, progress=progress)
            progress(98, "Saving the export")
            size, digest = _measure(out)
            filename = f"greenlight-export-{export.organisation.slug}-{timezone.localdate():%Y-%m-%d}.zip"
            stored = storage.save(data_export_path(export, filename), File(out, name=filename))
        now = timezone.now()
        with transaction.atomic():
            finished = mine.update(
                status=DataExportStatus.READY,
                file=stored,
                size=size,
                sha256=digest,
                progress=100,
                message="Ready to download",
                finished_at=now,
                expires_at=now + timedelta(days=settings.DATA_EXPORT_DAYS),
            )
            if finished:
                export.refresh_from_db()
                _notify_ready(export)
        if not finished:
            raise _Superseded
    except _Superseded:
        _delete_quietly(storage, stored)
        return None
    except Exception:
        logger.exception("Building data export %s failed.", export_id)
        _delete_quietly(storage, stored)
        mine.update(
            status=DataExportStatus.FAILED,
            error=FAILED_UNEXPECTEDLY,
            message="The export could not be built",
            finished_at=timezone.now(),
        )
    export.refresh_from_db()
    return export


def _measure(out: IO[bytes]) -> tuple[int, str]:
    """The file's size and SHA-256, read back in chunks; leaves it rewound for storing."""
    out.flush()
    out.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := out.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    out.seek(0)
    return size, digest.hexdigest()


def _delete_quietly(storage: object, name: str) -> None:
    if not name:
        return
    try:
        storage.delete(name)  # type: ignore[attr-defined]
    except Exception:  # a leftover file is logged; the export's outcome is what the owner needs
        logger.warning("Could not delete the export file %s", name, exc_info=True)


def _notify_ready(export: DataExport) -> None:
    from accounts.notifications import notify

    user = export.requested_by
    if user is None or not Membership.objects.owners().filter(organisation=export.organisation, user=user).exists():
        return  # they left, or are no longer an owner: the file is not theirs to fetch any more
    assert export.expires_at is not None
    notify(
        organisation=export.organisation,
        user=user,
        kind="data_export_ready",
        title="Your organisation's data export is ready",
        body=(
            f"The export of everything {export.organisation.name} keeps in Greenlight is ready to download "
            f"until {long_date(timezone.localdate(export.expires_at))}."
        ),
        url=reverse("settings_data_export"),
        dedupe_key=f"data-export-ready:{export.pk}:{export.finished_at:%Y%m%d%H%M%S%f}",
    )


# --- Expiry -------------------------------------------------------------------------------------------
def data_exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry. The file goes first, so a failure to update the row
    leaves a download that 404s and is tried again tomorrow, never a file kept past its time."""
    now = now or timezone.now()
    storage = DataExport._meta.get_field("file").storage  # type: ignore[union-attr]
    expired = 0
    for export_id, name in DataExport.objects.filter(status=DataExportStatus.READY, expires_at__lte=now).values_list(
        "pk", "file"
    ):
        try:
            if name:
                storage.delete(name)
        except Exception:
            logger.warning("Could not delete the expired export file %s", name, exc_info=True)
            continue
        expired += DataExport.objects.filter(pk=export_id, status=DataExportStatus.READY).update(
            status=DataExportStatus.EXPIRED, file="", message="Expired: the file has been deleted"
        )
    return expired
