"""API representations of webhook endpoints, their deliveries and the events on offer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import WebhookDelivery, WebhookEndpoint
from accounts.webhooks import EVENTS, WebhookEvent
from config.api.links import absolute_reverse

EVENT_CHOICES = [(name, event.description) for name, event in EVENTS.items()]


def _absolute(serializer: serializers.Serializer, name: str, **kwargs: Any) -> str:
    return absolute_reverse(
        serializer.context, name, organisation_slug=serializer.context["organisation_slug"], **kwargs
    )


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This endpoint in the API.")
    target_url = serializers.URLField(source="url", help_text="Where Greenlight posts the events.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    partner: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The partner that subscribed, or null for the organisation.",
    )
    deliveries_url = serializers.SerializerMethodField(help_text="The delivery log, newest first.")

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "target_url",
            "description",
            "events",
            "is_active",
            "disabled_reason",
            "consecutive_failures",
            "partner",
            "created_at",
            "deliveries_url",
        )
        read_only_fields = fields
        extra_kwargs = {
            "is_active": {"help_text": "False once turned off, by hand or after 5 failed deliveries in a row."},
            "disabled_reason": {"help_text": "Why the endpoint was turned off; empty while it is on."},
            "consecutive_failures": {"help_text": "Failed deliveries since the last one that succeeded."},
        }

    def get_url(self, endpoint: WebhookEndpoint) -> str:
        return _absolute(self, "api_webhook_detail", webhookendpoint_id=endpoint.pk)

    def get_deliveries_url(self, endpoint: WebhookEndpoint) -> str:
        return _absolute(self, "api_webhook_deliveries", webhookendpoint_id=endpoint.pk)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_...). Shown only in this response: store it now."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class WebhookEndpointCreateSerializer(serializers.Serializer):
    target_url = serializers.CharField(max_length=500, help_text="A public https:// address.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), help_text="The events to receive; at least one."
    )


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    target_url = serializers.CharField(max_length=500, required=False, help_text="A public https:// address.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="false turns the endpoint off; true turns it back on with a clean failure count."
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "response_status",
            "response_body",
            "error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "payload",
        )
        read_only_fields = fields
        extra_kwargs = {
            "event_id": {
                "help_text": "The payload's `id` and the Greenlight-Delivery header: the same on every retry."
            },
            "event": {"help_text": "The event name, or `ping` for a test event."},
            "attempts": {"help_text": "How many times it was sent (6 at most, 1 for a test event)."},
            "response_status": {"help_text": "The HTTP status of the last answer; null if none came."},
            "response_body": {"help_text": "The first 2,000 characters of the last answer."},
            "error": {"help_text": "Why the last attempt failed, in words; empty after a success."},
            "next_attempt_at": {"help_text": "When it will be tried again, while `status` is `retrying`."},
            "payload": {"help_text": "The JSON body that was sent, signed."},
        }


class WebhookEventSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Subscribe with this name, e.g. `evidence.expired`.")
    description = serializers.CharField()
    example = serializers.SerializerMethodField(help_text="A realistic payload for this event.")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_example(self, event: WebhookEvent) -> dict[str, Any]:
        return event.example_payload()
