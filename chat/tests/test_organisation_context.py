"""The organisation's own figures in the assistant: readiness and gaps as Greenlight computes them,
the profile and why frameworks apply, and nothing computed unless the question is about them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.tests.factories import OrganisationFactory
from assessments import selectors
from assessments.models import AnswerStatus, CardHandling, FrameworkAdoption
from assessments.services import answer_save
from assessments.tests.factories import BusinessProfileFactory
from chat.answering import answer_question
from chat.citations import validate_citations
from chat.organisation_context import context_passages, profile_passage, readiness_passage
from compliance.models import Control, Framework

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]


def adopt(organisation, *slugs: str) -> None:
    for slug in slugs:
        FrameworkAdoption.objects.create(organisation=organisation, framework=Framework.objects.get(slug=slug))


def answer(organisation, slug: str, ref: str, status: str) -> None:
    control = Control.objects.get(framework__slug=slug, ref=ref)
    answer_save(organisation=organisation, control=control, status=status, actor=Actor(user=None))


@pytest.fixture
def assessed():
    organisation = OrganisationFactory(name="Crumb & Co Ltd")
    adopt(organisation, "cyber-essentials")
    answer(organisation, "cyber-essentials", "UA.4", AnswerStatus.PARTIAL)
    answer(organisation, "cyber-essentials", "SU.3", AnswerStatus.NOT_IMPLEMENTED)
    answer(organisation, "cyber-essentials", "FW.1", AnswerStatus.IMPLEMENTED)
    return organisation


def test_the_readiness_passage_quotes_the_computed_scores_and_costliest_gaps(assessed):
    readiness = selectors.readiness_for(assessed)
    passage = readiness_passage(assessed)
    assert f"Overall readiness: {readiness.overall}%." in passage.text
    framework = readiness.frameworks[0].score
    assert f"Cyber Essentials: {framework.percent}% ({framework.band})" in passage.text
    assert "It would fail today" in passage.text  # UA.4 decides the outcome on its own
    ranked = selectors.ranked_gaps(readiness)[:5]
    assert passage.gap_control_ids == tuple(gap.control_id for gap in ranked)
    refs = dict(Control.objects.filter(pk__in=passage.gap_control_ids).values_list("pk", "ref"))
    gap_lines = passage.text.split("Costliest gaps, first to fix:\n")[1].splitlines()
    assert [line.split(" ")[3] for line in gap_lines] == [refs[pk] for pk in passage.gap_control_ids]
    (mfa,) = [line for line in gap_lines if " UA.4 " in line]  # answered "partly", and decisive alone
    assert "partly in place" in mfa
    assert "fails the assessment on its own" in mfa


def test_without_an_adopted_framework_there_is_no_score_to_quote():
    passage = readiness_passage(OrganisationFactory())
    assert "no readiness score" in passage.text
    assert passage.gap_control_ids == ()


def test_the_profile_passage_says_which_frameworks_apply_and_why():
    organisation = OrganisationFactory()
    assert profile_passage(organisation) is None  # nothing told yet
    BusinessProfileFactory(organisation=organisation, card_handling=CardHandling.HOSTED, completed_at=timezone.now())
    adopt(organisation, "uk-gdpr")
    passage = profile_passage(organisation)
    assert "UK GDPR" in passage.text
    assert "PCI DSS (SAQ A)" in passage.text
    assert "Adopted: UK GDPR." in passage.text


def test_figures_are_only_computed_when_the_question_is_about_them(assessed, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert context_passages("How long do we have to report a data breach?", assessed) == []
    kinds = [p.kind for p in context_passages("What are our biggest gaps and how ready are we?", assessed)]
    assert kinds == ["readiness"]
    kinds = [p.kind for p in context_passages("Which frameworks apply to us?", assessed)]
    assert kinds == []  # no completed profile: nothing to quote


def test_an_answer_about_gaps_leads_with_the_computed_figures_and_cites_them(assessed):
    readiness = selectors.readiness_for(assessed)
    answer = answer_question("Where should we start? What are our biggest gaps?", organisation=assessed)
    assert f"Overall readiness: {readiness.overall}%" in answer.text
    kinds = [(c.kind, c.framework, c.ref) for c in answer.citations]
    assert kinds[0] == ("readiness", "", "readiness")
    assert ("control", "cyber-essentials", "UA.4") in kinds


def test_context_citations_are_valid_only_for_an_organisation(assessed):
    raw = [{"kind": "readiness"}, {"kind": "profile"}]
    citations, dropped = validate_citations(raw, organisation=assessed)
    assert [c.url for c in citations] == ["/readiness/", "/profile/"]
    assert dropped == 0
    assert validate_citations(raw, organisation=None) == ([], 2)
