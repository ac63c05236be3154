"""Background work for accounts. Tasks take ids, load fresh rows and call a service."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Invitation


@shared_task(
    name="accounts.send_invitation_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_invitation_email(invitation_id: int) -> None:
    from accounts.services import invitation_email_send

    invitation = Invitation.objects.select_related("organisation", "invited_by").filter(pk=invitation_id).first()
    # Withdrawn or used before the worker got to it: nothing to send.
    if invitation is not None and invitation.is_open:
        invitation_email_send(invitation=invitation)


@shared_task(
    name="accounts.send_notification_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> None:
    from accounts.services import notification_email_send

    notification_email_send(notification_id=notification_id)
