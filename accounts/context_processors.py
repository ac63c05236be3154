from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.roles import Capability


def organisation(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    return {
        "current_organisation": getattr(request, "organisation", None),
        "current_membership": membership,
        "user_memberships": getattr(request, "memberships", []),
        "can_edit": bool(membership and membership.can(Capability.EDIT)),
        "can_administer": bool(membership and membership.can(Capability.ADMINISTER)),
    }
