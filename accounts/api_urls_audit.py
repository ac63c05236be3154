"""The audit log in the API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path

from accounts import api_audit

urlpatterns = [
    path("audit-events/", api_audit.AuditEventList.as_view(), name="api_audit_event_list"),
]
