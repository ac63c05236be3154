from django.urls import path

from assessments import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("assessment/", views.assessment, name="assessment"),
    path("plan/", views.plan, name="plan"),
    path("reports/", views.reports, name="reports"),
]
