"""The framework library in the API: frameworks, their groups and controls, and cross-framework mappings.

Public reference data, the same for every organisation: any valid key or signed-in person may read it,
whatever their scopes. Controls and mappings are cursor-paginated in id order (the order the library
was loaded in); frameworks and a framework's groups are short lists and come whole.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics

from compliance import selectors
from compliance.models import Control, ControlGroup, ControlMapping, Framework, Question, Relationship
from compliance.search import search_controls
from compliance.serializers import ControlSerializer, FrameworkSerializer, GroupSerializer, MappingSerializer
from config.api.pagination import ApiCursorPagination

# A search answers with its best matches only: past these, the words asked are too loose to help.
SEARCH_LIMIT = 100


class LibraryPagination(ApiCursorPagination):
    ordering = ("id",)  # type: ignore[assignment]  # the base names two fields; ids alone are unique


FRAMEWORK_EXAMPLE = {
    "slug": "uk-gdpr",
    "name": "UK GDPR",
    "version": "2025",
    "version_label": "as amended by the Data (Use and Access) Act",
    "publisher": "UK Parliament (legislation.gov.uk); regulated by the Information Commissioner's Office (ICO)",
    "effective_date": "2026-02-05",
    "jurisdiction": "United Kingdom",
    "source_url": "https://www.legislation.gov.uk/eur/2016/679",
    "description": "The UK GDPR is the main UK law on how organisations collect and use information about people…",
    "control_count": 88,
    "url": "https://greenlight.example/api/v1/frameworks/uk-gdpr/",
    "web_url": "https://greenlight.example/frameworks/uk-gdpr/",
}
CONTROL_EXAMPLE = {
    "id": 1287,
    "framework": "uk-gdpr",
    "group": "IV.2",
    "ref": "33",
    "title": "Notification of a personal data breach to the Commissioner",
    "description": "If a personal data breach is likely to put people at risk, you must report it to the ICO "
    "within 72 hours of becoming aware of it, and you must record every breach, reported or not.",
    "guidance": "Keep a breach log and a short plan saying who decides whether to report…",
    "typical_evidence": ["Breach log", "Breach response plan"],
    "weight": 5,
    "applies_if": [],
    "auto_fail": False,
    "assessable": True,
    "retired_at": None,
    "questions": [
        {
            "key": "q3",
            "text": "Could you assess and, where needed, report a breach to the ICO within 72 hours, including at "
            "weekends?",
            "help": "",
        }
    ],
    "url": "https://greenlight.example/api/v1/controls/1287/",
    "web_url": "https://greenlight.example/frameworks/uk-gdpr/controls/33/",
}


def _with_questions(controls: QuerySet[Control]) -> QuerySet[Control]:
    return controls.select_related("framework", "group").prefetch_related(
        Prefetch("questions", queryset=Question.objects.live().order_by("position"), to_attr="live_questions")
    )


class ControlFilter(django_filters.FilterSet):
    framework = django_filters.CharFilter(
        field_name="framework__slug", help_text="Only this framework's controls (its slug, e.g. `uk-gdpr`)."
    )
    group = django_filters.CharFilter(field_name="group__ref", help_text="Only controls in the group with this ref.")
    assessable = django_filters.BooleanFilter(
        help_text="`true` for controls the assessment asks about, `false` for the rest."
    )
    q = django_filters.CharFilter(
        method="search",
        help_text=f"Search words, synonyms included (`2FA` finds multi-factor authentication); the best "
        f"{SEARCH_LIMIT} matches.",
    )

    class Meta:
        model = Control
        fields = ("framework", "group", "assessable", "q")

    def search(self, queryset: QuerySet[Control], name: str, value: str) -> QuerySet[Control]:
        query = value.strip()
        if not query:
            return queryset
        framework = Framework.objects.filter(slug=self.data.get("framework", "")).first()
        ids = [control.pk for control in search_controls(query, framework=framework, limit=SEARCH_LIMIT)]
        return queryset.filter(pk__in=ids)


class MappingFilter(django_filters.FilterSet):
    framework = django_filters.CharFilter(
        method="either_end", help_text="Only mappings with a control of this framework at either end (its slug)."
    )
    relationship = django_filters.ChoiceFilter(
        choices=Relationship.choices, help_text="Read as: the source is <relationship> of the target."
    )

    class Meta:
        model = ControlMapping
        fields = ("framework", "relationship")

    def either_end(self, queryset: QuerySet[ControlMapping], name: str, value: str) -> QuerySet[ControlMapping]:
        return queryset.filter(Q(source__framework__slug=value) | Q(target__framework__slug=value))


@extend_schema_view(
    get=extend_schema(
        summary="List frameworks",
        description="Every framework in the library, in the library's order, with how many live controls each has.",
        examples=[OpenApiExample("UK GDPR", value=FRAMEWORK_EXAMPLE, response_only=True)],
    )
)
class FrameworkList(generics.ListAPIView):
    serializer_class = FrameworkSerializer
    pagination_class = None
    filter_backends = ()

    def get_queryset(self) -> QuerySet[Framework]:
        return selectors.frameworks_with_counts()


@extend_schema_view(
    get=extend_schema(
        summary="A framework",
        description="One framework of the library, by its slug.",
        examples=[OpenApiExample("UK GDPR", value=FRAMEWORK_EXAMPLE, response_only=True)],
    )
)
class FrameworkDetail(generics.RetrieveAPIView):
    serializer_class = FrameworkSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "framework_slug"
    filter_backends = ()

    def get_queryset(self) -> QuerySet[Framework]:
        return selectors.frameworks_with_counts()


@extend_schema_view(
    get=extend_schema(
        summary="List a framework's groups",
        description="The framework's live groups (chapters, sections, themes…) in order; `parent` makes the tree.",
        examples=[
            OpenApiExample(
                "A UK GDPR section",
                value={"ref": "IV.2", "kind": "section", "title": "Security of personal data", "parent": "IV"},
                response_only=True,
            )
        ],
    )
)
class GroupList(generics.ListAPIView):
    serializer_class = GroupSerializer
    pagination_class = None
    filter_backends = ()

    def get_queryset(self) -> QuerySet[ControlGroup]:
        if getattr(self, "swagger_fake_view", False):
            return ControlGroup.objects.none()
        framework = selectors.framework_by_slug(self.kwargs["framework_slug"])
        return framework.groups.live().select_related("parent").order_by("position")


@extend_schema_view(
    get=extend_schema(
        summary="List controls",
        description="Live controls of every framework, filtered by framework, group, whether the assessment "
        "asks about them, or search words.",
        examples=[OpenApiExample("UK GDPR 33", value=CONTROL_EXAMPLE, response_only=True)],
    )
)
class ControlList(generics.ListAPIView):
    serializer_class = ControlSerializer
    pagination_class = LibraryPagination
    filter_backends = (DjangoFilterBackend,)
    filterset_class = ControlFilter

    def get_queryset(self) -> QuerySet[Control]:
        return _with_questions(Control.objects.live())


@extend_schema_view(
    get=extend_schema(
        summary="A control",
        description="One control, by id; a retired control is still found, with its `retired_at`.",
        examples=[OpenApiExample("UK GDPR 33", value=CONTROL_EXAMPLE, response_only=True)],
    )
)
class ControlDetail(generics.RetrieveAPIView):
    serializer_class = ControlSerializer
    lookup_url_kwarg = "control_id"
    filter_backends = ()

    def get_queryset(self) -> QuerySet[Control]:
        return _with_questions(Control.objects.all())


@extend_schema_view(
    get=extend_schema(
        summary="List mappings",
        description="How controls of different frameworks relate (NIST OLIR relationships): meeting one may "
        "meet, or go part of the way to, another.",
        examples=[
            OpenApiExample(
                "Cyber Essentials to ISO 27001",
                value={
                    "id": 77,
                    "source": "cyber-essentials:UA.4",
                    "target": "iso27001-2022:A.8.5",
                    "source_id": 31,
                    "target_id": 402,
                    "relationship": "subset",
                    "rationale": "Multi-factor authentication on cloud services is part of secure authentication.",
                },
                response_only=True,
            )
        ],
    )
)
class MappingList(generics.ListAPIView):
    serializer_class = MappingSerializer
    pagination_class = LibraryPagination
    filter_backends = (DjangoFilterBackend,)
    filterset_class = MappingFilter

    def get_queryset(self) -> QuerySet[ControlMapping]:
        return ControlMapping.objects.select_related("source__framework", "target__framework")
