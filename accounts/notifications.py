"""Telling members about things: an in-app notification, delivered the way the person chose for its kind.

`notify` is the one way in. The person's preference (accounts.notification_kinds for the defaults) decides:
off stores nothing; in the app stores it; email also queues an email on commit; digest stores it for the
next daily digest, which `digests_send` gathers into one email per person.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Notification, NotificationPreference, Organisation, User
from accounts.notification_kinds import KINDS, Channel, default_channel
from config.queueing import enqueue_on_commit

logger = logging.getLogger(__name__)

# A digest lists this many notifications at most; the rest are counted, and waiting in Greenlight.
DIGEST_MAX_ITEMS = 50


# --- Preferences -----------------------------------------------------------------------------------
def channel_for(*, user: User, kind: str) -> Channel:
    stored = NotificationPreference.objects.filter(user=user, kind=kind).values_list("channel", flat=True).first()
    return Channel(stored) if stored else default_channel(kind)


def preferences_for(user: User) -> dict[str, Channel]:
    """Every registered kind with the channel this person gets it by: their choice, else the default."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "channel"))
    return {key: Channel(stored.get(key, kind.default)) for key, kind in KINDS.items()}


def notification_preferences_save(*, user: User, channels: Mapping[str, str]) -> None:
    """Save the person's choice for each kind given, in one statement; kinds not given keep theirs."""
    unknown = sorted(set(channels) - set(KINDS))
    if unknown:
        raise ValidationError(f"Unknown notification kind: {', '.join(unknown)}.")
    invalid = sorted(kind for kind, channel in channels.items() if channel not in Channel.values)
    if invalid:
        raise ValidationError(f"Choose how to receive: {', '.join(KINDS[kind].label for kind in invalid)}.")
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user=user, kind=kind, channel=channel) for kind, channel in channels.items()],
        update_conflicts=True,
        unique_fields=["user", "kind"],
        update_fields=["channel", "updated_at"],
    )


# --- Sending ---------------------------------------------------------------------------------------
def notify(
    *,
    organisation: Organisation,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    dedupe_key: str = "",
    email: bool = True,
) -> Notification | None:
    """Record a notification the way the person wants it. Returns None when they turned the kind off, or
    when the same `dedupe_key` was already sent. `email=False` keeps it in the app whatever they chose."""
    channel = channel_for(user=user, kind=kind)
    if channel == Channel.OFF:
        return None
    if not email:
        channel = Channel.IN_APP
    if dedupe_key and Notification.objects.filter(user=user, dedupe_key=dedupe_key).exists():
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                organisation=organisation,
                user=user,
                kind=kind,
                title=title[:200],
                body=body,
                url=url,
                dedupe_key=dedupe_key,
                channel=channel,
            )
    except IntegrityError:  # a concurrent sender won the race: it is sent once
        return None
    if channel == Channel.EMAIL and user.is_active:
        from accounts.tasks import send_notification_email

        enqueue_on_commit(send_notification_email, notification.pk)
    return notification


def unread_count(*, organisation: Organisation, user: User) -> int:
    return Notification.objects.filter(organisation=organisation, user=user, read_at__isnull=True).count()


def _absolute(url: str) -> str:
    """A link for an email: the notification's path within Greenlight, or the home page for anything else."""
    if url.startswith("/") and not url.startswith("//"):
        return settings.SITE_URL + url
    return settings.SITE_URL + "/"


def organisation_link(*, organisation_id: int, path: str) -> str:
    """An email link to a page of one organisation. It goes through `organisation_open`, which makes that
    organisation current first: the reader may be looking at another of theirs, where the page would 404."""
    if not (path.startswith("/") and not path.startswith("//")):
        path = "/"
    return _absolute(reverse("organisation_open", kwargs={"organisation_id": organisation_id}, query={"next": path}))


def _email(*, template: str, subject: str, to: str, context: dict[str, object]) -> None:
    context = {
        **context,
        "site_url": settings.SITE_URL,
        "preferences_link": _absolute(reverse("settings_notifications")),
    }
    message = EmailMultiAlternatives(
        subject=f"[Greenlight] {subject}",
        body=render_to_string(f"email/{template}.txt", context),
        to=[to],
    )
    message.attach_alternative(render_to_string(f"email/{template}.html", context), "text/html")
    message.send()


def notification_email_send(*, notification_id: int) -> None:
    """Email one notification, once: a retried task finds it already sent and stops. Someone who has since
    left the organisation, or whose account is closed, is not emailed about it."""
    notification = Notification.objects.select_related("user", "organisation").filter(pk=notification_id).first()
    if notification is None or notification.emailed_at is not None or not notification.user.is_active:
        return
    if not Membership.objects.filter(
        organisation_id=notification.organisation_id, user_id=notification.user_id
    ).exists():
        return
    _email(
        template="notification",
        subject=notification.title,
        to=notification.user.email,
        context={
            "notification": notification,
            "link": organisation_link(organisation_id=notification.organisation_id, path=notification.url),
        },
    )
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())


# --- The daily digest ------------------------------------------------------------------------------
@dataclass
class DigestGroup:
    organisation: Organisation
    notifications: list[Notification] = field(default_factory=list)


def digest_send(*, user: User) -> int:
    """Email this person one digest of their unread digest notifications not yet in one, and mark every
    waiting one as digested. Returns how many it listed (0: nothing sent).

    The rows are locked while the email goes out, so two runs at once cannot both send them; if the mail
    server fails, nothing is marked and the next run tries again.
    """
    with transaction.atomic():
        waiting = list(
            Notification.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .filter(user=user, channel=Channel.DIGEST, digested_at__isnull=True)
            .order_by("organisation__name", "organisation_id", "-created_at", "-pk")
        )
        if not waiting:
            return 0
        member_of = set(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))
        # Already read in the app, or from an organisation they have left: passed over, not emailed.
        due = [n for n in waiting if n.read_at is None and n.organisation_id in member_of]
        if due and user.is_active:
            groups: dict[int, DigestGroup] = {}
            for notification in due[:DIGEST_MAX_ITEMS]:
                notification.link = organisation_link(  # type: ignore[attr-defined]
                    organisation_id=notification.organisation_id, path=notification.url
                )
                groups.setdefault(notification.organisation_id, DigestGroup(notification.organisation))
                groups[notification.organisation_id].notifications.append(notification)
            count = len(due)
            _email(
                template="digest",
                subject=f"Your daily digest: {count} notification{'' if count == 1 else 's'}",
                to=user.email,
                context={
                    "user": user,
                    "groups": list(groups.values()),
                    "count": count,
                    "more": max(0, count - DIGEST_MAX_ITEMS),
                    "notifications_link": _absolute(reverse("notifications")),
                },
            )
        Notification.objects.filter(pk__in=[n.pk for n in waiting]).update(digested_at=timezone.now())
    return len(due) if user.is_active else 0


def digests_send() -> int:
    """The daily run: one digest per person with something waiting. A failure for one person is logged and
    the rest still get theirs; that person's notifications wait for the next run. Returns emails sent."""
    user_ids = (
        Notification.objects.filter(channel=Channel.DIGEST, digested_at__isnull=True)
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )
    sent = 0
    for user in User.objects.filter(pk__in=list(user_ids)).order_by("pk"):
        try:
            sent += 1 if digest_send(user=user) else 0
        except OSError:
            logger.exception("The daily digest for user %s could not be sent; it will be tried again", user.pk)
    return sent
