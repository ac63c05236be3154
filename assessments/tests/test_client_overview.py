"""The consultant's client overview in the admin: who sees it, and that its numbers are the clients' own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import Role
from accounts.tests.factories import AuditEventFactory, MembershipFactory, OrganisationFactory, UserFactory
from assessments import selectors, services
from assessments.client_overview import client_rows, sorted_rows
from assessments.models import AnswerStatus, PlanTask, TaskStatus
from assessments.tests.factories import (
    AnswerFactory,
    BusinessProfileFactory,
    FrameworkAdoptionFactory,
    PlanTaskFactory,
    ReadinessSnapshotFactory,
)
from chat.models import Conversation
from chat.tests.factories import ConversationFactory
from compliance.models import Control, Framework, Relationship
from compliance.tests.factories import ControlFactory, ControlGroupFactory, ControlMappingFactory, FrameworkFactory
from evidence.models import Evidence, EvidenceStatus
from evidence.tests.factories import EvidenceFactory
from policies.models import Policy, PolicyStatus
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/clients/"


@dataclass
class Library:
    essentials: Framework
    standard: Framework
    controls: dict[str, Control]


@pytest.fixture
def lib(db) -> Library:
    """Two small frameworks with a mapping between them and a control only some businesses need."""
    essentials = FrameworkFactory(slug="essentials", name="Essentials", position=1)
    standard = FrameworkFactory(slug="standard", name="Standard", position=2)
    access = ControlGroupFactory(framework=essentials, ref="A", title="Access control", position=1)
    operations = ControlGroupFactory(framework=standard, ref="O", title="Operations", position=1)
    controls = {}
    for group, ref, weight, extra in [
        (access, "mfa", 5, {"auto_fail": True}),
        (access, "patching", 3, {}),
        (access, "firewall", 1, {}),
        (access, "children", 4, {"applies_if": ["childrens_data"]}),
        (operations, "backups", 3, {}),
        (operations, "logging", 3, {}),
        (operations, "training", 2, {}),
    ]:
        controls[ref] = ControlFactory(
            group=group, framework=group.framework, ref=ref, title=f"{ref.title()} control", weight=weight, **extra
        )
    ControlMappingFactory(source=controls["backups"], target=controls["patching"], relationship=Relationship.EQUAL)
    ControlMappingFactory(source=controls["logging"], target=controls["firewall"], relationship=Relationship.INTERSECT)
    return Library(essentials, standard, controls)


def seed_client(organisation: Organisation, lib: Library, variant: int = 0) -> None:
    """A client with answers (some through a mapping), a published policy, current and expired evidence,
    tasks, policies in review, an escalation, activity and old snapshots; `variant` varies the figures."""
    today = timezone.localdate()
    now = timezone.now()
    c = lib.controls
    BusinessProfileFactory(organisation=organisation, childrens_data=bool(variant % 2))
    FrameworkAdoptionFactory(organisation=organisation, framework=lib.essentials)
    FrameworkAdoptionFactory(organisation=organisation, framework=lib.standard)
    current = services.round_current(organisation=organisation)
    statuses = [AnswerStatus.PARTIAL, AnswerStatus.IMPLEMENTED, AnswerStatus.NOT_IMPLEMENTED]
    for index, ref in enumerate(["mfa", "firewall", "backups"]):
        status = statuses[(index + variant) % 3]
        AnswerFactory(organisation=organisation, round=current, control=c[ref], status=status)
    # A published policy covering an unanswered control: it counts as partial.
    policy = PolicyFactory(organisation=organisation, status=PolicyStatus.PUBLISHED, title="Training policy")
    PolicyVersionFactory(organisation=organisation, policy=policy, published_at=now)
    policy.controls.add(c["training"])
    for number in range(variant + 1):
        PolicyFactory(organisation=organisation, status=PolicyStatus.IN_REVIEW, title=f"Policy in review {number}")
    PolicyFactory(organisation=organisation, status=PolicyStatus.DRAFT, title="A draft")
    # Evidence: current on backups, one expiring soon, one expired (not current, so counted as such).
    current_item = EvidenceFactory(organisation=organisation, status=EvidenceStatus.ACCEPTED)
    current_item.controls.add(c["backups"])
    EvidenceFactory(organisation=organisation, valid_until=today + timedelta(days=10 + variant))
    expired = EvidenceFactory(organisation=organisation, valid_until=today - timedelta(days=3))
    expired.controls.add(c["firewall"])
    EvidenceFactory(organisation=organisation, valid_until=today + timedelta(days=45))  # not within 30 days
    for number in range(variant + 2):
        PlanTaskFactory(organisation=organisation, due_date=today - timedelta(days=1 + number), position=number)
    PlanTaskFactory(organisation=organisation, due_date=today - timedelta(days=5), status=TaskStatus.DONE)
    PlanTaskFactory(organisation=organisation, due_date=today + timedelta(days=5))
    ConversationFactory(organisation=organisation, escalated_at=now - timedelta(days=2))
    ConversationFactory(
        organisation=organisation, escalated_at=now - timedelta(days=9), escalation_resolved_at=now - timedelta(days=8)
    )
    ConversationFactory(organisation=organisation)  # never escalated
    AuditEventFactory(organisation=organisation, created_at=now - timedelta(days=40))
    AuditEventFactory(organisation=organisation, created_at=now - timedelta(hours=3 + variant))
    # Snapshots: 31 days ago is nearest to "30 days ago"; 20 days ago is not.
    for days, score in [(45, "10.0"), (31, str(20 + variant)), (20, "90.0")]:
        for framework in (lib.essentials, lib.standard, None):
            ReadinessSnapshotFactory(
                organisation=organisation,
                framework=framework,
                score=Decimal(score),
                taken_at=now - timedelta(days=days),
            )


def consultant_of(*organisations: Organisation, email: str = "advisor@consulting.example") -> User:
    user = UserFactory(email=email, is_staff=True)
    for organisation in organisations:
        MembershipFactory(organisation=organisation, user=user, role=Role.CONSULTANT)
    return user


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Who may see it --------------------------------------------------------------------------------
def test_anonymous_is_sent_to_the_admin_sign_in(client_for):
    response = client_for(None).get(OVERVIEW)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/?next=/admin/clients/")


def test_non_staff_member_is_sent_to_the_admin_sign_in(personas, client_for):
    response = client_for(personas.consultant).get(OVERVIEW)  # a consultant, but not staff
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/?next=/admin/clients/")


def test_staff_without_consultant_memberships_sees_the_empty_state(personas, client_for):
    personas.owner.is_staff = True
    personas.owner.save()
    response = client_for(personas.owner).get(OVERVIEW)
    assert response.status_code == 200
    page = text_of(response)
    assert "No clients yet" in page
    assert "Acme Bakery Ltd" not in page


def test_consultant_sees_only_their_clients(personas, client_for, lib):
    seed_client(personas.organisation, lib)
    seed_client(personas.other_organisation, lib, variant=1)
    personas.consultant.is_staff = True
    personas.consultant.save()
    response = client_for(personas.consultant).get(OVERVIEW)
    assert response.status_code == 200
    page = text_of(response)
    assert "Acme Bakery Ltd" in page
    assert "Rival Widgets plc" not in page
    assert reverse("admin:client_detail", args=[personas.organisation.pk]) in page


def test_client_detail_of_another_organisation_is_not_found(personas, client_for, lib):
    seed_client(personas.other_organisation, lib)
    browser = client_for(consultant_of(personas.organisation))
    assert browser.get(reverse("admin:client_detail", args=[personas.other_organisation.pk])).status_code == 404
    assert browser.get(reverse("admin:client_detail", args=[999_999])).status_code == 404
    assert browser.get(f"{OVERVIEW}abc/").status_code == 404


def test_superuser_sees_every_organisation(personas, client_for):
    root = UserFactory(email="root@greenlight.example", is_staff=True, is_superuser=True)
    page = text_of(client_for(root).get(OVERVIEW))
    assert "Acme Bakery Ltd" in page
    assert "Rival Widgets plc" in page


def test_overview_refuses_post(personas, client_for):
    assert client_for(consultant_of(personas.organisation)).post(OVERVIEW).status_code == 405


def test_admin_index_leads_consultants_to_their_clients(personas, client_for):
    page = text_of(client_for(consultant_of(personas.organisation)).get(reverse("admin:index")))
    assert "Your clients" in page
    assert "You consult for 1 organisation:" in page
    assert reverse("admin:client_overview") in page


def test_admin_index_has_no_client_link_for_staff_without_clients(personas, client_for):
    staff = UserFactory(email="staff@greenlight.example", is_staff=True)
    page = text_of(client_for(staff).get(reverse("admin:index")))
    assert reverse("admin:client_overview") not in page


# --- The numbers -----------------------------------------------------------------------------------
def expected_counts(organisation: Organisation) -> dict[str, int]:
    """The figures counted the plain way, one model at a time."""
    today = timezone.localdate()
    return {
        "overdue_tasks": sum(task.is_overdue for task in PlanTask.objects.filter(organisation=organisation)),
        "evidence_expiring": sum(
            1
            for item in Evidence.objects.filter(organisation=organisation)
            if item.valid_until and 0 <= (item.valid_until - today).days <= 30
        ),
        "evidence_expired": sum(
            1
            for item in Evidence.objects.filter(organisation=organisation)
            if item.valid_until and item.valid_until < today
        ),
        "evidence_awaiting_review": Evidence.objects.filter(
            organisation=organisation, status=EvidenceStatus.SUBMITTED
        ).count(),
        "policies_awaiting_approval": Policy.objects.filter(
            organisation=organisation, status=PolicyStatus.IN_REVIEW
        ).count(),
        "open_escalations": sum(
            1
            for conversation in Conversation.objects.filter(organisation=organisation)
            if conversation.escalated_at and not conversation.escalation_resolved_at
        ),
    }


def test_numbers_equal_the_organisations_readiness_and_records(personas, lib):
    clients = [personas.organisation, personas.other_organisation]
    for variant, organisation in enumerate(clients):
        seed_client(organisation, lib, variant)
    bare = OrganisationFactory(name="Bare Ltd", slug="bare")
    rows = {row.organisation.pk: row for row in client_rows([*(o.pk for o in clients), bare.pk])}

    for organisation in clients:
        row = rows[organisation.pk]
        readiness = selectors.readiness_for(organisation)
        assert [f.framework for f in row.frameworks] == [f.framework for f in readiness.frameworks]
        for shown, truth in zip(row.frameworks, readiness.frameworks, strict=True):
            assert (shown.percent, shown.band, shown.would_fail) == (
                truth.score.percent,
                truth.score.band,
                truth.score.would_fail,
            )
            then = Decimal(20 + clients.index(organisation))  # the snapshot 31 days ago
            assert shown.change == truth.score.percent - then
        assert row.overall == readiness.overall
        for name, value in expected_counts(organisation).items():
            assert getattr(row, name) == value, name
        latest = organisation_events_latest(organisation)
        assert row.last_activity == latest
    # The seeded figures are not trivial: policies, evidence and mappings all count.
    acme = rows[personas.organisation.pk]
    assert {f.percent for f in acme.frameworks} != {Decimal(0)}
    assert (acme.overdue_tasks, acme.evidence_expiring, acme.evidence_expired) == (2, 1, 1)
    assert (acme.policies_awaiting_approval, acme.open_escalations) == (1, 1)

    nothing = rows[bare.pk]
    assert (nothing.frameworks, nothing.overall, nothing.change, nothing.last_activity) == ([], None, None, None)
    assert nothing.overdue_tasks == 0


def organisation_events_latest(organisation: Organisation):
    from accounts.models import AuditEvent

    return AuditEvent.objects.filter(organisation=organisation).order_by("-created_at").first().created_at


def test_readiness_is_live_not_the_latest_snapshot(personas, lib):
    """A policy published after the last snapshot changes readiness at once, without a new snapshot."""
    seed_client(personas.organisation, lib)
    before = client_rows([personas.organisation.pk])[0].frameworks[1].percent
    policy = PolicyFactory(organisation=personas.organisation, status=PolicyStatus.PUBLISHED)
    PolicyVersionFactory(organisation=personas.organisation, policy=policy, published_at=timezone.now())
    policy.controls.add(lib.controls["logging"])  # unanswered, and covered by no other control
    after = client_rows([personas.organisation.pk])[0].frameworks[1].percent
    assert after == selectors.readiness_for(personas.organisation).frameworks[1].score.percent
    assert after > before


def test_page_shows_the_figures(personas, client_for, lib):
    seed_client(personas.organisation, lib)
    readiness = selectors.readiness_for(personas.organisation)
    page = text_of(client_for(consultant_of(personas.organisation)).get(OVERVIEW))
    for framework in readiness.frameworks:
        assert f"{framework.framework.name}: <strong>{framework.score.percent}%</strong>" in page
        assert f"band-{framework.score.band}" in page
    event = timezone.localtime(organisation_events_latest(personas.organisation))
    from config.formatting import long_date

    assert f"{long_date(event.date())}, {event:%H:%M}" in page


def test_client_without_frameworks_says_so(personas, client_for):
    page = text_of(client_for(consultant_of(personas.organisation)).get(OVERVIEW))
    assert "No framework adopted" in page


def test_client_detail_shows_the_figures_and_queue_links(personas, client_for, lib):
    seed_client(personas.organisation, lib)
    readiness = selectors.readiness_for(personas.organisation)
    url = reverse("admin:client_detail", args=[personas.organisation.pk])
    page = text_of(client_for(consultant_of(personas.organisation)).get(url))
    for framework in readiness.frameworks:
        assert f"{framework.score.percent}%" in page
    assert f"{readiness.overall}%" in page
    escalations = reverse(
        "admin:chat_conversation_changelist",
        query={"organisation__id__exact": personas.organisation.pk, "state": "waiting"},
    )
    policies = reverse(
        "admin:policies_policy_changelist",
        query={"organisation__id__exact": personas.organisation.pk, "status": "in_review"},
    )
    for queue in (escalations, policies):
        assert queue.replace("&", "&amp;") in page


# --- Sorting ---------------------------------------------------------------------------------------
def names_in(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/admin/clients/\d+/">([^<]+)</a>', page)


@pytest.fixture
def three_clients(lib) -> tuple[User, list[Organisation]]:
    clients = [OrganisationFactory(name=name, slug=name.lower()) for name in ("Bravo", "Alpha", "Charlie")]
    for variant, organisation in enumerate(clients):
        seed_client(organisation, lib, variant)
    return consultant_of(*clients), clients


def test_sorted_by_name_by_default_and_for_unknown_columns(client_for, three_clients):
    consultant, _clients = three_clients
    browser = client_for(consultant)
    assert names_in(text_of(browser.get(OVERVIEW))) == ["Alpha", "Bravo", "Charlie"]
    assert names_in(text_of(browser.get(OVERVIEW, {"o": "organisation__secret"}))) == ["Alpha", "Bravo", "Charlie"]
    assert names_in(text_of(browser.get(OVERVIEW, {"o": "-name"}))) == ["Charlie", "Bravo", "Alpha"]


@pytest.mark.parametrize(
    "column", ["readiness", "change", "overdue", "expiring", "policies", "escalations", "activity", "expired"]
)
def test_sortable_by_each_column(client_for, three_clients, column):
    consultant, clients = three_clients
    browser = client_for(consultant)
    rows = client_rows([o.pk for o in clients])
    for order in (column, f"-{column}"):
        expected = [row.organisation.name for row in sorted_rows(rows, order)]
        assert names_in(text_of(browser.get(OVERVIEW, {"o": order}))) == expected
    # The overdue counts differ by client, so that order says something.
    overdue = [row.organisation.name for row in sorted_rows(rows, "-overdue")]
    assert overdue == ["Charlie", "Alpha", "Bravo"]


def test_clients_without_figures_sort_last_both_ways(personas, lib):
    seed_client(personas.organisation, lib)
    rows = client_rows([personas.organisation.pk, personas.other_organisation.pk])
    for order in ("readiness", "-readiness"):
        assert [row.organisation for row in sorted_rows(rows, order)][-1] == personas.other_organisation


# --- Cost ------------------------------------------------------------------------------------------
PAGE_QUERIES = 15  # session, user, memberships; ten for the clients; two for the permissions of the admin menu


def test_query_count_does_not_grow_with_clients(client_for, lib, django_assert_num_queries):
    first = OrganisationFactory(name="First client", slug="first")
    seed_client(first, lib)
    consultant = consultant_of(first)
    browser = client_for(consultant)
    browser.get(OVERVIEW)  # warm the session
    with django_assert_num_queries(PAGE_QUERIES):
        browser.get(OVERVIEW)
    for number in range(4):
        other = OrganisationFactory(name=f"Client {number}", slug=f"client-{number}")
        seed_client(other, lib, number)
        MembershipFactory(organisation=other, user=consultant, role=Role.CONSULTANT)
    with django_assert_num_queries(PAGE_QUERIES):
        response = browser.get(OVERVIEW)
    assert len(names_in(text_of(response))) == 5
