"""Reports: the list of report runs, asking for a report, a run's progress, trying again, and downloads.

Anyone who can see the organisation can ask for a report: it shows nothing its pages do not. Files
are served only here, after the organisation check: a short-lived signed URL on S3, else streamed.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from assessments import services_reports
from assessments.access import get_report_for
from assessments.models import ReportKind, ReportRun, ReportStatus
from assessments.reports import builder_for
from assessments.views.exports import exports_panel_context
from assessments.views.report_schedules import schedules_context
from config.pages import render_page, wants_fragment
from config.queueing import watch_enqueues

LIST_TEMPLATE = "assessments/reports.html"
RUN_TEMPLATE = "assessments/reports_run.html"
RUNS_SHOWN = 30
BACKGROUND_UNAVAILABLE = (
    "Saved. The background service is unavailable, so your report will be built automatically when it is back."
)
# The file is a download, never a page of this site: nothing in it may run or load.
SANDBOX = "sandbox; default-src 'none'"


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if wants_fragment(request) else redirect(url)


@require_GET
@member_required()
def reports(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    runs = list(
        ReportRun.objects.filter(organisation=organisation)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[: RUNS_SHOWN + 1]
    )
    context = {
        "runs": runs[:RUNS_SHOWN],
        "more_runs": len(runs) > RUNS_SHOWN,
        # The list refreshes itself while a report is on its way, and stops once none is.
        "polling": any(run.is_active for run in runs[:RUNS_SHOWN]),
    }
    if not wants_fragment(request):  # the list's own refresh needs only the runs
        context.update(exports_panel_context(organisation))
        context.update(schedules_context(organisation, require_membership(request)))
    return render_page(request, LIST_TEMPLATE, context, fragment="runs")


@require_POST
@member_required()
def report_create(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    kind = request.POST.get("kind") or ReportKind.READINESS
    try:
        with watch_enqueues() as enqueues:
            run = services_reports.report_request(
                organisation=organisation, actor=Actor.from_request(request), kind=kind
            )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _go(request, reverse("reports"))
    if enqueues.deferred:
        messages.warning(request, BACKGROUND_UNAVAILABLE)
    return _go(request, _run_url(run))


@require_GET
@member_required()
def report_run(request: HttpRequest, reportrun_id: int) -> HttpResponse:
    run = get_report_for(request, reportrun_id)
    return render_page(request, RUN_TEMPLATE, {"run": run}, fragment="progress")


@require_POST
@member_required()
def report_retry(request: HttpRequest, reportrun_id: int) -> HttpResponse:
    run = get_report_for(request, reportrun_id)
    try:
        with watch_enqueues() as enqueues:
            again = services_reports.report_retry(run=run, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _go(request, _run_url(run))
    if enqueues.deferred:
        messages.warning(request, BACKGROUND_UNAVAILABLE)
    return _go(request, _run_url(again))


def _run_url(run: ReportRun) -> str:
    return reverse("report_run", kwargs={"reportrun_id": run.pk})


def _uses_s3() -> bool:
    backend: Any = settings.STORAGES["default"]
    return "s3" in str(backend["BACKEND"]).lower()


# A streamed file is not an HttpResponse, which is all `member_required` is typed to wrap.
@require_GET
@member_required()
def report_download(request: HttpRequest, reportrun_id: int) -> HttpResponseBase:
    run = get_report_for(request, reportrun_id)
    if run.status != ReportStatus.DONE or not run.file:
        raise Http404("This report has no file to download.")
    name = str(run.file.name)
    builder = builder_for(run.kind)
    content_type = builder.content_type if builder else "application/octet-stream"
    filename = PurePosixPath(name).name
    response: HttpResponseBase
    if _uses_s3():
        parameters = {
            "ResponseContentDisposition": content_disposition_header(as_attachment=True, filename=filename),
            "ResponseContentType": content_type,
        }
        response = HttpResponseRedirect(default_storage.url(name, parameters=parameters))  # type: ignore[call-arg]
    else:
        try:
            handle = default_storage.open(name, "rb")
        except OSError:  # the row is there, its file is not
            raise Http404("This report's file is missing. Ask for the report again.") from None
        response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = SANDBOX
    response["Cache-Control"] = "private, no-store"
    return response
