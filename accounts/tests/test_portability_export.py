"""The export ZIP: its layout, a manifest whose sizes and checksums match the bytes, the organisation's own
data only, no credentials, and files copied whole."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from accounts.models import Organisation
from accounts.portability.export import build_export
from accounts.portability.format import FORMAT_NAME, FORMAT_VERSION, MANIFEST, README, data_member, model_specs
from accounts.portability.importer import import_organisation
from accounts.tests.factories import OrganisationFactory
from accounts.tests.portability_data import BIG_FILE, populate, wipe
from config.encryption import encrypt_text
from tests.isolation import build_tenant_data, secret_markers

pytestmark = pytest.mark.django_db


def export_of(organisation: Organisation, **kwargs) -> zipfile.ZipFile:
    out = io.BytesIO()
    build_export(organisation, out, **kwargs)
    out.seek(0)
    return zipfile.ZipFile(out)


@pytest.fixture
def acme():
    organisation = OrganisationFactory(name="Acme Bakery Ltd", slug="acme-bakery")
    populate(organisation)
    return organisation


def test_the_zip_holds_a_readme_a_manifest_a_data_file_per_model_and_the_files(acme):
    archive = export_of(acme)
    names = archive.namelist()

    assert names[0] == README
    assert names[-1] == MANIFEST
    for spec in model_specs():
        assert spec.member in names
    assert data_member("accounts.user") in names
    files = [name for name in names if name.startswith("files/")]
    assert any(name.startswith(f"files/evidence/{acme.pk}/") for name in files)
    assert any(name.startswith("files/reports/") for name in files)
    assert any(name.startswith(f"files/organisations/{acme.pk}/logos/") for name in files)
    assert b"You are never" not in archive.read(README)  # the page says that; the README describes the format
    assert b"import_organisation" in archive.read(README)


def test_the_manifest_lists_every_member_with_the_size_and_checksum_of_its_bytes(acme):
    archive = export_of(acme)
    manifest = json.loads(archive.read(MANIFEST))

    assert manifest["format"] == {"name": FORMAT_NAME, "version": FORMAT_VERSION}
    assert manifest["organisation"] == {"name": "Acme Bakery Ltd", "slug": "acme-bakery"}
    assert manifest["greenlight"]["version"]
    assert manifest["exported_at"]
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(archive.namelist()) - {MANIFEST}
    for name, entry in listed.items():
        data = archive.read(name)
        assert entry["size"] == len(data), name
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name


def test_the_counts_are_the_records_in_each_data_file(acme):
    archive = export_of(acme)
    counts = json.loads(archive.read(MANIFEST))["counts"]

    for spec in model_specs():
        records = json.loads(archive.read(spec.member))
        assert counts[spec.label] == len(records)
        assert (
            len(records)
            == spec.model._base_manager.filter(
                **({"organisation": acme} if spec.is_tenant else {"pk": acme.pk})
            ).count()
        )
    assert counts["accounts.organisation"] == 1
    assert counts["accounts.user"] == len(json.loads(archive.read(data_member("accounts.user"))))


def test_records_refer_to_the_library_by_natural_key_and_to_people_by_email(acme):
    from assessments.models import Answer

    answer = Answer.objects.filter(organisation=acme).select_related("control__framework", "owner").first()
    archive = export_of(acme)
    rows = json.loads(archive.read(data_member("assessments.answer")))
    row = next(r for r in rows if r["pk"] == answer.pk)

    assert row["fields"]["control"] == [answer.control.framework.slug, answer.control.ref]
    assert row["fields"]["owner"] == answer.owner.email
    assert row["fields"]["round"] == answer.round_id


def test_stored_files_are_copied_byte_for_byte(acme):
    from evidence.models import EvidenceRevision

    revision = EvidenceRevision.objects.get(organisation=acme, original_name="backup-log.bin")
    archive = export_of(acme)

    assert archive.read(f"files/{revision.file.name}") == BIG_FILE


def test_nothing_of_another_organisation_is_exported(acme):
    rival = OrganisationFactory(name="Rival Widgets plc", slug="rival-widgets")
    build_tenant_data(rival)
    markers = secret_markers(rival, acme)
    assert markers

    archive = export_of(acme)
    blob = b"".join(archive.read(name) for name in archive.namelist()).decode("utf-8", errors="replace")

    leaked = sorted(marker for marker in markers if marker in blob)
    assert leaked == []


def test_credentials_never_leave(acme):
    from evidence.models import Connection

    ciphertext = encrypt_text("ya29.a-real-looking-oauth-token")
    Connection.objects.filter(organisation=acme).update(encrypted_tokens=ciphertext)
    archive = export_of(acme)
    blob = b"".join(archive.read(name) for name in archive.namelist())

    assert ciphertext.encode() not in blob
    assert b"encrypted_tokens" not in archive.read(data_member("evidence.connection"))
    assert b"secret_encrypted" not in blob
    assert b"secret_hash" not in blob
    assert data_member("accounts.webhookendpoint") not in archive.namelist()
    assert b'"password"' not in blob


def test_a_file_gone_from_storage_is_listed_as_missing_and_the_rest_is_exported(acme, tmp_path):
    from assessments.models import ReportRun

    run = ReportRun.objects.filter(organisation=acme).exclude(file="").get()
    run.file.storage.delete(run.file.name)

    path = tmp_path / "with-a-gap.zip"
    with path.open("wb") as out:
        build_export(acme, out)
    archive = zipfile.ZipFile(path)
    manifest = json.loads(archive.read(MANIFEST))

    assert manifest["missing_files"] == [f"files/{run.file.name}"]
    assert f"files/{run.file.name}" not in archive.namelist()
    # It imports, the report run without its file, as it was here.
    wipe(acme)
    imported = import_organisation(path).organisation
    assert ReportRun.objects.filter(organisation=imported).exclude(file="").count() == 0


def test_progress_is_reported_as_it_goes(acme):
    reports: list[tuple[int, str]] = []
    export_of(acme, progress=lambda percent, message: reports.append((percent, message)))

    percents = [percent for percent, _message in reports]
    assert percents == sorted(percents)
    assert percents[0] < 10
    assert percents[-1] >= 95
    assert any(message.startswith("Exporting evidence") for _percent, message in reports)
    assert any(message.startswith("Copying stored files") for _percent, message in reports)


def test_the_same_data_makes_the_same_data_files(acme):
    first, second = export_of(acme), export_of(acme)
    for spec in model_specs():
        assert first.read(spec.member) == second.read(spec.member), spec.label


def test_a_row_made_while_the_export_runs_that_refers_to_a_newer_row_waits_for_the_next_export(acme, tmp_path):
    """People keep working during an export: an answer in a round started after the rounds were written is
    left out (with the round), so the export never refers to a row it does not hold and still imports."""
    from assessments.models import Answer
    from assessments.tests.factories import AnswerFactory, AssessmentRoundFactory

    made = []

    def meanwhile(percent: int, message: str) -> None:
        if message == "Exporting assessment rounds" and not made:
            made.append(AnswerFactory(organisation=acme, round=AssessmentRoundFactory(organisation=acme)))

    path = tmp_path / "busy.zip"
    with path.open("wb") as out:
        summary = build_export(acme, out, progress=meanwhile)

    assert made
    assert summary.left_for_next_export == {"assessments.answer": 1}
    manifest = json.loads(zipfile.ZipFile(path).read(MANIFEST))
    assert manifest["left_for_next_export"] == {"assessments.answer": 1}
    answers = Answer.objects.filter(organisation=acme).count()
    wipe(acme)
    imported = import_organisation(path).organisation
    assert Answer.objects.filter(organisation=imported).count() == answers - 1
