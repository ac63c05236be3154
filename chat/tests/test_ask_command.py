"""`manage.py ask`: the answer and its citations, as text or JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chat.tests.test_retrieval import published_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]


def ask(*args: str) -> str:
    out = StringIO()
    call_command("ask", *args, stdout=out)
    return out.getvalue()


def test_json_output_carries_answer_citations_provider_and_dropped(organisation):
    payload = json.loads(ask("how long do I have to report a data breach", "--org", organisation.slug, "--json"))
    assert set(payload) == {"answer", "citations", "provider", "dropped"}
    assert payload["provider"] == "offline"
    assert payload["dropped"] == 0
    assert ("uk-gdpr", "33") in [(c["framework"], c["ref"]) for c in payload["citations"][:3]]
    assert all(set(c) == {"kind", "framework", "ref", "title", "url"} for c in payload["citations"])


def test_without_an_organisation_the_library_answers():
    payload = json.loads(ask("do we need 2FA", "--json"))
    assert ("cyber-essentials", "UA.4") in [(c["framework"], c["ref"]) for c in payload["citations"][:3]]


def test_text_output_lists_the_sources_with_links(organisation):
    published_policy(organisation, title="Data breach policy", body="Report a data breach within 72 hours.")
    output = ask("how long do I have to report a data breach", "--org", organisation.slug)
    assert "Sources:" in output
    assert "/frameworks/uk-gdpr/controls/33/" in output
    assert "Data breach policy" in output


def test_an_unknown_organisation_is_an_error():
    with pytest.raises(CommandError, match="no-such-org"):
        ask("do we need 2FA", "--org", "no-such-org")
