"""The policy studio's writes: drafting jobs, edits, the review workflow, versions and acknowledgements."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.audit import Actor
from accounts.models import AuditEvent
from chat.ai import AIResult, AIUnavailable
from compliance.tests.factories import ControlFactory, FrameworkFactory
from policies import drafting, selectors, services
from policies.models import GenerationJob, JobStatus, PolicyAcknowledgement, PolicyStatus, PolicyVersion

pytestmark = pytest.mark.django_db


def _actions(organisation) -> list[str]:
    return list(AuditEvent.objects.filter(organisation=organisation).order_by("pk").values_list("action", flat=True))


def _bodies(version: PolicyVersion, **changes: str) -> dict[str, str]:
    bodies = {section["key"]: section["body"] for section in version.sections}
    bodies.update(changes)
    return bodies


def _published(policy, personas):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    services.policy_review(policy=policy, actor=Actor(personas.admin), approve=True, comment="Reads well.")
    services.policy_publish(policy=policy, actor=Actor(personas.owner), today=date(2026, 11, 30))
    policy.refresh_from_db()
    return policy


# --- Drafting ----------------------------------------------------------------------------------------
def test_drafting_writes_a_tailored_first_version_with_template_origins(personas, draft, cyber_essentials):
    framework = FrameworkFactory(slug="uk-gdpr", name="UK GDPR")
    ControlFactory(framework=cyber_essentials, ref="UA.4")
    ControlFactory(framework=framework, ref="32")
    policy = draft()
    version = policy.versions.get()
    assert policy.status == PolicyStatus.DRAFT
    assert policy.title == "House Rules Policy"
    assert version.number == 1
    assert version.created_by == personas.member
    assert [s["key"] for s in version.sections] == [
        "purpose",
        "rules",
        "card-payments",
        "cyber-essentials",
        "office-only",
        "review",
    ]
    assert all(s["origin"] == "template" for s in version.sections)
    assert "Acme Bakery Ltd, company number 01234567, keeps" in version.sections[0]["body"]
    assert sorted(policy.controls.values_list("ref", flat=True)) == ["32", "UA.4"]
    job = policy.jobs.get()
    assert (job.status, job.progress, job.message) == (JobStatus.DONE, 100, "Draft ready: version 1, 6 sections")
    assert _actions(personas.organisation) == ["policy.draft_started", "policy.drafted"]


def test_job_reports_progress_section_by_section(personas, draft, monkeypatch):
    seen: list[tuple[str, str]] = []

    def gateway(*, organisation, feature, task):
        job = GenerationJob.objects.get()
        seen.append((job.status, job.message))
        return AIResult(output=task.offline(), provider="offline", model="offline")

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    draft()
    # Only the purpose section is marked for rewriting, so the gateway is asked once, at section 1 of 5.
    assert seen == [(JobStatus.RUNNING, "Drafting section 1 of 5: Purpose")]


def test_model_sees_only_prose_sections_and_a_faithful_rewrite_is_kept_with_its_provider(personas, draft, monkeypatch):
    asked: list[str] = []

    def gateway(*, organisation, feature, task):
        asked.append(task.data["section"])
        body = task.data["section"].replace("This policy sets out how", "Here is how")
        return AIResult(output={"body": body}, provider="gemini", model="gemini-2.5-flash")

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    version = draft().versions.get()
    assert len(asked) == 1
    assert asked[0].startswith("This policy sets out how Acme Bakery Ltd")
    purpose, rules = version.sections[0], version.sections[1]
    assert purpose["body"].startswith("Here is how Acme Bakery Ltd")
    assert (purpose["origin"], purpose["provider"]) == ("model", "gemini")
    assert (rules["origin"], rules["provider"]) == ("template", "")


def test_a_rewrite_that_drops_a_fact_is_not_used(personas, draft, monkeypatch):
    def gateway(*, organisation, feature, task):
        body = task.data["section"].replace("10 to 49 people", "lots of people")
        return AIResult(output={"body": body}, provider="openai", model="gpt")

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    purpose = draft().versions.get().sections[0]
    assert "10 to 49 people" in purpose["body"]
    assert purpose["origin"] == "template"


def test_when_every_provider_fails_the_job_fails_clearly_and_the_previous_draft_is_kept(personas, draft, monkeypatch):
    policy = draft()
    first = policy.versions.get()

    def gateway(*, organisation, feature, task):
        raise AIUnavailable(["gemini: timed out", "offline: failed"])

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    draft()
    job = policy.jobs.order_by("-pk").first()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("No AI provider could answer (gemini: timed out; offline: failed).")
    assert job.error.endswith("Any earlier draft is unchanged.")
    assert list(policy.versions.all()) == [first]
    assert PolicyVersion.objects.get(pk=first.pk).sections == first.sections
    assert "policy.draft_failed" in _actions(personas.organisation)

    monkeypatch.undo()
    draft()  # retry
    assert policy.versions.count() == 2
    assert policy.jobs.order_by("-pk").first().status == JobStatus.DONE


def test_an_unexpected_error_fails_the_job_without_losing_anything(personas, draft, monkeypatch):
    def gateway(*, organisation, feature, task):
        raise RuntimeError("boom")

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    policy = draft()
    job = policy.jobs.get()
    assert job.status == JobStatus.FAILED
    assert "Something went wrong while drafting" in job.error
    assert not policy.versions.exists()


def test_cancelling_stops_the_job_and_writes_nothing(personas, draft, monkeypatch):
    def gateway(*, organisation, feature, task):
        services.policy_draft_cancel(job=GenerationJob.objects.get(), actor=Actor(personas.member))
        return AIResult(output=task.offline(), provider="offline", model="offline")

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    policy = draft()
    job = policy.jobs.get()
    assert job.status == JobStatus.CANCELLED
    assert job.finished_at is not None
    assert not policy.versions.exists()
    assert "policy.draft_cancelled" in _actions(personas.organisation)
    with pytest.raises(ValidationError, match="already finished"):
        services.policy_draft_cancel(job=job, actor=Actor(personas.member))


def test_a_second_start_while_drafting_returns_the_running_job(personas, test_library, bakery_profile):
    actor = Actor(personas.member)
    first = services.policy_draft_start(organisation=personas.organisation, template_key="house-rules", actor=actor)
    again = services.policy_draft_start(organisation=personas.organisation, template_key="house-rules", actor=actor)
    assert again == first
    assert first.status == JobStatus.QUEUED


def test_a_job_that_was_cancelled_before_it_started_does_nothing(personas, test_library, bakery_profile):
    actor = Actor(personas.member)
    job = services.policy_draft_start(organisation=personas.organisation, template_key="house-rules", actor=actor)
    services.policy_draft_cancel(job=job, actor=actor)
    services.policy_draft_run(job_id=job.pk)
    assert not job.policy.versions.exists()


def test_unknown_template_is_refused(personas, test_library):
    with pytest.raises(ValidationError, match="no policy template"):
        services.policy_draft_start(
            organisation=personas.organisation, template_key="nope", actor=Actor(personas.owner)
        )


def test_offline_draft_of_every_real_template_is_quick(
    personas, bakery_profile, cyber_essentials, django_capture_on_commit_callbacks
):
    import time

    from policies.library import load_library

    load_library()  # read once per process, like a running server
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        for key in load_library():
            services.policy_draft_start(
                organisation=personas.organisation, template_key=key, actor=Actor(personas.member)
            )
    elapsed = time.perf_counter() - started
    assert GenerationJob.objects.filter(status=JobStatus.DONE).count() == len(load_library())
    assert elapsed / len(load_library()) < 0.5


# --- Editing -----------------------------------------------------------------------------------------
def test_saving_marks_changed_sections_as_a_persons_and_bumps_the_revision(personas, draft):
    version = draft().versions.get()
    saved = services.version_save(
        version=version,
        bodies=_bodies(version, rules="- Only **named** people\r\n- Nobody else  "),
        revision=1,
        actor=Actor(personas.member),
    )
    assert saved.revision == 2
    assert saved.sections[1]["body"] == "- Only **named** people\n- Nobody else"
    assert (saved.sections[1]["origin"], saved.sections[0]["origin"]) == ("person", "template")
    assert _actions(personas.organisation)[-1] == "policy.edited"


def test_a_stale_save_is_refused_and_the_first_save_is_kept(personas, draft):
    version = draft().versions.get()
    services.version_save(
        version=version, bodies=_bodies(version, rules="Alice's rules"), revision=1, actor=Actor(personas.owner)
    )
    with pytest.raises(services.StaleVersion, match="Someone else saved this draft"):
        services.version_save(
            version=version, bodies=_bodies(version, rules="Bob's rules"), revision=1, actor=Actor(personas.member)
        )
    assert PolicyVersion.objects.get(pk=version.pk).sections[1]["body"] == "Alice's rules"


def test_saving_an_older_version_after_a_redraft_is_refused(personas, draft):
    policy = draft()
    old = policy.versions.get()
    draft()
    with pytest.raises(services.StaleVersion, match="A newer version"):
        services.version_save(version=old, bodies=_bodies(old, rules="x"), revision=1, actor=Actor(personas.member))


def test_a_save_larger_than_the_cap_is_refused(personas, draft):
    version = draft().versions.get()
    with pytest.raises(ValidationError, match="too long to save"):
        services.version_save(
            version=version,
            bodies=_bodies(version, rules="x" * (services.MAX_VERSION_BYTES + 1)),
            revision=1,
            actor=Actor(personas.member),
        )


# --- Workflow ----------------------------------------------------------------------------------------
def test_the_workflow_runs_from_draft_to_published_with_a_review_date(personas, draft):
    policy = _published(draft(), personas)
    version = policy.versions.get()
    assert policy.status == PolicyStatus.PUBLISHED
    assert policy.review_date == date(2028, 11, 30)  # the template says every 24 months
    assert version.approved_by == personas.admin
    assert version.approval_comment == "Reads well."
    assert version.published_at is not None
    assert version.sections[-1]["body"].endswith("effective from 30 November 2026.")
    assert _actions(personas.organisation)[-3:] == ["policy.submitted", "policy.approved", "policy.published"]


def test_sending_back_needs_a_comment_and_returns_the_policy_to_draft(personas, draft):
    policy = draft()
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    with pytest.raises(ValidationError, match="Say what needs to change"):
        services.policy_review(policy=policy, actor=Actor(personas.consultant), approve=False, comment=" ")
    review = services.policy_review(
        policy=policy, actor=Actor(personas.consultant), approve=False, comment="Name the IT firm."
    )
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.DRAFT
    assert review.decision == "changes_requested"
    assert _actions(personas.organisation)[-1] == "policy.changes_requested"


def test_steps_out_of_order_are_refused(personas, draft):
    policy = draft()
    with pytest.raises(ValidationError, match="is draft, so it cannot be published"):
        services.policy_publish(policy=policy, actor=Actor(personas.owner))
    with pytest.raises(ValidationError, match="cannot be reviewed"):
        services.policy_review(policy=policy, actor=Actor(personas.owner), approve=True)
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    with pytest.raises(ValidationError, match="can be redrafted only as a draft"):
        services.policy_draft_start(
            organisation=personas.organisation, template_key="house-rules", actor=Actor(personas.member)
        )
    version = policy.versions.get()
    with pytest.raises(ValidationError, match="cannot change now"):
        services.version_save(
            version=version, bodies=_bodies(version, rules="x"), revision=1, actor=Actor(personas.member)
        )


@pytest.mark.parametrize("role", ["owner", "admin", "consultant"])
def test_owners_admins_and_consultants_approve(personas, draft, role):
    policy = draft()
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    services.policy_review(policy=policy, actor=Actor(getattr(personas, role)), approve=True)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.APPROVED


@pytest.mark.parametrize("role", ["member", "viewer", "outsider"])
def test_members_viewers_and_outsiders_cannot_approve_publish_or_retire(personas, draft, role):
    policy = draft()
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    actor = Actor(getattr(personas, role))
    with pytest.raises(PermissionDenied):
        services.policy_review(policy=policy, actor=actor, approve=True)
    services.policy_review(policy=policy, actor=Actor(personas.owner), approve=True)
    with pytest.raises(PermissionDenied):
        services.policy_publish(policy=policy, actor=actor)
    with pytest.raises(PermissionDenied):
        services.policy_retire(policy=policy, actor=actor)


@pytest.mark.parametrize("role", ["viewer", "outsider"])
def test_viewers_and_outsiders_cannot_draft_edit_or_submit(personas, draft, role):
    policy = draft()
    version = policy.versions.get()
    actor = Actor(getattr(personas, role))
    with pytest.raises(PermissionDenied):
        services.policy_draft_start(organisation=personas.organisation, template_key="house-rules", actor=actor)
    with pytest.raises(PermissionDenied):
        services.version_save(version=version, bodies=_bodies(version, rules="x"), revision=1, actor=actor)
    with pytest.raises(PermissionDenied):
        services.policy_submit(policy=policy, actor=actor)


def test_a_published_version_never_changes_and_editing_starts_a_new_version(personas, draft):
    policy = _published(draft(), personas)
    published = policy.versions.get()
    with pytest.raises(ValidationError):
        services.version_save(
            version=published, bodies=_bodies(published, rules="x"), revision=1, actor=Actor(personas.owner)
        )
    new = services.policy_new_version(policy=policy, actor=Actor(personas.member))
    policy.refresh_from_db()
    assert (new.number, new.sections, policy.status) == (2, published.sections, PolicyStatus.DRAFT)
    services.version_save(version=new, bodies=_bodies(new, rules="New rules"), revision=1, actor=Actor(personas.member))
    assert PolicyVersion.objects.get(pk=published.pk).sections == published.sections
    # The published version stays in force while the new one is drafted.
    assert services.published_version(policy) == published


def test_retiring_ends_the_policy_and_it_stops_counting(personas, draft):
    control = ControlFactory()
    policy = _published(draft(), personas)
    policy.controls.add(control)
    assert list(selectors.published_policy_controls(personas.organisation)) == [control.pk]
    services.policy_retire(policy=policy, actor=Actor(personas.admin))
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.RETIRED
    assert policy.review_date is None
    assert list(selectors.published_policy_controls(personas.organisation)) == []
    with pytest.raises(ValidationError, match="Only a published policy"):
        services.policy_acknowledge(policy=policy, actor=Actor(personas.member))


# --- Acknowledgements --------------------------------------------------------------------------------
def test_staff_acknowledge_the_published_version_once(personas, draft):
    policy = draft()
    with pytest.raises(ValidationError, match="Only a published policy"):
        services.policy_acknowledge(policy=policy, actor=Actor(personas.member))
    policy = _published(policy, personas)
    first = services.policy_acknowledge(policy=policy, actor=Actor(personas.member))
    again = services.policy_acknowledge(policy=policy, actor=Actor(personas.member))
    assert first == again
    assert PolicyAcknowledgement.objects.count() == 1
    assert _actions(personas.organisation).count("policy.acknowledged") == 1
    with pytest.raises(PermissionDenied):
        services.policy_acknowledge(policy=policy, actor=Actor(personas.viewer))

    page = selectors.policy_page(policy, user=personas.owner, with_staff=True)
    assert [ack.user for ack in page.acknowledgements] == [personas.member]
    assert sorted(user.email for user in page.not_acknowledged) == ["admin@acme.example", "owner@acme.example"]
    assert page.staff_count == 3


def test_a_new_published_version_needs_acknowledging_again(personas, draft):
    policy = _published(draft(), personas)
    services.policy_acknowledge(policy=policy, actor=Actor(personas.member))
    services.policy_new_version(policy=policy, actor=Actor(personas.member))
    policy = _published(policy, personas)
    listed = selectors.policies_for(personas.organisation).get(pk=policy.pk)
    assert (listed.published_number, listed.acknowledged) == (2, 0)
    services.policy_acknowledge(policy=policy, actor=Actor(personas.member))
    assert selectors.policies_for(personas.organisation).get(pk=policy.pk).acknowledged == 1
