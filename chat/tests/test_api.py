"""The assistant in the API: answers from the same pipeline as the page (library, the organisation's own
figures, checked citations), not stored as a conversation but audited; its limits (question length,
the organisation's questions a minute) and who may ask."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.audit import Actor
from accounts.models import AuditEvent
from accounts.scopes import Scope
from accounts.tests.factories import PartnerFactory, PartnerGrantFactory
from assessments import selectors
from assessments.models import AnswerStatus, FrameworkAdoption
from assessments.services import answer_save
from chat import services
from chat.models import Conversation, Message
from compliance.models import Control, Framework

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]

ASK = "/api/v1/organisations/acme-bakery/assistant/ask/"
BREACH = "How quickly do we have to report a personal data breach under GDPR?"


def ask(client, question: str, **extra):
    return client.post(ASK, {"question": question, **extra}, format="json")


def assess(organisation) -> None:
    FrameworkAdoption.objects.create(
        organisation=organisation, framework=Framework.objects.get(slug="cyber-essentials")
    )
    for ref, status in [("UA.4", AnswerStatus.PARTIAL), ("SU.3", AnswerStatus.NOT_IMPLEMENTED)]:
        control = Control.objects.get(framework__slug="cyber-essentials", ref=ref)
        answer_save(organisation=organisation, control=control, status=status, actor=Actor(user=None))


# --- Answers --------------------------------------------------------------------------------------
def test_a_gdpr_question_is_answered_citing_real_library_controls(personas, api_for):
    response = ask(api_for(personas.organisation, scopes=[Scope.ASSISTANT_ASK]), BREACH)
    assert response.status_code == 200
    body = response.json()
    assert body["answer"]
    assert body["provider"] == "offline"
    controls = [c for c in body["citations"] if c["kind"] == "control"]
    assert controls, body
    for citation in controls:
        control = Control.objects.live().get(framework__slug=citation["framework"], ref=citation["ref"])
        assert citation["title"] == control.title
        assert citation["url"] == f"http://testserver{control.get_absolute_url()}"
    assert ("uk-gdpr", "33") in {(c["framework"], c["ref"]) for c in controls}
    breach = next(c for c in controls if c["ref"] == "33")
    assert breach["label"] == "UK GDPR 33"
    assert "UK GDPR 33" in body["answer"]


def test_how_ready_are_we_quotes_the_computed_readiness_and_cites_it(personas, api_for):
    assess(personas.organisation)
    readiness = selectors.readiness_for(personas.organisation)
    body = ask(api_for(personas.organisation), "How ready are we? What are our biggest gaps?").json()
    assert f"Overall readiness: {readiness.overall}%" in body["answer"]
    score = readiness.frameworks[0].score
    assert f"{score.percent}%" in body["answer"]
    assert body["citations"][0]["kind"] == "readiness"
    assert body["citations"][0]["label"] == "your readiness"
    assert body["citations"][0]["url"] == f"http://testserver{reverse('readiness_explained')}"
    cited = {(c["framework"], c["ref"]) for c in body["citations"]}
    assert ("cyber-essentials", "SU.3") in cited or ("cyber-essentials", "UA.4") in cited


def test_a_named_framework_puts_its_controls_first(personas, api_for):
    body = ask(api_for(personas.organisation), "What should our password rules be?", framework="uk-gdpr").json()
    controls = [c for c in body["citations"] if c["kind"] == "control"]
    assert controls[0]["framework"] == "uk-gdpr"


def test_an_unknown_framework_is_a_400_naming_the_field(personas, api_for):
    response = ask(api_for(personas.organisation), BREACH, framework="horoscopes")
    assert response.status_code == 400
    assert "framework" in response.json()["errors"]
    assert not AuditEvent.objects.filter(action="assistant.asked_via_api").exists()


def test_the_answer_is_not_stored_as_a_conversation_but_the_question_is_audited(personas, api_for):
    client = api_for(personas.organisation, scopes=[Scope.ASSISTANT_ASK])
    question = "Do we need a privacy notice? " + "Please explain in detail. " * 20
    assert ask(client, question).status_code == 200
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()
    event = AuditEvent.objects.get(organisation=personas.organisation, action="assistant.asked_via_api")
    assert question.strip()[:200] in event.summary
    assert question.strip()[:201] not in event.summary
    assert event.actor is None
    assert client.key.prefix in event.actor_label


def test_a_retried_question_with_the_same_idempotency_key_is_answered_once(personas, api_for):
    client = api_for(personas.organisation)
    headers = {"Idempotency-Key": "ask-1"}
    first = client.post(ASK, {"question": BREACH}, format="json", headers=headers)
    again = client.post(ASK, {"question": BREACH}, format="json", headers=headers)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action="assistant.asked_via_api").count() == 1


# --- Limits ---------------------------------------------------------------------------------------
def test_a_question_over_the_limit_is_a_400(personas, api_for):
    response = ask(api_for(personas.organisation), "a" * (services.MAX_QUESTION_CHARS + 1))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"]["question"] == [
        f"Questions can be at most {services.MAX_QUESTION_CHARS:,} characters."
    ]


def test_an_empty_question_is_a_400(personas, api_for):
    response = ask(api_for(personas.organisation), "   ")
    assert response.status_code == 400
    assert "question" in response.json()["errors"]


def test_past_the_organisations_questions_a_minute_the_answer_is_429_with_retry_after(
    personas, api_for, client_for, monkeypatch
):
    monkeypatch.setattr(services, "QUESTIONS_PER_MINUTE", 2)
    client = api_for(personas.organisation)
    assert ask(client, BREACH).status_code == 200
    # The limit is the organisation's, whoever asks: a member's questions count too.
    assert ask(client_for(personas.member), BREACH).status_code == 200
    response = ask(api_for(personas.organisation), BREACH)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "2 questions in the last minute" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="assistant.asked_via_api").count() == 2


# --- Who may ask ----------------------------------------------------------------------------------
def test_asking_needs_the_assistant_ask_scope(personas, api_for):
    response = ask(api_for(personas.organisation, scopes=[s for s in Scope if s != Scope.ASSISTANT_ASK]), BREACH)
    assert response.status_code == 403
    assert Scope.ASSISTANT_ASK in response.json()["detail"]


def test_another_organisation_is_not_found(personas, api_for):
    response = ask(api_for(personas.other_organisation), BREACH)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_partner_key_needs_the_grant_to_include_the_scope(personas, api_for):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=[Scope.READINESS_READ])
    assert ask(api_for(partner=partner), BREACH).status_code == 403


def test_asking_without_a_key_is_refused(personas, client_for):
    response = client_for(None).post(ASK, {"question": BREACH}, content_type="application/json")
    assert response.status_code == 401


def test_get_is_not_allowed(personas, api_for):
    assert api_for(personas.organisation).get(ASK).status_code == 405


def test_a_viewers_session_may_ask_as_on_the_page(personas, client_for):
    # Asking changes nothing, so viewers may ask through the API as they may on the assistant page.
    viewer = client_for(personas.viewer)
    response = viewer.post(ASK, {"question": BREACH}, content_type="application/json")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="assistant.asked_via_api")
    assert event.actor == personas.viewer
