from __future__ import annotations

import hashlib
from datetime import date, timedelta

import factory
from django.core.files.base import ContentFile

from accounts.tests.factories import OrganisationFactory
from evidence.models import (
    CheckResult,
    CollectionRun,
    Connection,
    Evidence,
    EvidenceForm,
    EvidenceRevision,
    EvidenceStatus,
    Provider,
    RunStatus,
)


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    title = factory.Sequence(lambda n: f"Evidence item number {n} for the auditor")
    description = factory.Sequence(lambda n: f"Shows how control number {n} is carried out day to day.")
    form = EvidenceForm.NOTE
    note = factory.Sequence(lambda n: f"Written note number {n}: the firewall rules were reviewed.")
    evidence_type = "configuration"
    status = EvidenceStatus.SUBMITTED
    collected_on = factory.LazyFunction(date.today)
    valid_until = factory.LazyFunction(lambda: date.today() + timedelta(days=90))


class EvidenceRevisionFactory(factory.django.DjangoModelFactory):
    """A revision with a real stored file (a small text file) under the organisation's prefix."""

    class Meta:
        model = EvidenceRevision
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    evidence = factory.SubFactory(
        EvidenceFactory, organisation=factory.SelfAttribute("..organisation"), form=EvidenceForm.FILE, note=""
    )
    number = factory.Sequence(lambda n: n + 1)
    original_name = factory.Sequence(lambda n: f"export-number-{n}.txt")
    file_kind = "text"
    content_type = "text/plain"
    file = factory.LazyAttribute(
        lambda o: ContentFile(f"Configuration export for {o.original_name}\n".encode(), name=o.original_name)
    )
    size = factory.LazyAttribute(lambda o: len(f"Configuration export for {o.original_name}\n".encode()))
    sha256 = factory.LazyAttribute(
        lambda o: hashlib.sha256(f"Configuration export for {o.original_name}\n".encode()).hexdigest()
    )


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        skip_postgeneration_save = True
        django_get_or_create = ("organisation", "provider")

    organisation = factory.SubFactory(OrganisationFactory)
    provider = Provider.GOOGLE_WORKSPACE
    account_label = factory.Sequence(lambda n: f"tenant-number-{n}.example.co.uk")


class CollectionRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectionRun
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    connection = factory.SubFactory(ConnectionFactory, organisation=factory.SelfAttribute("..organisation"))
    run_on = factory.Sequence(lambda n: date.today() - timedelta(days=n))
    status = RunStatus.SUCCEEDED
    error = factory.Sequence(lambda n: f"Run log number {n} finished")


class CheckResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckResult
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    run = factory.SubFactory(CollectionRunFactory, organisation=factory.SelfAttribute("..organisation"))
    key = factory.Sequence(lambda n: f"google.check_number_{n}")
    title = factory.Sequence(lambda n: f"Check number {n} on accounts")
    passed = True
    summary = factory.Sequence(lambda n: f"Summary number {n}: 38 of 40 users enrolled")
