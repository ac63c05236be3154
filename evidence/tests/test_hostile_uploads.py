"""Hostile uploads end to end (issue 11): the corpus in hostile_files.py through the upload page, the API
and the logo form. Each file is refused with a clear message and leaves no row and no file, or is stored
neutralised: under a random folder and a clean name, served only as an attachment of its detected type,
not sniffed, in a sandbox. A full disk is a clear error with nothing left behind.

Names are sent in hand-made multipart bodies, because Django's test clients strip them before sending.
"""

from __future__ import annotations

import errno
import io
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from accounts.audit import Actor
from accounts.models import Organisation
from evidence.intake import UploadRefused
from evidence.models import Evidence, EvidenceRevision
from evidence.services.items import EvidenceDetails, evidence_upload
from evidence.tests import hostile_files as hostile

pytestmark = pytest.mark.django_db

XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
API_BASE = "/api/v1/organisations/acme-bakery/evidence/"
SANDBOX = "sandbox; default-src 'none'"
BOUNDARY = "GreenlightHostileCorpus7f3a"
LOG_LINE = b"2026-11-21 09:00:01 backup completed OK\n"


def multipart(filename: str, content: bytes, *, field: str = "file", **fields: str) -> tuple[bytes, str]:
    """A multipart body with the file name sent as the client wrote it (RFC 5987, so any character goes)."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename*=UTF-8''{quote(filename)}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def storage_root() -> Path:
    default: Any = settings.STORAGES["default"]
    return Path(default["OPTIONS"]["location"])


def stored_files() -> list[str]:
    root = storage_root()
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def upload_through(channel: str, personas, client_for, api_for, filename: str, content: bytes):
    """Post one file through the page (with or without the upload script) or the API."""
    body, content_type = multipart(filename, content)
    if channel == "api":
        return api_for(personas.organisation).post(API_BASE, data=body, content_type=content_type)
    browser = client_for(personas.member)
    browser.get(reverse("evidence_new"))  # settle the session's current organisation
    extra = XHR if channel == "page-script" else {}
    return browser.post(reverse("evidence_upload"), data=body, content_type=content_type, **extra)


def message_of(channel: str, response) -> str:
    if channel == "api":
        problem = response.json()
        return " ".join([problem["detail"], *(" ".join(errors) for errors in problem.get("errors", {}).values())])
    return text_of(response)


def assert_refused(channel: str, response, words: str, files_before: list[str]) -> None:
    assert response.status_code == 400
    assert words in message_of(channel, response)
    if channel == "api":
        assert response["Content-Type"] == "application/problem+json"
    else:
        assert "Nothing was stored." in text_of(response)
    assert not Evidence.objects.exists()
    assert not EvidenceRevision.objects.exists()
    assert stored_files() == files_before


def assert_served_neutralised(personas, client_for, api_for, revision: EvidenceRevision) -> None:
    """Every way out of the app: the page download (also asked inline) and the API download."""
    browser = client_for(personas.member)
    download = reverse("evidence_revision_download", args=[revision.pk])
    api_download = f"{API_BASE}{revision.evidence_id}/download/"
    responses = {
        "page": browser.get(download),
        "page inline": browser.get(download, {"inline": "1"}),
        "api": api_for(personas.organisation).get(api_download),
    }
    for response in responses.values():
        assert response.status_code == 200
        assert response["Content-Type"] == revision.content_type
        assert not response["Content-Type"].startswith(("text/html", "image/svg", "application/xhtml"))
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == SANDBOX
        response.close()
    inline_allowed = revision.file_kind in {"png", "jpeg", "gif", "webp", "pdf"}
    for label, response in responses.items():
        disposition = response["Content-Disposition"]
        if label == "page inline" and inline_allowed:
            assert disposition.startswith("inline")
        else:
            assert disposition.startswith("attachment")
        assert "/" not in disposition
        assert "\\" not in disposition


def assert_stored_safely(organisation: Organisation, revision: EvidenceRevision) -> None:
    """A random folder under the organisation's prefix, a clean name, and the only file in storage."""
    name, stored = revision.original_name, str(revision.file.name)
    assert re.fullmatch(rf"evidence/{organisation.pk}/[0-9a-f]{{32}}/[^/\\]+", stored)
    assert stored.endswith("/" + name)
    assert stored_files() == [stored]
    assert len(name) <= 120
    assert not name.startswith(".")
    assert not any(unicodedata.category(char) in {"Cc", "Cf"} for char in name)
    assert not set(name) & set('/\\<>:"|?*')


# --- The corpus: refused ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Refused:
    build: Callable[[], bytes]
    name: str
    words: str


REFUSED = {
    "gif with a web page after it": Refused(hostile.gif_html_polyglot, "banner.gif", "hidden after the end"),
    "web page named .png": Refused(hostile.html_page, "screenshot.png", "is a web page"),
    "svg with a script": Refused(hostile.svg_with_script, "network-diagram.svg", "is an SVG image"),
    "svg named .png": Refused(hostile.svg_with_script, "network-diagram.png", "is an SVG image"),
    "zip bomb": Refused(hostile.zip_bomb, "backup.zip", "archive bombs"),
    "zip bomb named .docx": Refused(hostile.zip_bomb, "policy.docx", "archive bombs"),
    "pixel bomb": Refused(hostile.pixel_bomb, "scan.png", "too large an image"),
    "program named .pdf": Refused(hostile.windows_program, "invoice.pdf", "is a Windows program"),
    "linux program named .txt": Refused(hostile.linux_program, "notes.txt", "program"),
    "empty file": Refused(lambda: b"", "empty.txt", "empty"),
}
CHANNELS = ["page", "page-script", "api"]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_hostile_file_is_refused_with_a_reason_and_leaves_nothing(personas, client_for, api_for, channel, case):
    before = stored_files()

    response = upload_through(channel, personas, client_for, api_for, case.name, case.build())

    assert_refused(channel, response, case.words, before)


@pytest.mark.parametrize("channel", CHANNELS)
def test_file_over_the_size_limit_is_refused_and_leaves_nothing(personas, client_for, api_for, settings, channel):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 64 * 1024
    before = stored_files()

    response = upload_through(
        channel, personas, client_for, api_for, "export.txt", hostile.oversized_text(64 * 1024 + 1)
    )

    assert_refused(channel, response, "export.txt", before)
    assert "MB" in message_of(channel, response) or "KB" in message_of(channel, response)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("filename", ["..", "/", "\\"])
def test_a_name_that_is_only_a_directory_stores_nothing(personas, client_for, api_for, channel, filename):
    response = upload_through(channel, personas, client_for, api_for, filename, LOG_LINE)

    assert response.status_code == 400
    assert not Evidence.objects.exists()
    assert stored_files() == []


# --- The corpus: stored, neutralised ----------------------------------------------------------------
@dataclass(frozen=True)
class Neutralised:
    build: Callable[[], bytes]
    name: str
    kind: str
    content_type: str
    stored_name: str


NEUTRALISED = {
    # nosniff and the image type stop a browser running it as a script; the sandbox stops the rest.
    "gif that is also javascript": Neutralised(
        hostile.gif_js_polyglot, "animation.gif", "gif", "image/gif", "animation.gif"
    ),
    "pdf with javascript": Neutralised(
        hostile.pdf_with_javascript, "policy.pdf", "pdf", "application/pdf", "policy.pdf"
    ),
    "docx that is a zip of other things": Neutralised(
        hostile.docx_that_is_a_zip_of_other_things, "report.docx", "zip", "application/zip", "report.zip"
    ),
    "pdf named .exe": Neutralised(
        hostile.pdf_with_javascript, "policy.pdf.exe", "pdf", "application/pdf", "policy.pdf"
    ),
}


@pytest.mark.parametrize("channel", ["page-script", "api"])
@pytest.mark.parametrize("case", NEUTRALISED.values(), ids=NEUTRALISED.keys())
def test_accepted_hostile_file_is_stored_and_served_neutralised(personas, client_for, api_for, channel, case):
    response = upload_through(channel, personas, client_for, api_for, case.name, case.build())

    assert response.status_code == 201
    revision = EvidenceRevision.objects.get()
    assert (revision.file_kind, revision.content_type, revision.original_name) == (
        case.kind,
        case.content_type,
        case.stored_name,
    )
    assert_stored_safely(personas.organisation, revision)
    assert_served_neutralised(personas, client_for, api_for, revision)


def test_pdf_with_javascript_is_flagged_for_whoever_opens_it(personas, client_for, api_for):
    upload_through("api", personas, client_for, api_for, "policy.pdf", hostile.pdf_with_javascript())

    revision = EvidenceRevision.objects.get()
    assert revision.flags == ["pdf_active_content"]
    page = text_of(client_for(personas.member).get(reverse("evidence_detail", args=[revision.evidence_id])))
    assert "contains scripts" in page


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("filename", hostile.HOSTILE_NAMES.values(), ids=hostile.HOSTILE_NAMES.keys())
def test_hostile_name_is_stored_clean_inside_the_organisations_folder(personas, client_for, api_for, channel, filename):
    response = upload_through(channel, personas, client_for, api_for, filename, LOG_LINE)

    assert response.status_code in (201, 302)
    revision = EvidenceRevision.objects.get()
    assert revision.original_name.endswith(".txt")
    assert ".." not in revision.original_name
    assert_stored_safely(personas.organisation, revision)
    assert_served_neutralised(personas, client_for, api_for, revision)


@pytest.mark.parametrize("channel", ["page", "api"])
def test_a_thousand_character_name_is_refused_before_the_upload_is_read(personas, client_for, api_for, channel):
    """Django's multipart parser refuses a part header over 1 KB, so such a name never reaches the service."""
    response = upload_through(channel, personas, client_for, api_for, "a" * 996 + ".txt", LOG_LINE)

    assert response.status_code == 400
    if channel == "api":
        assert "header size" in response.json()["detail"]
    assert not Evidence.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("filename", hostile.HOSTILE_NAMES.values(), ids=hostile.HOSTILE_NAMES.keys())
def test_the_service_cleans_hostile_names_that_no_browser_would_have_cleaned(personas, filename):
    """Django's parser strips some of these on the way in; the service must not depend on it."""
    evidence = evidence_upload(
        organisation=personas.organisation,
        actor=Actor(user=personas.member),
        file=io.BytesIO(LOG_LINE),
        name=filename,
        details=EvidenceDetails(title="Backup log"),
    )

    revision = evidence.current_revision
    assert revision is not None
    assert revision.original_name.endswith(".txt")
    assert_stored_safely(personas.organisation, revision)


def test_a_name_over_a_thousand_characters_is_refused_by_the_service(personas):
    with pytest.raises(UploadRefused, match="1,001 characters"):
        evidence_upload(
            organisation=personas.organisation,
            actor=Actor(user=personas.member),
            file=io.BytesIO(LOG_LINE),
            name="a" * 997 + ".txt",
            details=EvidenceDetails(title="Backup log"),
        )
    assert not Evidence.objects.exists()
    assert stored_files() == []


# --- The logo form ----------------------------------------------------------------------------------
def post_logo(personas, client_for, filename: str, content: bytes):
    body, content_type = multipart(filename, content, field="logo", intent="logo")
    return client_for(personas.owner).post("/settings/", data=body, content_type=content_type)


LOGO_REFUSED = {
    "gif that is also javascript": (hostile.gif_js_polyglot, "logo.gif", "must be a PNG or JPEG"),
    "web page named .png": (hostile.html_page, "logo.png", "must be a PNG or JPEG"),
    "svg with a script": (hostile.svg_with_script, "logo.svg", "must be a PNG or JPEG"),
    "svg named .png": (hostile.svg_with_script, "logo.png", "must be a PNG or JPEG"),
    "pdf with javascript": (hostile.pdf_with_javascript, "logo.png", "must be a PNG or JPEG"),
    "zip bomb": (hostile.zip_bomb, "logo.png", "must be a PNG or JPEG"),
    "pixel bomb": (hostile.pixel_bomb, "logo.png", "at most 4,000 × 4,000 pixels"),
    "program named .png": (hostile.windows_program, "logo.png", "must be a PNG or JPEG"),
    "empty file": (lambda: b"", "logo.png", "empty"),
    "over two megabytes": (lambda: hostile.image_bytes("PNG") + bytes(2 * 1024 * 1024), "logo.png", "2 MB"),
}


@pytest.mark.parametrize(("build", "filename", "words"), LOGO_REFUSED.values(), ids=LOGO_REFUSED.keys())
def test_hostile_logo_is_refused_and_leaves_nothing(personas, client_for, build, filename, words):
    response = post_logo(personas, client_for, filename, build())

    assert response.status_code == 200
    assert words in response.content.decode()
    assert Organisation.objects.get(pk=personas.organisation.pk).logo.name == ""
    assert stored_files() == []


@pytest.mark.parametrize("filename", hostile.HOSTILE_NAMES.values(), ids=hostile.HOSTILE_NAMES.keys())
def test_a_png_logo_with_a_script_after_it_is_stored_under_a_random_name_and_served_as_a_png(
    personas, client_for, filename
):
    response = post_logo(personas, client_for, filename, hostile.png_html_polyglot())

    assert response.status_code == 302
    name = str(Organisation.objects.get(pk=personas.organisation.pk).logo.name)
    assert re.fullmatch(rf"organisations/{personas.organisation.pk}/logos/[0-9a-f]{{32}}\.png", name)
    assert stored_files() == [name]
    served = client_for(personas.member).get(reverse("organisation_logo"))
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == SANDBOX
    served.close()


# --- A full disk ------------------------------------------------------------------------------------
class FullDiskStorage(FileSystemStorage):
    """Writes the start of a file, then fails as a full disk does, leaving the partial file behind."""

    def _save(self, name: str, content) -> str:
        full_path = self.path(name)
        os.makedirs(os.path.dirname(full_path), exist_ok=True)
        with open(full_path, "wb") as partial:
            partial.write(next(iter(content.chunks()))[:16])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), full_path)


@pytest.fixture
def full_disk(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.FullDiskStorage", "OPTIONS": {"location": tmp_path}},
    }


def assert_nothing_left(organisation: Organisation) -> None:
    assert not Evidence.objects.exists()
    assert not EvidenceRevision.objects.exists()
    assert stored_files() == []
    organisation_folder = storage_root() / "evidence" / str(organisation.pk)
    assert not organisation_folder.exists() or not any(organisation_folder.iterdir())


@pytest.mark.usefixtures("full_disk")
@pytest.mark.parametrize("channel", ["page", "page-script"])
def test_a_full_disk_is_a_clear_error_on_the_page_and_leaves_nothing(personas, client_for, api_for, channel):
    response = upload_through(channel, personas, client_for, api_for, "backup.txt", LOG_LINE)

    assert response.status_code == 507
    page = text_of(response)
    assert "There is no room left to store files, so nothing was stored." in page
    assert_nothing_left(personas.organisation)


@pytest.mark.usefixtures("full_disk")
def test_a_full_disk_is_a_507_problem_in_the_api_and_leaves_nothing(personas, client_for, api_for):
    response = upload_through("api", personas, client_for, api_for, "backup.txt", LOG_LINE)

    assert response.status_code == 507
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["title"]) == (507, "Insufficient storage")
    assert problem["detail"].startswith("There is no room left to store files, so nothing was stored.")
    assert_nothing_left(personas.organisation)


def test_a_full_disk_during_a_new_version_keeps_the_old_one(personas, client_for, settings, tmp_path):
    browser = client_for(personas.member)
    browser.get(reverse("evidence_new"))
    body, content_type = multipart("backup.txt", LOG_LINE)
    browser.post(reverse("evidence_upload"), data=body, content_type=content_type, **XHR)
    revision = EvidenceRevision.objects.get()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.FullDiskStorage", "OPTIONS": {"location": tmp_path}},
    }

    body, content_type = multipart("backup.txt", LOG_LINE * 2)
    response = browser.post(
        reverse("evidence_revise", args=[revision.evidence_id]), data=body, content_type=content_type, **XHR
    )

    assert "There is no room left to store files" in text_of(response)
    assert list(EvidenceRevision.objects.values_list("pk", flat=True)) == [revision.pk]
    assert stored_files() == [revision.file.name]


@pytest.mark.usefixtures("full_disk")
def test_a_full_disk_refuses_a_logo_in_the_form_and_leaves_nothing(personas, client_for):
    response = post_logo(personas, client_for, "logo.png", hostile.png_html_polyglot())

    assert response.status_code == 200
    assert "There is no room left to store files, so the logo was not saved." in text_of(response)
    assert Organisation.objects.get(pk=personas.organisation.pk).logo.name == ""
    assert stored_files() == []
