"""The evidence services: what each write stores, refuses and records."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.audit import Actor
from accounts.models import AuditEvent, Notification
from compliance.tests.factories import ControlFactory
from evidence.intake import UploadRefused
from evidence.models import Evidence, EvidenceRevision, EvidenceStatus
from evidence.services import items, storage
from evidence.services.expiry import evidence_expire_and_remind
from evidence.tests import hostile_files
from evidence.tests.factories import EvidenceFactory, EvidenceRevisionFactory

POLICY_TEXT = " ".join(
    f"Staff must lock their screens when they leave their desks and report lost devices at once, rule {n}."
    for n in range(30)
)


def stored_files() -> list[str]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def details(**overrides: object) -> items.EvidenceDetails:
    values: dict[str, object] = {"title": "Firewall rules export", "evidence_type": "configuration"}
    values.update(overrides)
    return items.EvidenceDetails(**values)  # type: ignore[arg-type]


def upload(personas, content: bytes, name: str = "rules.txt", **overrides: object) -> Evidence:
    actor = Actor(user=overrides.pop("user", personas.member))  # type: ignore[arg-type]
    allow_duplicate = bool(overrides.pop("allow_duplicate", False))
    return items.evidence_upload(
        organisation=personas.organisation,
        actor=actor,
        file=io.BytesIO(content),
        name=name,
        details=details(**overrides),
        allow_duplicate=allow_duplicate,
    )


def test_upload_stores_the_file_and_rows_together(personas):
    control = ControlFactory()
    evidence = upload(personas, POLICY_TEXT.encode(), name="../../etc/screen lock.txt", control_ids=[control.pk])
    revision = evidence.current_revision
    assert revision is not None
    assert revision.original_name == "screen lock.txt"
    assert revision.file.name.startswith(f"evidence/{personas.organisation.pk}/")
    assert stored_files() == [revision.file.name]
    assert default_storage.open(revision.file.name).read() == POLICY_TEXT.encode()
    assert evidence.status == EvidenceStatus.SUBMITTED
    assert evidence.sha256 == revision.sha256
    assert evidence.simhash is not None
    assert evidence.simhash_band0 is not None
    assert list(evidence.controls.all()) == [control]
    # Valid until defaults from the type's freshness period (configuration: 90 days).
    assert evidence.valid_until == date.today() + timedelta(days=90)
    assert evidence.quality > 0
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="evidence.uploaded").exists()


def test_a_refused_upload_stores_nothing(personas):
    with pytest.raises(UploadRefused) as refused:
        upload(personas, hostile_files.windows_program(), name="invoice.pdf")
    assert "program" in refused.value.message
    assert Evidence.objects.count() == 0
    assert stored_files() == []


def test_an_upload_over_the_cap_is_refused(personas, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(UploadRefused) as refused:
        upload(personas, b"a,b\n" * 400, name="big.csv")
    assert refused.value.code == "too_large"
    assert (Evidence.objects.count(), stored_files()) == (0, [])


def test_a_database_failure_after_storing_deletes_the_file(personas, monkeypatch):
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(items, "_add_revision", fail)
    with pytest.raises(RuntimeError):
        upload(personas, POLICY_TEXT.encode())
    assert (Evidence.objects.count(), EvidenceRevision.objects.count(), stored_files()) == (0, 0, [])


def test_the_same_file_twice_is_offered_as_a_duplicate(personas):
    first = upload(personas, POLICY_TEXT.encode())
    with pytest.raises(items.DuplicateEvidence) as duplicate:
        upload(personas, POLICY_TEXT.encode(), name="copy.txt")
    assert duplicate.value.existing == first
    assert "looks like “Firewall rules export”" in duplicate.value.messages[0]
    assert Evidence.objects.count() == 1
    assert len(stored_files()) == 1
    # Deliberately kept twice, it is stored.
    upload(personas, POLICY_TEXT.encode(), name="copy.txt", allow_duplicate=True)
    assert Evidence.objects.count() == 2


def test_another_organisations_identical_file_is_not_a_duplicate(personas):
    upload(personas, POLICY_TEXT.encode())
    outsider_org = personas.outsider.memberships.get().organisation
    items.evidence_upload(
        organisation=outsider_org,
        actor=Actor(user=personas.outsider),
        file=io.BytesIO(POLICY_TEXT.encode()),
        name="rules.txt",
        details=details(),
    )
    assert Evidence.objects.count() == 2


def test_near_duplicate_text_is_found_and_can_be_replaced_by_the_original(personas):
    from evidence.selectors import duplicates_of

    original = upload(personas, POLICY_TEXT.encode(), name="policy.txt")
    edited = POLICY_TEXT.replace("rule 7.", "rule seven.")
    control = ControlFactory()
    copy = upload(personas, edited.encode(), name="policy v2.txt", control_ids=[control.pk])
    found = duplicates_of(personas.organisation, copy)
    assert [(d.evidence, d.reason) for d in found] == [(original, "near")]
    items.evidence_link_instead(existing=original, actor=Actor(user=personas.member), control_ids=[], discard=copy)
    assert list(Evidence.objects.all()) == [original]
    assert list(original.controls.all()) == [control]


def test_the_same_link_is_a_duplicate_whatever_its_tracking(personas):
    actor = Actor(user=personas.member)
    items.evidence_add_link(
        organisation=personas.organisation,
        actor=actor,
        url="https://intranet.example.co.uk/policies/backup/",
        details=details(title="Backup procedure"),
    )
    with pytest.raises(items.DuplicateEvidence):
        items.evidence_add_link(
            organisation=personas.organisation,
            actor=actor,
            url="http://www.intranet.example.co.uk/policies/backup?utm_source=mail#top",
            details=details(title="Backup procedure again"),
        )
    with pytest.raises(ValidationError):
        items.evidence_add_link(
            organisation=personas.organisation, actor=actor, url="javascript:alert(1)", details=details()
        )


def test_a_note_needs_text(personas):
    actor = Actor(user=personas.member)
    with pytest.raises(ValidationError):
        items.evidence_add_note(organisation=personas.organisation, actor=actor, note="  ", details=details())
    note = items.evidence_add_note(
        organisation=personas.organisation, actor=actor, note="Checked the fire doors.", details=details()
    )
    assert note.form == "note"
    assert note.extracted_text == "Checked the fire doors."


def test_a_new_revision_keeps_history_and_goes_back_for_review(personas):
    evidence = upload(personas, POLICY_TEXT.encode())
    items.evidence_review(evidence=evidence, actor=Actor(user=personas.admin), accept=True)
    first_file = evidence.current_revision.file.name
    revision = items.evidence_revise(
        evidence=evidence, actor=Actor(user=personas.member), file=io.BytesIO(b"new rules\n"), name="rules.txt"
    )
    evidence.refresh_from_db()
    assert revision.number == 2
    assert evidence.current_revision == revision
    assert evidence.status == EvidenceStatus.SUBMITTED
    assert sorted(stored_files()) == sorted([first_file, revision.file.name])
    with pytest.raises(ValidationError):
        items.evidence_revise(
            evidence=evidence, actor=Actor(user=personas.member), file=io.BytesIO(b"new rules\n"), name="again.txt"
        )


def test_review_needs_an_approver_and_a_reason_to_reject(personas):
    evidence = upload(personas, POLICY_TEXT.encode(), owner=personas.member)
    with pytest.raises(PermissionDenied):
        items.evidence_review(evidence=evidence, actor=Actor(user=personas.member), accept=True)
    with pytest.raises(ValidationError):
        items.evidence_review(evidence=evidence, actor=Actor(user=personas.admin), accept=False, comment=" ")
    items.evidence_review(
        evidence=evidence, actor=Actor(user=personas.admin), accept=False, comment="The export is cut off."
    )
    evidence.refresh_from_db()
    assert (evidence.status, evidence.reviewer_comment, evidence.reviewed_by) == (
        EvidenceStatus.REJECTED,
        "The export is cut off.",
        personas.admin,
    )
    assert Notification.objects.filter(user=personas.member, kind="evidence_rejected").exists()


def test_viewers_cannot_add_evidence(personas):
    with pytest.raises(PermissionDenied):
        upload(personas, POLICY_TEXT.encode(), user=personas.viewer)
    assert stored_files() == []


def test_the_owner_must_be_a_member(personas):
    with pytest.raises(ValidationError):
        upload(personas, POLICY_TEXT.encode(), owner=personas.outsider)
    assert stored_files() == []


def test_delete_removes_rows_then_files_after_commit(personas, django_capture_on_commit_callbacks):
    evidence = upload(personas, POLICY_TEXT.encode())
    with django_capture_on_commit_callbacks(execute=True):
        items.evidence_delete(evidence=evidence, actor=Actor(user=personas.member))
    assert (Evidence.objects.count(), stored_files()) == (0, [])


def test_bulk_actions_touch_only_the_organisations_items(personas, django_capture_on_commit_callbacks):
    ours = [EvidenceFactory(organisation=personas.organisation, status=EvidenceStatus.DRAFT) for _ in range(3)]
    theirs = EvidenceFactory(status=EvidenceStatus.DRAFT)
    actor = Actor(user=personas.admin)
    ids = [item.pk for item in ours] + [theirs.pk]
    result = items.evidence_bulk(organisation=personas.organisation, actor=actor, ids=ids, action="submit")
    assert (result.changed, result.skipped) == (3, 0)
    theirs.refresh_from_db()
    assert theirs.status == EvidenceStatus.DRAFT
    control = ControlFactory()
    items.evidence_bulk(organisation=personas.organisation, actor=actor, ids=ids, action="map", value=control.pk)
    assert set(Evidence.objects.filter(controls=control)) == set(ours)
    items.evidence_bulk(
        organisation=personas.organisation, actor=actor, ids=ids, action="owner", value=personas.member.pk
    )
    assert set(Evidence.objects.filter(owner=personas.member)) == set(ours)
    with pytest.raises(ValidationError):
        items.evidence_bulk(
            organisation=personas.organisation, actor=actor, ids=ids, action="owner", value=personas.outsider.pk
        )
    with pytest.raises(PermissionDenied):
        items.evidence_bulk(
            organisation=personas.organisation, actor=Actor(user=personas.member), ids=ids, action="accept"
        )
    with django_capture_on_commit_callbacks(execute=True):
        items.evidence_bulk(organisation=personas.organisation, actor=actor, ids=ids, action="delete")
    assert list(Evidence.objects.all()) == [theirs]


def test_expiry_marks_expired_and_reminds_once(personas, mailoutbox, django_capture_on_commit_callbacks):
    today = date(2026, 11, 22)
    expired = EvidenceFactory(
        organisation=personas.organisation, owner=personas.member, valid_until=today - timedelta(days=1)
    )
    soon = EvidenceFactory(
        organisation=personas.organisation, owner=personas.member, valid_until=today + timedelta(days=10)
    )
    unowned = EvidenceFactory(organisation=personas.organisation, valid_until=today + timedelta(days=3))
    later = EvidenceFactory(organisation=personas.organisation, valid_until=today + timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        report = evidence_expire_and_remind(today=today)
    assert (report.expired, report.reminded) == (1, 2)
    for item in (expired, soon, unowned, later):
        item.refresh_from_db()
    assert expired.status == EvidenceStatus.EXPIRED
    assert soon.status == later.status == EvidenceStatus.SUBMITTED
    kinds = sorted(Notification.objects.filter(user=personas.member).values_list("kind", flat=True))
    assert kinds == ["evidence_expired", "evidence_expiring"]
    # With no owner, the people who can approve evidence hear about it.
    approvers = set(Notification.objects.filter(kind="evidence_expiring").values_list("user__email", flat=True))
    assert {personas.owner.email, personas.admin.email, personas.consultant.email} <= approvers
    assert any("expires in 10 days" in message.subject for message in mailoutbox)
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        again = evidence_expire_and_remind(today=today)
    assert (again.expired, again.reminded) == (0, 0)
    assert len(mailoutbox) == sent


def test_cleanup_deletes_orphan_files_and_reports_missing_ones(personas):
    revision = EvidenceRevisionFactory(organisation=personas.organisation)
    orphan = storage.store(organisation_id=personas.organisation.pk, name="orphan.txt", content=ContentFile(b"x"))
    old = (date.today() - timedelta(days=2)).strftime("%s")
    path = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / orphan
    os.utime(path, (int(old), int(old)))
    fresh = storage.store(organisation_id=personas.organisation.pk, name="in-flight.txt", content=ContentFile(b"y"))
    report = storage.cleanup_orphans()
    assert report.orphan_files_deleted == 1
    assert sorted(stored_files()) == sorted([revision.file.name, fresh])
    default_storage.delete(revision.file.name)
    assert storage.cleanup_orphans().rows_missing_files == 1


def test_tokens_are_encrypted_at_rest_and_keys_rotate(settings):
    from cryptography.fernet import Fernet

    from evidence.connectors.base import TokenSet
    from evidence.tokens import TokensUnreadable, decrypt_tokens, encrypt_tokens, reencrypt

    tokens = TokenSet(access_token="ya29.secret-access", refresh_token="1//secret-refresh", scopes=("a",))
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONNECTOR_TOKEN_KEYS = [old_key]
    stored = encrypt_tokens(tokens)
    assert "secret" not in stored
    settings.CONNECTOR_TOKEN_KEYS = [new_key, old_key]
    assert decrypt_tokens(stored) == tokens
    rotated = reencrypt(stored)
    settings.CONNECTOR_TOKEN_KEYS = [new_key]
    assert decrypt_tokens(rotated) == tokens
    with pytest.raises(TokensUnreadable):
        decrypt_tokens(stored)
