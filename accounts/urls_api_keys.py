"""Settings pages for API keys and partner access; included from config/urls.py."""

from django.urls import path

from accounts import views_api_keys

urlpatterns = [
    path("settings/api-keys/", views_api_keys.settings_api_keys, name="settings_api_keys"),
    path("settings/partners/", views_api_keys.settings_partners, name="settings_partners"),
]
