"""Webhooks in the API under /api/v1/organisations/{organisation_slug}/."""

from django.urls import path

from accounts import api_webhooks

urlpatterns = [
    path("webhooks/", api_webhooks.WebhookList.as_view(), name="api_webhook_list"),
    path("webhooks/<int:webhookendpoint_id>/", api_webhooks.WebhookDetail.as_view(), name="api_webhook_detail"),
    path(
        "webhooks/<int:webhookendpoint_id>/deliveries/",
        api_webhooks.WebhookDeliveryList.as_view(),
        name="api_webhook_deliveries",
    ),
    path("webhooks/<int:webhookendpoint_id>/test/", api_webhooks.WebhookTest.as_view(), name="api_webhook_test"),
    path("webhook-events/", api_webhooks.WebhookEventList.as_view(), name="api_webhook_events"),
]
