"""Background work for accounts. Tasks take ids, load fresh rows and call a service."""

from __future__ import annotations

import logging
import math

from celery import Task, shared_task
from django.utils import timezone

from accounts.models import Invitation

logger = logging.getLogger(__name__)

# Below the Redis visibility timeout (CELERY_BROKER_TRANSPORT_OPTIONS), so a scheduled retry runs once.
WEBHOOK_COUNTDOWN_MAX_SECONDS = 50 * 60


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


@shared_task(name="accounts.prune_idempotency_records")
def prune_idempotency_records() -> int:
    from config.api.idempotency import idempotency_records_prune

    return idempotency_records_prune()


@shared_task(name="accounts.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at a webhook delivery. After a failure, a worker schedules the next attempt itself;
    with no broker (tasks run eagerly, inside a web request) retrying here would hold that request up, so
    the next attempt is left to `deliver_due_webhooks`, which finds it by `next_attempt_at`."""
    from accounts.models import DeliveryStatus
    from accounts.webhook_delivery import webhook_deliver

    delivery = webhook_deliver(delivery_id=delivery_id)
    if delivery is None:
        return "skipped"
    if (
        delivery.status == DeliveryStatus.RETRYING
        and delivery.next_attempt_at is not None
        and not deliver_webhook.app.conf.task_always_eager
    ):
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        # Redis hands a message still waiting after its visibility timeout (an hour) to another worker;
        # the later retries (2 and 6 hours) are left to the sweep instead, at most 5 minutes late.
        if wait < WEBHOOK_COUNTDOWN_MAX_SECONDS:
            deliver_webhook.apply_async(args=(delivery_id,), countdown=max(1, math.ceil(wait)))
    return str(delivery.status)


@shared_task(name="accounts.deliver_due_webhooks")
def deliver_due_webhooks() -> int:
    """Every few minutes: send the webhook deliveries whose time has come that no worker has scheduled
    (retries recorded without a broker, and sends a lost worker left behind)."""
    from accounts.webhooks import webhook_deliveries_due

    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


# An export copies every stored file of the organisation, which can take far longer than the default limits
# allow. The hard limit stays below the Redis visibility timeout (an hour), so a message is only delivered
# again once the worker that had it is gone; the claim in accounts.portability.services then takes it over.
DATA_EXPORT_SOFT_TIME_LIMIT = 30 * 60
DATA_EXPORT_TIME_LIMIT = 32 * 60


@shared_task(
    name="accounts.build_data_export",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=DATA_EXPORT_SOFT_TIME_LIMIT,
    time_limit=DATA_EXPORT_TIME_LIMIT,
)
def build_data_export(export_id: int) -> str:
    from accounts.portability.services import data_export_build

    export = data_export_build(export_id=export_id)
    return "skipped" if export is None else str(export.status)


@shared_task(name="accounts.expire_data_exports")
def expire_data_exports() -> int:
    from accounts.portability.services import data_exports_expire

    return data_exports_expire()


@shared_task(
    name="accounts.send_erasure_email",
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_erasure_email(self: Task, subject: str, body: str, recipients: list[str]) -> None:
    """An email about a deleted account or an organisation's deletion. It carries its text, rendered when
    it happened: the account or organisation it is about may be gone by the time it is sent."""
    from django.core.mail import send_mail

    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients)
    except OSError:
        if not self.request.is_eager:
            raise  # a worker retries later, with backoff
        # Run eagerly (no worker), inside the request that deleted: a mail server that is down must not turn
        # it into an error page. What was done is done; the page said so.
        logger.exception("Could not send an email about a deletion")


# Deleting a large organisation removes many rows and files; the limits leave room for that.
ORGANISATION_DELETION_SOFT_TIME_LIMIT = 30 * 60
ORGANISATION_DELETION_TIME_LIMIT = 32 * 60


@shared_task(
    name="accounts.delete_due_organisations",
    soft_time_limit=ORGANISATION_DELETION_SOFT_TIME_LIMIT,
    time_limit=ORGANISATION_DELETION_TIME_LIMIT,
)
def delete_due_organisations() -> int:
    """Daily: delete every organisation whose grace period is over. Delivered twice, the second run finds
    nothing left to do."""
    from accounts.erasure import organisations_delete_due

    return len(organisations_delete_due())


# Deleting a year of a large organisation's records takes a while; batches keep each transaction short.
RETENTION_SOFT_TIME_LIMIT = 30 * 60
RETENTION_TIME_LIMIT = 32 * 60


@shared_task(
    name="accounts.enforce_retention", soft_time_limit=RETENTION_SOFT_TIME_LIMIT, time_limit=RETENTION_TIME_LIMIT
)
def enforce_retention() -> int:
    """Daily: delete each organisation's records past its retention settings. Delivered twice, the second
    run finds nothing left to delete."""
    from accounts.retention import retention_enforce

    return sum(run.total for run in retention_enforce())
