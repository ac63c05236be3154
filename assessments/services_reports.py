"""Report runs: asking for a report, building it in the background, and trying again after a failure.

A run is claimed (queued -> running) as a numbered attempt before it is built, so a redelivered task
does not build a finished run again; one left running by a worker that died is taken over (at once on
PostgreSQL, after `REPORT_STALE_AFTER` elsewhere: see config.task_claims). The file is drawn into a
temporary file, hashed and only then stored, in the run's own folder, and the run row records it in one
conditional update: a failure stores nothing, and a delivery after a worker died deletes the file the
dead attempt stored but never recorded.
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
from assessments.models import REPORT_STALE_AFTER, ReportRun, ReportStatus, report_build_folder
from assessments.reports import ReportError, builder_for
from config.queueing import enqueue_on_commit
from config.task_claims import ClaimHeld, job_lock, takeover_wait
from evidence.services.storage import files_under

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

        enqueue_on_commit(build_report, run.pk)
    return run


def report_retry(*, run: ReportRun, actor: Actor) -> ReportRun:
    """Try a failed (or lost) run again: a new run with the same kind and parameters; the old one stays on
    record."""
    if not run.can_retry:
        raise ValidationError("Only a report that failed can be tried again.")
    return report_request(organisation=run.organisation, actor=actor, kind=run.kind, parameters=run.parameters)


def _claim(run_id: int, held: bool | None) -> ReportRun | None:
    """Mark the run running as this delivery's attempt. A run left running by a worker that died is taken
    over (see config.task_claims); one a live worker has raises ClaimHeld; a finished one gives None."""
    with transaction.atomic():
        run = (
            ReportRun.objects.select_for_update()
            .filter(pk=run_id, status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING))
            .first()
        )
        if run is None:
            return None  # already built, failed, or deleted
        if held is False:
            raise ClaimHeld(takeover_wait(held, run.started_at, REPORT_STALE_AFTER))
        if run.status == ReportStatus.RUNNING and (wait := takeover_wait(held, run.started_at, REPORT_STALE_AFTER)):
            raise ClaimHeld(wait)
        run.status, run.started_at, run.attempts = ReportStatus.RUNNING, timezone.now(), run.attempts + 1
        run.progress, run.message, run.error = 0, "Starting", ""
        run.save(update_fields=["status", "started_at", "attempts", "progress", "message", "error"])
    return ReportRun.objects.select_related("organisation", "requested_by").get(pk=run_id)


def report_build(*, run_id: int) -> ReportRun | None:
    """Build a queued run's file and store it; on failure record a readable error and store nothing.

    Returns None when there is nothing to build (finished, failed or deleted) and raises ClaimHeld when a
    live worker is building it. Safe to deliver again at any point: a run whose worker died is built
    afresh, after deleting whatever file the dead attempt had stored."""
    with job_lock("assessments.reportrun", run_id) as held:
        run = _claim(run_id, held)
        if run is None:
            return None
        return _build(run)


def _build(run: ReportRun) -> ReportRun:
    run_id, attempt = run.pk, run.attempts
    mine = ReportRun.objects.filter(pk=run_id, status=ReportStatus.RUNNING, attempts=attempt)
    builder = builder_for(run.kind)
    if builder is None:
        return _fail(run, "This kind of report is no longer available.")

    def progress(percent: int, message: str) -> None:
        mine.update(progress=max(0, min(percent, 99)), message=message[:300])

    today = timezone.localdate()
    requested_by = run.requested_by.display_name if run.requested_by else ""
    folder = report_build_folder(run)
    stored = ""
    try:
        # Nothing in the run's folder is the run's file yet (it is not done): anything there was stored
        # by an attempt whose worker died before recording it.
        _delete_quietly(run, *files_under(folder))
        with tempfile.TemporaryFile(prefix="greenlight-report-") as out:
            builder.build(run.organisation, run.parameters, requested_by, today, out, progress)
            progress(96, "Saving the file")
            size, digest = _measure(out)
            filename = builder.filename(run.organisation, today)
            stored = run.file.storage.save(f"{folder}/{attempt}/{filename}", File(out, name=filename))
        with transaction.atomic():
            finished = mine.update(
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
        if not finished:  # taken over by a later delivery meanwhile: its file is the one kept
            _delete_quietly(run, stored)
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


def _delete_quietly(run: ReportRun, *names: str) -> None:
    for name in names:
        if not name:
            continue
        try:
            run.file.storage.delete(name)
        except Exception:  # logged for the storage cleanup; the run's failure is what the person needs
            logger.warning("Could not delete the half-stored report file %s", name, exc_info=True)


def _fail(run: ReportRun, error: str) -> ReportRun:
    # Only this attempt's own running run: never one a later delivery took over, nor one already done.
    ReportRun.objects.filter(pk=run.pk, status=ReportStatus.RUNNING, attempts=run.attempts).update(
        status=ReportStatus.FAILED, error=error, message="The report could not be built", finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run
