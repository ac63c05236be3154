"""Who may call: a key or a signed-in person; and, per operation, the scope it needs."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey


class IsKeyOrSignedIn(BasePermission):
    """An API key, or a browser session (which keeps Django's CSRF protection)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey) or bool(request.user and request.user.is_authenticated)


class HasOrganisationScope(BasePermission):
    """Resolves the organisation in the URL (404 if the caller cannot reach it), then requires the scope
    the view names for this method (403 saying which scope is missing)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = view.resolve_access()
        needed = view.required_scope(request.method)
        if needed is not None and needed not in access.scopes:
            raise PermissionDenied(f"This operation needs the {needed} scope.")
        return True
