"""Evidence through the partner API: the register with its filters and pinned query count, uploads (with
the page's intake checks, duplicates and idempotent retries), links and notes, an item's details and
mapping, and downloads; each with its scope, other organisations' ids, no key and a viewer's session."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.scopes import ALL_SCOPES, Scope
from compliance.tests.factories import ControlFactory, FrameworkFactory
from evidence.models import Evidence, EvidenceForm, EvidenceStatus
from evidence.tests import hostile_files as hostile
from evidence.tests.factories import EvidenceFactory, EvidenceRevisionFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery/evidence/"
FIREWALL_TEXT = (
    "Firewall rule export for the office router. Inbound connections are denied by default; the only open "
    "ports forward to the booking system over TLS. Reviewed by the operations manager every quarter.\n"
)


def detail_url(evidence: Evidence) -> str:
    return f"{BASE}{evidence.pk}/"


def stored_files() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


def text_file(name: str = "firewall-rules_export.txt", content: str = FIREWALL_TEXT) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/plain")


def png_file(name: str = "mfa-settings.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def without(scope: Scope) -> list[Scope]:
    return sorted(ALL_SCOPES - {scope})


@pytest.fixture
def framework(db):
    return FrameworkFactory(slug="cyber-essentials", name="Cyber Essentials")


@pytest.fixture
def firewall_control(framework):
    return ControlFactory(framework=framework, group__framework=framework, ref="1.1", title="Firewalls")


@pytest.fixture
def mfa_control(framework):
    return ControlFactory(framework=framework, group__framework=framework, ref="5.2", title="Multi-factor sign-in")


@pytest.fixture
def file_item(personas, firewall_control):
    revision = EvidenceRevisionFactory(
        organisation=personas.organisation,
        original_name="firewall export.txt",
        evidence__title="Firewall rules export",
        evidence__owner=personas.member,
    )
    evidence = revision.evidence
    evidence.current_revision = revision
    evidence.sha256 = revision.sha256
    evidence.save(update_fields=["current_revision", "sha256"])
    evidence.controls.add(firewall_control)
    return evidence


@pytest.fixture
def note_item(personas):
    return EvidenceFactory(organisation=personas.organisation, title="Quarterly access review")


@pytest.fixture
def other_item(personas):
    return EvidenceFactory(organisation=personas.other_organisation, title="Rival's secret evidence")


# --- The list ------------------------------------------------------------------------------------------
def test_list_shows_each_item_with_its_file_controls_and_links(personas, api_for, file_item, note_item):
    response = api_for(personas.organisation, scopes=[Scope.EVIDENCE_READ]).get(BASE)

    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {file_item.pk, note_item.pk}
    row = rows[file_item.pk]
    assert row["url"] == f"http://testserver{BASE}{file_item.pk}/"
    assert (row["title"], row["kind"], row["status"]) == ("Firewall rules export", "file", "submitted")
    assert row["controls"] == [
        {"id": file_item.controls.get().pk, "ref": "1.1", "title": "Firewalls", "framework": "cyber-essentials"}
    ]
    assert row["owner"] == {
        "id": personas.member.pk,
        "name": personas.member.display_name,
        "email": "member@acme.example",
    }
    assert row["file"]["name"] == "firewall export.txt"
    assert row["file"]["content_type"] == "text/plain"
    assert row["file"]["sha256"] == file_item.sha256
    assert row["download_url"] == f"http://testserver{BASE}{file_item.pk}/download/"
    assert row["valid_until"] == file_item.valid_until.isoformat()
    assert rows[note_item.pk]["file"] is None
    assert rows[note_item.pk]["download_url"] is None
    assert "note" not in rows[note_item.pk]  # long text stays out of lists


def test_list_never_shows_another_organisations_evidence(personas, api_for, note_item, other_item):
    ids = [row["id"] for row in api_for(personas.organisation).get(BASE).json()["results"]]
    assert ids == [note_item.pk]


@pytest.mark.parametrize("count", [1, 6])
def test_list_query_count_does_not_grow_with_items(personas, api_for, framework, django_assert_num_queries, count):
    controls = [ControlFactory(framework=framework, group__framework=framework) for _ in range(3)]
    for _ in range(count):
        revision = EvidenceRevisionFactory(organisation=personas.organisation, evidence__owner=personas.member)
        Evidence.objects.filter(pk=revision.evidence_id).update(current_revision=revision)
        revision.evidence.controls.set(controls)
    client = api_for(personas.organisation)
    # The key (with its organisation) and its touch, one page of items, and one prefetch of their controls.
    with django_assert_num_queries(4):
        response = client.get(BASE)
    assert len(response.json()["results"]) == count


def test_list_filters_like_the_register(personas, api_for, file_item, note_item, mfa_control):
    client = api_for(personas.organisation)
    expired = EvidenceFactory(
        organisation=personas.organisation,
        title="Old penetration test",
        status=EvidenceStatus.ACCEPTED,
        valid_until=date.today() - timedelta(days=3),
        collected_on=date.today() - timedelta(days=400),
    )
    expired.controls.add(mfa_control)
    draft = EvidenceFactory(organisation=personas.organisation, status=EvidenceStatus.DRAFT, description="Door log")

    def ids(**query) -> set[int]:
        response = client.get(BASE, query)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="draft") == {draft.pk}
    assert ids(kind="file") == {file_item.pk}
    assert ids(control=str(mfa_control.pk)) == {expired.pk}
    assert ids(control="1.1") == {file_item.pk}
    assert ids(control="1.1", framework="cyber-essentials") == {file_item.pk}
    assert ids(control="1.1", framework="iso-27001") == set()
    assert ids(framework="cyber-essentials") == {file_item.pk, expired.pk}
    assert ids(expiry="expired") == {expired.pk}
    assert ids(expiring_before=date.today().isoformat()) == {expired.pk}
    assert ids(owner=str(personas.member.pk)) == {file_item.pk}
    assert ids(owner="0") == {note_item.pk, expired.pk, draft.pk}
    assert ids(q="door") == {draft.pk}
    assert ids(q="quarterly") == {note_item.pk}


def test_a_bad_filter_value_is_a_400_naming_it(personas, api_for):
    response = api_for(personas.organisation).get(BASE, {"status": "lost", "expiring_before": "soon"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert set(response.json()["errors"]) == {"status", "expiring_before"}


def test_ids_beyond_the_databases_range_are_refused_or_match_nothing(personas, api_for, note_item):
    client = api_for(personas.organisation)
    huge = str(2**100)
    assert client.get(BASE, {"control": huge}).json()["results"] == []
    assert client.get(BASE, {"owner": huge}).status_code == 400
    assert client.get(f"{BASE}{huge}/").status_code == 404
    response = client.patch(detail_url(note_item), {"controls": [2**100]}, format="json")
    assert response.status_code == 400
    assert "controls" in response.json()["errors"]


def test_list_orders_by_title_and_expiry_and_pages_through_ties(personas, api_for):
    client = api_for(personas.organisation)
    same = [EvidenceFactory(organisation=personas.organisation, title="Backup log") for _ in range(3)]
    never = EvidenceFactory(organisation=personas.organisation, title="Asset register", valid_until=None)
    soon = EvidenceFactory(
        organisation=personas.organisation, title="Zebra crossing check", valid_until=date.today() + timedelta(days=1)
    )

    titles = [row["title"] for row in client.get(BASE, {"ordering": "title"}).json()["results"]]
    assert titles == ["Asset register", "Backup log", "Backup log", "Backup log", "Zebra crossing check"]
    by_expiry = [row["id"] for row in client.get(BASE, {"ordering": "expiry"}).json()["results"]]
    assert by_expiry[0] == soon.pk
    assert by_expiry[-1] == never.pk

    seen: list[int] = []
    url: str | None = f"{BASE}?ordering=title&page_size=2"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted([*(item.pk for item in same), never.pk, soon.pk])
    assert len(seen) == len(set(seen))


def test_list_needs_the_evidence_read_scope(personas, api_for, note_item):
    response = api_for(personas.organisation, scopes=without(Scope.EVIDENCE_READ)).get(BASE)
    assert response.status_code == 403
    assert "evidence:read" in response.json()["detail"]


def test_list_without_a_key_is_401(personas):
    response = APIClient().get(BASE)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_another_organisations_slug_is_404(personas, api_for):
    response = api_for(personas.organisation).get("/api/v1/organisations/rival-widgets/evidence/")
    assert response.status_code == 404


def test_a_viewer_session_can_list_evidence(personas, client_for, note_item):
    response = client_for(personas.viewer).get(BASE)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [note_item.pk]


# --- Uploads -------------------------------------------------------------------------------------------
def test_upload_stores_the_file_through_the_service(personas, api_for, firewall_control, mfa_control):
    client = api_for(personas.organisation, scopes=[Scope.EVIDENCE_WRITE])
    response = client.post(
        BASE,
        {
            "file": text_file(),
            "description": "The router's rules after the review.",
            "evidence_type": "configuration",
            "controls": [firewall_control.pk, mfa_control.pk],
            "owner": personas.member.pk,
            "collected_on": (date.today() - timedelta(days=2)).isoformat(),
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    evidence = Evidence.objects.get(organisation=personas.organisation)
    assert response["Location"] == f"http://testserver{BASE}{evidence.pk}/"
    body = response.json()
    assert body["id"] == evidence.pk
    assert body["title"] == "firewall rules export"  # from the file name, as the page does
    assert body["kind"] == "file"
    assert body["status"] == "submitted"
    assert body["file"]["name"] == "firewall-rules_export.txt"
    assert body["file"]["size"] == len(FIREWALL_TEXT.encode())
    assert {control["ref"] for control in body["controls"]} == {"1.1", "5.2"}
    assert body["owner"]["id"] == personas.member.pk
    assert evidence.created_by is None
    assert default_storage.open(evidence.current_revision.file.name).read() == FIREWALL_TEXT.encode()
    event = AuditEvent.objects.get(organisation=personas.organisation, action="evidence.uploaded")
    assert event.actor is None
    assert client.key.prefix in event.actor_label


def test_an_uploaded_picture_becomes_a_screenshot_and_can_stay_a_draft(personas, api_for):
    response = api_for(personas.organisation).post(
        BASE, {"file": png_file(), "title": "MFA settings", "status": "draft"}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["title"], body["evidence_type"], body["status"]) == ("MFA settings", "screenshot", "draft")
    assert body["file"]["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 200, "Windows program"),
        ("notes.html", b"<!doctype html><html><body><script>alert(1)</script></body></html>", "web page"),
        ("bomb.png", hostile.png_claiming(100_000, 100_000), "pixels"),
    ],
)
def test_refused_uploads_name_the_file_field_and_store_nothing(personas, api_for, name, content, words):
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    response = api_for(personas.organisation).post(BASE, {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert words in " ".join(response.json()["errors"]["file"])
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_oversized_upload_is_refused_and_stores_nothing(personas, api_for, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 100
    response = api_for(personas.organisation).post(BASE, {"file": text_file()}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert stored_files() == []


def test_upload_refused_by_the_service_after_inspection_leaves_no_file(personas, api_for):
    unknown_control = 999_999
    response = api_for(personas.organisation).post(
        BASE, {"file": text_file(), "controls": [unknown_control]}, format="multipart"
    )
    assert response.status_code == 400
    assert "controls" in response.json()["errors"]
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_upload_checks_its_fields(personas, api_for):
    client = api_for(personas.organisation)
    outsider_owner = client.post(BASE, {"file": text_file(), "owner": personas.outsider.pk}, format="multipart")
    assert outsider_owner.status_code == 400
    assert outsider_owner.json()["errors"]["owner"] == ["The owner must be a member of the organisation."]

    no_file = client.post(BASE, {"title": "Nothing attached"}, format="multipart")
    assert no_file.status_code == 400
    assert no_file.json()["errors"]["file"] == ["Choose a file to upload."]

    future = client.post(
        BASE, {"file": text_file(), "collected_on": (date.today() + timedelta(days=1)).isoformat()}, format="multipart"
    )
    assert "collected_on" in future.json()["errors"]

    backwards = client.post(
        BASE,
        {"file": text_file(), "collected_on": date.today().isoformat(), "valid_until": "2020-01-01"},
        format="multipart",
    )
    assert backwards.status_code == 400
    assert "valid_until" in backwards.json()["errors"]
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_a_retried_upload_with_the_same_idempotency_key_creates_one_item(personas, api_for):
    client = api_for(personas.organisation)
    first = client.post(BASE, {"file": text_file(), "title": "Firewall"}, format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(BASE, {"file": text_file(), "title": "Firewall"}, format="multipart", HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert again.json() == first.json()
    assert Evidence.objects.filter(organisation=personas.organisation).count() == 1
    assert len(stored_files()) == 1


def test_the_same_file_again_is_a_409_naming_the_item_held(personas, api_for):
    client = api_for(personas.organisation)
    first = client.post(BASE, {"file": text_file()}, format="multipart").json()

    again = client.post(BASE, {"file": text_file(name="copy.txt")}, format="multipart")
    assert again.status_code == 409
    assert f"evidence {first['id']}" in again.json()["detail"]
    assert len(stored_files()) == 1

    allowed = client.post(BASE, {"file": text_file(name="copy.txt"), "allow_duplicate": True}, format="multipart")
    assert allowed.status_code == 201


def test_links_and_notes_are_added_as_json(personas, api_for, firewall_control):
    client = api_for(personas.organisation)
    link = client.post(
        BASE,
        {
            "kind": "link",
            "title": "Booking system status",
            "url": "https://status.acme.example/",
            "controls": [firewall_control.pk],
        },
        format="json",
    )
    assert link.status_code == 201, link.json()
    assert (link.json()["kind"], link.json()["link"], link.json()["file"]) == (
        "link",
        "https://status.acme.example/",
        None,
    )

    note = client.post(
        BASE, {"kind": "note", "title": "Access review", "note": "Two leavers were removed."}, format="json"
    )
    assert note.status_code == 201, note.json()
    assert note.json()["note"] == "Two leavers were removed."
    assert Evidence.objects.get(pk=note.json()["id"]).form == EvidenceForm.NOTE


def test_links_and_notes_need_their_own_fields(personas, api_for):
    client = api_for(personas.organisation)
    untitled = client.post(BASE, {"kind": "link", "url": "https://status.acme.example/"}, format="json")
    assert untitled.status_code == 400
    assert "title" in untitled.json()["errors"]
    empty = client.post(BASE, {"kind": "note", "title": "Review", "url": "https://x.example/"}, format="json")
    assert set(empty.json()["errors"]) == {"note", "url"}
    bad_link = client.post(BASE, {"kind": "link", "title": "Router", "url": "javascript:alert(1)"}, format="json")
    assert "url" in bad_link.json()["errors"]
    assert not Evidence.objects.exists()


def test_upload_needs_the_evidence_write_scope(personas, api_for):
    response = api_for(personas.organisation, scopes=without(Scope.EVIDENCE_WRITE)).post(
        BASE, {"file": text_file()}, format="multipart"
    )
    assert response.status_code == 403
    assert "evidence:write" in response.json()["detail"]
    assert stored_files() == []


def test_upload_without_a_key_is_401(personas):
    assert APIClient().post(BASE, {"file": text_file()}, format="multipart").status_code == 401


def test_a_viewer_session_cannot_upload_but_a_member_can(personas, client_for):
    refused = client_for(personas.viewer).post(BASE, {"file": text_file()})
    assert refused.status_code == 403
    assert not Evidence.objects.exists()

    accepted = client_for(personas.member).post(BASE, {"file": text_file()})
    assert accepted.status_code == 201
    assert Evidence.objects.get().created_by == personas.member


# --- One item ------------------------------------------------------------------------------------------
def test_detail_shows_the_item_in_full(personas, api_for, note_item):
    response = api_for(personas.organisation, scopes=[Scope.EVIDENCE_READ]).get(detail_url(note_item))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["kind"], body["note"]) == (note_item.pk, "note", note_item.note)
    assert body["description"] == note_item.description


def test_another_organisations_item_is_404_everywhere(personas, api_for, other_item):
    client = api_for(personas.organisation)
    for url in (f"{BASE}{other_item.pk}/", f"{BASE}{other_item.pk}/download/"):
        assert client.get(url).status_code == 404
    response = client.patch(f"{BASE}{other_item.pk}/", {"title": "Mine now"}, format="json")
    assert response.status_code == 404
    other_item.refresh_from_db()
    assert other_item.title == "Rival's secret evidence"


def test_detail_needs_the_evidence_read_scope_and_a_key(personas, api_for, note_item):
    assert (
        api_for(personas.organisation, scopes=without(Scope.EVIDENCE_READ)).get(detail_url(note_item)).status_code
        == 403
    )
    assert APIClient().get(detail_url(note_item)).status_code == 401


def test_patch_controls_replaces_the_mapping(personas, api_for, file_item, firewall_control, mfa_control):
    client = api_for(personas.organisation, scopes=[Scope.EVIDENCE_WRITE, Scope.EVIDENCE_READ])
    response = client.patch(detail_url(file_item), {"controls": [mfa_control.pk]}, format="json")

    assert response.status_code == 200, response.json()
    assert [control["ref"] for control in response.json()["controls"]] == ["5.2"]
    assert list(file_item.controls.all()) == [mfa_control]
    assert AuditEvent.objects.filter(action="evidence.mapped", object_id=str(file_item.pk)).exists()


def test_patch_details_keeps_the_mapping(personas, api_for, file_item, firewall_control):
    until = (date.today() + timedelta(days=300)).isoformat()
    response = api_for(personas.organisation).patch(
        detail_url(file_item), {"title": "Router rules", "valid_until": until, "owner": None}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["valid_until"], body["owner"]) == ("Router rules", until, None)
    assert [control["id"] for control in body["controls"]] == [firewall_control.pk]
    file_item.refresh_from_db()
    assert file_item.title == "Router rules"
    assert AuditEvent.objects.filter(action="evidence.updated", object_id=str(file_item.pk)).exists()


def test_patch_changes_a_notes_text(personas, api_for, note_item):
    response = api_for(personas.organisation).patch(
        detail_url(note_item), {"note": "Checked again: all accounts current."}, format="json"
    )
    assert response.status_code == 200
    note_item.refresh_from_db()
    assert note_item.note == "Checked again: all accounts current."


def test_patch_refuses_what_does_not_fit(personas, api_for, file_item):
    client = api_for(personas.organisation)
    note_on_file = client.patch(detail_url(file_item), {"note": "Text"}, format="json")
    assert note_on_file.status_code == 400
    assert "note" in note_on_file.json()["errors"]
    unknown = client.patch(detail_url(file_item), {"controls": [999_999]}, format="json")
    assert unknown.status_code == 400
    assert "controls" in unknown.json()["errors"]
    blank = client.patch(detail_url(file_item), {"title": ""}, format="json")
    assert "title" in blank.json()["errors"]
    nothing = client.patch(detail_url(file_item), {}, format="json")
    assert nothing.status_code == 400
    assert file_item.controls.count() == 1


def test_patch_needs_the_evidence_write_scope(personas, api_for, file_item):
    client = api_for(personas.organisation, scopes=without(Scope.EVIDENCE_WRITE))
    response = client.patch(detail_url(file_item), {"title": "Changed"}, format="json")
    assert response.status_code == 403
    assert APIClient().patch(detail_url(file_item), {"title": "Changed"}, format="json").status_code == 401
    file_item.refresh_from_db()
    assert file_item.title == "Firewall rules export"


def test_a_viewer_session_cannot_patch(personas, client_for, file_item):
    response = client_for(personas.viewer).patch(
        detail_url(file_item), {"title": "Changed"}, content_type="application/json"
    )
    assert response.status_code == 403
    file_item.refresh_from_db()
    assert file_item.title == "Firewall rules export"


# --- Downloads -----------------------------------------------------------------------------------------
def test_download_streams_the_current_file_as_an_attachment(personas, api_for, file_item):
    response = api_for(personas.organisation, scopes=[Scope.EVIDENCE_READ]).get(
        f"{detail_url(file_item)}download/", HTTP_ACCEPT="application/octet-stream"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="firewall export.txt"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == b"Configuration export for firewall export.txt\n"


def test_links_and_notes_have_nothing_to_download(personas, api_for, note_item):
    response = api_for(personas.organisation).get(f"{detail_url(note_item)}download/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "no file" in response.json()["detail"]


def test_a_file_missing_from_storage_is_a_clear_404(personas, api_for, file_item):
    default_storage.delete(file_item.current_revision.file.name)
    response = api_for(personas.organisation).get(f"{detail_url(file_item)}download/")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


def test_download_needs_the_evidence_read_scope_and_a_key(personas, api_for, file_item):
    url = f"{detail_url(file_item)}download/"
    assert api_for(personas.organisation, scopes=without(Scope.EVIDENCE_READ)).get(url).status_code == 403
    assert APIClient().get(url).status_code == 401


def test_a_viewer_session_can_download(personas, client_for, file_item):
    response = client_for(personas.viewer).get(f"{detail_url(file_item)}download/")
    assert response.status_code == 200
