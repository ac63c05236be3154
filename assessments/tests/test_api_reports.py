"""Reports in the API: asking for a report (202 and the run to poll), its progress, listing runs, and
downloading the PDF; scopes, other organisations, idempotent retries and constant query counts."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.scopes import Scope
from accounts.tests.factories import PartnerFactory, PartnerGrantFactory
from assessments.models import ReportRun, ReportStatus
from assessments.tests.factories import ReportRunFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery"
PDF_BODY = b"%PDF-1.7 report body"


def run_url(run: ReportRun, suffix: str = "") -> str:
    return f"{BASE}/reports/{run.pk}/{suffix}"


def without(*scopes: Scope) -> list[Scope]:
    return [scope for scope in Scope if scope not in scopes]


# --- Asking for a report --------------------------------------------------------------------------
def test_asking_for_a_report_builds_it_and_answers_202_with_the_run_to_poll(
    personas, api_for, django_capture_on_commit_callbacks
):
    client = api_for(personas.organisation, scopes=[Scope.REPORTS_READ, Scope.REPORTS_WRITE])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}/reports/", {"kind": "readiness"}, format="json")
    assert response.status_code == 202
    run = ReportRun.objects.get(organisation=personas.organisation)
    assert response["Location"] == f"http://testserver{run_url(run)}"
    assert response.json()["id"] == run.pk
    assert run.requested_by is None  # a key is no person

    status = client.get(response["Location"]).json()
    assert status["status"] == "done"
    assert status["progress"] == 100
    assert status["download_url"] == f"http://testserver{run_url(run, 'download/')}"

    download = client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    body = b"".join(download.streaming_content)
    assert body.startswith(b"%PDF")
    assert hashlib.sha256(body).hexdigest() == status["sha256"]
    assert len(body) == status["size"]


def test_kind_defaults_to_readiness_and_the_request_is_audited_under_the_key(personas, api_for):
    client = api_for(personas.organisation, scopes=[Scope.REPORTS_WRITE])
    response = client.post(f"{BASE}/reports/", {}, format="json")
    assert response.status_code == 202
    assert response.json()["kind"] == "readiness"
    event = AuditEvent.objects.get(organisation=personas.organisation, action="report.requested")
    assert event.actor is None
    assert client.key.prefix in event.actor_label


def test_asking_again_while_one_is_on_its_way_returns_that_run(personas, api_for):
    client = api_for(personas.organisation)
    first = client.post(f"{BASE}/reports/", {"kind": "readiness"}, format="json").json()
    second = client.post(f"{BASE}/reports/", {"kind": "readiness"}, format="json").json()
    assert first["id"] == second["id"]
    assert ReportRun.objects.count() == 1


def test_an_unknown_kind_is_a_400_naming_the_field(personas, api_for):
    response = api_for(personas.organisation).post(f"{BASE}/reports/", {"kind": "horoscope"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "kind" in response.json()["errors"]
    assert not ReportRun.objects.exists()


def test_a_retried_request_with_the_same_idempotency_key_is_replayed(personas, api_for):
    client = api_for(personas.organisation)
    headers = {"Idempotency-Key": "board-pack-2026-11-21"}
    first = client.post(f"{BASE}/reports/", {"kind": "readiness"}, format="json", headers=headers)
    ReportRun.objects.update(status=ReportStatus.FAILED)  # a fresh request would now make a new run
    again = client.post(f"{BASE}/reports/", {"kind": "readiness"}, format="json", headers=headers)
    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert again.json()["id"] == first.json()["id"]
    assert ReportRun.objects.count() == 1


def test_a_partner_key_can_ask_for_a_granting_organisations_report(personas, api_for):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=[Scope.REPORTS_WRITE])
    response = api_for(partner=partner).post(f"{BASE}/reports/", {"kind": "readiness"}, format="json")
    assert response.status_code == 202
    assert ReportRun.objects.get().organisation == personas.organisation


# --- Progress and the list ------------------------------------------------------------------------
def test_a_failed_run_shows_its_error_and_no_download(personas, api_for):
    run = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.FAILED, error="No logo file.")
    body = api_for(personas.organisation, scopes=[Scope.REPORTS_READ]).get(run_url(run)).json()
    assert body["status"] == "failed"
    assert body["error"] == "No logo file."
    assert body["download_url"] is None


def test_the_list_shows_runs_newest_first_and_filters_by_status(personas, api_for):
    older = ReportRunFactory(organisation=personas.organisation, done=True)
    newer = ReportRunFactory(organisation=personas.organisation)
    ReportRunFactory(organisation=personas.other_organisation, done=True)
    client = api_for(personas.organisation, scopes=[Scope.REPORTS_READ])
    rows = client.get(f"{BASE}/reports/").json()["results"]
    assert [row["id"] for row in rows] == [newer.pk, older.pk]
    assert rows[1]["sha256"] == hashlib.sha256(PDF_BODY).hexdigest()
    assert rows[1]["size"] == len(PDF_BODY)
    assert rows[1]["url"] == f"http://testserver{run_url(older)}"
    done = client.get(f"{BASE}/reports/", {"status": "done"}).json()["results"]
    assert [row["id"] for row in done] == [older.pk]
    assert client.get(f"{BASE}/reports/", {"status": "lost"}).status_code == 400


def test_the_list_pages_with_a_cursor(personas, api_for):
    runs = [ReportRunFactory(organisation=personas.organisation) for _ in range(3)]
    client = api_for(personas.organisation, scopes=[Scope.REPORTS_READ])
    first = client.get(f"{BASE}/reports/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == [run.pk for run in reversed(runs)]
    assert second["next"] is None


@pytest.mark.parametrize("count", [1, 12])
def test_the_list_queries_do_not_grow_with_runs(personas, api_for, django_assert_num_queries, count):
    for _ in range(count):
        ReportRunFactory(organisation=personas.organisation, done=True)
    client = api_for(personas.organisation, scopes=[Scope.REPORTS_READ])
    client.get(f"{BASE}/reports/")  # the key's first use is recorded once
    # the key; the runs
    with django_assert_num_queries(2):
        response = client.get(f"{BASE}/reports/")
    assert len(response.json()["results"]) == count


# --- Downloads ------------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", ["application/pdf", "*/*", "application/json"])
def test_a_finished_report_downloads_as_a_sandboxed_attachment(personas, api_for, accept):
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    response = api_for(personas.organisation, scopes=[Scope.REPORTS_READ]).get(
        run_url(run, "download/"), headers={"Accept": accept}
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BODY
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("status", [ReportStatus.QUEUED, ReportStatus.RUNNING])
def test_a_report_still_being_built_is_a_409_problem(personas, api_for, status):
    run = ReportRunFactory(organisation=personas.organisation, status=status)
    response = api_for(personas.organisation).get(run_url(run, "download/"), headers={"Accept": "application/pdf"})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert "still being built" in response.json()["detail"]


def test_a_failed_report_has_nothing_to_download(personas, api_for):
    run = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.FAILED, error="It broke.")
    response = api_for(personas.organisation).get(run_url(run, "download/"))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_finished_report_whose_file_is_gone_is_a_404(personas, api_for):
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    run.file.storage.delete(run.file.name)
    response = api_for(personas.organisation).get(run_url(run, "download/"))
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


# --- Who may call ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", "download/"])
def test_another_organisations_run_is_not_found(personas, api_for, suffix):
    theirs = ReportRunFactory(organisation=personas.other_organisation, done=True)
    response = api_for(personas.organisation).get(run_url(theirs, suffix))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("suffix", ["", "download/"])
def test_reading_runs_needs_the_reports_read_scope(personas, api_for, suffix):
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    client = api_for(personas.organisation, scopes=without(Scope.REPORTS_READ))
    response = client.get(run_url(run, suffix))
    assert response.status_code == 403
    assert Scope.REPORTS_READ in response.json()["detail"]
    assert client.get(f"{BASE}/reports/").status_code == 403


def test_asking_needs_the_reports_write_scope(personas, api_for):
    response = api_for(personas.organisation, scopes=without(Scope.REPORTS_WRITE)).post(
        f"{BASE}/reports/", {"kind": "readiness"}, format="json"
    )
    assert response.status_code == 403
    assert Scope.REPORTS_WRITE in response.json()["detail"]
    assert not ReportRun.objects.exists()


def test_calls_without_a_key_are_refused(personas, client_for):
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    anonymous = client_for(None)
    for url in (f"{BASE}/reports/", run_url(run), run_url(run, "download/")):
        assert anonymous.get(url).status_code == 401
    assert anonymous.post(f"{BASE}/reports/", {"kind": "readiness"}).status_code == 401


def test_a_viewers_session_reads_runs_but_cannot_ask_for_one(personas, client_for):
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    viewer = client_for(personas.viewer)
    viewer.get(reverse("dashboard"))  # picks the organisation for the session
    assert viewer.get(run_url(run)).status_code == 200
    response = viewer.post(f"{BASE}/reports/", {"kind": "readiness"}, content_type="application/json")
    assert response.status_code == 403
    assert ReportRun.objects.count() == 1


def test_a_members_session_can_ask_for_a_report(personas, client_for):
    member = client_for(personas.member)
    response = member.post(f"{BASE}/reports/", {"kind": "readiness"}, content_type="application/json")
    assert response.status_code == 202
    assert ReportRun.objects.get().requested_by == personas.member


def test_the_schema_documents_the_download_as_a_pdf(personas, client_for):
    schema = client_for(None).get("/api/schema/", {"format": "json"}).json()
    download = schema["paths"]["/api/v1/organisations/{organisation_slug}/reports/{reportrun_id}/download/"]["get"]
    assert download["responses"]["200"]["content"]["application/pdf"]["schema"]["format"] == "binary"
    assert "409" in download["responses"]
    assert download["x-required-scope"] == Scope.REPORTS_READ
    ask = schema["paths"]["/api/v1/organisations/{organisation_slug}/reports/"]["post"]
    assert "202" in ask["responses"]
