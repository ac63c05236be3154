"""Search across controls that copes with how people ask.

PostgreSQL: full-text search with ranking (title and ref weigh most) over each control's stored, indexed
search document (migration 0003), which PostgreSQL keeps current itself. SQLite: an FTS5 index with bm25
ranking, kept in step by `index_framework`. Both search the control's words plus the synonyms of the
terms it uses (see synonyms.py), so "2FA" finds a control that only says "multi-factor".
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, cast

from django.db import connection
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.expressions import Expression, RawSQL

from compliance.models import Control, Framework
from compliance.synonyms import expansions, normalise

FTS_TABLE = "compliance_control_fts"
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


class Candidate(NamedTuple):
    """A control the search matched, with all that ranking needs: ranking takes no query of its own."""

    pk: int
    score: float  # text relevance, higher is better
    weight: int
    assessable: bool
    # The library's own order (the model's default ordering), which settles ties.
    framework_position: int
    framework_name: str
    position: int


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
        attempts.append((remaining, synonyms))
        if remaining:  # without other words, the first attempt already asked for the idea alone
            attempts.append(([], synonyms))
    elif words:
        attempts.append((words, []))
    if len(words) > 1 or (synonyms and remaining):
        attempts.append(([], words + synonyms))
    # The caller's queryset (live controls, perhaps one framework) filters inside each search, before
    # its LIMIT, so a framework's best rows are never crowded out by other frameworks'.
    allowed = controls.order_by().values("pk").query.sql_with_params()
    scorer = _postgres_candidates if _is_postgres() else _sqlite_candidates
    for all_of, any_of in attempts:
        ordered = _rank(scorer(allowed, all_of=all_of, any_of=any_of, limit=limit * 2), limit)
        if ordered:
            return controls.filter(pk__in=ordered).annotate(rank=_given_order(ordered)).order_by("rank")
    return controls.none()


def _rank(candidates: list[Candidate], limit: int) -> list[int]:
    """Ids by text relevance, nudged by how much the control matters to a small business.

    Pure text ranking favours short entries that mention a term in passing (a definition, a right of
    individuals); weighting by the control's own weight, and halving what is not assessable, puts
    the controls an owner acts on first.
    """

    def key(candidate: Candidate) -> tuple[float, int, str, int]:
        adjusted = candidate.score * (0.7 + 0.1 * candidate.weight) * (1.0 if candidate.assessable else 0.5)
        return (-adjusted, candidate.framework_position, candidate.framework_name, candidate.position)

    return [candidate.pk for candidate in sorted(candidates, key=key)[:limit]]


def _given_order(ids: list[int]) -> Expression:
    """An expression that sorts the controls with these ids in the order given."""
    if _is_postgres():
        # One array parameter: a CASE with a branch per id costs milliseconds to build and compile.
        return RawSQL('array_position(%s::bigint[], "compliance_control"."id")', [ids], output_field=IntegerField())
    return Case(*[When(pk=pk, then=Value(i)) for i, pk in enumerate(ids)], output_field=IntegerField())


# Both full-text queries are written in SQL: a search runs up to three of them, and building one through
# the ORM took longer than PostgreSQL took to run it.
Allowed = tuple[str, tuple[Any, ...]]  # SQL selecting the ids a search may return, and its parameters
CANDIDATE_COLUMNS = "control.weight, control.assessable, framework.position, framework.name, control.position"


def _tsquery(*, all_of: list[str], any_of: list[str]) -> tuple[str, list[str]]:
    """(any of the phrases) OR-ed, then AND every word: PostgreSQL tsquery SQL and its parameters.

    Nested left to right as the ORM's SearchQuery combinations were: ts_rank depends on the shape.
    """
    sql, params = "", cast(list[str], [])
    for phrase in any_of:
        part = "phraseto_tsquery('english'::regconfig, %s)"
        sql, params = (f"({sql} || {part})" if sql else part), [*params, phrase]
    for word in all_of:
        part = "plainto_tsquery('english'::regconfig, %s)"
        sql, params = (f"({sql} && {part})" if sql else part), [*params, word]
    return sql, params


def _postgres_candidates(allowed: Allowed, *, all_of: list[str], any_of: list[str], limit: int) -> list[Candidate]:
    tsquery, tsquery_params = _tsquery(all_of=all_of, any_of=any_of)
    if not tsquery:
        return []
    allowed_sql, allowed_params = allowed
    # search_document is the stored, GIN-indexed vector of migration 0003: nothing is rebuilt per query.
    # ts_rank is not zero for a partial match, so the match itself (@@) decides what is found.
    return _candidates(
        f"SELECT control.id, ts_rank(control.search_document, search.query), {CANDIDATE_COLUMNS} "  # noqa: S608 - placeholders only
        "FROM compliance_control AS control "
        "JOIN compliance_framework AS framework ON framework.id = control.framework_id "
        f"CROSS JOIN (SELECT {tsquery} AS query) AS search "
        f"WHERE control.search_document @@ search.query AND control.id IN ({allowed_sql}) "
        "ORDER BY 2 DESC, framework.position, control.position LIMIT %s",
        [*tsquery_params, *allowed_params, limit],
    )


def _candidates(sql: str, params: list[Any]) -> list[Candidate]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            Candidate(pk, score, weight, bool(assessable), framework_position, framework_name, position)
            for pk, score, weight, assessable, framework_position, framework_name, position in cursor.fetchall()
        ]


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


def _sqlite_candidates(allowed: Allowed, *, all_of: list[str], any_of: list[str], limit: int) -> list[Candidate]:
    expression = _fts_expression(all_of=all_of, any_of=any_of)
    if not expression:
        return []
    allowed_sql, allowed_params = allowed
    # bm25 weights follow the column order: ref, title, description, synonyms, guidance. FTS5's bm25 is
    # lower-is-better, so it is negated into a score. The unary + and CROSS JOIN keep SQLite from looking
    # rows up by id one by one: the full-text match runs once, first.
    return _candidates(
        f"SELECT fts.rowid, -bm25({FTS_TABLE}, 10.0, 20.0, 5.0, 1.0, 1.0), {CANDIDATE_COLUMNS} "  # noqa: S608 - constants
        f"FROM {FTS_TABLE} AS fts CROSS JOIN compliance_control AS control ON control.id = fts.rowid "
        "CROSS JOIN compliance_framework AS framework ON framework.id = control.framework_id "
        f"WHERE {FTS_TABLE} MATCH %s AND +fts.rowid IN ({allowed_sql}) ORDER BY 2 DESC LIMIT %s",
        [expression, *allowed_params, limit],
    )


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
