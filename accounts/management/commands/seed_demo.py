"""Load reference data and create the demo organisation for `make run`. Safe to run again: it changes nothing twice."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from accounts.audit import SYSTEM
from accounts.models import Membership, Organisation, Partner, User
from accounts.roles import Role

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Bakery Ltd"
DEMO_PASSWORD = "greenlight-demo"
# A partner the demo organisation can grant API access to in Settings > Partners.
DEMO_PARTNER = {"slug": "northwind-it", "name": "Northwind IT Services Ltd", "contact_email": "api@northwind.example"}
DEMO_PEOPLE = [
    ("owner@demo.greenlight.test", "Olivia Owner", Role.OWNER, False),
    ("consultant@demo.greenlight.test", "Connor Consultant", Role.CONSULTANT, True),
]


class Command(BaseCommand):
    help = "Create the demo organisation (slug 'demo') with a demo owner and a demo consultant."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("The demo has well-known passwords; it is never created in production.")
        # Reference data first: the framework library (unchanged files are skipped, so this is quick).
        call_command("load_frameworks", stdout=self.stdout)
        with transaction.atomic():
            people = [self._person(email, name, is_staff) for email, name, _role, is_staff in DEMO_PEOPLE]
            organisation = Organisation.objects.filter(slug=DEMO_SLUG).first()
            if organisation is None:
                organisation = services.organisation_create(
                    name=DEMO_NAME, owner=people[0], actor=SYSTEM, slug=DEMO_SLUG
                )
            for person, (_email, _name, role, _staff) in zip(people, DEMO_PEOPLE, strict=True):
                Membership.objects.get_or_create(organisation=organisation, user=person, defaults={"role": role})
            Partner.objects.get_or_create(
                slug=DEMO_PARTNER["slug"],
                defaults={"name": DEMO_PARTNER["name"], "contact_email": DEMO_PARTNER["contact_email"]},
            )
        self.stdout.write(self.style.SUCCESS(f"Demo organisation '{organisation.name}' (slug {DEMO_SLUG}) is ready."))
        for email, _name, role, _staff in DEMO_PEOPLE:
            self.stdout.write(f"  {role.label:<11} {email}  password: {DEMO_PASSWORD}")

    def _person(self, email: str, name: str, is_staff: bool) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name, is_staff=is_staff)
        # Demo addresses are pre-verified so mandatory verification never blocks the demo.
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        return user
