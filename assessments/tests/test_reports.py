"""Report runs and the readiness report PDF: what the PDF says (read back with pypdf), how runs are
built, fail and are tried again, their pages and downloads, who may do what, and the pages' queries."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pypdf import PdfReader

from accounts.audit import Actor
from accounts.models import AuditEvent
from assessments import selectors, services, services_reports
from assessments.charts import number, percent
from assessments.models import AnswerStatus, ReportRun, ReportStatus, TaskStatus
from assessments.reports import BUILDERS, Builder, ReportError
from assessments.reports.readiness_data import BAND_LABELS, readiness_report_data
from assessments.reports.readiness_pdf import build_readiness_pdf
from assessments.tests.factories import (
    AnswerFactory,
    BusinessProfileFactory,
    FrameworkAdoptionFactory,
    PlanTaskFactory,
    ReadinessSnapshotFactory,
    ReportRunFactory,
)
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from config import task_claims
from config.formatting import long_date
from config.tests.live_holder import live_worker_holds
from evidence.models import EvidenceStatus
from evidence.tests.factories import EvidenceFactory
from policies.models import PolicyStatus
from policies.tests.factories import PolicyFactory

pytestmark = pytest.mark.django_db

REQUEST_BASELINE = 3  # session, user, memberships (accounts/tests/test_queries.py)


# --- An organisation with something in every section ----------------------------------------------
def adopt(organisation, name: str, refs: list[str], *, auto_fail: int = 0):
    framework = FrameworkFactory(name=name)
    group = ControlGroupFactory(framework=framework)
    controls = [
        ControlFactory(
            group=group, ref=ref, title=f"{name} requirement {ref}", weight=index % 5 + 1, auto_fail=index < auto_fail
        )
        for index, ref in enumerate(refs)
    ]
    FrameworkAdoptionFactory(organisation=organisation, framework=framework)
    return framework, controls


def build_world(personas):
    organisation = personas.organisation
    BusinessProfileFactory(organisation=organisation, completed_at=timezone.now(), last_step="goal")
    today = timezone.localdate()
    essentials, ce = adopt(organisation, "Essentials Test", ["CE-1", "CE-2", "CE-3", "CE-4"], auto_fail=1)
    standard, iso = adopt(organisation, "Standard Test", ["A.5.1", "A.5.2", "A.5.3", "A.6.1", "A.6.2", "A.7.1"])
    current = services.round_current(organisation=organisation)
    statuses = [AnswerStatus.IMPLEMENTED, AnswerStatus.PARTIAL, AnswerStatus.NOT_IMPLEMENTED]
    for index, control in enumerate([*ce[1:], *iso[:4]]):
        AnswerFactory(
            organisation=organisation,
            round=current,
            control=control,
            status=statuses[index % 3],
            owner=personas.member if index % 2 else None,
        )
    # Evidence: current, expiring within 30 days, expired, and a draft; mapped to some controls.
    kept = EvidenceFactory(
        organisation=organisation, title="Firewall rules export", valid_until=today + timedelta(days=200)
    )
    kept.controls.set([ce[1], iso[0]])
    soon = EvidenceFactory(
        organisation=organisation,
        title="Backup restore test log",
        valid_until=today + timedelta(days=10),
        owner=personas.admin,
    )
    soon.controls.set([iso[0]])
    old = EvidenceFactory(
        organisation=organisation,
        title="Old penetration test",
        status=EvidenceStatus.EXPIRED,
        valid_until=today - timedelta(days=3),
    )
    old.controls.set([iso[0]])
    EvidenceFactory(organisation=organisation, title="Draft asset register", status=EvidenceStatus.DRAFT)
    # Policies: one published and due for review, one draft.
    PolicyFactory(
        organisation=organisation,
        title="Acceptable use policy",
        status=PolicyStatus.PUBLISHED,
        review_date=today - timedelta(days=1),
    )
    PolicyFactory(
        organisation=organisation,
        title="Backup policy",
        status=PolicyStatus.DRAFT,
        review_date=today + timedelta(days=300),
    )
    # The plan: one overdue, one due soon, one done.
    PlanTaskFactory(
        organisation=organisation,
        title="Turn on MFA everywhere",
        due_date=today - timedelta(days=5),
        owner=personas.member,
    )
    PlanTaskFactory(
        organisation=organisation,
        title="Write the backup policy",
        due_date=today + timedelta(days=7),
        status=TaskStatus.DOING,
    )
    PlanTaskFactory(organisation=organisation, title="Buy a firewall", status=TaskStatus.DONE)
    for days_ago, score in ((60, "20.0"), (30, "35.5")):
        ReadinessSnapshotFactory(
            organisation=organisation,
            framework=essentials,
            score=Decimal(score),
            taken_at=timezone.now() - timedelta(days=days_ago),
        )
    return {"essentials": essentials, "standard": standard, "ce": ce, "iso": iso}


def flat(value: str) -> str:
    """The PDF's text with every run of white space as one space: table cells come out a line each."""
    return re.sub(r"\s+", " ", value)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def request_report(personas, django_capture_on_commit_callbacks, user=None) -> ReportRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = services_reports.report_request(
            organisation=personas.organisation, actor=Actor(user=user or personas.owner), kind="readiness"
        )
    run.refresh_from_db()
    return run


def read_file(run: ReportRun) -> bytes:
    with default_storage.open(run.file.name, "rb") as handle:
        return handle.read()


# --- The PDF --------------------------------------------------------------------------------------
def test_readiness_report_shows_the_scores_gaps_and_figures_the_selectors_give(
    personas, django_capture_on_commit_callbacks
):
    build_world(personas)
    run = request_report(personas, django_capture_on_commit_callbacks)

    assert run.status == ReportStatus.DONE, run.error
    text = flat(pdf_text(read_file(run)))
    assert "Acme Bakery Ltd" in text
    assert "Readiness report" in text
    assert long_date(timezone.localdate()) in text

    readiness = selectors.readiness_for(personas.organisation)
    assert f"Overall readiness {percent(readiness.overall)}" in text
    for framework in readiness.frameworks:
        score = framework.score
        # The summary's row: name, score, band, then applicable, answered and implemented counts.
        row = f"{framework.framework.name} {percent(score.percent)} {BAND_LABELS[score.band]} "
        row += f"{score.applicable} {score.answered} {score.implemented}"
        assert row in text, f"{row!r} not in the summary"
    # Every gap is in the top list here (fewer than the top 15), by ref and title.
    gaps = selectors.gaps_for(readiness)
    assert len(gaps) == 7
    for gap in gaps:
        assert f"{gap.control.ref} {gap.control.title}" in text
    # The first gap is the auto-fail control nobody answered: it would fail Essentials Test.
    assert "1 Essentials Test CE-1 Essentials Test requirement CE-1 Not answered" in text
    assert "Would fail the framework" in text
    # The plan, the evidence expiring and the policy due for review are named.
    for title in ("Turn on MFA everywhere", "Backup restore test log", "Acceptable use policy"):
        assert title in text
    # The trend table: Essentials Test went from its first snapshot (20%) to today's score.
    essentials = readiness.frameworks[0]
    assert "Essentials Test 20% on" in text
    assert f"{percent(essentials.score.percent)} up {number(essentials.score.percent - 20)} points" in text


def test_readiness_report_counts_plan_evidence_and_policies(personas):
    build_world(personas)
    data = readiness_report_data(personas.organisation, today=timezone.localdate())

    assert data.plan.total == 3
    assert dict(data.plan.by_status) == {"To do": 1, "Doing": 1, "Done": 1}
    assert data.plan.overdue == 1
    assert [task.title for task in data.plan.overdue_tasks] == ["Turn on MFA everywhere"]
    assert data.evidence.total == 4
    assert data.evidence.expiring == 1
    assert data.evidence.expired == 1
    assert data.evidence.current == 2
    assert dict(data.evidence.by_status)["Draft"] == 1
    assert [item.title for item in data.evidence.expiring_items] == ["Backup restore test log"]
    assert data.policies.total == 2
    assert data.policies.review_due == 1
    assert [policy.title for policy in data.policies.review_due_policies] == ["Acceptable use policy"]


def test_appendix_lists_every_control_with_answer_evidence_and_owner(personas):
    world = build_world(personas)
    data = readiness_report_data(personas.organisation, today=timezone.localdate())

    assert [framework.name for framework in data.appendix] == ["Essentials Test", "Standard Test"]
    standard = {line.ref: line for line in data.appendix[1].controls}
    assert list(standard) == [control.ref for control in world["iso"]]
    first = standard["A.5.1"]
    assert first.status == "Implemented"
    assert (first.evidence_count, first.evidence_current) == (3, 2)
    assert len(first.evidence_titles) == 3
    assert first.owner == personas.member.display_name
    assert standard["A.5.2"].owner == ""
    assert standard["A.7.1"].status == "Not answered"
    assert standard["A.7.1"].evidence_count == 0


def test_report_of_an_organisation_with_nothing_adopted_still_builds(personas, django_capture_on_commit_callbacks):
    run = request_report(personas, django_capture_on_commit_callbacks)

    assert run.status == ReportStatus.DONE, run.error
    text = pdf_text(read_file(run))
    assert "No frameworks are adopted yet" in text
    assert "Acme Bakery Ltd" in text


def test_progress_is_reported_section_by_section_in_order(personas):
    build_world(personas)
    seen: list[tuple[int, str]] = []
    data = readiness_report_data(
        personas.organisation, today=timezone.localdate(), progress=lambda at, message: seen.append((at, message))
    )
    build_readiness_pdf(data, io.BytesIO(), progress=lambda at, message: seen.append((at, message)))

    percents = [at for at, _message in seen]
    assert percents == sorted(percents)
    assert percents[0] < 25 <= percents[-1] < 100
    messages = [message for _at, message in seen]
    assert "Drawing the executive summary" in messages
    assert messages[-1] == "Drawing the appendix: Standard Test"


# --- Runs -----------------------------------------------------------------------------------------
def stored_reports() -> list[str]:
    try:
        folders, _files = default_storage.listdir("reports")
    except FileNotFoundError:
        return []
    found = []
    for organisation_folder in folders:
        for run_folder in default_storage.listdir(f"reports/{organisation_folder}")[0]:
            found.extend(default_storage.listdir(f"reports/{organisation_folder}/{run_folder}")[1])
    return found


def test_a_finished_run_stores_the_file_with_its_size_checksum_and_who_asked(
    personas, django_capture_on_commit_callbacks
):
    run = request_report(personas, django_capture_on_commit_callbacks, user=personas.viewer)

    assert run.status == ReportStatus.DONE
    body = read_file(run)
    assert body.startswith(b"%PDF-")
    assert run.size == len(body)
    assert run.sha256 == hashlib.sha256(body).hexdigest()
    assert (run.progress, run.message) == (100, "Ready to download")
    assert run.requested_by == personas.viewer
    assert run.started_at is not None
    assert run.finished_at is not None
    assert run.file.name.startswith(f"reports/{personas.organisation.pk}/")
    assert run.file.name.endswith(f"readiness-report-acme-bakery-{timezone.localdate():%Y-%m-%d}.pdf")
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="report.requested").count() == 1


def use_builder(monkeypatch, build) -> None:
    monkeypatch.setitem(BUILDERS, "readiness", Builder("readiness", "pdf", "application/pdf", build))


def test_progress_is_saved_on_the_run_while_it_builds(personas, monkeypatch, django_capture_on_commit_callbacks):
    seen: list[tuple[str, int, str]] = []

    def build(organisation, parameters, requested_by, today, out, progress):
        progress(40, "Drawing the gaps")
        run = ReportRun.objects.get(organisation=organisation)
        seen.append((run.status, run.progress, run.message))
        out.write(b"%PDF-1.7 a small report")

    use_builder(monkeypatch, build)
    run = request_report(personas, django_capture_on_commit_callbacks)

    assert seen == [(ReportStatus.RUNNING, 40, "Drawing the gaps")]
    assert run.status == ReportStatus.DONE
    assert read_file(run) == b"%PDF-1.7 a small report"


def test_a_failed_run_stores_its_error_and_no_file(personas, monkeypatch, django_capture_on_commit_callbacks):
    def build(organisation, parameters, requested_by, today, out, progress):
        out.write(b"%PDF-1.7 half a report")
        raise ReportError("The organisation's logo could not be read.")

    use_builder(monkeypatch, build)
    run = request_report(personas, django_capture_on_commit_callbacks)

    assert run.status == ReportStatus.FAILED
    assert run.error == "The organisation's logo could not be read."
    assert not run.file
    assert run.finished_at is not None
    assert stored_reports() == []
    assert run.can_retry


def test_an_unexpected_failure_says_so_plainly_and_keeps_nothing(
    personas, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def build(organisation, parameters, requested_by, today, out, progress):
        out.write(b"%PDF-1.7 half a report")
        raise RuntimeError("reportlab ran out of paper")

    use_builder(monkeypatch, build)
    with caplog.at_level("ERROR", logger="assessments.services_reports"):
        run = request_report(personas, django_capture_on_commit_callbacks)

    assert run.status == ReportStatus.FAILED
    assert run.error == services_reports.FAILED_UNEXPECTEDLY
    assert "reportlab ran out of paper" not in run.error
    assert stored_reports() == []
    assert "Building report run" in caplog.text


def test_trying_again_makes_a_new_run_with_the_same_parameters(personas, django_capture_on_commit_callbacks):
    failed = ReportRunFactory(
        organisation=personas.organisation, status=ReportStatus.FAILED, error="It broke.", requested_by=personas.member
    )

    with django_capture_on_commit_callbacks(execute=True):
        again = services_reports.report_retry(run=failed, actor=Actor(user=personas.owner))

    again.refresh_from_db()
    failed.refresh_from_db()
    assert again.pk != failed.pk
    assert (again.kind, again.parameters) == (failed.kind, failed.parameters)
    assert again.status == ReportStatus.DONE
    assert again.requested_by == personas.owner
    assert (failed.status, failed.error) == (ReportStatus.FAILED, "It broke.")


def test_only_failed_or_stopped_runs_can_be_tried_again(personas, django_capture_on_commit_callbacks):
    done = ReportRunFactory(organisation=personas.organisation, done=True)
    with pytest.raises(ValidationError):
        services_reports.report_retry(run=done, actor=Actor(user=personas.owner))

    long_ago = timezone.now() - timedelta(minutes=20)
    stopped = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.RUNNING, started_at=long_ago)
    assert stopped.is_lost
    assert not stopped.is_active
    with django_capture_on_commit_callbacks(execute=True):
        again = services_reports.report_retry(run=stopped, actor=Actor(user=personas.owner))
    again.refresh_from_db()
    assert again.status == ReportStatus.DONE


def test_asking_again_while_a_report_is_on_its_way_returns_that_run(personas):
    # No commit in this test, so the first run stays queued.
    first = services_reports.report_request(
        organisation=personas.organisation, actor=Actor(user=personas.owner), kind="readiness"
    )
    second = services_reports.report_request(
        organisation=personas.organisation, actor=Actor(user=personas.member), kind="readiness"
    )

    assert second.pk == first.pk
    assert ReportRun.objects.filter(organisation=personas.organisation).count() == 1


def test_a_redelivered_task_does_not_build_a_finished_run_again(personas):
    done = ReportRunFactory(organisation=personas.organisation, done=True)
    before = (done.file.name, done.sha256)

    assert services_reports.report_build(run_id=done.pk) is None
    done.refresh_from_db()
    assert (done.file.name, done.sha256) == before


def test_a_run_left_running_by_a_lost_worker_is_taken_over(personas, monkeypatch):
    monkeypatch.setattr(task_claims, "LOCK_WAIT_SECONDS", 0.1)
    stale = ReportRunFactory(
        organisation=personas.organisation, status=ReportStatus.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    busy = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.RUNNING, started_at=timezone.now())

    # A live worker's run is left to it (config.task_claims; tests/faults covers the worker that died).
    with live_worker_holds("assessments.reportrun", busy.pk), pytest.raises(task_claims.ClaimHeld):
        services_reports.report_build(run_id=busy.pk)
    built = services_reports.report_build(run_id=stale.pk)
    assert built is not None
    assert built.status == ReportStatus.DONE


def test_unknown_kinds_and_parameters_are_refused(personas):
    actor = Actor(user=personas.owner)
    with pytest.raises(ValidationError):
        services_reports.report_request(organisation=personas.organisation, actor=actor, kind="horoscope")
    with pytest.raises(ValidationError):
        services_reports.report_request(
            organisation=personas.organisation, actor=actor, kind="readiness", parameters={"framework": "x"}
        )
    assert not ReportRun.objects.exists()


def test_someone_outside_the_organisation_cannot_ask_for_its_report(personas):
    with pytest.raises(PermissionDenied):
        services_reports.report_request(
            organisation=personas.organisation, actor=Actor(user=personas.outsider), kind="readiness"
        )


# --- Pages ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "member", "viewer", "consultant"])
def test_every_member_can_ask_for_a_report_and_is_taken_to_it(
    personas, client_for, django_capture_on_commit_callbacks, role
):
    browser = client_for(getattr(personas, role))

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("report_create"), {"kind": "readiness"})

    run = ReportRun.objects.get(organisation=personas.organisation)
    assert response.status_code == 302
    assert response["Location"] == reverse("report_run", kwargs={"reportrun_id": run.pk})
    # Without a broker the task ran in the request, once the row was committed.
    run.refresh_from_db()
    assert run.status == ReportStatus.DONE


def test_reports_page_lists_runs_with_their_status_and_actions(personas, client_for):
    organisation = personas.organisation
    done = ReportRunFactory(organisation=organisation, done=True, requested_by=personas.member)
    failed = ReportRunFactory(
        organisation=organisation,
        status=ReportStatus.FAILED,
        error="The storage was full.",
        requested_by=personas.owner,
    )
    running = ReportRunFactory(
        organisation=organisation, status=ReportStatus.RUNNING, progress=45, started_at=timezone.now()
    )
    ReportRunFactory(organisation=personas.other_organisation, done=True, message="Rival's report")

    response = client_for(personas.viewer).get(reverse("reports"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Create readiness report" in html
    assert reverse("report_download", kwargs={"reportrun_id": done.pk}) in html
    assert escape(personas.member.display_name) in html  # names such as O'Connor are escaped
    assert "The storage was full." in html
    assert reverse("report_retry", kwargs={"reportrun_id": failed.pk}) in html
    assert "Building, 45%" in html
    assert reverse("report_run", kwargs={"reportrun_id": running.pk}) in html
    # A run on its way: the list refreshes itself.
    assert 'hx-trigger="every 2s"' in html
    assert len(response.context["runs"]) == 3


def test_reports_page_stops_polling_once_nothing_is_on_its_way(personas, client_for):
    ReportRunFactory(organisation=personas.organisation, done=True)

    response = client_for(personas.owner).get(reverse("reports"), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="report-runs"')
    assert "hx-trigger" not in html


def test_empty_reports_page_says_what_will_be_there(personas, client_for):
    html = client_for(personas.owner).get(reverse("reports")).content.decode()

    assert "No reports yet" in html
    assert "Create readiness report" in html


def test_run_page_polls_while_building_and_offers_the_download_when_done(personas, client_for):
    run = ReportRunFactory(
        organisation=personas.organisation, status=ReportStatus.RUNNING, progress=60, message="Drawing the appendix"
    )
    browser = client_for(personas.owner)
    url = reverse("report_run", kwargs={"reportrun_id": run.pk})

    page = browser.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert 'value="60"' in page
    assert "Drawing the appendix" in page

    ReportRun.objects.filter(pk=run.pk).update(status=ReportStatus.DONE, progress=100, file="reports/x.pdf", size=2048)
    fragment = browser.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith(f'<section id="report-{run.pk}"')
    assert "hx-trigger" not in fragment
    assert reverse("report_download", kwargs={"reportrun_id": run.pk}) in fragment
    assert "2.0\xa0KB" in fragment


def test_run_page_of_a_failed_run_shows_the_error_and_try_again(personas, client_for):
    run = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.FAILED, error="It broke plainly.")

    html = client_for(personas.viewer).get(reverse("report_run", kwargs={"reportrun_id": run.pk})).content.decode()

    assert "It broke plainly." in html
    assert reverse("report_retry", kwargs={"reportrun_id": run.pk}) in html


def test_try_again_page_action_starts_a_new_run(personas, client_for):
    failed = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.FAILED, error="It broke.")

    response = client_for(personas.viewer).post(reverse("report_retry", kwargs={"reportrun_id": failed.pk}))

    again = ReportRun.objects.exclude(pk=failed.pk).get()
    assert response["Location"] == reverse("report_run", kwargs={"reportrun_id": again.pk})
    assert again.requested_by == personas.viewer


def test_download_serves_the_file_as_an_attachment(personas, client_for):
    run = ReportRunFactory(organisation=personas.organisation, done=True)

    response = client_for(personas.viewer).get(reverse("report_download", kwargs={"reportrun_id": run.pk}))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.7 report body"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_another_organisations_report_is_not_found(personas, client_for):
    theirs = ReportRunFactory(organisation=personas.other_organisation, done=True)
    browser = client_for(personas.owner)

    for name in ("report_run", "report_download"):
        assert browser.get(reverse(name, kwargs={"reportrun_id": theirs.pk})).status_code == 404
    assert browser.post(reverse("report_retry", kwargs={"reportrun_id": theirs.pk})).status_code == 404
    assert ReportRun.objects.count() == 1


def test_a_report_without_a_file_cannot_be_downloaded(personas, client_for):
    browser = client_for(personas.owner)
    queued = ReportRunFactory(organisation=personas.organisation)
    lost_file = ReportRunFactory(organisation=personas.organisation, status=ReportStatus.DONE, file="reports/gone.pdf")

    for run in (queued, lost_file):
        assert browser.get(reverse("report_download", kwargs={"reportrun_id": run.pk})).status_code == 404
    assert browser.get("/reports/not-a-number/download/").status_code == 404


def test_reports_pages_need_a_signed_in_member(personas, client_for):
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    anonymous = client_for(None)
    for url in (reverse("reports"), reverse("report_run", kwargs={"reportrun_id": run.pk})):
        response = anonymous.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    owner = client_for(personas.owner)
    assert owner.get(reverse("report_create")).status_code == 405
    assert owner.post(reverse("reports")).status_code == 405
    assert owner.post(reverse("report_download", kwargs={"reportrun_id": run.pk})).status_code == 405


# --- Queries --------------------------------------------------------------------------------------
@pytest.mark.parametrize("runs", [1, 25])
@pytest.mark.parametrize("htmx", [False, True])
def test_reports_page_queries_do_not_grow_with_runs(personas, client_for, django_assert_num_queries, runs, htmx):
    for index in range(runs):
        ReportRunFactory(organisation=personas.organisation, done=index % 2 == 0, requested_by=personas.member)
    browser = client_for(personas.owner)
    browser.get(reverse("reports"))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    # + the runs with who asked for them; the full page also lists the adopted frameworks for the exports
    # and the report schedules (their recipients are one more query when there are any: see
    # test_report_schedules.py); the list's own htmx refresh needs only the runs
    with django_assert_num_queries(REQUEST_BASELINE + (1 if htmx else 3)):
        response = browser.get(reverse("reports"), **headers)
    assert len(response.context["runs"]) == runs


@pytest.mark.parametrize("htmx", [False, True])
def test_run_page_queries(personas, client_for, django_assert_num_queries, htmx):
    run = ReportRunFactory(organisation=personas.organisation, done=True, requested_by=personas.member)
    browser = client_for(personas.owner)
    url = reverse("report_run", kwargs={"reportrun_id": run.pk})
    browser.get(url)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    # + the run with who asked for it
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        assert browser.get(url, **headers).status_code == 200


def test_a_failed_scheduled_run_can_be_tried_again(personas):
    failed = ReportRunFactory(
        organisation=personas.organisation,
        status=ReportStatus.FAILED,
        error="The storage was full.",
        parameters={"schedule": 7},
        requested_by=personas.owner,
    )
    again = services_reports.report_retry(run=failed, actor=Actor(user=personas.owner))
    assert again.pk != failed.pk
    assert again.parameters == {"schedule": 7}
