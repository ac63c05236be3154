"""The consultant's landing page in the admin: their clients at a glance, and each client's figures.

No model of this app is edited in the admin. The two pages are mounted on the admin site itself, so they
sit behind its sign-in (staff only) at /admin/clients/, and the admin index links to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.urls.exceptions import NoReverseMatch
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.admin_scope import consulted_organisation_ids, is_consultant
from assessments.client_overview import (
    DEFAULT_SORT,
    ClientRow,
    FrameworkFigures,
    client_rows,
    sort_key,
    sorted_rows,
)
from config.formatting import long_date, long_date_time

BAND_LABELS = {"green": "Green", "amber": "Amber", "red": "Red"}

# The table's columns: (key for ?o=, heading). Frameworks sort by the mean of their scores.
COLUMNS = [
    ("name", "Client"),
    ("readiness", "Readiness"),
    ("change", "30-day change"),
    ("overdue", "Overdue tasks"),
    ("expiring", "Evidence expiring"),
    ("expired", "Evidence expired"),
    ("policies", "Policies to approve"),
    ("escalations", "Open escalations"),
    ("activity", "Last activity"),
]


def long_date_time_or_blank(moment: datetime | None) -> str:
    return "" if moment is None else long_date_time(moment)


def points(change: Decimal | None) -> str:
    """+4.5 / -2.0 / 0.0 points; empty without a snapshot to compare with."""
    if change is None:
        return ""
    if change > 0:
        return f"+{change}"
    if change < 0:
        return f"{change}"
    return "0.0"


def _changelist(name: str, **query: Any) -> str:
    """A review queue's changelist filtered for one client; empty if that admin is not installed."""
    try:
        return reverse(f"admin:{name}_changelist", query=query)
    except NoReverseMatch:
        return ""


def _framework(figures: FrameworkFigures) -> dict[str, Any]:
    return {
        "name": figures.framework.name,
        "percent": figures.percent,
        "band": figures.band,
        "band_label": BAND_LABELS[figures.band],
        "would_fail": figures.would_fail,
        "change": points(figures.change),
        "change_since": long_date(timezone.localtime(figures.change_since).date()) if figures.change_since else "",
    }


def _row(row: ClientRow) -> dict[str, Any]:
    organisation_id = row.organisation.pk
    return {
        "row": row,
        "detail_url": reverse("admin:client_detail", args=[organisation_id]),
        "frameworks": [_framework(figures) for figures in row.frameworks],
        "overall_band_label": BAND_LABELS.get(row.overall_band, ""),
        "change": points(row.change),
        "change_since": long_date(timezone.localtime(row.change_since).date()) if row.change_since else "",
        "last_activity": long_date_time_or_blank(row.last_activity),
        "queues": {
            "policies": _changelist("policies_policy", organisation__id__exact=organisation_id, status="in_review"),
            "evidence": _changelist("evidence_evidence", organisation__id__exact=organisation_id, status="submitted"),
            "escalations": _changelist("chat_conversation", organisation__id__exact=organisation_id, state="waiting"),
        },
    }


def _headers(current: str) -> list[dict[str, Any]]:
    column, descending = sort_key(current)
    headers = []
    for key, label in COLUMNS:
        sorted_here = key == column
        # A click on the sorted column turns it round; on another, sorts it ascending.
        next_order = (key if descending else f"-{key}") if sorted_here else key
        headers.append(
            {
                "key": key,
                "label": label,
                "url": f"?o={next_order}",
                "sorted": sorted_here,
                "descending": sorted_here and descending,
            }
        )
    return headers


@require_GET
def client_overview(request: HttpRequest) -> HttpResponse:
    """Every client of the signed-in consultant (every organisation for a superuser), sortable by `?o=`."""
    order = request.GET.get("o", DEFAULT_SORT)
    column, descending = sort_key(order)
    ids = consulted_organisation_ids(request)
    rows = sorted_rows(client_rows(ids), f"-{column}" if descending else column) if is_consultant(request) else []
    context = {
        **admin.site.each_context(request),
        "title": "Your clients",
        "rows": [_row(row) for row in rows],
        "headers": _headers(order),
        "superuser": request.user.is_superuser,
    }
    return TemplateResponse(request, "admin/client_overview.html", context)


@require_GET
def client_detail(request: HttpRequest, organisation_id: int) -> HttpResponse:
    """One client's figures per framework, with links to its review queues."""
    ids = consulted_organisation_ids(request)
    if not is_consultant(request) or (ids is not None and organisation_id not in ids):
        raise Http404("No such client.")
    rows = client_rows([organisation_id])
    if not rows:
        raise Http404("No such client.")
    row = _row(rows[0])
    context = {
        **admin.site.each_context(request),
        "title": rows[0].organisation.name,
        "client": row,
        "overview_url": reverse("admin:client_overview"),
    }
    return TemplateResponse(request, "admin/client_detail.html", context)


# Mounted on the default admin site rather than a site of our own, so every app's admin stays where it is.
_site_get_urls: Callable[[], list[URLPattern | URLResolver]] = admin.site.get_urls
_site_index = admin.site.index


def _admin_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # `admin_view` signs people in and refuses non-staff: the site-wide LoginRequiredMiddleware need not
    # (it would send staff to the members' sign-in page rather than the admin's, as for the index).
    return login_not_required(admin.site.admin_view(view))


def _get_urls() -> list[URLPattern | URLResolver]:
    return [
        path("clients/", _admin_page(client_overview), name="client_overview"),
        path("clients/<int:organisation_id>/", _admin_page(client_detail), name="client_detail"),
        *_site_get_urls(),
    ]


def _index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
    """The admin index, with the consultant's clients at the top (counted from the memberships already
    loaded: no query)."""
    extra: dict[str, Any] = {}
    if is_consultant(request):
        ids = consulted_organisation_ids(request)
        extra = {
            "client_overview_url": reverse("admin:client_overview"),
            "client_count": None if ids is None else len(ids),
        }
    return _site_index(request, {**extra, **(extra_context or {})})


admin.site.get_urls = _get_urls  # type: ignore[method-assign]
admin.site.index = _index  # type: ignore[method-assign]
