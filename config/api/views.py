"""The base of every organisation API view (`/api/v1/organisations/{organisation_slug}/...`), and the
problem+json 404 for any other URL under /api/."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, ResolverMatch, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import generics
from rest_framework.exceptions import NotFound

from accounts.audit import Actor
from accounts.models import Organisation
from accounts.scopes import Scope
from config.api.access import OrganisationAccess, organisation_access
from config.api.permissions import HasOrganisationScope, IsKeyOrSignedIn
from config.problems import TITLES


class OrganisationAPIView(generics.GenericAPIView):
    """Views under an organisation. Subclasses say which scope each method needs:

        scopes = {"GET": Scope.EVIDENCE_READ, "POST": Scope.EVIDENCE_WRITE}

    and read `self.organisation` and `self.actor` (pass the actor to services: they check it again).
    Object lookups go through `get_tenant_object`, which filters by the organisation in SQL.
    """

    permission_classes = (IsKeyOrSignedIn, HasOrganisationScope)
    scopes: ClassVar[dict[str, Scope]] = {}
    _access: OrganisationAccess | None = None

    def required_scope(self, method: str | None) -> Scope | None:
        if method in ("HEAD", "OPTIONS"):
            method = "GET"
        return self.scopes.get(method or "")

    def resolve_access(self) -> OrganisationAccess:
        if self._access is None:
            self._access = organisation_access(self.request, self.kwargs["organisation_slug"])
        return self._access

    @property
    def organisation(self) -> Organisation:
        return self.resolve_access().organisation

    @property
    def actor(self) -> Actor:
        return self.resolve_access().actor

    def get_tenant_object[M: Model](self, queryset: QuerySet[M], pk: Any) -> M:
        try:
            return queryset.filter(organisation_id=self.organisation.pk).get(pk=pk)
        except (ObjectDoesNotExist, ValueError, TypeError, OverflowError):
            raise NotFound(f"No such {queryset.model._meta.verbose_name}.") from None


@login_not_required
@csrf_exempt  # it changes nothing; without this a POST would get Django's HTML CSRF page instead
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other URL under /api/: a problem+json 404 rather than the site's HTML page."""
    detail = "There is no API endpoint at this URL. The endpoints are listed at /api/docs/."
    if not request.path.endswith("/"):
        match = resolve_or_none(f"{request.path}/")
        if match is not None and match.url_name != "api_not_found":
            detail = f"There is no API endpoint at this URL. Did you mean {request.path}/ (with a final slash)?"
    problem = {"type": "about:blank", "title": TITLES[404], "status": 404, "detail": detail}
    return JsonResponse(problem, status=404, content_type="application/problem+json")


def resolve_or_none(path: str) -> ResolverMatch | None:
    try:
        return resolve(path)
    except Resolver404:
        return None
