from django.contrib import admin
from django.urls import include, path

from config import health

admin.site.site_header = "Greenlight administration"
admin.site.site_title = "Greenlight admin"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("compliance.api_urls")),
    path("", include("accounts.urls")),
    path("", include("accounts.urls_notifications")),
    path("", include("accounts.urls_open")),
    path("", include("compliance.urls")),
    path("", include("assessments.urls")),
    path("", include("assessments.urls_exports")),
    path("", include("policies.urls")),
    path("", include("evidence.urls")),
    path("", include("chat.urls")),
]
