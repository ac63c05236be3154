"""The organisation export page; included from config/urls.py."""

from django.urls import path

from accounts import views_data_export

urlpatterns = [
    path("settings/data/export/", views_data_export.settings_data_export, name="settings_data_export"),
    path("settings/data/export/new/", views_data_export.data_export_create, name="data_export_create"),
    path(
        "settings/data/export/<int:dataexport_id>/retry/",
        views_data_export.data_export_retry,
        name="data_export_retry",
    ),
    path(
        "settings/data/export/<int:dataexport_id>/download/",
        views_data_export.data_export_download,
        name="data_export_download",
    ),
]
