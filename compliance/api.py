"""Read-only API over the framework library."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from rest_framework import generics
from rest_framework.pagination import LimitOffsetPagination

from compliance import selectors
from compliance.models import Control, ControlMapping, Framework, Question
from compliance.search import search_controls
from compliance.serializers import ControlSerializer, FrameworkSerializer, GroupSerializer, MappingSerializer


class LibraryPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 500


class FrameworkList(generics.ListAPIView):
    serializer_class = FrameworkSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Framework]:
        return selectors.frameworks_with_counts()


class FrameworkDetail(generics.RetrieveAPIView):
    serializer_class = FrameworkSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "framework_slug"

    def get_queryset(self) -> QuerySet[Framework]:
        return selectors.frameworks_with_counts()


class GroupList(generics.ListAPIView):
    serializer_class = GroupSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet:
        framework = selectors.framework_by_slug(self.kwargs["framework_slug"])
        return framework.groups.live().select_related("parent").order_by("position")


class ControlList(generics.ListAPIView):
    """Controls, filterable by `framework` (slug), `group` (ref), `assessable` and `q` (search)."""

    serializer_class = ControlSerializer
    pagination_class = LibraryPagination

    def get_queryset(self) -> QuerySet[Control]:
        params = self.request.query_params
        query = params.get("q", "").strip()
        if query:
            framework = Framework.objects.filter(slug=params.get("framework", "")).first()
            ids = [control.pk for control in search_controls(query, framework=framework, limit=100)]
            controls: QuerySet[Control] = Control.objects.filter(pk__in=ids).select_related("framework", "group")
        else:
            controls = selectors.controls_filtered(
                framework_slug=params.get("framework", ""), group_ref=params.get("group", "")
            )
        if params.get("assessable") in {"true", "false"}:
            controls = controls.filter(assessable=params["assessable"] == "true")
        return controls.prefetch_related(
            Prefetch("questions", queryset=Question.objects.live().order_by("position"), to_attr="live_questions")
        ).order_by("framework__position", "position")


class MappingList(generics.ListAPIView):
    """Mappings, filterable by `framework` (either end) and `relationship`."""

    serializer_class = MappingSerializer
    pagination_class = LibraryPagination

    def get_queryset(self) -> QuerySet[ControlMapping]:
        params = self.request.query_params
        mappings = ControlMapping.objects.select_related("source__framework", "target__framework").order_by("pk")
        if params.get("framework"):
            slug = params["framework"]
            mappings = mappings.filter(Q(source__framework__slug=slug) | Q(target__framework__slug=slug))
        if params.get("relationship"):
            mappings = mappings.filter(relationship=params["relationship"])
        return mappings
