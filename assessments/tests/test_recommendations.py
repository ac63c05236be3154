"""Every recommendation rule, with profiles that fire it and profiles that do not.

Pure unit tests: the rules read an unsaved BusinessProfile and touch no database.
"""

from __future__ import annotations

from typing import Any

import pytest

from assessments import recommendations as rules
from assessments.models import BusinessProfile, CardHandling, EmployeesBand, Goal, Region
from assessments.recommendations import (
    RECOMMENDED,
    REQUIRED,
    WORTH_CONSIDERING,
    Recommendation,
    recommend,
)


def profile(**answers: Any) -> BusinessProfile:
    return BusinessProfile(**answers)


def by_slug(found: list[Recommendation]) -> dict[str, Recommendation]:
    return {recommendation.framework_slug: recommendation for recommendation in found}


# --- UK GDPR --------------------------------------------------------------------------------------
@pytest.mark.parametrize("answers", [{"customers_personal_data": True}, {"employee_data": True}])
def test_holding_personal_data_makes_uk_gdpr_required(answers):
    found = rules.uk_gdpr_personal_data(profile(**answers))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("uk-gdpr", REQUIRED)
    assert "UK GDPR and the Data Protection Act 2018 apply to you" in found.reasons[0]


def test_uk_gdpr_names_both_customers_and_staff_data():
    found = rules.uk_gdpr_personal_data(profile(customers_personal_data=True, employee_data=True))

    assert found is not None
    assert "your customers' personal data and your staff's personal data" in found.reasons[0]


def test_no_personal_data_means_no_uk_gdpr_recommendation_even_with_a_website():
    assert rules.uk_gdpr_personal_data(profile(website=True, special_category_data=True)) is None


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("special_category_data", "special category data"),
        ("childrens_data", "Children's code"),
        ("direct_marketing", "PECR"),
        ("website", "PECR"),
    ],
)
def test_uk_gdpr_explains_each_extra_duty(answer, words):
    plain = rules.uk_gdpr_personal_data(profile(customers_personal_data=True))
    extra = rules.uk_gdpr_personal_data(profile(customers_personal_data=True, **{answer: True}))

    assert plain is not None
    assert extra is not None
    assert not any(words in reason for reason in plain.reasons)
    assert any(words in reason for reason in extra.reasons)


# --- Cyber Essentials -----------------------------------------------------------------------------
def test_public_sector_bids_make_cyber_essentials_required():
    found = rules.cyber_essentials_government(profile(public_sector_bids=True))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("cyber-essentials", REQUIRED)
    assert "central government" in found.reasons[0]
    assert rules.cyber_essentials_government(profile()) is None


def test_a_customer_asking_makes_cyber_essentials_required():
    found = rules.cyber_essentials_asked(profile(customers_ask_cyber_essentials=True))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("cyber-essentials", REQUIRED)
    assert rules.cyber_essentials_asked(profile(customers_ask_iso27001=True)) is None


def test_an_insurance_goal_recommends_cyber_essentials():
    found = rules.cyber_essentials_baseline(profile(goal=Goal.INSURANCE))

    assert found is not None
    assert found.strength == RECOMMENDED
    assert "insurers" in found.reasons[0]


@pytest.mark.parametrize(
    "answers",
    [{"employees_band": EmployeesBand.MICRO}, {"employees_band": EmployeesBand.LARGE}, {"cloud_providers": ["aws"]}],
)
def test_staff_or_cloud_make_cyber_essentials_worth_considering(answers):
    found = rules.cyber_essentials_baseline(profile(**answers))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("cyber-essentials", WORTH_CONSIDERING)


@pytest.mark.parametrize("answers", [{}, {"employees_band": EmployeesBand.SOLO}, {"goal": Goal.GET_ORGANISED}])
def test_a_sole_trader_without_cloud_gets_no_baseline_cyber_essentials(answers):
    assert rules.cyber_essentials_baseline(profile(**answers)) is None


# --- PCI DSS --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("card_handling", "saq"),
    [
        (CardHandling.HOSTED, "SAQ A"),
        (CardHandling.DIRECT_POST, "SAQ A-EP"),
        (CardHandling.TERMINALS, "SAQ B or B-IP"),
        (CardHandling.VIRTUAL_TERMINAL, "SAQ C-VT"),
        (CardHandling.STORED, "SAQ D"),
    ],
)
def test_card_payments_make_pci_dss_required_with_the_likely_saq(card_handling, saq):
    found = rules.pci_dss_cards(profile(card_handling=card_handling))

    assert found is not None
    assert (found.framework_slug, found.strength, found.saq) == ("pci-dss-4.0.1", REQUIRED, saq)
    assert f"Your likely questionnaire is {saq}, because" in found.reasons[0]


def test_every_way_of_taking_cards_has_a_saq():
    assert set(rules.SAQ_BY_CARD_HANDLING) == set(CardHandling) - {CardHandling.NONE}


def test_no_card_payments_means_no_pci_dss():
    assert rules.pci_dss_cards(profile(card_handling=CardHandling.NONE)) is None
    assert rules.pci_dss_cards(profile()) is None


# --- SOC 2 ----------------------------------------------------------------------------------------
def test_soc2_asked_for_by_us_customers_is_required():
    found = rules.soc2_us_enterprise(profile(customers_ask_soc2=True, customer_regions=[Region.UK, Region.US]))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("soc2-tsc-2017", REQUIRED)


def test_soc2_asked_for_without_us_customers_is_recommended():
    found = rules.soc2_us_enterprise(profile(customers_ask_soc2=True, customer_regions=[Region.UK]))

    assert found is not None
    assert found.strength == RECOMMENDED


def test_selling_software_to_us_businesses_makes_soc2_worth_considering():
    found = rules.soc2_us_enterprise(profile(customer_regions=[Region.US], sells_to_businesses=True, own_software=True))

    assert found is not None
    assert found.strength == WORTH_CONSIDERING
    assert "US businesses" in found.reasons[0]


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"customer_regions": [Region.US], "sells_to_businesses": True},  # no software of their own
        {"customer_regions": [Region.US], "own_software": True},  # selling to consumers only
        {"customer_regions": [Region.UK, Region.EU], "sells_to_businesses": True, "own_software": True},
    ],
)
def test_no_soc2_without_a_request_or_us_business_customers(answers):
    assert rules.soc2_us_enterprise(profile(**answers)) is None


# --- ISO 27001 ------------------------------------------------------------------------------------
def test_customers_asking_for_iso27001_make_it_required():
    found = rules.iso27001_enterprise(profile(customers_ask_iso27001=True))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("iso27001-2022", REQUIRED)


def test_wanting_an_international_standard_recommends_iso27001():
    found = rules.iso27001_enterprise(profile(goal=Goal.INTERNATIONAL))

    assert found is not None
    assert found.strength == RECOMMENDED
    assert "internationally recognised" in found.reasons[0]


def test_iso27001_asked_for_and_wanted_is_required_with_both_reasons():
    found = rules.iso27001_enterprise(profile(customers_ask_iso27001=True, goal=Goal.INTERNATIONAL))

    assert found is not None
    assert found.strength == REQUIRED
    assert len(found.reasons) == 2


@pytest.mark.parametrize(
    "answers",
    [
        {"sells_to_businesses": True, "customer_regions": [Region.EU]},
        {"sells_to_businesses": True, "public_sector_bids": True},
    ],
)
def test_business_customers_in_europe_or_the_public_sector_make_iso27001_worth_considering(answers):
    found = rules.iso27001_enterprise(profile(**answers))

    assert found is not None
    assert found.strength == WORTH_CONSIDERING


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"sells_to_businesses": True, "customer_regions": [Region.UK]},
        {"sells_to_consumers": True, "customer_regions": [Region.EU]},
        {"goal": Goal.WIN_WORK},
    ],
)
def test_no_iso27001_without_a_request_goal_or_larger_buyers(answers):
    assert rules.iso27001_enterprise(profile(**answers)) is None


# --- NIST CSF -------------------------------------------------------------------------------------
def test_getting_organised_makes_nist_csf_worth_considering():
    found = rules.nist_csf_structure(profile(goal=Goal.GET_ORGANISED))

    assert found is not None
    assert (found.framework_slug, found.strength) == ("nist-csf-2.0", WORTH_CONSIDERING)


def test_us_customers_not_asking_for_soc2_make_nist_csf_worth_considering():
    found = rules.nist_csf_structure(profile(customer_regions=[Region.US]))

    assert found is not None
    assert "US customers" in found.reasons[0]


@pytest.mark.parametrize(
    "answers",
    [{}, {"customer_regions": [Region.UK, Region.EU]}, {"customer_regions": [Region.US], "customers_ask_soc2": True}],
)
def test_no_nist_csf_without_the_goal_or_us_customers(answers):
    assert rules.nist_csf_structure(profile(**answers)) is None


# --- Putting the rules together -------------------------------------------------------------------
def test_no_profile_and_an_empty_profile_recommend_nothing():
    assert recommend(None) == []
    assert recommend(profile()) == []


def test_rules_for_the_same_framework_merge_into_the_strongest_with_every_reason():
    found = by_slug(
        recommend(profile(goal=Goal.INSURANCE, public_sector_bids=True, customers_ask_cyber_essentials=True))
    )

    cyber_essentials = found["cyber-essentials"]
    assert cyber_essentials.strength == REQUIRED
    assert len(cyber_essentials.reasons) == 3
    assert any("insurers" in reason for reason in cyber_essentials.reasons)


def test_merging_never_weakens_repeats_a_reason_or_loses_the_saq():
    strong = Recommendation("pci-dss-4.0.1", REQUIRED, ["Cards."], saq="SAQ A")

    strong.merge(Recommendation("pci-dss-4.0.1", WORTH_CONSIDERING, ["Cards.", "Something else."]))

    assert (strong.strength, strong.reasons, strong.saq) == (REQUIRED, ["Cards.", "Something else."], "SAQ A")

    weak = Recommendation("pci-dss-4.0.1", WORTH_CONSIDERING, ["A."])
    weak.merge(Recommendation("pci-dss-4.0.1", RECOMMENDED, ["B."], saq="SAQ D"))
    assert (weak.strength, weak.reasons, weak.saq) == (RECOMMENDED, ["A.", "B."], "SAQ D")


def test_recommendations_come_strongest_first():
    found = recommend(
        profile(
            customers_personal_data=True,  # UK GDPR, required
            goal=Goal.INTERNATIONAL,  # ISO 27001, recommended
            employees_band=EmployeesBand.SMALL,  # Cyber Essentials, worth considering
            customer_regions=[Region.US],  # NIST CSF, worth considering
            card_handling=CardHandling.TERMINALS,  # PCI DSS, required
        )
    )

    strengths = [r.strength for r in found]
    assert strengths == sorted(strengths, key=rules.STRENGTH_ORDER.__getitem__)
    assert [r.framework_slug for r in found if r.strength == REQUIRED] == ["uk-gdpr", "pci-dss-4.0.1"]
    assert by_slug(found)["pci-dss-4.0.1"].saq == "SAQ B or B-IP"
    assert by_slug(found)["iso27001-2022"].strength == RECOMMENDED


def test_a_typical_online_bakery():
    found = by_slug(
        recommend(
            profile(
                customers_personal_data=True,
                employee_data=True,
                website=True,
                card_handling=CardHandling.HOSTED,
                employees_band=EmployeesBand.MICRO,
                customer_regions=[Region.UK],
                sells_to_consumers=True,
            )
        )
    )

    assert set(found) == {"uk-gdpr", "pci-dss-4.0.1", "cyber-essentials"}
    assert found["uk-gdpr"].strength == REQUIRED
    assert found["pci-dss-4.0.1"].saq == "SAQ A"
    assert found["cyber-essentials"].strength == WORTH_CONSIDERING
