from django.contrib import admin
from django.urls import include, path

from config import health
from config.api.urls import schema_patterns

admin.site.site_header = "Greenlight administration"
admin.site.site_title = "Greenlight admin"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("config.api.urls")),
    path("api/", include(schema_patterns)),
    path("", include("accounts.urls")),
    path("", include("accounts.urls_notifications")),
    path("", include("accounts.urls_open")),
    path("", include("accounts.urls_api_keys")),
    path("", include("accounts.urls_webhooks")),
    path("", include("compliance.urls")),
    path("", include("assessments.urls")),
    path("", include("assessments.urls_exports")),
    path("", include("policies.urls")),
    path("", include("evidence.urls")),
    path("", include("chat.urls")),
]
