"""assessments' API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import include, path  # noqa: F401

urlpatterns: list = [
    path("", include("assessments.api_urls_reports")),
]
