from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compliance.library_format import parse_framework
from compliance.search import query_terms, search_controls
from compliance.services import framework_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def library():
    data = yaml.safe_load((Path(__file__).parent / "data" / "tiny.yaml").read_text())
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
