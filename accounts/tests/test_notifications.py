"""The notifications page, marking notifications read, the header badge and its context processor."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import include, path, reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Membership, Notification
from accounts.tests.factories import NotificationFactory

# Until config/urls.py includes accounts.urls_notifications, these tests add it themselves.
urlpatterns = [path("", include("accounts.urls_notifications")), path("", include("config.urls"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

HTMX = {"HTTP_HX_REQUEST": "true"}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def browser_for(client_for):
    def make(user):
        browser = client_for(user)
        browser.get(reverse("notifications"))  # settle the session's current organisation
        return browser

    return make


def notify(personas, user, **fields) -> Notification:
    return NotificationFactory(organisation=personas.organisation, user=user, **fields)


# --- The list --------------------------------------------------------------------------------------
def test_unread_notifications_come_first_then_the_newest(personas, browser_for):
    now = timezone.now()
    old_unread = notify(personas, personas.member, title="Old and unread", created_at=now - timedelta(days=5))
    new_read = notify(personas, personas.member, title="New but read", created_at=now, read_at=now)
    new_unread = notify(personas, personas.member, title="New and unread", created_at=now - timedelta(days=1))
    page = text_of(browser_for(personas.member).get(reverse("notifications")))
    positions = [page.index(n.title) for n in (new_unread, old_unread, new_read)]
    assert positions == sorted(positions)
    assert "2 unread" in page


def test_notifications_link_to_their_page_within_greenlight(personas, browser_for):
    notify(personas, personas.member, title="Evidence expiring", url="/evidence/4/")
    notify(personas, personas.member, title="Suspicious link", url="https://evil.example/phish")
    notify(personas, personas.member, title="Protocol-relative", url="//evil.example/phish")
    page = text_of(browser_for(personas.member).get(reverse("notifications")))
    assert '<a href="/evidence/4/">Evidence expiring</a>' in page
    assert "evil.example" not in page
    assert "Suspicious link" in page


def test_only_my_notifications_in_this_organisation_are_listed(personas, browser_for):
    mine = notify(personas, personas.member, title="For the member")
    notify(personas, personas.owner, title="For the owner only")
    NotificationFactory(organisation=personas.other_organisation, user=personas.member, title="From elsewhere")
    page = text_of(browser_for(personas.member).get(reverse("notifications")))
    assert escape(mine.title) in page
    assert "For the owner only" not in page
    assert "From elsewhere" not in page


def test_an_empty_list_says_what_will_appear(personas, browser_for):
    page = text_of(browser_for(personas.viewer).get(reverse("notifications")))
    assert "All read" in page
    assert "Nothing yet" in page
    assert reverse("notification_read_all") not in page


def test_the_list_query_count_does_not_grow(personas, browser_for, django_assert_num_queries):
    NotificationFactory.create_batch(3, organisation=personas.organisation, user=personas.member)
    browser = browser_for(personas.member)
    url = reverse("notifications")
    # session, user, memberships, the page count, the page, the unread count
    with django_assert_num_queries(6):
        browser.get(url)
    NotificationFactory.create_batch(60, organisation=personas.organisation, user=personas.member)
    with django_assert_num_queries(6):
        page = text_of(browser.get(url))
    assert page.count('class="notification ') == 25
    assert "Page 1 of 3" in page


# --- Marking read ----------------------------------------------------------------------------------
def test_marking_one_read(personas, browser_for):
    notification = notify(personas, personas.member)
    response = browser_for(personas.member).post(reverse("notification_read", args=[notification.pk]))
    assert response.status_code == 302
    assert response.url == reverse("notifications")
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_marking_one_read_with_htmx_returns_the_list_and_the_new_badge(personas, browser_for):
    notification = notify(personas, personas.member, title="Check this")
    other = notify(personas, personas.member, title="And this")
    response = browser_for(personas.member).post(reverse("notification_read", args=[notification.pk]), **HTMX)
    fragment = text_of(response)
    assert response.status_code == 200
    assert fragment.strip().startswith('<section id="notifications"')
    assert "1 unread" in fragment
    assert reverse("notification_read", args=[other.pk]) in fragment
    assert reverse("notification_read", args=[notification.pk]) not in fragment
    # The header's badge is swapped out of band, so its count drops at once.
    assert 'hx-swap-oob="true">Notifications <span class="notifications-count">1<span' in fragment
    assert 'hx-trigger="every 60s"' in fragment


def test_marking_all_read_leaves_others_alone(personas, browser_for):
    notify(personas, personas.member)
    notify(personas, personas.member)
    someone_else = notify(personas, personas.owner)
    elsewhere = NotificationFactory(organisation=personas.other_organisation, user=personas.member)
    response = browser_for(personas.member).post(reverse("notification_read_all"))
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Marked 2 notifications as read."]
    assert not Notification.objects.filter(
        user=personas.member, organisation=personas.organisation, read_at=None
    ).exists()
    someone_else.refresh_from_db()
    elsewhere.refresh_from_db()
    assert someone_else.read_at is None
    assert elsewhere.read_at is None


def test_another_users_or_organisations_notification_cannot_be_marked(personas, browser_for):
    owners = notify(personas, personas.owner)
    elsewhere = NotificationFactory(organisation=personas.other_organisation, user=personas.member)
    browser = browser_for(personas.member)
    assert browser.post(reverse("notification_read", args=[owners.pk])).status_code == 404
    assert browser.post(reverse("notification_read", args=[elsewhere.pk])).status_code == 404
    assert browser_for(personas.outsider).post(reverse("notification_read", args=[owners.pk])).status_code == 404
    owners.refresh_from_db()
    elsewhere.refresh_from_db()
    assert owners.read_at is None
    assert elsewhere.read_at is None


def test_the_view_matrix(personas, browser_for, client_for):
    notification = notify(personas, personas.viewer)
    anonymous = client_for(None)
    for method, url in [
        ("get", reverse("notifications")),
        ("post", reverse("notification_read_all")),
        ("post", reverse("notification_read", args=[notification.pk])),
    ]:
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    viewer = browser_for(personas.viewer)  # reading your own notifications needs no edit rights
    assert viewer.post(reverse("notification_read", args=[notification.pk])).status_code == 302
    assert viewer.get(reverse("notification_read", args=[notification.pk])).status_code == 405
    assert viewer.get(reverse("notification_read_all")).status_code == 405
    assert viewer.post(reverse("notifications")).status_code == 405
    assert viewer.post("/notifications/not-a-number/read/").status_code == 404


# --- The badge -------------------------------------------------------------------------------------
def _request(personas, user):
    request = RequestFactory().get("/")
    request.user = user
    # As the middleware loads it: with its organisation.
    request.membership = Membership.objects.select_related("organisation").get(
        user=user, organisation=personas.organisation
    )
    return request


def test_the_badge_counts_unread_in_one_query_after_the_page_loads(personas, browser_for, django_assert_num_queries):
    notify(personas, personas.member)
    notify(personas, personas.member)
    notify(personas, personas.member, read_at=timezone.now())
    notify(personas, personas.owner)
    NotificationFactory(organisation=personas.other_organisation, user=personas.member)
    client = browser_for(personas.member)
    page = client.get(reverse("evidence_connections")).content.decode()
    # A page itself only carries the link; htmx asks for the count once it has loaded.
    assert f'hx-get="{reverse("notification_badge")}" hx-trigger="load, every 60s"' in page
    client.get(reverse("notification_badge"))
    with django_assert_num_queries(4):  # session, user, memberships with their organisations, the count
        badge = client.get(reverse("notification_badge")).content.decode()
    assert '2<span class="visually-hidden"> unread</span>' in badge
    assert 'hx-trigger="every 60s"' in badge  # no "load": the swapped-in badge must not fetch itself again


def test_anonymous_visitors_get_no_badge(client):
    response = client.get(reverse("notification_badge"))
    assert response.status_code == 302


def test_the_badge_shows_the_unread_count(personas):
    request = _request(personas, personas.member)
    organisation = personas.organisation
    badge = render_to_string(
        "includes/notifications_badge.html",
        {"current_organisation": organisation, "unread_notifications": 3},
        request=request,
    )
    assert f'href="{reverse("notifications")}"' in badge
    assert '3<span class="visually-hidden"> unread</span>' in badge
    quiet = render_to_string(
        "includes/notifications_badge.html", {"current_organisation": organisation, "unread_notifications": 0}
    )
    assert "notifications-count" not in quiet
    assert render_to_string("includes/notifications_badge.html", {}).strip() == ""
