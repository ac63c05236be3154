"""Downloading evidence files: access-checked, never rendered as a page of the site, inline only for
pictures and PDFs, a clear 404 for a file gone from storage, and short-lived signed URLs on S3."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from evidence.tests.factories import EvidenceRevisionFactory

pytestmark = pytest.mark.django_db

PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def revision(personas):
    return EvidenceRevisionFactory(organisation=personas.organisation, original_name="firewall export.txt")


def _picture(personas, *, kind: str = "png", content_type: str = "image/png", name: str = "mfa.png"):
    return EvidenceRevisionFactory(
        organisation=personas.organisation,
        original_name=name,
        file_kind=kind,
        content_type=content_type,
        file=ContentFile(PNG_BYTES, name=name),
        size=len(PNG_BYTES),
    )


def url_of(revision, **query) -> str:
    return reverse("evidence_revision_download", args=[revision.pk], query=query or None)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_download_is_an_attachment_that_cannot_run_as_a_page(personas, client_for, revision):
    response = client_for(personas.viewer).get(url_of(revision))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="firewall export.txt"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"
    assert body_of(response) == b"Configuration export for firewall export.txt\n"


def test_non_ascii_names_are_encoded(personas, client_for):
    revision = EvidenceRevisionFactory(organisation=personas.organisation, original_name="Prüfbericht – 2026.txt")
    response = client_for(personas.member).get(url_of(revision))
    assert "filename*=utf-8''Pr%C3%BCfbericht%20%E2%80%93%202026.txt" in response["Content-Disposition"]


@pytest.mark.parametrize(("kind", "content_type"), [("png", "image/png"), ("pdf", "application/pdf")])
def test_pictures_and_pdfs_can_be_shown_inline_still_sandboxed(personas, client_for, kind, content_type):
    revision = _picture(personas, kind=kind, content_type=content_type, name=f"shown.{kind}")
    response = client_for(personas.member).get(url_of(revision, inline=1))
    assert response["Content-Disposition"] == f'inline; filename="shown.{kind}"'
    assert response["Content-Type"] == content_type
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_other_files_are_never_inline(personas, client_for, revision):
    response = client_for(personas.member).get(url_of(revision, inline=1))
    assert response["Content-Disposition"].startswith("attachment;")


def test_outsiders_get_404(personas, client_for, revision):
    assert client_for(personas.outsider).get(url_of(revision)).status_code == 404
    assert client_for(personas.outsider).get(url_of(revision, inline=1)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client_for, revision):
    response = client_for(None).get(url_of(revision))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_a_file_missing_from_storage_is_a_clear_404(personas, client_for, revision):
    default_storage.delete(revision.file.name)
    response = client_for(personas.member).get(url_of(revision))
    assert response.status_code == 404
    page = response.content.decode()
    assert "The file is missing from storage" in page
    assert reverse("evidence_detail", args=[revision.evidence_id]) in page


def test_only_get_is_allowed(personas, client_for, revision):
    assert client_for(personas.owner).post(url_of(revision)).status_code == 405


def test_on_s3_the_download_redirects_to_a_short_lived_signed_url(personas, client_for, revision, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "greenlight-evidence",
                "region_name": "eu-west-2",
                "endpoint_url": "http://127.0.0.1:9",
                "access_key": "test-access-key",
                "secret_key": "test-secret-key",
                "querystring_auth": True,
                "querystring_expire": 300,
                "default_acl": "private",
            },
        },
    }
    response = client_for(personas.member).get(url_of(revision))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    target = urlsplit(response.url)
    query = parse_qs(target.query)
    assert target.path.endswith(revision.file.name)
    assert query["response-content-disposition"] == ['attachment; filename="firewall export.txt"']
    assert query["response-content-type"] == ["text/plain"]
    assert query["X-Amz-Expires"] == ["300"]
    assert "X-Amz-Signature" in query
