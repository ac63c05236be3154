"""The full-text index of the organisation's own documents: kept in step on every write path, and searched
with synonyms, ranking and the same visibility rules as before (no rejected evidence, no unpublished policy)."""

from __future__ import annotations

import io
from datetime import date
from importlib import import_module
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.audit import Actor
from accounts.tests.factories import OrganisationFactory
from assessments.tests.factories import BusinessProfileFactory
from chat.document_index import MAX_BODY_CHARS, DocumentIndex, DocumentKind, search
from chat.retrieval import retrieve
from evidence.connectors.base import Finding, RunLog
from evidence.models import Evidence, EvidenceStatus, RunStatus
from evidence.services import collection, items
from evidence.tests.factories import CollectionRunFactory, EvidenceFactory
from policies import services as policies
from policies.models import Policy, PolicyStatus, PolicyVersion
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

POLICY_LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "tests" / "data" / "library"


def own(question: str, organisation) -> set[tuple[str, int]]:
    """The organisation's documents the assistant retrieves for the question, as (kind, id)."""
    return {(p.kind, int(p.ref)) for p in retrieve(question, organisation=organisation) if p.kind != "control"}


def published_policy(organisation, *, title: str, body: str) -> Policy:
    policy = PolicyFactory(organisation=organisation, title=title, status=PolicyStatus.PUBLISHED)
    PolicyVersionFactory(
        organisation=organisation,
        policy=policy,
        title=title,
        sections=[{"key": "scope", "title": "Scope", "body": body, "origin": "template", "provider": ""}],
        published_at=timezone.now(),
    )
    return policy


def details(title: str) -> items.EvidenceDetails:
    return items.EvidenceDetails(title=title, evidence_type="configuration")


def add_note(personas, *, title: str, note: str) -> Evidence:
    return items.evidence_add_note(
        organisation=personas.organisation, actor=Actor(user=personas.member), note=note, details=details(title)
    )


# --- evidence write paths -------------------------------------------------------------------------


def test_a_note_written_through_the_service_is_found_by_its_words(personas):
    evidence = add_note(personas, title="Server room visit", note="The shredder was emptied and the bins locked.")
    assert own("who empties the shredder", personas.organisation) == {("evidence", evidence.pk)}


def test_an_uploaded_files_text_is_found_and_a_new_revision_replaces_it(personas):
    evidence = items.evidence_upload(
        organisation=personas.organisation,
        actor=Actor(user=personas.member),
        file=io.BytesIO(b"Every laptop has BitLocker turned on.\n"),
        name="laptops.txt",
        details=details("Laptop export"),
    )
    assert own("is bitlocker on", personas.organisation) == {("evidence", evidence.pk)}
    items.evidence_revise(
        evidence=evidence,
        actor=Actor(user=personas.member),
        file=io.BytesIO(b"Every laptop has FileVault turned on.\n"),
        name="laptops.txt",
    )
    assert own("is bitlocker on", personas.organisation) == set()
    assert own("is filevault on", personas.organisation) == {("evidence", evidence.pk)}


def test_editing_an_item_replaces_its_indexed_title_and_note(personas):
    evidence = add_note(personas, title="Firewall review", note="Rules checked against the asset list.")
    items.evidence_update(
        evidence=evidence,
        actor=Actor(user=personas.member),
        details=details("Antivirus review"),
        note="Definitions updated on every laptop.",
    )
    assert own("firewall rules", personas.organisation) == set()
    assert own("antivirus definitions", personas.organisation) == {("evidence", evidence.pk)}
    assert DocumentIndex.objects.get(evidence=evidence).title == "Antivirus review"


def test_rejected_evidence_is_not_retrieved_until_it_is_submitted_again(personas):
    evidence = add_note(personas, title="Shredder log", note="Confidential waste shredded weekly.")
    items.evidence_review(evidence=evidence, actor=Actor(user=personas.admin), accept=False, comment="Undated.")
    assert own("shredder log", personas.organisation) == set()
    items.evidence_submit(evidence=evidence, actor=Actor(user=personas.member))
    assert own("shredder log", personas.organisation) == {("evidence", evidence.pk)}


def test_a_bulk_resubmission_through_update_makes_rejected_items_retrievable_again(personas):
    rejected = [
        EvidenceFactory(organisation=personas.organisation, title=f"Shredder log {n}", status=EvidenceStatus.REJECTED)
        for n in range(2)
    ]
    assert own("shredder log", personas.organisation) == set()
    items.evidence_bulk(
        organisation=personas.organisation,
        actor=Actor(user=personas.admin),
        ids=[item.pk for item in rejected],
        action="submit",
    )
    assert own("shredder log", personas.organisation) == {("evidence", item.pk) for item in rejected}


def test_deleted_evidence_leaves_the_index_one_by_one_and_in_bulk(personas):
    first, second, third = (
        add_note(personas, title=f"Shredder log {n}", note="Confidential waste shredded.") for n in range(3)
    )
    items.evidence_delete(evidence=first, actor=Actor(user=personas.member))
    items.evidence_bulk(
        organisation=personas.organisation,
        actor=Actor(user=personas.member),
        ids=[second.pk, third.pk],
        action="delete",
    )
    assert not DocumentIndex.objects.filter(organisation=personas.organisation).exists()
    assert own("shredder log", personas.organisation) == set()


def test_a_connectors_findings_are_indexed_and_updated_by_the_next_run(personas):
    # Findings are stored by the attempt that holds the run: a running run, as a worker leaves it.
    run = CollectionRunFactory(organisation=personas.organisation, status=RunStatus.RUNNING)

    def store(summary: str) -> Evidence:
        finding = Finding(
            key="google.2sv", title="2-Step Verification", summary=summary, evidence_type="other", controls=()
        )
        collection.store_findings(run=run, connection=run.connection, findings=[finding], log=RunLog())
        return Evidence.objects.get(organisation=personas.organisation, source_key="google.2sv")

    evidence = store("38 of 40 users are enrolled in 2-Step Verification.")
    assert own("who is enrolled", personas.organisation) == {("evidence", evidence.pk)}
    store("All users use security keys.")
    assert own("who is enrolled", personas.organisation) == set()
    assert own("security keys", personas.organisation) == {("evidence", evidence.pk)}


# --- policy write paths ---------------------------------------------------------------------------


@pytest.fixture
def drafted_policy(personas, settings, django_capture_on_commit_callbacks):
    """The test library's house rules, drafted offline for the organisation the way the page does."""
    settings.POLICY_LIBRARY_DIR = POLICY_LIBRARY
    BusinessProfileFactory(organisation=personas.organisation, company_name="Acme Bakery Ltd")
    with django_capture_on_commit_callbacks(execute=True):
        job = policies.policy_draft_start(
            organisation=personas.organisation, template_key="house-rules", actor=Actor(personas.member)
        )
    return Policy.objects.get(pk=job.policy_id)


def publish(policy: Policy, personas) -> None:
    policies.policy_submit(policy=policy, actor=Actor(personas.member))
    policies.policy_review(policy=policy, actor=Actor(personas.admin), approve=True)
    policies.policy_publish(policy=policy, actor=Actor(personas.owner), today=date(2026, 11, 30))


ACCOUNTS_QUESTION = "are accounts removed"


def test_a_policy_is_retrieved_once_published_and_not_while_drafted_or_in_review(personas, drafted_policy):
    assert own(ACCOUNTS_QUESTION, personas.organisation) == set()
    policies.policy_submit(policy=drafted_policy, actor=Actor(personas.member))
    policies.policy_review(policy=drafted_policy, actor=Actor(personas.admin), approve=True)
    assert own(ACCOUNTS_QUESTION, personas.organisation) == set()
    policies.policy_publish(policy=drafted_policy, actor=Actor(personas.owner), today=date(2026, 11, 30))
    assert own(ACCOUNTS_QUESTION, personas.organisation) == {("policy", drafted_policy.pk)}


def test_a_new_version_hides_the_policy_until_published_then_its_new_text_is_found(personas, drafted_policy):
    publish(drafted_policy, personas)
    draft = policies.policy_new_version(policy=drafted_policy, actor=Actor(personas.member))
    assert own(ACCOUNTS_QUESTION, personas.organisation) == set()
    bodies = {section["key"]: section["body"] for section in draft.sections}
    bodies["rules"] = "- Keys to the bakery are returned on the last day."
    policies.version_save(version=draft, bodies=bodies, revision=draft.revision, actor=Actor(personas.member))
    drafted_policy.refresh_from_db()
    publish(drafted_policy, personas)
    assert own("who returns the keys", personas.organisation) == {("policy", drafted_policy.pk)}
    assert own(ACCOUNTS_QUESTION, personas.organisation) == set()


def test_a_retired_policy_is_not_retrieved(personas, drafted_policy):
    publish(drafted_policy, personas)
    policies.policy_retire(policy=drafted_policy, actor=Actor(personas.owner))
    assert own(ACCOUNTS_QUESTION, personas.organisation) == set()


def test_deleting_a_policy_or_the_organisation_removes_its_entries():
    organisation = OrganisationFactory()
    policy = published_policy(organisation, title="Clear desk policy", body="Lock papers away at night.")
    EvidenceFactory(organisation=organisation)
    assert DocumentIndex.objects.filter(organisation=organisation).count() == 2
    policy.delete()
    assert list(DocumentIndex.objects.filter(organisation=organisation).values_list("kind", flat=True)) == [
        DocumentKind.EVIDENCE
    ]
    organisation.delete()
    assert not DocumentIndex.objects.filter(organisation_id=organisation.pk).exists()


def test_a_policy_falls_back_to_its_older_published_version_if_the_newest_is_deleted():
    organisation = OrganisationFactory()
    policy = published_policy(organisation, title="Clear desk policy", body="Lock papers away at night.")
    newest = PolicyVersionFactory(
        organisation=organisation,
        policy=policy,
        title=policy.title,
        sections=[{"key": "scope", "title": "Scope", "body": "Shred papers daily.", "origin": "template"}],
        published_at=timezone.now(),
    )
    assert own("shred daily", organisation) == {("policy", policy.pk)}
    newest.delete()
    assert own("shred daily", organisation) == set()
    assert own("lock at night", organisation) == {("policy", policy.pk)}


# --- searching ------------------------------------------------------------------------------------


def test_a_match_in_the_title_ranks_above_a_match_in_the_body():
    organisation = OrganisationFactory()
    in_body = EvidenceFactory(
        organisation=organisation,
        title="Office checks",
        description="The firewall was checked, and the firewall rules too.",
        note="",
    )
    in_title = EvidenceFactory(organisation=organisation, title="Firewall rules", description="Checked.", note="")
    hits = search(organisation_id=organisation.pk, kind=DocumentKind.EVIDENCE, terms=["firewall"], limit=5)
    assert [hit.object_id for hit in hits] == [in_title.pk, in_body.pk]
    assert 0 < hits[1].score < hits[0].score < 1


@pytest.mark.parametrize(
    ("question", "written"),
    [
        ("Do we use 2FA?", "Multi-factor authentication is on for every account."),
        ("How do we handle a SAR?", "We answer a subject access request within one month."),
        ("Are we patching laptops?", "Security updates are installed within 14 days."),
    ],
)
def test_synonyms_find_documents_written_in_other_words(question, written):
    organisation = OrganisationFactory()
    policy = published_policy(organisation, title="Our rules", body=written)
    evidence = EvidenceFactory(organisation=organisation, title="Monthly check", description=written)
    assert own(question, organisation) == {("policy", policy.pk), ("evidence", evidence.pk)}


def test_a_synonym_phrase_must_appear_as_a_phrase():
    organisation = OrganisationFactory()
    EvidenceFactory(organisation=organisation, title="Two offices", description="We have a step ladder in each.")
    assert own("do we need 2FA", organisation) == set()


def test_another_organisations_exact_match_is_never_returned():
    mine, theirs = OrganisationFactory(), OrganisationFactory()
    EvidenceFactory(organisation=theirs, title="Shredder log", description="Shredder log, shredder, log.")
    published_policy(theirs, title="Shredder policy", body="Shredder rules.")
    for kind in DocumentKind:
        assert search(organisation_id=mine.pk, kind=kind, terms=["shredder", "log"], limit=5) == []


def test_the_passage_quotes_the_text_around_the_first_term_of_a_long_document():
    organisation = OrganisationFactory()
    filler = "Nothing of note happened that day. " * 200
    evidence = EvidenceFactory(
        organisation=organisation, title="Site diary", description=f"{filler}The shredder jammed."
    )
    [passage] = [p for p in retrieve("shredder", organisation=organisation) if p.kind == "evidence"]
    assert (passage.ref, passage.url) == (str(evidence.pk), f"/evidence/{evidence.pk}/")
    assert passage.text.startswith("…")
    assert "The shredder jammed." in passage.text
    assert len(passage.text) <= 1300


def test_only_the_bounded_start_of_a_very_long_document_is_indexed():
    organisation = OrganisationFactory()
    evidence = EvidenceFactory(organisation=organisation, note="", description="word " * MAX_BODY_CHARS + "shredder")
    assert len(DocumentIndex.objects.get(evidence=evidence).body) == MAX_BODY_CHARS
    assert own("shredder", organisation) == set()


# --- rebuilding -----------------------------------------------------------------------------------


def test_reindex_documents_picks_up_rows_written_without_save():
    ours, theirs = OrganisationFactory(slug="ours"), OrganisationFactory(slug="theirs")
    [evidence, other] = Evidence.objects.bulk_create(
        [EvidenceFactory.build(organisation=org, title="Shredder log") for org in (ours, theirs)]
    )
    policy = PolicyFactory(organisation=ours, title="Clear desk", status=PolicyStatus.PUBLISHED)
    PolicyVersion.objects.bulk_create(
        [
            PolicyVersionFactory.build(
                organisation=ours, policy=policy, number=1, title="Clear desk", published_at=timezone.now()
            )
        ]
    )
    assert own("shredder log clear desk", ours) == set()
    out = io.StringIO()
    call_command("reindex_documents", "--org", "ours", stdout=out)
    assert out.getvalue().strip() == "Indexed 2 policies and evidence items for “" + ours.name + "”."
    assert own("shredder log clear desk", ours) == {("evidence", evidence.pk), ("policy", policy.pk)}
    assert own("shredder log", theirs) == set()
    call_command("reindex_documents", stdout=io.StringIO())
    assert own("shredder log", theirs) == {("evidence", other.pk)}


def test_reindex_documents_refuses_an_unknown_organisation():
    with pytest.raises(CommandError, match="No organisation with the slug “nobody”"):
        call_command("reindex_documents", "--org", "nobody", stdout=io.StringIO())


def test_the_migration_fills_the_index_from_existing_rows():
    organisation = OrganisationFactory()
    evidence = EvidenceFactory(organisation=organisation, title="Shredder log")
    published_policy(organisation, title="Clear desk", body="Lock papers away.")
    DocumentIndex.objects.all().delete()
    state = MigrationExecutor(connection).loader.project_state(("chat", "0004_document_index"))
    import_module("chat.migrations.0004_document_index").fill_index(state.apps, None)
    assert own("shredder log", organisation) == {("evidence", evidence.pk)}
    assert DocumentIndex.objects.filter(organisation=organisation).count() == 2
