from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.access import member_required
from compliance import selectors
from compliance.search import search_controls
from config.pages import render_page

SEARCH_LIMIT = 40


@require_GET
@member_required()
def framework_list(request: HttpRequest) -> HttpResponse:
    return render_page(request, "compliance/catalogue.html", {"frameworks": selectors.frameworks_with_counts()})


@require_GET
@member_required()
def framework_detail(request: HttpRequest, framework_slug: str) -> HttpResponse:
    framework = selectors.framework_by_slug(framework_slug)
    return render_page(
        request,
        "compliance/framework_detail.html",
        {"framework": framework, "tree": selectors.framework_tree(framework)},
    )


@require_GET
@member_required()
def control_detail(request: HttpRequest, framework_slug: str, control_ref: str) -> HttpResponse:
    control = selectors.control_for_page(framework_slug, control_ref)
    return render_page(
        request,
        "compliance/control_detail.html",
        {"control": control, "framework": control.framework, "mapped": selectors.mapped_controls(control)},
    )


@require_GET
@member_required()
def control_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    results = list(search_controls(query, limit=SEARCH_LIMIT)) if query else []
    return render_page(
        request,
        "compliance/search.html",
        {"query": query, "results": results, "limit": SEARCH_LIMIT},
        fragment="results",
    )
