"""The API access services: keys made, rotated and revoked; partner keys and the grants that let them in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.audit import SYSTEM, Actor, KeyAccess
from accounts.models import ApiKey, AuditEvent, PartnerGrant
from accounts.roles import Capability
from accounts.scopes import Scope
from accounts.services_api import (
    ROTATION_GRACE,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    hash_secret,
    key_matching,
    partner_grant_create,
    partner_grant_revoke,
    partner_key_create,
    split_key,
)
from accounts.tests.factories import ApiKeyFactory, PartnerFactory, PartnerGrantFactory, UserFactory

pytestmark = pytest.mark.django_db

READ = [Scope.EVIDENCE_READ.value, Scope.READINESS_READ.value]


def as_user(user) -> Actor:
    return Actor(user=user, ip_address="203.0.113.9")


def travel(monkeypatch, delta: timedelta) -> None:
    """Move every `timezone.now()` call (models, services) forward by `delta`."""
    moment = timezone.now() + delta
    monkeypatch.setattr(timezone, "now", lambda: moment)


def create(personas, **overrides):
    values = {
        "organisation": personas.organisation,
        "name": "Xero sync",
        "scopes": READ,
        "expires_at": None,
        "actor": as_user(personas.owner),
    }
    return api_key_create(**{**values, **overrides})


# --- Creating ---------------------------------------------------------------------------------------
def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(personas):
    issued = create(personas, name="  Xero sync  ", scopes=[Scope.EVIDENCE_READ, Scope.READINESS_READ, "nonsense"])

    key = ApiKey.objects.get()
    assert split_key(issued.secret) == (key.prefix, issued.secret)
    assert key.prefix.startswith("glk_")
    assert len(key.prefix) == 12
    assert key.secret_hash == hash_secret(issued.secret) != issued.secret
    assert issued.secret not in repr(issued)
    assert (key.name, key.scopes, key.created_by) == ("Xero sync", ["evidence:read", "readiness:read"], personas.owner)
    assert key_matching(issued.secret) == key
    assert key_matching(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None


def test_creating_a_key_is_audited_without_its_secret(personas):
    issued = create(personas)

    event = AuditEvent.objects.get(action="api_key.created")
    assert event.organisation == personas.organisation
    assert (event.actor, event.ip_address) == (personas.owner, "203.0.113.9")
    assert event.summary == f"Created the API key Xero sync ({issued.key.prefix}) with evidence:read, readiness:read"
    assert issued.secret not in event.summary
    assert (event.object_type, event.object_id) == ("accounts.apikey", str(issued.key.pk))


def test_admins_may_create_keys(personas):
    assert create(personas, actor=as_user(personas.admin)).key.created_by == personas.admin


@pytest.mark.parametrize("role", ["member", "viewer", "consultant", "outsider"])
def test_only_owners_and_admins_may_create_keys(personas, role):
    with pytest.raises(PermissionDenied):
        create(personas, actor=as_user(getattr(personas, role)))
    assert not ApiKey.objects.exists()


def test_a_key_cannot_make_keys(personas):
    acting_key = KeyAccess(
        key_id=1,
        label="API key Robot (glk_00000001)",
        organisation_id=personas.organisation.pk,
        capabilities=frozenset({Capability.VIEW, Capability.EDIT}),
    )
    with pytest.raises(PermissionDenied):
        create(personas, actor=Actor(user=None, key=acting_key))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["nonsense:read"]}, "scopes"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expires_at"),
    ],
)
def test_a_key_needs_a_name_scopes_and_a_future_expiry(personas, overrides, field):
    with pytest.raises(ValidationError) as refused:
        create(personas, **overrides)

    assert field in refused.value.message_dict
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(action="api_key.created").exists()


# --- Rotating ---------------------------------------------------------------------------------------
def test_rotation_issues_a_twin_and_the_old_key_works_until_the_grace_ends(personas, monkeypatch):
    expiry = timezone.now() + timedelta(days=30)
    old = create(personas, expires_at=expiry)

    new = api_key_rotate(key=old.key, actor=as_user(personas.admin))

    old.key.refresh_from_db()
    assert new.secret != old.secret
    assert (new.key.name, new.key.scopes, new.key.expires_at) == ("Xero sync", READ, expiry)
    assert new.key.rotated_from == old.key
    assert new.key.created_by == personas.admin
    assert (
        timezone.now() + ROTATION_GRACE - timedelta(seconds=5) < old.key.expires_at <= timezone.now() + ROTATION_GRACE
    )
    event = AuditEvent.objects.get(action="api_key.rotated")
    assert event.summary.startswith(f"Rotated the API key Xero sync: {new.key.prefix} replaces {old.key.prefix}")
    assert old.secret not in event.summary
    assert new.secret not in event.summary

    travel(monkeypatch, ROTATION_GRACE - timedelta(minutes=1))
    assert key_matching(old.secret).is_usable
    travel(monkeypatch, timedelta(minutes=2))
    assert not key_matching(old.secret).is_usable
    assert key_matching(new.secret).is_usable


def test_rotation_keeps_an_old_key_that_expires_within_the_grace_on_its_own_expiry(personas):
    soon = timezone.now() + timedelta(hours=2)
    old = create(personas, expires_at=soon)

    api_key_rotate(key=old.key, actor=as_user(personas.owner))

    old.key.refresh_from_db()
    assert old.key.expires_at == soon


def test_a_key_is_rotated_only_once(personas):
    old = create(personas)
    api_key_rotate(key=old.key, actor=as_user(personas.owner))

    with pytest.raises(ValidationError, match="already been rotated"):
        api_key_rotate(key=old.key, actor=as_user(personas.owner))
    assert ApiKey.objects.count() == 2


def test_a_revoked_or_expired_key_cannot_be_rotated(personas):
    revoked = ApiKeyFactory(organisation=personas.organisation, revoked_at=timezone.now())
    expired = ApiKeyFactory(organisation=personas.organisation, expires_at=timezone.now() - timedelta(seconds=1))

    for key in (revoked, expired):
        with pytest.raises(ValidationError, match="Only an active key"):
            api_key_rotate(key=key, actor=as_user(personas.owner))
    assert ApiKey.objects.count() == 2


@pytest.mark.parametrize("role", ["member", "viewer", "consultant", "outsider"])
def test_only_owners_and_admins_may_rotate_or_revoke(personas, role):
    key = ApiKeyFactory(organisation=personas.organisation)
    actor = as_user(getattr(personas, role))

    with pytest.raises(PermissionDenied):
        api_key_rotate(key=key, actor=actor)
    with pytest.raises(PermissionDenied):
        api_key_revoke(key=key, actor=actor)
    key.refresh_from_db()
    assert key.is_usable
    assert ApiKey.objects.count() == 1


# --- Revoking ---------------------------------------------------------------------------------------
def test_revoking_stops_the_key_at_once_and_is_audited_once(personas):
    issued = create(personas)

    api_key_revoke(key=issued.key, actor=as_user(personas.owner))
    api_key_revoke(key=issued.key, actor=as_user(personas.owner))

    key = key_matching(issued.secret)
    assert key.status == "revoked"
    assert not key.is_usable
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert event.summary == f"Revoked the API key Xero sync ({key.prefix})"


def test_greenlight_staff_may_revoke_an_organisations_key_and_the_organisation_sees_who(personas):
    key = ApiKeyFactory(organisation=personas.organisation)
    staff = UserFactory(email="support@greenlight.example", is_staff=True)

    api_key_revoke(key=key, actor=as_user(staff))

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.get(action="api_key.revoked").actor_label == "support@greenlight.example"


# --- Partners ---------------------------------------------------------------------------------------
def test_a_partner_key_has_every_scope_unless_told_and_no_organisation(personas):
    partner = PartnerFactory()

    issued = partner_key_create(partner=partner, name="Production sync")
    narrow = partner_key_create(partner=partner, name="Reports only", scopes=[Scope.REPORTS_READ])

    assert issued.key.organisation is None
    assert issued.key.partner == partner
    assert set(issued.key.scopes) == {scope.value for scope in Scope}
    assert narrow.key.scopes == ["reports:read"]
    assert key_matching(issued.secret) == issued.key
    assert not AuditEvent.objects.exists()  # no organisation to tell; the admin keeps its own log


def test_organisations_cannot_rotate_or_revoke_a_partners_key(personas):
    key = ApiKeyFactory(organisation=None, partner=PartnerFactory())

    with pytest.raises(PermissionDenied):
        api_key_revoke(key=key, actor=as_user(personas.owner))
    with pytest.raises(PermissionDenied):
        api_key_rotate(key=key, actor=as_user(personas.owner))
    staff = UserFactory(is_staff=True)
    assert api_key_rotate(key=key, actor=as_user(staff)).key.partner == key.partner
    assert api_key_revoke(key=key, actor=SYSTEM).revoked_at is not None


def test_granting_a_partner_access_is_audited_and_changing_it_updates_the_same_grant(personas):
    partner = PartnerFactory(name="Northwind IT")

    grant = partner_grant_create(
        organisation=personas.organisation, partner=partner, scopes=READ, actor=as_user(personas.owner)
    )
    changed = partner_grant_create(
        organisation=personas.organisation,
        partner=partner,
        scopes=[Scope.TASKS_WRITE],
        actor=as_user(personas.admin),
    )

    assert changed.pk == grant.pk
    assert changed.scopes == ["tasks:write"]
    assert changed.granted_by == personas.owner
    assert PartnerGrant.objects.count() == 1
    summaries = list(
        AuditEvent.objects.filter(action__startswith="partner_grant.").order_by("id").values_list("action", "summary")
    )
    assert summaries == [
        ("partner_grant.created", "Gave Northwind IT API access: evidence:read, readiness:read"),
        ("partner_grant.changed", "Changed Northwind IT API access: tasks:write"),
    ]


def test_revoking_a_grant_ends_it_and_a_new_grant_starts_afresh(personas):
    partner = PartnerFactory(name="Northwind IT")
    grant = partner_grant_create(
        organisation=personas.organisation, partner=partner, scopes=READ, actor=as_user(personas.owner)
    )

    revoked = partner_grant_revoke(grant=grant, actor=as_user(personas.admin))
    partner_grant_revoke(grant=grant, actor=as_user(personas.admin))

    assert revoked.revoked_by == personas.admin
    assert not revoked.is_active
    assert not PartnerGrant.objects.active().exists()
    assert AuditEvent.objects.filter(action="partner_grant.revoked").count() == 1
    again = partner_grant_create(
        organisation=personas.organisation, partner=partner, scopes=READ, actor=as_user(personas.owner)
    )
    assert again.pk != grant.pk
    assert again.is_active


def test_an_inactive_partner_cannot_be_given_access(personas):
    partner = PartnerFactory(is_active=False)

    with pytest.raises(ValidationError) as refused:
        partner_grant_create(
            organisation=personas.organisation, partner=partner, scopes=READ, actor=as_user(personas.owner)
        )
    assert "partner" in refused.value.message_dict


def test_a_grant_needs_a_scope(personas):
    with pytest.raises(ValidationError) as refused:
        partner_grant_create(
            organisation=personas.organisation, partner=PartnerFactory(), scopes=[], actor=as_user(personas.owner)
        )
    assert "scopes" in refused.value.message_dict
    assert not PartnerGrant.objects.exists()


@pytest.mark.parametrize("role", ["member", "viewer", "consultant", "outsider"])
def test_only_owners_and_admins_may_grant_or_revoke_partner_access(personas, role):
    actor = as_user(getattr(personas, role))
    grant = PartnerGrantFactory(organisation=personas.organisation)

    with pytest.raises(PermissionDenied):
        partner_grant_create(organisation=personas.organisation, partner=PartnerFactory(), scopes=READ, actor=actor)
    with pytest.raises(PermissionDenied):
        partner_grant_revoke(grant=grant, actor=actor)
    grant.refresh_from_db()
    assert grant.is_active
    assert PartnerGrant.objects.count() == 1
