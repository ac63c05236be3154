"""The organisation export page, for owners: what an export holds and leaves out, asking for one, its
progress (the list refreshes itself while one is being built), downloading it and trying again.

Owners only, admins included in the refusal: the file holds everything the organisation keeps, every
member's name and address and the whole audit log among it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import get_tenant_object_or_404, member_required, require_membership
from accounts.audit import Actor
from accounts.models import DataExport, DataExportStatus, Membership
from accounts.portability import services
from accounts.portability.format import EXCLUDED_FIELDS, EXCLUDED_MODELS, NOT_EXPORTED_ELSEWHERE
from config.pages import render_page, wants_fragment

TEMPLATE = "accounts/settings_data_export.html"
EXPORTS_SHOWN = 20
# The file is a download, never a page of this site: nothing in it may run or load.
SANDBOX = "sandbox; default-src 'none'"


@dataclass(frozen=True)
class ExportRow:
    export: DataExport
    lost: bool
    can_retry: bool
    can_download: bool


def _owner(request: HttpRequest) -> Membership:
    membership = require_membership(request)
    if not membership.is_owner:
        raise PermissionDenied(services.OWNERS_ONLY)
    return membership


def _export_for(request: HttpRequest, dataexport_id: int) -> DataExport:
    # Another organisation's export is a 404 before anyone's role is looked at.
    export = get_tenant_object_or_404(
        request, DataExport.objects.select_related("organisation", "requested_by"), dataexport_id
    )
    _owner(request)
    return export


def _go(request: HttpRequest) -> HttpResponse:
    url = reverse("settings_data_export")
    return HttpResponseClientRedirect(url) if wants_fragment(request) else redirect(url)


# Names people know these by, where the model's own plural reads badly.
NAMES = {
    "accounts.dataexport": "Earlier exports",
    "accounts.organisation": "Organisation",
    "accounts.idempotencyrecord": "API idempotency records",
    "accounts.webhookdelivery": "Webhook delivery log",
    "accounts.user": "People's accounts",
    "accounts.apikey": "API keys",
    "chat.documentindex": "The assistant's search index",
    "evidence.connection": "Connected accounts",
}


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _left_out() -> list[tuple[str, str]]:
    """What an export does not hold, in words, from the format's own lists; fields left out for the same
    reason are named together."""
    items = [
        (NAMES.get(label) or _upper_first(str(apps.get_model(label)._meta.verbose_name_plural)), reason)
        for label, reason in {**EXCLUDED_MODELS, **NOT_EXPORTED_ELSEWHERE}.items()
    ]
    for label, reasons in EXCLUDED_FIELDS.items():
        meta = apps.get_model(label)._meta
        by_reason: dict[str, list[str]] = {}
        for name, reason in reasons.items():
            by_reason.setdefault(reason, []).append(str(meta.get_field(name).verbose_name))
        owner = NAMES.get(label) or _upper_first(str(meta.verbose_name))
        items += [(f"{owner}: {', '.join(fields)}", reason) for reason, fields in by_reason.items()]
    return sorted(items)


@require_GET
@member_required()
def settings_data_export(request: HttpRequest) -> HttpResponse:
    organisation = _owner(request).organisation
    now = timezone.now()
    exports = list(
        DataExport.objects.filter(organisation=organisation)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[: EXPORTS_SHOWN + 1]
    )
    rows = [
        ExportRow(
            export=export,
            lost=services.is_lost(export, now=now),
            can_retry=services.can_retry(export),
            can_download=services.can_download(export),
        )
        for export in exports[:EXPORTS_SHOWN]
    ]
    context: dict[str, Any] = {
        "section": "data_export",
        "rows": rows,
        "more_exports": len(exports) > EXPORTS_SHOWN,
        # The list refreshes itself while an export is on its way, and stops once none is.
        "polling": any(row.export.status in services.ACTIVE and not row.lost for row in rows),
        "days": settings.DATA_EXPORT_DAYS,
        "left_out": _left_out(),
    }
    return render_page(request, TEMPLATE, context, fragment="exports")


@require_POST
@member_required()
def data_export_create(request: HttpRequest) -> HttpResponse:
    organisation = _owner(request).organisation
    export = services.data_export_request(organisation=organisation, actor=Actor.from_request(request))
    export.refresh_from_db()  # without a worker it has been built already
    if export.status == DataExportStatus.READY:
        messages.success(request, "Your export is ready to download below.")
    else:
        messages.success(
            request, "Your export is being built. This page shows its progress; we will tell you when it is ready."
        )
    return _go(request)


@require_POST
@member_required()
def data_export_retry(request: HttpRequest, dataexport_id: int) -> HttpResponse:
    export = _export_for(request, dataexport_id)
    try:
        services.data_export_retry(export=export, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Trying the export again. This page shows its progress.")
    return _go(request)


# A streamed file is not an HttpResponse, which is all `member_required` is typed to wrap.
@require_GET
@member_required()  # type: ignore[arg-type]
def data_export_download(request: HttpRequest, dataexport_id: int) -> HttpResponseBase:
    export = _export_for(request, dataexport_id)
    if not services.can_download(export):
        raise Http404("This export has no file to download: it is not ready, or it has expired.")
    name = str(export.file.name)
    try:
        handle = export.file.storage.open(name, "rb")
    except OSError:  # the row is there, its file is not
        raise Http404("This export's file is missing. Ask for a new export.") from None
    services.data_export_downloaded(export=export, actor=Actor.from_request(request))
    # Streamed from storage in chunks, never read whole into memory.
    response = FileResponse(
        handle, as_attachment=True, filename=PurePosixPath(name).name, content_type="application/zip"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    response["Cache-Control"] = "private, no-store"
    return response
