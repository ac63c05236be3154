"""Notification pages; included from config/urls.py."""

from django.urls import path

from accounts import views_notifications

urlpatterns = [
    path("notifications/", views_notifications.notification_list, name="notifications"),
    path("notifications/badge/", views_notifications.notification_badge, name="notification_badge"),
    path("notifications/read-all/", views_notifications.notification_read_all, name="notification_read_all"),
    path("notifications/<int:notification_id>/read/", views_notifications.notification_read, name="notification_read"),
    path(
        "settings/notifications/",
        views_notifications.settings_notifications,
        name="settings_notifications",
    ),
]
