"""Being built: placeholders so the URLconf imports; each is replaced by the real view."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def assessment(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def assessment_combined(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def assessment_framework(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def answer_save(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def round_start(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")
