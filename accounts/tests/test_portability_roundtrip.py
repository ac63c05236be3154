"""An organisation exported, removed as if this were another Greenlight, and imported: every row comes back
with the same values and every file with the same bytes. And exports that cannot be trusted or loaded are
refused with nothing left behind."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import AuditEvent, Membership, Organisation, User
from accounts.portability import importer
from accounts.portability.export import build_export
from accounts.portability.format import MANIFEST, data_member, model_specs
from accounts.portability.importer import ImportRefused, import_organisation
from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, MembershipFactory, OrganisationFactory, UserFactory
from accounts.tests.portability_data import populate, snapshot, wipe

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(tmp_path_factory):
    """A populated organisation, its snapshot, and its export on disk (outside the storage folder)."""
    organisation = OrganisationFactory(name="Acme Bakery Ltd", slug="acme-bakery")
    owner = populate(organisation)
    before = snapshot(organisation)
    path = tmp_path_factory.mktemp("exports") / "acme.zip"
    with path.open("wb") as out:
        build_export(organisation, out)
    return organisation, owner, before, path


def stored_files() -> set[str]:
    found: set[str] = set()

    def walk(folder: str) -> None:
        folders, files = default_storage.listdir(folder)
        found.update(f"{folder}/{name}".lstrip("/") for name in files)
        for child in folders:
            walk(f"{folder}/{child}".lstrip("/"))

    walk("")
    return found


def rewrite(path: Path, change) -> Path:
    """A copy of the export with `change(name, bytes) -> bytes | None` applied to each member (None drops it)."""
    out = path.with_name(f"changed-{path.name}")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = change(info.filename, source.read(info.filename))
            if data is not None:
                target.writestr(info.filename, data)
    return out


def reseal(path: Path, change) -> Path:
    """Like `rewrite`, then the manifest's sizes and checksums recomputed: consistent, but with other content."""
    import hashlib

    changed = rewrite(path, change)
    with zipfile.ZipFile(changed) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        for entry in manifest["files"]:
            data = archive.read(entry["path"])
            entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    return rewrite(changed, lambda name, data: json.dumps(manifest).encode() if name == MANIFEST else data)


def nothing_imported(organisations: int, users: int, files: set[str]) -> None:
    assert Organisation.objects.count() == organisations
    assert User.objects.count() == users
    assert stored_files() == files


# --- The round trip --------------------------------------------------------------------------------
def test_every_row_and_file_comes_back_the_same_in_a_fresh_instance(exported):
    organisation, owner, before, path = exported
    wipe(organisation)
    assert not Organisation.objects.filter(slug="acme-bakery").exists()
    assert not User.objects.filter(email=owner.email).exists()
    assert stored_files() == set()

    summary = import_organisation(path)

    imported = summary.organisation
    assert imported.pk != organisation.pk
    after = snapshot(imported)
    # The import records itself in the audit log, after everything it brought.
    assert after["accounts.auditevent"][-1]["action"] == "organisation.imported"
    after["accounts.auditevent"].pop()
    # Connection tokens are not exported, so a connected account has to be connected again.
    for row in before["evidence.connection"]:
        if row["status"] == "connected":
            row["status"] = "needs_reconnect"
    assert set(after) == set(before)
    for label in before:
        assert after[label] == before[label], f"{label} differs after the round trip"
    assert summary.files == len(stored_files())


def test_the_round_trip_would_notice_a_field_the_export_dropped(exported, monkeypatch, tmp_path):
    """The comparison above has teeth: drop one field from the export and it fails."""
    organisation, _owner, before, _path = exported
    from accounts.portability import format as portability_format

    monkeypatch.setitem(
        portability_format.EXCLUDED_FIELDS, "evidence.evidence", {"description": "dropped for this test"}
    )
    portability_format.model_specs.cache_clear()
    try:
        path = tmp_path / "dropped.zip"
        with path.open("wb") as out:
            build_export(organisation, out)
        wipe(organisation)
        after = snapshot(import_organisation(path).organisation)
    finally:
        monkeypatch.undo()
        portability_format.model_specs.cache_clear()
    assert after["evidence.evidence"] != before["evidence.evidence"]


def test_people_are_matched_by_email_and_missing_ones_created_without_a_password(exported):
    organisation, owner, _before, path = exported
    members = set(Membership.objects.filter(organisation=organisation).values_list("user__email", flat=True))
    role = Membership.objects.get(organisation=organisation, user=owner).role
    wipe(organisation)
    # The owner already has an account here (with another capitalisation); the others do not.
    existing = UserFactory(email=owner.email.upper(), full_name="Olive O.")

    summary = import_organisation(path)

    existing.refresh_from_db()
    assert existing.check_password(DEFAULT_PASSWORD)
    assert existing.full_name == "Olive O."
    assert Membership.objects.get(organisation=summary.organisation, user=existing).role == role
    assert owner.email.lower() not in summary.users_created
    created = User.objects.filter(email__in=summary.users_created)
    assert created.exists()
    for user in created:
        assert not user.has_usable_password()
        # Members can reset their password and sign in; people the records only mention cannot sign in.
        assert user.is_active == (user.email in members)


def test_owner_email_makes_that_person_an_owner(exported):
    organisation, _owner, _before, path = exported
    wipe(organisation)
    newcomer = UserFactory(email="new.owner@acme.example")

    summary = import_organisation(path, slug="acme-moved", owner_email="New.Owner@acme.example")

    assert summary.organisation.slug == "acme-moved"
    assert Membership.objects.get(organisation=summary.organisation, user=newcomer).role == Role.OWNER


def test_a_pending_deletion_does_not_travel(exported, tmp_path):
    organisation, _owner, _before, _path = exported
    from django.utils import timezone

    Organisation.objects.filter(pk=organisation.pk).update(
        deletion_requested_at=timezone.now(), deletion_due_at=timezone.now()
    )
    path = tmp_path / "pending.zip"
    with path.open("wb") as out:
        build_export(organisation, out)
    wipe(organisation)

    imported = import_organisation(path).organisation

    assert imported.deletion_requested_at is None
    assert imported.deletion_due_at is None


def test_the_assistant_index_is_rebuilt_rather_than_imported(exported):
    from chat.models import DocumentIndex
    from evidence.models import Evidence

    organisation, _owner, _before, path = exported
    wipe(organisation)

    imported = import_organisation(path).organisation

    items = Evidence.objects.filter(organisation=imported).count()
    assert DocumentIndex.objects.filter(organisation=imported, kind="evidence").count() == items > 0


def test_the_commands_export_and_import(exported, tmp_path):
    organisation, _owner, before, _path = exported
    out = tmp_path / "by-command.zip"
    stdout = io.StringIO()
    call_command("export_organisation", "acme-bakery", str(out), stdout=stdout)
    assert "Exported Acme Bakery Ltd" in stdout.getvalue()
    wipe(organisation)

    stdout = io.StringIO()
    call_command("import_organisation", str(out), stdout=stdout)

    assert "Imported Acme Bakery Ltd as 'acme-bakery'" in stdout.getvalue()
    after = snapshot(Organisation.objects.get(slug="acme-bakery"))
    assert after["policies.policyversion"] == before["policies.policyversion"]


# --- Refusals: nothing is left behind --------------------------------------------------------------
def test_a_tampered_export_is_refused_before_anything_is_created(exported):
    organisation, _owner, _before, path = exported
    wipe(organisation)
    counts = (Organisation.objects.count(), User.objects.count(), stored_files())
    member = data_member("policies.policy")
    tampered = rewrite(
        path, lambda name, data: data.replace(b"Policy number", b"Policy NUMBER") if name == member else data
    )

    with pytest.raises(ImportRefused, match=rf"{member}: its size or SHA-256 checksum differs"):
        import_organisation(tampered)
    nothing_imported(*counts)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda name, data: None if name.startswith("files/evidence/") else data, "in the manifest but not in the ZIP"),
        (lambda name, data: data + (b"" if name != "README.txt" else b"extra"), "README.txt: its size or SHA-256"),
        (lambda name, data: None if name == MANIFEST else data, "it has no manifest.json"),
    ],
)
def test_missing_or_changed_members_are_refused(exported, change, message):
    organisation, _owner, _before, path = exported
    wipe(organisation)
    counts = (Organisation.objects.count(), User.objects.count(), stored_files())

    with pytest.raises(ImportRefused, match=message):
        import_organisation(rewrite(path, change))
    nothing_imported(*counts)


def test_an_unlisted_member_is_refused(exported):
    organisation, _owner, _before, path = exported
    wipe(organisation)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("files/smuggled.exe", b"MZ")

    with pytest.raises(ImportRefused, match=r"files/smuggled\.exe: in the ZIP but not in the manifest"):
        import_organisation(path)


def test_an_unknown_format_version_is_refused(exported):
    organisation, _owner, _before, path = exported
    wipe(organisation)

    def newer(name, data):
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["format"]["version"] = 99
        return json.dumps(manifest).encode()

    with pytest.raises(ImportRefused, match="format version 99, which this Greenlight does not know"):
        import_organisation(rewrite(path, newer))
    assert not Organisation.objects.filter(slug="acme-bakery").exists()


def test_a_missing_framework_is_named_and_nothing_is_created(exported):
    from assessments.models import FrameworkAdoption
    from compliance.models import Control, ControlGroup, Framework

    organisation, _owner, _before, path = exported
    adopted = Framework.objects.get(
        pk=FrameworkAdoption.objects.filter(organisation=organisation).values("framework")[:1]
    )
    wipe(organisation)
    Control.objects.filter(framework=adopted).delete()
    ControlGroup.objects.filter(framework=adopted).delete()
    adopted.delete()
    counts = (Organisation.objects.count(), User.objects.count(), stored_files())

    with pytest.raises(ImportRefused) as refused:
        import_organisation(path)

    assert f"framework {adopted.slug} is not loaded: run `python manage.py load_frameworks`" in str(refused.value)
    nothing_imported(*counts)


def test_a_taken_slug_is_refused_with_the_way_out(exported):
    _organisation, _owner, _before, path = exported
    with pytest.raises(ImportRefused, match="slug 'acme-bakery' already exists here: choose another with --slug"):
        import_organisation(path)


def test_the_command_reports_a_refusal_as_an_error(exported):
    _organisation, _owner, _before, path = exported
    with pytest.raises(CommandError, match="already exists here"):
        call_command("import_organisation", str(path), stdout=io.StringIO())


def test_files_copied_before_a_failure_are_deleted_again(exported):
    """A record that refers to a row the export does not hold is found only after the logo is stored."""
    organisation, _owner, _before, path = exported
    wipe(organisation)
    counts = (Organisation.objects.count(), User.objects.count(), stored_files())
    member = data_member("evidence.evidence")

    def dangling(name, data):
        if name != member:
            return data
        rows = json.loads(data)
        rows[0]["fields"]["current_revision"] = 999_999
        return json.dumps(rows).encode()

    with pytest.raises(ImportRefused, match=r"evidence\.evidencerevision 999999, which the export does not hold"):
        import_organisation(reseal(path, dangling))
    nothing_imported(*counts)


def test_a_database_refusal_rolls_everything_back(exported, monkeypatch):
    """Whatever fails inside the transaction, rows and copied files go."""
    organisation, _owner, _before, path = exported
    wipe(organisation)
    counts = (Organisation.objects.count(), User.objects.count(), stored_files())

    def broken(organisation):
        raise RuntimeError("the index could not be rebuilt")

    monkeypatch.setattr(importer, "_rebuild_derived", broken)
    with pytest.raises(RuntimeError, match="could not be rebuilt"):
        import_organisation(path)
    nothing_imported(*counts)
    assert not AuditEvent.objects.filter(action="organisation.imported").exists()


def test_every_exported_model_has_a_data_file(exported):
    _organisation, _owner, _before, path = exported
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {spec.member for spec in model_specs()} <= names


def test_an_existing_member_keeps_other_memberships(exported):
    organisation, owner, _before, path = exported
    elsewhere = OrganisationFactory()
    wipe(organisation)
    person = UserFactory(email=owner.email)
    MembershipFactory(organisation=elsewhere, user=person, role=Role.VIEWER)

    import_organisation(path)

    assert Membership.objects.filter(user=person).count() == 2
