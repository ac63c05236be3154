"""Webhooks in the API: subscribe an endpoint to events, read its delivery log, send it a test event.

A partner's key manages the partner's own endpoints for the organisation, the organisation's own key
manages the organisation's; owners and admins signed in to Greenlight see both. Everything needs the
`webhooks:manage` scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import webhooks
from accounts.models import WebhookDelivery, WebhookEndpoint
from accounts.scopes import Scope
from accounts.serializers_webhooks import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEventSerializer,
)
from config.api.idempotency import idempotent
from config.api.views import OrganisationAPIView

MANAGE = dict.fromkeys(("GET", "POST", "PATCH", "DELETE"), Scope.WEBHOOKS_MANAGE)
HOW_TO_VERIFY = (
    f"{webhooks.SIGNATURE_HELP}\n\nTo check a delivery in Python:\n\n```python\n{webhooks.VERIFY_SNIPPET}```"
)
_EXAMPLE_API = "https://greenlight.example.co.uk/api/v1/organisations/acme-bakery"
ENDPOINT_EXAMPLE = {
    "id": 14,
    "url": f"{_EXAMPLE_API}/webhooks/14/",
    "target_url": "https://hooks.acme-bakery.co.uk/greenlight",
    "description": "Raise a ticket in our helpdesk",
    "events": ["evidence.expired", "task.overdue"],
    "is_active": True,
    "disabled_reason": "",
    "consecutive_failures": 0,
    "partner": None,
    "created_at": "2026-11-21T09:14:03Z",
    "deliveries_url": f"{_EXAMPLE_API}/webhooks/14/deliveries/",
}
DELIVERY_EXAMPLE = {
    "id": 5120,
    "event_id": "3f1c2a9e-6b4d-4e8a-9c51-2d7f0b8e4a10",
    "event": "evidence.expired",
    "status": "retrying",
    "attempts": 1,
    "response_status": 503,
    "response_body": "Service Unavailable",
    "error": "The endpoint answered 503; a 2xx status is needed.",
    "created_at": "2026-11-21T07:00:12Z",
    "last_attempt_at": "2026-11-21T07:00:13Z",
    "next_attempt_at": "2026-11-21T07:01:16Z",
    "delivered_at": None,
    "payload": webhooks.EVENTS["evidence.expired"].example_payload(),
}


@contextmanager
def _target_url_errors() -> Iterator[None]:
    """The services call the address `url`; the API calls it `target_url` (`url` is the resource's own)."""
    try:
        yield
    except ValidationError as error:
        if hasattr(error, "error_dict") and "url" in error.error_dict:
            error.error_dict["target_url"] = error.error_dict.pop("url")
        raise


class WebhookView(OrganisationAPIView):
    scopes = MANAGE
    serializer_class = WebhookEndpointSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "organisation_slug": self.kwargs.get("organisation_slug", "")}

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        access = self.resolve_access()
        if access.membership is not None:  # an owner or admin in the browser: every endpoint, partners' too
            return webhooks.webhook_endpoints_all(self.organisation)
        return webhooks.webhook_endpoints_for(
            self.organisation, partner_id=access.grant.partner_id if access.grant else None
        )

    def get_endpoint(self) -> WebhookEndpoint:
        return self.get_tenant_object(self.get_queryset(), self.kwargs["webhookendpoint_id"])


class WebhookList(mixins.ListModelMixin, WebhookView):
    filterset_fields = ("is_active",)
    ordering_fields = ("created_at",)

    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook endpoints",
        description="The endpoints this key manages: a partner's own, or the organisation's own. "
        "Signing secrets are never shown again after an endpoint is created.",
        examples=[OpenApiExample("An endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        return self.list(request)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe an endpoint to events",
        description="Greenlight will POST each chosen event to `target_url`, a public https:// address. "
        "The answer carries the endpoint's signing `secret`, once: store it to verify deliveries.\n\n" + HOW_TO_VERIFY,
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        examples=[
            OpenApiExample(
                "Tickets for expired evidence and overdue tasks",
                value={
                    "target_url": "https://hooks.acme-bakery.co.uk/greenlight",
                    "description": "Raise a ticket in our helpdesk",
                    "events": ["evidence.expired", "task.overdue"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "The new endpoint, with its secret",
                value={**ENDPOINT_EXAMPLE, "secret": "whsec_9aQ2LmT7vXc4RkP1nB8sD3fG6hJ0wZyE"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _target_url_errors():
            issued = webhooks.webhook_endpoint_create(
                organisation=self.organisation,
                url=serializer.validated_data["target_url"],
                events=serializer.validated_data["events"],
                description=serializer.validated_data["description"],
                actor=self.actor,
            )
        context = {**self.get_serializer_context(), "secret": issued.secret}
        data = WebhookEndpointCreatedSerializer(issued.endpoint, context=context).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


class WebhookDetail(WebhookView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="A webhook endpoint",
        examples=[OpenApiExample("An endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, organisation_slug: str, webhookendpoint_id: int) -> Response:
        return Response(self.get_serializer(self.get_endpoint()).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook endpoint",
        description="Change its address, description or events, or turn it off (`is_active: false`) and back "
        "on (`true`, which also clears its failure count). The signing secret stays the same.",
        request=WebhookEndpointUpdateSerializer,
        examples=[
            OpenApiExample(
                "Turn an endpoint back on after fixing it",
                value={"is_active": True},
                request_only=True,
            ),
            OpenApiExample("The endpoint", value=ENDPOINT_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, organisation_slug: str, webhookendpoint_id: int) -> Response:
        endpoint = self.get_endpoint()
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        with transaction.atomic(), _target_url_errors():
            endpoint = webhooks.webhook_endpoint_update(
                endpoint=endpoint,
                actor=self.actor,
                url=values.get("target_url"),
                description=values.get("description"),
                events=values.get("events"),
            )
            if values.get("is_active") is True:
                endpoint = webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=self.actor)
            elif values.get("is_active") is False:
                endpoint = webhooks.webhook_endpoint_disable(endpoint=endpoint, actor=self.actor)
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Remove a webhook endpoint",
        description="Nothing more is sent to it, and its delivery log is removed with it.",
        responses={204: OpenApiResponse(description="Removed.")},
    )
    def delete(self, request: Request, organisation_slug: str, webhookendpoint_id: int) -> Response:
        webhooks.webhook_endpoint_delete(endpoint=self.get_endpoint(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryList(mixins.ListModelMixin, WebhookView):
    serializer_class = WebhookDeliverySerializer  # type: ignore[assignment]
    filterset_fields = ("status", "event")
    ordering_fields = ("created_at",)

    def get_queryset(self) -> QuerySet[WebhookDelivery]:  # type: ignore[override]
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return webhooks.webhook_deliveries_for(self.get_endpoint())

    def get_endpoint(self) -> WebhookEndpoint:
        return self.get_tenant_object(super().get_queryset(), self.kwargs["webhookendpoint_id"])

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="An endpoint's delivery log",
        description="Every event sent to the endpoint, newest first, with what it answered: the status code, "
        "the first 2,000 characters of the body, and why an attempt failed. Failed attempts are retried "
        "after about 1 minute, 5 minutes, 30 minutes, 2 hours and 6 hours.",
        examples=[
            OpenApiExample("A delivery waiting for its second attempt", value=DELIVERY_EXAMPLE, response_only=True)
        ],
    )
    def get(self, request: Request, organisation_slug: str, webhookendpoint_id: int) -> Response:
        return self.list(request)


class WebhookTest(WebhookView):
    serializer_class = WebhookDeliverySerializer  # type: ignore[assignment]

    @extend_schema(
        operation_id="webhooks_test",
        summary="Send a test event",
        description="Sends a `ping` event to the endpoint now, whatever it subscribes to and even while it is "
        "turned off, so a fix can be checked before turning it back on. It is tried once; its outcome appears "
        "in the delivery log.",
        request=None,
        responses={202: OpenApiResponse(WebhookDeliverySerializer, description="The test delivery, on its way.")},
        examples=[
            OpenApiExample(
                "A test event on its way",
                value={
                    **DELIVERY_EXAMPLE,
                    "event": "ping",
                    "status": "pending",
                    "attempts": 0,
                    "response_status": None,
                    "response_body": "",
                    "error": "",
                    "last_attempt_at": None,
                    "next_attempt_at": "2026-11-21T07:00:12Z",
                    "payload": webhooks.PING_EVENT.example_payload(),
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str, webhookendpoint_id: int) -> Response:
        delivery = webhooks.webhook_test_send(endpoint=self.get_endpoint(), actor=self.actor)
        delivery.refresh_from_db()  # without a broker it was sent already, on commit
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventList(OrganisationAPIView):
    scopes = MANAGE
    serializer_class = WebhookEventSerializer
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        operation_id="webhook_events_list",
        summary="The events you can subscribe to",
        description="Each event's name, what makes Greenlight send it, and an example payload. Every payload "
        "has the same envelope: `id` (unique per delivery, the same on retries), `event`, `created_at`, "
        "`organisation` (its slug) and `data`.\n\n" + HOW_TO_VERIFY,
        responses={200: WebhookEventSerializer(many=True)},
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        return Response(WebhookEventSerializer(list(webhooks.EVENTS.values()), many=True).data)
