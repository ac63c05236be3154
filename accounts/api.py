"""The organisations a caller can reach, and each one's own scopes."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Organisation
from accounts.serializers import OrganisationAccessSerializer, OrganisationSerializer
from config.api.access import organisations_reachable
from config.api.views import OrganisationAPIView


class OrganisationList(generics.ListAPIView):
    """The organisations this key (or signed-in person) can reach: a key's own organisation, or every
    organisation that granted the key's partner access. Use each one's `slug` in the URLs below."""

    serializer_class = OrganisationSerializer
    filter_backends = ()

    def get_queryset(self) -> QuerySet[Organisation]:
        return organisations_reachable(self.request).order_by("name", "id")


class OrganisationDetail(OrganisationAPIView):
    """One organisation, with the scopes this caller has in it."""

    serializer_class = OrganisationAccessSerializer

    @extend_schema(operation_id="organisation_retrieve")
    def get(self, request: Request, organisation_slug: str) -> Response:
        access = self.resolve_access()
        serializer = self.get_serializer(access.organisation, context={"request": request, "scopes": access.scopes})
        return Response(serializer.data)
