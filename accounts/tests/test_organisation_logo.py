"""The organisation's logo: uploaded on the settings page, checked by content, served to members only,
and drawn on the readiness report's cover."""

from __future__ import annotations

import io
import re
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from accounts.audit import Actor
from accounts.logos import MAX_LOGO_BYTES, inspect_logo, organisation_logo_replace
from accounts.models import AuditEvent, Organisation
from assessments.reports.readiness_data import readiness_report_data
from assessments.reports.readiness_pdf import build_readiness_pdf

pytestmark = pytest.mark.django_db

REQUEST_BASELINE = 3  # session, user, memberships (accounts/tests/test_queries.py)
STORED_NAME = re.compile(r"^organisations/(\d+)/logos/[0-9a-f]{32}\.(png|jpg)$")


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (120, 60), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "seagreen").save(out, format=image_format)
    return out.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def post_logo(browser, content: bytes, name: str = "logo.png", content_type: str = "image/png"):
    return browser.post("/settings/", {"intent": "logo", "logo": upload(name, content, content_type)})


def stored_logos(organisation: Organisation) -> list[str]:
    try:
        _folders, files = default_storage.listdir(f"organisations/{organisation.pk}/logos")
    except FileNotFoundError:
        return []
    return sorted(files)


def refreshed(organisation: Organisation) -> Organisation:
    return Organisation.objects.get(pk=organisation.pk)


# --- Uploading ------------------------------------------------------------------------------------
def test_an_owner_uploads_a_png_logo(personas, client_for):
    content = image_bytes("PNG")

    response = post_logo(client_for(personas.owner), content)

    assert response.status_code == 302
    organisation = refreshed(personas.organisation)
    match = STORED_NAME.match(organisation.logo.name)
    assert match is not None
    assert match.groups() == (str(organisation.pk), "png")
    with default_storage.open(organisation.logo.name, "rb") as handle:
        assert handle.read() == content
    event = AuditEvent.objects.get(action="organisation.logo_changed")
    assert event.organisation == organisation
    assert event.actor == personas.owner


def test_an_admin_uploads_a_jpeg_logo_whatever_it_is_called(personas, client_for):
    content = image_bytes("JPEG")

    response = post_logo(client_for(personas.admin), content, name="logo.png", content_type="image/png")

    assert response.status_code == 302
    # The stored name comes from the content, not from what the file was called.
    assert refreshed(personas.organisation).logo.name.endswith(".jpg")


def test_the_settings_page_previews_the_logo_and_offers_removal(personas, client_for):
    browser = client_for(personas.owner)
    post_logo(browser, image_bytes())

    page = browser.get("/settings/").content.decode()

    assert 'src="/settings/logo/"' in page
    assert "Remove logo" in page
    assert "Replace logo" in page


def test_a_text_file_renamed_to_png_is_refused_with_a_message(personas, client_for):
    response = post_logo(client_for(personas.owner), b"name,role\nAda,owner\n", name="logo.png")

    assert response.status_code == 200
    assert "must be a PNG or JPEG image" in response.content.decode()
    assert refreshed(personas.organisation).logo.name == ""
    assert stored_logos(personas.organisation) == []


def test_a_file_over_two_megabytes_is_refused(personas, client_for):
    # A real PNG, padded past the limit after its end: only the size can be refusing it.
    content = image_bytes() + b"\0" * MAX_LOGO_BYTES

    response = post_logo(client_for(personas.owner), content)

    assert response.status_code == 200
    assert "2 MB or smaller" in response.content.decode()
    assert refreshed(personas.organisation).logo.name == ""
    assert stored_logos(personas.organisation) == []


def test_an_image_over_four_thousand_pixels_on_a_side_is_refused(personas, client_for):
    response = post_logo(client_for(personas.owner), image_bytes("PNG", size=(4_001, 10)))

    assert response.status_code == 200
    assert "at most 4,000 × 4,000 pixels" in response.content.decode()
    assert stored_logos(personas.organisation) == []


def test_a_truncated_image_is_refused():
    content = image_bytes("PNG", size=(400, 400))

    with pytest.raises(Exception, match="could not be read"):
        inspect_logo(io.BytesIO(content[: len(content) // 2]))


@pytest.mark.parametrize("persona", ["member", "viewer", "consultant"])
def test_only_owners_and_admins_may_upload(personas, client_for, persona):
    response = post_logo(client_for(getattr(personas, persona)), image_bytes())

    assert response.status_code == 403
    assert refreshed(personas.organisation).logo.name == ""
    assert stored_logos(personas.organisation) == []


def test_a_member_sees_the_logo_but_no_upload_form(personas, client_for):
    post_logo(client_for(personas.owner), image_bytes())

    page = client_for(personas.member).get("/settings/").content.decode()

    assert 'src="/settings/logo/"' in page
    assert 'name="logo"' not in page
    assert "Only owners and admins can change the logo." in page


def test_replacing_deletes_the_old_file_only_after_the_commit(personas, client_for, django_capture_on_commit_callbacks):
    browser = client_for(personas.owner)
    post_logo(browser, image_bytes("PNG"))
    old_name = refreshed(personas.organisation).logo.name

    with django_capture_on_commit_callbacks() as callbacks:
        post_logo(browser, image_bytes("JPEG"))
    new_name = refreshed(personas.organisation).logo.name

    assert new_name != old_name
    assert default_storage.exists(old_name), "deleted before the new row committed"
    for callback in callbacks:
        callback()
    assert not default_storage.exists(old_name)
    assert default_storage.exists(new_name)


def test_a_failed_row_write_leaves_the_old_logo_and_no_new_file(personas):
    organisation = personas.organisation
    organisation.logo.save("logo.png", ContentFile(image_bytes()), save=True)
    old_name = organisation.logo.name
    logo = inspect_logo(io.BytesIO(image_bytes("JPEG")))

    with (
        mock.patch.object(Organisation, "save", side_effect=IntegrityError("database unavailable")),
        pytest.raises(IntegrityError),
    ):
        organisation_logo_replace(organisation=organisation, logo=logo, actor=Actor(user=personas.owner))

    assert organisation.logo.name == old_name
    assert refreshed(organisation).logo.name == old_name
    assert stored_logos(organisation) == [old_name.rsplit("/", 1)[-1]]


def test_remove_logo_clears_the_row_then_deletes_the_file(personas, client_for, django_capture_on_commit_callbacks):
    browser = client_for(personas.admin)
    post_logo(browser, image_bytes())
    name = refreshed(personas.organisation).logo.name

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/settings/", {"intent": "logo-remove"})

    assert response.status_code == 302
    assert refreshed(personas.organisation).logo.name == ""
    assert not default_storage.exists(name)
    assert AuditEvent.objects.filter(action="organisation.logo_removed").count() == 1


def test_a_viewer_cannot_remove_the_logo(personas, client_for):
    post_logo(client_for(personas.owner), image_bytes())

    response = client_for(personas.viewer).post("/settings/", {"intent": "logo-remove"})

    assert response.status_code == 403
    assert refreshed(personas.organisation).logo.name != ""


def test_renaming_still_works_beside_the_logo_form(personas, client_for):
    response = client_for(personas.owner).post("/settings/", {"intent": "name", "name": "Acme Patisserie"})

    assert response.status_code == 302
    assert refreshed(personas.organisation).name == "Acme Patisserie"


# --- Serving --------------------------------------------------------------------------------------
def test_a_member_gets_the_logo_as_an_image(personas, client_for):
    content = image_bytes("JPEG")
    post_logo(client_for(personas.owner), content, name="logo.jpg", content_type="image/jpeg")

    response = client_for(personas.viewer).get("/settings/logo/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_another_organisations_member_never_gets_the_logo(personas, client_for):
    post_logo(client_for(personas.owner), image_bytes())

    # The outsider's own organisation has no logo; Acme's is not theirs to see.
    assert client_for(personas.outsider).get("/settings/logo/").status_code == 404


def test_without_a_logo_the_view_is_404(personas, client_for):
    assert client_for(personas.owner).get("/settings/logo/").status_code == 404


def test_a_logo_whose_file_has_gone_is_404(personas, client_for):
    post_logo(client_for(personas.owner), image_bytes())
    default_storage.delete(refreshed(personas.organisation).logo.name)

    assert client_for(personas.owner).get("/settings/logo/").status_code == 404


def test_the_logo_view_needs_sign_in_and_get(personas, client_for):
    anonymous = client_for(None).get("/settings/logo/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert client_for(personas.owner).post("/settings/logo/").status_code == 405


# --- Queries --------------------------------------------------------------------------------------
def test_the_settings_page_costs_no_more_queries_with_a_logo(personas, client_for, django_assert_num_queries):
    browser = client_for(personas.owner)
    post_logo(browser, image_bytes())
    browser.get("/")  # settle the session's current organisation

    # The logo is a column of the organisation the middleware already loaded.
    with django_assert_num_queries(REQUEST_BASELINE):
        assert browser.get("/settings/").status_code == 200


# --- The report cover -----------------------------------------------------------------------------
def cover_images(pdf: bytes) -> list[object]:
    return list(PdfReader(io.BytesIO(pdf)).pages[0].images)


def build_pdf(organisation: Organisation, logo: str = "") -> bytes:
    out = io.BytesIO()
    data = readiness_report_data(organisation, today=timezone.localdate())
    build_readiness_pdf(data, out, logo=logo)
    return out.getvalue()


@pytest.mark.parametrize(("image_format", "mode"), [("PNG", "RGBA"), ("JPEG", "RGB")])
def test_the_report_cover_draws_the_logo(personas, image_format, mode):
    organisation = personas.organisation
    organisation.logo.save(
        f"logo.{image_format.lower()}", ContentFile(image_bytes(image_format, (800, 200), mode)), save=True
    )

    images = cover_images(build_pdf(organisation, organisation.logo.name))

    assert len(images) == 1
    assert images[0].image.size == (800, 200)


def test_the_report_without_a_logo_still_builds_without_an_image(personas):
    pdf = build_pdf(personas.organisation)

    assert cover_images(pdf) == []
    assert "Acme Bakery Ltd" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize("content", [b"not an image any more", None])
def test_an_unreadable_logo_is_skipped_and_the_report_still_builds(personas, content):
    organisation = personas.organisation
    organisation.logo.save("logo.png", ContentFile(image_bytes()), save=True)
    if content is None:
        default_storage.delete(organisation.logo.name)
    else:
        with default_storage.open(organisation.logo.name, "wb") as handle:
            handle.write(content)

    pdf = build_pdf(organisation, organisation.logo.name)

    assert cover_images(pdf) == []
    assert "Readiness report" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_a_report_asked_for_in_the_app_carries_the_organisations_logo(personas, django_capture_on_commit_callbacks):
    from assessments.services_reports import report_request

    organisation = personas.organisation
    organisation.logo.save("logo.png", ContentFile(image_bytes("PNG", (640, 160))), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        run = report_request(organisation=organisation, actor=Actor(user=personas.owner), kind="readiness")
    run.refresh_from_db()
    with run.file.open("rb") as stored:
        images = cover_images(stored.read())
    assert [image.image.size for image in images] == [(640, 160)]
