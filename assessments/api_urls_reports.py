"""Part of the API under /api/v1/organisations/{organisation_slug}/ (being built)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
