"""accounts' API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import include, path

from accounts import api

urlpatterns = [
    path("", api.OrganisationDetail.as_view(), name="api_organisation_detail"),
    path("", include("accounts.api_urls_audit")),
    path("", include("accounts.api_urls_webhooks")),
]
