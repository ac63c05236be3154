"""Every kind of notification Greenlight sends, and how each is delivered unless the person chose otherwise.

The settings page lists these, `notify` reads the default channel from here, and a test checks that every
`kind=` used in the code is registered, so a new sender cannot slip past people's preferences.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from accounts.roles import Role


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "Email"
    DIGEST = "digest", "Daily digest"
    OFF = "off", "Off"


# Every channel but "off" also shows the notification in the app; these say what else happens.
CHANNEL_HINTS: dict[str, str] = {
    Channel.IN_APP: "Shown in Greenlight only.",
    Channel.EMAIL: "Shown in Greenlight and emailed straight away.",
    Channel.DIGEST: "Shown in Greenlight and gathered into one email each morning.",
    Channel.OFF: "Not sent at all.",
}

EVERYONE_WHO_EDITS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER, Role.CONSULTANT})
APPROVERS = frozenset({Role.OWNER, Role.ADMIN, Role.CONSULTANT})
ADMINISTRATORS = frozenset({Role.OWNER, Role.ADMIN})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class NotificationKind:
    key: str
    label: str
    description: str
    audience: str  # who gets it, in words, for the settings page
    roles: frozenset[Role]  # the roles that can receive it; the settings page shows a person only theirs
    default: Channel


KINDS: dict[str, NotificationKind] = {
    kind.key: kind
    for kind in (
        NotificationKind(
            "task_due",
            "Task due soon",
            "A task in the implementation plan is due within the next week.",
            "The task's owner",
            EVERYONE_WHO_EDITS,
            Channel.DIGEST,
        ),
        NotificationKind(
            "task_overdue",
            "Task overdue",
            "A task in the implementation plan is past its due date and not done.",
            "The task's owner",
            EVERYONE_WHO_EDITS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "evidence_expiring",
            "Evidence expiring",
            "An evidence item reaches its valid-until date soon.",
            "The evidence owner, or approvers when it has none",
            EVERYONE_WHO_EDITS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "evidence_expired",
            "Evidence expired",
            "An evidence item passed its valid-until date and no longer counts towards readiness.",
            "The evidence owner, or approvers when it has none",
            EVERYONE_WHO_EDITS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "evidence_rejected",
            "Evidence rejected",
            "A reviewer sent back evidence you own, saying what to change.",
            "The evidence owner",
            EVERYONE_WHO_EDITS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "connection_needs_reconnect",
            "Connection needs attention",
            "A connected account stopped collecting evidence and needs connecting again.",
            "Whoever connected the account",
            EVERYONE_WHO_EDITS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "policy_review_due",
            "Policy review due",
            "A published policy you look after reaches its review date.",
            "The policy owner, or approvers when it has none",
            EVERYONE_WHO_EDITS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "policy_awaiting_approval",
            "Policy awaiting approval",
            "Someone sent a policy for review.",
            "Owners, admins and consultants",
            APPROVERS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "assessment_stale",
            "Assessment not touched for 30 days",
            "Nobody has changed an answer in the open assessment for 30 days.",
            "Owners and admins",
            ADMINISTRATORS,
            Channel.DIGEST,
        ),
        NotificationKind(
            "webhook_disabled",
            "Webhook turned off",
            "A webhook endpoint failed 5 deliveries in a row, so Greenlight stopped sending events to it.",
            "Owners and admins",
            ADMINISTRATORS,
            Channel.EMAIL,
        ),
        NotificationKind(
            "data_export_ready",
            "Data export ready",
            "The export of everything the organisation keeps in Greenlight that you asked for is ready to download.",
            "The owner who asked for it",
            frozenset({Role.OWNER}),
            Channel.EMAIL,
        ),
        NotificationKind(
            "assistant_escalation",
            "Question for a consultant",
            "A member asked the organisation's consultants about an assistant conversation.",
            "Consultants",
            frozenset({Role.CONSULTANT}),
            Channel.EMAIL,
        ),
        NotificationKind(
            "assistant_reply",
            "Consultant's reply",
            "A consultant answered a question you escalated from the assistant.",
            "Whoever asked",
            EVERYONE,
            Channel.EMAIL,
        ),
    )
}


def get_kind(key: str) -> NotificationKind | None:
    return KINDS.get(key)


def default_channel(key: str) -> Channel:
    """The registry's default; a kind missing from the registry keeps the old behaviour (in the app and email)."""
    kind = KINDS.get(key)
    return kind.default if kind else Channel.EMAIL


def kinds_for_roles(roles: set[str]) -> list[NotificationKind]:
    """The kinds someone with these roles (in any of their organisations) can receive, in registry order."""
    return [kind for kind in KINDS.values() if kind.roles & roles]
