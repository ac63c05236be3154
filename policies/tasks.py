"""Background work for policies. Tasks take ids, and the service does the rest."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="policies.draft_policy", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def draft_policy(self: Any, job_id: int) -> None:
    # acks_late: a worker killed mid-draft leaves the message to be delivered again, and the job's claim
    # lets that delivery draft it afresh (a finished job is left alone, so no second version). A job a
    # live worker still has is looked at again later, in case that worker dies too.
    from config.task_claims import ClaimHeld
    from policies.services import policy_draft_run

    try:
        policy_draft_run(job_id=job_id)
    except ClaimHeld as held:
        raise self.retry(countdown=held.retry_in) from None


@shared_task(name="policies.send_reminders")
def send_reminders() -> None:
    from policies.reminders import policy_reviews_remind

    policy_reviews_remind()
