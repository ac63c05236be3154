from __future__ import annotations

import hashlib
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import OrganisationFactory
from assessments.models import (
    Answer,
    AnswerStatus,
    AssessmentRound,
    BusinessProfile,
    FrameworkAdoption,
    PlanTask,
    ReadinessSnapshot,
    ReportRun,
    ReportSchedule,
    ReportStatus,
    ScheduleDelivery,
    ScheduleFrequency,
)
from compliance.tests.factories import ControlFactory, FrameworkFactory


class BusinessProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessProfile
        skip_postgeneration_save = True
        # One profile per organisation: asking again returns the existing one.
        django_get_or_create = ("organisation",)

    organisation = factory.SubFactory(OrganisationFactory)
    company_name = factory.Sequence(lambda n: f"Profiled Company {n} Ltd")
    # A Scottish-style number: eight bare digits turn up inside any float (metrics), which the isolation
    # test would read as a leak.
    company_number = factory.Sequence(lambda n: f"SC{n:06d}")
    customers_personal_data = True
    employee_data = True


class FrameworkAdoptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FrameworkAdoption
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    framework = factory.SubFactory(FrameworkFactory)


class AssessmentRoundFactory(factory.django.DjangoModelFactory):
    """Closed by default: an organisation has only one open round, which services create."""

    class Meta:
        model = AssessmentRound
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Assessment round number {n}")
    closed_at = factory.LazyFunction(timezone.now)


class AnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Answer
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    round = factory.SubFactory(AssessmentRoundFactory, organisation=factory.SelfAttribute("..organisation"))
    control = factory.SubFactory(ControlFactory)
    status = AnswerStatus.PARTIAL
    notes = factory.Sequence(lambda n: f"Answer note number {n} about our laptops")


class ReadinessSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadinessSnapshot
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    framework = factory.SubFactory(FrameworkFactory)
    score = Decimal("42.5")
    band = "red"


class PlanTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanTask
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    title = factory.Sequence(lambda n: f"Plan task number {n}: turn on backups")
    description = "Make sure backups run nightly."


class ReportRunFactory(factory.django.DjangoModelFactory):
    """Queued by default; `done=True` stores a small file and its size and checksum as a build would."""

    class Meta:
        model = ReportRun
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    message = factory.Sequence(lambda n: f"Report run number {n} waiting to start")

    class Params:
        done = factory.Trait(
            status=ReportStatus.DONE,
            progress=100,
            file=factory.django.FileField(filename="readiness-report.pdf", data=b"%PDF-1.7 report body"),
            size=len(b"%PDF-1.7 report body"),
            sha256=hashlib.sha256(b"%PDF-1.7 report body").hexdigest(),
            finished_at=factory.LazyFunction(timezone.now),
        )


class ReportScheduleFactory(factory.django.DjangoModelFactory):
    """A weekly readiness report on Mondays at 08:00, without its beat entry (the services write that).
    `recipients=[...]` sets who receives it."""

    class Meta:
        model = ReportSchedule
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    frequency = ScheduleFrequency.WEEKLY
    day = 0
    hour = 8
    delivery = ScheduleDelivery.ATTACH

    @factory.post_generation
    def recipients(self, create: bool, extracted: list | None, **kwargs: object) -> None:
        if create and extracted:
            self.recipients.set(extracted)
