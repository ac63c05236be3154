"""Search across controls that copes with how people ask.

PostgreSQL: full-text search with ranking (title and ref weigh most). SQLite: an FTS5 index with bm25
ranking, kept in step by `index_framework`. Both search the control's words plus the synonyms of the
terms it uses (see synonyms.py), so "2FA" finds a control that only says "multi-factor".
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from compliance.models import Control, Framework
from compliance.synonyms import expansions, normalise

FTS_TABLE = "compliance_control_fts"
# PostgreSQL: the weighted full-text document of each control, a stored generated column the model does not
# declare (migration 0003 defines it: ref and title A, description B, guidance C, synonyms D).
SEARCH_DOCUMENT = '"compliance_control"."search_document"'
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "the",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "need",
        "must",
    ]
)
MAX_TERMS = 12


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def query_words(query: str) -> list[str]:
    return list(dict.fromkeys(word for word in normalise(query).split() if word not in STOPWORDS))[:MAX_TERMS]


def query_terms(query: str) -> list[str]:
    """The words worth searching for, plus the synonyms of what was asked, as phrases."""
    words = query_words(query)
    return list(dict.fromkeys([*words, *sorted(expansions(query))]))[: MAX_TERMS * 2]


def search_controls(query: str, *, framework: Framework | None = None, limit: int = 50) -> QuerySet[Control]:
    """Controls for what was asked, best first.

    When the question names a known idea (a synonym set), a control must mention that idea, in any
    of its words, and every other word asked; otherwise every word. If that finds nothing, the rules
    relax step by step, so a loosely worded question still gets an answer.
    """
    words = query_words(query)
    synonyms = sorted(expansions(query))
    controls: QuerySet[Control] = Control.objects.live().select_related("framework", "group")
    if framework is not None:
        controls = controls.filter(framework=framework)
    covered = {word for term in synonyms for word in term.split()}
    remaining = [word for word in words if word not in covered]
    attempts: list[tuple[list[str], list[str]]] = []
    if synonyms:
        attempts += [(remaining, synonyms), ([], synonyms)]
    elif words:
        attempts.append((words, []))
    if len(words) > 1 or (synonyms and remaining):
        attempts.append(([], words + synonyms))
    scorer = _postgres_scores if _is_postgres() else _sqlite_scores
    for all_of, any_of in attempts:
        scores = scorer(controls, all_of=all_of, any_of=any_of, limit=limit * 2)
        ordered = _rank(controls, scores, limit) if scores else []
        if ordered:
            order = Case(*[When(pk=pk, then=Value(i)) for i, pk in enumerate(ordered)], output_field=IntegerField())
            return controls.filter(pk__in=ordered).annotate(rank=order).order_by("rank")
    return controls.none()


def _rank(controls: QuerySet[Control], scores: dict[int, float], limit: int) -> list[int]:
    """Ids by text relevance, nudged by how much the control matters to a small business.

    Pure text ranking favours short entries that mention a term in passing (a definition, a right of
    individuals); weighting by the control's own weight, and halving what is not assessable, puts
    the controls an owner acts on first. Only ids the caller's queryset allows are kept.
    """
    facts = {
        pk: (weight, assessable)
        for pk, weight, assessable in controls.filter(pk__in=scores).values_list("pk", "weight", "assessable")
    }

    def adjusted(pk: int) -> float:
        weight, assessable = facts[pk]
        return scores[pk] * (0.7 + 0.1 * weight) * (1.0 if assessable else 0.5)

    return sorted(facts, key=adjusted, reverse=True)[:limit]


def _postgres_scores(
    controls: QuerySet[Control], *, all_of: list[str], any_of: list[str], limit: int
) -> dict[int, float]:
    vector = RawSQL(SEARCH_DOCUMENT, [], output_field=SearchVectorField())
    query = None
    for phrase in any_of:
        part = SearchQuery(phrase, search_type="phrase", config="english")
        query = part if query is None else query | part
    for word in all_of:
        part = SearchQuery(word, search_type="plain", config="english")
        query = part if query is None else query & part
    if query is None:
        return {}
    # ts_rank is not zero for a partial match, so the match itself (@@) decides what is found.
    ranked = (
        controls.annotate(document=vector, rank=SearchRank(vector, query))
        .filter(document=query)
        .order_by("-rank", "framework__position", "position")
        .values_list("pk", "rank")[:limit]
    )
    return {pk: float(rank) for pk, rank in ranked}


def _phrase(term: str) -> str | None:
    # Terms are normalised words, so a quote can never appear; anything else is dropped.
    return f'"{term}"' if re.fullmatch(r"[a-z0-9 ]+", term) else None


def _fts_expression(*, all_of: list[str], any_of: list[str]) -> str:
    """(any of the phrases) AND every required word."""
    parts: list[str] = []
    alternatives = [p for p in map(_phrase, any_of) if p]
    if alternatives:
        parts.append("(" + " OR ".join(alternatives) + ")")
    parts.extend(p for p in map(_phrase, all_of) if p)
    return " AND ".join(parts)


def _sqlite_scores(
    controls: QuerySet[Control], *, all_of: list[str], any_of: list[str], limit: int
) -> dict[int, float]:
    expression = _fts_expression(all_of=all_of, any_of=any_of)
    if not expression:
        return {}
    # The index covers every framework: the caller's queryset (live controls, perhaps one framework)
    # filters inside the query, before the LIMIT, so a framework's best rows are never crowded out.
    allowed, allowed_params = controls.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            # bm25 weights follow the column order: ref, title, description, synonyms, guidance.
            # FTS5's bm25 is lower-is-better, so it is negated into a score. The unary + keeps SQLite
            # from looking rows up by id one by one: the full-text match runs once.
            f"SELECT rowid, -bm25({FTS_TABLE}, 10.0, 20.0, 5.0, 1.0, 1.0) FROM {FTS_TABLE} "  # noqa: S608 - constant name
            f"WHERE {FTS_TABLE} MATCH %s AND +rowid IN ({allowed}) ORDER BY 2 DESC LIMIT %s",
            [expression, *allowed_params, limit],
        )
        return dict(cursor.fetchall())


def index_framework(framework: Framework) -> None:
    """Bring the SQLite full-text index up to date for one framework (PostgreSQL needs no index table)."""
    if _is_postgres():
        return
    rows = list(
        Control.objects.filter(framework=framework).values_list(
            "pk", "ref", "title", "description", "search_text", "guidance", "retired_at"
        )
    )
    with connection.cursor() as cursor:
        # FTS_TABLE is a constant; every value goes in as a parameter.
        cursor.executemany(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(row[0],) for row in rows])  # noqa: S608
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (rowid, ref, title, description, synonyms, guidance) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (pk, ref, title, description, synonyms, guidance)
                for pk, ref, title, description, synonyms, guidance, retired_at in rows
                if retired_at is None
            ],
        )
