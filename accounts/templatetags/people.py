"""`{{ user|person }}` and `{{ event|audit_actor }}`: names that read "Former member" once the account
behind them has been deleted (see accounts.people)."""

from __future__ import annotations

from django import template

from accounts.models import AuditEvent, User
from accounts.people import audit_actor_name, person_name

register = template.Library()


@register.filter
def person(user: User | None) -> str:
    return person_name(user)


@register.filter
def audit_actor(event: AuditEvent) -> str:
    return audit_actor_name(event)
