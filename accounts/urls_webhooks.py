"""Settings pages for webhooks; included from config/urls.py."""

from django.urls import path

from accounts import views_webhooks

urlpatterns = [
    path("settings/webhooks/", views_webhooks.settings_webhooks, name="settings_webhooks"),
    path("settings/webhooks/new/", views_webhooks.webhook_endpoint_create, name="webhook_endpoint_create"),
    path(
        "settings/webhooks/<int:webhookendpoint_id>/",
        views_webhooks.webhook_endpoint_detail,
        name="webhook_endpoint_detail",
    ),
    path(
        "settings/webhooks/<int:webhookendpoint_id>/test/",
        views_webhooks.webhook_endpoint_test,
        name="webhook_endpoint_test",
    ),
    path(
        "settings/webhooks/<int:webhookendpoint_id>/enable/",
        views_webhooks.webhook_endpoint_enable,
        name="webhook_endpoint_enable",
    ),
    path(
        "settings/webhooks/<int:webhookendpoint_id>/delete/",
        views_webhooks.webhook_endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "settings/webhooks/deliveries/<int:webhookdelivery_id>/retry/",
        views_webhooks.webhook_delivery_retry,
        name="webhook_delivery_retry",
    ),
]
