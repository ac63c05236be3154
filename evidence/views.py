from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.access import member_required
from config.pages import render_page


@require_GET
@member_required()
def evidence_list(request: HttpRequest) -> HttpResponse:
    return render_page(request, "evidence/evidence_list.html")
