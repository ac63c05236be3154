"""The assistant's full-text index of each organisation's own policies and evidence.

One row per evidence item, and per policy that has a published version: its title and a bounded copy
of its text (the latest published version's, for a policy). PostgreSQL searches a stored tsvector
column (English, title weighted A over body B) through a GIN index and ranks with `ts_rank`; SQLite
searches an FTS5 table over the same rows, kept in step by triggers, and ranks with bm25 (title ten
times the body). Migration 0004 creates both, since neither can be declared on a model that has to
work on both databases.

Only text is copied. Whether a document may be retrieved (evidence not rejected, policy published) is
read from its own row by a subquery of the search query, so status changes, bulk `.update()`s
included, can never leave the index out of step. The text is refreshed by chat/signals.py on every save that
changes it; rows go with their evidence item, policy or organisation by cascade.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection, models, transaction
from django.utils import timezone

from chat.models import DocumentIndex, DocumentKind
from evidence.models import Evidence, EvidenceStatus
from policies.models import Policy, PolicyStatus, PolicyVersion

FTS_TABLE = "chat_documentindex_fts"
# Enough for the substance of a long policy or file; keeps the index and its ranking quick.
MAX_BODY_CHARS = 20_000
BATCH = 1000
SEARCH_CONFIG = "english"


# --- What is indexed ------------------------------------------------------------------------------


def evidence_text(*, description: str, note: str, extracted_text: str) -> str:
    """The text an item is found by and quoted from. A note's text is also its extracted text: once."""
    parts = [part.strip() for part in (description, note, extracted_text) if part and part.strip()]
    return _bounded("\n\n".join(dict.fromkeys(parts)))


def policy_text(sections: list[dict[str, Any]]) -> str:
    return _bounded("\n\n".join(f"{section.get('title', '')}: {section.get('body', '')}" for section in sections))


def _bounded(text: str) -> str:
    return text[:MAX_BODY_CHARS]


@dataclass(frozen=True)
class Sources:
    """The models read and written. The migration passes its historical models, everything else these."""

    index: type[models.Model]
    evidence: type[models.Model]
    version: type[models.Model]


LIVE = Sources(index=DocumentIndex, evidence=Evidence, version=PolicyVersion)


def _evidence_entries(sources: Sources, items: Iterable[tuple[Any, ...]]) -> Iterator[models.Model]:
    now = timezone.now()
    for pk, organisation_id, title, description, note, extracted_text in items:
        yield sources.index(
            organisation_id=organisation_id,
            kind=DocumentKind.EVIDENCE,
            evidence_id=pk,
            title=title,
            body=evidence_text(description=description, note=note, extracted_text=extracted_text),
            updated_at=now,
        )


def _policy_entries(sources: Sources, versions: Iterable[tuple[Any, ...]]) -> Iterator[models.Model]:
    """One entry per policy from its versions, which come newest first within each policy."""
    now = timezone.now()
    seen: set[int] = set()
    for policy_id, organisation_id, title, sections in versions:
        if policy_id in seen:
            continue
        seen.add(policy_id)
        yield sources.index(
            organisation_id=organisation_id,
            kind=DocumentKind.POLICY,
            policy_id=policy_id,
            title=title,
            body=policy_text(sections),
            updated_at=now,
        )


EVIDENCE_COLUMNS = ("pk", "organisation_id", "title", "description", "note", "extracted_text")
VERSION_COLUMNS = ("policy_id", "organisation_id", "title", "sections")
UPDATED_COLUMNS = ["organisation", "title", "body", "updated_at"]


def _published_versions(sources: Sources) -> models.QuerySet[Any]:
    return (
        sources.version._default_manager.filter(published_at__isnull=False)
        .order_by("policy_id", "-number")
        .values_list(*VERSION_COLUMNS)
    )


# --- Keeping it in step ---------------------------------------------------------------------------


def index_evidence(evidence: Evidence) -> None:
    """Refresh one item's entry from the saved instance (one query; two if text fields were deferred)."""
    if evidence.get_deferred_fields() & set(EVIDENCE_COLUMNS):
        values: tuple[Any, ...] = Evidence.objects.filter(pk=evidence.pk).values_list(*EVIDENCE_COLUMNS).get()
    else:
        values = tuple(getattr(evidence, name) for name in EVIDENCE_COLUMNS)
    _upsert(_evidence_entries(LIVE, [values]), unique_field="evidence")


def index_policy(policy_id: int) -> None:
    """Refresh one policy's entry from its latest published version, or remove it if it has none."""
    latest = list(_published_versions(LIVE).filter(policy_id=policy_id)[:1])
    if not latest:
        DocumentIndex.objects.filter(policy_id=policy_id).delete()
        return
    _upsert(_policy_entries(LIVE, latest), unique_field="policy")


def _upsert(entries: Iterator[models.Model], *, unique_field: str) -> None:
    """Insert, or update the entry of the same source, in one statement (ON CONFLICT ... DO UPDATE)."""
    DocumentIndex.objects.bulk_create(
        cast("list[DocumentIndex]", list(entries)),
        update_conflicts=True,
        unique_fields=[unique_field],
        update_fields=UPDATED_COLUMNS,
    )


def rebuild(*, organisation_id: int | None = None, sources: Sources = LIVE) -> int:
    """Rebuild the entries of one organisation, or of all; returns how many were written.

    In one transaction, so a search running meanwhile sees the old index until the new one is whole.
    """
    items = sources.evidence._default_manager.order_by("pk").values_list(*EVIDENCE_COLUMNS)
    versions = _published_versions(sources)
    entries = sources.index._default_manager.all()
    if organisation_id is not None:
        items = items.filter(organisation_id=organisation_id)
        versions = versions.filter(organisation_id=organisation_id)
        entries = entries.filter(organisation_id=organisation_id)
    written = 0
    with transaction.atomic():
        entries.delete()
        for batch in _batches(_evidence_entries(sources, items.iterator(chunk_size=BATCH))):
            written += len(sources.index._default_manager.bulk_create(batch))
        for batch in _batches(_policy_entries(sources, versions.iterator(chunk_size=BATCH))):
            written += len(sources.index._default_manager.bulk_create(batch))
    return written


def _batches(entries: Iterator[models.Model]) -> Iterator[list[models.Model]]:
    batch: list[models.Model] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# --- Searching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    object_id: int  # the evidence item's or the policy's id
    title: str
    body: str
    score: float  # 0 to 1, higher is better


# Which source rows may be retrieved, read in the search query itself (`d` is the entry; the
# organisation is filtered on it). Evidence is tested for what excludes it: an anti-join against the few
# rejected items is cheaper than joining every other one. The source row is looked up by its id alone:
# given the organisation as well, a planner without fresh statistics (just after a bulk import) chose to
# scan all the organisation's rejected items for every match, taking seconds. Each takes a status.
VISIBLE = {
    DocumentKind.EVIDENCE: (
        f"NOT EXISTS (SELECT 1 FROM {Evidence._meta.db_table} src "  # noqa: S608 - constant names
        "WHERE src.id = d.evidence_id AND src.status = %s)",
        EvidenceStatus.REJECTED,
    ),
    DocumentKind.POLICY: (
        f"EXISTS (SELECT 1 FROM {Policy._meta.db_table} src "  # noqa: S608 - constant names
        "WHERE src.id = d.policy_id AND src.status = %s)",
        PolicyStatus.PUBLISHED,
    ),
}
SOURCE_COLUMN = {DocumentKind.EVIDENCE: "evidence_id", DocumentKind.POLICY: "policy_id"}


def search(*, organisation_id: int, kind: DocumentKind, terms: list[str], limit: int) -> list[Hit]:
    """The organisation's retrievable documents of one kind that mention any of the terms, best first.

    Terms are normalised words or phrases (compliance.synonyms.normalise); a document mentioning more
    of them, or in its title, ranks higher; on equal scores the newest comes first. One query,
    filtered by organisation in SQL.
    """
    terms = [term for term in dict.fromkeys(terms) if re.fullmatch(r"[a-z0-9]+( [a-z0-9]+)*", term)]
    if not terms or limit <= 0:
        return []
    visible, status = VISIBLE[kind]
    column, table = SOURCE_COLUMN[kind], DocumentIndex._meta.db_table
    filters = f"d.organisation_id = %s AND d.kind = %s AND {visible}"
    filter_params = [organisation_id, kind.value, status]
    if connection.vendor == "postgresql":
        # Each term a phrase: a synonym such as "multi factor" must appear as written, a word anywhere.
        query = " || ".join([f"phraseto_tsquery('{SEARCH_CONFIG}', %s)"] * len(terms))
        # ts_rank's normalisation 32 maps the rank into 0..1 as rank / (rank + 1).
        sql = (
            f"SELECT d.{column}, d.title, d.body, ts_rank(d.search_vector, q.query, 32) AS score "  # noqa: S608
            f"FROM {table} d CROSS JOIN (SELECT {query} AS query) q "
            f"WHERE d.search_vector @@ q.query AND {filters} "
            f"ORDER BY score DESC, d.{column} DESC LIMIT %s"
        )
        params: list[Any] = [*terms, *filter_params, limit]
    else:
        # CROSS JOIN keeps SQLite from looping over the organisation's rows and matching each: the
        # full-text match runs once and the join filters what it found.
        sql = (
            f"SELECT d.{column}, d.title, d.body, -bm25({FTS_TABLE}, 10.0, 1.0) AS score "  # noqa: S608
            f"FROM {FTS_TABLE} CROSS JOIN {table} d ON d.id = {FTS_TABLE}.rowid "
            f"WHERE {FTS_TABLE} MATCH %s AND {filters} "
            f"ORDER BY score DESC, d.{column} DESC LIMIT %s"
        )
        params = [" OR ".join(f'"{term}"' for term in terms), *filter_params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor != "postgresql":
        # bm25, negated, grows without bound: brought into 0..1 the same way as ts_rank above.
        rows = [(pk, title, body, score / (score + 1)) for pk, title, body, score in rows]
    return [Hit(object_id=pk, title=title, body=body, score=float(score)) for pk, title, body, score in rows]
