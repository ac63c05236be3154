"""Settings pages for webhooks; included from config/urls.py."""

from django.urls import path

from accounts import views_webhooks

urlpatterns = [
    path("settings/webhooks/", views_webhooks.settings_webhooks, name="settings_webhooks"),
]
