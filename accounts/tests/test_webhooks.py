"""Webhooks end to end against a real local receiver: signatures, retries with backoff, timeouts, turning a
failing endpoint off, the refusal once a partner's access is revoked, where Greenlight refuses to post,
and each event emitted by the service where it happens."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx2
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts import webhook_delivery, webhooks
from accounts.audit import Actor, KeyAccess
from accounts.models import AuditEvent, DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint
from accounts.roles import Capability
from accounts.services_api import partner_grant_revoke
from accounts.tasks import deliver_due_webhooks, deliver_webhook
from accounts.tests.factories import (
    ApiKeyFactory,
    PartnerFactory,
    PartnerGrantFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from accounts.tests.webhook_receiver import closed_port_url, running_receiver
from assessments.models import AnswerStatus, PlanTask, TaskStatus
from assessments.reminders import reminders_send
from assessments.reports import BUILDERS, Builder, ReportError
from assessments.services import _readiness_changes_emit, answer_save, snapshot_take
from assessments.services_reports import report_build
from assessments.tests.factories import (
    FrameworkAdoptionFactory,
    PlanTaskFactory,
    ReadinessSnapshotFactory,
    ReportRunFactory,
)
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from config.encryption import decrypt_text, encrypt_text
from evidence.models import EvidenceStatus
from evidence.services.expiry import evidence_expire_and_remind
from evidence.tests.factories import EvidenceFactory
from policies.models import PolicyStatus
from policies.services import policy_publish
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

SECRET = "whsec_test"
_receiver = pytest.fixture(name="receiver")(running_receiver)


def subscribe(personas, url: str, events=("evidence.expired",)) -> webhooks.IssuedEndpoint:
    return webhooks.webhook_endpoint_create(
        organisation=personas.organisation, url=url, events=list(events), actor=Actor(personas.owner)
    )


def emit(organisation, event="evidence.expired", data=None, **kwargs) -> list[WebhookDelivery]:
    return webhooks.webhook_emit(organisation=organisation, event=event, data=data or {"evidence": {"id": 1}}, **kwargs)


def expected_signature(secret: str, header: str, body: bytes) -> str:
    timestamp = dict(part.split("=", 1) for part in header.split(","))["t"]
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def later(delivery: WebhookDelivery) -> WebhookDelivery:
    """Move a retry's time into the past, as if the wait had passed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    delivery.refresh_from_db()
    return delivery


# --- Signing and sending ---------------------------------------------------------------------------
def test_an_emitted_event_reaches_the_receiver_signed_with_the_endpoints_secret(
    personas, receiver, django_capture_on_commit_callbacks
):
    issued = subscribe(personas, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = emit(personas.organisation, data={"evidence": {"id": 7, "title": "Backup test"}})

    [request] = receiver.received
    header = request.headers["greenlight-signature"]
    assert header.startswith("t=")
    assert header.split("v1=")[1] == expected_signature(issued.secret, header, request.body)
    assert request.headers["greenlight-event"] == "evidence.expired"
    assert request.headers["content-type"] == "application/json"
    payload = request.json()
    assert list(payload) == ["id", "event", "created_at", "organisation", "data"]
    assert payload["id"] == request.headers["greenlight-delivery"] == str(delivery.event_id)
    assert payload["organisation"] == "acme-bakery"
    assert payload["data"] == {"evidence": {"id": 7, "title": "Backup test"}}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert delivery.response_body == "Thanks"
    assert delivery.delivered_at is not None


def test_the_documented_python_check_accepts_a_delivery_and_refuses_a_tampered_one(
    personas, receiver, django_capture_on_commit_callbacks
):
    issued = subscribe(personas, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        emit(personas.organisation)
    [request] = receiver.received
    namespace: dict = {}
    exec(webhooks.VERIFY_SNIPPET, namespace)  # the snippet shown to receivers, run as they would
    verify = namespace["verify"]
    header = request.headers["greenlight-signature"]

    assert verify(issued.secret, header, request.body) is True
    assert verify(issued.secret, header, request.body.replace(b"acme-bakery", b"rival-widgets")) is False
    assert verify("whsec_someone-else", header, request.body) is False


def test_a_signature_changes_with_the_time_so_an_old_one_cannot_be_replayed_later():
    body = b'{"id":"1"}'
    first = webhook_delivery.signature_header(secret=SECRET, timestamp=1_795_000_000, body=body)
    second = webhook_delivery.signature_header(secret=SECRET, timestamp=1_795_000_060, body=body)
    assert first != second
    assert first.split("v1=")[1] == expected_signature(SECRET, first, body)


def test_the_secret_is_issued_once_as_whsec_and_stored_only_encrypted(personas, receiver):
    issued = subscribe(personas, receiver.url)
    assert issued.secret.startswith("whsec_")
    assert len(issued.secret) == len("whsec_") + 32
    stored = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert issued.secret not in stored.secret_encrypted
    assert decrypt_text(stored.secret_encrypted) == issued.secret


# --- Retries and backoff ---------------------------------------------------------------------------
def test_a_500_then_a_200_succeeds_on_the_second_attempt_sent_by_the_sweep(
    personas, receiver, django_capture_on_commit_callbacks
):
    subscribe(personas, receiver.url)
    receiver.answer((500, "Internal Server Error"))
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = emit(personas.organisation)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 1)
    assert (delivery.response_status, delivery.response_body) == (500, "Internal Server Error")
    assert "answered 500" in delivery.error
    # About a minute later, with up to 10% jitter: no worker schedules it, the sweep finds it then.
    assert timedelta(seconds=60) <= delivery.next_attempt_at - before <= timedelta(seconds=67)
    assert deliver_due_webhooks() == 0  # not due yet

    later(delivery)
    assert deliver_due_webhooks() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.SUCCEEDED, 2, 200)
    assert delivery.error == ""
    first, second = receiver.received
    assert first.headers["greenlight-delivery"] == second.headers["greenlight-delivery"]  # same event, twice
    assert first.body == second.body


def test_the_backoff_schedule_is_1_5_30_120_360_minutes_with_up_to_ten_percent_jitter():
    minutes = [webhook_delivery.backoff_delay(n, rng=lambda: 0.0).total_seconds() / 60 for n in range(1, 6)]
    assert minutes == [1, 5, 30, 120, 360]
    assert webhook_delivery.backoff_delay(2, rng=lambda: 1.0) == timedelta(seconds=330)
    for attempt in range(1, 6):
        delay = webhook_delivery.backoff_delay(attempt).total_seconds()
        base = webhook_delivery.BACKOFF_SECONDS[attempt - 1]
        assert base <= delay <= base * 1.1
    assert webhook_delivery.MAX_ATTEMPTS == 6


def test_a_delivery_that_fails_six_times_is_failed_and_counts_against_the_endpoint(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    receiver.answer(*[503] * 6)
    delivery = emit(personas.organisation)[0]
    waits = []
    for _ in range(6):
        webhook_delivery.webhook_deliver(delivery_id=later(delivery).pk)
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - delivery.last_attempt_at)

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 6, None)
    assert len(receiver.received) == 6
    for base, wait in zip(webhook_delivery.BACKOFF_SECONDS, waits, strict=True):
        assert base <= wait.total_seconds() <= base * 1.1
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 1)


def test_five_failed_deliveries_in_a_row_turn_the_endpoint_off_and_tell_owners_and_admins(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    receiver.answer(*[500] * 5)
    for _ in range(5):
        # Each on its last attempt, so one more failure fails it.
        delivery = WebhookDeliveryFactory(
            organisation=personas.organisation,
            endpoint=endpoint,
            event="evidence.expired",
            status=DeliveryStatus.RETRYING,
            attempts=5,
            next_attempt_at=timezone.now(),
        )
        webhook_delivery.webhook_deliver(delivery_id=delivery.pk)

    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert endpoint.consecutive_failures == 5
    assert "5 deliveries in a row failed" in endpoint.disabled_reason
    told = Notification.objects.filter(kind="webhook_disabled")
    assert {notification.user for notification in told} == {personas.owner, personas.admin}
    assert all("/settings/webhooks/" in notification.url for notification in told)
    assert AuditEvent.objects.filter(action="webhook.disabled", organisation=personas.organisation).count() == 1
    # A turned-off endpoint gets nothing more.
    assert emit(personas.organisation) == []


def test_a_success_clears_the_failure_count(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=4)
    delivery = emit(personas.organisation)[0]
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_a_test_event_is_tried_once_and_never_counts_against_the_endpoint(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    receiver.answer(500)
    delivery = webhooks.webhook_test_send(endpoint=endpoint, actor=Actor(personas.admin))
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.event, delivery.status, delivery.attempts) == ("ping", DeliveryStatus.FAILED, 1)
    assert endpoint.consecutive_failures == 0
    assert receiver.received[0].json()["data"] == webhooks.PING_EVENT.example


def test_a_test_event_reaches_an_endpoint_that_is_turned_off(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    webhooks.webhook_endpoint_disable(endpoint=endpoint, actor=Actor(personas.owner))
    delivery = webhooks.webhook_test_send(endpoint=endpoint, actor=Actor(personas.owner))
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert receiver.received[0].headers["greenlight-event"] == "ping"


def test_a_slow_receiver_times_out_and_is_retried(personas, receiver, monkeypatch):
    monkeypatch.setattr(webhook_delivery, "TIMEOUT", httpx2.Timeout(0.3))
    subscribe(personas, receiver.url)
    receiver.answer((200, "Too late", 2.0))
    delivery = emit(personas.organisation)[0]

    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.RETRYING, 1, None)
    assert delivery.error.startswith("No answer in time")


def test_a_refused_connection_is_recorded_and_retried(personas, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    subscribe(personas, closed_port_url())
    delivery = emit(personas.organisation)[0]
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.error.startswith("Could not connect")


def test_a_redirect_is_not_followed_and_counts_as_a_failure(personas, receiver):
    subscribe(personas, receiver.url)
    receiver.answer((301, "Moved"))
    delivery = emit(personas.organisation)[0]
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status) == (DeliveryStatus.RETRYING, 301)
    assert len(receiver.received) == 1


def test_only_the_first_2000_characters_of_an_answer_are_kept(personas, receiver):
    subscribe(personas, receiver.url)
    receiver.answer((200, "é" * 10_000))
    delivery = emit(personas.organisation)[0]
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.response_body == "é" * 2000


# --- Claiming, the sweep and the broker ------------------------------------------------------------
def test_a_delivery_is_sent_once_even_if_two_workers_get_it(personas, receiver):
    subscribe(personas, receiver.url)
    delivery = emit(personas.organisation)[0]
    assert webhook_delivery.webhook_deliver(delivery_id=delivery.pk) is not None
    assert webhook_delivery.webhook_deliver(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 1


def test_the_sweep_rescues_a_delivery_a_lost_worker_left_and_leaves_one_being_sent(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    now = timezone.now()
    lost = WebhookDeliveryFactory(
        organisation=personas.organisation, endpoint=endpoint, next_attempt_at=now - timedelta(minutes=6)
    )
    in_flight = WebhookDeliveryFactory(
        organisation=personas.organisation, endpoint=endpoint, next_attempt_at=now + timedelta(minutes=4)
    )
    done = WebhookDeliveryFactory(
        organisation=personas.organisation, endpoint=endpoint, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None
    )

    assert deliver_due_webhooks() == 1

    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {
        lost.pk: DeliveryStatus.SUCCEEDED,
        in_flight.pk: DeliveryStatus.PENDING,
        done.pk: DeliveryStatus.SUCCEEDED,
    }


def test_with_a_broker_a_worker_schedules_the_retry_itself(personas, receiver, monkeypatch):
    subscribe(personas, receiver.url)
    receiver.answer(500, 500)
    scheduled = []
    monkeypatch.setitem(deliver_webhook.app.conf, "task_always_eager", False)
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda **kwargs: scheduled.append(kwargs))
    delivery = emit(personas.organisation)[0]

    assert deliver_webhook(delivery.pk) == DeliveryStatus.RETRYING

    [retry] = scheduled
    assert retry["args"] == (delivery.pk,)
    assert 60 <= retry["countdown"] <= 67
    # Waits past the broker's visibility timeout (the 2 and 6 hour ones) are left to the sweep.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=3, next_attempt_at=timezone.now())
    deliver_webhook(delivery.pk)
    assert len(scheduled) == 1


def test_without_a_broker_nothing_is_scheduled_and_the_request_is_not_held_up(personas, receiver, monkeypatch):
    subscribe(personas, receiver.url)
    receiver.answer(500)
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda **kwargs: pytest.fail("scheduled a retry inline"))
    delivery = emit(personas.organisation)[0]
    assert deliver_webhook(delivery.pk) == DeliveryStatus.RETRYING
    assert len(receiver.received) == 1


# --- Partners --------------------------------------------------------------------------------------
def partner_actor(organisation, partner) -> Actor:
    key = ApiKeyFactory(organisation=None, partner=partner)
    return Actor(
        user=None,
        key=KeyAccess(
            key_id=key.pk,
            label="Partner key",
            organisation_id=organisation.pk,
            capabilities=frozenset({Capability.VIEW, Capability.EDIT}),
        ),
    )


def test_a_delivery_to_a_partner_whose_access_was_revoked_is_refused_and_the_endpoint_stays_on(personas, receiver):
    partner = PartnerFactory()
    grant = PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    issued = webhooks.webhook_endpoint_create(
        organisation=personas.organisation,
        url=receiver.url,
        events=["evidence.expired"],
        actor=partner_actor(personas.organisation, partner),
    )
    assert issued.endpoint.partner == partner
    delivery = emit(personas.organisation)[0]
    partner_grant_revoke(grant=grant, actor=Actor(personas.owner))

    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 0
    assert "no longer gives this partner access" in delivery.error
    assert receiver.received == []
    issued.endpoint.refresh_from_db()
    assert (issued.endpoint.is_active, issued.endpoint.consecutive_failures) == (True, 0)
    assert emit(personas.organisation) == []  # and nothing new is recorded for it


def test_a_partner_whose_grant_no_longer_includes_webhooks_hears_nothing(personas, receiver):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=["readiness:read"])
    WebhookEndpointFactory(organisation=personas.organisation, partner=partner, url=receiver.url)
    assert emit(personas.organisation) == []


# --- Where Greenlight refuses to post --------------------------------------------------------------
@pytest.fixture
def strict(settings, monkeypatch):
    """Production's rule; host names resolve to what each test says, never through real DNS."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    answers: dict[str, list[str]] = {}
    real = webhooks.resolve_host

    def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]
        return real(host, port) if _is_literal(host) else []  # an IP literal resolves to itself, offline

    monkeypatch.setattr(webhooks, "resolve_host", resolve)
    return answers


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.co.uk/greenlight", "Use an https:// address"),
        ("https://127.0.0.1/hooks", "private, local or reserved"),
        ("https://10.1.2.3/hooks", "private, local or reserved"),
        ("https://192.168.0.10/hooks", "private, local or reserved"),
        ("https://169.254.169.254/latest/meta-data/", "private, local or reserved"),
        ("https://[::1]/hooks", "private, local or reserved"),
        ("https://[fe80::1]/hooks", "private, local or reserved"),
        ("https://[::ffff:10.0.0.1]/hooks", "private, local or reserved"),
        ("https://internal.example.co.uk/hooks", "private, local or reserved"),
        ("https://nowhere.invalid/hooks", "could not be found"),
        ("https://user:secret@hooks.example.co.uk/", "Leave any user name and password out"),
        ("ftp://hooks.example.co.uk/", "Enter a full web address"),
    ],
)
def test_private_plain_and_unresolvable_addresses_are_refused_when_an_endpoint_is_added(personas, strict, url, message):
    strict["internal.example.co.uk"] = ["93.184.216.34", "10.0.0.7"]  # one private answer is enough
    strict["hooks.example.co.uk"] = ["93.184.216.34"]
    with pytest.raises(ValidationError) as refused:
        subscribe(personas, url)
    assert message in " ".join(refused.value.message_dict.get("url", []))
    assert not WebhookEndpoint.objects.exists()


def test_a_public_https_address_is_accepted(personas, strict):
    strict["hooks.example.co.uk"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    issued = subscribe(personas, "https://hooks.example.co.uk/greenlight")
    assert issued.endpoint.url == "https://hooks.example.co.uk/greenlight"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("fd00::1", False),
        ("fe80::1%eth0", False),
    ],
)
def test_which_addresses_count_as_public(address, public):
    assert webhooks.address_is_public(address) is public


def test_a_host_that_moves_into_a_private_network_is_refused_at_send_time(personas, strict):
    strict["hooks.example.co.uk"] = ["93.184.216.34"]
    subscribe(personas, "https://hooks.example.co.uk/greenlight")
    strict["hooks.example.co.uk"] = ["169.254.169.254"]  # the DNS answer changed since
    delivery = emit(personas.organisation)[0]

    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_status is None
    assert delivery.error.startswith("Not sent: That address is on a private")


def test_a_send_connects_to_the_address_that_was_checked(personas, strict, monkeypatch):
    """The request goes to the resolved address, with the name kept for Host and TLS, so a DNS answer that
    changes between the check and the connection cannot send it elsewhere."""
    strict["hooks.example.co.uk"] = ["93.184.216.34"]
    subscribe(personas, "https://hooks.example.co.uk:8443/greenlight?team=ops")
    seen = []

    def fake_stream(self, method, url, *, content, headers, extensions):
        seen.append((url, headers["Host"], extensions))
        raise httpx2.ConnectError("stopped before the network")

    monkeypatch.setattr(httpx2.Client, "stream", fake_stream)
    webhook_delivery.webhook_deliver(delivery_id=emit(personas.organisation)[0].pk)
    assert seen == [
        (
            "https://93.184.216.34:8443/greenlight?team=ops",
            "hooks.example.co.uk:8443",
            {"sni_hostname": "hooks.example.co.uk"},
        )
    ]


# --- Emitting --------------------------------------------------------------------------------------
def test_emit_records_one_delivery_per_active_subscribed_endpoint(personas, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    wanted = WebhookEndpointFactory(organisation=personas.organisation, events=["evidence.expired"])
    WebhookEndpointFactory(organisation=personas.organisation, events=["report.ready"])
    WebhookEndpointFactory(organisation=personas.organisation, events=["evidence.expired"], is_active=False)
    WebhookEndpointFactory(organisation=personas.other_organisation, events=["evidence.expired"])

    [delivery] = emit(personas.organisation, data={"when": date(2026, 11, 21), "score": Decimal("81.5")})

    assert delivery.endpoint == wanted
    assert delivery.payload["data"] == {"when": "2026-11-21", "score": "81.5"}
    assert delivery.payload["event"] == "evidence.expired"
    assert delivery.payload["id"] == str(delivery.event_id)


def test_emit_with_a_dedupe_key_tells_each_endpoint_once(personas):
    endpoint = WebhookEndpointFactory(organisation=personas.organisation, events=["task.overdue"])
    assert len(emit(personas.organisation, "task.overdue", dedupe_key="task-overdue:1:2026-11-20")) == 1
    assert emit(personas.organisation, "task.overdue", dedupe_key="task-overdue:1:2026-11-20") == []
    later_endpoint = WebhookEndpointFactory(organisation=personas.organisation, events=["task.overdue"])
    [news] = emit(personas.organisation, "task.overdue", dedupe_key="task-overdue:1:2026-11-20")
    assert news.endpoint == later_endpoint != endpoint


def test_emit_never_breaks_the_service_that_calls_it(personas, monkeypatch, caplog):
    WebhookEndpointFactory(organisation=personas.organisation, events=["evidence.expired"])

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(webhooks, "_record_deliveries", broken)
    assert emit(personas.organisation) == []
    assert "Could not record the evidence.expired webhook event" in caplog.text


def test_an_unknown_event_is_a_programming_error(personas):
    with pytest.raises(ValueError, match="not a registered webhook event"):
        emit(personas.organisation, "evidence.exploded")


# --- Services: who may manage endpoints ------------------------------------------------------------
@pytest.mark.parametrize("role", ["member", "viewer", "consultant", "outsider"])
def test_only_owners_admins_and_api_keys_manage_endpoints(personas, receiver, role):
    with pytest.raises(PermissionDenied):
        webhooks.webhook_endpoint_create(
            organisation=personas.organisation,
            url=receiver.url,
            events=["report.ready"],
            actor=Actor(getattr(personas, role)),
        )


def test_a_key_cannot_manage_another_organisations_or_partners_endpoints(personas, receiver):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    own = WebhookEndpointFactory(organisation=personas.organisation)
    organisation_key = ApiKeyFactory(organisation=personas.organisation)
    as_organisation = Actor(
        user=None,
        key=KeyAccess(organisation_key.pk, "key", personas.organisation.pk, frozenset({Capability.VIEW})),
    )
    with pytest.raises(PermissionDenied):
        webhooks.webhook_endpoint_delete(endpoint=own, actor=partner_actor(personas.organisation, partner))
    with pytest.raises(PermissionDenied):
        webhooks.webhook_endpoint_create(
            organisation=personas.other_organisation, url=receiver.url, events=["report.ready"], actor=as_organisation
        )
    webhooks.webhook_endpoint_delete(endpoint=own, actor=as_organisation)
    assert not WebhookEndpoint.objects.filter(pk=own.pk).exists()


def test_every_change_is_audited_and_summaries_show_only_the_host(personas, receiver):
    actor = Actor(personas.admin)
    endpoint = subscribe(personas, receiver.url + "?token=abc").endpoint
    webhooks.webhook_endpoint_update(endpoint=endpoint, actor=actor, events=["report.ready", "task.overdue"])
    webhooks.webhook_endpoint_disable(endpoint=endpoint, actor=actor)
    webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=actor)
    webhooks.webhook_test_send(endpoint=endpoint, actor=actor)
    webhooks.webhook_endpoint_delete(endpoint=endpoint, actor=actor)
    events = AuditEvent.objects.filter(organisation=personas.organisation).order_by("created_at", "id")
    assert [event.action for event in events] == [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.tested",
        "webhook.deleted",
    ]
    assert all("token" not in event.summary and "127.0.0.1" in event.summary for event in events)


def test_events_must_be_known_and_at_least_one(personas, receiver):
    with pytest.raises(ValidationError) as refused:
        subscribe(personas, receiver.url, events=[])
    assert refused.value.message_dict["events"] == ["Choose at least one event."]
    with pytest.raises(ValidationError) as refused:
        subscribe(personas, receiver.url, events=["evidence.expired", "ping"])
    assert "Unknown event: ping" in refused.value.message_dict["events"][0]


def test_an_organisation_has_at_most_twenty_endpoints(personas, receiver):
    WebhookEndpointFactory.create_batch(webhooks.MAX_ENDPOINTS, organisation=personas.organisation)
    with pytest.raises(ValidationError, match="at most 20 webhook endpoints"):
        subscribe(personas, receiver.url)


def test_turning_an_endpoint_back_on_clears_its_failures(personas):
    endpoint = WebhookEndpointFactory(
        organisation=personas.organisation, is_active=False, disabled_reason="Failed", consecutive_failures=5
    )
    webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=Actor(personas.owner))
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason, endpoint.consecutive_failures) == (True, "", 0)


def test_a_failed_delivery_can_be_sent_again_by_hand(personas, receiver, django_capture_on_commit_callbacks):
    endpoint = subscribe(personas, receiver.url).endpoint
    failed = WebhookDeliveryFactory(
        organisation=personas.organisation,
        endpoint=endpoint,
        event="report.ready",
        status=DeliveryStatus.FAILED,
        attempts=6,
        error="The endpoint answered 500; a 2xx status is needed.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_delivery_retry(delivery=failed, actor=Actor(personas.owner))
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error) == (DeliveryStatus.SUCCEEDED, 7, "")
    assert receiver.received[0].headers["greenlight-delivery"] == str(failed.event_id)
    with pytest.raises(ValidationError, match="Only a failed delivery"):
        webhooks.webhook_delivery_retry(delivery=failed, actor=Actor(personas.owner))


def test_an_unreadable_secret_fails_the_attempt_with_a_reason(personas, receiver):
    endpoint = subscribe(personas, receiver.url).endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=encrypt_text("x")[:-4] + "AAAA")
    delivery = emit(personas.organisation)[0]
    webhook_delivery.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert "signing secret cannot be read" in delivery.error
    assert receiver.received == []


def test_the_event_registry_describes_every_event_with_an_example_payload():
    assert list(webhooks.EVENTS) == [
        "evidence.expired",
        "readiness.changed",
        "policy.published",
        "task.overdue",
        "report.ready",
    ]
    for event in webhooks.EVENTS.values():
        example = event.example_payload()
        assert example["event"] == event.name
        assert example["data"]
        assert event.description.endswith(".")
        json.dumps(example)


# --- Each event, emitted by the service where it happens ---------------------------------------------
def subscribed(organisation, event: str) -> WebhookEndpoint:
    return WebhookEndpointFactory(organisation=organisation, events=[event])


def delivered(event: str) -> list[dict]:
    return [delivery.payload["data"] for delivery in WebhookDelivery.objects.filter(event=event).order_by("pk")]


API = "http://127.0.0.1:8000/api/v1/organisations/acme-bakery"


def test_publishing_a_policy_emits_policy_published(personas, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    subscribed(personas.organisation, "policy.published")
    policy = PolicyFactory(organisation=personas.organisation, status=PolicyStatus.APPROVED, title="Acceptable use")
    PolicyVersionFactory(organisation=personas.organisation, policy=policy, number=3)

    version = policy_publish(policy=policy, actor=Actor(personas.owner))

    assert delivered("policy.published") == [
        {
            "policy": {
                "id": policy.pk,
                "title": "Acceptable use",
                "version": 3,
                "published_at": DjangoJSONEncoder().default(version.published_at),
                "url": f"{API}/policies/{policy.pk}/",
            }
        }
    ]


def test_a_finished_report_emits_report_ready_and_a_failed_one_does_not(personas, settings, monkeypatch):
    settings.SITE_URL = "http://127.0.0.1:8000"
    subscribed(personas.organisation, "report.ready")

    def build(organisation, parameters, requested_by, today, out, progress):
        out.write(b"%PDF-1.7 a small report")

    monkeypatch.setitem(BUILDERS, "readiness", Builder("readiness", "pdf", "application/pdf", build))
    run = ReportRunFactory(organisation=personas.organisation)
    report_build(run_id=run.pk)

    assert delivered("report.ready") == [
        {
            "report": {
                "id": run.pk,
                "kind": "readiness",
                "url": f"{API}/reports/{run.pk}/",
                "download_url": f"{API}/reports/{run.pk}/download/",
            }
        }
    ]

    def fail(*args):
        raise ReportError("No frameworks adopted yet.")

    monkeypatch.setitem(BUILDERS, "readiness", Builder("readiness", "pdf", "application/pdf", fail))
    report_build(run_id=ReportRunFactory(organisation=personas.organisation).pk)
    assert len(delivered("report.ready")) == 1


def test_evidence_that_expires_emits_evidence_expired_once(personas, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    subscribed(personas.organisation, "evidence.expired")
    today = date(2026, 11, 21)
    item = EvidenceFactory(
        organisation=personas.organisation,
        title="Backup restore test",
        status=EvidenceStatus.ACCEPTED,
        valid_until=date(2026, 11, 20),
    )
    EvidenceFactory(organisation=personas.organisation, valid_until=date(2026, 12, 20))  # still valid

    evidence_expire_and_remind(today=today)
    evidence_expire_and_remind(today=today)

    assert delivered("evidence.expired") == [
        {
            "evidence": {
                "id": item.pk,
                "title": "Backup restore test",
                "valid_until": "2026-11-20",
                "url": f"{API}/evidence/{item.pk}/",
            }
        }
    ]


def test_a_task_found_overdue_emits_task_overdue_once_per_due_date(personas, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    subscribed(personas.organisation, "task.overdue")
    now = timezone.make_aware(datetime(2026, 11, 21, 7, 10))
    task = PlanTaskFactory(organisation=personas.organisation, title="Turn on MFA", due_date=date(2026, 11, 20))
    PlanTaskFactory(organisation=personas.organisation, due_date=date(2026, 11, 19), status=TaskStatus.DONE)
    PlanTaskFactory(organisation=personas.organisation, due_date=date(2026, 10, 1))  # long overdue: old news
    due_today = PlanTaskFactory(organisation=personas.organisation, due_date=date(2026, 11, 21))
    PlanTaskFactory(organisation=personas.other_organisation, due_date=date(2026, 11, 20))  # nobody subscribed

    assert reminders_send(now=now).tasks_announced == 1
    assert reminders_send(now=now).tasks_announced == 0  # a second run the same day: already told
    assert delivered("task.overdue") == [
        {
            "task": {
                "id": task.pk,
                "title": "Turn on MFA",
                "due_date": "2026-11-20",
                "status": "todo",
                "url": f"{API}/tasks/{task.pk}/",
            }
        }
    ]

    # The next day the task due today is overdue too; and the first, given a new date and missed again, is news.
    PlanTask.objects.filter(pk=task.pk).update(due_date=date(2026, 11, 21))
    assert reminders_send(now=now + timedelta(days=1)).tasks_announced == 2
    assert {data["task"]["id"] for data in delivered("task.overdue")[1:]} == {task.pk, due_today.pk}


def test_a_readiness_score_that_moves_emits_readiness_changed(personas, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    organisation = personas.organisation
    subscribed(organisation, "readiness.changed")
    framework = FrameworkFactory(name="Cyber Essentials", slug="cyber-essentials")
    group = ControlGroupFactory(framework=framework)
    first, _second = ControlFactory(group=group, weight=1), ControlFactory(group=group, weight=1)
    FrameworkAdoptionFactory(organisation=organisation, framework=framework)

    snapshot_take(organisation=organisation)  # the first snapshot: nothing to compare with
    snapshot_take(organisation=organisation)  # no change
    assert delivered("readiness.changed") == []

    answer_save(organisation=organisation, control=first, status=AnswerStatus.IMPLEMENTED, actor=Actor(personas.owner))
    snapshot_take(organisation=organisation)

    assert delivered("readiness.changed") == [
        {
            "framework": {"slug": "cyber-essentials", "name": "Cyber Essentials"},
            "previous": {"score": 0.0, "band": "red"},
            "current": {"score": 50.0, "band": "amber"},
            "url": f"{API}/readiness/",
        }
    ]


def test_nothing_is_looked_up_for_readiness_when_nobody_subscribes(personas, django_assert_num_queries):
    FrameworkAdoptionFactory(organisation=personas.organisation)
    snapshot_take(organisation=personas.organisation)
    subscribed(personas.organisation, "report.ready")
    rows = [ReadinessSnapshotFactory.build(organisation=personas.organisation)]
    with django_assert_num_queries(1):  # only: does any endpoint want readiness.changed?
        _readiness_changes_emit(personas.organisation, rows)
