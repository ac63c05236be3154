"""Reports in the API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path

from assessments import api_reports

urlpatterns = [
    path("reports/", api_reports.ReportList.as_view(), name="api_report_list"),
    path("reports/<int:reportrun_id>/", api_reports.ReportDetail.as_view(), name="api_report_detail"),
    path("reports/<int:reportrun_id>/download/", api_reports.ReportDownload.as_view(), name="api_report_download"),
]
