"""Search across controls that copes with how people ask.

PostgreSQL: full-text search with ranking (title and ref weigh most). SQLite: an FTS5 index with bm25
ranking, kept in step by `index_framework`. Both search the control's words plus the synonyms of the
terms it uses (see synonyms.py), so "2FA" finds a control that only says "multi-factor".
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, IntegerField, QuerySet, Value, When

from compliance.models import Control, Framework
from compliance.synonyms import expansions, normalise

FTS_TABLE = "compliance_control_fts"
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from have how i if in is it my of on or our should the to "
    "we what when where which who why will with you your need must".split()
)
MAX_TERMS = 12


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def query_terms(query: str) -> list[str]:
    """The words worth searching for, plus the synonyms of what was asked, as phrases."""
    words = [word for word in normalise(query).split() if word not in STOPWORDS]
    terms = list(dict.fromkeys([*words, *sorted(expansions(query))]))
    return terms[:MAX_TERMS]


def search_controls(query: str, *, framework: Framework | None = None, limit: int = 50) -> QuerySet[Control]:
    terms = query_terms(query)
    controls = Control.objects.live().select_related("framework", "group")
    if framework is not None:
        controls = controls.filter(framework=framework)
    if not terms:
        return controls.none()
    if _is_postgres():
        return _postgres_search(controls, terms)[:limit]
    return _sqlite_search(controls, terms, limit)


def _postgres_search(controls: QuerySet[Control], terms: list[str]) -> QuerySet[Control]:
    vector = (
        SearchVector("ref", weight="A", config="english")
        + SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector("search_text", weight="B", config="english")
        + SearchVector("guidance", weight="C", config="english")
    )
    query = None
    for term in terms:
        part = SearchQuery(term, search_type="phrase", config="english")
        query = part if query is None else query | part
    return (
        controls.annotate(rank=SearchRank(vector, query))
        .filter(rank__gt=0)
        .order_by("-rank", "framework__position", "position")
    )


def _fts_expression(terms: list[str]) -> str:
    # Each term becomes a quoted FTS5 phrase; quotes cannot appear because terms are normalised words.
    return " OR ".join(f'"{term}"' for term in terms if re.fullmatch(r"[a-z0-9 ]+", term))


def _sqlite_search(controls: QuerySet[Control], terms: list[str], limit: int) -> QuerySet[Control]:
    expression = _fts_expression(terms)
    with connection.cursor() as cursor:
        cursor.execute(
            # bm25 weights follow the column order: ref, title, description, synonyms, guidance.
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
            f"ORDER BY bm25({FTS_TABLE}, 10.0, 8.0, 4.0, 4.0, 1.0) LIMIT %s",
            [expression, limit],
        )
        ranked_ids = [row[0] for row in cursor.fetchall()]
    if not ranked_ids:
        return controls.none()
    order = Case(*[When(pk=pk, then=Value(index)) for index, pk in enumerate(ranked_ids)], output_field=IntegerField())
    return controls.filter(pk__in=ranked_ids).annotate(rank=order).order_by("rank")


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
        cursor.executemany(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(row[0],) for row in rows])
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (rowid, ref, title, description, synonyms, guidance) VALUES (%s, %s, %s, %s, %s, %s)",
            [(pk, ref, title, description, synonyms, guidance)
             for pk, ref, title, description, synonyms, guidance, retired_at in rows if retired_at is None],
        )

