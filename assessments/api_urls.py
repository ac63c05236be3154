"""assessments' API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import include, path

from assessments import api, api_readiness, api_tasks

urlpatterns = [
    path("profile/", api.ProfileDetail.as_view(), name="api_profile"),
    path("adoptions/", api.AdoptionList.as_view(), name="api_adoption_list"),
    path("adoptions/<int:frameworkadoption_id>/", api.AdoptionDetail.as_view(), name="api_adoption_detail"),
    path("assessments/", api.RoundList.as_view(), name="api_assessment_list"),
    path("assessments/current/", api.CurrentRound.as_view(), name="api_assessment_current"),
    path("answers/", api.AnswerList.as_view(), name="api_answer_list"),
    path("answers/<int:answer_id>/", api.AnswerDetail.as_view(), name="api_answer_detail"),
    path("readiness/", api_readiness.ReadinessNow.as_view(), name="api_readiness"),
    path("readiness/history/", api_readiness.ReadinessHistory.as_view(), name="api_readiness_history"),
    path("readiness/explanation/", api_readiness.ReadinessExplanation.as_view(), name="api_readiness_explanation"),
    path("gaps/", api_readiness.GapList.as_view(), name="api_gap_list"),
    path("tasks/", api_tasks.TaskList.as_view(), name="api_task_list"),
    path("tasks/<int:plantask_id>/", api_tasks.TaskDetail.as_view(), name="api_task_detail"),
    path("", include("assessments.api_urls_reports")),
]
