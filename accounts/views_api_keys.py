"""Settings pages for API keys and partner access (being built)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from accounts.access import member_required
from accounts.roles import Capability


@member_required(Capability.ADMINISTER)
def settings_api_keys(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@member_required(Capability.ADMINISTER)
def settings_partners(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
