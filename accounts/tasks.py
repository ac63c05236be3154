"""Background work for accounts. Tasks take ids, load fresh rows and call a service."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from accounts.models import Invitation

logger = logging.getLogger(__name__)


@shared_task(
    name="accounts.send_invitation_email",
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_invitation_email(self: Task, invitation_id: int) -> None:
    from accounts.services import invitation_email_send

    invitation = Invitation.objects.select_related("organisation", "invited_by").filter(pk=invitation_id).first()
    # Withdrawn or used before the worker got to it: nothing to send.
    if invitation is None or not invitation.is_open:
        return
    try:
        invitation_email_send(invitation=invitation)
    except OSError:
        if not self.request.is_eager:
            raise  # a worker retries later, with backoff
        # With no worker the task runs inside the inviting request: a mail server that is down must not turn
        # that page into an error. The invitation stands; its link can be copied or the email resent.
        logger.exception("Could not email invitation %s", invitation_id)


@shared_task(
    name="accounts.send_notification_email",
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_notification_email(self: Task, notification_id: int) -> None:
    from accounts.notifications import notification_email_send

    try:
        notification_email_send(notification_id=notification_id)
    except OSError:  # smtplib's errors and refused connections alike
        if not self.request.is_eager:
            raise  # a worker retries later, with backoff
        # Run eagerly (no worker), the task is part of the request that notified: a mail server that is down
        # must not turn that page into an error, nor hold it up with retries. The notification is in the app.
        logger.exception("Could not email notification %s", notification_id)


@shared_task(name="accounts.send_digests")
def send_digests() -> int:
    from accounts.notifications import digests_send

    return digests_send()
