"""Adding evidence and looking after one item, through the pages: the view matrix, each way of adding,
refusals, duplicates, revisions, review, mapping, deletion and the item page's pinned query count."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from compliance.search import index_framework
from compliance.tests.factories import ControlFactory, FrameworkFactory
from evidence.kinds import default_valid_until
from evidence.models import (
    Evidence,
    EvidenceForm,
    EvidenceRevision,
    EvidenceSource,
    EvidenceStatus,
)
from evidence.tests.factories import CheckResultFactory, EvidenceFactory, EvidenceRevisionFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
FIREWALL_TEXT = (
    "Firewall rule export for the office router. Inbound connections are denied by default; the only "
    "open ports forward to the booking system over TLS. Administrative access is limited to the VPN. "
    "Reviewed by the operations manager every quarter and after every change request. "
)
# Long and varied enough for SimHash to see two near-identical versions as near duplicates.
POLICY_TEXT = " ".join(
    f"Clause {n}: staff lock their screens, use the password manager and report lost devices within "
    f"{n} hours to the office manager, who records the incident in the register number {n * 7}."
    for n in range(1, 40)
)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def stored_files() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


def text_file(name: str = "firewall-rules_export.txt", content: str = FIREWALL_TEXT) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/plain")


def png_file(name: str = "mfa-settings.png", colour: str = "green") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def browser_for(client_for):
    def make(user):
        browser = client_for(user)
        browser.get(reverse("evidence_new"))  # settle the session's current organisation
        return browser

    return make


@pytest.fixture
def note(personas):
    return EvidenceFactory(organisation=personas.organisation, owner=personas.member, title="Quarterly access review")


@pytest.fixture
def file_item(personas):
    revision = EvidenceRevisionFactory(
        organisation=personas.organisation, evidence__title="Router configuration export", number=1
    )
    Evidence.objects.filter(pk=revision.evidence_id).update(current_revision=revision, sha256=revision.sha256)
    return Evidence.objects.get(pk=revision.evidence_id)


@pytest.fixture
def control(db):
    control = ControlFactory(title="Firewall rules are reviewed", ref="FW.1")
    index_framework(control.framework)
    return control


def _urls(evidence: Evidence, revision: EvidenceRevision) -> dict[str, tuple[str, str]]:
    one = {"evidence_id": evidence.pk}
    return {
        "evidence_new": ("get", reverse("evidence_new")),
        "evidence_upload": ("post", reverse("evidence_upload")),
        "evidence_link_create": ("post", reverse("evidence_link_create")),
        "evidence_note_create": ("post", reverse("evidence_note_create")),
        "evidence_suggest_controls": ("get", reverse("evidence_suggest_controls")),
        "evidence_check_duplicate": ("get", reverse("evidence_check_duplicate") + "?sha256=" + "a" * 64),
        "evidence_detail": ("get", reverse("evidence_detail", kwargs=one)),
        "evidence_edit": ("get", reverse("evidence_edit", kwargs=one)),
        "evidence_revise": ("post", reverse("evidence_revise", kwargs=one)),
        "evidence_submit": ("post", reverse("evidence_submit", kwargs=one)),
        "evidence_review": ("post", reverse("evidence_review", kwargs=one)),
        "evidence_controls": ("post", reverse("evidence_controls", kwargs=one)),
        "evidence_reuse": ("post", reverse("evidence_reuse", kwargs=one)),
        "evidence_delete": ("post", reverse("evidence_delete", kwargs=one)),
        "evidence_revision_download": (
            "get",
            reverse("evidence_revision_download", kwargs={"evidencerevision_id": revision.pk}),
        ),
    }


EDIT_ACTIONS = {
    "evidence_new",
    "evidence_upload",
    "evidence_link_create",
    "evidence_note_create",
    "evidence_suggest_controls",
    "evidence_check_duplicate",
    "evidence_edit",
    "evidence_revise",
    "evidence_submit",
    "evidence_controls",
    "evidence_reuse",
    "evidence_delete",
}
OBJECT_URLS = {
    "evidence_detail",
    "evidence_edit",
    "evidence_revise",
    "evidence_submit",
    "evidence_review",
    "evidence_controls",
    "evidence_reuse",
    "evidence_delete",
    "evidence_revision_download",
}


@pytest.fixture
def urls(file_item):
    return _urls(file_item, file_item.current_revision)


# --- The view matrix ---------------------------------------------------------------------------------
def test_every_item_url_is_in_the_matrix(urls):
    from evidence.urls import urlpatterns

    mine = {pattern.name for pattern in urlpatterns if pattern.callback.__module__ == "evidence.views.items"}
    assert mine == set(urls)


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer", "consultant"])
def test_every_role_reads_the_item_page_and_downloads(personas, urls, client_for, role):
    browser = client_for(getattr(personas, role))
    assert browser.get(urls["evidence_detail"][1]).status_code == 200
    assert browser.get(urls["evidence_revision_download"][1]).status_code == 200


@pytest.mark.parametrize("name", sorted(EDIT_ACTIONS | {"evidence_review"}))
def test_viewers_are_refused_every_change(personas, urls, client_for, name):
    method, url = urls[name]
    assert getattr(client_for(personas.viewer), method)(url).status_code == 403


def test_members_cannot_review(personas, file_item, client_for):
    url = reverse("evidence_review", args=[file_item.pk])
    response = client_for(personas.member).post(url, {"decision": "accept"})
    assert response.status_code == 403
    file_item.refresh_from_db()
    assert file_item.status == EvidenceStatus.SUBMITTED


@pytest.mark.parametrize("name", sorted(OBJECT_URLS))
def test_outsiders_get_404_for_another_organisations_item(personas, urls, client_for, name):
    method, url = urls[name]
    assert getattr(client_for(personas.outsider), method)(url).status_code == 404


@pytest.mark.parametrize("name", ["evidence_new", "evidence_detail", "evidence_upload", "evidence_revision_download"])
def test_anonymous_visitors_are_sent_to_sign_in(urls, client_for, name):
    method, url = urls[name]
    response = getattr(client_for(None), method)(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize(
    "name",
    [
        "evidence_new",
        "evidence_detail",
        "evidence_upload",
        "evidence_delete",
        "evidence_review",
        "evidence_suggest_controls",
    ],
)
def test_wrong_method_is_refused(personas, urls, client_for, name):
    method, url = urls[name]
    wrong = "post" if method == "get" else "get"
    assert getattr(client_for(personas.owner), wrong)(url).status_code == 405


def test_malformed_and_unknown_ids_are_not_found(personas, client_for):
    browser = client_for(personas.owner)
    for url in ("/evidence/abc/", "/evidence/999999/", "/evidence/-1/edit/", "/evidence/revisions/0x1/download/"):
        assert browser.get(url).status_code == 404, url
    assert browser.post("/evidence/999999/delete/").status_code == 404


def test_reusing_with_another_organisations_item_as_discard_is_not_found(personas, note, client_for):
    theirs = EvidenceFactory(organisation=personas.other_organisation)
    response = client_for(personas.member).post(reverse("evidence_reuse", args=[note.pk]), {"discard": theirs.pk})
    assert response.status_code == 404
    assert Evidence.objects.filter(pk=theirs.pk).exists()


# --- Adding: the page ----------------------------------------------------------------------------------
def test_new_page_has_three_tabs_and_defaults(personas, browser_for):
    page = text_of(browser_for(personas.member).get(reverse("evidence_new")))
    for label in ("Upload files", "Add a link", "Write a note"):
        assert label in page
    assert "data-upload-batch" in page
    assert f'value="{date.today():%Y-%m-%d}"' in page
    screenshot_until = default_valid_until("screenshot", date.today())
    assert f"{screenshot_until.day} {screenshot_until:%B %Y} for screenshots" in page
    assert f'<option value="{personas.member.pk}" selected>' in page


def test_new_page_preselects_the_control_it_was_opened_for(personas, browser_for, control):
    browser = browser_for(personas.member)
    page = text_of(browser.get(reverse("evidence_new"), {"control": control.pk, "tab": "link"}))
    assert f'name="controls" value="{control.pk}" id="control-{control.pk}" checked' in page
    assert escape(control.title) in page
    assert f"tab=note&amp;control={control.pk}" in page
    # Nonsense is ignored, not an error.
    assert browser.get(reverse("evidence_new"), {"control": "x", "tab": "nope"}).status_code == 200


def test_valid_until_hint_follows_the_chosen_type(personas, browser_for):
    response = browser_for(personas.member).post(
        reverse("evidence_note_create"),
        {"title": "", "note": "x", "evidence_type": "policy", "collected_on": "2026-01-10"},
    )
    assert response.status_code == 400
    assert "defaults to 10 January 2027 for policies" in text_of(response)


# --- Uploading -------------------------------------------------------------------------------------
def test_upload_without_script_stores_the_file_and_opens_the_item(personas, browser_for, control):
    browser = browser_for(personas.member)
    response = browser.post(
        reverse("evidence_upload"),
        {"file": text_file(), "evidence_type": "", "owner": personas.member.pk, "controls": [control.pk]},
    )
    evidence = Evidence.objects.get(organisation=personas.organisation)
    assert response.status_code == 302
    assert response.url == reverse("evidence_detail", args=[evidence.pk])
    assert evidence.title == "firewall rules export"
    assert evidence.form == EvidenceForm.FILE
    assert evidence.status == EvidenceStatus.SUBMITTED
    assert evidence.owner == personas.member
    assert list(evidence.controls.all()) == [control]
    assert evidence.revisions.count() == 1
    assert len(stored_files()) == 1
    page = text_of(browser.get(response.url))
    assert "Added “firewall rules export”." in page
    assert "firewall-rules_export.txt" in page


def test_upload_by_script_answers_with_a_fragment_and_types_pictures_as_screenshots(personas, browser_for):
    response = browser_for(personas.member).post(
        reverse("evidence_upload"), {"file": png_file(), "evidence_type": "", "submit": "draft"}, **XHR
    )
    evidence = Evidence.objects.get(organisation=personas.organisation)
    assert response.status_code == 201
    body = text_of(response)
    assert "<html" not in body
    assert f'Added <a href="{reverse("evidence_detail", args=[evidence.pk])}">“mfa settings”</a> as a draft' in body
    assert evidence.evidence_type == "screenshot"
    assert evidence.status == EvidenceStatus.DRAFT
    assert evidence.valid_until == default_valid_until("screenshot", date.today())


def test_an_uploads_chosen_type_and_title_win_over_the_defaults(personas, browser_for):
    browser_for(personas.member).post(
        reverse("evidence_upload"),
        {"file": png_file(), "evidence_type": "certificate", "title": "Cyber Essentials certificate"},
        **XHR,
    )
    evidence = Evidence.objects.get(organisation=personas.organisation)
    assert (evidence.title, evidence.evidence_type) == ("Cyber Essentials certificate", "certificate")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 200, "Windows program"),
        ("notes.html", b"<!doctype html><html><body><script>alert(1)</script></body></html>", "web page"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(personas, browser_for, name, content, words):
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    response = browser_for(personas.member).post(reverse("evidence_upload"), {"file": upload}, **XHR)
    assert response.status_code == 400
    assert words in text_of(response)
    assert "Nothing was stored." in text_of(response)
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_oversized_upload_is_refused_and_stores_nothing(personas, browser_for, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 100
    response = browser_for(personas.member).post(
        reverse("evidence_upload"), {"file": text_file(content="x" * 500)}, **XHR
    )
    assert response.status_code == 400
    assert "“firewall-rules_export.txt”" in text_of(response)
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_request_bodies_over_the_limit_never_reach_the_view(personas, browser_for, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000
    response = browser_for(personas.member).post(
        reverse("evidence_upload"), {"file": text_file(content="x" * 5000)}, **XHR
    )
    assert response.status_code == 413
    assert not Evidence.objects.exists()


def test_refusal_without_script_shows_the_page_with_the_reason(personas, browser_for):
    upload = SimpleUploadedFile("run.exe", b"MZ" + b"\x00" * 100)
    response = browser_for(personas.member).post(reverse("evidence_upload"), {"file": upload})
    assert response.status_code == 400
    page = text_of(response)
    assert "Windows program" in page
    assert "Nothing was stored." in page
    assert 'class="form-errors"' in page


def test_upload_without_a_file_is_refused(personas, browser_for):
    response = browser_for(personas.member).post(reverse("evidence_upload"), {"evidence_type": ""}, **XHR)
    assert response.status_code == 400
    assert not Evidence.objects.exists()


def test_exact_duplicate_upload_gets_409_and_the_prompt(personas, browser_for):
    browser = browser_for(personas.member)
    browser.post(reverse("evidence_upload"), {"file": text_file()}, **XHR)
    first = Evidence.objects.get()
    response = browser.post(reverse("evidence_upload"), {"file": text_file("again.txt")}, **XHR)
    assert response.status_code == 409
    body = text_of(response)
    created = first.created_at.date()
    link = f'<a href="{reverse("evidence_detail", args=[first.pk])}">“firewall rules export”</a>'
    assert f"This looks like {link} uploaded on {created.day} {created:%B %Y}" in body
    assert f'data-reuse="{reverse("evidence_reuse", args=[first.pk])}"' in body
    assert "Upload anyway" in body
    assert Evidence.objects.count() == 1
    assert len(stored_files()) == 1

    anyway = browser.post(reverse("evidence_upload"), {"file": text_file("again.txt"), "allow_duplicate": "1"}, **XHR)
    assert anyway.status_code == 201
    assert Evidence.objects.count() == 2


def test_exact_duplicate_without_script_shows_the_prompt_on_the_page(personas, browser_for, control):
    browser = browser_for(personas.member)
    browser.post(reverse("evidence_upload"), {"file": text_file()})
    response = browser.post(reverse("evidence_upload"), {"file": text_file(), "controls": [control.pk]})
    assert response.status_code == 409
    page = text_of(response)
    assert "You may already have this" in page
    assert f'<input type="hidden" name="controls" value="{control.pk}">' in page
    assert '<input type="hidden" name="allow_duplicate" value="1">' in page


def test_duplicate_check_before_upload(personas, browser_for, file_item):
    browser = browser_for(personas.member)
    url = reverse("evidence_check_duplicate")
    assert browser.get(url, {"sha256": "0" * 64}).status_code == 204
    assert browser.get(url, {"sha256": "not-a-hash"}).status_code == 400
    found = browser.get(url, {"sha256": file_item.sha256.upper(), "name": "router.txt"})
    assert found.status_code == 200
    assert "This looks like" in text_of(found)
    assert escape(file_item.title) in text_of(found)
    theirs = EvidenceFactory(organisation=personas.other_organisation, sha256="b" * 64)
    assert browser.get(url, {"sha256": theirs.sha256}).status_code == 204


def test_reusing_an_item_maps_the_controls_and_stores_nothing(personas, browser_for, file_item, control):
    browser = browser_for(personas.member)
    response = browser.post(reverse("evidence_reuse", args=[file_item.pk]), {"controls": [control.pk]}, **XHR)
    assert response.status_code == 200
    assert "Mapped 1 control to “Router configuration export” instead. No copy was stored." in text_of(response)
    assert list(file_item.controls.all()) == [control]
    assert Evidence.objects.count() == 1

    plain = browser.post(reverse("evidence_reuse", args=[file_item.pk]), {"controls": [control.pk]})
    assert plain.status_code == 302
    assert plain.url == reverse("evidence_detail", args=[file_item.pk])


def test_near_duplicate_is_offered_and_using_it_discards_the_new_copy(
    personas, browser_for, control, django_capture_on_commit_callbacks
):
    browser = browser_for(personas.member)
    browser.post(reverse("evidence_upload"), {"file": text_file("acceptable-use.txt", POLICY_TEXT)}, **XHR)
    original = Evidence.objects.get()
    changed = POLICY_TEXT.replace("Clause 3:", "Clause three:")
    response = browser.post(
        reverse("evidence_upload"),
        {"file": text_file("acceptable-use-v2.txt", changed), "controls": [control.pk]},
        **XHR,
    )
    assert response.status_code == 201
    body = text_of(response)
    assert "(very similar text)" in body
    assert "“acceptable use”" in body
    copy = Evidence.objects.exclude(pk=original.pk).get()
    assert f'data-discard="{copy.pk}"' in body
    assert len(stored_files()) == 2

    with django_capture_on_commit_callbacks(execute=True):
        reused = browser.post(reverse("evidence_reuse", args=[original.pk]), {"discard": copy.pk}, **XHR)
    assert reused.status_code == 200
    assert not Evidence.objects.filter(pk=copy.pk).exists()
    assert list(original.controls.all()) == [control]
    assert len(stored_files()) == 1


def test_an_item_cannot_replace_itself(personas, browser_for, note):
    response = browser_for(personas.member).post(reverse("evidence_reuse", args=[note.pk]), {"discard": note.pk}, **XHR)
    assert response.status_code == 400
    assert Evidence.objects.filter(pk=note.pk).exists()


# --- Links and notes -------------------------------------------------------------------------------
def _details(**extra):
    return {"evidence_type": "configuration", "collected_on": date.today().isoformat(), "submit": "submit", **extra}


def test_adding_a_link(personas, browser_for, control):
    response = browser_for(personas.member).post(
        reverse("evidence_link_create"),
        _details(title="Status page of the booking system", url="status.example.co.uk/booking", controls=[control.pk]),
    )
    evidence = Evidence.objects.get()
    assert response.status_code == 302
    assert evidence.form == EvidenceForm.LINK
    assert evidence.url == "https://status.example.co.uk/booking"
    assert list(evidence.controls.all()) == [control]


def test_link_errors_show_on_the_page(personas, browser_for):
    response = browser_for(personas.member).post(reverse("evidence_link_create"), _details(title="", url="ftp://x"))
    assert response.status_code == 400
    page = text_of(response)
    assert page.count('class="field-error"') >= 2
    assert not Evidence.objects.exists()


def test_the_same_link_twice_gets_the_prompt_and_can_be_added_anyway(personas, browser_for):
    browser = browser_for(personas.member)
    browser.post(
        reverse("evidence_link_create"), _details(title="Booking status page", url="https://status.example.co.uk/")
    )
    again = _details(title="Status page again", url="http://www.status.example.co.uk")
    response = browser.post(reverse("evidence_link_create"), again)
    assert response.status_code == 409
    assert "This looks like" in text_of(response)
    assert "Add the link anyway" in text_of(response)
    assert Evidence.objects.count() == 1
    assert browser.post(reverse("evidence_link_create"), {**again, "allow_duplicate": "1"}).status_code == 302
    assert Evidence.objects.count() == 2


def test_writing_a_note(personas, browser_for):
    response = browser_for(personas.member).post(
        reverse("evidence_note_create"),
        _details(title="Backup restore test", note="Restored the accounts folder on 20 November.\nIt worked."),
    )
    evidence = Evidence.objects.get()
    assert response.status_code == 302
    assert evidence.form == EvidenceForm.NOTE
    assert evidence.note.startswith("Restored the accounts folder")


def test_note_without_text_and_future_dates_are_refused(personas, browser_for):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = browser_for(personas.member).post(
        reverse("evidence_note_create"), _details(title="Backup restore test", note="", collected_on=tomorrow)
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "The date it was collected cannot be in the future." in page
    assert not Evidence.objects.exists()


def test_service_errors_land_on_their_fields(personas, browser_for):
    response = browser_for(personas.member).post(
        reverse("evidence_note_create"),
        _details(title="Backup restore test", note="Done.", collected_on="2026-05-01", valid_until="2026-04-01"),
    )
    assert response.status_code == 400
    assert "Valid until cannot be before the date it was collected." in text_of(response)


def test_unknown_controls_are_refused_on_the_form(personas, browser_for):
    response = browser_for(personas.member).post(
        reverse("evidence_note_create"), _details(title="Backup restore test", note="Done.", controls=["999999"])
    )
    assert response.status_code == 400
    assert "One of the chosen controls is not in the library." in text_of(response)


# --- Suggesting controls ---------------------------------------------------------------------------
def test_control_search_lists_matches_but_not_the_chosen_or_excluded(personas, browser_for, control):
    other = ControlFactory(title="Firewall logs are kept", ref="FW.2")
    index_framework(other.framework)
    browser = browser_for(personas.member)
    url = reverse("evidence_suggest_controls")
    found = text_of(browser.get(url, {"q": "firewall"}))
    assert "Matching controls" in found
    assert f'value="{control.pk}"' in found
    assert f'value="{other.pk}"' in found
    chosen = text_of(browser.get(url, {"q": "firewall", "controls": [other.pk]}))
    assert f'value="{control.pk}"' in chosen
    assert f'value="{other.pk}"' not in chosen
    suggested = text_of(browser.get(url, {"title": "Firewall rules export"}))
    assert "Suggested controls" in suggested
    excluded = text_of(browser.get(url, {"q": "firewall", "exclude": [control.pk, other.pk]}))
    assert f'value="{control.pk}"' not in excluded
    assert "No controls match" in excluded
    assert browser.get(url).content.strip() == b""
    assert browser.get(url, {"controls": "abc"}).status_code == 400


# --- The item page ---------------------------------------------------------------------------------
def test_file_item_page_shows_the_file_history_and_actions(personas, browser_for, file_item):
    older = EvidenceRevisionFactory(
        organisation=personas.organisation, evidence=file_item, number=0, comment="Before the change"
    )
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[file_item.pk])))
    current = file_item.current_revision
    assert escape(current.original_name) in page
    assert "Text file" in page
    assert reverse("evidence_revision_download", args=[current.pk]) in page
    assert reverse("evidence_revision_download", args=[older.pk]) in page
    assert "Before the change" in page
    assert "Upload a new version" in page
    assert "Edit details" in page
    assert "Delete this evidence" in page
    assert 'name="decision" value="accept"' not in page  # members do not review


def test_viewer_sees_no_actions(personas, client_for, file_item):
    page = text_of(client_for(personas.viewer).get(reverse("evidence_detail", args=[file_item.pk])))
    for action in ("Upload a new version", "Edit details", "Delete this evidence", "Map the ticked controls"):
        assert action not in page


def test_link_page_opens_the_link_safely(personas, browser_for):
    link = EvidenceFactory(
        organisation=personas.organisation, form=EvidenceForm.LINK, note="", url="https://status.example.co.uk/"
    )
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[link.pk])))
    assert '<a href="https://status.example.co.uk/" rel="noopener noreferrer" target="_blank">' in page


def test_note_text_is_escaped_with_its_line_breaks(personas, browser_for):
    note = EvidenceFactory(organisation=personas.organisation, note="First line\n<script>alert(1)</script>")
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[note.pk])))
    assert "<p>First line<br>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in page


def test_flags_are_shown_as_warnings(personas, browser_for, file_item):
    EvidenceRevision.objects.filter(pk=file_item.current_revision_id).update(flags=["pdf_active_content"])
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[file_item.pk])))
    assert "message-warning" in page
    assert "This PDF contains scripts" in page


def test_images_are_previewed_from_the_inline_download(personas, browser_for):
    browser = browser_for(personas.member)
    browser.post(reverse("evidence_upload"), {"file": png_file()}, **XHR)
    evidence = Evidence.objects.get()
    page = text_of(browser.get(reverse("evidence_detail", args=[evidence.pk])))
    url = reverse("evidence_revision_download", args=[evidence.current_revision_id])
    assert f'<img src="{url}?inline=1" alt="Preview of mfa-settings.png">' in page


def test_automated_items_show_their_source_and_checks(personas, browser_for):
    evidence = EvidenceFactory(organisation=personas.organisation, source=EvidenceSource.GOOGLE_WORKSPACE)
    CheckResultFactory(organisation=personas.organisation, evidence=evidence, passed=False, title="2-Step Verification")
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[evidence.pk])))
    assert "Collected automatically from Google Workspace" in page
    assert "2-Step Verification" in page
    assert '<span class="badge badge-danger">Failed</span>' in page


def test_quality_panel_explains_the_score_and_how_to_raise_it(personas, browser_for, note):
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[note.pk])))
    assert "Quality" in page
    assert "What would raise it" in page
    assert "Map it to the controls it supports in your frameworks (+20)." in page
    assert "A written note, the hardest kind of evidence to check." in page


def test_expiry_badge(personas, browser_for):
    soon = EvidenceFactory(organisation=personas.organisation, valid_until=date.today() + timedelta(days=12))
    gone = EvidenceFactory(
        organisation=personas.organisation,
        collected_on=date.today() - timedelta(days=100),
        valid_until=date.today() - timedelta(days=1),
    )
    browser = browser_for(personas.member)
    assert "Expires in 12 days" in text_of(browser.get(reverse("evidence_detail", args=[soon.pk])))
    assert "Past its valid-until date" in text_of(browser.get(reverse("evidence_detail", args=[gone.pk])))


def test_duplicates_panel_lists_the_same_file(personas, browser_for, file_item):
    twin = EvidenceFactory(organisation=personas.organisation, title="Router export copy", sha256=file_item.sha256)
    page = text_of(browser_for(personas.member).get(reverse("evidence_detail", args=[twin.pk])))
    assert "Looks like" in page
    assert "the same file, byte for byte" in page
    assert escape(file_item.title) in page


@pytest.mark.parametrize(("revisions", "controls"), [(1, 1), (6, 8)])
def test_item_page_query_count_does_not_grow(
    personas, browser_for, file_item, django_assert_num_queries, revisions, controls
):
    for number in range(2, revisions + 1):
        EvidenceRevisionFactory(organisation=personas.organisation, evidence=file_item, number=number)
    from compliance.search import index_framework

    framework = FrameworkFactory()
    file_item.controls.set([ControlFactory(group__framework=framework) for _ in range(controls)])
    # Searchable on both databases, so suggested controls are found (and loaded) on each.
    index_framework(framework)
    browser = browser_for(personas.owner)
    url = reverse("evidence_detail", args=[file_item.pk])
    browser.get(url)
    # ... the suggestions: the search's ranking queries, then the suggested controls themselves
    with django_assert_num_queries(14):
        response = browser.get(url)
    assert len(response.context["revisions"]) == revisions
    assert len(response.context["controls"]) == controls


# --- Changing an item ------------------------------------------------------------------------------
def test_edit_page_shows_the_details_and_saves_them(personas, browser_for, note, control):
    browser = browser_for(personas.member)
    url = reverse("evidence_edit", args=[note.pk])
    page = text_of(browser.get(url))
    assert escape(note.title) in page
    assert escape(note.note) in page
    response = browser.post(
        url,
        _details(title="Quarterly access review, autumn", note="Reviewed all 12 accounts.", controls=[control.pk],
                 owner=personas.admin.pk),
    )  # fmt: skip
    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.title, note.note, note.owner) == (
        "Quarterly access review, autumn",
        "Reviewed all 12 accounts.",
        personas.admin,
    )
    assert list(note.controls.all()) == [control]


def test_edit_errors_are_shown_inline(personas, browser_for, note):
    response = browser_for(personas.member).post(
        reverse("evidence_edit", args=[note.pk]),
        _details(title="Quarterly access review", note="", collected_on="2026-05-01", valid_until="2026-04-01"),
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "Write what the note records." in page
    assert "Some details need attention" in page
    note.refresh_from_db()
    assert note.title == "Quarterly access review"


def test_owner_must_be_a_member(personas, browser_for, note):
    response = browser_for(personas.member).post(
        reverse("evidence_edit", args=[note.pk]),
        _details(title="Access review", note="Done.", owner=personas.outsider.pk),
    )
    assert response.status_code == 400
    note.refresh_from_db()
    assert note.owner == personas.member


def test_new_version_keeps_the_history(personas, browser_for, django_capture_on_commit_callbacks):
    browser = browser_for(personas.member)
    browser.post(reverse("evidence_upload"), {"file": text_file()}, **XHR)
    evidence = Evidence.objects.get()
    url = reverse("evidence_revise", args=[evidence.pk])
    response = browser.post(
        url, {"file": text_file(content=FIREWALL_TEXT + " Changed."), "comment": "Tightened"}, **XHR
    )
    assert response.status_code == 201
    assert "Uploaded version 2" in text_of(response)
    evidence.refresh_from_db()
    assert list(evidence.revisions.values_list("number", flat=True)) == [2, 1]
    assert evidence.current_revision.number == 2
    assert evidence.current_revision.comment == "Tightened"
    assert len(stored_files()) == 2
    page = text_of(browser.get(reverse("evidence_detail", args=[evidence.pk])))
    assert "Version 2" in page
    assert "Version 1" in page

    same = browser.post(url, {"file": text_file(content=FIREWALL_TEXT + " Changed.")}, **XHR)
    assert same.status_code == 400
    assert "nothing has changed" in text_of(same)
    refused = browser.post(url, {"file": SimpleUploadedFile("x.exe", b"MZ" + b"\x00" * 50)})
    assert refused.status_code == 400
    assert "Windows program" in text_of(refused)
    assert evidence.revisions.count() == 2
    assert len(stored_files()) == 2


def test_notes_have_no_versions(personas, browser_for, note):
    response = browser_for(personas.member).post(
        reverse("evidence_revise", args=[note.pk]), {"file": text_file()}, **XHR
    )
    assert response.status_code == 400
    assert stored_files() == []


def test_submitting_a_draft(personas, browser_for):
    draft = EvidenceFactory(organisation=personas.organisation, status=EvidenceStatus.DRAFT)
    response = browser_for(personas.member).post(reverse("evidence_submit", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == EvidenceStatus.SUBMITTED


@pytest.mark.parametrize("approver", ["owner", "admin", "consultant"])
def test_approvers_accept(personas, client_for, note, approver):
    response = client_for(getattr(personas, approver)).post(
        reverse("evidence_review", args=[note.pk]), {"decision": "accept"}
    )
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.status == EvidenceStatus.ACCEPTED
    assert note.reviewed_by == getattr(personas, approver)


def test_rejecting_needs_a_comment_which_the_page_then_shows(personas, browser_for, note):
    browser = browser_for(personas.owner)
    url = reverse("evidence_review", args=[note.pk])
    missing = browser.post(url, {"decision": "reject", "comment": "  "})
    assert missing.status_code == 400
    assert "Say why it is rejected" in text_of(missing)
    note.refresh_from_db()
    assert note.status == EvidenceStatus.SUBMITTED

    browser.post(url, {"decision": "reject", "comment": "The screenshot does not show the date."})
    note.refresh_from_db()
    assert note.status == EvidenceStatus.REJECTED
    page = text_of(browser.get(reverse("evidence_detail", args=[note.pk])))
    assert "Rejected by" in page
    assert "The screenshot does not show the date." in page


def test_mapping_and_unmapping_controls_with_htmx(personas, browser_for, note, control):
    browser = browser_for(personas.member)
    url = reverse("evidence_controls", args=[note.pk])
    added = browser.post(url, {"controls": [control.pk]}, **HTMX)
    body = text_of(added)
    assert added.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="evidence-controls"')
    assert 'id="evidence-quality"' in body
    assert 'hx-swap-oob="true"' in body
    assert reverse("control_detail", args=[control.framework.slug, control.ref]) in body
    assert list(note.controls.all()) == [control]

    removed = browser.post(url, {"remove": [control.pk]}, **HTMX)
    assert "Removed 1 mapping." in text_of(removed)
    assert not note.controls.exists()
    assert browser.post(url, {"controls": ["999999"]}).status_code == 302
    assert not note.controls.exists()


def test_deleting_removes_the_item_and_its_files_after_commit(
    personas, browser_for, django_capture_on_commit_callbacks
):
    browser = browser_for(personas.member)
    browser.post(reverse("evidence_upload"), {"file": text_file()}, **XHR)
    evidence = Evidence.objects.get()
    browser.post(reverse("evidence_revise", args=[evidence.pk]), {"file": text_file(content="Another export")}, **XHR)
    assert len(stored_files()) == 2
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = browser.post(reverse("evidence_delete", args=[evidence.pk]))
    assert len(stored_files()) == 2  # nothing is deleted before the rows are gone for good
    for callback in callbacks:
        callback()
    assert response.status_code == 302
    assert response.url == reverse("evidence_list")
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_htmx_delete_redirects_the_client(personas, browser_for, note):
    response = browser_for(personas.member).post(reverse("evidence_delete", args=[note.pk]), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("evidence_list")
