"""Everything Greenlight holds about one person, as JSON: the "Download my data" file.

The parts people ask about are laid out by hand: the account, email addresses, two-factor methods,
memberships, invitations, notifications and preferences, conversations with the assistant and their
messages, the actions the audit log records, policy acknowledgements. Every other row that names the person
through a foreign key (evidence they own or reviewed, answers they updated, tasks they own...) is found from
the models' metadata (`user_relations`), so a model added later is in the file without anyone remembering to
add it; `test_personal_export` fails if a relation to the user model is in neither.

Only the organisations they belong to now: what an organisation they have left still holds that names them
(a policy they owned, their actions in its audit log) is that organisation's, and may hold its business; the
file says to ask it.

Secrets are never in it: no password hash, no two-factor secrets or recovery codes, no API key hashes,
webhook secrets or connector tokens (the records that hold those are listed by name and date only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Organisation, User

FORMAT = "greenlight-personal-data"
FORMAT_VERSION = 1
ABOUT = (
    "Everything Greenlight holds about you, as of exported_at. Records of your organisations that name you "
    "(evidence you own, answers you updated, ...) are listed under other_records with their organisation, "
    "title and dates; your organisation's owners can export the records themselves. Records of organisations "
    "you no longer belong to are theirs to give: ask them. Passwords, two-factor secrets and other "
    "credentials are never included."
)


@dataclass(frozen=True)
class UserRelation:
    """A foreign key (or many-to-many) from a model to the user model."""

    model: type[models.Model]
    field: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field}"


def user_relations() -> list[UserRelation]:
    """Every field of every installed model that points at a person."""
    user_model = get_user_model()
    return [
        UserRelation(model, relation.name)
        for model in apps.get_models()
        for relation in model._meta.get_fields()
        if relation.is_relation
        and not relation.auto_created
        and relation.related_model is user_model
        and (relation.many_to_one or relation.one_to_one or relation.many_to_many)
    ]


@dataclass(frozen=True)
class Person:
    """Whose file it is, and the organisations they belong to now."""

    user: User
    organisation_ids: frozenset[int]

    @classmethod
    def of(cls, user: User) -> Person:
        from accounts.models import Membership

        ids = Membership.objects.filter(user=user).values_list("organisation_id", flat=True)
        return cls(user=user, organisation_ids=frozenset(ids))

    def in_their_organisations(self, rows: QuerySet[Any], lookup: str = "organisation_id") -> QuerySet[Any]:
        """Rows of the organisations they belong to now. What an organisation they have left still holds is
        that organisation's to give (it may hold its business, such as a policy's title): not in this file."""
        return rows.filter(**{f"{lookup}__in": self.organisation_ids})


def _when(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def _organisation(organisation: Organisation | None) -> dict[str, Any] | None:
    return None if organisation is None else {"id": organisation.pk, "name": organisation.name}


# --- The sections laid out by hand, each covering the relations it names ------------------------------
def _account(person: Person) -> dict[str, Any]:
    user = person.user
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "date_joined": _when(user.date_joined),
        "last_login": _when(user.last_login),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def _email_addresses(person: Person) -> list[dict[str, Any]]:
    from allauth.account.models import EmailAddress

    return [
        {"email": address.email, "verified": address.verified, "primary": address.primary}
        for address in EmailAddress.objects.filter(user=person.user).order_by("-primary", "email")
    ]


def _two_factor(person: Person) -> dict[str, Any]:
    from allauth.mfa.models import Authenticator

    methods = list(Authenticator.objects.filter(user=person.user).order_by("created_at"))
    return {
        "enabled": any(method.type != Authenticator.Type.RECOVERY_CODES for method in methods),
        # The kind and dates only: the secrets and codes themselves stay where they are.
        "methods": [
            {"type": method.type, "created_at": _when(method.created_at), "last_used_at": _when(method.last_used_at)}
            for method in methods
        ],
    }


def _memberships(person: Person) -> list[dict[str, Any]]:
    from accounts.models import Membership

    return [
        {
            "organisation": _organisation(membership.organisation),
            "role": membership.role,
            "role_name": membership.get_role_display(),
            "joined_at": _when(membership.created_at),
        }
        for membership in Membership.objects.filter(user=person.user)
        .select_related("organisation")
        .order_by("created_at")
    ]


def _invitations(person: Person) -> dict[str, list[dict[str, Any]]]:
    from accounts.models import Invitation

    def row(invitation: Invitation) -> dict[str, Any]:
        return {
            "organisation": _organisation(invitation.organisation),
            "email": invitation.email,
            "role": invitation.role,
            "sent_at": _when(invitation.created_at),
            "accepted_at": _when(invitation.accepted_at),
            "revoked_at": _when(invitation.revoked_at),
            "status": invitation.status,
        }

    user = person.user
    invitations = person.in_their_organisations(Invitation.objects.select_related("organisation")).order_by(
        "created_at"
    )
    return {
        "sent": [row(invitation) for invitation in invitations.filter(invited_by=user)],
        "accepted": [row(invitation) for invitation in invitations.filter(accepted_by=user)],
        # Invitations addressed to them that they have not (or not yet) accepted.
        "addressed_to_you": [
            row(invitation) for invitation in invitations.filter(email__iexact=user.email).exclude(accepted_by=user)
        ],
    }


def _notifications(person: Person) -> list[dict[str, Any]]:
    from accounts.models import Notification

    return [
        {
            "organisation": _organisation(notification.organisation),
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "url": notification.url,
            "channel": notification.channel,
            "created_at": _when(notification.created_at),
            "read_at": _when(notification.read_at),
            "emailed_at": _when(notification.emailed_at),
        }
        for notification in person.in_their_organisations(Notification.objects.filter(user=person.user))
        .select_related("organisation")
        .order_by("created_at")
    ]


def _notification_preferences(person: Person) -> list[dict[str, Any]]:
    from accounts.models import NotificationPreference

    return [
        {"kind": preference.kind, "channel": preference.channel, "updated_at": _when(preference.updated_at)}
        for preference in NotificationPreference.objects.filter(user=person.user).order_by("kind")
    ]


def _message(message: Any, user: User) -> dict[str, Any]:
    return {
        "id": message.pk,
        "role": message.role,
        "written_by_you": message.author_id == user.pk,
        "content": message.content,
        "created_at": _when(message.created_at),
    }


def _conversations(person: Person) -> list[dict[str, Any]]:
    from chat.models import Conversation

    user = person.user
    conversations = (
        person.in_their_organisations(Conversation.objects.filter(user=user))
        .select_related("organisation")
        .prefetch_related("messages")
        .order_by("created_at")
    )
    return [
        {
            "id": conversation.pk,
            "organisation": _organisation(conversation.organisation),
            "title": conversation.title,
            "created_at": _when(conversation.created_at),
            "updated_at": _when(conversation.updated_at),
            "escalated_at": _when(conversation.escalated_at),
            "escalation_note": conversation.escalation_note,
            "messages": [
                _message(message, user)
                for message in sorted(conversation.messages.all(), key=lambda m: (m.created_at, m.pk))
            ],
        }
        for conversation in conversations
    ]


def _messages_written_elsewhere(person: Person) -> list[dict[str, Any]]:
    """Replies they wrote in other people's conversations (as a consultant)."""
    from chat.models import Message

    user = person.user
    messages = (
        person.in_their_organisations(Message.objects.filter(author=user))
        .exclude(conversation__user=user)
        .select_related("organisation")
        .order_by("created_at", "pk")
    )
    return [
        {
            **_message(message, user),
            "conversation": message.conversation_id,
            "organisation": _organisation(message.organisation),
        }
        for message in messages
    ]


def _actions(person: Person) -> list[dict[str, Any]]:
    from accounts.models import AuditEvent

    return [
        {
            "organisation": _organisation(event.organisation),
            "created_at": _when(event.created_at),
            "action": event.action,
            "summary": event.summary,
            "ip_address": event.ip_address,
        }
        for event in person.in_their_organisations(AuditEvent.objects.filter(actor=person.user))
        .select_related("organisation")
        .order_by("created_at", "pk")
    ]


def _policy_acknowledgements(person: Person) -> list[dict[str, Any]]:
    from policies.models import PolicyAcknowledgement

    acknowledgements = (
        person.in_their_organisations(PolicyAcknowledgement.objects.filter(user=person.user))
        .select_related("organisation", "version__policy")
        .order_by("acknowledged_at")
    )
    return [
        {
            "organisation": _organisation(ack.organisation),
            "policy": ack.version.policy.title,
            "version": ack.version.number,
            "acknowledged_at": _when(ack.acknowledged_at),
        }
        for ack in acknowledgements
    ]


def _admin_history(person: Person) -> list[dict[str, Any]]:
    from django.contrib.admin.models import LogEntry

    return [
        {
            "action_time": _when(entry.action_time),
            "action": entry.get_action_flag_display(),
            "object": entry.object_repr,
            "change": entry.get_change_message(),
        }
        for entry in LogEntry.objects.filter(user=person.user).order_by("action_time")
    ]


Section = Callable[[Person], Any]

# Section name -> (builder, the relations to the user model it covers).
SECTIONS: dict[str, tuple[Section, tuple[str, ...]]] = {
    "account": (_account, ()),
    "email_addresses": (_email_addresses, ("account.emailaddress.user",)),
    "two_factor": (_two_factor, ("mfa.authenticator.user",)),
    "memberships": (_memberships, ("accounts.membership.user",)),
    "invitations": (_invitations, ("accounts.invitation.invited_by", "accounts.invitation.accepted_by")),
    "notifications": (_notifications, ("accounts.notification.user",)),
    "notification_preferences": (_notification_preferences, ("accounts.notificationpreference.user",)),
    "conversations": (_conversations, ("chat.conversation.user",)),
    "messages_written_elsewhere": (_messages_written_elsewhere, ("chat.message.author",)),
    "actions": (_actions, ("accounts.auditevent.actor",)),
    "policy_acknowledgements": (_policy_acknowledgements, ("policies.policyacknowledgement.user",)),
    "admin_history": (_admin_history, ("admin.logentry.user",)),
}
COVERED_BY_SECTIONS = frozenset(label for _builder, labels in SECTIONS.values() for label in labels)


# --- Everything else that names them, found from the models ------------------------------------------
# What to call a record whose model has no title of its own: a lookup through its relations.
TITLE_LOOKUPS: dict[str, str] = {
    "assessments.answer": "control__ref",
    "assessments.frameworkadoption": "framework__name",
    "assessments.reportschedule": "kind",
    "policies.policyreview": "version__policy__title",
    "policies.generationjob": "policy__title",
    "evidence.collectionrun": "connection__provider",
    "accounts.partnergrant": "partner__name",
    "accounts.dataexport": "status",
}
TITLE_FIELDS = ("title", "name", "original_name", "url", "kind", "provider")


def _title_lookup(model: type[models.Model]) -> str | None:
    if model._meta.label_lower in TITLE_LOOKUPS:
        return TITLE_LOOKUPS[model._meta.label_lower]
    names = {field.name for field in model._meta.concrete_fields}
    return next((name for name in TITLE_FIELDS if name in names), None)


def _organisation_lookup(model: type[models.Model]) -> str | None:
    if model is Organisation:
        return "pk"
    for relation in model._meta.concrete_fields:
        if relation.name == "organisation" and relation.related_model is Organisation:
            return "organisation_id"
    return None


def _dates(model: type[models.Model]) -> list[str]:
    return [
        field.name for field in model._meta.concrete_fields if isinstance(field, (models.DateField, models.TimeField))
    ]


def _records(relation: UserRelation, person: Person) -> dict[str, Any]:
    """The relation's records, organisations by id only: `personal_data` names them all in one query."""
    model = relation.model
    title, organisation, dates = _title_lookup(model), _organisation_lookup(model), _dates(model)
    columns = ["pk", *([title] if title else []), *([organisation] if organisation else []), *dates]
    found = model._base_manager.filter(**{relation.field: person.user})
    if organisation:
        # A partner's API key has no organisation: it is theirs to know about wherever it is used.
        found = found.filter(
            Q(**{f"{organisation}__in": person.organisation_ids}) | Q(**{f"{organisation}__isnull": True})
        )
    rows = found.order_by("pk").values(*dict.fromkeys(columns))
    meta = model._meta
    return {
        "model": meta.label_lower,
        "name": str(meta.verbose_name_plural),
        "relation": relation.field,
        "relation_name": str(getattr(meta.get_field(relation.field), "verbose_name", relation.field)),
        "items": [
            {
                "id": row["pk"],
                "organisation": row[organisation] if organisation else None,
                "title": str(row[title]) if title and row[title] is not None else "",
                **{name: _when(row[name]) for name in dates},
            }
            for row in rows
        ],
    }


def other_relations() -> list[UserRelation]:
    return [relation for relation in user_relations() if relation.label not in COVERED_BY_SECTIONS]


def personal_data(user: User, *, relations: Iterable[UserRelation] | None = None) -> dict[str, Any]:
    """The whole file for `user`, ready for json.dumps. A query or two per section and per relation, however
    much they have."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "about": ABOUT,
    }
    person = Person.of(user)
    for name, (builder, _labels) in SECTIONS.items():
        data[name] = builder(person)
    records = [_records(relation, person) for relation in (other_relations() if relations is None else relations)]
    # The organisations those records belong to, named in one query rather than a join per relation.
    ids = {item["organisation"] for record in records for item in record["items"] if item["organisation"]}
    names = dict(Organisation.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    for record in records:
        for item in record["items"]:
            if item["organisation"] is not None:
                item["organisation"] = {"id": item["organisation"], "name": names.get(item["organisation"], "")}
    data["other_records"] = records
    return data
