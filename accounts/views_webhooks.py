"""Settings pages for webhooks (being built)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from accounts.access import member_required
from accounts.roles import Capability


@member_required(Capability.ADMINISTER)
def settings_webhooks(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
