from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.access import member_required
from config.pages import render_page


@require_GET
@member_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    return render_page(request, "assessments/dashboard.html")


@require_GET
@member_required()
def reports(request: HttpRequest) -> HttpResponse:
    return render_page(request, "assessments/reports.html")
