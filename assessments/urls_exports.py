"""Export downloads. The lead includes these beside assessments.urls; every path starts with exports/."""

from django.urls import path

from assessments.views import exports

urlpatterns = [
    path("exports/statement-of-applicability.xlsx", exports.export_soa_xlsx, name="export_soa_xlsx"),
    path("exports/statement-of-applicability.pdf", exports.export_soa_pdf, name="export_soa_pdf"),
    path("exports/cyber-essentials-answers.xlsx", exports.export_cyber_essentials, name="export_cyber_essentials"),
    path("exports/evidence-pack.zip", exports.export_evidence_pack, name="export_evidence_pack"),
    path("exports/controls.csv", exports.export_controls_csv, name="export_controls_csv"),
    path("exports/plan-tasks.csv", exports.export_tasks_csv, name="export_tasks_csv"),
    path("exports/evidence-register.csv", exports.export_evidence_csv, name="export_evidence_csv"),
]
