"""Being built: placeholders so the URLconf imports; each is replaced by the real view."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def plan(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def plan_generate(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def task_create(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def task_detail(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def task_update(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")
