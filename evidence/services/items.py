"""Every write to evidence items: upload, link, note, new revision, details, mapping, review, bulk
actions and deletion. Each function checks the actor's role, validates, writes the audit event and
asks for a readiness snapshot when what counts towards readiness may have changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import Membership, Organisation, User
from accounts.roles import Capability
from compliance.models import Control
from evidence.fingerprints import BANDS as BAND_COUNT
from evidence.fingerprints import normalise_url, simhash, simhash_bands
from evidence.intake import InspectedFile, UploadRefused, inspect_upload
from evidence.kinds import default_valid_until
from evidence.models import Evidence, EvidenceForm, EvidenceRevision, EvidenceStatus
from evidence.services import storage
from evidence.services.refresh import evidence_refresh_quality

MAX_NOTE_CHARS = 20_000
BAND_FIELDS = [f"simhash_band{index}" for index in range(BAND_COUNT)]


class DuplicateEvidence(ValidationError):
    """The same file (byte for byte) or link is already evidence of this organisation."""

    def __init__(self, existing: Evidence) -> None:
        when = existing.created_at.date()
        super().__init__(f"This looks like “{existing.title}”, added on {when.day} {when:%B %Y}.")
        self.existing = existing


@dataclass
class EvidenceDetails:
    """What a person fills in about an item, whatever its form."""

    title: str
    description: str = ""
    evidence_type: str = "other"
    owner: User | None = None
    collected_on: date | None = None
    valid_until: date | None = None  # None: the type's freshness period from the collected date
    control_ids: Sequence[int] = field(default_factory=tuple)
    submit: bool = True  # False keeps it as a draft, not yet counted


def _require(organisation: Organisation, actor: Actor, capability: Capability) -> None:
    require_actor(organisation, actor, capability, what="evidence")


def _controls(control_ids: Iterable[int]) -> list[Control]:
    wanted = {int(pk) for pk in control_ids}
    found = list(Control.objects.live().filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise ValidationError({"controls": "One of the chosen controls is not in the library."})
    return found


def _check_owner(organisation: Organisation, owner: User | None) -> None:
    if owner is not None and not Membership.objects.filter(organisation=organisation, user=owner).exists():
        raise ValidationError({"owner": "The owner must be a member of the organisation."})


def _apply_details(evidence: Evidence, details: EvidenceDetails) -> None:
    evidence.title = details.title.strip()
    evidence.description = details.description.strip()
    evidence.evidence_type = details.evidence_type
    evidence.owner = details.owner
    evidence.collected_on = details.collected_on or date.today()
    evidence.valid_until = details.valid_until or default_valid_until(details.evidence_type, evidence.collected_on)
    if evidence.valid_until < evidence.collected_on:
        raise ValidationError({"valid_until": "Valid until cannot be before the date it was collected."})


def _set_text(evidence: Evidence, text: str) -> None:
    evidence.extracted_text = text
    value = simhash(text) if text else None
    evidence.simhash = value
    bands: tuple[int | None, ...] = simhash_bands(value) if value is not None else (None,) * BAND_COUNT
    for index, band in enumerate(bands):
        setattr(evidence, f"simhash_band{index}", band)


def _changed(organisation: Organisation) -> None:
    from assessments.services import snapshot_schedule

    snapshot_schedule(organisation=organisation)


def _audit(evidence: Evidence, actor: Actor, action: str, summary: str) -> None:
    audit_record(organisation=evidence.organisation, actor=actor, action=action, summary=summary, target=evidence)


def _save_new(
    organisation: Organisation, actor: Actor, evidence: Evidence, details: EvidenceDetails, controls: list[Control]
) -> None:
    evidence.status = EvidenceStatus.SUBMITTED if details.submit else EvidenceStatus.DRAFT
    evidence.created_by = actor.user
    evidence.full_clean(exclude=["current_revision"])
    evidence.save()
    evidence.controls.set(controls)


def inspect(file: IO[bytes], *, name: str) -> InspectedFile:
    """Check an upload before anything is stored (raises UploadRefused with the reason)."""
    return inspect_upload(file, original_name=name, max_bytes=settings.EVIDENCE_MAX_UPLOAD_BYTES)


def exact_duplicate(organisation: Organisation, *, sha256: str = "", url_key: str = "") -> Evidence | None:
    queryset = Evidence.objects.filter(organisation=organisation)
    if sha256:
        return queryset.filter(sha256=sha256).order_by("created_at").first()
    if url_key:
        return queryset.filter(url_key=url_key).order_by("created_at").first()
    return None


def evidence_upload(
    *,
    organisation: Organisation,
    actor: Actor,
    file: IO[bytes],
    name: str,
    details: EvidenceDetails,
    allow_duplicate: bool = False,
) -> Evidence:
    """A new item from an uploaded file. The file is inspected, stored, then the rows written; if the
    rows cannot be written the stored file is deleted again, so neither exists without the other."""
    _require(organisation, actor, Capability.EDIT)
    inspected = inspect(file, name=name)
    if not allow_duplicate and (existing := exact_duplicate(organisation, sha256=inspected.sha256)):
        raise DuplicateEvidence(existing)
    _check_owner(organisation, details.owner)
    controls = _controls(details.control_ids)
    evidence = Evidence(organisation=organisation, form=EvidenceForm.FILE)
    _apply_details(evidence, details)
    stored = storage.store(organisation_id=organisation.pk, name=inspected.safe_name, content=file)
    try:
        with transaction.atomic():
            _save_new(organisation, actor, evidence, details, controls)
            _add_revision(evidence, actor, inspected, stored, comment="First upload")
            evidence_refresh_quality(evidence)
            _audit(evidence, actor, "evidence.uploaded", f"Uploaded “{evidence.title}” ({inspected.safe_name})")
    except BaseException:
        storage.delete_quietly([stored])
        raise
    _changed(organisation)
    return evidence


def _add_revision(
    evidence: Evidence, actor: Actor, inspected: InspectedFile, stored: str, *, comment: str
) -> EvidenceRevision:
    number = (evidence.revisions.aggregate(top=Max("number"))["top"] or 0) + 1
    revision = EvidenceRevision(
        organisation_id=evidence.organisation_id,
        evidence=evidence,
        number=number,
        original_name=inspected.safe_name,
        file_kind=inspected.kind,
        content_type=inspected.content_type,
        size=inspected.size,
        sha256=inspected.sha256,
        flags=list(inspected.flags),
        signed=inspected.signed,
        collected_on=evidence.collected_on,
        comment=comment[:300],
        uploaded_by=actor.user,
    )
    revision.file.name = stored
    revision.save()
    evidence.current_revision = revision
    evidence.sha256 = inspected.sha256
    evidence.signed = inspected.signed
    _set_text(evidence, inspected.text)
    evidence.save(
        update_fields=[
            "current_revision",
            "sha256",
            "signed",
            "extracted_text",
            "simhash",
            *BAND_FIELDS,
        ]
    )
    return revision


def evidence_revise(
    *, evidence: Evidence, actor: Actor, file: IO[bytes], name: str, comment: str = "", collected_on: date | None = None
) -> EvidenceRevision:
    """A new file for an existing item. History is kept; the new file goes back for review."""
    _require(evidence.organisation, actor, Capability.EDIT)
    if evidence.form != EvidenceForm.FILE:
        raise ValidationError("Only file evidence has revisions.")
    inspected = inspect(file, name=name)
    if inspected.sha256 == evidence.sha256:
        raise ValidationError("This file is the same as the current version: nothing has changed.")
    stored = storage.store(organisation_id=evidence.organisation_id, name=inspected.safe_name, content=file)
    try:
        with transaction.atomic():
            evidence = Evidence.objects.select_for_update().get(pk=evidence.pk)
            evidence.collected_on = collected_on or date.today()
            evidence.valid_until = default_valid_until(evidence.evidence_type, evidence.collected_on)
            if evidence.status != EvidenceStatus.DRAFT:
                evidence.status = EvidenceStatus.SUBMITTED
            evidence.reminded_for = None
            evidence.updated_at = timezone.now()
            evidence.save(update_fields=["collected_on", "valid_until", "status", "reminded_for", "updated_at"])
            revision = _add_revision(evidence, actor, inspected, stored, comment=comment or "New upload")
            evidence_refresh_quality(evidence)
            _audit(evidence, actor, "evidence.revised", f"Uploaded revision {revision.number} of “{evidence.title}”")
    except BaseException:
        storage.delete_quietly([stored])
        raise
    _changed(evidence.organisation)
    return revision


def evidence_add_link(
    *, organisation: Organisation, actor: Actor, url: str, details: EvidenceDetails, allow_duplicate: bool = False
) -> Evidence:
    _require(organisation, actor, Capability.EDIT)
    try:
        normalised = normalise_url(url)
    except ValueError as error:
        raise ValidationError({"url": str(error)}) from error
    url_key = hashlib.sha256(normalised.encode()).hexdigest()
    if not allow_duplicate and (existing := exact_duplicate(organisation, url_key=url_key)):
        raise DuplicateEvidence(existing)
    _check_owner(organisation, details.owner)
    controls = _controls(details.control_ids)
    evidence = Evidence(
        organisation=organisation, form=EvidenceForm.LINK, url=_without_credentials(url.strip()), url_key=url_key
    )
    _apply_details(evidence, details)
    with transaction.atomic():
        _save_new(organisation, actor, evidence, details, controls)
        evidence_refresh_quality(evidence)
        _audit(evidence, actor, "evidence.linked", f"Added the link “{evidence.title}”")
    _changed(organisation)
    return evidence


def _without_credentials(url: str) -> str:
    """A link as stored and shown: any user name and password in it are dropped, never kept."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def evidence_add_note(*, organisation: Organisation, actor: Actor, note: str, details: EvidenceDetails) -> Evidence:
    _require(organisation, actor, Capability.EDIT)
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Write what the note records."})
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError({"note": f"A note can be at most {MAX_NOTE_CHARS:,} characters; upload a file instead."})
    _check_owner(organisation, details.owner)
    controls = _controls(details.control_ids)
    evidence = Evidence(organisation=organisation, form=EvidenceForm.NOTE, note=note)
    _apply_details(evidence, details)
    _set_text(evidence, note)
    with transaction.atomic():
        _save_new(organisation, actor, evidence, details, controls)
        evidence_refresh_quality(evidence)
        _audit(evidence, actor, "evidence.noted", f"Wrote the note “{evidence.title}”")
    _changed(organisation)
    return evidence


def evidence_update(*, evidence: Evidence, actor: Actor, details: EvidenceDetails, note: str | None = None) -> Evidence:
    """Change what is said about an item (title, type, owner, dates, controls; a note's text)."""
    _require(evidence.organisation, actor, Capability.EDIT)
    _check_owner(evidence.organisation, details.owner)
    controls = _controls(details.control_ids)
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().select_related("organisation").get(pk=evidence.pk)
        _apply_details(evidence, details)
        if evidence.form == EvidenceForm.NOTE and note is not None:
            if not note.strip():
                raise ValidationError({"note": "Write what the note records."})
            evidence.note = note.strip()[:MAX_NOTE_CHARS]
            _set_text(evidence, evidence.note)
        if evidence.status == EvidenceStatus.EXPIRED and evidence.valid_until and evidence.valid_until >= date.today():
            evidence.status = EvidenceStatus.SUBMITTED  # given a new date, it is back for review
        evidence.updated_at = timezone.now()
        evidence.full_clean(exclude=["current_revision"])
        evidence.save()
        evidence.controls.set(controls)
        evidence_refresh_quality(evidence)
        _audit(evidence, actor, "evidence.updated", f"Updated “{evidence.title}”")
    _changed(evidence.organisation)
    return evidence


def evidence_map_controls(
    *, evidence: Evidence, actor: Actor, add: Sequence[int] = (), remove: Sequence[int] = ()
) -> None:
    _require(evidence.organisation, actor, Capability.EDIT)
    with transaction.atomic():
        if add:
            evidence.controls.add(*_controls(add))
        if remove:
            evidence.controls.remove(*Control.objects.filter(pk__in=[int(pk) for pk in remove]))
        evidence_refresh_quality(evidence)
        refs = len(add) + len(remove)
        _audit(evidence, actor, "evidence.mapped", f"Changed {refs} control mapping(s) of “{evidence.title}”")
    _changed(evidence.organisation)


def evidence_submit(*, evidence: Evidence, actor: Actor) -> Evidence:
    _require(evidence.organisation, actor, Capability.EDIT)
    if evidence.status not in (EvidenceStatus.DRAFT, EvidenceStatus.REJECTED):
        raise ValidationError("Only drafts and rejected evidence can be submitted.")
    return _set_status(evidence, actor, EvidenceStatus.SUBMITTED, "evidence.submitted", "Submitted")


def evidence_review(*, evidence: Evidence, actor: Actor, accept: bool, comment: str = "") -> Evidence:
    """Accept or reject an item. Rejecting needs a comment, so the owner knows what to fix."""
    _require(evidence.organisation, actor, Capability.APPROVE)
    comment = comment.strip()
    if not accept and not comment:
        raise ValidationError({"comment": "Say why it is rejected, so its owner can put it right."})
    if evidence.status not in (EvidenceStatus.SUBMITTED, EvidenceStatus.ACCEPTED, EvidenceStatus.REJECTED):
        raise ValidationError("Only submitted evidence can be reviewed.")
    evidence.reviewer_comment = comment
    evidence.reviewed_by = actor.user
    evidence.reviewed_at = timezone.now()
    status = EvidenceStatus.ACCEPTED if accept else EvidenceStatus.REJECTED
    updated = _set_status(
        evidence,
        actor,
        status,
        "evidence.accepted" if accept else "evidence.rejected",
        "Accepted" if accept else "Rejected",
        extra_fields=["reviewer_comment", "reviewed_by", "reviewed_at"],
    )
    if not accept and evidence.owner_id and evidence.owner_id != (actor.user.pk if actor.user else None):
        from django.urls import reverse

        from accounts.notifications import notify

        notify(
            organisation=evidence.organisation,
            user=evidence.owner,  # type: ignore[arg-type]
            kind="evidence_rejected",
            title=f"Evidence rejected: {evidence.title}",
            body=comment,
            url=reverse("evidence_detail", kwargs={"evidence_id": evidence.pk}),
        )
    return updated


def _set_status(
    evidence: Evidence,
    actor: Actor,
    status: str,
    action: str,
    verb: str,
    *,
    extra_fields: Sequence[str] = (),
) -> Evidence:
    with transaction.atomic():
        evidence.status = status
        evidence.updated_at = timezone.now()
        evidence.save(update_fields=["status", "updated_at", *extra_fields])
        _audit(evidence, actor, action, f"{verb} “{evidence.title}”")
    _changed(evidence.organisation)
    return evidence


def evidence_delete(*, evidence: Evidence, actor: Actor) -> None:
    """Delete an item, its revisions and, once the transaction commits, their files."""
    _require(evidence.organisation, actor, Capability.EDIT)
    organisation = evidence.organisation
    with transaction.atomic():
        names = list(evidence.revisions.values_list("file", flat=True))
        _audit(evidence, actor, "evidence.deleted", f"Deleted “{evidence.title}”")
        evidence.delete()
        storage.delete_on_commit(names)
    _changed(organisation)


def evidence_link_instead(
    *, existing: Evidence, actor: Actor, control_ids: Sequence[int], discard: Evidence | None = None
) -> Evidence:
    """Use an item already held for more controls instead of keeping a duplicate (optionally deleting
    the duplicate just added, whose mappings move across)."""
    _require(existing.organisation, actor, Capability.EDIT)
    if discard is not None and discard.organisation_id != existing.organisation_id:
        raise PermissionDenied("Both items must belong to the same organisation.")
    with transaction.atomic():
        wanted = {int(pk) for pk in control_ids}
        if discard is not None:
            wanted |= set(discard.controls.values_list("pk", flat=True))
        if wanted:
            existing.controls.add(*_controls(wanted))
        evidence_refresh_quality(existing)
        _audit(existing, actor, "evidence.reused", f"Used “{existing.title}” instead of adding a duplicate")
        if discard is not None:
            evidence_delete(evidence=discard, actor=actor)
    _changed(existing.organisation)
    return existing


# --- Bulk actions ----------------------------------------------------------------------------------
BULK_ACTIONS = {
    "submit": "Submit for review",
    "accept": "Accept",
    "owner": "Set owner",
    "map": "Map to a control",
    "delete": "Delete",
}


@dataclass(frozen=True)
class BulkResult:
    changed: int
    skipped: int
    message: str


def evidence_bulk(
    *, organisation: Organisation, actor: Actor, ids: Sequence[int], action: str, value: Any = None
) -> BulkResult:
    """Apply one action to many items of the organisation; items the action does not fit are skipped."""
    if action not in BULK_ACTIONS:
        raise ValidationError("Choose an action.")
    capability = Capability.APPROVE if action == "accept" else Capability.EDIT
    _require(organisation, actor, capability)
    items: QuerySet[Evidence] = Evidence.objects.filter(organisation=organisation, pk__in=[int(pk) for pk in ids])
    total = items.count()
    if not total:
        raise ValidationError("Select at least one item.")
    now = timezone.now()
    with transaction.atomic():
        if action == "submit":
            changed = items.filter(status__in=[EvidenceStatus.DRAFT, EvidenceStatus.REJECTED]).update(
                status=EvidenceStatus.SUBMITTED, updated_at=now
            )
        elif action == "accept":
            changed = items.filter(status=EvidenceStatus.SUBMITTED).update(
                status=EvidenceStatus.ACCEPTED, reviewed_by=actor.user, reviewed_at=now, updated_at=now
            )
        elif action == "owner":
            owner = User.objects.filter(pk=value, memberships__organisation=organisation).first() if value else None
            if value and owner is None:
                raise ValidationError("The owner must be a member of the organisation.")
            changed = items.update(owner=owner, updated_at=now)
        elif action == "map":
            (control,) = _controls([int(value)]) if value else (None,)
            if control is None:
                raise ValidationError("Choose a control to map to.")
            through = Evidence.controls.through
            already = set(
                through.objects.filter(evidence__in=items, control=control).values_list("evidence_id", flat=True)
            )
            new_rows = [through(evidence_id=pk, control_id=control.pk) for pk in items.values_list("pk", flat=True)]
            new_rows = [row for row in new_rows if row.evidence_id not in already]
            through.objects.bulk_create(new_rows)
            changed = len(new_rows)
        else:  # delete
            names = list(EvidenceRevision.objects.filter(evidence__in=items).values_list("file", flat=True))
            changed, _ = items.delete()
            changed = total
            storage.delete_on_commit(names)
        label = BULK_ACTIONS[action].lower()
        audit_record(
            organisation=organisation,
            actor=actor,
            action=f"evidence.bulk_{action}",
            summary=f"Bulk action “{label}” on {total} evidence item(s): {changed} changed",
        )
    if action in ("map", "owner", "accept"):
        # Quality reads owner and mappings; a bulk change refreshes the stored scores in one pass.
        from evidence.services.refresh import organisation_refresh_quality

        organisation_refresh_quality(organisation=organisation)
    _changed(organisation)
    skipped = total - changed
    message = f"{BULK_ACTIONS[action]}: {changed} of {total} item(s) changed."
    if skipped:
        message += f" {skipped} skipped because the action does not apply to them."
    return BulkResult(changed=changed, skipped=skipped, message=message)


__all__ = [
    "BULK_ACTIONS",
    "BulkResult",
    "DuplicateEvidence",
    "EvidenceDetails",
    "UploadRefused",
    "evidence_add_link",
    "evidence_add_note",
    "evidence_bulk",
    "evidence_delete",
    "evidence_link_instead",
    "evidence_map_controls",
    "evidence_review",
    "evidence_revise",
    "evidence_submit",
    "evidence_update",
    "evidence_upload",
    "exact_duplicate",
    "inspect",
]
