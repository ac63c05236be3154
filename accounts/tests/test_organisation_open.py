"""`/go/<organisation_id>/?next=/path`: an email link opens its page in the organisation it is about, for
members only, and never sends anyone off the site."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.middleware import SESSION_KEY
from accounts.models import NotificationPreference
from accounts.notification_kinds import Channel
from accounts.notifications import notify
from accounts.roles import Role
from accounts.tests.conftest import links_in
from accounts.tests.factories import DEFAULT_PASSWORD, MembershipFactory
from policies.tests.factories import PolicyFactory

pytestmark = pytest.mark.django_db


def go(organisation_id: int, path: str) -> str:
    return reverse("organisation_open", kwargs={"organisation_id": organisation_id}, query={"next": path})


@pytest.fixture
def rival_policy_page(personas) -> str:
    """A page of the second organisation, which 404s while the first one is current."""
    return reverse("policy_detail", kwargs={"policy_id": PolicyFactory(organisation=personas.other_organisation).pk})


@pytest.fixture
def member_of_both(personas):
    MembershipFactory(organisation=personas.other_organisation, user=personas.member, role=Role.MEMBER)
    return personas.member


@pytest.fixture
def browser_in_acme(personas, client_for, member_of_both):
    browser = client_for(member_of_both)
    session = browser.session
    session[SESSION_KEY] = personas.organisation.pk
    session.save()
    return browser


def test_a_member_of_two_organisations_switches_and_lands_on_the_page(personas, browser_in_acme, rival_policy_page):
    assert browser_in_acme.get(rival_policy_page).status_code == 404  # why the link is needed

    response = browser_in_acme.get(go(personas.other_organisation.pk, rival_policy_page))

    assert response.status_code == 302
    assert response["Location"] == rival_policy_page
    assert browser_in_acme.session[SESSION_KEY] == personas.other_organisation.pk
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["Switched to Rival Widgets plc."]
    assert browser_in_acme.get(rival_policy_page).status_code == 200


def test_opening_the_current_organisation_goes_straight_there_without_a_message(personas, browser_in_acme):
    response = browser_in_acme.get(go(personas.organisation.pk, "/plan/"))

    assert response["Location"] == "/plan/"
    assert browser_in_acme.session[SESSION_KEY] == personas.organisation.pk
    assert list(get_messages(response.wsgi_request)) == []


def test_a_non_member_gets_404_and_stays_in_their_organisation(personas, client_for, rival_policy_page):
    browser = client_for(personas.owner)
    browser.get("/")
    before = browser.session[SESSION_KEY]

    response = browser.get(go(personas.other_organisation.pk, rival_policy_page))

    assert response.status_code == 404
    assert "Rival Widgets" not in response.content.decode()
    assert browser.session[SESSION_KEY] == before == personas.organisation.pk


def test_an_organisation_that_does_not_exist_answers_the_same_404(personas, client_for):
    browser = client_for(personas.owner)
    assert browser.get(go(999_999, "/")).status_code == 404
    assert browser.get("/go/not-a-number/?next=/").status_code == 404


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "http:/evil.example", "javascript:alert(1)", ""],
)
def test_a_next_off_the_site_goes_to_the_dashboard(personas, browser_in_acme, target):
    response = browser_in_acme.get(go(personas.other_organisation.pk, target))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert browser_in_acme.session[SESSION_KEY] == personas.other_organisation.pk


def test_without_next_it_goes_to_the_dashboard(personas, browser_in_acme):
    response = browser_in_acme.get(reverse("organisation_open", kwargs={"organisation_id": personas.organisation.pk}))
    assert response["Location"] == reverse("dashboard")


def test_an_anonymous_visitor_signs_in_and_comes_back_to_the_page(personas, client, member_of_both, rival_policy_page):
    link = go(personas.other_organisation.pk, rival_policy_page)

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    # Through allauth's real login form, at the address the redirect gave, which carries `next`.
    login = client.post(response["Location"], {"login": member_of_both.email, "password": DEFAULT_PASSWORD})
    assert login["Location"] == link
    assert client.get(login["Location"], follow=True).redirect_chain[-1] == (rival_policy_page, 302)
    assert client.session[SESSION_KEY] == personas.other_organisation.pk


def test_it_only_answers_get(personas, browser_in_acme):
    response = browser_in_acme.post(go(personas.other_organisation.pk, "/"))
    assert response.status_code == 405
    assert browser_in_acme.session[SESSION_KEY] == personas.organisation.pk


def test_it_takes_the_same_queries_whatever_the_number_of_memberships(
    personas, browser_in_acme, django_assert_num_queries
):
    link = go(personas.other_organisation.pk, "/plan/")
    browser_in_acme.get(link)  # warm the session
    with django_assert_num_queries(6):
        browser_in_acme.get(link)
    for _ in range(3):
        MembershipFactory(user=personas.member)
    with django_assert_num_queries(6):
        browser_in_acme.get(link)


def test_a_notification_email_link_opens_in_its_organisation(
    personas, browser_in_acme, member_of_both, rival_policy_page, mailoutbox, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(user=member_of_both, kind="task_overdue", channel=Channel.EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            organisation=personas.other_organisation,
            user=member_of_both,
            kind="task_overdue",
            title="Policy to look at",
            url=rival_policy_page,
        )
    [link] = [link for link in links_in(mailoutbox[0]) if link.startswith("/go/")]

    response = browser_in_acme.get(link, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1] == (rival_policy_page, 302)
    assert browser_in_acme.session[SESSION_KEY] == personas.other_organisation.pk
