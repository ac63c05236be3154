from django.urls import path

from assessments.views import assessment, dashboard, onboarding, plan, readiness, report_schedules, reports

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # Reports: runs built in the background, their progress and downloads
    path("reports/", reports.reports, name="reports"),
    path("reports/new/", reports.report_create, name="report_create"),
    path("reports/<int:reportrun_id>/", reports.report_run, name="report_run"),
    path("reports/<int:reportrun_id>/retry/", reports.report_retry, name="report_retry"),
    path("reports/<int:reportrun_id>/download/", reports.report_download, name="report_download"),
    # Report schedules: built and emailed every week or month by django-celery-beat
    path("reports/schedules/new/", report_schedules.report_schedule_create, name="report_schedule_create"),
    path(
        "reports/schedules/<int:reportschedule_id>/",
        report_schedules.report_schedule_update,
        name="report_schedule_update",
    ),
    path(
        "reports/schedules/<int:reportschedule_id>/pause/",
        report_schedules.report_schedule_pause,
        name="report_schedule_pause",
    ),
    path(
        "reports/schedules/<int:reportschedule_id>/resume/",
        report_schedules.report_schedule_resume,
        name="report_schedule_resume",
    ),
    path(
        "reports/schedules/<int:reportschedule_id>/delete/",
        report_schedules.report_schedule_delete,
        name="report_schedule_delete",
    ),
    # Business profile and framework choice
    path("onboarding/", onboarding.onboarding, name="onboarding"),
    path("onboarding/<str:step>/", onboarding.onboarding_step, name="onboarding_step"),
    path("profile/", onboarding.profile_summary, name="profile_summary"),
    path("recommendations/", onboarding.recommendations, name="recommendations"),
    path("recommendations/adopt/", onboarding.framework_adopt, name="framework_adopt"),
    path("adoptions/<int:frameworkadoption_id>/", onboarding.adoption_update, name="adoption_update"),
    path("adoptions/<int:frameworkadoption_id>/remove/", onboarding.adoption_remove, name="adoption_remove"),
    # Assessment
    path("assessment/", assessment.assessment, name="assessment"),
    path("assessment/combined/", assessment.assessment_combined, name="assessment_combined"),
    path("assessment/rounds/", assessment.round_start, name="round_start"),
    path("assessment/answers/<int:control_id>/", assessment.answer_save, name="answer_save"),
    path("assessment/<str:framework_slug>/", assessment.assessment_framework, name="assessment_framework"),
    # Readiness explained and gaps
    path("readiness/", readiness.readiness_explained, name="readiness_explained"),
    path("readiness/<str:framework_slug>/", readiness.readiness_framework, name="readiness_framework"),
    path("gaps/", readiness.gaps, name="gaps"),
    # Implementation plan
    path("plan/", plan.plan, name="plan"),
    path("plan/generate/", plan.plan_generate, name="plan_generate"),
    path("plan/tasks/", plan.task_create, name="task_create"),
    path("plan/tasks/<int:plantask_id>/", plan.task_detail, name="task_detail"),
    path("plan/tasks/<int:plantask_id>/update/", plan.task_update, name="task_update"),
]
