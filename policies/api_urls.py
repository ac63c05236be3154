"""policies's API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path

from policies import api

urlpatterns = [
    path("policies/", api.PolicyList.as_view(), name="api_policy_list"),
    path("policies/<int:policy_id>/", api.PolicyDetail.as_view(), name="api_policy_detail"),
    path("policies/<int:policy_id>/export/", api.PolicyExport.as_view(), name="api_policy_export"),
]
