"""Writes to the API's access records: organisations' keys, partners' keys, partner grants.

A key is shown once, when it is made (`IssuedKey.secret`); only its SHA-256 is kept. Keys carry 190
bits of randomness, so a fast hash is enough: there is nothing to brute-force that a slow hash would
protect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import SYSTEM, Actor, audit_record
from accounts.models import ApiKey, Organisation, Partner, PartnerGrant
from accounts.roles import Capability
from accounts.scopes import Scope, parse_scopes
from config.formatting import long_date

KEY_MARK = "glk_"
ALPHABET = string.ascii_letters + string.digits
# After a rotation the old key keeps working this long, so running scripts can switch over.
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    # The whole key, e.g. glk_Ab12Cd34_...; never stored, shown once, and kept out of reprs (tracebacks, logs).
    secret: str = field(repr=False)


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    """(prefix, whole key) for a well-formed key, else None. The prefix is `glk_` and 8 characters."""
    if not raw.startswith(KEY_MARK) or len(raw) != len(KEY_MARK) + 8 + 1 + 32 or raw[len(KEY_MARK) + 8] != "_":
        return None
    return raw[: len(KEY_MARK) + 8], raw


def key_matching(raw: str) -> ApiKey | None:
    """The stored key this secret belongs to, whatever its state, or None."""
    parts = split_key(raw)
    if parts is None:
        return None
    prefix, whole = parts
    key = ApiKey.objects.select_related("organisation", "partner").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(whole)):
        return None
    return key


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = parse_scopes(scopes)
    if not chosen:
        raise ValidationError({"scopes": "Choose at least one scope."})
    return sorted(scope.value for scope in chosen)


def _new_key(*, name: str, scopes: list[str], expires_at: datetime | None, actor: Actor, **holder: object) -> IssuedKey:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry date must be in the future."})
    prefix = KEY_MARK + _random(8)
    while ApiKey.objects.filter(prefix=prefix).exists():  # 62^8 prefixes: a clash is vanishingly rare
        prefix = KEY_MARK + _random(8)
    secret = f"{prefix}_{_random(32)}"
    key = ApiKey(
        name=name.strip(),
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=scopes,
        expires_at=expires_at,
        created_by=actor.user,
        **holder,
    )
    key.full_clean()
    key.save()
    return IssuedKey(key=key, secret=secret)


def _administer(organisation: Organisation, actor: Actor) -> None:
    from accounts.access import require_actor

    if actor.key is not None:
        raise PermissionDenied("API keys are managed in Greenlight's settings, not through the API.")
    require_actor(organisation, actor, Capability.ADMINISTER, what="API keys")


def _greenlight_staff(actor: Actor) -> bool:
    return actor.key is None and actor.user is not None and actor.user.is_staff


def _manage(key: ApiKey, actor: Actor) -> None:
    """Who may rotate or revoke a key: an organisation's key, its owners and admins (or Greenlight staff,
    say for a leaked key); a partner's key, Greenlight staff or the system, never an organisation."""
    if key.organisation_id:
        if not _greenlight_staff(actor):
            _administer(key.organisation, actor)  # type: ignore[arg-type]
    elif not (_greenlight_staff(actor) or (actor.user is None and actor.key is None)):
        raise PermissionDenied("A partner's keys are managed by Greenlight staff.")


@transaction.atomic
def api_key_create(
    *, organisation: Organisation, name: str, scopes: Iterable[str], expires_at: datetime | None, actor: Actor
) -> IssuedKey:
    _administer(organisation, actor)
    issued = _new_key(
        name=name, scopes=_clean_scopes(scopes), expires_at=expires_at, actor=actor, organisation=organisation
    )
    audit_record(
        organisation=organisation,
        actor=actor,
        action="api_key.created",
        summary=f"Created the API key {issued.key.name} ({issued.key.prefix}) with {', '.join(issued.key.scopes)}",
        target=issued.key,
    )
    return issued


def _lock(key: ApiKey) -> ApiKey:
    return ApiKey.objects.select_for_update().get(pk=key.pk)


@transaction.atomic
def api_key_rotate(*, key: ApiKey, actor: Actor, grace: timedelta = ROTATION_GRACE) -> IssuedKey:
    """A new key with the same name, scopes and expiry; the old one stops after `grace`."""
    holder = {"organisation": key.organisation} if key.organisation_id else {"partner": key.partner}
    _manage(key, actor)
    key = _lock(key)
    if not key.is_usable:
        raise ValidationError("Only an active key can be rotated.")
    # A key is replaced once: rotating it again in its grace period would leave two live successors.
    if ApiKey.objects.filter(rotated_from=key).exists():
        raise ValidationError("This key has already been rotated; rotate its replacement instead.")
    issued = _new_key(name=key.name, scopes=list(key.scopes), expires_at=key.expires_at, actor=actor, **holder)
    issued.key.rotated_from = key
    issued.key.save(update_fields=["rotated_from"])
    cutoff = timezone.now() + grace
    if key.expires_at is None or key.expires_at > cutoff:
        key.expires_at = cutoff
        key.save(update_fields=["expires_at"])
    if key.organisation_id:
        audit_record(
            organisation=key.organisation,  # type: ignore[arg-type]
            actor=actor,
            action="api_key.rotated",
            summary=f"Rotated the API key {key.name}: {issued.key.prefix} replaces {key.prefix}, "
            f"which stops working at {stops_at(key)}",
            target=issued.key,
        )
    return issued


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    _manage(key, actor)
    key = _lock(key)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        if key.organisation_id:
            audit_record(
                organisation=key.organisation,  # type: ignore[arg-type]
                actor=actor,
                action="api_key.revoked",
                summary=f"Revoked the API key {key.name} ({key.prefix})",
                target=key,
            )
    return key


def stops_at(key: ApiKey) -> str:
    """When a key stops working, for people: "14:05 on 23 November 2026" (local time)."""
    if key.expires_at is None:
        return "never"
    local = timezone.localtime(key.expires_at)
    return f"{local:%H:%M} on {long_date(local.date())}"


def api_key_touch(key: ApiKey) -> None:
    """Record use, at most once a minute per key, so a busy script does not write on every request."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


# --- Partners --------------------------------------------------------------------------------------
@transaction.atomic
def partner_key_create(
    *,
    partner: Partner,
    name: str,
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    actor: Actor = SYSTEM,
) -> IssuedKey:
    """A key for a partner, made by Greenlight staff in the admin. It defaults to every scope: what it
    may do in an organisation is always narrowed to what that organisation granted."""
    chosen = _clean_scopes(scopes if scopes is not None else [scope.value for scope in Scope])
    return _new_key(name=name, scopes=chosen, expires_at=expires_at, actor=actor, partner=partner)


@transaction.atomic
def partner_grant_create(
    *, organisation: Organisation, partner: Partner, scopes: Iterable[str], actor: Actor
) -> PartnerGrant:
    _administer(organisation, actor)
    if not partner.is_active:
        raise ValidationError({"partner": "That partner is not accepting new organisations."})
    existing = (
        PartnerGrant.objects.select_for_update()
        .filter(organisation=organisation, partner=partner, revoked_at__isnull=True)
        .first()
    )
    grant = existing or PartnerGrant(organisation=organisation, partner=partner, granted_by=actor.user)
    grant.scopes = _clean_scopes(scopes)
    grant.full_clean()
    grant.save()
    audit_record(
        organisation=organisation,
        actor=actor,
        action="partner_grant.changed" if existing else "partner_grant.created",
        summary=f"{'Changed' if existing else 'Gave'} {partner.name} API access: {', '.join(grant.scopes)}",
        target=grant,
    )
    return grant


@transaction.atomic
def partner_grant_revoke(*, grant: PartnerGrant, actor: Actor) -> PartnerGrant:
    _administer(grant.organisation, actor)
    grant = PartnerGrant.objects.select_for_update().select_related("partner", "organisation").get(pk=grant.pk)
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.revoked_by = actor.user
        grant.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            organisation=grant.organisation,
            actor=actor,
            action="partner_grant.revoked",
            summary=f"Revoked {grant.partner.name}'s API access",
            target=grant,
        )
    return grant


@transaction.atomic
def partner_set_active(*, partner: Partner, active: bool, actor: Actor) -> Partner:
    """Suspend or reactivate a partner (Greenlight staff only). Every organisation that granted it access
    hears of it in its audit log: a suspension stops the partner's keys there too."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.is_active == active:
        return partner
    partner.is_active = active
    partner.save(update_fields=["is_active"])
    grants = PartnerGrant.objects.filter(partner=partner, revoked_at__isnull=True).select_related("organisation")
    for grant in grants:
        audit_record(
            organisation=grant.organisation,
            actor=actor,
            action="partner.reactivated" if active else "partner.suspended",
            summary=f"Greenlight {'reactivated' if active else 'suspended'} {partner.name}'s API access"
            + ("" if active else ": its keys stop working until it is reactivated"),
            target=grant,
        )
    return partner
