from django.urls import path

from policies import views

urlpatterns = [
    path("policies/", views.policy_list, name="policy_list"),
    path("policies/draft/", views.policy_draft, name="policy_draft"),
    path("policies/<int:policy_id>/", views.policy_detail, name="policy_detail"),
    path("policies/<int:policy_id>/redraft/", views.policy_redraft, name="policy_redraft"),
    path("policies/<int:policy_id>/edit/", views.policy_edit, name="policy_edit"),
    path("policies/<int:policy_id>/preview/", views.policy_preview, name="policy_preview"),
    path("policies/<int:policy_id>/submit/", views.policy_submit, name="policy_submit"),
    path("policies/<int:policy_id>/review/", views.policy_review, name="policy_review"),
    path("policies/<int:policy_id>/publish/", views.policy_publish, name="policy_publish"),
    path("policies/<int:policy_id>/retire/", views.policy_retire, name="policy_retire"),
    path("policies/<int:policy_id>/new-version/", views.policy_new_version, name="policy_new_version"),
    path("policies/<int:policy_id>/acknowledge/", views.policy_acknowledge, name="policy_acknowledge"),
    path("policies/<int:policy_id>/compare/", views.policy_compare, name="policy_compare"),
    path("policies/versions/<int:policyversion_id>/pdf/", views.policy_version_pdf, name="policy_version_pdf"),
    path("policies/versions/<int:policyversion_id>/docx/", views.policy_version_docx, name="policy_version_docx"),
    path("policies/jobs/<int:generationjob_id>/", views.policy_job, name="policy_job"),
    path("policies/jobs/<int:generationjob_id>/cancel/", views.policy_job_cancel, name="policy_job_cancel"),
]
