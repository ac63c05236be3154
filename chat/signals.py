"""Keep the assistant's document index (chat/document_index.py) in step with evidence and policy saves.

Every service in evidence/ and policies/ saves through the model, so these receivers see each change
of indexed text, in the same transaction. Saves that name only other fields (a status, a review) are
skipped: visibility is read live by the search query. Deletions need nothing here: entries go with
their item, policy or organisation by cascade. Rows written without save() (`bulk_create`, fixtures
loaded raw) are picked up by `manage.py reindex_documents`; no code changes indexed text with
`.update()`, and any that does must call `chat.document_index.index_evidence` or `index_policy`.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chat.document_index import index_evidence, index_policy
from evidence.models import Evidence
from policies.models import PolicyVersion

EVIDENCE_TEXT_FIELDS = frozenset({"organisation", "title", "description", "note", "extracted_text"})
VERSION_TEXT_FIELDS = frozenset({"organisation", "policy", "number", "title", "sections", "published_at"})


def _touches(update_fields: frozenset[str] | None, indexed: frozenset[str]) -> bool:
    return update_fields is None or bool(indexed & update_fields)


@receiver(post_save, sender=Evidence, dispatch_uid="chat.index_evidence")
def evidence_saved(
    sender: type[Evidence], instance: Evidence, raw: bool, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    if not raw and _touches(update_fields, EVIDENCE_TEXT_FIELDS):
        index_evidence(instance)


@receiver(post_save, sender=PolicyVersion, dispatch_uid="chat.index_policy_on_save")
def policy_version_saved(
    sender: type[PolicyVersion],
    instance: PolicyVersion,
    raw: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    # Any version may be the latest published one (publishing sets published_at on a saved draft).
    if not raw and _touches(update_fields, VERSION_TEXT_FIELDS):
        index_policy(instance.policy_id)


@receiver(post_delete, sender=PolicyVersion, dispatch_uid="chat.index_policy_on_delete")
def policy_version_deleted(sender: type[PolicyVersion], instance: PolicyVersion, **kwargs: Any) -> None:
    # The policy may still have an older published version to fall back on.
    index_policy(instance.policy_id)
