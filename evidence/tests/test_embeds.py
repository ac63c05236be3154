"""Evidence on other apps' pages: counts per control, a control's evidence and checks, a task's evidence,
the answer line, and the template tags that render them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Membership
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from evidence import embeds
from evidence.models import EvidenceStatus, RunStatus
from evidence.tests.factories import CheckResultFactory, CollectionRunFactory, ConnectionFactory, EvidenceFactory

pytestmark = pytest.mark.django_db

TODAY = date.today()


def squash(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


@pytest.fixture
def controls(db):
    framework = FrameworkFactory(name="Cyber Essentials", slug="cyber-essentials")
    group = ControlGroupFactory(framework=framework)
    return [ControlFactory(framework=framework, group=group, ref=f"UA.{n}") for n in range(1, 4)]


def membership_of(personas, user) -> Membership:
    return Membership.objects.select_related("organisation").get(user=user, organisation=personas.organisation)


def evidence_on(organisation, *controls, **fields):
    item = EvidenceFactory(organisation=organisation, **fields)
    item.controls.set(controls)
    return item


# --- Counts ----------------------------------------------------------------------------------------
def test_counts_give_total_and_current_per_control_for_this_organisation_only(personas, controls):
    first, second, third = controls
    org = personas.organisation
    evidence_on(org, first, second, status=EvidenceStatus.ACCEPTED)
    evidence_on(org, first, status=EvidenceStatus.DRAFT)
    evidence_on(org, second, status=EvidenceStatus.SUBMITTED, valid_until=TODAY - timedelta(days=1))
    evidence_on(personas.other_organisation, first, third, status=EvidenceStatus.ACCEPTED)

    counts = embeds.evidence_counts_by_control(org, [c.pk for c in controls])
    assert counts == {first.pk: (2, 1), second.pk: (2, 1)}
    assert embeds.evidence_counts_by_control(org, []) == {}


def test_counts_take_one_query_however_many_controls(personas, django_assert_num_queries):
    framework = FrameworkFactory()
    group = ControlGroupFactory(framework=framework)
    many = ControlFactory.create_batch(30, framework=framework, group=group)
    for control in many:
        evidence_on(personas.organisation, control)
    with django_assert_num_queries(1):
        counts = embeds.evidence_counts_by_control(personas.organisation, [c.pk for c in many[:3]])
    assert len(counts) == 3
    with django_assert_num_queries(1):
        counts = embeds.evidence_counts_by_control(personas.organisation, [c.pk for c in many])
    assert len(counts) == 30


# --- A control's page ------------------------------------------------------------------------------
def test_a_controls_evidence_newest_first_with_its_counts(personas, controls):
    control = controls[0]
    org = personas.organisation
    older = evidence_on(org, control, collected_on=TODAY - timedelta(days=10), status=EvidenceStatus.ACCEPTED)
    newer = evidence_on(org, control, collected_on=TODAY, status=EvidenceStatus.DRAFT)
    evidence_on(personas.other_organisation, control)

    context = embeds.control_evidence_context(org, control, membership_of(personas, personas.member))
    assert context.items == [newer, older]
    assert (context.total, context.current, context.more) == (2, 1, 0)
    assert context.can_edit
    assert context.add_url == f"{reverse('evidence_new')}?control={control.pk}"
    assert not embeds.control_evidence_context(org, control, membership_of(personas, personas.viewer)).can_edit


def test_a_controls_checks_come_from_each_connections_latest_finished_run(personas, controls):
    control = controls[0]
    org = personas.organisation
    connection = ConnectionFactory(organisation=org)
    yesterday = CollectionRunFactory(organisation=org, connection=connection, run_on=TODAY - timedelta(days=1))
    today = CollectionRunFactory(organisation=org, connection=connection, run_on=TODAY, status=RunStatus.SUCCEEDED)
    stale = CheckResultFactory(organisation=org, run=yesterday, title="Yesterday's view")
    fresh = CheckResultFactory(organisation=org, run=today, title="Today's view", passed=False)
    stale.controls.set([control])
    fresh.controls.set([control])

    context = embeds.control_evidence_context(org, control, membership_of(personas, personas.member))
    assert context.checks == [fresh]


def test_a_controls_section_costs_three_queries_however_much_evidence(personas, controls, django_assert_num_queries):
    control = controls[0]
    org = personas.organisation
    membership = membership_of(personas, personas.member)
    run = CollectionRunFactory(organisation=org)
    for _ in range(3):
        evidence_on(org, control)
        CheckResultFactory(organisation=org, run=run).controls.set([control])
    with django_assert_num_queries(3):
        context = embeds.control_evidence_context(org, control, membership)
        render_to_string("evidence/includes/for_control.html", {"control_evidence": context})
    for _ in range(30):
        evidence_on(org, control)
        CheckResultFactory(organisation=org, run=run).controls.set([control])
    with django_assert_num_queries(3):
        context = embeds.control_evidence_context(org, control, membership)
        render_to_string("evidence/includes/for_control.html", {"control_evidence": context})
    assert (len(context.items), context.total, context.more) == (embeds.SHOWN_ITEMS, 33, 33 - embeds.SHOWN_ITEMS)
    assert len(context.checks) == 33


def test_the_control_section_marks_what_counts_and_offers_to_add(personas, controls):
    control = controls[0]
    org = personas.organisation
    counting = evidence_on(org, control, title="Firewall rules O'Brien reviewed", status=EvidenceStatus.ACCEPTED)
    evidence_on(
        org, control, title="Old screenshot", status=EvidenceStatus.EXPIRED, valid_until=TODAY - timedelta(days=3)
    )
    run = CollectionRunFactory(organisation=org)
    CheckResultFactory(organisation=org, run=run, passed=False, title="2-Step Verification enrolment").controls.set(
        [control]
    )

    html = squash(
        render_to_string(
            "evidence/includes/for_control.html",
            {
                "control_evidence": embeds.control_evidence_context(
                    org, control, membership_of(personas, personas.member)
                )
            },
        )
    )
    assert escape(counting.title) in html
    assert html.count("Counts towards readiness") == 1
    assert "2 pieces of evidence; <strong>1</strong> counts towards readiness now." in html
    run_url = reverse("collection_run_detail", args=[run.pk])
    assert f'Failed</span> <a href="{run_url}">2-Step Verification enrolment</a>' in html
    assert f'href="{reverse("evidence_new")}?control={control.pk}">Add evidence for this control' in html

    viewer_html = render_to_string(
        "evidence/includes/for_control.html",
        {"control_evidence": embeds.control_evidence_context(org, control, membership_of(personas, personas.viewer))},
    )
    assert "Add evidence for this control" not in viewer_html


def test_the_control_section_without_evidence_explains_what_counts(personas, controls):
    context = embeds.control_evidence_context(
        personas.organisation, controls[0], membership_of(personas, personas.member)
    )
    html = squash(render_to_string("evidence/includes/for_control.html", {"control_evidence": context}))
    assert "No evidence is linked to this control yet." in html
    assert "Automated checks" not in html


# --- A task's page ---------------------------------------------------------------------------------
def test_a_tasks_evidence_covers_all_its_controls_once_each(personas, controls, django_assert_num_queries):
    first, second, third = controls
    org = personas.organisation
    both = evidence_on(org, first, second, title="Covers two")
    only_second = evidence_on(org, second, collected_on=TODAY - timedelta(days=2))
    evidence_on(org, third)  # not one of the task's controls
    evidence_on(personas.other_organisation, first)
    membership = membership_of(personas, personas.member)

    with django_assert_num_queries(1):
        context = embeds.task_evidence_context(org, [second.pk, first.pk], membership)
    assert context.items == [both, only_second]
    assert context.attach_url == f"{reverse('evidence_new')}?control={second.pk}"
    html = squash(render_to_string("evidence/includes/for_task.html", {"task_evidence": context}))
    assert "Covers two" in html
    assert "Attach evidence" in html


def test_a_task_without_controls_has_nothing_to_attach_to(personas, django_assert_num_queries):
    membership = membership_of(personas, personas.member)
    with django_assert_num_queries(0):
        context = embeds.task_evidence_context(personas.organisation, [], membership)
    assert context.items == []
    assert context.attach_url is None
    html = render_to_string("evidence/includes/for_task.html", {"task_evidence": context})
    assert "Attach evidence" not in html
    assert "Link a control to this task" in html


# --- An answer's line ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("counts", "can_edit", "ref"),
    [((0, 0), True, "UA.1"), ((2, 1), True, "UA.1"), ((1, 0), False, "A&B <1>"), ((3, 3), False, "")],
)
def test_the_answer_line_and_its_template_are_the_same(counts, can_edit, ref):
    line = embeds.answer_evidence_line(7, {7: counts}, can_edit=can_edit, control_ref=ref)
    template = render_to_string(
        "evidence/includes/for_answer.html",
        {"control_id": 7, "control_ref": ref, "total": counts[0], "current": counts[1], "can_edit": can_edit},
    )
    assert squash(template) == squash(line)


def test_the_answer_line_reads_well():
    line = embeds.answer_evidence_line(7, {7: (2, 1)}, can_edit=True, control_ref="UA.1")
    text = re.sub(r"<[^>]+>", "", line)
    assert text == "2 pieces of evidence for UA.1 · 1 current · Add evidence for UA.1"
    assert f'href="{reverse("evidence_list")}?control=7"' in line
    assert re.sub(r"<[^>]+>", "", embeds.answer_evidence_line(8, {}, can_edit=False)) == "No evidence yet"
    assert "&lt;script&gt;" in embeds.answer_evidence_line(8, {}, can_edit=True, control_ref="<script>")


# --- Template tags -------------------------------------------------------------------------------
def test_the_template_tags_build_their_sections(personas, controls):
    control = controls[0]
    evidence_on(personas.organisation, control, title="Tagged evidence")
    request = RequestFactory().get("/")
    request.membership = membership_of(personas, personas.member)
    html = Template(
        "{% load evidence_tags %}{% control_evidence control %}{% task_evidence ids %}"
        "{% answer_evidence counts control.pk True control.ref %}"
        "<i>{{ 'accepted'|evidence_status_badge }} {{ 'failed'|run_status_badge }}</i>"
    ).render(Context({"request": request, "control": control, "ids": [control.pk], "counts": {control.pk: (1, 1)}}))
    assert html.count("Tagged evidence") == 2
    assert "1 piece of evidence" in html
    assert "<i>badge-success badge-danger</i>" in html
