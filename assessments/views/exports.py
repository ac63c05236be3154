"""Downloads for auditors, customers and certification bodies: the Statement of Applicability (.xlsx and
PDF), the Cyber Essentials answers workbook, the evidence pack (ZIP) and CSV files.

Every member may download them, viewers included: they hold nothing a viewer cannot already read.
Small files are built whole; the evidence pack and the CSV files are streamed as they are written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from accounts.access import current_organisation, member_required
from accounts.models import Organisation
from assessments.exports import csv_exports, evidence_pack
from assessments.exports.cyber_essentials import cyber_essentials_xlsx
from assessments.exports.soa import statement_for
from assessments.exports.soa_pdf import PDF_CONTENT_TYPE, soa_pdf
from assessments.exports.soa_xlsx import soa_xlsx
from assessments.exports.streaming import attachment
from assessments.exports.workbook import XLSX_CONTENT_TYPE
from assessments.selectors import adoptions_for
from compliance.models import Framework


def exports_panel_context(organisation: Organisation) -> dict[str, Any]:
    """What templates/assessments/exports_panel.html needs, for the page that includes it (one query)."""
    return {
        "export_frameworks": [adoption.framework for adoption in adoptions_for(organisation)],
        "pack_scopes": evidence_pack.SCOPES,
        "default_pack_scope": evidence_pack.DEFAULT_SCOPE,
    }


def _download(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _dated(stem: str, organisation: Organisation, extension: str) -> str:
    return f"{stem}-{organisation.slug}-{date.today().isoformat()}.{extension}"


@require_GET
@member_required()
def export_soa_xlsx(request: HttpRequest) -> HttpResponse:
    organisation = current_organisation(request)
    content = soa_xlsx(statement_for(organisation))
    filename = _dated("statement-of-applicability", organisation, "xlsx")
    return _download(content, filename=filename, content_type=XLSX_CONTENT_TYPE)


@require_GET
@member_required()
def export_soa_pdf(request: HttpRequest) -> HttpResponse:
    organisation = current_organisation(request)
    content = soa_pdf(statement_for(organisation))
    filename = _dated("statement-of-applicability", organisation, "pdf")
    return _download(content, filename=filename, content_type=PDF_CONTENT_TYPE)


@require_GET
@member_required()
def export_cyber_essentials(request: HttpRequest) -> HttpResponse:
    organisation = current_organisation(request)
    filename = _dated("cyber-essentials-answers", organisation, "xlsx")
    return _download(cyber_essentials_xlsx(organisation), filename=filename, content_type=XLSX_CONTENT_TYPE)


# A streamed response is not an HttpResponse, which is all `member_required` is typed to wrap.
@require_GET
@member_required()
def export_evidence_pack(request: HttpRequest) -> HttpResponseBase:
    """?framework=<slug> keeps to one framework's controls; ?scope=accepted leaves out evidence not yet
    accepted. An unknown framework is a 404, an unknown scope a 400."""
    organisation = current_organisation(request)
    slug = request.GET.get("framework", "").strip()
    framework = get_object_or_404(Framework, slug=slug) if slug else None
    scope = request.GET.get("scope", "").strip() or evidence_pack.DEFAULT_SCOPE
    if scope not in evidence_pack.SCOPES:
        return HttpResponse("Choose current or accepted evidence for the pack.", status=400, content_type="text/plain")
    pack = evidence_pack.pack_for(organisation, evidence_pack.PackOptions(framework=framework, scope=scope))
    return attachment(
        evidence_pack.pack_stream(pack), filename=pack.filename, content_type=evidence_pack.ZIP_CONTENT_TYPE
    )


def _csv(request: HttpRequest, kind: str) -> HttpResponseBase:
    organisation = current_organisation(request)
    return attachment(
        csv_exports.export_stream(kind, organisation),
        filename=csv_exports.export_filename(kind, organisation),
        content_type=csv_exports.CSV_CONTENT_TYPE,
    )


@require_GET
@member_required()
def export_controls_csv(request: HttpRequest) -> HttpResponseBase:
    return _csv(request, "controls")


@require_GET
@member_required()
def export_tasks_csv(request: HttpRequest) -> HttpResponseBase:
    return _csv(request, "tasks")


@require_GET
@member_required()
def export_evidence_csv(request: HttpRequest) -> HttpResponseBase:
    return _csv(request, "evidence")
