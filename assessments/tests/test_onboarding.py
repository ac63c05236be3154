"""The business profile wizard, the profile summary and choosing frameworks, driven through the views."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import OrganisationFactory
from assessments.forms_onboarding import STEP_SLUGS
from assessments.models import BusinessProfile, CardHandling, FrameworkAdoption, Goal
from assessments.tests.factories import BusinessProfileFactory, FrameworkAdoptionFactory
from assessments.views.onboarding import default_target, months_ahead
from compliance.tests.factories import FrameworkFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REQUEST_BASELINE = 3  # session, user, memberships

COMPANY = {
    "company_name": "Acme Bakery Ltd",
    "company_number": "01234567",
    "sic_section": "I",
    "employees_band": "10-49",
    "turnover_band": "100k-1m",
}


def autosave(browser, step: str, data: dict, field: str):
    return browser.post(f"/onboarding/{step}/", data, HTTP_HX_TRIGGER_NAME=field, **HTMX)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def actions(organisation) -> list[str]:
    return list(AuditEvent.objects.filter(organisation=organisation).order_by("pk").values_list("action", flat=True))


@pytest.fixture
def library():
    """The six frameworks the rules can name, without their controls."""
    names = {
        "uk-gdpr": "UK GDPR",
        "cyber-essentials": "Cyber Essentials",
        "iso27001-2022": "ISO/IEC 27001",
        "soc2-tsc-2017": "SOC 2",
        "nist-csf-2.0": "NIST Cybersecurity Framework",
        "pci-dss-4.0.1": "PCI DSS",
    }
    return {
        slug: FrameworkFactory(slug=slug, name=name, position=position)
        for position, (slug, name) in enumerate(names.items())
    }


@pytest.fixture
def owner(personas, client_for):
    return client_for(personas.owner)


def completed_profile(organisation, **answers) -> BusinessProfile:
    return BusinessProfileFactory(organisation=organisation, completed_at=timezone.now(), **answers)


# --- Starting and resuming ------------------------------------------------------------------------
def test_onboarding_starts_at_the_first_step(personas, owner):
    response = owner.get("/onboarding/")

    assert response.status_code == 302
    assert response["Location"] == "/onboarding/company/"


def test_onboarding_resumes_where_the_business_left_off(personas, owner):
    BusinessProfileFactory(organisation=personas.organisation, last_step="technology")

    assert owner.get("/onboarding/")["Location"] == "/onboarding/technology/"


def test_an_unknown_step_is_not_found(personas, owner):
    assert owner.get("/onboarding/finances/").status_code == 404
    assert owner.post("/onboarding/finances/", COMPANY).status_code == 404


def test_the_first_step_shows_progress_and_the_organisation_name_without_saving_anything(personas, owner):
    response = owner.get("/onboarding/company/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Step 1 of 7" in body
    assert response.context["form"]["company_name"].value() == "Acme Bakery Ltd"
    assert 'hx-post="/onboarding/company/"' in body
    assert 'hx-trigger="change"' in body
    assert "Back</a>" not in body
    assert not BusinessProfile.objects.exists()


@pytest.mark.parametrize(("number", "step"), list(enumerate(STEP_SLUGS, start=1)))
def test_every_step_renders_with_its_place_in_the_wizard(personas, owner, number, step):
    BusinessProfileFactory(organisation=personas.organisation)

    body = owner.get(f"/onboarding/{step}/").content.decode()

    assert f"Step {number} of 7" in body
    assert 'aria-current="step"' in body
    if number > 1:
        assert f'href="/onboarding/{STEP_SLUGS[number - 2]}/">Back</a>' in body


def test_the_card_step_explains_each_way_of_taking_cards(personas, owner):
    body = owner.get("/onboarding/data/").content.decode()

    assert 'type="radio" name="card_handling" value="hosted"' in body
    assert "card numbers never touch your website" in body
    assert 'value="none" hx-post="/onboarding/data/" hx-trigger="change" hx-sync="closest form:queue all" ' in body
    assert 'id="id_card_handling_0" checked' in body


# --- Autosave -------------------------------------------------------------------------------------
def test_autosave_saves_the_changed_field_and_answers_with_a_small_fragment(personas, owner):
    response = autosave(owner, "company", {**COMPANY, "company_number": " sc 123456 "}, "company_number")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Saved" in body
    assert "<html" not in body
    assert 'id="id_company_number_error" hx-swap-oob="true"' in body
    profile = BusinessProfile.objects.get(organisation=personas.organisation)
    assert profile.company_number == "SC123456"
    assert profile.last_step == "company"
    assert actions(personas.organisation) == ["profile.updated"]


def test_autosave_saves_only_the_field_that_changed(personas, owner):
    BusinessProfileFactory(organisation=personas.organisation, company_name="Acme Bakery Ltd", employees_band="")

    autosave(owner, "company", {**COMPANY, "company_name": "Typed but not yet left"}, "employees_band")

    profile = BusinessProfile.objects.get()
    assert (profile.company_name, profile.employees_band) == ("Acme Bakery Ltd", "10-49")


def test_autosave_refuses_an_invalid_answer_shows_why_and_saves_nothing(personas, owner):
    BusinessProfileFactory(organisation=personas.organisation, company_number="01234567")

    response = autosave(owner, "company", {**COMPANY, "company_number": "12AB"}, "company_number")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Not saved" in body
    assert "Enter the 8-character Companies House number" in body
    assert BusinessProfile.objects.get().company_number == "01234567"
    assert actions(personas.organisation) == []


@pytest.mark.parametrize("number", ["1234567", "123456789", "S1234567", "SCO12345", "12-45678"])
def test_companies_house_numbers_must_be_eight_digits_or_two_letters_and_six_digits(personas, owner, number):
    response = autosave(owner, "company", {**COMPANY, "company_number": number}, "company_number")

    assert "Not saved" in response.content.decode()
    assert not BusinessProfile.objects.exists()


def test_autosave_of_a_checkbox_group_and_unticking_a_box(personas, owner):
    BusinessProfileFactory(organisation=personas.organisation, cctv=True)

    autosave(owner, "places", {"customer_regions": ["uk", "us"], "staff_regions": ["uk"]}, "customer_regions")
    autosave(owner, "data", {"card_handling": "hosted"}, "cctv")  # the CCTV box was unticked

    profile = BusinessProfile.objects.get()
    assert profile.customer_regions == ["uk", "us"]
    assert profile.staff_regions == []  # not the field that changed
    assert profile.cctv is False
    assert profile.card_handling == CardHandling.NONE  # nor was this


def test_autosave_without_a_field_name_saves_every_valid_answer_of_the_step(personas, owner):
    owner.post("/onboarding/company/", {**COMPANY, "company_number": "bad"}, **HTMX)

    profile = BusinessProfile.objects.get()
    assert (profile.sic_section, profile.employees_band, profile.company_number) == ("I", "10-49", "")


def test_saving_the_same_answer_again_records_nothing_new(personas, owner):
    autosave(owner, "company", COMPANY, "sic_section")
    autosave(owner, "company", COMPANY, "sic_section")

    assert actions(personas.organisation) == ["profile.updated"]


# --- Continue and Back without JavaScript --------------------------------------------------------
def test_continue_saves_the_whole_step_and_moves_forward(personas, owner):
    response = owner.post("/onboarding/company/", COMPANY)

    assert response.status_code == 302
    assert response["Location"] == "/onboarding/places/"
    profile = BusinessProfile.objects.get(organisation=personas.organisation)
    assert (profile.company_name, profile.company_number, profile.turnover_band) == (
        "Acme Bakery Ltd",
        "01234567",
        "100k-1m",
    )
    # Leaving now and coming back resumes at the step they were heading to.
    assert owner.get("/onboarding/")["Location"] == "/onboarding/places/"


def test_an_invalid_step_stays_in_the_page_with_the_answers_and_saves_nothing(personas, owner):
    response = owner.post("/onboarding/company/", {**COMPANY, "company_name": "  ", "company_number": "12AB"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter your company&#x27;s name." in body
    assert "Enter the 8-character Companies House number" in body
    assert 'value="12AB"' in body
    assert 'aria-invalid="true"' in body
    assert not BusinessProfile.objects.exists()


def test_a_deadline_in_the_past_is_refused(personas, owner):
    yesterday = timezone.localdate() - timedelta(days=1)

    response = owner.post("/onboarding/goals/", {"goal": Goal.WIN_WORK, "deadline": yesterday.isoformat()})

    assert response.status_code == 200
    assert "Choose a date in the future." in response.content.decode()
    assert not BusinessProfile.objects.exists()


def test_back_and_forward_keep_the_answers(personas, owner):
    owner.post("/onboarding/company/", COMPANY)
    owner.post("/onboarding/places/", {"customer_regions": ["uk", "eu"]})

    back = owner.get("/onboarding/places/")
    again = owner.get("/onboarding/company/")

    assert back.context["form"]["customer_regions"].value() == ["uk", "eu"]
    assert again.context["form"]["company_number"].value() == "01234567"


def test_the_whole_wizard_then_finish_leads_to_recommendations(personas, owner, library):
    steps = {
        "company": COMPANY,
        "places": {"customer_regions": ["uk"], "staff_regions": ["uk"]},
        "data": {"customers_personal_data": "on", "employee_data": "on", "card_handling": "terminals", "website": "on"},
        "technology": {"productivity_suite": "microsoft-365", "cloud_providers": ["azure"], "remote_working": "on"},
        "customers": {"sells_to_consumers": "on", "public_sector_bids": "on"},
        "goals": {
            "existing_certifications": [],
            "goal": Goal.WIN_WORK,
            "deadline": (timezone.localdate() + timedelta(days=90)).isoformat(),
        },
    }
    for step, data in steps.items():
        response = owner.post(f"/onboarding/{step}/", data)
        assert response.status_code == 302, response.content.decode()[:2000]

    assert response["Location"] == "/onboarding/review/"
    review = owner.get("/onboarding/review/").content.decode()
    assert "In person, on card terminals from our payment provider" in review
    assert 'href="/onboarding/data/">Edit' in review

    finish = owner.post("/onboarding/review/")

    assert finish.status_code == 302
    assert finish["Location"] == "/recommendations/"
    assert "Your business profile is complete" in messages_of(finish)[0]
    profile = BusinessProfile.objects.get()
    assert profile.completed_at is not None
    assert profile.cloud_providers == ["azure"]
    assert "profile.completed" in actions(personas.organisation)
    page = owner.get("/recommendations/")
    slugs = [s.framework.slug for group in page.context["groups"] for s in group.suggestions]
    assert slugs[:3] == ["uk-gdpr", "cyber-essentials", "pci-dss-4.0.1"]
    assert "SAQ B or B-IP" in page.content.decode()


def test_finishing_twice_completes_once(personas, owner):
    owner.post("/onboarding/review/")
    owner.post("/onboarding/review/")

    assert actions(personas.organisation).count("profile.completed") == 1


# --- Who may do what in the wizard ----------------------------------------------------------------
def test_a_viewer_reads_the_wizard_but_cannot_change_it(personas, client_for):
    BusinessProfileFactory(organisation=personas.organisation, company_number="01234567")
    viewer = client_for(personas.viewer)

    page = viewer.get("/onboarding/company/")
    body = page.content.decode()

    assert page.status_code == 200
    assert "disabled" in body
    assert "hx-post" not in body
    assert "Continue</button>" not in body
    assert viewer.post("/onboarding/company/", COMPANY).status_code == 403
    assert autosave(viewer, "company", COMPANY, "company_name").status_code == 403
    assert viewer.post("/onboarding/review/").status_code == 403
    assert BusinessProfile.objects.get().completed_at is None


@pytest.mark.parametrize("role", ["member", "admin", "consultant"])
def test_members_and_above_edit_the_profile(personas, client_for, role):
    response = client_for(getattr(personas, role)).post("/onboarding/company/", COMPANY)

    assert response.status_code == 302
    assert BusinessProfile.objects.get(organisation=personas.organisation).company_number == "01234567"


def test_the_outsider_sees_and_changes_only_their_own_profile(personas, client_for):
    BusinessProfileFactory(organisation=personas.organisation, company_number="07654321")
    outsider = client_for(personas.outsider)

    body = outsider.get("/onboarding/company/").content.decode()
    outsider.post("/onboarding/company/", {**COMPANY, "company_number": "SC999999"})

    assert "07654321" not in body
    assert BusinessProfile.objects.get(organisation=personas.organisation).company_number == "07654321"
    assert BusinessProfile.objects.get(organisation=personas.other_organisation).company_number == "SC999999"


@pytest.mark.parametrize("path", ["/onboarding/", "/onboarding/company/", "/profile/", "/recommendations/"])
def test_anonymous_visitors_are_sent_to_sign_in(client_for, path):
    response = client_for(None).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/onboarding/"),
        ("put", "/onboarding/company/"),
        ("delete", "/onboarding/company/"),
        ("post", "/profile/"),
        ("post", "/recommendations/"),
        ("get", "/recommendations/adopt/"),
    ],
)
def test_wrong_methods_are_refused(personas, owner, method, path):
    assert getattr(owner, method)(path).status_code == 405


# --- Profile summary ------------------------------------------------------------------------------
def test_the_summary_without_a_profile_points_to_the_wizard(personas, owner):
    body = owner.get("/profile/").content.decode()

    assert "Tell us about your business" in body
    assert 'href="/onboarding/"' in body


def test_the_summary_groups_the_answers_by_step_with_edit_links(personas, owner, library):
    completed_profile(
        personas.organisation,
        company_number="SC123456",
        customer_regions=["uk", "eu"],
        card_handling=CardHandling.HOSTED,
        deadline=date(2027, 3, 31),
    )

    body = owner.get("/profile/").content.decode()

    for step in STEP_SLUGS[:-1]:
        assert f'href="/onboarding/{step}/">Edit' in body
    assert "SC123456" in body
    assert "United Kingdom, European Union" in body
    assert "Online, through a payment page or iframe hosted by our payment provider" in body
    assert "31 March 2027" in body
    assert "UK GDPR" in body
    assert "PCI DSS" in body


def test_an_unfinished_profile_asks_to_be_finished(personas, owner):
    BusinessProfileFactory(organisation=personas.organisation)

    body = owner.get("/profile/").content.decode()

    assert "You have not finished yet" in body
    assert "See the reasons and choose frameworks" not in body


def test_a_viewer_sees_the_summary_without_edit_links(personas, client_for):
    completed_profile(personas.organisation)

    body = client_for(personas.viewer).get("/profile/").content.decode()

    assert "Your business profile" in body
    assert ">Edit" not in body


def test_changing_the_profile_changes_the_recommendations(personas, owner, library):
    completed_profile(personas.organisation, card_handling=CardHandling.NONE)
    assert "PCI DSS" not in _recommended_names(owner)

    autosave(
        owner,
        "data",
        {"customers_personal_data": "on", "employee_data": "on", "card_handling": "stored"},
        "card_handling",
    )

    assert "PCI DSS" in _recommended_names(owner)
    assert "SAQ D" in owner.get("/recommendations/").content.decode()


def _recommended_names(browser) -> list[str]:
    groups = browser.get("/recommendations/").context["groups"]
    return [suggestion.framework.name for group in groups for suggestion in group.suggestions]


# --- Recommendations page -------------------------------------------------------------------------
def test_without_a_completed_profile_the_page_says_so_and_links_to_the_wizard(personas, owner, library):
    BusinessProfileFactory(organisation=personas.organisation)  # started, not finished

    response = owner.get("/recommendations/")

    body = response.content.decode()
    assert "Tell us about your business first" in body
    assert 'href="/onboarding/"' in body
    assert "Continue the business profile" in body
    assert response.context["groups"] == []
    assert len(response.context["others"]) == 6  # anything can still be adopted


def test_recommendations_are_grouped_by_strength_with_reasons_saq_and_links(personas, owner, library):
    completed_profile(
        personas.organisation,
        customers_personal_data=True,
        card_handling=CardHandling.DIRECT_POST,
        goal=Goal.INTERNATIONAL,
        employees_band="2-9",
    )

    response = owner.get("/recommendations/")

    body = response.content.decode()
    groups = {group.label: [s.framework.slug for s in group.suggestions] for group in response.context["groups"]}
    assert groups == {
        "Required": ["uk-gdpr", "pci-dss-4.0.1"],
        "Recommended": ["iso27001-2022"],
        "Worth considering": ["cyber-essentials"],
    }
    assert body.index(">Required<") < body.index(">Recommended<") < body.index(">Worth considering<")
    assert "UK GDPR and the Data Protection Act 2018 apply to you" in body
    assert "Likely PCI DSS questionnaire:</strong> SAQ A-EP" in body
    assert 'href="/frameworks/pci-dss-4.0.1/"' in body
    assert [f.slug for f in response.context["others"]] == ["soc2-tsc-2017", "nist-csf-2.0"]
    assert body.count('action="/recommendations/adopt/"') == 6


def test_the_adopt_form_defaults_to_the_profile_deadline(personas, owner, library):
    deadline = timezone.localdate() + timedelta(days=45)
    completed_profile(personas.organisation, customers_personal_data=True, deadline=deadline)

    body = owner.get("/recommendations/").content.decode()

    assert f'value="{deadline.isoformat()}"' in body


def test_the_default_target_is_six_months_ahead_without_a_future_deadline():
    today = timezone.localdate()
    six_months = months_ahead(today, 6)

    assert default_target(None) == six_months
    assert default_target(BusinessProfile(deadline=today - timedelta(days=1))) == six_months
    assert default_target(BusinessProfile(deadline=today + timedelta(days=1))) == today + timedelta(days=1)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 11, 22), date(2027, 5, 22)),
        (date(2026, 8, 31), date(2027, 2, 28)),
        (date(2027, 8, 31), date(2028, 2, 29)),
        (date(2026, 6, 30), date(2026, 12, 30)),
    ],
)
def test_months_ahead_keeps_the_day_or_takes_the_months_last(start, expected):
    assert months_ahead(start, 6) == expected


def test_a_viewer_sees_recommendations_without_forms(personas, client_for, library):
    completed_profile(personas.organisation, customers_personal_data=True)
    FrameworkAdoptionFactory(organisation=personas.organisation, framework=library["cyber-essentials"])

    body = client_for(personas.viewer).get("/recommendations/").content.decode()

    assert "UK GDPR" in body
    assert "<form" not in body.split("<main")[1]


# --- Adopting, changing the target, removing ------------------------------------------------------
def test_adopting_a_framework_sets_the_target_and_records_it(personas, owner, library):
    target = timezone.localdate() + timedelta(days=120)

    response = owner.post("/recommendations/adopt/", {"framework": "uk-gdpr", "target_date": target.isoformat()})

    assert response.status_code == 302
    assert response["Location"] == "/recommendations/"
    adoption = FrameworkAdoption.objects.get(organisation=personas.organisation)
    assert (adoption.framework, adoption.target_date, adoption.adopted_by) == (
        library["uk-gdpr"],
        target,
        personas.owner,
    )
    assert "framework.adopted" in actions(personas.organisation)
    assert "You have adopted UK GDPR" in messages_of(response)[0]


def test_an_adopted_framework_is_listed_with_its_target_and_a_confirmed_remove(personas, owner, library):
    completed_profile(personas.organisation, customers_personal_data=True)
    adoption = FrameworkAdoptionFactory(
        organisation=personas.organisation, framework=library["uk-gdpr"], target_date=date(2027, 6, 30)
    )

    body = owner.get("/recommendations/").content.decode()

    assert f'action="/adoptions/{adoption.pk}/"' in body
    assert 'value="2027-06-30"' in body
    assert f'action="/adoptions/{adoption.pk}/remove/" data-confirm="Stop working towards UK GDPR?' in body
    assert "Adopted</span>" in body
    assert body.count('action="/recommendations/adopt/"') == 5  # not offered again


def test_a_framework_the_rules_do_not_recommend_can_still_be_adopted(personas, owner, library):
    completed_profile(personas.organisation, customers_personal_data=True)

    owner.post("/recommendations/adopt/", {"framework": "soc2-tsc-2017", "target_date": ""})

    adoption = FrameworkAdoption.objects.get()
    assert (adoption.framework.slug, adoption.target_date) == ("soc2-tsc-2017", None)


def test_adopting_twice_keeps_one_adoption(personas, owner, library):
    owner.post("/recommendations/adopt/", {"framework": "uk-gdpr", "target_date": ""})
    owner.post("/recommendations/adopt/", {"framework": "uk-gdpr", "target_date": ""})

    assert FrameworkAdoption.objects.count() == 1
    assert actions(personas.organisation).count("framework.adopted") == 1


def test_adopting_an_unknown_framework_is_not_found(personas, owner, library):
    assert owner.post("/recommendations/adopt/", {"framework": "made-up"}).status_code == 404
    assert owner.post("/recommendations/adopt/", {}).status_code == 404
    assert not FrameworkAdoption.objects.exists()


def test_a_past_target_date_is_shown_against_that_framework_and_nothing_is_adopted(personas, owner, library):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    response = owner.post("/recommendations/adopt/", {"framework": "nist-csf-2.0", "target_date": yesterday})

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="target-nist-csf-2.0-error"' in body
    assert "Choose a target date in the future." in body
    assert f'value="{yesterday}"' in body
    assert not FrameworkAdoption.objects.exists()


def test_changing_the_target_date_is_recorded(personas, owner, library):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation, framework=library["uk-gdpr"])
    target = timezone.localdate() + timedelta(days=200)

    response = owner.post(f"/adoptions/{adoption.pk}/", {"target_date": target.isoformat()})

    assert response.status_code == 302
    adoption.refresh_from_db()
    assert adoption.target_date == target
    assert actions(personas.organisation) == ["framework.target_changed"]
    assert f"The target for UK GDPR is now {target:%-d %B %Y}." in messages_of(response)


def test_a_past_target_date_change_is_refused_in_the_page(personas, owner, library):
    adoption = FrameworkAdoptionFactory(
        organisation=personas.organisation, framework=library["uk-gdpr"], target_date=date(2027, 6, 30)
    )

    response = owner.post(f"/adoptions/{adoption.pk}/", {"target_date": "2020-01-01"})

    assert response.status_code == 200
    assert f'id="adoption-{adoption.pk}-error"' in response.content.decode()
    adoption.refresh_from_db()
    assert adoption.target_date == date(2027, 6, 30)


def test_removing_an_adoption_is_recorded(personas, owner, library):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation, framework=library["uk-gdpr"])

    response = owner.post(f"/adoptions/{adoption.pk}/remove/")

    assert response.status_code == 302
    assert not FrameworkAdoption.objects.exists()
    assert actions(personas.organisation) == ["framework.dropped"]
    assert "no longer working towards UK GDPR" in messages_of(response)[0]


@pytest.mark.parametrize("suffix", ["", "remove/"])
def test_adoption_changes_follow_the_role_matrix(personas, client_for, library, suffix):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation, framework=library["uk-gdpr"])
    theirs = FrameworkAdoptionFactory(organisation=personas.other_organisation, framework=library["uk-gdpr"])
    url = f"/adoptions/{adoption.pk}/{suffix}"
    data = {"target_date": ""}

    assert client_for(personas.viewer).post(url, data).status_code == 403
    assert client_for(personas.outsider).post(url, data).status_code == 404
    assert client_for(personas.owner).post(f"/adoptions/{theirs.pk}/{suffix}", data).status_code == 404
    assert client_for(personas.owner).post(f"/adoptions/999999/{suffix}", data).status_code == 404
    assert client_for(personas.owner).get(url).status_code == 405
    assert client_for(None).post(url, data)["Location"].startswith("/accounts/login/")
    assert client_for(personas.member).post(url, data).status_code == 302
    assert FrameworkAdoption.objects.filter(pk=theirs.pk).exists()


def test_adopting_follows_the_role_matrix(personas, client_for, library):
    data = {"framework": "uk-gdpr", "target_date": ""}

    assert client_for(personas.viewer).post("/recommendations/adopt/", data).status_code == 403
    assert client_for(None).post("/recommendations/adopt/", data)["Location"].startswith("/accounts/login/")
    assert client_for(personas.outsider).post("/recommendations/adopt/", data).status_code == 302
    assert client_for(personas.member).post("/recommendations/adopt/", data).status_code == 302
    assert FrameworkAdoption.objects.filter(organisation=personas.organisation).count() == 1
    assert FrameworkAdoption.objects.filter(organisation=personas.other_organisation).count() == 1


@pytest.mark.parametrize("path", ["/onboarding/company/", "/profile/", "/recommendations/"])
def test_the_pages_are_open_to_every_role(personas, client_for, library, path):
    for role in ("owner", "admin", "member", "viewer", "consultant", "outsider"):
        assert client_for(getattr(personas, role)).get(path).status_code == 200


# --- Query counts ---------------------------------------------------------------------------------
@pytest.fixture
def warm_owner(personas, owner):
    owner.get("/profile/")  # settle the session's current organisation
    return owner


def grow(personas, library, *, large: bool) -> None:
    """A completed profile; with `large`, more frameworks, every one adopted, and other organisations' data."""
    completed_profile(
        personas.organisation,
        customers_personal_data=True,
        card_handling=CardHandling.HOSTED,
        customer_regions=["uk", "us"],
        goal=Goal.INTERNATIONAL,
    )
    if large:
        extra = FrameworkFactory.create_batch(12)
        for framework in [*library.values(), *extra]:
            FrameworkAdoptionFactory(organisation=personas.organisation, framework=framework)
        BusinessProfileFactory(organisation=OrganisationFactory())


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("step", ["company", "data", "review"])
def test_wizard_steps_do_not_grow_with_data(personas, library, warm_owner, django_assert_num_queries, large, step):
    grow(personas, library, large=large)

    with django_assert_num_queries(REQUEST_BASELINE + 1):  # + the profile
        assert warm_owner.get(f"/onboarding/{step}/").status_code == 200


@pytest.mark.parametrize("large", [False, True])
def test_autosave_fragment_does_not_grow_with_data(personas, library, warm_owner, django_assert_num_queries, large):
    grow(personas, library, large=large)

    # + profile_update: savepoint, the profile, full_clean's checks (organisation, one per organisation),
    # the update, the audit event (its checks and insert), release
    with django_assert_num_queries(REQUEST_BASELINE + 9):
        response = autosave(warm_owner, "company", {**COMPANY, "sic_section": "J"}, "sic_section")
    assert "Saved" in response.content.decode()


@pytest.mark.parametrize("large", [False, True])
def test_profile_summary_does_not_grow_with_data(personas, library, warm_owner, django_assert_num_queries, large):
    grow(personas, library, large=large)

    with django_assert_num_queries(REQUEST_BASELINE + 2):  # + the profile, the frameworks
        assert warm_owner.get("/profile/").status_code == 200


@pytest.mark.parametrize("large", [False, True])
def test_recommendations_do_not_grow_with_data(personas, library, warm_owner, django_assert_num_queries, large):
    grow(personas, library, large=large)

    with django_assert_num_queries(REQUEST_BASELINE + 3):  # + the profile, the frameworks, the adoptions
        response = warm_owner.get("/recommendations/")
    assert response.context["groups"]
