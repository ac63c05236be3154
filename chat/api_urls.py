"""chat's API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path

from chat import api

urlpatterns = [
    path("assistant/ask/", api.AssistantAsk.as_view(), name="api_assistant_ask"),
]
