"""Sending one webhook delivery: sign it, post it, record what the receiver said, and decide what next.

A delivery is claimed before it is sent (its `next_attempt_at` moves a lease ahead), so a task delivered
twice, or the sweep running beside a worker, sends it once. A failure (timeout, refused connection,
non-2xx answer) is tried again after about 1 minute, 5 minutes, 30 minutes, 2 hours and 6 hours, each
with up to 10% jitter so a receiver coming back up is not hit by every retry at once: 6 attempts in all.
A delivery that fails its last attempt is `failed`; after `DISABLE_AFTER` failed deliveries in a row the
endpoint is turned off and the organisation's owners and admins are told. Any success resets the count.

Greenlight never sends to a partner the organisation no longer trusts: the grant is checked again at send
time, and a delivery it stops is failed with that reason, without counting against the endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import SYSTEM, audit_record
from accounts.models import DeliveryStatus, Membership, WebhookDelivery, WebhookEndpoint
from accounts.notifications import notify
from accounts.roles import Capability
from accounts.webhooks import PING, host_of, partner_receives_webhooks, webhook_url_check
from config.encryption import Unreadable, decrypt_text
from config.formatting import long_date

logger = logging.getLogger(__name__)

# Seconds to wait after attempt n (1-based) before attempt n + 1.
BACKOFF_SECONDS = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
JITTER = 0.1
DISABLE_AFTER = 5
# Connecting may take 5 seconds, each read 10, the whole answer 15: a slow receiver cannot hold a worker.
TIMEOUT = httpx2.Timeout(10.0, connect=5.0)
TOTAL_SECONDS = 15.0
RESPONSE_KEPT = 2000  # characters of the receiver's answer kept in the log
# How long a claimed delivery is left alone before the sweep takes it for lost; well past TOTAL_SECONDS.
LEASE = timedelta(minutes=5)
# A scheduled retry may arrive a moment early by the database's clock.
CLOCK_SLACK = timedelta(seconds=10)
USER_AGENT = "Greenlight-Webhooks/1.0 (+https://greenlight.example.co.uk/api/docs/)"
PAYLOAD_ORDER = ("id", "event", "created_at", "organisation", "data")
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


def backoff_delay(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait after the `attempts`-th failed attempt: the schedule's step plus up to 10% jitter."""
    base = BACKOFF_SECONDS[min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1]
    return timedelta(seconds=base * (1 + JITTER * rng()))


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, Stripe's scheme, so receivers know it."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def payload_body(payload: dict[str, Any]) -> bytes:
    """The bytes sent and signed; keys in a fixed, readable order whatever the database kept."""
    ordered = {key: payload[key] for key in PAYLOAD_ORDER if key in payload}
    ordered.update({key: value for key, value in payload.items() if key not in ordered})
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Outcome:
    status: int | None = None
    body: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _target(url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Where to connect. The host was resolved and checked just now; connecting to that same address (with
    the name kept for the Host header and TLS) means a DNS answer that changes in between cannot
    redirect the request into a private network."""
    addresses = webhook_url_check(url)
    if not addresses:
        return url, {}, {}
    parsed = httpx2.URL(url)
    pinned = parsed.copy_with(host=addresses[0])
    return str(pinned), {"Host": parsed.netloc.decode("ascii")}, {"sni_hostname": parsed.host}


def _read_start(response: httpx2.Response, started: float) -> str:
    """The first RESPONSE_KEPT characters of the answer, read no further and for no longer than allowed."""
    kept = bytearray()
    for chunk in response.iter_bytes():
        kept.extend(chunk)
        if len(kept) >= RESPONSE_KEPT * 4 or time.monotonic() - started > TOTAL_SECONDS:
            break
    return kept.decode(response.encoding or "utf-8", errors="replace")[:RESPONSE_KEPT]


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One POST. Redirects are not followed (a receiver moving should be updated, not chased)."""
    try:
        target, extra_headers, extensions = _target(url)
    except ValidationError as error:
        return Outcome(error=f"Not sent: {error.messages[0]}"[:500])
    started = time.monotonic()
    try:
        with (
            httpx2.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST", target, content=body, headers={**headers, **extra_headers}, extensions=extensions
            ) as response,
        ):
            text = _read_start(response, started)
            status = response.status_code
    except httpx2.TimeoutException:
        return Outcome(error="No answer in time: the endpoint took longer than 10 seconds.")
    except httpx2.HTTPError as error:
        return Outcome(error=f"Could not connect: {error or type(error).__name__}"[:500])
    if 200 <= status < 300:
        return Outcome(status=status, body=text)
    return Outcome(status=status, body=text, error=f"The endpoint answered {status}; a 2xx status is needed."[:500])


def _attempt(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> Outcome:
    try:
        secret = decrypt_text(endpoint.secret_encrypted)
    except Unreadable:
        return Outcome(error="Not sent: the signing secret cannot be read. Remove the endpoint and add it again.")
    body = payload_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Greenlight-Event": delivery.event,
        "Greenlight-Delivery": str(delivery.event_id),
        "Greenlight-Signature": signature_header(secret=secret, timestamp=int(now.timestamp()), body=body),
    }
    return post(url=endpoint.url, body=body, headers=headers)


def _claim(delivery_id: int, now: datetime) -> bool:
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status__in=WAITING, next_attempt_at__lte=now + CLOCK_SLACK
        ).update(next_attempt_at=now + LEASE)
    )


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Make the next attempt at a delivery that is due; None when it is not (sent, or someone else is
    sending it). Nothing is held open in the database while the receiver is waited for."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint__organisation").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was removed meanwhile
        return None
    endpoint = delivery.endpoint
    if not endpoint.is_active and delivery.event != PING:
        return _give_up(delivery, "Not sent: the endpoint is turned off.")
    if endpoint.partner_id and not partner_receives_webhooks(
        organisation_id=endpoint.organisation_id, partner_id=endpoint.partner_id
    ):
        return _give_up(delivery, "Not sent: the organisation no longer gives this partner access to webhooks.")
    return _record(delivery, _attempt(delivery, endpoint, now), now)


def _give_up(delivery: WebhookDelivery, reason: str) -> WebhookDelivery:
    delivery.status = DeliveryStatus.FAILED
    delivery.error = reason
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "error", "next_attempt_at"])
    return delivery


def _attempts_allowed(delivery: WebhookDelivery) -> int:
    # A test event answers "does it work now?": one try. A delivery retried by hand gets one more try.
    return 1 if delivery.event == PING else MAX_ATTEMPTS


@transaction.atomic
def _record(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> WebhookDelivery:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = outcome.status
    delivery.response_body = outcome.body
    delivery.error = outcome.error
    if outcome.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
    elif delivery.attempts < _attempts_allowed(delivery):
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = now + backoff_delay(delivery.attempts)
    else:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        if delivery.event != PING:
            _count_failure(delivery.endpoint, now)
    delivery.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "response_status",
            "response_body",
            "error",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery


def _count_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("organisation").get(pk=endpoint.pk)
    endpoint.consecutive_failures += 1
    if not endpoint.is_active or endpoint.consecutive_failures < DISABLE_AFTER:
        endpoint.save(update_fields=["consecutive_failures"])
        return
    endpoint.is_active = False
    endpoint.disabled_reason = (
        f"Turned off on {long_date(timezone.localdate(now))}: {endpoint.consecutive_failures} deliveries in a row "
        "failed."
    )
    endpoint.save(update_fields=["consecutive_failures", "is_active", "disabled_reason"])
    audit_record(
        organisation=endpoint.organisation,
        actor=SYSTEM,
        action="webhook.disabled",
        summary=f"Turned off the webhook endpoint at {host_of(endpoint.url)} after {DISABLE_AFTER} failed "
        "deliveries in a row",
        target=endpoint,
    )
    administrators = Membership.objects.filter(organisation=endpoint.organisation).select_related("user")
    for membership in administrators:
        if not (membership.can(Capability.ADMINISTER) and membership.user.is_active):
            continue
        notify(
            organisation=endpoint.organisation,
            user=membership.user,
            kind="webhook_disabled",
            title=f"Webhook turned off: {host_of(endpoint.url)}",
            body=(
                f"The last {DISABLE_AFTER} events sent to {endpoint.url} all failed, so Greenlight stopped "
                "sending to it. Check the delivery log for what the endpoint answered, fix it, send a test "
                "event and turn the endpoint back on."
            ),
            url=reverse("webhook_endpoint_detail", kwargs={"webhookendpoint_id": endpoint.pk}),
            dedupe_key=f"webhook-disabled:{endpoint.pk}:{now:%Y%m%d%H%M%S}",
        )
