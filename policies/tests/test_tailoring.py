"""Tailoring fills every placeholder from the business profile and switches sections with the facts."""

from __future__ import annotations

import re

import pytest

from accounts.models import Organisation
from assessments.models import BusinessProfile, CardHandling, EmployeesBand, ProductivitySuite, Region, SicSection
from policies.library import PLACEHOLDERS, PolicyTemplate, get_template, load_library
from policies.tailoring import build_context, fill, policy_context_for, tailor

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
ORGANISATION = Organisation(name="Acme Bakery Ltd", slug="acme-bakery")
CE = ("cyber-essentials", "Cyber Essentials")
GDPR = ("uk-gdpr", "UK GDPR")

PROFILES = {
    "no profile": None,
    "empty profile": BusinessProfile(),
    "solo web shop": BusinessProfile(
        company_name="Solo Soaps",
        sic_section=SicSection.G,
        employees_band=EmployeesBand.SOLO,
        customers_personal_data=True,
        card_handling=CardHandling.HOSTED,
        website=True,
        direct_marketing=True,
        productivity_suite=ProductivitySuite.GOOGLE,
        customer_regions=[Region.UK],
    ),
    "clinic": BusinessProfile(
        company_name="Northside Physio Ltd",
        company_number="SC123456",
        sic_section=SicSection.Q,
        employees_band=EmployeesBand.MEDIUM,
        customers_personal_data=True,
        employee_data=True,
        special_category_data=True,
        childrens_data=True,
        card_handling=CardHandling.STORED,
        productivity_suite=ProductivitySuite.BOTH,
        cloud_providers=["aws", "azure", "google-cloud", "other"],
        customer_regions=[Region.UK, Region.EU, Region.US, Region.ELSEWHERE],
        staff_regions=[Region.UK],
        remote_working=True,
        byod=True,
        physical_premises=True,
        website=True,
        cctv=True,
        own_software=True,
        processor_for_customers=True,
        automated_decisions=True,
        public_sector_bids=True,
    ),
}


def _context(profile, frameworks=()):
    return build_context(organisation=ORGANISATION, profile=profile, frameworks=list(frameworks))


@pytest.fixture
def house_rules(test_library):
    return get_template("house-rules")


def _sections(template, context):
    return {section["key"]: section for section in tailor(template, context)}


def test_context_fills_every_placeholder_in_the_vocabulary():
    bare = PolicyTemplate(key="t", title="T", summary="", review_months=6, controls=(), applies_if=(), sections=())
    for profile in PROFILES.values():
        values = _context(profile).values(bare)
        assert set(values) == PLACEHOLDERS
        assert all(value or name == "company_number_clause" for name, value in values.items())
        assert values["review_months"] == "6"


def test_profile_facts_land_in_the_right_places(house_rules):
    profile = PROFILES["clinic"]
    sections = _sections(house_rules, _context(profile, [CE, GDPR]))
    assert sections["purpose"]["body"] == (
        "This policy sets out how Northside Physio Ltd, company number SC123456, keeps customers' and staff's "
        "personal data, including special category data such as health information, children's personal data and "
        "payment card data safe. We work in human health and social work activities and employ 50 to 249 people."
    )
    assert sections["rules"]["body"].splitlines()[0] == (
        "- The IT Lead keeps the list of accounts in Microsoft 365 and Google Workspace and Amazon Web Services, "
        "Microsoft Azure, Google Cloud and other cloud and hosting providers."
    )
    review = sections["review"]["body"]
    assert review.startswith("The Operations Director reviews this policy every 24 months.")
    assert (
        "Our Data Protection Officer advises on data protection for customers in the UK, the EU, "
        "the United States and other countries." in review
    )
    assert "We pay the data protection fee to the ICO." in review
    assert (
        sections["cyber-essentials"]["body"]
        == "We follow the Cyber Essentials rules as part of Cyber Essentials and UK GDPR."
    )
    assert sections["card-payments"]["body"].startswith("We store, process or transmit card numbers on our own systems")


def test_small_business_roles_and_a_lead_instead_of_a_dpo(house_rules):
    sections = _sections(house_rules, _context(PROFILES["solo web shop"]))
    review = sections["review"]["body"]
    assert review.startswith("The Managing Director reviews")
    assert "The person responsible for data protection (the Managing Director) advises" in review
    assert "Solo Soaps keeps customers' personal data safe" in sections["purpose"]["body"]
    assert "Google Workspace and our cloud services" in sections["rules"]["body"]


def test_incomplete_profile_reads_sensibly(house_rules):
    for name in ("no profile", "empty profile"):
        sections = _sections(house_rules, _context(PROFILES[name]))
        purpose = sections["purpose"]["body"]
        assert purpose.startswith("This policy sets out how Acme Bakery Ltd keeps ")
        assert "We work in our line of business and employ a small team." in purpose
        assert "our email and document systems and our cloud services" in sections["rules"]["body"]
        assert "customers in the UK" in sections["review"]["body"]


def test_sections_switch_on_and_off_with_facts_and_frameworks(house_rules):
    plain = _sections(house_rules, _context(PROFILES["empty profile"]))
    assert "card-payments" not in plain
    assert "cyber-essentials" not in plain
    assert "office-only" in plain  # not_facts: remote working is not the case

    clinic = _sections(house_rules, _context(PROFILES["clinic"], [CE]))
    assert {"card-payments", "cyber-essentials"} <= set(clinic)
    assert "office-only" not in clinic

    without_ce = _sections(house_rules, _context(PROFILES["clinic"], [GDPR]))
    assert "cyber-essentials" not in without_ce


def test_literal_braces_and_section_order_survive(house_rules):
    sections = tailor(house_rules, _context(PROFILES["clinic"], [CE]))
    assert [section["key"] for section in sections] == [
        "purpose",
        "rules",
        "card-payments",
        "cyber-essentials",
        "review",
    ]
    assert "Literal braces stay: {not a placeholder}." in sections[1]["body"]
    assert all(section["origin"] == "template" and section["provider"] == "" for section in sections)


def test_sentence_start_capitalises_phrases_but_never_the_organisation_name():
    values = {"security_lead": "the IT Lead", "organisation_name": "easyTeas Ltd"}
    assert fill("{security_lead} checks.", values) == "The IT Lead checks."
    assert fill("Done. {security_lead} checks.", values) == "Done. The IT Lead checks."
    assert fill("- **{security_lead}** checks", values) == "- **The IT Lead** checks"
    assert fill("Ask {security_lead}: {security_lead}.", values) == "Ask the IT Lead: the IT Lead."
    assert fill("{organisation_name} sells tea.", values) == "easyTeas Ltd sells tea."


def test_effective_date_is_the_drafting_date_and_marked_for_publishing(house_rules):
    from datetime import date

    context = build_context(organisation=ORGANISATION, profile=None, frameworks=[], today=date(2026, 11, 22))
    review = _sections(house_rules, context)["review"]
    assert review["body"].endswith("This version is effective from 22 November 2026.")
    assert review["effective_date"] == "22 November 2026"


@pytest.mark.parametrize("profile_name", list(PROFILES))
@pytest.mark.parametrize("frameworks", [[], [CE, GDPR]], ids=["no frameworks", "two frameworks"])
def test_no_placeholder_is_left_in_any_real_template(profile_name, frameworks):
    context = _context(PROFILES[profile_name], frameworks)
    templates = load_library().values()
    assert templates
    for template in templates:
        sections = tailor(template, context)
        assert sections, template.key
        for section in sections:
            where = f"{template.key}/{section['key']}"
            # The shipped templates write no literal braces, so any brace left is an unfilled placeholder.
            assert "{" not in section["body"] + section["title"], f"{where} left {PLACEHOLDER.findall(section['body'])}"
            assert section["body"].strip(), f"{where} is empty"
            assert "  " not in section["body"].replace("\n  ", "\n"), f"{where} has a doubled space"


@pytest.mark.django_db
def test_context_reads_the_profile_and_adopted_frameworks(personas, bakery_profile, cyber_essentials):
    context = policy_context_for(personas.organisation)
    assert context.organisation_name == "Acme Bakery Ltd"
    assert context.company_number_clause == ", company number 01234567,"
    assert context.sector == "accommodation and food service activities"
    assert context.employee_count == "10 to 49 people"
    assert context.frameworks == "Cyber Essentials"
    assert context.framework_slugs == frozenset({"cyber-essentials"})
    assert context.facts["card_payments"] is True
    assert context.card_handling_clause.startswith("We take card payments in person on card terminals")
