from django.contrib import admin
from django.urls import include, path

from config import health
from config.api.urls import schema_patterns

admin.site.site_header = "Greenlight administration"
admin.site.site_title = "Greenlight admin"

# Connection failures (PostgreSQL down or restarting) become a 503 with Retry-After; the rest the 500 page.
handler500 = "config.database_outage.server_error"

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
    path("", include("accounts.urls_data_export")),
    path("", include("accounts.urls_privacy")),
    path("", include("accounts.urls_retention")),
    path("", include("compliance.urls")),
    path("", include("assessments.urls")),
    path("", include("assessments.urls_exports")),
    path("", include("policies.urls")),
    path("", include("evidence.urls")),
    path("", include("chat.urls")),
]
