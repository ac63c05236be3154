"""Report runs: asking for a report, building it in the background, and trying again after a failure.

A run is claimed (queued -> running) before it is built, so a redelivered task does not build it twice;
one left running by a worker that died may be claimed again after `REPORT_STALE_AFTER`. The file is drawn
into a temporary file, hashed and only then stored: a failure stores nothing and leaves no half file.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import Organisation
from accounts.roles import Capability
from accounts.webhooks import api_url, webhook_emit
from assessments.models import REPORT_STALE_AFTER, ReportRun, ReportStatus, report_upload_path
from assessments.reports import ReportError, builder_for

logger = logging.getLogger(__name__)

# Parameters each kind accepts; the readiness report takes none yet.
# A scheduled run records its schedule, so its retry is recognisably the same report.
ALLOWED_PARAMETERS: dict[str, set[str]] = {"readiness": {"schedule"}}
FAILED_UNEXPECTEDLY = (
    "Something went wrong while building the report, so nothing was saved. Try again; if it fails again, "
    "please tell us."
)
CHUNK = 1024 * 1024


def report_request(
    *, organisation: Organisation, actor: Actor, kind: str, parameters: dict[str, Any] | None = None
) -> ReportRun:
    """Queue a report. Anyone who can view the organisation may ask: a report shows nothing its pages
    do not. The same report asked for again while one is on its way returns that run."""
    require_actor(organisation, actor, Capability.VIEW, what="reports")
    parameters = parameters or {}
    if builder_for(kind) is None:
        raise ValidationError("There is no report of that kind.")
    unknown = set(parameters) - ALLOWED_PARAMETERS.get(kind, set())
    if unknown:
        raise ValidationError(f"The report does not take {', '.join(sorted(unknown))}.")
    cutoff = timezone.now() - REPORT_STALE_AFTER
    with transaction.atomic():
        active = (
            ReportRun.objects.select_for_update()
            .filter(organisation=organisation, kind=kind, parameters=parameters)
            .filter(
                Q(status=ReportStatus.QUEUED, created_at__gte=cutoff)
                | Q(status=ReportStatus.RUNNING, started_at__gte=cutoff)
            )
            .first()
        )
        if active is not None:
            return active
        run = ReportRun(
            organisation=organisation,
            kind=kind,
            parameters=parameters,
            requested_by=actor.user,
            message="Waiting to start",
        )
        run.full_clean()
        run.save()
        audit_record(
            organisation=organisation,
            actor=actor,
            action="report.requested",
            summary=f"Asked for a {run.get_kind_display().lower()}",
            target=run,
        )
        from assessments.tasks import build_report

        build_report.delay_on_commit(run.pk)  # type: ignore[attr-defined]
    return run


def report_retry(*, run: ReportRun, actor: Actor) -> ReportRun:
    """Try a failed (or lost) run again: a new run with the same kind and parameters; the old one stays on
    record."""
    if not run.can_retry:
        raise ValidationError("Only a report that failed can be tried again.")
    return report_request(organisation=run.organisation, actor=actor, kind=run.kind, parameters=run.parameters)


def _claim(run_id: int) -> ReportRun | None:
    now = timezone.now()
    claimable = Q(status=ReportStatus.QUEUED) | Q(status=ReportStatus.RUNNING, started_at__lt=now - REPORT_STALE_AFTER)
    claimed = (
        ReportRun.objects.filter(pk=run_id)
        .filter(claimable)
        .update(status=ReportStatus.RUNNING, started_at=now, progress=0, message="Starting", error="")
    )
    if not claimed:
        return None  # already built, being built, or deleted
    return ReportRun.objects.select_related("organisation", "requested_by").get(pk=run_id)


def report_build(*, run_id: int) -> ReportRun | None:
    """Build a queued run's file and store it; on failure record a readable error and store nothing."""
    run = _claim(run_id)
    if run is None:
        return None
    builder = builder_for(run.kind)
    if builder is None:
        return _fail(run, "This kind of report is no longer available.")

    def progress(percent: int, message: str) -> None:
        ReportRun.objects.filter(pk=run_id, status=ReportStatus.RUNNING).update(
            progress=max(0, min(percent, 99)), message=message[:300]
        )

    today = timezone.localdate()
    requested_by = run.requested_by.display_name if run.requested_by else ""
    stored = ""
    try:
        with tempfile.TemporaryFile(prefix="greenlight-report-") as out:
            builder.build(run.organisation, run.parameters, requested_by, today, out, progress)
            progress(96, "Saving the file")
            size, digest = _measure(out)
            filename = builder.filename(run.organisation, today)
            stored = run.file.storage.save(report_upload_path(run, filename), File(out, name=filename))
        with transaction.atomic():
            finished = ReportRun.objects.filter(pk=run_id, status=ReportStatus.RUNNING).update(
                status=ReportStatus.DONE,
                file=stored,
                size=size,
                sha256=digest,
                progress=100,
                message="Ready to download",
                finished_at=timezone.now(),
            )
            if finished:
                # Webhook subscribers hear of it once this commits (accounts.webhooks: sent by a worker).
                webhook_emit(
                    organisation=run.organisation,
                    event="report.ready",
                    data={
                        "report": {
                            "id": run.pk,
                            "kind": run.kind,
                            "url": api_url(run.organisation, f"reports/{run.pk}/"),
                            "download_url": api_url(run.organisation, f"reports/{run.pk}/download/"),
                        }
                    },
                )
        if not finished:  # taken over by another worker meanwhile: its file is the one kept
            run.file.storage.delete(stored)
    except ReportError as error:
        _delete_quietly(run, stored)
        return _fail(run, str(error))
    except Exception:
        logger.exception("Building report run %s (%s) failed.", run_id, run.kind)
        _delete_quietly(run, stored)
        return _fail(run, FAILED_UNEXPECTEDLY)
    run.refresh_from_db()
    return run


def _measure(out: Any) -> tuple[int, str]:
    """The file's size and SHA-256, read back in chunks; leaves it rewound for storing."""
    out.flush()
    out.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := out.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    out.seek(0)
    return size, digest.hexdigest()


def _delete_quietly(run: ReportRun, name: str) -> None:
    if not name:
        return
    try:
        run.file.storage.delete(name)
    except Exception:  # logged for the storage cleanup; the run's failure is what the person needs
        logger.warning("Could not delete the half-stored report file %s", name, exc_info=True)


def _fail(run: ReportRun, error: str) -> ReportRun:
    ReportRun.objects.filter(pk=run.pk).update(
        status=ReportStatus.FAILED, error=error, message="The report could not be built", finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run
