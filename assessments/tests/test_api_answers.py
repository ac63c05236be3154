"""assessments/ and answers/ in the API: rounds, the open round's progress, and answers through `answer_save`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.scopes import Scope
from assessments import services
from assessments.models import Answer, AnswerStatus
from assessments.tests.factories import AnswerFactory, AssessmentRoundFactory, FrameworkAdoptionFactory
from assessments.tests.test_readiness_views import World, build_world
from compliance.models import ControlMapping, Relationship
from compliance.tests.factories import ControlFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery/"
ANSWERS = f"{BASE}answers/"
ROUNDS = f"{BASE}assessments/"


@pytest.fixture
def world(personas) -> World:
    return build_world(personas.organisation)


def session_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def answer_of(world: World, control) -> Answer:
    return Answer.objects.get(organisation=world.organisation, round__closed_at__isnull=True, control=control)


# --- Rounds ---------------------------------------------------------------------------------------
def test_rounds_are_listed_newest_first_with_their_answer_counts(world, personas, api_for):
    closed = AssessmentRoundFactory(organisation=personas.organisation, name="Before the renewal")
    closed.started_at = timezone.now() - timedelta(days=200)
    closed.save()

    response = api_for(personas.organisation, scopes=[Scope.ASSESSMENTS_READ]).get(ROUNDS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["is_open"], row["answer_count"]) for row in rows] == [(True, 4), (False, 0)]
    assert rows[1]["name"] == "Before the renewal"


def test_listing_rounds_costs_the_same_for_one_or_many(world, personas, api_for, django_assert_num_queries):
    client = api_for(personas.organisation)
    client.get(ROUNDS)
    with django_assert_num_queries(2):
        assert len(client.get(ROUNDS).json()["results"]) == 1
    AssessmentRoundFactory.create_batch(3, organisation=personas.organisation)
    with django_assert_num_queries(2):
        assert len(client.get(ROUNDS).json()["results"]) == 4


def test_the_current_round_shows_each_frameworks_progress_as_the_page_does(world, personas, api_for, client_for):
    response = api_for(personas.organisation).get(f"{ROUNDS}current/")

    assert response.status_code == 200
    body = response.json()
    assert body["is_open"] is True
    assert body["answer_count"] == 4
    page = client_for(personas.owner).get("/assessment/")
    shown = {row.adoption.framework.slug: progress for row, progress in page.context["rows"]}
    essentials, standard = body["frameworks"]
    assert essentials["framework"]["slug"] == "essentials"
    progress = shown["essentials"]
    assert (essentials["answered"], essentials["total"], essentials["percent"]) == (
        progress.answered,
        progress.total,
        progress.percent,
    )
    # mfa partial, patching implemented through the mapping, firewall not implemented, premises N/A,
    # children ruled out by the profile.
    assert essentials["counts"] == {
        "implemented": 1,
        "partial": 1,
        "not_implemented": 1,
        "not_applicable": 1,
        "unanswered": 0,
        "excluded_by_profile": 1,
    }
    assert essentials["complete"] is True
    assert standard["counts"]["unanswered"] == 1


def test_without_an_open_round_current_is_404(personas, api_for):
    response = api_for(personas.organisation).get(f"{ROUNDS}current/")

    assert response.status_code == 404
    assert "No assessment round is open" in response.json()["detail"]


# --- Listing answers ------------------------------------------------------------------------------
def test_answers_of_the_open_round_are_listed(world, personas, api_for):
    AnswerFactory(organisation=personas.organisation, control=world.logging)  # a closed round's answer
    response = api_for(personas.organisation).get(ANSWERS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["control"]["ref"] for row in rows} == {"mfa", "firewall", "premises", "backups"}
    premises = next(row for row in rows if row["control"]["ref"] == "premises")
    assert premises["status"] == "not_applicable"
    assert premises["justification"] == "We work from home; there are no premises."
    assert premises["control"]["framework"] == "essentials"
    assert premises["url"] == f"http://testserver{ANSWERS}{premises['id']}/"


@pytest.mark.parametrize(
    ("query", "refs"),
    [
        ("framework=standard", {"backups"}),
        ("control=mfa", {"mfa"}),
        ("status=not_implemented", {"firewall"}),
        ("framework=essentials&status=partial", {"mfa"}),
    ],
)
def test_answers_are_filtered(world, personas, api_for, query, refs):
    response = api_for(personas.organisation).get(f"{ANSWERS}?{query}")

    assert {row["control"]["ref"] for row in response.json()["results"]} == refs


def test_an_unknown_status_filter_is_a_400(world, personas, api_for):
    response = api_for(personas.organisation).get(f"{ANSWERS}?status=done")

    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_answers_show_owners_only_while_they_are_members(world, personas, api_for):
    answer = answer_of(world, world.mfa)
    answer.owner = personas.member
    answer.save()
    AnswerFactory(
        organisation=personas.organisation,
        round=answer.round,
        control=world.logging,
        status=AnswerStatus.PARTIAL,
        owner=personas.outsider,
    )

    rows = {row["control"]["ref"]: row for row in api_for(personas.organisation).get(ANSWERS).json()["results"]}

    assert rows["mfa"]["owner"] == {
        "id": personas.member.pk,
        "name": personas.member.display_name,
        "email": personas.member.email,
    }
    assert rows["logging"]["owner"] is None


def test_listing_answers_costs_the_same_for_one_or_many(personas, api_for, django_assert_num_queries):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation)
    current = services.round_current(organisation=personas.organisation)
    controls = ControlFactory.create_batch(6, framework=adoption.framework, group__framework=adoption.framework)
    AnswerFactory(organisation=personas.organisation, round=current, control=controls[0], owner=personas.member)
    client = api_for(personas.organisation)
    client.get(ANSWERS)

    with django_assert_num_queries(3):  # key with organisation, members, answers with their controls and people
        assert len(client.get(ANSWERS).json()["results"]) == 1
    for control in controls[1:]:
        AnswerFactory(
            organisation=personas.organisation,
            round=current,
            control=control,
            owner=personas.admin,
            via_control=controls[0],
        )
    with django_assert_num_queries(3):
        assert len(client.get(ANSWERS).json()["results"]) == 6


def test_answers_page_by_cursor_without_skipping_or_repeating(world, personas, api_for):
    client = api_for(personas.organisation)
    seen, url = [], f"{ANSWERS}?page_size=1&ordering=-updated_at"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert sorted(seen) == sorted(Answer.objects.filter(round__closed_at__isnull=True).values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 4


def test_reading_one_answer_even_of_an_earlier_round(world, personas, api_for):
    earlier = AnswerFactory(organisation=personas.organisation, control=world.logging)

    response = api_for(personas.organisation).get(f"{ANSWERS}{earlier.pk}/")

    assert response.status_code == 200
    assert response.json()["round"] == earlier.round_id


def test_another_organisations_answer_is_not_found(world, personas, api_for):
    theirs = AnswerFactory(organisation=personas.other_organisation)

    assert api_for(personas.organisation).get(f"{ANSWERS}{theirs.pk}/").status_code == 404


# --- Saving answers -------------------------------------------------------------------------------
def test_a_first_answer_by_control_id_answers_201_with_its_location(world, personas, api_for):
    client = api_for(personas.organisation, scopes=[Scope.ASSESSMENTS_WRITE])

    response = client.post(
        ANSWERS,
        {"control": world.logging.pk, "status": "implemented", "notes": "Logs kept for 90 days.", "version": 0},
        format="json",
    )

    assert response.status_code == 201, response.json()
    answer = answer_of(world, world.logging)
    assert response["Location"] == f"http://testserver{ANSWERS}{answer.pk}/"
    body = response.json()
    assert (body["status"], body["notes"], body["version"], body["changed"]) == (
        "implemented",
        "Logs kept for 90 days.",
        1,
        True,
    )
    assert body["updated_by"] is None  # an API key answered
    assert AuditEvent.objects.get(action="answer.created").actor_label.startswith("API key")


def test_answering_by_framework_and_ref_changes_the_readiness(world, personas, api_for):
    client = api_for(personas.organisation)

    response = client.post(ANSWERS, {"framework": "essentials", "ref": "mfa", "status": "implemented"}, format="json")

    assert response.status_code == 200  # mfa had an answer: changed
    assert response.json()["version"] == 2
    readiness = client.get(f"{BASE}readiness/").json()
    essentials = next(f for f in readiness["frameworks"] if f["framework"]["slug"] == "essentials")
    assert essentials["would_fail"] is False


def test_fields_left_out_keep_their_saved_values(world, personas, api_for):
    answer = answer_of(world, world.premises)
    answer.notes, answer.owner = "Checked with the landlord.", personas.member
    answer.save()

    response = api_for(personas.organisation).post(
        ANSWERS, {"control": world.premises.pk, "status": "not_applicable", "notes": "Still no office."}, format="json"
    )

    assert response.status_code == 200, response.json()
    answer.refresh_from_db()
    assert answer.justification == "We work from home; there are no premises."
    assert answer.owner == personas.member
    assert answer.notes == "Still no office."


def test_a_stale_version_is_409_and_saves_nothing(world, personas, api_for):
    answer = answer_of(world, world.mfa)
    client = api_for(personas.organisation)

    response = client.post(ANSWERS, {"control": world.mfa.pk, "status": "implemented", "version": 0}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "You sent version 0, but the answer is now version 1 (partially implemented" in detail
    assert "send version 1" in detail
    answer.refresh_from_db()
    assert (answer.status, answer.version) == (AnswerStatus.PARTIAL, 1)
    assert not AuditEvent.objects.filter(action="answer.updated").exists()


def test_the_current_version_saves_and_the_next_save_with_it_is_stale(world, personas, api_for):
    client = api_for(personas.organisation)
    payload = {"control": world.mfa.pk, "status": "implemented", "version": 1}

    assert client.post(ANSWERS, payload, format="json").status_code == 200
    stale = client.post(ANSWERS, {**payload, "status": "not_implemented"}, format="json")

    assert stale.status_code == 409
    assert answer_of(world, world.mfa).status == AnswerStatus.IMPLEMENTED


def test_sending_what_is_saved_again_with_an_old_version_changes_nothing(world, personas, api_for):
    client = api_for(personas.organisation)
    payload = {"control": world.mfa.pk, "status": "implemented", "version": 1}
    client.post(ANSWERS, payload, format="json")

    again = client.post(ANSWERS, payload, format="json")

    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert answer_of(world, world.mfa).version == 2


def test_a_version_for_a_control_not_yet_answered_must_be_0(world, personas, api_for):
    response = api_for(personas.organisation).post(
        ANSWERS, {"control": world.logging.pk, "status": "partial", "version": 3}, format="json"
    )

    assert response.status_code == 409
    assert "send version 0" in response.json()["detail"]


def test_without_a_version_the_last_write_wins(world, personas, api_for):
    response = api_for(personas.organisation).post(
        ANSWERS, {"control": world.mfa.pk, "status": "not_implemented"}, format="json"
    )

    assert response.status_code == 200
    assert answer_of(world, world.mfa).status == AnswerStatus.NOT_IMPLEMENTED


def test_applying_to_mapped_controls(world, personas, api_for):
    ControlMapping.objects.filter(source=world.logging, target=world.firewall).update(relationship=Relationship.EQUAL)
    Answer.objects.filter(control=world.firewall).delete()

    response = api_for(personas.organisation).post(
        ANSWERS, {"control": world.logging.pk, "status": "implemented", "apply_to_mapped": True}, format="json"
    )

    assert response.status_code == 201
    assert [c["ref"] for c in response.json()["applied_to"]] == ["firewall"]
    assert answer_of(world, world.firewall).via_control == world.logging


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"status": "implemented"}, "control", "Name the control by its id, or by framework and ref."),
        ({"framework": "essentials", "status": "implemented"}, "control", "Name the control"),
        ({"control": 999999, "status": "implemented"}, "control", "not part of a framework your organisation"),
        ({"framework": "essentials", "ref": "nope", "status": "implemented"}, "ref", "not part of a framework"),
        ({"control": "MFA", "status": "implemented"}, "control", "A valid integer is required."),
        ({"control": 2**70, "status": "implemented"}, "control", "less than or equal to"),
        ({"framework": "essentials", "ref": "mfa", "status": "done"}, "status", "Choose implemented"),
        ({"framework": "essentials", "ref": "mfa"}, "status", "Choose implemented"),
        (
            {"framework": "essentials", "ref": "firewall", "status": "not_applicable"},
            "justification",
            "Say why this control does not apply",
        ),
        (
            {"framework": "essentials", "ref": "mfa", "status": "not_applicable", "justification": "  "},
            "justification",
            "Say why",
        ),
        ({"framework": "essentials", "ref": "mfa", "status": "partial", "version": -1}, "version", "greater than"),
    ],
)
def test_invalid_answers_are_refused_field_by_field(world, personas, api_for, payload, field, message):
    response = api_for(personas.organisation).post(ANSWERS, payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in str(response.json()["errors"][field])
    assert answer_of(world, world.mfa).version == 1


def test_an_owner_outside_the_organisation_is_refused(world, personas, api_for):
    response = api_for(personas.organisation).post(
        ANSWERS, {"control": world.mfa.pk, "status": "implemented", "owner": personas.outsider.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["owner"] == ["Choose someone in your organisation as the owner."]


def test_a_control_of_a_framework_not_adopted_is_refused(world, personas, api_for):
    elsewhere = ControlFactory()

    response = api_for(personas.organisation).post(
        ANSWERS, {"control": elsewhere.pk, "status": "implemented"}, format="json"
    )

    assert response.status_code == 400
    assert not Answer.objects.filter(control=elsewhere).exists()


def test_a_control_the_profile_rules_out_cannot_be_answered(world, personas, api_for):
    response = api_for(personas.organisation).post(
        ANSWERS, {"control": world.children.pk, "status": "implemented"}, format="json"
    )

    assert response.status_code == 400
    assert "does not apply to your business" in response.json()["errors"]["control"][0]


def test_a_retried_answer_with_the_same_idempotency_key_is_replayed(world, personas, api_for):
    client = api_for(personas.organisation)
    payload = {"control": world.logging.pk, "status": "partial"}

    first = client.post(ANSWERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="answer-logging")
    second = client.post(ANSWERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="answer-logging")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert AuditEvent.objects.filter(action="answer.created").count() == 1


def test_refusing_a_stale_answer_is_the_services_choice(world, personas):
    """Without `refuse_stale`, the pages' contract stands: the stale save goes through and says so."""
    from accounts.audit import Actor

    result = services.answer_save(
        organisation=personas.organisation,
        control=world.mfa,
        status=AnswerStatus.IMPLEMENTED,
        actor=Actor(user=personas.owner),
        expected_version=0,
    )

    assert result.changed is True
    assert answer_of(world, world.mfa).status == AnswerStatus.IMPLEMENTED
    with pytest.raises(services.StaleAnswer):
        services.answer_save(
            organisation=personas.organisation,
            control=world.mfa,
            status=AnswerStatus.PARTIAL,
            actor=Actor(user=personas.owner),
            expected_version=1,
            refuse_stale=True,
        )


# --- Who may ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "assessments/", Scope.ASSESSMENTS_READ),
        ("get", "assessments/current/", Scope.ASSESSMENTS_READ),
        ("get", "answers/", Scope.ASSESSMENTS_READ),
        ("get", "answers/{answer}/", Scope.ASSESSMENTS_READ),
        ("post", "answers/", Scope.ASSESSMENTS_WRITE),
    ],
)
def test_each_operation_needs_its_scope(world, personas, api_for, method, path, scope):
    client = api_for(personas.organisation, scopes=set(Scope) - {scope})
    url = BASE + path.format(answer=answer_of(world, world.mfa).pk)

    response = getattr(client, method)(url, {"control": world.mfa.pk, "status": "implemented"}, format="json")

    assert response.status_code == 403
    assert str(scope) in response.json()["detail"]
    assert answer_of(world, world.mfa).status == AnswerStatus.PARTIAL


@pytest.mark.parametrize("path", ["assessments/", "assessments/current/", "answers/"])
def test_without_a_key_the_answer_is_401(world, path):
    assert APIClient().get(BASE + path).status_code == 401


def test_a_viewer_reads_answers_but_cannot_save_one(world, personas):
    client = session_for(personas.viewer)

    assert client.get(ANSWERS).status_code == 200
    response = client.post(ANSWERS, {"control": world.mfa.pk, "status": "implemented"}, format="json")
    assert response.status_code == 403
    assert answer_of(world, world.mfa).status == AnswerStatus.PARTIAL


def test_a_members_session_answer_is_theirs(world, personas):
    response = session_for(personas.member).post(
        ANSWERS, {"control": world.mfa.pk, "status": "implemented", "version": 1}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["updated_by"]["email"] == personas.member.email
