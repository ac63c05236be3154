"""How a person is named on pages, in files and in emails once their account may be gone.

Deleting an account keeps what the person did in each organisation but sets the rows' user to nothing
(every such foreign key is SET_NULL). Where a row can only lose its person that way, pages print
`FORMER_MEMBER` instead of a blank; the template filters in accounts.templatetags.people and the exports
call `person_name`, so the wording is decided once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

if TYPE_CHECKING:
    from accounts.models import AuditEvent, User

FORMER_MEMBER = "Former member"


def person_name(user: User | None) -> str:
    return user.display_name if user is not None else FORMER_MEMBER


def _is_email(label: str) -> bool:
    try:
        validate_email(label)
    except ValidationError:
        return False
    return True


def audit_actor_name(event: AuditEvent) -> str:
    """Who acted, as the audit log shows it. The stored label is kept as written (audit events are
    append-only); a person's label is an email address, so a label that is one on an event whose actor
    has gone belongs to a deleted account. API keys ("API key …") and the system keep their labels."""
    if event.actor_id is None and _is_email(event.actor_label):
        return FORMER_MEMBER
    return event.actor_label
