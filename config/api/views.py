"""The base of every organisation API view: `/api/v1/organisations/{organisation_slug}/...`."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import generics
from rest_framework.exceptions import NotFound

from accounts.audit import Actor
from accounts.models import Organisation
from accounts.scopes import Scope
from config.api.access import OrganisationAccess, organisation_access
from config.api.permissions import HasOrganisationScope, IsKeyOrSignedIn


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
        except (queryset.model.DoesNotExist, ValueError, TypeError):
            raise NotFound(f"No such {queryset.model._meta.verbose_name}.") from None
