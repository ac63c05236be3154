"""evidence's API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
