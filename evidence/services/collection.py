"""Automated collection: connecting a provider (OAuth 2 with PKCE), running a collection, storing what
it found as evidence and checks, and disconnecting.

A run is one row per connection and day. Requesting another run the same day reuses the row, and the
findings are written by stable keys (one evidence item per finding, one revision per day, one check
per finding and run), so a second run, or a task redelivered after a worker died, updates rather than
duplicates. A delivery claims the run as a numbered attempt (config.task_claims: a run left running by
a dead worker is taken over at once on PostgreSQL), stores its files in the run's own folder, one
subfolder per attempt, and first deletes the files an earlier attempt stored but never recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.access import require_actor
from accounts.audit import SYSTEM, Actor, audit_record
from accounts.models import Organisation
from accounts.roles import Capability
from compliance.models import Control
from config.queueing import enqueue_on_commit
from config.task_claims import ClaimHeld, job_lock, takeover_wait
from evidence.connectors import connector_for
from evidence.connectors.base import ConnectorError, Finding, ReconnectNeeded, RunLog, TokenSet
from evidence.kinds import default_valid_until
from evidence.models import (
    CheckResult,
    CollectionRun,
    Connection,
    ConnectionStatus,
    Evidence,
    EvidenceForm,
    EvidenceRevision,
    EvidenceStatus,
    Provider,
    RunStatus,
)
from evidence.services import storage
from evidence.services.refresh import evidence_refresh_quality, in_scope_control_ids
from evidence.tokens import TokensUnreadable, decrypt_tokens, encrypt_tokens

logger = logging.getLogger(__name__)

SESSION_KEY = "evidence_connector_oauth"
# How long the user has to finish signing in at the provider.
STATE_MAX_AGE = 600
# A run marked running for longer than this was lost with its worker: it may be claimed again.
RUN_STALE_AFTER = timedelta(minutes=15)


class RetryLater(Exception):
    def __init__(self, countdown: float) -> None:
        super().__init__(f"retry in {countdown:.0f} s")
        self.countdown = countdown


def _require(organisation: Organisation, actor: Actor, capability: Capability) -> None:
    require_actor(organisation, actor, capability, what="connections")


# --- Connecting ------------------------------------------------------------------------------------
def connection_authorise_start(
    *, session: Any, organisation: Organisation, actor: Actor, provider: str, redirect_uri: str
) -> str:
    """Where to send the browser to sign in at the provider. Connecting an organisation's tenant is for
    owners and admins."""
    _require(organisation, actor, Capability.ADMINISTER)
    connector = connector_for(provider)
    if connector is None:
        raise ConnectorError(f"{Provider(provider).label} is not configured on this server.")
    from evidence.connectors.base import pkce_pair

    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {
        "state": state,
        "verifier": verifier,
        "provider": provider,
        "organisation_id": organisation.pk,
        "started": time.time(),
    }
    return connector.authorisation_url(state=state, code_challenge=challenge, redirect_uri=redirect_uri)


def connection_authorise_complete(
    *, session: Any, organisation: Organisation, actor: Actor, provider: str, params: dict[str, str], redirect_uri: str
) -> Connection:
    """Finish the OAuth flow: check the state, exchange the code, store the tokens encrypted, queue a run."""
    _require(organisation, actor, Capability.ADMINISTER)
    pending = session.pop(SESSION_KEY, None)
    if params.get("error"):
        description = params.get("error_description") or params["error"]
        raise ConnectorError(f"The provider did not grant access: {description[:200]}")
    if (
        not pending
        or pending.get("provider") != provider
        or pending.get("organisation_id") != organisation.pk
        or not hmac.compare_digest(str(pending.get("state", "")), str(params.get("state", "")))
    ):
        raise ConnectorError("That sign-in link does not match one started here. Please start connecting again.")
    if time.time() - float(pending.get("started", 0)) > STATE_MAX_AGE:
        raise ConnectorError("Signing in took too long. Please start connecting again.")
    connector = connector_for(provider)
    if connector is None:
        raise ConnectorError(f"{Provider(provider).label} is not configured on this server.")
    tokens = connector.exchange_code(
        code=params.get("code", ""), code_verifier=pending["verifier"], redirect_uri=redirect_uri
    )
    label = ""
    holder: dict[str, TokenSet] = {"tokens": tokens}
    try:
        with connector.api(tokens, on_refreshed=lambda new: holder.update(tokens=new)) as api:
            label = connector.account_label(api)[:200]
    except ConnectorError:
        logger.warning("Could not read the account name after connecting %s", provider, exc_info=True)
    tokens = holder["tokens"]
    with transaction.atomic():
        connection, _ = Connection.objects.select_for_update().get_or_create(
            organisation=organisation, provider=provider
        )
        connection.status = ConnectionStatus.CONNECTED
        connection.encrypted_tokens = encrypt_tokens(tokens)
        connection.scopes = list(tokens.scopes) or list(connector.scopes)
        connection.account_label = label
        connection.connected_by = actor.user
        connection.connected_at = timezone.now()
        connection.disconnected_at = None
        connection.save()
        audit_record(
            organisation=organisation,
            actor=actor,
            action="connection.connected",
            summary=f"Connected {connection.get_provider_display()}{f' ({label})' if label else ''}",
            target=connection,
        )
        collection_request(connection=connection, actor=actor)
    return connection


def connection_disconnect(*, connection: Connection, actor: Actor) -> bool:
    """Withdraw the grant at the provider where it allows, and delete the stored tokens either way.
    Returns whether the provider confirmed the revocation."""
    _require(connection.organisation, actor, Capability.ADMINISTER)
    revoked = False
    connector = connector_for(connection.provider)
    if connection.encrypted_tokens and connector is not None:
        try:
            revoked = connector.revoke(decrypt_tokens(connection.encrypted_tokens))
        except TokensUnreadable:
            revoked = False
    with transaction.atomic():
        connection.encrypted_tokens = ""
        connection.status = ConnectionStatus.DISCONNECTED
        connection.disconnected_at = timezone.now()
        connection.save(update_fields=["encrypted_tokens", "status", "disconnected_at"])
        audit_record(
            organisation=connection.organisation,
            actor=actor,
            action="connection.disconnected",
            summary=f"Disconnected {connection.get_provider_display()}; tokens deleted"
            + ("" if revoked else " (the provider's grant must be removed there)"),
            target=connection,
        )
    return revoked


# --- Running ---------------------------------------------------------------------------------------
def collection_request(
    *, connection: Connection, actor: Actor | None = None, today: date | None = None
) -> CollectionRun:
    """Queue today's run (reusing today's row). A run already queued or running is left to finish."""
    if actor is not None and actor.user is not None:
        _require(connection.organisation, actor, Capability.EDIT)
    today = today or timezone.localdate()
    with transaction.atomic():
        run, created = CollectionRun.objects.select_for_update().get_or_create(
            connection=connection, run_on=today, defaults={"organisation_id": connection.organisation_id}
        )
        # A run queued or started recently is on its way; one stuck longer (its message or its worker
        # was lost) is queued again.
        stale_before = timezone.now() - RUN_STALE_AFTER
        running = run.status == RunStatus.RUNNING and run.started_at is not None and run.started_at > stale_before
        queued = run.status == RunStatus.QUEUED and run.queued_at is not None and run.queued_at > stale_before
        if not created and (queued or running):
            return run
        run.status = RunStatus.QUEUED
        run.queued_at = timezone.now()
        run.requested_by = actor.user if actor else None
        run.error = ""
        run.save(update_fields=["status", "queued_at", "requested_by", "error"])
        from evidence.tasks import collect_evidence

        enqueue_on_commit(collect_evidence, run.pk)
    return run


@dataclass(frozen=True)
class _Claimed:
    run: CollectionRun
    connection: Connection


class Superseded(Exception):
    """A later delivery of the task took the run over: this attempt stops and writes nothing more."""


def _claim(run_id: int, held: bool | None) -> _Claimed | None:
    """Mark the run running as this delivery's attempt. A run left running by a worker that died is taken
    over (see config.task_claims); one a live worker has raises ClaimHeld; a finished one gives None."""
    with transaction.atomic():
        run = (
            CollectionRun.objects.select_for_update()
            .filter(pk=run_id, status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
            .first()
        )
        if run is None:
            return None
        if held is False:
            raise ClaimHeld(takeover_wait(held, run.started_at, RUN_STALE_AFTER))
        if run.status == RunStatus.RUNNING and (wait := takeover_wait(held, run.started_at, RUN_STALE_AFTER)):
            raise ClaimHeld(wait)
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.finished_at = None
        run.attempts += 1
        run.log = []
        run.error = ""
        run.save(update_fields=["status", "started_at", "finished_at", "attempts", "log", "error"])
        connection = Connection.objects.select_related("organisation", "connected_by").get(pk=run.connection_id)
    return _Claimed(run=run, connection=connection)


def _own(run: CollectionRun) -> QuerySet[CollectionRun]:
    """The run's row while this attempt still has it."""
    return CollectionRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempts=run.attempts)


def _run_folder_name(run: CollectionRun) -> str:
    # Named after the run (keyed with the secret, so it cannot be guessed from the id), so a delivery after
    # a worker died can find the files the dead attempt stored but never recorded.
    return "run-" + salted_hmac("evidence.collection-run", str(run.pk)).hexdigest()[:32]


def _run_folder(run: CollectionRun) -> str:
    return f"{storage.PREFIX}/{run.organisation_id}/{_run_folder_name(run)}"


def _discard_unrecorded_files(run: CollectionRun) -> None:
    """Delete what earlier attempts of this run stored but no revision records (a worker killed between
    storing a file and committing its row). Called once this attempt holds the run, so none is in flight."""
    folder = _run_folder(run)
    stored = storage.files_under(folder)
    if not stored:
        return
    recorded = set(
        EvidenceRevision.objects.filter(organisation_id=run.organisation_id, file__startswith=f"{folder}/").values_list(
            "file", flat=True
        )
    )
    storage.delete_quietly([name for name in stored if name not in recorded])


def _finish(
    run: CollectionRun, log: RunLog, *, status: str, error: str = "", counts: tuple[int, int, int] = (0, 0, 0)
) -> None:
    run.status = status
    run.error = error
    run.log = log.lines
    run.finished_at = timezone.now()
    run.findings, run.checks_passed, run.checks_failed = counts
    finished = _own(run).update(
        status=status,
        error=error,
        log=log.lines,
        finished_at=run.finished_at,
        findings=run.findings,
        checks_passed=run.checks_passed,
        checks_failed=run.checks_failed,
    )
    if not finished:  # taken over meanwhile: the later attempt reports
        return
    fields = {"last_run_at": run.finished_at}
    if status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
        fields["last_success_at"] = run.finished_at
    Connection.objects.filter(pk=run.connection_id).update(**fields)


def collection_execute(*, run_id: int, max_attempts: int = 3) -> CollectionRun | None:
    """Do one run. Raises RetryLater when the provider asked us to wait or was unavailable (the task
    schedules another attempt), unless the attempts are used up, and ClaimHeld when a live worker has
    the run. Safe to deliver again at any point: see the module docstring."""
    with job_lock("evidence.collectionrun", run_id) as held:
        claimed = _claim(run_id, held)
        if claimed is None:
            return None
        _discard_unrecorded_files(claimed.run)
        try:
            return _collect(claimed.run, claimed.connection, max_attempts=max_attempts)
        except Superseded:
            logger.warning("Collection run %s was taken over by a later attempt; this one stopped.", run_id)
            return None


def _collect(run: CollectionRun, connection: Connection, *, max_attempts: int) -> CollectionRun:
    log = RunLog()
    connector = connector_for(connection.provider)
    if connector is None:
        log("This server no longer has the provider's OAuth client configured.", level="error")
        _finish(
            run,
            log,
            status=RunStatus.FAILED,
            error=f"{connection.get_provider_display()} is not configured on this server.",
        )
        return run
    if not connection.is_active:
        _finish(
            run,
            log,
            status=RunStatus.FAILED,
            error="The connection is not active. Connect it again to collect evidence.",
        )
        return run
    try:
        tokens = decrypt_tokens(connection.encrypted_tokens)
    except TokensUnreadable as error:
        _finish(run, log, status=RunStatus.FAILED, error=str(error))
        return run

    def store_tokens(new: TokenSet) -> None:
        Connection.objects.filter(pk=connection.pk).update(encrypted_tokens=encrypt_tokens(new))
        log("Renewed the access token.")

    account = f" ({connection.account_label})" if connection.account_label else ""
    log(f"Collecting from {connection.get_provider_display()}{account}.")
    try:
        with connector.api(tokens, on_refreshed=store_tokens) as api:
            findings = connector.collect(api, today=run.run_on, log=log)
    except ReconnectNeeded as error:
        log(error.message, level="error")
        Connection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.NEEDS_RECONNECT)
        _finish(run, log, status=RunStatus.FAILED, error=error.message)
        _tell_connector_owner(connection, error.message)
        return run
    except ConnectorError as error:
        log(error.message, level="error")
        if error.retryable and run.attempts < max_attempts:
            countdown = float(getattr(error, "retry_after", 0) or 60 * run.attempts)
            log(f"Will try again in about {max(1, round(countdown / 60))} minute(s).", level="warning")
            # Queued again (not failed), so the retry can claim it and a person sees it is pending.
            run.status = RunStatus.QUEUED
            run.log = log.lines
            run.error = error.message
            _own(run).update(status=run.status, log=run.log, error=run.error)
            raise RetryLater(countdown) from error
        _finish(run, log, status=RunStatus.FAILED, error=error.message)
        return run
    counts = store_findings(run=run, connection=connection, findings=findings, log=log)
    warned = any(line["level"] == "warning" for line in log.lines)
    _finish(run, log, status=RunStatus.PARTIAL if warned else RunStatus.SUCCEEDED, counts=counts)
    from assessments.services import snapshot_schedule

    snapshot_schedule(organisation=connection.organisation)
    return run


def _tell_connector_owner(connection: Connection, message: str) -> None:
    if connection.connected_by is None:
        return
    from accounts.notifications import notify

    notify(
        organisation=connection.organisation,
        user=connection.connected_by,
        kind="connection_needs_reconnect",
        title=f"{connection.get_provider_display()} needs connecting again",
        body=message,
        url=reverse("evidence_connections"),
        dedupe_key=f"connection-reconnect:{connection.pk}:{timezone.localdate()}",
    )


def _control_ids(findings: list[Finding]) -> dict[tuple[str, str], int]:
    wanted = {(ref.framework, ref.ref) for finding in findings for ref in finding.controls}
    if not wanted:
        return {}
    slugs = {slug for slug, _ in wanted}
    refs = {ref for _, ref in wanted}
    rows = (
        Control.objects.live()
        .filter(framework__slug__in=slugs, ref__in=refs)
        .values_list("framework__slug", "ref", "pk")
    )
    return {(slug, ref): pk for slug, ref, pk in rows if (slug, ref) in wanted}


def _snapshot_file(connection: Connection, run: CollectionRun, finding: Finding) -> bytes:
    document = {
        "provider": connection.provider,
        "account": connection.account_label,
        "collected_on": run.run_on.isoformat(),
        "finding": finding.key,
        "title": finding.title,
        "summary": finding.summary,
        "passed": finding.passed,
        "details": finding.details,
        "data": finding.snapshot,
    }
    return json.dumps(document, indent=2, default=str, ensure_ascii=False).encode()


def store_findings(
    *, run: CollectionRun, connection: Connection, findings: list[Finding], log: RunLog
) -> tuple[int, int, int]:
    """Write findings as evidence (one item per key, one revision per day) and checks; returns counts."""
    organisation = connection.organisation
    controls = _control_ids(findings)
    passed = failed = 0
    kept_keys: list[str] = []
    replaced_files: list[str] = []
    for finding in findings:
        control_ids = [
            controls[(ref.framework, ref.ref)] for ref in finding.controls if (ref.framework, ref.ref) in controls
        ]
        missing = [f"{ref.framework} {ref.ref}" for ref in finding.controls if (ref.framework, ref.ref) not in controls]
        if missing:
            log(f"{finding.title}: not in the library, so not mapped: {', '.join(missing)}.", level="warning")
        content = _snapshot_file(connection, run, finding)
        digest = hashlib.sha256(content).hexdigest()
        name = f"{finding.key.replace('.', '-')}-{run.run_on.isoformat()}.json"
        stored = storage.store(
            organisation_id=organisation.pk,
            name=name,
            content=ContentFile(content, name=name),
            folder=f"{_run_folder_name(run)}/{run.attempts}",  # one subfolder per attempt
        )
        try:
            with transaction.atomic():
                # Locked, so a delivery taking the run over waits for this finding, and this attempt
                # writes nothing once it has been taken over.
                if not _own(run).select_for_update().values_list("pk", flat=True).first():
                    raise Superseded
                evidence, _created = Evidence.objects.select_for_update().get_or_create(
                    organisation=organisation,
                    source_key=finding.key,
                    defaults={
                        "form": EvidenceForm.FILE,
                        "source": connection.provider,
                        "title": f"{connection.get_provider_display()}: {finding.title}"[:200],
                        "status": EvidenceStatus.SUBMITTED,
                        "evidence_type": finding.evidence_type,
                    },
                )
                evidence.description = finding.summary
                evidence.collected_on = run.run_on
                evidence.valid_until = default_valid_until(evidence.evidence_type, run.run_on)
                if evidence.status in (EvidenceStatus.EXPIRED, EvidenceStatus.DRAFT):
                    evidence.status = EvidenceStatus.SUBMITTED
                if evidence.owner_id is None:
                    evidence.owner = connection.connected_by
                evidence.extracted_text = finding.summary
                evidence.sha256 = digest
                evidence.reminded_for = None
                evidence.updated_at = timezone.now()
                evidence.save()
                if control_ids:
                    evidence.controls.add(*control_ids)
                revision = EvidenceRevision.objects.filter(evidence=evidence, collected_on=run.run_on).first()
                if revision is not None:
                    replaced_files.append(str(revision.file.name))
                else:
                    top = evidence.revisions.order_by("-number").values_list("number", flat=True).first() or 0
                    revision = EvidenceRevision(
                        organisation=organisation, evidence=evidence, number=top + 1, collected_on=run.run_on
                    )
                revision.file.name = stored
                revision.original_name = name
                revision.file_kind = "json"
                revision.content_type = "application/json"
                revision.size = len(content)
                revision.sha256 = digest
                revision.comment = f"Collected automatically on {run.run_on.day} {run.run_on:%B %Y}"
                revision.uploaded_at = timezone.now()
                revision.save()
                Evidence.objects.filter(pk=evidence.pk).update(current_revision=revision)
                if finding.passed is not None:
                    check, _ = CheckResult.objects.update_or_create(
                        run=run,
                        key=finding.key,
                        defaults={
                            "organisation": organisation,
                            "title": finding.title,
                            "passed": finding.passed,
                            "summary": finding.summary,
                            "details": finding.details,
                            "evidence": evidence,
                        },
                    )
                    check.controls.set(control_ids)
                    passed += int(finding.passed)
                    failed += int(not finding.passed)
                kept_keys.append(finding.key)
        except BaseException:
            storage.delete_quietly([stored])
            raise
    # Checks a previous attempt of this run made that this attempt did not: gone, so counts stay honest.
    CheckResult.objects.filter(run=run).exclude(key__in=kept_keys).delete()
    # Each finding's transaction has committed: the files it replaced are no longer pointed at.
    storage.delete_quietly(replaced_files)
    # Only the items this run touched: the rest of the register has not changed.
    in_scope = in_scope_control_ids(organisation)
    for evidence in Evidence.objects.filter(organisation=organisation, source_key__in=kept_keys).select_related(
        "current_revision"
    ):
        evidence_refresh_quality(evidence, in_scope=in_scope)
    log(f"Stored {len(findings)} finding(s): {passed} check(s) passed, {failed} failed.")
    return len(findings), passed, failed


def collection_request_all(*, today: date | None = None) -> int:
    """The daily schedule: queue a run for every active connection."""
    count = 0
    for connection in Connection.objects.filter(status=ConnectionStatus.CONNECTED).exclude(encrypted_tokens=""):
        collection_request(connection=connection, actor=SYSTEM, today=today)
        count += 1
    return count
