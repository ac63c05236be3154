"""Background work for policies. Tasks take ids, and the service does the rest."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="policies.draft_policy", acks_late=False)
def draft_policy(job_id: int) -> None:
    # A redelivered job finds itself no longer queued and stops, so it never drafts twice.
    from policies.services import policy_draft_run

    policy_draft_run(job_id=job_id)


@shared_task(name="policies.send_reminders")
def send_reminders() -> None:
    from policies.reminders import policy_reviews_remind

    policy_reviews_remind()
