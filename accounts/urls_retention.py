"""Settings pages for retention and sub-processors (Data and privacy); included from config/urls.py."""

from django.urls import path

from accounts import views_retention, views_subprocessors

urlpatterns = [
    path("settings/retention/", views_retention.settings_retention, name="settings_retention"),
    path("settings/sub-processors/", views_subprocessors.settings_subprocessors, name="settings_subprocessors"),
]
