"""Partners, API keys and grants in the admin: staff register partners and issue their keys; the secret is
shown once, the hash never; keys can be revoked; grants are only looked at."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import ApiKey, AuditEvent, Partner, PartnerGrant, User
from accounts.services_api import hash_secret
from accounts.tests.factories import ApiKeyFactory, PartnerFactory, PartnerGrantFactory, api_secret

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"glk_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}")


@pytest.fixture
def staff_browser(client_for):
    return client_for(User.objects.create_superuser("root@greenlight.example", password="a-long-secret-phrase"))


def issue_url(partner: Partner) -> str:
    return f"/admin/accounts/partner/{partner.pk}/issue-key/"


def test_the_partner_page_offers_to_issue_a_key(staff_browser):
    partner = PartnerFactory(name="Northwind IT")

    page = staff_browser.get(f"/admin/accounts/partner/{partner.pk}/change/").content.decode()

    assert f'href="{issue_url(partner)}"' in page
    assert "Issue a key" in page


def test_issuing_a_key_shows_the_secret_on_that_page_only(staff_browser, client):
    partner = PartnerFactory(name="Northwind IT")
    form = staff_browser.get(issue_url(partner))
    assert form.status_code == 200
    assert SECRET.findall(form.content.decode()) == []

    response = staff_browser.post(issue_url(partner), {"name": "Production sync", "scopes": ["readiness:read"]})

    assert response.status_code == 200
    [secret] = set(SECRET.findall(response.content.decode()))
    assert "Copy this key now: it is shown only on this page." in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    assert (key.partner, key.organisation, key.name, key.scopes) == (
        partner,
        None,
        "Production sync",
        ["readiness:read"],
    )
    assert key.secret_hash == hash_secret(secret)
    assert key.created_by.email == "root@greenlight.example"
    assert all(secret not in str(message) for message in get_messages(response.wsgi_request))
    assert LogEntry.objects.get().change_message == f"Issued the API key Production sync ({key.prefix})."
    for page in (f"/admin/accounts/partner/{partner.pk}/change/", f"/admin/accounts/apikey/{key.pk}/change/"):
        assert SECRET.findall(staff_browser.get(page).content.decode()) == []
    # The key reaches nothing until an organisation grants the partner access.
    assert client.get("/api/v1/organisations/", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["results"] == []


def test_a_partner_key_defaults_to_every_scope_and_can_expire(staff_browser):
    partner = PartnerFactory()
    page = staff_browser.get(issue_url(partner)).content.decode()
    assert page.count(" checked") == 15
    day = timezone.localdate() + timezone.timedelta(days=7)

    staff_browser.post(issue_url(partner), {"name": "Trial", "scopes": ["readiness:read"], "expires_on": day})

    assert timezone.localtime(ApiKey.objects.get().expires_at).date() == day


def test_issuing_a_key_without_a_name_or_scopes_is_refused(staff_browser):
    partner = PartnerFactory()

    response = staff_browser.post(issue_url(partner), {"name": "", "scopes": []})

    assert response.status_code == 200
    assert "Give the key a name." in response.content.decode()
    assert "Choose at least one scope." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_people_who_are_not_staff_cannot_issue_keys(personas, client_for):
    partner = PartnerFactory()

    response = client_for(personas.owner).post(issue_url(partner), {"name": "Sneaky", "scopes": ["audit:read"]})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not ApiKey.objects.exists()


def test_staff_who_may_only_view_partners_cannot_issue_keys(client_for):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("helpdesk@greenlight.example", password="a-long-secret-phrase", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_partner"))
    partner = PartnerFactory()

    response = client_for(viewer).post(issue_url(partner), {"name": "Sneaky", "scopes": ["audit:read"]})

    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_suspending_a_partner_stops_its_keys_everywhere(personas, staff_browser, client):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    key = ApiKeyFactory(organisation=None, partner=partner)
    url = "/api/v1/organisations/acme-bakery/"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {api_secret(key)}").status_code == 200

    staff_browser.post("/admin/accounts/partner/", {"action": "suspend", "_selected_action": [partner.pk], "index": 0})

    partner.refresh_from_db()
    assert not partner.is_active
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {api_secret(key)}").status_code == 401
    staff_browser.post(
        "/admin/accounts/partner/", {"action": "reactivate", "_selected_action": [partner.pk], "index": 0}
    )
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {api_secret(key)}").status_code == 200
    # Each organisation that granted access is told, in its own audit log.
    actions = list(
        AuditEvent.objects.filter(organisation=personas.organisation, action__startswith="partner.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["partner.suspended", "partner.reactivated"]


def test_api_keys_are_read_only_and_never_show_their_hash(personas, staff_browser):
    key = ApiKeyFactory(organisation=personas.organisation, name="Stock script")

    page = staff_browser.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()

    assert "Stock script" in page
    assert key.prefix in page
    assert key.secret_hash not in page
    assert "secret_hash" not in page
    assert key.secret_hash not in staff_browser.get("/admin/accounts/apikey/").content.decode()
    assert staff_browser.get("/admin/accounts/apikey/add/").status_code == 403
    assert staff_browser.post(f"/admin/accounts/apikey/{key.pk}/change/", {"name": "x"}).status_code == 403
    assert staff_browser.post(f"/admin/accounts/apikey/{key.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ApiKey.objects.get(pk=key.pk).name == "Stock script"


def test_staff_can_revoke_keys_and_the_organisation_sees_it_in_its_audit_log(personas, staff_browser, client):
    own = ApiKeyFactory(organisation=personas.organisation, name="Leaked script")
    partners = ApiKeyFactory(organisation=None, partner=PartnerFactory())
    untouched = ApiKeyFactory(organisation=personas.organisation)

    response = staff_browser.post(
        "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [own.pk, partners.pk], "index": 0}
    )

    assert response.status_code == 302
    assert set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True)) == {own.pk, partners.pk}
    assert ApiKey.objects.get(pk=untouched.pk).revoked_at is None
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert (event.organisation, event.actor_label) == (personas.organisation, "root@greenlight.example")
    assert (
        client.get("/api/v1/organisations/acme-bakery/", HTTP_AUTHORIZATION=f"Bearer {api_secret(own)}").status_code
        == 401
    )


def test_partner_grants_are_listed_read_only(personas, staff_browser):
    grant = PartnerGrantFactory(
        organisation=personas.organisation, partner=PartnerFactory(name="Northwind IT"), scopes=["readiness:read"]
    )

    page = staff_browser.get("/admin/accounts/partnergrant/").content.decode()

    assert "Northwind IT" in page
    assert "Acme Bakery Ltd" in page
    assert "readiness:read" in page
    assert staff_browser.get("/admin/accounts/partnergrant/add/").status_code == 403
    assert (
        staff_browser.post(f"/admin/accounts/partnergrant/{grant.pk}/change/", {"scopes": '["audit:read"]'}).status_code
        == 403
    )
    assert PartnerGrant.objects.get().scopes == ["readiness:read"]


def grow(personas, size: int) -> None:
    for partner in PartnerFactory.create_batch(size):
        PartnerGrantFactory(organisation=personas.organisation, partner=partner, granted_by=personas.admin)
        ApiKeyFactory(organisation=None, partner=partner)
    ApiKeyFactory.create_batch(size, organisation=personas.organisation, created_by=personas.owner)


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize(
    ("page", "queries"),
    [
        ("/admin/accounts/partner/", 6),
        ("/admin/accounts/partner/{partner}/change/", 5),
        ("/admin/accounts/partner/{partner}/issue-key/", 4),
        ("/admin/accounts/apikey/", 6),
        ("/admin/accounts/apikey/{key}/change/", 4),
        ("/admin/accounts/partnergrant/", 6),
    ],
)
def test_admin_pages_do_not_grow_with_data(personas, staff_browser, django_assert_num_queries, size, page, queries):
    grow(personas, size)
    partner = Partner.objects.first()
    for _ in range(size):  # a busy partner: many keys on its page
        ApiKeyFactory(organisation=None, partner=partner)
    url = page.format(partner=partner.pk, key=ApiKey.objects.first().pk)
    staff_browser.get(url)  # warm the content-type cache, as a running server has

    with django_assert_num_queries(queries):
        assert staff_browser.get(url).status_code == 200


def test_partners_are_suspended_never_deleted(staff_browser):
    partner = PartnerFactory()

    assert staff_browser.post(f"/admin/accounts/partner/{partner.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Partner.objects.filter(pk=partner.pk).exists()
