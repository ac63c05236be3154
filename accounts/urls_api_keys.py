"""Settings pages for API keys and partner access; included from config/urls.py."""

from django.urls import path

from accounts import views_api_keys

urlpatterns = [
    path("settings/api-keys/", views_api_keys.settings_api_keys, name="settings_api_keys"),
    path("settings/api-keys/new/", views_api_keys.api_key_create, name="settings_api_key_create"),
    path("settings/api-keys/<int:apikey_id>/rotate/", views_api_keys.api_key_rotate, name="settings_api_key_rotate"),
    path("settings/api-keys/<int:apikey_id>/revoke/", views_api_keys.api_key_revoke, name="settings_api_key_revoke"),
    path("settings/partners/", views_api_keys.settings_partners, name="settings_partners"),
    path("settings/partners/grant/", views_api_keys.partner_grant_create, name="partner_grant_create"),
    path(
        "settings/partners/<int:partnergrant_id>/scopes/",
        views_api_keys.partner_grant_update,
        name="partner_grant_update",
    ),
    path(
        "settings/partners/<int:partnergrant_id>/revoke/",
        views_api_keys.partner_grant_revoke,
        name="partner_grant_revoke",
    ),
]
