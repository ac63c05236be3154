"""The consultants' evidence review queue in the admin: scoped to their organisations, a review page with a
safe preview, and accept / reject through the evidence services (and so the client's audit log)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.urls import reverse

from accounts.models import AuditEvent, Notification, User
from accounts.tests.factories import UserFactory
from compliance.tests.factories import ControlFactory
from evidence.models import Evidence, EvidenceForm, EvidenceStatus
from evidence.tests.factories import EvidenceFactory, EvidenceRevisionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:evidence_evidence_changelist")


def change_url(evidence: Any) -> str:
    return reverse("admin:evidence_evidence_change", args=[evidence.pk])


def review_url(evidence: Any) -> str:
    return reverse("admin:evidence_evidence_review", args=[getattr(evidence, "pk", evidence)])


def file_url(evidence: Any) -> str:
    return reverse("admin:evidence_evidence_file", args=[evidence.pk])


def staff(user: User) -> User:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")
    )


@pytest.fixture
def consultant(personas, client_for):
    return client_for(staff(personas.consultant))


def submitted(organisation, *, title: str = "Firewall rules review", owner: User | None = None, **fields) -> Any:
    return EvidenceFactory(
        organisation=organisation, title=title, owner=owner, status=EvidenceStatus.SUBMITTED, **fields
    )


def with_image(organisation, *, title: str = "Screen lock setting") -> Any:
    revision: Any = EvidenceRevisionFactory(
        organisation=organisation,
        evidence__title=title,
        evidence__status=EvidenceStatus.SUBMITTED,
        original_name="screen-lock.png",
        file_kind="png",
        content_type="image/png",
        file=ContentFile(png(), name="screen-lock.png"),
    )
    evidence = revision.evidence
    Evidence.objects.filter(pk=evidence.pk).update(current_revision=revision)
    evidence.refresh_from_db()
    return evidence


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The queue ---------------------------------------------------------------------------------------
def test_queue_lists_evidence_awaiting_review_in_the_consultants_organisations_only(personas, consultant):
    waiting = submitted(personas.organisation, owner=personas.member)
    waiting.controls.add(ControlFactory(), ControlFactory())
    EvidenceFactory(organisation=personas.organisation, title="Draft asset list", status=EvidenceStatus.DRAFT)
    EvidenceFactory(organisation=personas.organisation, title="Accepted backup log", status=EvidenceStatus.ACCEPTED)
    submitted(personas.other_organisation, title="Rival secret evidence")

    response = consultant.get(CHANGELIST)

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows == [waiting]
    assert rows[0].control_count == 2
    body = response.content.decode()
    assert "Firewall rules review" in body
    assert "Written note · Configuration" in body
    assert "Rival secret evidence" not in body
    assert "Rival Widgets" not in body  # not even in the organisation filter


def test_queue_shows_every_status_when_asked(personas, consultant):
    submitted(personas.organisation)
    EvidenceFactory(organisation=personas.organisation, title="Draft asset list", status=EvidenceStatus.DRAFT)
    submitted(personas.other_organisation, title="Rival secret evidence")

    everything = consultant.get(CHANGELIST, {"status": "all"})
    drafts = consultant.get(CHANGELIST, {"status": "draft"})

    assert {item.title for item in everything.context["cl"].result_list} == {
        "Firewall rules review",
        "Draft asset list",
    }
    assert [item.title for item in drafts.context["cl"].result_list] == ["Draft asset list"]


def test_queue_searches_titles_and_organisation_names(personas, consultant):
    submitted(personas.organisation, title="Firewall rules review")
    submitted(personas.organisation, title="Staff training log")

    by_title = consultant.get(CHANGELIST, {"q": "training"})
    by_organisation = consultant.get(CHANGELIST, {"q": "acme bakery"})

    assert [item.title for item in by_title.context["cl"].result_list] == ["Staff training log"]
    assert len(by_organisation.context["cl"].result_list) == 2


@pytest.mark.parametrize("size", [1, 5])
def test_queue_query_count_does_not_grow_with_evidence(personas, consultant, django_assert_num_queries, size):
    for number in range(size):
        item = submitted(personas.organisation, title=f"Evidence {number}", owner=personas.member)
        item.controls.add(ControlFactory())
    consultant.get(CHANGELIST)  # warm the content-type cache, as a running server has

    with django_assert_num_queries(9):
        response = consultant.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == size


# --- The review page and the file ----------------------------------------------------------------------
def test_review_page_previews_an_image_from_the_admins_own_file_url(personas, consultant):
    evidence = with_image(personas.organisation)
    control = ControlFactory(ref="A.8.1", title="User endpoint devices")
    evidence.controls.add(control)

    response = consultant.get(change_url(evidence))

    assert response.status_code == 200
    body = response.content.decode()
    assert f'<img src="{file_url(evidence)}?inline=1" alt="Preview of screen-lock.png">' in body
    assert "A.8.1</strong>: User endpoint devices" in body
    assert 'action="' + review_url(evidence) + '"' in body
    assert 'name="_save"' not in body  # nothing to edit: the page is read-only


def test_file_is_served_with_the_apps_safe_headers(personas, consultant):
    evidence = with_image(personas.organisation)

    inline = consultant.get(file_url(evidence), {"inline": "1"})
    attachment = consultant.get(file_url(evidence))

    assert inline.status_code == 200
    assert b"".join(inline.streaming_content) == png()
    assert inline["Content-Type"] == "image/png"
    assert inline["Content-Disposition"].startswith("inline")
    assert inline["X-Content-Type-Options"] == "nosniff"
    assert inline["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert {"private", "no-store"} <= {part.strip() for part in inline["Cache-Control"].split(",")}
    assert attachment["Content-Disposition"].startswith("attachment")


def test_a_text_file_is_never_served_inline(personas, consultant):
    revision: Any = EvidenceRevisionFactory(organisation=personas.organisation)
    Evidence.objects.filter(pk=revision.evidence_id).update(current_revision=revision)

    response = consultant.get(file_url(revision.evidence), {"inline": "1"})

    assert response["Content-Disposition"].startswith("attachment")


def test_note_and_link_are_shown_as_escaped_text(personas, consultant):
    note = submitted(personas.organisation, note="Rules checked <script>alert(1)</script>")
    link = submitted(personas.organisation, form=EvidenceForm.LINK, note="", url="https://drive.example.com/rules")
    hostile = submitted(personas.organisation, form=EvidenceForm.LINK, note="", url="javascript:alert(1)")

    note_page = consultant.get(change_url(note)).content.decode()
    link_page = consultant.get(change_url(link)).content.decode()
    hostile_page = consultant.get(change_url(hostile)).content.decode()

    assert "Rules checked &lt;script&gt;alert(1)&lt;/script&gt;" in note_page
    assert '<a href="https://drive.example.com/rules" target="_blank" rel="noopener noreferrer nofollow">' in link_page
    assert 'href="javascript:' not in hostile_page


def test_another_organisations_evidence_cannot_be_opened(personas, consultant):
    theirs = with_image(personas.other_organisation, title="Rival secret evidence")

    page = consultant.get(change_url(theirs), follow=True)

    assert "Rival secret evidence" not in page.content.decode()
    assert page.redirect_chain[0][0] == reverse("admin:index")
    assert consultant.get(file_url(theirs), {"inline": "1"}).status_code == 404


def test_a_missing_file_is_not_found(personas, consultant):
    evidence = with_image(personas.organisation)
    evidence.current_revision.file.delete(save=False)

    assert consultant.get(file_url(evidence)).status_code == 404
    assert consultant.get(file_url(submitted(personas.organisation))).status_code == 404  # a note has no file


# --- Decisions ---------------------------------------------------------------------------------------
def test_consultant_accepts_evidence_with_an_audit_event_in_the_client_organisation(personas, consultant):
    evidence = submitted(personas.organisation, owner=personas.member)

    response = consultant.post(review_url(evidence), {"decision": "accept", "comment": "Good."})

    assert response.status_code == 302
    assert response["Location"] == change_url(evidence)
    evidence.refresh_from_db()
    assert (evidence.status, evidence.reviewed_by, evidence.reviewer_comment) == (
        EvidenceStatus.ACCEPTED,
        personas.consultant,
        "Good.",
    )
    assert AuditEvent.objects.filter(
        organisation=personas.organisation, action="evidence.accepted", actor=personas.consultant
    ).exists()
    assert any("Accepted “Firewall rules review”" in text for text in texts(response))


def test_consultant_rejects_evidence_with_a_comment_and_the_owner_is_notified(personas, consultant):
    evidence = submitted(personas.organisation, owner=personas.member)

    response = consultant.post(review_url(evidence), {"decision": "reject", "comment": "The export is out of date."})

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.REJECTED
    assert evidence.reviewer_comment == "The export is out of date."
    assert AuditEvent.objects.filter(
        organisation=personas.organisation, action="evidence.rejected", actor=personas.consultant
    ).exists()
    notification = Notification.objects.get(user=personas.member, kind="evidence_rejected")
    assert notification.organisation == personas.organisation
    assert notification.body == "The export is out of date."
    assert any("Its owner at Acme Bakery Ltd can see your comment" in text for text in texts(response))


def test_rejecting_without_a_comment_is_refused(personas, consultant):
    evidence = submitted(personas.organisation)

    response = consultant.post(review_url(evidence), {"decision": "reject", "comment": ""})

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.SUBMITTED
    assert not AuditEvent.objects.exists()
    assert any("Say why it is rejected" in text for text in texts(response))


def test_a_draft_cannot_be_reviewed(personas, consultant):
    evidence: Any = EvidenceFactory(organisation=personas.organisation, status=EvidenceStatus.DRAFT)

    response = consultant.post(review_url(evidence), {"decision": "accept"})

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.DRAFT
    assert any("Only submitted evidence can be reviewed" in text for text in texts(response))
    assert "evidence-decision" not in consultant.get(change_url(evidence)).content.decode()


def test_another_organisations_evidence_cannot_be_reviewed(personas, consultant):
    theirs = submitted(personas.other_organisation, title="Rival secret evidence")

    assert consultant.post(review_url(theirs), {"decision": "accept"}).status_code == 404
    assert consultant.post(review_url(999_999), {"decision": "accept"}).status_code == 404

    theirs.refresh_from_db()
    assert theirs.status == EvidenceStatus.SUBMITTED
    assert not AuditEvent.objects.filter(organisation=personas.other_organisation).exists()


def test_staff_member_without_a_consultant_role_is_refused(personas, client_for):
    evidence = with_image(personas.organisation)
    viewer = client_for(staff(personas.viewer))

    assert viewer.get(CHANGELIST).status_code == 403
    assert viewer.get(change_url(evidence)).status_code == 403
    assert viewer.get(file_url(evidence)).status_code == 403
    assert viewer.post(review_url(evidence), {"decision": "accept"}).status_code == 403

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.SUBMITTED


def test_anonymous_people_sign_in_and_to_others_than_staff_the_evidence_does_not_exist(personas, client_for):
    evidence = with_image(personas.organisation)

    anonymous = client_for(None)
    assert "/login/" in anonymous.post(review_url(evidence), {"decision": "accept"})["Location"]
    assert "/login/" in anonymous.get(file_url(evidence))["Location"]
    # Not staff: a 404 for every id, so the URL confirms nothing about other organisations' evidence.
    not_staff = client_for(personas.consultant)
    assert not_staff.post(review_url(evidence), {"decision": "accept"}).status_code == 404
    assert not_staff.get(file_url(evidence)).status_code == 404

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.SUBMITTED


def test_review_url_only_accepts_posts_and_file_url_only_gets(personas, consultant):
    evidence = with_image(personas.organisation)

    assert consultant.get(review_url(evidence)).status_code == 405
    assert consultant.post(file_url(evidence)).status_code == 405


def test_nothing_can_be_added_changed_or_deleted(personas, consultant):
    evidence = submitted(personas.organisation)

    assert consultant.get(reverse("admin:evidence_evidence_add")).status_code == 403
    assert consultant.post(change_url(evidence), {"title": "Changed"}).status_code == 403
    delete = reverse("admin:evidence_evidence_delete", args=[evidence.pk])
    assert consultant.post(delete, {"post": "yes"}).status_code == 403
    evidence.refresh_from_db()
    assert evidence.title == "Firewall rules review"


def test_superuser_outside_the_organisation_sees_the_queue_but_the_service_refuses_the_decision(personas, client_for):
    evidence = submitted(personas.organisation)
    root = client_for(UserFactory(is_staff=True, is_superuser=True))

    assert root.get(CHANGELIST).status_code == 200
    response = root.post(review_url(evidence), {"decision": "accept"})

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.SUBMITTED
    assert any("cannot approve evidence" in text for text in texts(response))
