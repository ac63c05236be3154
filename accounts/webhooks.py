"""Webhooks: the events an organisation (or a partner it trusts) can subscribe to, the endpoints that
receive them, and the services that manage those endpoints.

Services elsewhere call `webhook_emit` when something happens. It records one WebhookDelivery per active
endpoint subscribed to the event and asks a worker to send each once the caller's transaction commits;
it never raises into the caller. Sending, signing, retries and turning off a failing endpoint live in
`accounts.webhook_delivery`.

Greenlight only posts to public https addresses: private, loopback and link-local hosts are refused
when an endpoint is saved and again, after resolving the host, each time an event is sent
(`WEBHOOK_ALLOW_PRIVATE_URLS` lifts this for local development and tests).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import socket
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import (
    ApiKey,
    DeliveryStatus,
    Organisation,
    PartnerGrant,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.roles import Capability
from accounts.scopes import Scope
from config.encryption import encrypt_text
from config.formatting import long_date
from config.queueing import enqueue

logger = logging.getLogger(__name__)

SECRET_MARK = "whsec_"
MAX_ENDPOINTS = 20
PING = "ping"


# --- The events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookEvent:
    name: str
    description: str
    example: dict[str, Any]  # the `data` of a realistic payload

    def example_payload(self) -> dict[str, Any]:
        return {
            "id": "3f1c2a9e-6b4d-4e8a-9c51-2d7f0b8e4a10",
            "event": self.name,
            "created_at": "2026-11-21T07:00:12+00:00",
            "organisation": "acme-bakery",
            "data": self.example,
        }


_EXAMPLE_API = "https://greenlight.example.co.uk/api/v1/organisations/acme-bakery"

EVENTS: dict[str, WebhookEvent] = {
    event.name: event
    for event in (
        WebhookEvent(
            "evidence.expired",
            "An evidence item passed its valid-until date and no longer counts towards readiness.",
            {
                "evidence": {
                    "id": 4812,
                    "title": "Backup restore test, October 2026",
                    "valid_until": "2026-11-20",
                    "url": f"{_EXAMPLE_API}/evidence/4812/",
                }
            },
        ),
        WebhookEvent(
            "readiness.changed",
            "A framework's readiness score or band moved since the previous snapshot.",
            {
                "framework": {"slug": "cyber-essentials", "name": "Cyber Essentials"},
                "previous": {"score": 72.5, "band": "amber"},
                "current": {"score": 81.0, "band": "green"},
                "url": f"{_EXAMPLE_API}/readiness/",
            },
        ),
        WebhookEvent(
            "policy.published",
            "A policy was approved and published; the published version never changes.",
            {
                "policy": {
                    "id": 37,
                    "title": "Information security policy",
                    "version": 2,
                    "published_at": "2026-11-21T10:42:03+00:00",
                    "url": f"{_EXAMPLE_API}/policies/37/",
                }
            },
        ),
        WebhookEvent(
            "task.overdue",
            "A task in the implementation plan passed its due date and is not done (sent once per due date).",
            {
                "task": {
                    "id": 215,
                    "title": "Turn on multi-factor authentication for email",
                    "due_date": "2026-11-20",
                    "status": "doing",
                    "url": f"{_EXAMPLE_API}/tasks/215/",
                }
            },
        ),
        WebhookEvent(
            "report.ready",
            "A requested report finished building and can be downloaded.",
            {
                "report": {
                    "id": 93,
                    "kind": "readiness",
                    "url": f"{_EXAMPLE_API}/reports/93/",
                    "download_url": f"{_EXAMPLE_API}/reports/93/download/",
                }
            },
        ),
    )
}

PING_EVENT = WebhookEvent(
    PING,
    "A test event, sent only when someone presses Send test. Every endpoint gets it, whatever it subscribes to.",
    {"message": "A test event from Greenlight: your endpoint is receiving events."},
)

# What a receiver needs to check a delivery came from Greenlight; shown on the settings page and in the API.
SIGNATURE_HELP = (
    "Each delivery is a POST with a JSON body and three headers: `Greenlight-Event` (the event name), "
    "`Greenlight-Delivery` (the event id, the same on every retry: use it to ignore duplicates) and "
    "`Greenlight-Signature: t=<unix time>,v1=<signature>`, where the signature is the hex HMAC-SHA256 of "
    '"<t>.<raw body>" keyed with the endpoint\'s signing secret (whsec_...). Answer with any 2xx status '
    "within 10 seconds; anything else is retried after about 1 minute, 5 minutes, 30 minutes, 2 hours and "
    "6 hours. After 5 deliveries in a row fail, the endpoint is turned off and the organisation's owners and "
    "admins are told."
)

VERIFY_SNIPPET = '''import hashlib
import hmac
import time


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """`header`: the Greenlight-Signature header. `body`: the raw request body, before any JSON parsing."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False  # too old: it may be a replay
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
'''


def api_url(organisation: Organisation, path: str) -> str:
    """An absolute API address for a payload, e.g. api_url(org, f"evidence/{pk}/")."""
    return f"{settings.SITE_URL}/api/v1/organisations/{organisation.slug}/{path}"


# --- Where Greenlight may post ---------------------------------------------------------------------
def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (an IP literal resolves to itself); empty if unknown."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_is_public(address: str) -> bool:
    """True for a globally routable unicast address, also when it hides an IPv4 one inside IPv6."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    except ValueError:  # e.g. a scoped link-local address ("fe80::1%eth0")
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def webhook_url_check(url: str) -> list[str]:
    """Refuse an address Greenlight must not post to; return the host's addresses to connect to (empty
    when private addresses are allowed: the URL is then used as it is)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter a full web address, starting https://.")
    if parts.username or parts.password:
        raise ValidationError("Leave any user name and password out of the address: events are signed instead.")
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return []
    if parts.scheme != "https":
        raise ValidationError("Use an https:// address: events are only sent encrypted.")
    try:
        port = parts.port or 443
    except ValueError:
        raise ValidationError("Enter a full web address, starting https://.") from None
    addresses = resolve_host(parts.hostname, port)
    if not addresses:
        raise ValidationError(f"{parts.hostname} could not be found. Check the address.")
    if not all(address_is_public(address) for address in addresses):
        raise ValidationError(
            "That address is on a private, local or reserved network. Greenlight only sends events to public "
            "internet addresses."
        )
    return addresses


# --- Reading ---------------------------------------------------------------------------------------
def webhook_endpoints_for(organisation: Organisation, *, partner_id: int | None = None) -> QuerySet[WebhookEndpoint]:
    """The endpoints one caller manages: a partner's own, or (partner_id None) the organisation's own."""
    endpoints = WebhookEndpoint.objects.filter(organisation=organisation)
    endpoints = endpoints.filter(partner_id=partner_id) if partner_id else endpoints.filter(partner__isnull=True)
    return endpoints.select_related("partner", "created_by").order_by("-created_at", "-id")


def webhook_endpoints_all(organisation: Organisation) -> QuerySet[WebhookEndpoint]:
    """Every endpoint receiving the organisation's events, partners' included: what its admins see."""
    return (
        WebhookEndpoint.objects.filter(organisation=organisation)
        .select_related("partner", "created_by")
        .order_by("-created_at", "-id")
    )


def webhook_deliveries_for(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(organisation_id=endpoint.organisation_id, endpoint=endpoint).order_by(
        "-created_at", "-id"
    )


def partner_receives_webhooks(*, organisation_id: int, partner_id: int) -> bool:
    """Whether the organisation still grants the partner access that includes webhooks."""
    scopes = (
        PartnerGrant.objects.active()
        .filter(organisation_id=organisation_id, partner_id=partner_id)
        .values_list("scopes", flat=True)
        .first()
    )
    return scopes is not None and Scope.WEBHOOKS_MANAGE.value in scopes


def webhooks_wanted(*, organisation: Organisation, event: str) -> bool:
    """Whether any active endpoint of the organisation subscribes to `event`: lets a caller skip work
    (finding the previous readiness, say) that only a payload needs."""
    subscribed = WebhookEndpoint.objects.filter(organisation=organisation, is_active=True).values_list(
        "events", flat=True
    )
    return any(event in events for events in subscribed)


def organisations_subscribed(event: str) -> set[int]:
    """The organisations with an active endpoint for `event` (JSON containment is not portable to SQLite;
    endpoints are few, so they are filtered here)."""
    rows = WebhookEndpoint.objects.filter(is_active=True).values_list("organisation_id", "events")
    return {organisation_id for organisation_id, events in rows if event in events}


# --- Managing endpoints ----------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # whsec_...: shown once, stored encrypted


def _authorise(organisation: Organisation, actor: Actor) -> int | None:
    """The acting partner's id when a partner's key acts, else None. People need to administer the
    organisation; an API key reaches here only with the webhooks:manage scope (the API checks it), and
    never has the administer capability, so it is checked on its own."""
    if actor.key is not None:
        if actor.key.organisation_id != organisation.pk:
            raise PermissionDenied("This API key cannot manage webhooks here.")
        return ApiKey.objects.filter(pk=actor.key.key_id).values_list("partner_id", flat=True).first()
    require_actor(organisation, actor, Capability.ADMINISTER, what="webhooks")
    return None


def _authorise_endpoint(endpoint: WebhookEndpoint, actor: Actor) -> None:
    partner_id = _authorise(endpoint.organisation, actor)
    if actor.key is not None and endpoint.partner_id != partner_id:
        raise PermissionDenied("This API key cannot manage that webhook endpoint.")


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [name for name in chosen if name not in EVENTS]
    if unknown:
        raise ValidationError({"events": f"Unknown event: {', '.join(unknown)}. Choose from {', '.join(EVENTS)}."})
    if not chosen:
        raise ValidationError({"events": "Choose at least one event."})
    return [name for name in EVENTS if name in chosen]


def _validate(endpoint: WebhookEndpoint, events: Iterable[str] | None, *, check_url: bool) -> None:
    """Every problem at once, by field: the events, the model's own checks, then where the URL points."""
    errors: dict[str, list[str]] = {}
    if events is not None:
        try:
            endpoint.events = _clean_events(events)
        except ValidationError as error:
            errors.update(error.message_dict)
    try:
        endpoint.full_clean(exclude=["events"] if errors.get("events") else None)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if check_url and "url" not in errors:
        try:
            webhook_url_check(endpoint.url)
        except ValidationError as error:
            errors["url"] = error.messages
    if errors:
        raise ValidationError(errors)


def host_of(url: str) -> str:
    """The host alone, for audit summaries: a receiver's path or query often carries its own token."""
    return urlsplit(url).hostname or url[:60]


def _new_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return SECRET_MARK + "".join(secrets.choice(alphabet) for _ in range(32))


def webhook_endpoint_create(
    *, organisation: Organisation, url: str, events: Iterable[str], description: str = "", actor: Actor
) -> IssuedEndpoint:
    """A new subscription. A partner's key makes it the partner's. The signing secret is returned once."""
    partner_id = _authorise(organisation, actor)
    secret = _new_secret()
    endpoint = WebhookEndpoint(
        organisation=organisation,
        url=url.strip(),
        description=description.strip(),
        secret_encrypted=encrypt_text(secret),
        partner_id=partner_id,
        created_by=actor.user,
    )
    # Resolving the host can take a moment: done before any row is locked.
    _validate(endpoint, events, check_url=True)
    if WebhookEndpoint.objects.filter(organisation=organisation).count() >= MAX_ENDPOINTS:
        raise ValidationError(f"An organisation can have at most {MAX_ENDPOINTS} webhook endpoints.")
    with transaction.atomic():
        endpoint.save()
        audit_record(
            organisation=organisation,
            actor=actor,
            action="webhook.created",
            summary=f"Added a webhook endpoint at {host_of(endpoint.url)} for {', '.join(endpoint.events)}",
            target=endpoint,
        )
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str | None = None,
    description: str | None = None,
    events: Iterable[str] | None = None,
) -> WebhookEndpoint:
    """Change what is given; the signing secret stays the same."""
    _authorise_endpoint(endpoint, actor)
    changed: list[str] = []
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = url.strip()
        changed.append("url")
    if description is not None and description.strip() != endpoint.description:
        endpoint.description = description.strip()
        changed.append("description")
    before = list(endpoint.events)
    _validate(endpoint, events, check_url="url" in changed)
    if endpoint.events != before:
        changed.append("events")
    if not changed:
        return endpoint
    with transaction.atomic():
        endpoint.save(update_fields=changed)
        audit_record(
            organisation=endpoint.organisation,
            actor=actor,
            action="webhook.updated",
            summary=f"Changed the webhook endpoint at {host_of(endpoint.url)}: {', '.join(changed)}",
            target=endpoint,
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Remove the endpoint and its delivery log; nothing more is sent to it."""
    _authorise_endpoint(endpoint, actor)
    audit_record(
        organisation=endpoint.organisation,
        actor=actor,
        action="webhook.deleted",
        summary=f"Removed the webhook endpoint at {host_of(endpoint.url)}",
        target=endpoint,
    )
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """Turn an endpoint back on, with a clean failure count. Deliveries it missed are not resent; each can
    be retried from the delivery log."""
    _authorise_endpoint(endpoint, actor)
    if endpoint.is_active:
        return endpoint
    endpoint.is_active = True
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
    endpoint.save(update_fields=["is_active", "disabled_reason", "consecutive_failures"])
    audit_record(
        organisation=endpoint.organisation,
        actor=actor,
        action="webhook.enabled",
        summary=f"Turned the webhook endpoint at {host_of(endpoint.url)} back on",
        target=endpoint,
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    _authorise_endpoint(endpoint, actor)
    if not endpoint.is_active:
        return endpoint
    endpoint.is_active = False
    endpoint.disabled_reason = f"Turned off by {actor.label} on {long_date(timezone.localdate())}."[:200]
    endpoint.save(update_fields=["is_active", "disabled_reason"])
    audit_record(
        organisation=endpoint.organisation,
        actor=actor,
        action="webhook.disabled",
        summary=f"Turned off the webhook endpoint at {host_of(endpoint.url)}",
        target=endpoint,
    )
    return endpoint


def _enqueue(delivery_id: int) -> None:
    """Send once the transaction commits. `robust`: a broker that is down must not turn the request that
    caused the event into an error; the sweep sends the delivery later."""

    def send() -> None:
        from accounts.tasks import deliver_webhook

        enqueue(deliver_webhook, delivery_id)

    transaction.on_commit(send, robust=True)


def _payload(*, event_id: uuid.UUID, event: str, organisation: Organisation, data: dict[str, Any]) -> dict[str, Any]:
    envelope = {
        "id": str(event_id),
        "event": event,
        "created_at": timezone.now().isoformat(timespec="seconds"),
        "organisation": organisation.slug,
        "data": data,
    }
    # Dates and decimals become strings now, so what is stored is exactly what is sent.
    return json.loads(json.dumps(envelope, cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Send a `ping` now, whatever the endpoint subscribes to, even while it is turned off (to check a fix
    before turning it back on). It is tried once and never counts towards turning the endpoint off."""
    _authorise_endpoint(endpoint, actor)
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        organisation_id=endpoint.organisation_id,
        endpoint=endpoint,
        event_id=event_id,
        event=PING,
        payload=_payload(event_id=event_id, event=PING, organisation=endpoint.organisation, data=PING_EVENT.example),
        next_attempt_at=timezone.now(),
    )
    audit_record(
        organisation=endpoint.organisation,
        actor=actor,
        action="webhook.tested",
        summary=f"Sent a test event to the webhook endpoint at {host_of(endpoint.url)}",
        target=endpoint,
    )
    _enqueue(delivery.pk)
    return delivery


@transaction.atomic
def webhook_delivery_retry(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a failed delivery again now, with the same event id so the receiver can spot a duplicate."""
    endpoint = delivery.endpoint
    _authorise_endpoint(endpoint, actor)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != DeliveryStatus.FAILED:
        raise ValidationError("Only a failed delivery can be sent again.")
    if not endpoint.is_active and delivery.event != PING:
        raise ValidationError("Turn the endpoint back on first.")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    audit_record(
        organisation=endpoint.organisation,
        actor=actor,
        action="webhook.delivery_retried",
        summary=f"Sent the {delivery.event} event again to the webhook endpoint at {host_of(endpoint.url)}",
        target=endpoint,
    )
    _enqueue(delivery.pk)
    return delivery


# --- Emitting events -------------------------------------------------------------------------------
def webhook_emit(
    *, organisation: Organisation, event: str, data: dict[str, Any], dedupe_key: str = ""
) -> list[WebhookDelivery]:
    """Record `event` for every active endpoint of the organisation subscribed to it and send each after
    commit. With a `dedupe_key`, an endpoint that already had this news gets nothing. Never raises for a
    database or broker problem: the service that emitted carries on, and the problem is logged."""
    if event not in EVENTS:
        raise ValueError(f"{event!r} is not a registered webhook event.")
    try:
        with transaction.atomic():
            deliveries = _record_deliveries(organisation=organisation, event=event, data=data, dedupe_key=dedupe_key)
    except IntegrityError:  # a concurrent run recorded the same deduplicated news first
        return []
    except Exception:
        logger.exception("Could not record the %s webhook event for organisation %s.", event, organisation.pk)
        return []
    for delivery in deliveries:
        _enqueue(delivery.pk)
    return deliveries


def _record_deliveries(
    *, organisation: Organisation, event: str, data: dict[str, Any], dedupe_key: str
) -> list[WebhookDelivery]:
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(organisation=organisation, is_active=True).only(
            "pk", "events", "partner_id", "organisation_id"
        )
        if event in endpoint.events
    ]
    partner_ids = {endpoint.partner_id for endpoint in endpoints if endpoint.partner_id}
    if partner_ids:
        # A partner whose access was revoked (or narrowed to exclude webhooks) hears nothing more.
        allowed = {
            partner_id
            for partner_id, scopes in PartnerGrant.objects.active()
            .filter(organisation=organisation, partner_id__in=partner_ids)
            .values_list("partner_id", "scopes")
            if Scope.WEBHOOKS_MANAGE.value in scopes
        }
        endpoints = [endpoint for endpoint in endpoints if not endpoint.partner_id or endpoint.partner_id in allowed]
    if dedupe_key and endpoints:
        told = set(
            WebhookDelivery.objects.filter(endpoint__in=endpoints, dedupe_key=dedupe_key).values_list(
                "endpoint_id", flat=True
            )
        )
        endpoints = [endpoint for endpoint in endpoints if endpoint.pk not in told]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = []
    for endpoint in endpoints:
        event_id = uuid.uuid4()
        deliveries.append(
            WebhookDelivery(
                organisation=organisation,
                endpoint=endpoint,
                event_id=event_id,
                event=event,
                payload=_payload(event_id=event_id, event=event, organisation=organisation, data=data),
                next_attempt_at=now,
                dedupe_key=dedupe_key,
            )
        )
    return WebhookDelivery.objects.bulk_create(deliveries)


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Deliveries waiting for an attempt whose time has come, oldest first: retries recorded while no
    worker was there to schedule them, and sends a lost worker left behind (their lease has run out)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
