"""Exports: the Statement of Applicability (.xlsx and PDF) read back, the evidence pack's index against the
files it holds, memory that does not grow with the pack, the Cyber Essentials workbook, the CSV files,
query counts that do not grow with the data, and another organisation's data never in a download."""

from __future__ import annotations

import asyncio
import csv
import gc
import hashlib
import io
import json
import os
import tracemalloc
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import Organisation
from assessments.exports import evidence_pack
from assessments.exports.cyber_essentials import question_set_sections
from assessments.exports.streaming import attachment
from assessments.models import Answer, AnswerStatus, AssessmentRound, TaskStatus
from assessments.tests.factories import (
    AnswerFactory,
    BusinessProfileFactory,
    FrameworkAdoptionFactory,
    PlanTaskFactory,
)
from compliance.models import Control, Framework
from config.formatting import long_date
from config.urls import urlpatterns as project_urlpatterns
from evidence.models import Evidence, EvidenceForm, EvidenceStatus
from evidence.tests.factories import EvidenceFactory, EvidenceRevisionFactory

# The lead wires assessments.urls_exports into config/urls.py; until then (and harmlessly after) the
# tests add it themselves.
urlpatterns = [*project_urlpatterns, path("", include("assessments.urls_exports"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__), pytest.mark.usefixtures("library")]

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "frameworks"
TODAY = date.today()


@pytest.fixture(scope="module")
def library(django_db_setup, django_db_blocker):
    """ISO 27001 and Cyber Essentials from the bundled library, loaded once for the module."""
    from compliance.library_format import parse_framework, read_yaml
    from compliance.models import ControlGroup, ControlMapping
    from compliance.search import FTS_TABLE
    from compliance.services import LIBRARY_DIR, framework_load

    with django_db_blocker.unblock():
        for position, slug in enumerate(("cyber-essentials", "iso27001-2022"), start=2):
            data, digest = read_yaml(LIBRARY_DIR / f"{slug}.yaml")
            framework_load(document=parse_framework(data, source=slug, content_hash=digest), position=position)
        yield
        ControlMapping.objects.all().delete()
        Control.objects.all().delete()
        ControlGroup.objects.all().delete()
        Framework.objects.all().delete()
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {FTS_TABLE}")


# --- Helpers ---------------------------------------------------------------------------------------
def control(slug: str, ref: str) -> Control:
    return Control.objects.get(framework__slug=slug, ref=ref)


def iso(ref: str) -> Control:
    return control("iso27001-2022", ref)


def open_round(organisation: Organisation) -> AssessmentRound:
    return AssessmentRound.objects.create(organisation=organisation, name="Spring 2026 assessment")


def answer(organisation, round_, ref, status, *, slug="iso27001-2022", notes="", justification="", owner=None):
    return AnswerFactory(
        organisation=organisation,
        round=round_,
        control=control(slug, ref),
        status=status,
        notes=notes,
        justification=justification,
        owner=owner,
    )


def file_evidence(organisation, controls, content: bytes, *, name="export.txt", kind="text", **fields) -> Evidence:
    """A file item whose current revision holds `content` in storage, mapped to `controls`."""
    revision = EvidenceRevisionFactory(
        organisation=organisation,
        evidence__organisation=organisation,
        original_name=name,
        file_kind=kind,
        file=ContentFile(content, name=name),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        **{f"evidence__{key}": value for key, value in fields.items()},
    )
    item = revision.evidence
    Evidence.objects.filter(pk=item.pk).update(current_revision=revision)
    item.current_revision = revision
    item.controls.set(controls)
    return item


def note_evidence(organisation, controls, **fields) -> Evidence:
    item = EvidenceFactory(organisation=organisation, **fields)
    item.controls.set(controls)
    return item


def download(client, name: str, **query) -> bytes:
    response = client.get(reverse(name, query=query or None))
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content) if response.streaming else response.content


def sheet_rows(content: bytes, title: str) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    return list(workbook[title].iter_rows(values_only=True))


def csv_rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.fixture
def decided(personas):
    """Acme has adopted ISO 27001, has no premises of its own, and has answered a few controls."""
    organisation = personas.organisation
    BusinessProfileFactory(organisation=organisation, physical_premises=False, employees_band="10-49")
    FrameworkAdoptionFactory(organisation=organisation, framework=Framework.objects.get(slug="iso27001-2022"))
    round_ = open_round(organisation)
    answer(organisation, round_, "5.1", AnswerStatus.IMPLEMENTED, notes="Board approved the policy set in March.")
    answer(
        organisation,
        round_,
        "5.2",
        AnswerStatus.NOT_APPLICABLE,
        justification="A sole information security officer; roles are not split.",
    )
    answer(organisation, round_, "8.5", AnswerStatus.PARTIAL, justification="Needed to treat the phishing risk.")
    return round_


# --- Statement of Applicability --------------------------------------------------------------------
def test_soa_lists_all_93_annex_a_controls_with_the_organisations_decisions(personas, client_for, decided):
    organisation = personas.organisation
    policy = file_evidence(organisation, [iso("5.1")], b"policy text", name="policy.txt", title="Policy set 2026")
    file_evidence(organisation, [iso("5.1")], b"old", name="old.txt", valid_until=TODAY - timedelta(days=1))
    file_evidence(organisation, [iso("5.1")], b"draft", name="draft.txt", status=EvidenceStatus.DRAFT)
    other = file_evidence(personas.other_organisation, [iso("5.1")], b"secret", title="Rival widget secrets")

    content = download(client_for(personas.viewer), "export_soa_xlsx")

    header, *rows = sheet_rows(content, "Annex A controls")
    assert header == ("Control", "Title", "Theme", "Applicable", "Justification", "Implementation status", "Evidence")
    reference = json.loads((REFERENCE / "iso27001-2022-annex-a.json").read_text())
    assert len(rows) == 93
    assert [row[0] for row in rows] == [entry["id"] for entry in reference["controls"]]
    by_ref = {row[0]: row for row in rows}
    assert by_ref["5.1"][3:] == (
        "Yes",
        "Board approved the policy set in March.",
        "Implemented",
        f"#{policy.pk} Policy set 2026",
    )
    assert by_ref["5.2"][3:6] == ("No", "A sole information security officer; roles are not split.", "Not applicable")
    assert by_ref["8.5"][3:6] == ("Yes", "Needed to treat the phishing risk.", "Partially implemented")
    # No premises: the physical controls that need them are out, and say why.
    assert by_ref["7.1"][3] == "No"
    assert by_ref["7.1"][4] == (
        "Applies only if the business has its own office or premises; the business profile says it does not."
    )
    assert by_ref["7.1"][5] == "Not applicable"
    assert by_ref["8.1"][3:6] == ("Yes", None, "Not assessed")
    assert other.title not in content.decode("latin-1")

    about = {row[0]: row[1] for row in sheet_rows(content, "About") if row and row[0]}
    assert about["Organisation"] == "Acme Bakery Ltd"
    assert about["Generated on"] == long_date(TODAY)
    assert about["Version"] == f"Spring 2026 assessment, answers as at {long_date(TODAY)}"
    excluded = sum(row[3] == "No" for row in rows)
    assert about["Controls"] == f"93: {93 - excluded} applicable, {excluded} not applicable"


def test_soa_workbook_is_laid_out_for_reading(personas, client_for, decided):
    content = download(client_for(personas.member), "export_soa_xlsx")
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["About", "Annex A controls"]
    sheet = workbook["Annex A controls"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.bold
    assert sheet["E2"].alignment.wrap_text
    assert sheet.column_dimensions["E"].width == 60


def test_soa_without_iso_adopted_still_lists_93_controls_not_assessed(personas, client_for):
    content = download(client_for(personas.owner), "export_soa_xlsx")
    _header, *rows = sheet_rows(content, "Annex A controls")
    assert len(rows) == 93
    # No profile yet: every control applies until the profile or an answer says otherwise.
    assert {(row[3], row[5]) for row in rows} == {("Yes", "Not assessed")}
    about = [row[1] for row in sheet_rows(content, "About") if row and row[1]]
    assert any("ISO 27001 has not been adopted yet" in text for text in about)


def test_soa_pdf_reads_back(personas, client_for, decided):
    response = client_for(personas.member).get(reverse("export_soa_pdf"))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="statement-of-applicability-acme-bakery-')
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 3
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Statement of Applicability" in text
    assert "Acme Bakery Ltd" in text
    assert "A sole information security officer; roles are not split." in text
    assert "8.34" in text
    assert "Page 1" in text
    assert reader.metadata.title == "Statement of Applicability: Acme Bakery Ltd"


def test_soa_pdf_prints_names_beyond_western_european_letters(personas, client_for, decided):
    # Helvetica, reportlab's default, has no Ł or Σ: they would print as boxes.
    Answer.objects.filter(round=decided, control__ref="8.5").update(justification="Agreed with Łukasz and Σοφία.")
    response = client_for(personas.member).get(reverse("export_soa_pdf"))
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Agreed with Łukasz and Σοφία." in text
    fonts = {str(font["/BaseFont"]) for page in reader.pages for font in page["/Resources"]["/Font"].values()}
    assert any("DejaVuSans" in font or "Vera" in font for font in fonts), fonts  # config.pdf's embedded face


@pytest.mark.parametrize("size", [2, 40])
def test_soa_queries_do_not_grow_with_answers_or_evidence(personas, client_for, decided, size):
    organisation = personas.organisation
    annex = Control.objects.filter(framework__slug="iso27001-2022", group__ref__in=["A.6", "A.8"]).exclude(ref="8.5")
    refs = [c.ref for c in annex.order_by("position")][:size]
    for ref in refs:
        answer(organisation, decided, ref, AnswerStatus.IMPLEMENTED, owner=personas.member)
    for index in range(size):
        note_evidence(organisation, [iso(refs[index % len(refs)])])
    client = client_for(personas.member)
    client.get(reverse("export_soa_xlsx"))  # the session's organisation is settled by the first request
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("export_soa_xlsx"))
    # the request's 3; the framework, its adoption, the controls, the profile, the open round, the
    # answers and the evidence links
    assert len(queries) == 10


# --- Evidence pack ---------------------------------------------------------------------------------
@pytest.fixture
def pack_world(personas):
    organisation = personas.organisation
    firewall, mfa = control("cyber-essentials", "FW.1"), control("cyber-essentials", "UA.4")
    return {
        "shared": file_evidence(
            organisation, [iso("8.5"), mfa], b"%PDF-1.7 MFA report", name="mfa report.pdf", kind="pdf"
        ),
        "rules": file_evidence(organisation, [firewall], b"allow 443\ndeny all\n" * 50, name="rules.txt"),
        "accepted": file_evidence(
            organisation, [iso("5.1")], b"signed policy", name="policy.txt", status=EvidenceStatus.ACCEPTED
        ),
        "unmapped": file_evidence(organisation, [], b"inventory", name="assets.csv", kind="csv"),
        "link": note_evidence(
            organisation, [iso("5.1")], form=EvidenceForm.LINK, note="", url="https://intranet.example.co.uk/isms"
        ),
        "note": note_evidence(organisation, [firewall], note="Checked the router in person on 3 March."),
        "draft": file_evidence(organisation, [firewall], b"draft", name="draft.txt", status=EvidenceStatus.DRAFT),
        "expired": file_evidence(
            organisation, [firewall], b"stale", name="stale.txt", valid_until=TODAY - timedelta(days=1)
        ),
        "secret": file_evidence(
            personas.other_organisation, [firewall], b"rival secret", name="rival.txt", title="Rival widget plans"
        ),
    }


def read_pack(content: bytes) -> tuple[zipfile.ZipFile, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    return archive, csv_rows(archive.read("index.csv"))


def test_pack_index_matches_the_files_it_holds(personas, client_for, pack_world):
    response = client_for(personas.viewer).get(reverse("export_evidence_pack"))
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="evidence-pack-acme-bakery-{TODAY}.zip"'
    archive, index = read_pack(b"".join(response.streaming_content))

    by_ref = {row["Reference"]: row for row in index}
    expected = {f"#{pack_world[key].pk}" for key in ("shared", "rules", "accepted", "unmapped", "link", "note")}
    assert set(by_ref) == expected
    files = set(archive.namelist()) - {"index.csv", "index.html"}
    indexed = {path for row in index if row["SHA-256"] for path in row["In this pack"].splitlines()}
    assert files == indexed
    for row in index:
        for member in filter(None, row["In this pack"].splitlines()) if row["SHA-256"] else ():
            data = archive.read(member)
            assert hashlib.sha256(data).hexdigest() == row["SHA-256"]
            assert len(data) == int(row["Size (bytes)"])

    shared = by_ref[f"#{pack_world['shared'].pk}"]
    mfa_folder = evidence_pack.safe_part(f"UA.4 {control('cyber-essentials', 'UA.4').title}")
    assert len(mfa_folder) == evidence_pack.PART_LENGTH
    assert shared["In this pack"].splitlines() == [
        f"cyber-essentials/{mfa_folder}/{pack_world['shared'].pk}-mfa report.pdf",
        f"iso27001-2022/8.5 Secure authentication/{pack_world['shared'].pk}-mfa report.pdf",
    ]
    assert shared["Controls"] == "cyber-essentials UA.4; iso27001-2022 8.5"
    assert archive.read(shared["In this pack"].splitlines()[1]) == b"%PDF-1.7 MFA report"
    assert by_ref[f"#{pack_world['unmapped'].pk}"]["In this pack"].startswith("not-mapped-to-a-control/")
    assert by_ref[f"#{pack_world['link'].pk}"]["In this pack"] == "https://intranet.example.co.uk/isms"
    assert by_ref[f"#{pack_world['note'].pk}"]["In this pack"] == "Checked the router in person on 3 March."
    assert by_ref[f"#{pack_world['rules'].pk}"]["Collected on"] == long_date(TODAY)
    # A PDF is stored as it is; text is compressed.
    assert archive.getinfo(shared["In this pack"].splitlines()[0]).compress_type == zipfile.ZIP_STORED
    rules_path = by_ref[f"#{pack_world['rules'].pk}"]["In this pack"]
    assert archive.getinfo(rules_path).compress_type == zipfile.ZIP_DEFLATED

    page = archive.read("index.html").decode()
    assert "Acme Bakery Ltd" in page
    assert 'href="iso27001-2022/8.5%20Secure%20authentication/' in page
    for item in pack_world.values():
        assert (item.title in page) == (f"#{item.pk}" in by_ref)


def test_pack_never_holds_another_organisations_evidence(personas, client_for, pack_world):
    content = download(client_for(personas.owner), "export_evidence_pack")
    assert b"rival secret" not in content
    assert b"Rival widget plans" not in content
    # And the other organisation's own pack holds its item and nothing of Acme's.
    archive, index = read_pack(download(client_for(personas.outsider), "export_evidence_pack"))
    assert [row["Reference"] for row in index] == [f"#{pack_world['secret'].pk}"]
    assert all(b"Acme" not in archive.read(name) for name in archive.namelist())


def test_pack_can_keep_to_one_framework_and_to_accepted_evidence(personas, client_for, pack_world):
    client = client_for(personas.member)
    _archive, index = read_pack(download(client, "export_evidence_pack", framework="iso27001-2022"))
    assert {row["Reference"] for row in index} == {f"#{pack_world[key].pk}" for key in ("shared", "accepted", "link")}
    shared = next(row for row in index if row["Reference"] == f"#{pack_world['shared'].pk}")
    assert shared["In this pack"].startswith("iso27001-2022/8.5 ")
    assert "\n" not in shared["In this pack"]

    _archive, index = read_pack(download(client, "export_evidence_pack", scope="accepted"))
    assert [row["Reference"] for row in index] == [f"#{pack_world['accepted'].pk}"]


def test_pack_rejects_unknown_framework_and_scope(personas, client_for):
    client = client_for(personas.member)
    assert client.get(reverse("export_evidence_pack", query={"framework": "no-such"})).status_code == 404
    assert client.get(reverse("export_evidence_pack", query={"scope": "everything"})).status_code == 400


def test_a_file_missing_from_storage_is_reported_not_fatal(personas, client_for, pack_world):
    default_storage.delete(pack_world["rules"].current_revision.file.name)
    archive, index = read_pack(download(client_for(personas.member), "export_evidence_pack"))
    rules = next(row for row in index if row["Reference"] == f"#{pack_world['rules'].pk}")
    assert rules["In this pack"] == "The file is missing from storage and could not be added."
    assert rules["SHA-256"] == ""
    assert any(name.endswith("mfa report.pdf") for name in archive.namelist())


def test_on_s3_the_pack_reads_files_through_a_storage_that_spills_to_disk(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "greenlight-evidence", "region_name": "eu-west-2", "max_memory_size": 0},
        },
    }
    storage = evidence_pack.pack_storage()
    assert type(storage).__name__ == "S3Storage"
    assert storage.bucket_name == "greenlight-evidence"
    assert storage.max_memory_size == evidence_pack.SPILL_BYTES


def _pack_peak(organisation: Organisation) -> tuple[int, int]:
    """Peak traced memory while the whole pack is produced, and the pack's size."""
    gc.collect()
    tracemalloc.start()
    try:
        pack = evidence_pack.pack_for(organisation, evidence_pack.PackOptions())
        written = sum(len(chunk) for chunk in evidence_pack.pack_stream(pack))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, written


def test_pack_memory_does_not_grow_with_the_pack(personas):
    organisation = personas.organisation
    ten_controls = list(Control.objects.filter(framework__slug="iso27001-2022", group__ref="A.8")[:10])
    file_bytes = 192 * 1024

    def add(count: int) -> None:
        for n in range(count):
            # Random bytes, so neither storage nor compression can make them small.
            kind = ("pdf", "text")[n % 2]
            file_evidence(organisation, [ten_controls[n % 10]], os.urandom(file_bytes), name=f"f{n}.bin", kind=kind)

    add(20)
    small_peak, small_size = _pack_peak(organisation)
    add(180)
    large_peak, large_size = _pack_peak(organisation)

    assert large_size > 200 * file_bytes  # 200 files of 192 KiB: the pack is about 38 MiB
    assert large_size - small_size > 30 * 1024 * 1024
    # The pack grew by over 30 MiB; the memory used to write it grew by the index's rows, not the files.
    assert large_peak - small_peak < 1024 * 1024, (small_peak, large_peak)
    assert large_peak < 4 * 1024 * 1024


def test_pack_streams_under_asgi_one_chunk_at_a_time():
    """Django would read a synchronous generator whole before sending it under ASGI; this response pulls
    one chunk at a time, each when the server asks for it."""
    pulled: list[int] = []

    def chunks():
        for n in range(5):
            pulled.append(n)
            yield f"chunk {n};".encode()

    response = attachment(chunks(), filename="pack.zip", content_type="application/zip")

    async def consume() -> list[tuple[bytes, int]]:
        seen = []
        async for part in response:
            seen.append((part, len(pulled)))
        return seen

    seen = asyncio.run(consume())
    assert seen == [(f"chunk {n};".encode(), n + 1) for n in range(5)]


# --- Cyber Essentials workbook ---------------------------------------------------------------------
def test_cyber_essentials_workbook_has_a_sheet_per_area(personas, client_for):
    organisation = personas.organisation
    FrameworkAdoptionFactory(organisation=organisation, framework=Framework.objects.get(slug="cyber-essentials"))
    round_ = open_round(organisation)
    slug = "cyber-essentials"
    answer(organisation, round_, "FW.1", AnswerStatus.IMPLEMENTED, slug=slug, notes="Router firewall on; Windows too.")
    answer(organisation, round_, "UA.4", AnswerStatus.PARTIAL, slug=slug, owner=personas.admin)
    proof = note_evidence(organisation, [control(slug, "FW.1")], title="Router firewall screenshot")

    content = download(client_for(personas.viewer), "export_cyber_essentials")

    workbook = load_workbook(io.BytesIO(content), read_only=True)
    assert workbook.sheetnames == [
        "About",
        "Scope and your organisation",
        "Firewalls",
        "Secure configuration",
        "Security update management",
        "User access control",
        "Malware protection",
        "Cyber Essentials Plus",
    ]
    header, *firewalls = sheet_rows(content, "Firewalls")
    assert header[0] == "Ref"
    assert header[-1] == "Answer to submit"
    assert [row[0] for row in firewalls] == [f"FW.{n}" for n in range(1, 8)]
    first = dict(zip(header, firewalls[0], strict=True))
    assert first["Our answer"] == "Implemented"
    assert first["Question set section"] == "A4"
    assert first["Notes and justification"] == "Router firewall on; Windows too."
    assert first["Evidence"] == f"#{proof.pk} Router firewall screenshot"
    assert first["Answer to submit"] is None
    assert dict(zip(header, firewalls[1], strict=True))["Our answer"] == "Not assessed"
    _header, *access = sheet_rows(content, "User access control")
    mfa = dict(zip(header, next(row for row in access if row[0] == "UA.4"), strict=True))
    assert mfa["Automatic fail"] == "Yes"
    assert mfa["Owner"] == personas.admin.display_name
    assert mfa["Our answer"] == "Partially implemented"


def test_question_set_sections_come_from_the_requirements_guidance():
    assert question_set_sections(control("cyber-essentials", "SCOPE.1")) == "A1, A2, A3"
    assert question_set_sections(control("cyber-essentials", "SU.1")) == "A2, A6"
    assert question_set_sections(control("cyber-essentials", "PLUS.2")) == ""


# --- CSV -------------------------------------------------------------------------------------------
def test_controls_csv_lists_the_adopted_frameworks_controls_with_answers(personas, client_for, decided):
    item = note_evidence(personas.organisation, [iso("5.1")])
    note_evidence(personas.other_organisation, [iso("5.1")])
    response = client_for(personas.member).get(reverse("export_controls_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="controls-and-answers-acme-bakery-{TODAY}.csv"'
    rows = csv_rows(b"".join(response.streaming_content))
    assessable = Control.objects.filter(framework__slug="iso27001-2022", assessable=True).count()
    assert len(rows) == assessable
    by_ref = {row["Ref"]: row for row in rows}
    assert by_ref["5.1"] == {
        "Framework": "ISO/IEC 27001 2022",
        "Ref": "5.1",
        "Title": iso("5.1").title,
        "Applies to us": "Yes",
        "Status": "Implemented",
        "Owner": "",
        "Notes": "Board approved the policy set in March.",
        "Justification": "",
        "Current evidence": "1",
        "Answer last changed": long_date(TODAY),
    }
    assert item.pk
    assert by_ref["5.2"]["Justification"] == "A sole information security officer; roles are not split."
    assert by_ref["7.1"]["Applies to us"] == "No"
    assert by_ref["8.1"]["Status"] == "Not assessed"


def test_tasks_csv(personas, client_for):
    due = date(2026, 11, 21)
    task = PlanTaskFactory(
        organisation=personas.organisation,
        title="Turn on MFA everywhere",
        owner=personas.member,
        due_date=due,
        status=TaskStatus.DOING,
    )
    task.controls.set([control("cyber-essentials", "UA.4"), iso("8.5")])
    PlanTaskFactory(organisation=personas.other_organisation, title="Rival's secret task")
    rows = csv_rows(download(client_for(personas.viewer), "export_tasks_csv"))
    assert len(rows) == 1
    row = rows[0]
    assert row["Title"] == "Turn on MFA everywhere"
    assert row["Status"] == "Doing"
    assert row["Owner"] == personas.member.display_name
    assert row["Due"] == "21 November 2026"
    assert row["Overdue"] == ("Yes" if due < TODAY else "")
    assert row["Controls"] == "cyber-essentials UA.4; iso27001-2022 8.5"


def test_evidence_csv_is_the_whole_register(personas, client_for, pack_world):
    rows = csv_rows(download(client_for(personas.member), "export_evidence_csv"))
    mine = {key: item for key, item in pack_world.items() if key != "secret"}
    assert {row["Reference"] for row in rows} == {f"#{item.pk}" for item in mine.values()}
    by_ref = {row["Reference"]: row for row in rows}
    shared = by_ref[f"#{mine['shared'].pk}"]
    assert shared["Controls"] == "cyber-essentials UA.4; iso27001-2022 8.5"
    assert shared["File"] == "mfa report.pdf"
    assert shared["Counts towards readiness"] == "Yes"
    assert shared["Valid until"] == long_date(mine["shared"].valid_until)
    assert by_ref[f"#{mine['draft'].pk}"]["Counts towards readiness"] == "No"
    assert by_ref[f"#{mine['expired'].pk}"]["Counts towards readiness"] == "No"
    assert by_ref[f"#{mine['link'].pk}"]["Link"] == "https://intranet.example.co.uk/isms"


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("name", ["export_controls_csv", "export_tasks_csv", "export_evidence_csv"])
def test_csv_queries_do_not_grow_with_the_data(personas, client_for, decided, size, name):
    organisation = personas.organisation
    controls = list(Control.objects.filter(framework__slug="iso27001-2022")[:5])
    for n in range(size):
        note_evidence(organisation, controls[: n % 5])
        PlanTaskFactory(organisation=organisation, owner=personas.member).controls.set(controls[: n % 3])
    client = client_for(personas.member)
    client.get(reverse(name))
    with CaptureQueriesContext(connection) as queries:
        rows = csv_rows(download(client, name))
    assert len(rows) >= size
    expected = {"export_controls_csv": 8, "export_tasks_csv": 5, "export_evidence_csv": 5}
    assert len(queries) == expected[name], [query["sql"] for query in queries]


# --- Who may download ------------------------------------------------------------------------------
EXPORT_URLS = [
    "export_soa_xlsx",
    "export_soa_pdf",
    "export_cyber_essentials",
    "export_evidence_pack",
    "export_controls_csv",
    "export_tasks_csv",
    "export_evidence_csv",
]


@pytest.mark.parametrize("name", EXPORT_URLS)
@pytest.mark.parametrize("role", ["owner", "member", "viewer", "consultant"])
def test_every_member_may_download(personas, client_for, name, role):
    response = client_for(getattr(personas, role)).get(reverse(name))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("name", EXPORT_URLS)
def test_anonymous_visitors_are_sent_to_sign_in_and_only_get_is_allowed(personas, client_for, name):
    response = client_for(None).get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert client_for(personas.owner).post(reverse(name)).status_code == 405


def test_someone_without_an_organisation_is_sent_to_create_one(client_for):
    from accounts.tests.factories import UserFactory

    response = client_for(UserFactory()).get(reverse("export_soa_xlsx"))
    assert response.status_code == 302
    assert response.url == reverse("organisation_create")


def test_exports_panel_renders_with_its_context(personas, rf):
    from django.template.loader import render_to_string

    from assessments.views.exports import exports_panel_context

    FrameworkAdoptionFactory(
        organisation=personas.organisation, framework=Framework.objects.get(slug="cyber-essentials")
    )
    html = render_to_string("assessments/exports_panel.html", exports_panel_context(personas.organisation))
    for name in EXPORT_URLS:
        assert reverse(name) in html
    assert '<option value="cyber-essentials">Cyber Essentials 3.3</option>' in html
    assert 'value="current" checked' in html
    assert "93 Annex A controls" in html
