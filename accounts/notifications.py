"""Telling members about things: an in-app notification, and an email sent by Celery after commit.

The reports issue adds per-kind preferences and a digest; every sender already goes through `notify`.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Notification, Organisation, User


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
    """Record a notification and queue its email. Returns None when the same `dedupe_key` was already sent."""
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
            )
    except IntegrityError:  # a concurrent sender won the race: it is sent once
        return None
    if email and user.is_active:
        from accounts.tasks import send_notification_email

        send_notification_email.delay_on_commit(notification.pk)  # type: ignore[attr-defined]
    return notification


def unread_count(*, organisation: Organisation, user: User) -> int:
    return Notification.objects.filter(organisation=organisation, user=user, read_at__isnull=True).count()
