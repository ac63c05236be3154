"""The webhooks settings pages, driven the way a browser (and htmx) drives them: who may use them, the
signing secret shown once, test events and retries against a real receiver, and pinned query counts."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from accounts.models import AuditEvent, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from accounts.tests.factories import PartnerFactory, UserFactory, WebhookDeliveryFactory, WebhookEndpointFactory
from accounts.tests.webhook_receiver import running_receiver

pytestmark = pytest.mark.django_db

_receiver = pytest.fixture(name="receiver")(running_receiver)

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = "/settings/webhooks/"
SECRET = re.compile(r"whsec_[A-Za-z0-9]{32}")
REQUEST_BASELINE = 3  # session, user, memberships


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


@pytest.fixture
def endpoint(personas):
    return WebhookEndpointFactory(organisation=personas.organisation, url="https://hooks.acme-bakery.co.uk/tickets")


def pages(endpoint_id: int) -> list[tuple[str, str]]:
    return [
        ("get", LIST),
        ("post", f"{LIST}new/"),
        ("get", f"{LIST}{endpoint_id}/"),
        ("post", f"{LIST}{endpoint_id}/test/"),
        ("post", f"{LIST}{endpoint_id}/enable/"),
        ("post", f"{LIST}{endpoint_id}/delete/"),
    ]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Who may use the pages -------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize(("role", "allowed"), [("member", False), ("viewer", False), ("consultant", False)])
def test_members_viewers_and_consultants_are_refused(personas, client_for, endpoint, index, role, allowed):
    method, url = pages(endpoint.pk)[index]
    assert getattr(client_for(getattr(personas, role)), method)(url).status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists()


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_see_the_list_and_the_log(personas, client_for, endpoint, role):
    browser = client_for(getattr(personas, role))
    listing = browser.get(LIST)
    assert listing.status_code == 200
    assert "https://hooks.acme-bakery.co.uk/tickets" in listing.content.decode()
    assert browser.get(f"{LIST}{endpoint.pk}/").status_code == 200


@pytest.mark.parametrize("index", [2, 3, 4, 5])
def test_an_outsider_cannot_reach_this_organisations_endpoint(personas, client_for, endpoint, index):
    method, url = pages(endpoint.pk)[index]
    assert getattr(client_for(personas.outsider), method)(url).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_another_organisations_delivery_cannot_be_retried(personas, client_for):
    theirs = WebhookDeliveryFactory(organisation=personas.other_organisation, status=DeliveryStatus.FAILED)
    assert client_for(personas.owner).post(f"{LIST}deliveries/{theirs.pk}/retry/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == DeliveryStatus.FAILED


def test_signed_out_people_are_sent_to_sign_in(client_for, endpoint):
    for url in (LIST, f"{LIST}{endpoint.pk}/"):
        response = client_for(None).get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_people_without_an_organisation_are_sent_to_create_one(client_for):
    response = client_for(UserFactory()).get(LIST)
    assert (response.status_code, response["Location"]) == (302, "/organisations/new/")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", LIST),
        ("get", f"{LIST}new/"),
        ("post", "/settings/webhooks/{id}/"),
        ("get", "/settings/webhooks/{id}/test/"),
        ("get", "/settings/webhooks/{id}/enable/"),
        ("get", "/settings/webhooks/{id}/delete/"),
        ("get", "/settings/webhooks/deliveries/{id}/retry/"),
    ],
)
def test_wrong_methods_are_refused(owner_browser, endpoint, method, url):
    assert getattr(owner_browser, method)(url.format(id=endpoint.pk)).status_code == 405


@pytest.mark.parametrize("url", ["/settings/webhooks/abc/", "/settings/webhooks/999999/"])
def test_a_malformed_or_unknown_id_is_not_found(owner_browser, url):
    assert owner_browser.get(url).status_code == 404


def test_the_page_is_marked_current_in_the_settings_tabs_and_hidden_from_members(personas, client_for):
    assert 'href="/settings/webhooks/" aria-current="page"' in client_for(personas.owner).get(LIST).content.decode()
    assert 'href="/settings/webhooks/"' not in client_for(personas.member).get("/settings/").content.decode()


# --- Adding an endpoint ----------------------------------------------------------------------------
def test_adding_an_endpoint_shows_its_secret_once(personas, owner_browser, receiver):
    response = owner_browser.post(
        f"{LIST}new/", {"url": receiver.url, "description": "Helpdesk", "events": ["evidence.expired", "task.overdue"]}
    )
    assert response.status_code == 200
    [secret] = set(SECRET.findall(response.content.decode()))
    assert "Copy this secret now" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.description, endpoint.events) == (
        receiver.url,
        "Helpdesk",
        ["evidence.expired", "task.overdue"],
    )
    assert endpoint.created_by == personas.owner
    assert AuditEvent.objects.filter(action="webhook.created").count() == 1
    assert secret not in owner_browser.get(LIST).content.decode()
    assert secret not in str(owner_browser.session.items())


def test_adding_through_htmx_swaps_the_section_with_the_secret(owner_browser, receiver):
    response = owner_browser.post(f"{LIST}new/", {"url": receiver.url, "events": ["report.ready"]}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="webhooks">')
    assert len(set(SECRET.findall(body))) == 1


def test_a_refused_address_keeps_what_was_typed_and_says_why(owner_browser, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = owner_browser.post(
        f"{LIST}new/", {"url": "http://192.168.1.20/hook", "description": "Office box", "events": ["report.ready"]}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Use an https:// address" in body
    assert 'value="http://192.168.1.20/hook"' in body
    assert 'value="Office box"' in body
    assert not WebhookEndpoint.objects.exists()
    assert owner_browser.post(f"{LIST}new/", {"url": "https://x"}, **HTMX).status_code == 200  # htmx swaps 200s


def test_events_are_required(owner_browser, receiver):
    response = owner_browser.post(f"{LIST}new/", {"url": receiver.url})
    assert response.status_code == 400
    assert "Choose at least one event." in response.content.decode()


# --- Test events, turning on, removing, retrying -----------------------------------------------------
# Without a broker the event goes out when the request's transaction commits, before the page answers: these
# tests commit for real (transaction=True) to see the outcome the person is shown.
@pytest.mark.django_db(transaction=True)
def test_send_test_posts_a_ping_to_the_receiver_and_shows_the_outcome(personas, owner_browser, receiver):
    endpoint = WebhookEndpointFactory(organisation=personas.organisation, url=receiver.url)
    response = owner_browser.post(f"{LIST}{endpoint.pk}/test/")
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}{endpoint.pk}/"
    assert messages_of(response) == ["Test event delivered: the endpoint answered 200."]
    assert receiver.received[0].headers["greenlight-event"] == "ping"
    log = owner_browser.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert "Delivered" in log
    assert "HTTP 200" in log


@pytest.mark.django_db(transaction=True)
def test_a_failed_test_says_why(personas, owner_browser, receiver):
    endpoint = WebhookEndpointFactory(organisation=personas.organisation, url=receiver.url)
    receiver.answer((500, "Database locked"))
    response = owner_browser.post(f"{LIST}{endpoint.pk}/test/", **HTMX)
    assert response["HX-Redirect"] == f"{LIST}{endpoint.pk}/"
    assert messages_of(response) == ["The test event failed. The endpoint answered 500; a 2xx status is needed."]
    assert "Database locked" in owner_browser.get(f"{LIST}{endpoint.pk}/").content.decode()


def test_a_turned_off_endpoint_shows_why_and_can_be_turned_on(personas, owner_browser):
    endpoint = WebhookEndpointFactory(
        organisation=personas.organisation,
        is_active=False,
        consecutive_failures=5,
        disabled_reason="Turned off on 21 November 2026: 5 deliveries in a row failed.",
    )
    listing = owner_browser.get(LIST).content.decode()
    assert "Turned off on 21 November 2026: 5 deliveries in a row failed." in listing
    assert f'action="{LIST}{endpoint.pk}/enable/"' in listing

    response = owner_browser.post(f"{LIST}{endpoint.pk}/enable/", {"from": "log"})
    assert response["Location"] == f"{LIST}{endpoint.pk}/"
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_reason) == (True, 0, "")


def test_removing_an_endpoint_asks_first_and_removes_it(personas, owner_browser, endpoint):
    listing = owner_browser.get(LIST).content.decode()
    assert 'data-confirm="Remove the endpoint https://hooks.acme-bakery.co.uk/tickets?' in listing
    response = owner_browser.post(f"{LIST}{endpoint.pk}/delete/")
    assert response["Location"] == LIST
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert AuditEvent.objects.filter(action="webhook.deleted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_retry_now_sends_a_failed_delivery_again(personas, owner_browser, receiver):
    endpoint = WebhookEndpointFactory(organisation=personas.organisation, url=receiver.url)
    failed = WebhookDeliveryFactory(
        organisation=personas.organisation,
        endpoint=endpoint,
        event="report.ready",
        status=DeliveryStatus.FAILED,
        attempts=6,
        response_status=503,
        error="The endpoint answered 503; a 2xx status is needed.",
    )
    log = owner_browser.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert f'action="/settings/webhooks/deliveries/{failed.pk}/retry/"' in log
    assert "Retry now" in log

    response = owner_browser.post(f"{LIST}deliveries/{failed.pk}/retry/")

    assert response["Location"] == f"{LIST}{endpoint.pk}/"
    assert messages_of(response) == ["Delivered: the endpoint answered 200."]
    failed.refresh_from_db()
    assert (failed.status, failed.response_status) == (DeliveryStatus.SUCCEEDED, 200)
    assert len(receiver.received) == 1
    again = owner_browser.post(f"{LIST}deliveries/{failed.pk}/retry/")
    assert messages_of(again)[-1] == "Only a failed delivery can be sent again."


def test_the_log_shows_status_attempts_response_and_error(personas, owner_browser, endpoint):
    WebhookDeliveryFactory(
        organisation=personas.organisation,
        endpoint=endpoint,
        event="evidence.expired",
        status=DeliveryStatus.RETRYING,
        attempts=2,
        response_status=502,
        response_body="<html>Bad gateway</html>",
        error="The endpoint answered 502; a 2xx status is needed.",
    )
    body = owner_browser.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert "evidence.expired" in body
    assert "Retrying" in body
    assert "HTTP 502" in body
    assert "&lt;html&gt;Bad gateway&lt;/html&gt;" in body  # escaped, never rendered
    assert "The endpoint answered 502" in body


def test_a_partners_endpoint_is_listed_with_the_partner(personas, owner_browser):
    WebhookEndpointFactory(organisation=personas.organisation, partner=PartnerFactory(name="Ledger & Co"))
    assert "Added by partner Ledger &amp; Co" in owner_browser.get(LIST).content.decode()


# --- Queries stay constant ---------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [0, 12])
def test_the_list_does_not_grow_with_endpoints(personas, owner_browser, django_assert_num_queries, extra):
    WebhookEndpointFactory(organisation=personas.organisation, partner=PartnerFactory())
    WebhookEndpointFactory.create_batch(extra, organisation=personas.organisation, partner=PartnerFactory())
    with django_assert_num_queries(REQUEST_BASELINE + 1):  # + the endpoints, with their partners
        response = owner_browser.get(LIST)
    assert response.content.decode().count("Delivery log<span") == 1 + extra


@pytest.mark.parametrize("extra", [0, 40])
def test_the_log_does_not_grow_with_deliveries(personas, owner_browser, endpoint, django_assert_num_queries, extra):
    WebhookDeliveryFactory.create_batch(1 + extra, organisation=personas.organisation, endpoint=endpoint)
    # + the endpoint, the paginator's count and the page of deliveries
    with django_assert_num_queries(REQUEST_BASELINE + 3):
        response = owner_browser.get(f"{LIST}{endpoint.pk}/")
    assert len(response.context["page"].object_list) == min(1 + extra, 25)
    with django_assert_num_queries(REQUEST_BASELINE + 3):
        owner_browser.get(f"{LIST}{endpoint.pk}/", {"page": 2}, **HTMX)
    assert WebhookDelivery.objects.count() == 1 + extra


def test_an_address_that_is_not_a_web_address_is_refused_alongside_other_errors(owner_browser):
    body = owner_browser.post(f"{LIST}new/", {"url": "not a web address"}).content.decode()
    assert "Enter a full web address, starting https://." in body
    assert "Choose at least one event." in body
