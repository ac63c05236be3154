"""Your data, deleting your account, deleting the organisation; included from config/urls.py."""

from django.urls import path

from accounts import views_privacy

urlpatterns = [
    path("account/data/", views_privacy.account_data, name="account_data"),
    path("account/data/download/", views_privacy.account_data_export, name="account_data_export"),
    path("account/data/delete/", views_privacy.account_delete, name="account_delete"),
    path("settings/delete/", views_privacy.settings_deletion, name="settings_deletion"),
    path("settings/delete/cancel/", views_privacy.settings_deletion_cancel, name="settings_deletion_cancel"),
]
