"""Background work for evidence. Tasks take ids and call a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="evidence.collect", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def collect_evidence(self: Any, run_id: int) -> None:
    # acks_late: a worker killed mid-run leaves the message to be delivered again; the run's claim lets
    # that delivery take the run over, and the findings' stable keys make it update rather than duplicate.
    # A run a live worker still has is looked at again later, in case that worker dies too.
    from config.task_claims import ClaimHeld
    from evidence.services.collection import RetryLater, collection_execute

    try:
        collection_execute(run_id=run_id)
    except RetryLater as wait:
        raise self.retry(countdown=wait.countdown) from None
    except ClaimHeld as held:
        raise self.retry(countdown=held.retry_in) from None


@shared_task(name="evidence.collect_all")
def collect_all() -> int:
    from evidence.services.collection import collection_request_all

    return collection_request_all()


@shared_task(name="evidence.expire_and_remind")
def expire_and_remind() -> None:
    from evidence.services.expiry import evidence_expire_and_remind

    evidence_expire_and_remind()


@shared_task(name="evidence.cleanup_orphans")
def cleanup_orphans() -> None:
    from evidence.services.storage import cleanup_orphans as run_cleanup

    run_cleanup()
