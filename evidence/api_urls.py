"""evidence's API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path

from evidence import api

urlpatterns = [
    path("evidence/", api.EvidenceListCreate.as_view(), name="api_evidence_list"),
    path("evidence/<int:evidence_id>/", api.EvidenceDetail.as_view(), name="api_evidence_detail"),
    path("evidence/<int:evidence_id>/download/", api.EvidenceDownload.as_view(), name="api_evidence_download"),
]
