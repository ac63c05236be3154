"""The assessment pages: overview and rounds, a framework's questions with autosave, combined mode,
and the progress shown on the library's framework page."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditEvent
from assessments import selectors, services
from assessments.models import Answer, AnswerStatus, AssessmentRound
from assessments.tests.factories import BusinessProfileFactory, FrameworkAdoptionFactory
from compliance.models import Relationship
from compliance.tests.factories import (
    ControlFactory,
    ControlGroupFactory,
    ControlMappingFactory,
    FrameworkFactory,
    QuestionFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def library():
    """Alpha (three controls in two groups, one only for card payments) and Beta, whose B1.1 Alpha's
    A1.1 covers (B1.1 is a subset of A1.1)."""
    alpha = FrameworkFactory(slug="alpha", name="Alpha Standard", position=1)
    access = ControlGroupFactory(framework=alpha, ref="A1", title="Access control", position=1)
    backups = ControlGroupFactory(framework=alpha, ref="A2", title="Backups", position=2)
    mfa = ControlFactory(
        group=access, ref="A1.1", title="Multi-factor authentication", auto_fail=True, weight=5, position=1
    )
    QuestionFactory(control=mfa, text="Is multi-factor authentication on for every account?")
    cards = ControlFactory(group=access, ref="A1.2", title="Card terminals", applies_if=["card_payments"], position=2)
    daily = ControlFactory(group=backups, ref="A2.1", title="Daily backups", position=3)
    beta = FrameworkFactory(slug="beta", name="Beta Standard", position=2)
    sign_in = ControlFactory(
        group=ControlGroupFactory(framework=beta, ref="B1", title="Sign-in"),
        ref="B1.1",
        title="Strong sign-in",
        position=1,
    )
    ControlMappingFactory(source=sign_in, target=mfa, relationship=Relationship.SUBSET)
    gamma = FrameworkFactory(slug="gamma", name="Gamma Standard", position=3)
    unadopted = ControlFactory(group=ControlGroupFactory(framework=gamma), ref="G1", title="Not adopted here")
    return SimpleNamespace(
        alpha=alpha, beta=beta, gamma=gamma, mfa=mfa, cards=cards, daily=daily, sign_in=sign_in, unadopted=unadopted
    )


@pytest.fixture
def adopted(personas, library):
    """Acme has a profile (no card payments) and has adopted Alpha and Beta."""
    BusinessProfileFactory(organisation=personas.organisation)
    actor = Actor(user=personas.owner)
    for framework in (library.alpha, library.beta):
        services.framework_adopt(organisation=personas.organisation, framework=framework, target_date=None, actor=actor)
    return library


def signed_in(client_for, user):
    """A client past its first request, which stores the chosen organisation in the session."""
    client = client_for(user)
    client.get(reverse("framework_list"))
    return client


def save(client, control, *, htmx=True, follow=False, **data):
    payload = {"status": AnswerStatus.IMPLEMENTED, "version": "0", **data}
    return client.post(reverse("answer_save", args=[control.pk]), payload, headers=HTMX if htmx else {}, follow=follow)


def answer_of(organisation, control):
    return Answer.objects.filter(organisation=organisation, control=control, round__closed_at__isnull=True).first()


# --- Overview and rounds ---------------------------------------------------------------------------
def test_overview_shows_the_open_round_and_each_framework_with_progress(adopted, personas, client_for):
    save(client_for(personas.member), adopted.daily)
    content = client_for(personas.viewer).get(reverse("assessment")).content.decode()
    assert f"Assessment started {timezone.localdate():%-d %B %Y}" in content
    assert "Alpha Standard" in content
    assert "Beta Standard" in content
    assert "<strong>1 of 2</strong> controls answered" in content  # the card-payment control does not count
    assert reverse("assessment_framework", args=["alpha"]) in content
    assert reverse("assessment_combined") in content
    assert "Start a new round" not in content  # a viewer cannot


def test_overview_without_a_framework_points_to_recommendations(personas, client_for):
    content = client_for(personas.owner).get(reverse("assessment")).content.decode()
    assert "Choose a framework to assess" in content
    assert reverse("recommendations") in content


def test_starting_a_round_keeps_the_old_round_and_carries_answers_over(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.daily, notes="Nightly to the cloud")
    first = AssessmentRound.objects.get(organisation=personas.organisation)

    response = client.post(reverse("round_start"), {"name": "Spring review"}, follow=True)

    assert "Your answers carried over" in response.content.decode()
    first.refresh_from_db()
    assert first.closed_at is not None
    assert first.answers.get().notes == "Nightly to the cloud"
    current = AssessmentRound.objects.get(organisation=personas.organisation, closed_at__isnull=True)
    assert current.name == "Spring review"
    assert current.answers.get().status == AnswerStatus.IMPLEMENTED
    content = response.content.decode()
    assert "Spring review" in content
    assert first.name in content  # earlier rounds are listed


def test_round_start_asks_for_confirmation_and_explains_what_happens(adopted, personas, client_for):
    content = client_for(personas.owner).get(reverse("assessment")).content.decode()
    assert 'data-confirm="Start a new assessment round?' in content
    assert "Your answers carry over" in content


def test_viewer_cannot_start_a_round(adopted, personas, client_for):
    assert client_for(personas.viewer).post(reverse("round_start"), {"name": "Nope"}).status_code == 403
    assert AssessmentRound.objects.filter(organisation=personas.organisation).count() == 1


# --- The view matrix ------------------------------------------------------------------------------
PAGES = [("assessment", []), ("assessment_combined", []), ("assessment_framework", ["alpha"])]


@pytest.mark.parametrize(("name", "args"), PAGES)
@pytest.mark.parametrize("role", ["owner", "member", "viewer", "consultant"])
def test_members_of_every_role_can_read_the_assessment(adopted, personas, client_for, name, args, role):
    assert client_for(getattr(personas, role)).get(reverse(name, args=args)).status_code == 200


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(adopted, client_for, name, args):
    response = client_for(None).get(reverse(name, args=args))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("name", "args"), [*PAGES, ("round_start", []), ("answer_save", [1])])
def test_wrong_method_is_refused(adopted, personas, client_for, name, args):
    client = client_for(personas.owner)
    method = client.get if name in ("round_start", "answer_save") else client.post
    assert method(reverse(name, args=args)).status_code == 405


def test_framework_pages_exist_only_for_adopted_frameworks(adopted, personas, client_for):
    FrameworkAdoptionFactory(organisation=personas.other_organisation, framework=adopted.gamma)
    assert client_for(personas.owner).get(reverse("assessment_framework", args=["gamma"])).status_code == 404
    assert client_for(personas.owner).get(reverse("assessment_framework", args=["nope"])).status_code == 404
    # The outsider's organisation adopted Gamma, not Alpha.
    assert client_for(personas.outsider).get(reverse("assessment_framework", args=["alpha"])).status_code == 404


@pytest.mark.parametrize("role", ["owner", "member", "consultant"])
def test_editors_save_answers(adopted, personas, client_for, role):
    response = save(client_for(getattr(personas, role)), adopted.daily)
    assert response.status_code == 200
    assert answer_of(personas.organisation, adopted.daily).status == AnswerStatus.IMPLEMENTED


def test_viewer_cannot_save_an_answer(adopted, personas, client_for):
    assert save(client_for(personas.viewer), adopted.daily).status_code == 403
    assert not Answer.objects.exists()


def test_viewer_reads_answers_without_a_form_to_change_them(adopted, personas, client_for):
    save(client_for(personas.member), adopted.daily, notes="Nightly")
    content = client_for(personas.viewer).get(reverse("assessment_framework", args=["alpha"])).content.decode()
    assert '<fieldset class="answer-inputs" disabled>' in content
    assert "hx-post" not in content
    assert "Nightly" in content


def test_a_malformed_version_asks_to_reload(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.daily, version="-3")
    assert "This page is out of date: reload it and answer again." in response.content.decode()
    assert not Answer.objects.exists()


def test_anonymous_cannot_save_an_answer(adopted, client_for):
    response = save(client_for(None), adopted.daily, htmx=False)
    assert response.status_code == 302
    assert not Answer.objects.exists()


# --- Tampered ids ---------------------------------------------------------------------------------
def test_another_organisations_adopted_control_is_404(adopted, personas, client_for):
    FrameworkAdoptionFactory(organisation=personas.other_organisation, framework=adopted.gamma)
    assert save(client_for(personas.owner), adopted.unadopted).status_code == 404
    # ... and Acme's frameworks are not the outsider's to answer.
    assert save(client_for(personas.outsider), adopted.daily).status_code == 404
    assert not Answer.objects.exists()


def test_a_control_of_a_framework_not_adopted_is_404_even_for_a_viewer(adopted, personas, client_for):
    assert save(client_for(personas.owner), adopted.unadopted).status_code == 404
    assert save(client_for(personas.viewer), adopted.unadopted).status_code == 404


def test_a_retired_control_is_404(adopted, personas, client_for):
    adopted.daily.retired_at = timezone.now()
    adopted.daily.save()
    assert save(client_for(personas.owner), adopted.daily).status_code == 404
    assert not Answer.objects.exists()


def test_an_unknown_control_is_404(adopted, personas, client_for):
    assert client_for(personas.owner).post(reverse("answer_save", args=[987654]), {}).status_code == 404


# --- Answering ------------------------------------------------------------------------------------
def test_autosave_returns_the_controls_fragment_saved_with_the_progress_out_of_band(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.daily, notes="Nightly", owner=str(personas.owner.pk))
    content = response.content.decode()
    assert content.startswith(f'<article class="answer-item" id="control-{adopted.daily.pk}"')
    assert "<strong>Saved</strong>" in content
    assert 'name="version" value="1"' in content
    assert 'id="assessment-progress" hx-swap-oob="true"' in content
    assert "<strong>1 of 2</strong>" in content
    answer = answer_of(personas.organisation, adopted.daily)
    assert (answer.notes, answer.owner, answer.updated_by) == ("Nightly", personas.owner, personas.member)


def test_autosave_refreshes_the_frameworks_score_beside_the_progress(adopted, personas, client_for):
    client = client_for(personas.member)
    page = client.get(reverse("assessment_framework", args=["alpha"])).content.decode()
    assert '<p class="assessment-score" id="assessment-score" aria-live="polite"><strong>0.0%</strong>' in page

    content = save(client, adopted.daily).content.decode()

    score = selectors.readiness_for(personas.organisation).for_framework(adopted.daily.framework_id).score
    assert score.percent > 0
    assert (
        f'<p class="assessment-score" id="assessment-score" aria-live="polite" hx-swap-oob="true">'
        f"<strong>{score.percent}%</strong> ready"
    ) in content


def test_the_answer_form_autosaves_with_htmx_and_works_without_javascript(adopted, personas, client_for):
    content = client_for(personas.member).get(reverse("assessment_framework", args=["alpha"])).content.decode()
    url = reverse("answer_save", args=[adopted.mfa.pk])
    assert f'action="{url}" hx-post="{url}" hx-trigger="change" hx-target="#control-{adopted.mfa.pk}"' in content
    assert (
        f'<label class="answer-choice answer-choice-partial" for="c{adopted.mfa.pk}-partial"><input type="radio"'
        in (content)
    )
    assert 'type="submit" class="button button-small js-hidden">Save' in content
    assert "Is multi-factor authentication on for every account?" in content  # the control's questions
    assert f'<option value="{personas.viewer.pk}">' in content  # owners are the organisation's members
    assert "outsider@rival.example" not in content


def test_saving_without_javascript_redirects_back_to_the_control_keeping_filters(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.daily, htmx=False, filters="status=unanswered&evil=1")
    assert response.status_code == 302
    assert response["Location"] == reverse("assessment_framework", args=["alpha"]) + (
        f"?status=unanswered#control-{adopted.daily.pk}"
    )


def test_double_submit_is_harmless(adopted, personas, client_for):
    client = client_for(personas.member)
    first = save(client, adopted.daily, notes="Nightly")
    second = save(client, adopted.daily, notes="Nightly")
    assert first.status_code == second.status_code == 200
    assert "<strong>Saved</strong>" in second.content.decode()
    assert "since you opened the page" not in second.content.decode()
    answer = Answer.objects.get()
    assert answer.version == 1
    assert AuditEvent.objects.filter(action__startswith="answer.").count() == 1


def test_a_stale_form_shows_the_overwrite_and_the_audit_log_keeps_the_replaced_answer(adopted, personas, client_for):
    save(client_for(personas.member), adopted.daily, status=AnswerStatus.IMPLEMENTED)
    # The owner opened the page before that answer existed (version 0) and now says "partial".
    response = save(client_for(personas.owner), adopted.daily, status=AnswerStatus.PARTIAL, version="0")
    content = response.content.decode()
    assert (
        "member@acme.example had answered implemented since you opened the page; your answer replaced theirs "
        "(kept in the audit log)."
    ) in content
    assert answer_of(personas.organisation, adopted.daily).status == AnswerStatus.PARTIAL
    event = AuditEvent.objects.filter(action="answer.updated").get()
    assert "replacing a newer answer: member@acme.example had answered implemented" in event.summary


def test_a_stale_form_without_javascript_shows_the_overwrite_as_a_message(adopted, personas, client_for):
    save(client_for(personas.member), adopted.daily)
    response = save(client_for(personas.owner), adopted.daily, htmx=False, status=AnswerStatus.PARTIAL, follow=True)
    assert "member@acme.example had answered implemented since you opened the page" in response.content.decode()


def test_your_own_earlier_autosave_is_not_reported_as_an_overwrite(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.daily)
    response = save(client, adopted.daily, status=AnswerStatus.PARTIAL, version="0")
    assert "since you opened the page" not in response.content.decode()


def test_not_applicable_needs_a_justification_shown_in_place(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.daily, status=AnswerStatus.NOT_APPLICABLE)
    content = response.content.decode()
    assert response.status_code == 200  # so htmx swaps the fragment in
    assert "Say why this control does not apply to your business" in content
    assert f'id="c{adopted.daily.pk}-justification-error" role="alert"' in content
    assert f'id="c{adopted.daily.pk}-not_applicable" name="status" value="not_applicable" checked' in content
    assert not Answer.objects.exists()


def test_not_applicable_without_javascript_shows_the_page_with_the_error(adopted, personas, client_for):
    response = save(
        client_for(personas.member),
        adopted.daily,
        htmx=False,
        status=AnswerStatus.NOT_APPLICABLE,
        notes="Kept this note",
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "<h1>Alpha Standard</h1>" in content
    assert "Say why this control does not apply to your business" in content
    assert "Kept this note" in content


def test_not_applicable_with_a_justification_is_recorded(adopted, personas, client_for):
    save(
        client_for(personas.member),
        adopted.daily,
        status=AnswerStatus.NOT_APPLICABLE,
        justification="We keep no data worth backing up.",
    )
    assert answer_of(personas.organisation, adopted.daily).justification == "We keep no data worth backing up."
    assert AuditEvent.objects.filter(action="answer.created", summary__contains="Not applicable").exists()


def test_a_missing_status_is_explained(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.daily, status="", owner=str(personas.owner.pk))
    assert "Choose implemented, partially implemented, not implemented or not applicable." in (
        response.content.decode()
    )
    assert not Answer.objects.exists()


def test_an_owner_from_another_organisation_is_refused(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.daily, owner=str(personas.outsider.pk))
    assert "Choose someone in your organisation as the owner." in response.content.decode()
    assert not Answer.objects.exists()


# --- Applicability from the profile ---------------------------------------------------------------
def test_controls_the_profile_rules_out_are_collapsed_and_explained(adopted, personas, client_for):
    content = client_for(personas.member).get(reverse("assessment_framework", args=["alpha"])).content.decode()
    start = content.index(f'id="control-{adopted.cards.pk}"')
    fragment = content[start : content.index("</article>", start)]
    assert "<details" in fragment
    assert "Not applicable to your business because it only applies to a business that takes card payments." in (
        fragment
    )
    assert "<form" not in fragment


def test_a_control_the_profile_rules_out_cannot_be_answered(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.cards)
    assert "does not apply to your business" in response.content.decode()
    assert not Answer.objects.exists()


# --- Filters and resuming -------------------------------------------------------------------------
def test_the_page_offers_to_continue_at_the_first_unanswered_control(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.mfa)
    url = reverse("assessment_framework", args=["alpha"])
    content = client.get(url).content.decode()
    assert f'href="{url}#control-{adopted.daily.pk}">Continue where you left off' in content


def test_filters_by_status_and_group(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.mfa)
    url = reverse("assessment_framework", args=["alpha"])

    unanswered = client.get(url, {"status": "unanswered"}).content.decode()
    assert f'id="control-{adopted.daily.pk}"' in unanswered
    assert f'id="control-{adopted.mfa.pk}"' not in unanswered
    assert "Showing 1 of 3 controls." in unanswered

    implemented = client.get(url, {"status": "implemented"}).content.decode()
    assert f'id="control-{adopted.mfa.pk}"' in implemented
    assert f'id="control-{adopted.daily.pk}"' not in implemented

    ruled_out = client.get(url, {"status": "not_applicable"}).content.decode()
    assert f'id="control-{adopted.cards.pk}"' in ruled_out

    backups = client.get(url, {"group": "A2"}).content.decode()
    assert f'id="control-{adopted.daily.pk}"' in backups
    assert f'id="control-{adopted.mfa.pk}"' not in backups
    assert '<option value="A2" selected>A2 Backups</option>' in backups


def test_filters_swap_only_the_list_for_htmx(adopted, personas, client_for):
    response = client_for(personas.member).get(
        reverse("assessment_framework", args=["alpha"]), {"status": "unanswered"}, headers=HTMX
    )
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="assessment-controls"')
    assert "<h1>" not in content


def test_unknown_filter_values_are_ignored(adopted, personas, client_for):
    content = (
        client_for(personas.member)
        .get(reverse("assessment_framework", args=["alpha"]), {"status": "bogus", "group": "<script>"})
        .content.decode()
    )
    assert "Showing" not in content
    assert f'id="control-{adopted.daily.pk}"' in content


def test_the_filter_form_pushes_the_url(adopted, personas, client_for):
    content = client_for(personas.member).get(reverse("assessment_framework", args=["alpha"])).content.decode()
    assert 'hx-target="#assessment-controls" hx-swap="outerHTML" hx-push-url="true" hx-trigger="change, submit"' in (
        content
    )


# --- Combined mode --------------------------------------------------------------------------------
def test_combined_mode_asks_a_mapped_question_once(adopted, personas, client_for):
    content = client_for(personas.member).get(reverse("assessment_combined")).content.decode()
    assert f'id="control-{adopted.mfa.pk}"' in content
    assert "<strong>Also answers:</strong> Beta Standard B1.1" in content
    assert f'id="control-{adopted.sign_in.pk}"' not in content
    assert f'id="control-{adopted.cards.pk}"' not in content  # ruled out by the profile
    assert '<input type="hidden" name="apply_to_mapped" value="1">' in content
    assert "2 questions cover the 3 controls of Alpha Standard and Beta Standard" in content


def test_combined_mode_applies_the_answer_to_mapped_controls(adopted, personas, client_for):
    client = client_for(personas.member)
    response = save(client, adopted.mfa, apply_to_mapped="1")
    content = response.content.decode()
    assert "counted for Beta Standard B1.1 too" in content
    assert "<strong>Also answers:</strong> Beta Standard B1.1" in content
    assert '<input type="hidden" name="apply_to_mapped" value="1">' in content
    covered = answer_of(personas.organisation, adopted.sign_in)
    assert (covered.status, covered.via_control) == (AnswerStatus.IMPLEMENTED, adopted.mfa)

    beta = client.get(reverse("assessment_framework", args=["beta"])).content.decode()
    assert "Counted from Alpha Standard A1.1." in beta


def test_combined_mode_leaves_a_control_answered_on_its_own_alone(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.sign_in, status=AnswerStatus.NOT_IMPLEMENTED)
    content = client.get(reverse("assessment_combined")).content.decode()
    assert "Beta Standard B1.1 (answered separately)" in content
    save(client, adopted.mfa, apply_to_mapped="1")
    assert answer_of(personas.organisation, adopted.sign_in).status == AnswerStatus.NOT_IMPLEMENTED


def test_combined_mode_without_javascript_redirects_to_the_combined_page(adopted, personas, client_for):
    response = save(client_for(personas.member), adopted.mfa, htmx=False, apply_to_mapped="1")
    assert response["Location"] == f"{reverse('assessment_combined')}#control-{adopted.mfa.pk}"


def test_a_covered_control_shows_where_its_status_comes_from(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.mfa)  # framework mode: not applied, but A1.1 still covers B1.1 in the score
    beta = client.get(reverse("assessment_framework", args=["beta"])).content.decode()
    assert "Counted from Alpha Standard A1.1, which covers this control." in beta


# --- Pinned query counts --------------------------------------------------------------------------
def grow(framework, count: int, *, groups: int = 6) -> None:
    made = [ControlGroupFactory(framework=framework) for _ in range(groups)]
    for index in range(count):
        control = ControlFactory(group=made[index % groups])
        QuestionFactory(control=control)


def answer_some(organisation, framework, user) -> None:
    actor = Actor(user=user)
    for index, control in enumerate(framework.controls.filter(applies_if=[]).order_by("pk")):
        if index % 2 == 0:
            services.answer_save(
                organisation=organisation, control=control, status=AnswerStatus.PARTIAL, actor=actor, owner=user
            )


@pytest.mark.parametrize("size", [20, 120])
def test_framework_page_queries_do_not_grow_with_its_controls(
    adopted, personas, client_for, django_assert_num_queries, size
):
    grow(adopted.alpha, size - 3)
    answer_some(personas.organisation, adopted.alpha, personas.member)
    client = signed_in(client_for, personas.member)
    # the request's 3, the adoption; readiness (adoptions, profile, controls, answers, mappings); then the
    # models of the page's controls, their groups, their answers, questions and members; their evidence counts
    with django_assert_num_queries(15):
        response = client.get(reverse("assessment_framework", args=["alpha"]))
    assert response.content.decode().count('class="answer-item') == size


@pytest.mark.parametrize("size", [20, 120])
def test_filtered_fragment_queries_do_not_grow(adopted, personas, client_for, django_assert_num_queries, size):
    grow(adopted.alpha, size - 3)
    client = signed_in(client_for, personas.member)
    # as the page above, less the answers' details: nothing is answered yet
    with django_assert_num_queries(14):
        client.get(reverse("assessment_framework", args=["alpha"]), {"status": "unanswered"}, headers=HTMX)


@pytest.mark.parametrize("size", [20, 120])
def test_overview_and_combined_queries_do_not_grow(adopted, personas, client_for, django_assert_num_queries, size):
    grow(adopted.alpha, size - 3)
    answer_some(personas.organisation, adopted.alpha, personas.member)
    client = signed_in(client_for, personas.member)
    with django_assert_num_queries(9):
        client.get(reverse("assessment"))
    # readiness's mappings give the shape of the questions; the controls, groups and answers shown, and
    # their evidence counts
    with django_assert_num_queries(14):
        client.get(reverse("assessment_combined"))


@pytest.mark.parametrize("size", [20, 120])
def test_autosave_queries_do_not_grow(adopted, personas, client_for, django_assert_num_queries, size):
    grow(adopted.alpha, size - 3)
    answer_some(personas.organisation, adopted.alpha, personas.member)
    client = signed_in(client_for, personas.member)
    with django_assert_num_queries(28):
        save(client, adopted.daily, status=AnswerStatus.PARTIAL, version="1")
    # Combined mode also applies the answer to Beta's B1.1 (the service's queries) and reads the control
    # it covers, to name it.
    with django_assert_num_queries(46):
        save(client, adopted.mfa, status=AnswerStatus.PARTIAL, apply_to_mapped="1")


# --- The library's framework page -----------------------------------------------------------------
def test_library_page_shows_readiness_and_answer_badges_when_adopted(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.mfa, status=AnswerStatus.PARTIAL)
    content = client.get(reverse("framework_detail", args=["alpha"])).content.decode()
    assert "Your progress" in content
    assert "1 of 2 controls that apply to your business answered." in content
    assert '<span class="visually-hidden">Your answer: </span>Partially implemented</span>' in content
    assert "Does not apply to you" in content  # the card-payment control
    assert "Not answered yet" in content
    assert reverse("assessment_framework", args=["alpha"]) in content


def test_library_page_shows_answers_counted_through_a_mapping(adopted, personas, client_for):
    client = client_for(personas.member)
    save(client, adopted.mfa)
    content = client.get(reverse("framework_detail", args=["beta"])).content.decode()
    assert "counted from Alpha Standard A1.1" in content


def test_library_page_of_a_framework_not_adopted_links_to_recommendations(adopted, personas, client_for):
    content = client_for(personas.member).get(reverse("framework_detail", args=["gamma"])).content.decode()
    assert "Your organisation has not adopted Gamma Standard." in content
    assert reverse("recommendations") in content
    assert "Your progress" not in content


@pytest.mark.parametrize("size", [20, 120])
def test_library_page_progress_queries_do_not_grow(adopted, personas, client_for, django_assert_num_queries, size):
    grow(adopted.alpha, size - 3)
    answer_some(personas.organisation, adopted.alpha, personas.member)
    client = signed_in(client_for, personas.member)
    with django_assert_num_queries(12):
        response = client.get(reverse("framework_detail", args=["alpha"]))
    assert "Your progress" in response.content.decode()
