from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import UserFactory
from compliance.library_format import parse_framework
from compliance.models import Control
from compliance.search import _postgres_candidates, index_framework, query_terms, search_controls
from compliance.services import framework_load
from compliance.tests.factories import ControlFactory, FrameworkFactory

pytestmark = pytest.mark.django_db


TINY = Path(__file__).parent / "data" / "tiny.yaml"


@pytest.fixture
def library():
    data = yaml.safe_load(TINY.read_text())
    framework_load(document=parse_framework(data, source="tiny.yaml"))


def test_2fa_finds_the_control_that_says_multi_factor(library):
    refs = [control.ref for control in search_controls("how do I turn on 2FA?")]
    assert refs[0] == "A.1.1"


def test_search_ranks_the_best_match_first(library):
    refs = [control.ref for control in search_controls("backups")]
    assert refs[0] == "A.1.2"


def test_stopwords_alone_find_nothing(library):
    assert list(search_controls("how do I")) == []


def test_query_terms_expand_synonyms():
    terms = query_terms("SAR deadline")
    assert "subject access request" in terms
    assert "deadline" in terms


def search_refs(query: str) -> list[str]:
    return [control.ref for control in search_controls(query)]


def test_a_search_takes_one_query_to_match_and_rank_and_one_to_load(library, django_assert_num_queries):
    # The text score and everything the ranking weighs come back from the full-text query itself.
    with django_assert_num_queries(2):
        assert search_refs("backups")[0] == "A.1.2"


def test_each_relaxed_attempt_costs_one_query(library, django_assert_num_queries):
    # No control mentions both words: the search asks again for either word.
    with django_assert_num_queries(3):
        assert search_refs("backups zeppelin") == ["A.1.2"]


def test_equal_matches_keep_the_librarys_order(db):
    framework = FrameworkFactory()
    later = ControlFactory(group__framework=framework, title="Shredding paper records", position=2)
    earlier = ControlFactory(group__framework=framework, title="Shredding paper records", position=1)
    index_framework(framework)
    assert [control.pk for control in search_controls("shredding")] == [earlier.pk, later.pk]


def test_a_reimported_control_is_found_by_its_new_words(library):
    data = yaml.safe_load(TINY.read_text())
    data["controls"][1]["guidance"] = "Keep an offline copy in a fireproof safe."
    framework_load(document=parse_framework(data, source="tiny.yaml"), force=True)
    assert search_refs("fireproof") == ["A.1.2"]
    assert search_refs("restores") == []


# --- PostgreSQL: the stored, indexed search document (migration 0003) ---------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's stored tsvector column; SQLite searches its FTS5 table"
)


@postgres_only
def test_the_search_document_is_a_generated_column_with_a_gin_index(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_type, is_generated FROM information_schema.columns "
            "WHERE table_name = 'compliance_control' AND column_name = 'search_document'"
        )
        assert cursor.fetchall() == [("tsvector", "ALWAYS")]
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'compliance_control'")
        assert any("USING gin (search_document)" in indexdef for (indexdef,) in cursor.fetchall())


@postgres_only
def test_the_search_reads_the_stored_document_and_builds_no_vector(library):
    with CaptureQueriesContext(connection) as captured:
        assert search_refs("how do I turn on 2FA?")[0] == "A.1.1"
    statements = [query["sql"] for query in captured.captured_queries]
    assert any("search_document @@" in sql for sql in statements)
    assert not any("to_tsvector" in sql for sql in statements)


def built_vector() -> SearchVector:
    """The vector the search used to build for every control on every query: ref and title A, description B,
    guidance C, synonyms D. The stored column must be exactly that, or the ranking would change."""
    return (
        SearchVector("ref", weight="A", config="english")
        + SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector("guidance", weight="C", config="english")
        + SearchVector("search_text", weight="D", config="english")
    )


@postgres_only
def test_the_stored_document_weighs_the_fields_as_the_search_always_has(library):
    expected = dict(Control.objects.annotate(built=built_vector()).values_list("pk", "built"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, search_document FROM compliance_control")
        stored = dict(cursor.fetchall())
    assert len(stored) == 3
    assert stored == expected


@postgres_only
@pytest.mark.parametrize(
    ("all_of", "any_of", "matches"),
    [
        (["cloud"], ["multi factor", "2fa"], 1),
        ([], ["backups", "authentication", "words"], 3),
        ([], ["app authenticator", "backups"], 1),  # a phrase: the guidance says "authenticator app"
    ],
)
def test_scores_equal_what_the_orm_search_over_built_vectors_gave(library, all_of, any_of, matches):
    # Phrases OR-ed, then each word AND-ed, as the ORM's SearchQuery combined them: ts_rank depends on the shape.
    query = None
    for phrase in any_of:
        part = SearchQuery(phrase, search_type="phrase", config="english")
        query = part if query is None else query | part
    for word in all_of:
        query = query & SearchQuery(word, search_type="plain", config="english")
    vector = built_vector()
    expected = dict(
        Control.objects.annotate(document=vector, rank=SearchRank(vector, query))
        .filter(document=query)
        .values_list("pk", "rank")
    )
    allowed = Control.objects.values("pk").query.sql_with_params()
    found = _postgres_candidates(allowed, all_of=all_of, any_of=any_of, limit=10)
    assert {candidate.pk: candidate.score for candidate in found} == expected
    assert len(expected) == matches


@postgres_only
def test_a_control_changed_by_any_means_is_found_by_its_new_words(library):
    # A plain UPDATE, past every service: PostgreSQL regenerates the stored document itself.
    Control.objects.filter(ref="A.1.2").update(guidance="Keep an offline copy in a fireproof safe.")
    assert search_refs("fireproof") == ["A.1.2"]
    assert search_refs("restores") == []


# The management form of an inline with no rows, as the admin's change page posts it.
EMPTY_INLINE = [("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0), ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 1000)]


@postgres_only
def test_a_library_editor_edit_is_found_by_its_new_words(library, client_for):
    editor = UserFactory(is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="edit_library"))
    control = Control.objects.get(ref="A.1.2")
    data = {
        "framework": control.framework_id,
        "group": control.group_id,
        "ref": "A.1.2",
        "title": "Backups",
        "weight": 3,
        "assessable": "on",
        "applies_if": "[]",
        "description": control.description,
        "guidance": "Keep an offline copy in a fireproof safe.",
        "typical_evidence": '["Backup report"]',
        "position": control.position,
        **{f"{inline}-{field}": value for inline in ("questions", "mappings_out") for field, value in EMPTY_INLINE},
    }
    response = client_for(editor).post(reverse("admin:compliance_control_change", args=[control.pk]), data)
    assert response.status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM compliance_control WHERE id = %s", [control.pk])
        assert "'fireproof':" in cursor.fetchone()[0]
    assert search_refs("fireproof") == ["A.1.2"]
