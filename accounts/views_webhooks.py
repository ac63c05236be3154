"""Settings pages for webhooks, for owners and admins: add an endpoint, read its delivery log, send it a
test event, turn it back on after it was turned off, remove it, and send a failed delivery again.

A new endpoint's signing secret exists only in the response that creates it: it is never put in the
session or a message, and that response is not cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import webhooks
from accounts.access import get_webhook_delivery_for, get_webhook_endpoint_for, member_required, require_membership
from accounts.audit import Actor
from accounts.forms_webhooks import WebhookEndpointForm
from accounts.models import DeliveryStatus, WebhookEndpoint
from accounts.roles import Capability
from config.pages import fragment_status, render_page, wants_fragment

LIST_TEMPLATE = "accounts/settings_webhooks.html"
DETAIL_TEMPLATE = "accounts/settings_webhook_endpoint.html"
LOG_PAGE_SIZE = 25


def _first_error(error: ValidationError) -> str:
    return error.messages[0] if error.messages else "That could not be done."


def _go(request: HttpRequest, to: str) -> HttpResponse:
    if wants_fragment(request):
        return HttpResponseClientRedirect(to)
    return redirect(to)


def _back(request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """To the page the button was on: the endpoint's log, or the list."""
    if request.POST.get("from") == "log":
        return _go(request, reverse("webhook_endpoint_detail", kwargs={"webhookendpoint_id": endpoint.pk}))
    return _go(request, reverse("settings_webhooks"))


# --- The list, and adding an endpoint ---------------------------------------------------------------
def _list_context(
    request: HttpRequest, *, form: WebhookEndpointForm | None = None, issued: webhooks.IssuedEndpoint | None = None
) -> dict[str, Any]:
    organisation = require_membership(request).organisation
    return {
        "section": "webhooks",
        "endpoints": webhooks.webhook_endpoints_all(organisation),
        "form": form or WebhookEndpointForm(),
        "issued": issued,
        "signature_help": webhooks.SIGNATURE_HELP,
        "verify_snippet": webhooks.VERIFY_SNIPPET,
        "docs_url": reverse("api_docs"),
    }


def _render_list(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = render_page(request, LIST_TEMPLATE, context, fragment="webhooks", status=status)
    if context.get("issued"):
        # The one response that carries the signing secret: no browser or proxy may keep a copy.
        add_never_cache_headers(response)
    return response


@require_GET
@member_required(Capability.ADMINISTER)
def settings_webhooks(request: HttpRequest) -> HttpResponse:
    return _render_list(request, _list_context(request))


@require_POST
@member_required(Capability.ADMINISTER)
def webhook_endpoint_create(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            issued = webhooks.webhook_endpoint_create(
                organisation=organisation,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Endpoint added: events go to {webhooks.host_of(issued.endpoint.url)}.")
            # Rendered, not redirected: the secret must not outlive this response.
            return _render_list(request, _list_context(request, issued=issued))
    return _render_list(request, _list_context(request, form=form), status=fragment_status(request, 400))


# --- One endpoint: its delivery log and what can be done to it --------------------------------------
@require_GET
@member_required(Capability.ADMINISTER)
def webhook_endpoint_detail(request: HttpRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_webhook_endpoint_for(request, webhookendpoint_id)
    page = Paginator(webhooks.webhook_deliveries_for(endpoint), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": "webhooks",
        "endpoint": endpoint,
        "page": page,
        "statuses": DeliveryStatus,
        "events": [webhooks.EVENTS[name] for name in endpoint.events if name in webhooks.EVENTS],
    }
    return render_page(request, DETAIL_TEMPLATE, context, fragment="log")


@require_POST
@member_required(Capability.ADMINISTER)
def webhook_endpoint_test(request: HttpRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_webhook_endpoint_for(request, webhookendpoint_id, write=True)
    delivery = webhooks.webhook_test_send(endpoint=endpoint, actor=Actor.from_request(request))
    delivery.refresh_from_db()  # without a broker it has been sent already
    if delivery.status == DeliveryStatus.SUCCEEDED:
        messages.success(request, f"Test event delivered: the endpoint answered {delivery.response_status}.")
    elif delivery.status == DeliveryStatus.FAILED:
        messages.error(request, f"The test event failed. {delivery.error}")
    else:
        messages.info(request, "Test event on its way: its outcome appears in the delivery log in a moment.")
    return _go(request, reverse("webhook_endpoint_detail", kwargs={"webhookendpoint_id": endpoint.pk}))


@require_POST
@member_required(Capability.ADMINISTER)
def webhook_endpoint_enable(request: HttpRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_webhook_endpoint_for(request, webhookendpoint_id, write=True)
    webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=Actor.from_request(request))
    messages.success(request, f"Events go to {webhooks.host_of(endpoint.url)} again.")
    return _back(request, endpoint)


@require_POST
@member_required(Capability.ADMINISTER)
def webhook_endpoint_delete(request: HttpRequest, webhookendpoint_id: int) -> HttpResponse:
    endpoint = get_webhook_endpoint_for(request, webhookendpoint_id, write=True)
    webhooks.webhook_endpoint_delete(endpoint=endpoint, actor=Actor.from_request(request))
    messages.success(request, f"Endpoint removed: nothing more is sent to {webhooks.host_of(endpoint.url)}.")
    return _go(request, reverse("settings_webhooks"))


@require_POST
@member_required(Capability.ADMINISTER)
def webhook_delivery_retry(request: HttpRequest, webhookdelivery_id: int) -> HttpResponse:
    delivery = get_webhook_delivery_for(request, webhookdelivery_id, write=True)
    try:
        delivery = webhooks.webhook_delivery_retry(delivery=delivery, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, _first_error(error))
    else:
        delivery.refresh_from_db()
        if delivery.status == DeliveryStatus.SUCCEEDED:
            messages.success(request, f"Delivered: the endpoint answered {delivery.response_status}.")
        elif delivery.status == DeliveryStatus.FAILED:
            messages.error(request, f"Sent again, and it failed again. {delivery.error}")
        else:
            messages.info(request, "Sending again: the outcome appears below in a moment.")
    return _go(request, reverse("webhook_endpoint_detail", kwargs={"webhookendpoint_id": delivery.endpoint_id}))
