"""Writing audit events. Services call `audit_record` for every state change they make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.http import HttpRequest

if TYPE_CHECKING:
    from accounts.models import AuditEvent, Organisation, User
    from accounts.roles import Capability


@dataclass(frozen=True)
class KeyAccess:
    """An API key acting for one organisation: what the services may let it do there."""

    key_id: int
    label: str  # e.g. "API key Xero sync (glk_Ab12Cd34)"
    organisation_id: int
    capabilities: frozenset[Capability]


@dataclass(frozen=True)
class Actor:
    """Who is acting, and from where: passed to every service that changes state. A person (`user`),
    an API key (`key`, with no user), or the system (neither)."""

    user: User | None
    ip_address: str | None = None
    key: KeyAccess | None = None

    @property
    def label(self) -> str:
        if self.user:
            return self.user.email
        return self.key.label if self.key else "system"

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(user=user, ip_address=client_ip(request))  # type: ignore[arg-type]


SYSTEM = Actor(user=None)


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR is the proxy's address behind a load balancer; production's proxy sets it right
    # (gunicorn --forwarded-allow-ips), so we never trust a client-supplied X-Forwarded-For here.
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    organisation: Organisation,
    actor: Actor,
    action: str,
    summary: str,
    target: models.Model | None = None,
) -> AuditEvent:
    from accounts.models import AuditEvent

    event = AuditEvent(
        organisation=organisation,
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        summary=summary[:500],
        ip_address=actor.ip_address,
    )
    event.full_clean()
    event.save()
    return event
