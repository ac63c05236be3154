"""`/api/v1/`: the framework library at the top, everything else under the organisation it belongs to."""

from django.urls import include, path

from config.api import docs

organisation_patterns = [
    path("", include("accounts.api_urls")),
    path("", include("assessments.api_urls")),
    path("", include("evidence.api_urls")),
    path("", include("policies.api_urls")),
    path("", include("chat.api_urls")),
]

urlpatterns = [
    path("", include("compliance.api_urls")),
    path("", include("accounts.api_urls_root")),
    path("organisations/<slug:organisation_slug>/", include(organisation_patterns)),
]

schema_patterns = [
    path("schema/", docs.schema, name="api_schema"),
    path("docs/", docs.docs, name="api_docs"),
]
