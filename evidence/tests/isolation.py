"""URL arguments of the evidence pages that are not tenant object ids."""

from __future__ import annotations

from accounts.models import Organisation


def _provider(organisation: Organisation) -> str:
    return "google_workspace"


KWARG_RESOLVERS = {"provider": _provider}
