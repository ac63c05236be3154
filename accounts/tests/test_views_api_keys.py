"""The API keys and partners settings pages, driven the way a browser (or htmx) drives them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import ApiKey, AuditEvent, PartnerGrant
from accounts.scopes import READ_SCOPES, Scope
from accounts.services_api import hash_secret
from accounts.tests.factories import (
    ApiKeyFactory,
    PartnerFactory,
    PartnerGrantFactory,
    UserFactory,
    api_secret,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
KEYS = "/settings/api-keys/"
PARTNERS = "/settings/partners/"
SECRET = re.compile(r"glk_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}")
REQUEST_BASELINE = 3  # session, user, memberships


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


def new_key(browser, headers=None, **overrides):
    data = {"name": "Xero sync", "scopes": [Scope.READINESS_READ, Scope.EVIDENCE_READ], "expiry": "never"}
    return browser.post(f"{KEYS}new/", {**data, **overrides}, **(headers or {}))


def secrets_in(response) -> list[str]:
    return SECRET.findall(response.content.decode())


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


# --- Who may see the pages ------------------------------------------------------------------------
@pytest.mark.parametrize("page", [KEYS, PARTNERS])
@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("viewer", 403), ("consultant", 403)]
)
def test_only_owners_and_admins_see_the_pages(personas, client_for, page, role, status):
    assert client_for(getattr(personas, role)).get(page).status_code == status


@pytest.mark.parametrize("page", [KEYS, PARTNERS])
def test_signed_out_people_are_sent_to_sign_in(client_for, page):
    response = client_for(None).get(page)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("page", [KEYS, PARTNERS])
def test_people_without_an_organisation_are_sent_to_create_one(client_for, page):
    response = client_for(UserFactory()).get(page)

    assert (response.status_code, response["Location"]) == (302, "/organisations/new/")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", KEYS),
        ("get", f"{KEYS}new/"),
        ("get", f"{KEYS}{{key}}/rotate/"),
        ("get", f"{KEYS}{{key}}/revoke/"),
        ("post", PARTNERS),
        ("get", f"{PARTNERS}grant/"),
        ("get", f"{PARTNERS}{{grant}}/scopes/"),
        ("get", f"{PARTNERS}{{grant}}/revoke/"),
    ],
)
def test_wrong_methods_are_refused(personas, owner_browser, method, url):
    key = ApiKeyFactory(organisation=personas.organisation)
    grant = PartnerGrantFactory(organisation=personas.organisation)

    response = getattr(owner_browser, method)(url.format(key=key.pk, grant=grant.pk))

    assert response.status_code == 405


@pytest.mark.parametrize("action", ["rotate", "revoke"])
@pytest.mark.parametrize("role", ["member", "viewer", "consultant"])
def test_members_without_administer_cannot_rotate_or_revoke(personas, client_for, action, role):
    key = ApiKeyFactory(organisation=personas.organisation)

    response = client_for(getattr(personas, role)).post(f"{KEYS}{key.pk}/{action}/")

    assert response.status_code == 403
    key.refresh_from_db()
    assert key.is_usable
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("role", ["member", "viewer", "consultant"])
def test_members_without_administer_cannot_create_keys_or_grant_access(personas, client_for, role):
    browser = client_for(getattr(personas, role))
    partner = PartnerFactory()

    assert new_key(browser).status_code == 403
    assert browser.post(f"{PARTNERS}grant/", {"partner": partner.pk, "scopes": ["readiness:read"]}).status_code == 403
    assert not ApiKey.objects.exists()
    assert not PartnerGrant.objects.exists()


@pytest.mark.parametrize("action", ["rotate", "revoke"])
def test_another_organisations_keys_cannot_be_touched(personas, client_for, action):
    acme_key = ApiKeyFactory(organisation=personas.organisation)
    partner_key = ApiKeyFactory(organisation=None, partner=PartnerFactory())
    outsider = client_for(personas.outsider)

    assert outsider.post(f"{KEYS}{acme_key.pk}/{action}/").status_code == 404
    assert client_for(personas.owner).post(f"{KEYS}{partner_key.pk}/{action}/").status_code == 404
    assert outsider.post(f"{KEYS}999999/{action}/").status_code == 404
    assert outsider.post(f"{KEYS}abc/{action}/").status_code == 404
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2
    assert acme_key.name not in outsider.get(KEYS).content.decode()


@pytest.mark.parametrize("action", ["scopes", "revoke"])
def test_another_organisations_grants_cannot_be_touched(personas, client_for, action):
    grant = PartnerGrantFactory(organisation=personas.organisation, scopes=["readiness:read"])

    response = client_for(personas.outsider).post(f"{PARTNERS}{grant.pk}/{action}/", {"scopes": ["audit:read"]})

    assert response.status_code == 404
    grant.refresh_from_db()
    assert grant.is_active
    assert grant.scopes == ["readiness:read"]


# --- Creating a key -------------------------------------------------------------------------------
def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(personas, owner_browser):
    response = new_key(owner_browser)

    assert response.status_code == 200
    assert response.context["section"] == "api_keys"
    [secret] = set(secrets_in(response))
    page = response.content.decode()
    assert "Copy this key now: you will not see it again" in page
    assert (
        f'curl -H "Authorization: Bearer {secret}" http://testserver/api/v1/organisations/acme-bakery/readiness/'
        in page
    )
    assert 'href="/api/docs/"' in page
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    assert key.secret_hash == hash_secret(secret) != secret
    assert secret[:12] == key.prefix
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["API key Xero sync created."]
    assert secret not in str(dict(owner_browser.session))
    assert secret not in str(owner_browser.cookies)
    assert not AuditEvent.objects.filter(summary__contains=secret).exists()

    later = owner_browser.get(KEYS)
    assert secrets_in(later) == []
    assert key.prefix in later.content.decode()


def test_a_key_created_with_htmx_comes_back_in_the_fragment(personas, owner_browser):
    response = new_key(owner_browser, headers=HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="api-keys">')
    assert len(set(secrets_in(response))) == 1
    assert "API key Xero sync created." in body  # the message, out of band
    assert "no-store" in response["Cache-Control"]


def test_the_created_key_works_against_the_api_until_it_is_revoked(personas, owner_browser, client):
    [secret] = set(secrets_in(new_key(owner_browser)))

    response = client.get("/api/v1/organisations/acme-bakery/", **bearer(secret))
    assert response.status_code == 200
    assert sorted(response.json()["scopes"]) == ["evidence:read", "readiness:read"]

    key = ApiKey.objects.get()
    revoked = owner_browser.post(f"{KEYS}{key.pk}/revoke/")
    assert (revoked.status_code, revoked["Location"]) == (302, KEYS)
    assert client.get("/api/v1/organisations/acme-bakery/", **bearer(secret)).status_code == 401
    assert AuditEvent.objects.filter(action="api_key.revoked", actor=personas.owner).count() == 1


@pytest.mark.parametrize(("expiry", "days"), [("30", 30), ("90", 90), ("365", 365)])
def test_a_key_can_expire_after_a_chosen_period(personas, owner_browser, expiry, days):
    new_key(owner_browser, expiry=expiry)

    expires_at = ApiKey.objects.get().expires_at
    assert abs(expires_at - (timezone.now() + timedelta(days=days))) < timedelta(minutes=1)


def test_a_key_can_expire_at_the_end_of_a_chosen_day(personas, owner_browser):
    day = timezone.localdate() + timedelta(days=10)

    new_key(owner_browser, expiry="date", expires_on=day.isoformat())

    expires_at = timezone.localtime(ApiKey.objects.get().expires_at)
    assert (expires_at.date(), expires_at.hour, expires_at.minute) == (day, 23, 59)


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"scopes": []}, "scopes", "Choose at least one scope."),
        ({"name": "  "}, "name", "Give the key a name."),
        ({"expiry": "date"}, "expires_on", "Choose the date the key stops working."),
        ({"expiry": "date", "expires_on": date(2020, 1, 1).isoformat()}, "expires_on", "Choose a date after today."),
        ({"expiry": "forever"}, "expiry", "Select a valid choice."),
    ],
)
def test_a_refused_key_shows_the_error_and_keeps_what_was_typed(personas, owner_browser, overrides, field, error):
    response = new_key(owner_browser, **{"name": "Stock script", **overrides})

    assert response.status_code == 400
    assert error in str(response.context["form"].errors[field])
    page = response.content.decode()
    assert 'class="form-errors"' in page
    if overrides.get("name") is None:
        assert 'value="Stock script"' in page
    assert not ApiKey.objects.exists()
    assert secrets_in(response) == []


def test_a_refused_key_with_htmx_swaps_in_the_form_with_its_errors(personas, owner_browser):
    response = new_key(owner_browser, scopes=[], headers=HTMX)

    assert response.status_code == 200  # htmx swaps only 2xx responses
    assert "Choose at least one scope." in response.content.decode()
    assert 'value="Xero sync"' in response.content.decode()


def test_the_form_ticks_what_was_chosen_after_an_error(personas, owner_browser):
    response = new_key(owner_browser, name="", scopes=["audit:read"])

    assert re.search(r'<input[^>]*value="audit:read"[^>]*checked', response.content.decode())


# --- Listing, rotating and revoking ---------------------------------------------------------------
def test_the_list_shows_each_keys_details_with_retired_keys_below(personas, owner_browser):
    used = timezone.now() - timedelta(hours=3)
    ApiKeyFactory(organisation=personas.organisation, name="Stock script", created_by=personas.admin, last_used_at=used)
    ApiKeyFactory(organisation=personas.organisation, name="Old revoked", revoked_at=timezone.now())
    ApiKeyFactory(organisation=personas.organisation, name="Old expired", expires_at=timezone.now() - timedelta(days=1))
    ApiKeyFactory(organisation=personas.organisation, name="Never used", expires_at=timezone.now() + timedelta(days=9))
    ApiKeyFactory(organisation=personas.other_organisation, name="Rival key")

    response = owner_browser.get(KEYS)

    assert [key.name for key in response.context["active_keys"]] == ["Never used", "Stock script"]
    assert [key.name for key in response.context["retired_keys"]] == ["Old expired", "Old revoked"]
    page = response.content.decode()
    assert "Rival key" not in page
    assert page.index("Never used") < page.index("Stock script") < page.index("Old expired")
    assert "3\xa0hours ago" in page
    assert "Never</td>" in page
    assert f"by {personas.admin.display_name}" in page
    assert '<span class="badge badge-danger">Revoked</span>' in page
    assert '<span class="badge badge-warning">Expired</span>' in page
    retired = page[page.index('<tbody class="key-retired">') :]
    assert "Old expired" in retired
    assert "Old revoked" in retired
    assert "Stock script" not in retired


def test_rotating_shows_the_new_key_once_and_the_old_one_keeps_working(personas, owner_browser, client):
    old = ApiKeyFactory(organisation=personas.organisation, name="Stock script", scopes=["readiness:read"])

    response = owner_browser.post(f"{KEYS}{old.pk}/rotate/", **HTMX)

    [secret] = set(secrets_in(response))
    new = ApiKey.objects.get(rotated_from=old)
    assert new.secret_hash == hash_secret(secret)
    page = response.content.decode()
    assert f"The old key, <code>{old.prefix}</code>, keeps working for 24 hours" in page
    assert "no-store" in response["Cache-Control"]
    assert client.get("/api/v1/organisations/acme-bakery/", **bearer(api_secret(old))).status_code == 200
    assert client.get("/api/v1/organisations/acme-bakery/", **bearer(secret)).status_code == 200
    later = owner_browser.get(KEYS)
    assert secrets_in(later) == []
    assert f"Replaced by <code>{new.prefix}</code>" in later.content.decode()


def test_rotating_a_key_twice_is_refused_with_a_message(personas, owner_browser):
    old = ApiKeyFactory(organisation=personas.organisation)
    owner_browser.post(f"{KEYS}{old.pk}/rotate/")

    response = owner_browser.post(f"{KEYS}{old.pk}/rotate/", follow=True)

    assert "already been rotated" in response.content.decode()
    assert ApiKey.objects.count() == 2


def test_revoking_with_htmx_returns_the_updated_list(personas, owner_browser):
    key = ApiKeyFactory(organisation=personas.organisation, name="Stock script")

    response = owner_browser.post(f"{KEYS}{key.pk}/revoke/", **HTMX)

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="api-keys">')
    assert [k.name for k in response.context["retired_keys"]] == ["Stock script"]
    assert "API key Stock script revoked." in response.content.decode()


@pytest.mark.parametrize("count", [1, 10])
def test_the_keys_page_does_not_grow_with_keys(personas, owner_browser, django_assert_num_queries, count):
    ApiKeyFactory.create_batch(count, organisation=personas.organisation, created_by=personas.admin)
    ApiKeyFactory.create_batch(count, organisation=personas.organisation, revoked_at=timezone.now())
    for _ in range(count):  # rotated keys, each with its successor
        ApiKeyFactory(
            organisation=personas.organisation, rotated_from=ApiKeyFactory(organisation=personas.organisation)
        )

    with django_assert_num_queries(REQUEST_BASELINE + 1):  # + the keys, with their makers and successors
        response = owner_browser.get(KEYS)
    assert len(response.context["active_keys"]) + len(response.context["retired_keys"]) == 4 * count


# --- Partners -------------------------------------------------------------------------------------
def test_giving_a_partner_access_lets_its_keys_in_and_revoking_shuts_them_out(personas, owner_browser, client):
    partner = PartnerFactory(name="Northwind IT")
    partner_key = ApiKeyFactory(organisation=None, partner=partner)
    url = "/api/v1/organisations/acme-bakery/"
    assert client.get(url, **bearer(api_secret(partner_key))).status_code == 404

    response = owner_browser.post(f"{PARTNERS}grant/", {"partner": partner.pk, "scopes": ["readiness:read"]})

    assert (response.status_code, response["Location"]) == (302, PARTNERS)
    grant = PartnerGrant.objects.get()
    assert (grant.organisation, grant.scopes, grant.granted_by) == (
        personas.organisation,
        ["readiness:read"],
        personas.owner,
    )
    answer = client.get(url, **bearer(api_secret(partner_key)))
    assert (answer.status_code, answer.json()["scopes"]) == (200, ["readiness:read"])

    revoked = owner_browser.post(f"{PARTNERS}{grant.pk}/revoke/", **HTMX)
    assert revoked.status_code == 200
    assert "Their keys stop working for Acme Bakery Ltd." in revoked.content.decode()
    assert client.get(url, **bearer(api_secret(partner_key))).status_code == 404


def test_the_grant_form_offers_active_partners_without_access_and_ticks_read_scopes(personas, owner_browser):
    PartnerFactory(name="Suspended Ltd", is_active=False)
    PartnerGrantFactory(organisation=personas.organisation, partner=PartnerFactory(name="Already In LLP"))
    PartnerGrantFactory(organisation=personas.other_organisation, partner=PartnerFactory(name="Northwind IT"))

    response = owner_browser.get(PARTNERS)

    form = response.context["form"]
    assert [label for _, label in form.fields["partner"].choices] == ["Choose a partner", "Northwind IT"]
    page = response.content.decode()
    for scope in Scope:
        ticked = re.search(rf'<input[^>]*value="{scope.value}" id="id_scopes_\d+" checked>', page)
        assert bool(ticked) == (scope in READ_SCOPES), scope


def test_an_unavailable_partner_cannot_be_chosen(personas, owner_browser):
    suspended = PartnerFactory(is_active=False)
    PartnerFactory(name="Northwind IT")

    response = owner_browser.post(f"{PARTNERS}grant/", {"partner": suspended.pk, "scopes": ["readiness:read"]})

    assert response.status_code == 400
    assert "Choose a partner from the list." in response.content.decode()
    assert not PartnerGrant.objects.exists()


def test_a_grant_needs_a_scope_and_keeps_the_chosen_partner(personas, owner_browser):
    partner = PartnerFactory(name="Northwind IT")

    response = owner_browser.post(f"{PARTNERS}grant/", {"partner": partner.pk}, **HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose at least one scope." in page
    assert f'<option value="{partner.pk}" selected>Northwind IT</option>' in page
    assert not PartnerGrant.objects.exists()


def test_changing_a_partners_scopes(personas, owner_browser):
    grant = PartnerGrantFactory(organisation=personas.organisation, scopes=["readiness:read"])

    response = owner_browser.post(f"{PARTNERS}{grant.pk}/scopes/", {"scopes": ["tasks:read", "tasks:write"]})

    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.scopes == ["tasks:read", "tasks:write"]
    assert AuditEvent.objects.filter(action="partner_grant.changed").exists()


def test_changing_scopes_to_none_is_refused_in_that_grants_form(personas, owner_browser):
    grant = PartnerGrantFactory(organisation=personas.organisation, scopes=["readiness:read"])
    other = PartnerGrantFactory(organisation=personas.organisation)

    response = owner_browser.post(f"{PARTNERS}{grant.pk}/scopes/", {"scopes": []}, **HTMX)

    page = response.content.decode()
    assert "Choose at least one scope." in page
    assert response.context["changing_id"] == grant.pk
    assert re.search(r'<details class="disclosure grant-change" open>', page)
    assert page.count("<details") == 2
    assert page.count(" open>") == 1
    assert other.pk != grant.pk
    grant.refresh_from_db()
    assert grant.scopes == ["readiness:read"]


def test_a_revoked_grant_cannot_have_its_scopes_changed(personas, owner_browser):
    grant = PartnerGrantFactory(
        organisation=personas.organisation, revoked_at=timezone.now(), scopes=["readiness:read"]
    )

    response = owner_browser.post(f"{PARTNERS}{grant.pk}/scopes/", {"scopes": ["audit:read"]}, follow=True)

    assert "access was revoked" in response.content.decode()
    grant.refresh_from_db()
    assert grant.scopes == ["readiness:read"]
    assert not PartnerGrant.objects.filter(revoked_at__isnull=True).exists()


def test_the_partners_page_lists_standing_grants_then_past_ones(personas, owner_browser):
    PartnerGrantFactory(
        organisation=personas.organisation, partner=PartnerFactory(name="Northwind IT"), granted_by=personas.admin
    )
    PartnerGrantFactory(
        organisation=personas.organisation,
        partner=PartnerFactory(name="Old Partner LLP"),
        revoked_at=timezone.now(),
        revoked_by=personas.owner,
    )

    response = owner_browser.get(PARTNERS)

    assert [g.partner.name for g in response.context["active_grants"]] == ["Northwind IT"]
    assert [g.partner.name for g in response.context["past_grants"]] == ["Old Partner LLP"]
    page = response.content.decode()
    listed = page[page.index("Partners with access") :]
    assert listed.index("Northwind IT") < listed.index("Past access") < listed.index("Old Partner LLP")
    assert f"by {personas.admin.display_name}" in page
    assert f"by {personas.owner.display_name}" in page
    assert "stop working for Acme Bakery Ltd immediately" in page


@pytest.mark.parametrize("count", [1, 10])
def test_the_partners_page_does_not_grow_with_grants(personas, owner_browser, django_assert_num_queries, count):
    PartnerFactory.create_batch(count)
    PartnerGrantFactory.create_batch(count, organisation=personas.organisation, granted_by=personas.admin)
    PartnerGrantFactory.create_batch(
        count, organisation=personas.organisation, revoked_at=timezone.now(), revoked_by=personas.owner
    )

    with django_assert_num_queries(REQUEST_BASELINE + 2):  # + the partners to offer, and the grants
        response = owner_browser.get(PARTNERS)
    assert len(response.context["active_grants"]) == count
