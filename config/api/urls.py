"""`/api/v1/`: the framework library at the top, everything else under the organisation it belongs to."""

from django.urls import include, path, re_path

from config.api import docs, views

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
    # Last: any other URL under /api/ (mounted after /api/v1/) answers a problem+json 404, not HTML.
    re_path(r"^.*$", views.not_found, name="api_not_found"),
]
