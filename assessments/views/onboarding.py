"""Being built: placeholders so the URLconf imports; each is replaced by the real view."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def onboarding(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def onboarding_step(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def profile_summary(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def recommendations(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def framework_adopt(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def adoption_update(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")


def adoption_remove(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("Not built yet.")
