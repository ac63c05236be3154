"""The organisations `make load` runs against, built through the project's own services as a person
would build them: an owner who can sign in, a business profile, two frameworks adopted, an assessment
round with some answers, a few evidence items and a read-only API key.

Every owner has the same password (one run's random one), hashed once: the hasher's cost is what signing
in measures, not what seeding should spend 25 times over.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from config.load import files
from config.load.plan import Account

FRAMEWORKS = ("cyber-essentials", "uk-gdpr")
# A small office that takes no cards: Cyber Essentials for a public-sector bid, UK GDPR for its customers.
PROFILE: dict[str, Any] = {
    "employees_band": "10-49",
    "turnover_band": "1m-10m",
    "sic_section": "M",
    "customer_regions": ["uk"],
    "staff_regions": ["uk"],
    "customers_personal_data": True,
    "employee_data": True,
    "direct_marketing": True,
    "website": True,
    "productivity_suite": "microsoft-365",
    "cloud_providers": ["aws"],
    "remote_working": True,
    "sells_to_businesses": True,
    "public_sector_bids": True,
    "goal": "win-work",
}
ANSWERS = 12
ANSWER_CYCLE = ("implemented", "partial", "not_implemented", "implemented")
NOTES = (
    ("Board minutes: information security review", "The board reviewed the risk register and agreed the plan."),
    ("Staff briefing on phishing", "Every member of staff attended the phishing briefing in the spring."),
)


def seed(*, organisations: int, password: str) -> list[Account]:
    """`organisations` organisations, each with its owner; returns the owners' accounts."""
    from django.contrib.auth.hashers import make_password

    from compliance.models import Framework
    from compliance.services import library_load

    if not Framework.objects.exists():
        library_load()
    hashed = make_password(password)
    return [_organisation(number, password=password, hashed=hashed) for number in range(1, organisations + 1)]


def _organisation(number: int, *, password: str, hashed: str) -> Account:
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    from accounts.audit import SYSTEM, Actor
    from accounts.models import User
    from accounts.scopes import Scope
    from accounts.services import organisation_create
    from accounts.services_api import api_key_create
    from assessments import services as assessments
    from compliance.models import Framework

    email = f"owner@load-{number}.greenlight.test"
    owner = User.objects.create_user(email=email, password=None, full_name=f"Owner {number}")
    owner.password = hashed
    owner.save(update_fields=["password"])
    # Production makes verification mandatory: a seeded owner has confirmed their address.
    EmailAddress.objects.create(user=owner, email=email, verified=True, primary=True)
    organisation = organisation_create(
        name=f"Load Test Bakery {number} Ltd", owner=owner, actor=SYSTEM, slug=f"load-{number}"
    )
    actor = Actor(user=owner)

    assessments.profile_update(
        organisation=organisation,
        values={**PROFILE, "company_name": organisation.name},
        step="goal",
        actor=actor,
    )
    assessments.profile_complete(organisation=organisation, actor=actor)
    target = timezone.localdate() + timedelta(days=180)
    for framework in Framework.objects.filter(slug__in=FRAMEWORKS).order_by("position"):
        assessments.framework_adopt(organisation=organisation, framework=framework, target_date=target, actor=actor)
    controls = _applicable_controls(organisation)
    for index, control in enumerate(controls[:ANSWERS]):
        assessments.answer_save(
            organisation=organisation,
            control=control,
            status=ANSWER_CYCLE[index % len(ANSWER_CYCLE)],
            actor=actor,
            notes=f"Seeded answer {index + 1}",
        )
    _evidence(organisation, actor, owner, controls)
    issued = api_key_create(
        organisation=organisation,
        name="Load test (read only)",
        scopes=[scope.value for scope in Scope if scope.value.endswith(":read")],
        expires_at=None,
        actor=actor,
    )
    return Account(
        email=email,
        password=password,
        organisation=organisation.slug,
        api_key=issued.secret,
        frameworks=FRAMEWORKS,
    )


def _applicable_controls(organisation: Any) -> list[Any]:
    from assessments import selectors
    from assessments.facts import control_applies, profile_facts
    from compliance.models import Control

    facts = profile_facts(selectors.profile_for(organisation))
    adopted = Control.objects.live().filter(assessable=True, framework__slug__in=FRAMEWORKS)
    ordered = adopted.order_by("framework__position", "position")
    return [control for control in ordered if control_applies(control.applies_if, facts)]


def _evidence(organisation: Any, actor: Any, owner: Any, controls: list[Any]) -> None:
    from evidence.services.items import EvidenceDetails, evidence_add_note, evidence_upload

    for (title, note), control in zip(NOTES, controls, strict=False):
        evidence_add_note(
            organisation=organisation,
            actor=actor,
            note=note,
            details=EvidenceDetails(title=title, evidence_type="minutes", owner=owner, control_ids=(control.pk,)),
        )
    title = "Laptop encryption check"
    evidence_upload(
        organisation=organisation,
        actor=actor,
        file=io.BytesIO(files.pdf(title)),
        name="laptop-encryption-check.pdf",
        details=EvidenceDetails(title=title, evidence_type="report", owner=owner, control_ids=(controls[-1].pk,)),
    )
