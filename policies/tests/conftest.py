"""Fixtures for the policy studio: a small template library, a business profile, drafted policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.audit import Actor
from assessments.models import CardHandling, EmployeesBand, ProductivitySuite, SicSection
from assessments.tests.factories import BusinessProfileFactory, FrameworkAdoptionFactory
from compliance.tests.factories import FrameworkFactory
from policies import services
from policies.models import Policy

TEST_LIBRARY = Path(__file__).resolve().parent / "data" / "library"


@pytest.fixture
def test_library(settings):
    settings.POLICY_LIBRARY_DIR = TEST_LIBRARY
    return TEST_LIBRARY


@pytest.fixture
def bakery_profile(personas):
    return BusinessProfileFactory(
        organisation=personas.organisation,
        company_name="Acme Bakery Ltd",
        company_number="01234567",
        sic_section=SicSection.I,
        employees_band=EmployeesBand.SMALL,
        customers_personal_data=True,
        employee_data=True,
        card_handling=CardHandling.TERMINALS,
        productivity_suite=ProductivitySuite.MICROSOFT,
        cloud_providers=["aws"],
        customer_regions=["uk", "eu"],
        remote_working=False,
    )


@pytest.fixture
def cyber_essentials(personas):
    framework = FrameworkFactory(slug="cyber-essentials", name="Cyber Essentials")
    FrameworkAdoptionFactory(organisation=personas.organisation, framework=framework)
    return framework


@pytest.fixture
def draft(personas, test_library, bakery_profile, django_capture_on_commit_callbacks):
    """Draft the house rules policy for Acme the way the page does, running the task on commit."""

    def make(user=None, template_key: str = "house-rules") -> Policy:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.policy_draft_start(
                organisation=personas.organisation, template_key=template_key, actor=Actor(user or personas.member)
            )
        return Policy.objects.get(pk=job.policy_id)

    return make
