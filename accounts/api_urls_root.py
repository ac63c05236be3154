"""accounts' API at the top of /api/v1/: what the caller can reach."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("organisations/", api.OrganisationList.as_view(), name="api_organisation_list"),
]
