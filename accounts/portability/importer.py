"""Loading an organisation export into this Greenlight: all of it, or nothing.

Before anything is written the archive is checked (archive.verify: format version, every member's size
and SHA-256), every record is read, and every reference is resolved: the framework library by natural
key (a missing framework is named, with the command that loads it), people by email. Only then, in one
transaction, the organisation and its rows are created with new ids, in the order format.py derives from
the models' references; references that form a circle are set once every row is in. Stored files are
copied into storage under fresh names. If anything fails, the transaction is rolled back and the files
already copied are deleted, so nothing of the import remains.

People are matched by email. An existing account keeps its password and gains the memberships the
export gives it. A missing one is created with an unusable password: members of the organisation as
active accounts, so "Forgot your password?" lets them in, and people the records only mention (former
members, say) as inactive accounts, which exist only so the records can still name them.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import Storage
from django.core.validators import validate_slug
from django.db import DatabaseError, models, transaction
from django.db.models.functions import Lower

from accounts.audit import SYSTEM, audit_record
from accounts.models import Membership, Organisation, User
from accounts.portability.archive import ArchiveRefused, verify
from accounts.portability.format import (
    EXCLUDED_MODELS,
    NATURAL_KEYS,
    ORGANISATION_LABEL,
    USER_LABEL,
    ModelSpec,
    PortabilityError,
    Ref,
    data_member,
    deferred_fields,
    join_table,
    model_specs,
)
from accounts.portability.records import decode
from accounts.roles import Role

logger = logging.getLogger(__name__)

BATCH = 500


class ImportRefused(PortabilityError):
    """The export cannot be loaded here as it stands; nothing has been changed."""


@dataclass
class ImportSummary:
    organisation: Organisation
    counts: dict[str, int]
    users_created: list[str] = field(default_factory=list)
    users_matched: list[str] = field(default_factory=list)
    files: int = 0


# --- Reading -------------------------------------------------------------------------------------
@dataclass
class _Export:
    manifest: dict[str, Any]
    records: dict[str, list[dict[str, Any]]]  # by model label, for every model format.py exports
    people: dict[str, str]  # email -> full name


def _read(archive: zipfile.ZipFile, manifest: dict[str, Any]) -> _Export:
    specs = {spec.label: spec for spec in model_specs()}
    counts: dict[str, Any] = manifest["counts"]
    unknown = sorted(set(counts) - set(specs) - {USER_LABEL} - set(EXCLUDED_MODELS))
    if unknown:
        raise ImportRefused(
            f"This export holds records this Greenlight does not know ({', '.join(unknown)}): it was made by a "
            "newer Greenlight. Import it into one at least as new."
        )
    listed = {entry["path"] for entry in manifest["files"]}
    records: dict[str, list[dict[str, Any]]] = {}
    for label, spec in specs.items():
        if label not in counts:
            records[label] = []  # made before this kind of record existed
            continue
        rows = _json(archive, data_member(label), listed)
        if not isinstance(rows, list) or len(rows) != counts[label]:
            raise ImportRefused(f"{data_member(label)} does not hold the {counts[label]} records the manifest counts.")
        known = {f.name for f in (*spec.fields, *spec.many_to_many)}
        for row in rows:
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("pk"), int)
                or not isinstance(row.get("fields"), dict)
            ):
                raise ImportRefused(f"{data_member(label)} holds a record that is not {{'pk': ..., 'fields': ...}}.")
            extra = set(row["fields"]) - known
            if extra:
                raise ImportRefused(
                    f"{label} records have fields this Greenlight does not know ({', '.join(sorted(extra))}): "
                    "the export was made by a newer Greenlight."
                )
        records[label] = rows
    people_rows = _json(archive, data_member(USER_LABEL), listed)
    if not isinstance(people_rows, list) or not all(isinstance(p, dict) and p.get("email") for p in people_rows):
        raise ImportRefused(f"{data_member(USER_LABEL)} is not a list of people with email addresses.")
    people = {str(p["email"]).lower(): str(p.get("full_name") or "") for p in people_rows}
    if len(records[ORGANISATION_LABEL]) != 1:
        raise ImportRefused("The export does not hold exactly one organisation.")
    return _Export(manifest=manifest, records=records, people=people)


def _json(archive: zipfile.ZipFile, member: str, listed: set[str]) -> Any:
    if member not in listed:
        raise ImportRefused(f"The export has no {member}.")
    try:
        with archive.open(member) as handle:
            return json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise ImportRefused(f"{member} is not valid JSON ({error}).") from None


# --- Resolving references before anything is written ----------------------------------------------
@dataclass
class _Plan:
    slug: str
    library: dict[str, dict[tuple[str, ...], int]]  # label -> natural key -> this instance's id
    existing_users: dict[str, User]
    active_emails: set[str]  # people created as active accounts: the organisation's members
    owner_email: str | None
    missing_files: set[str]


def _plan(export: _Export, *, slug: str | None, owner_email: str | None) -> _Plan:
    problems: list[str] = []
    organisation_fields = export.records[ORGANISATION_LABEL][0]["fields"]
    chosen = slug or str(organisation_fields.get("slug") or "")
    try:
        validate_slug(chosen)
    except ValidationError:
        problems.append(f"{chosen!r} cannot be an organisation's slug: use letters, numbers, hyphens or underscores.")
    if Organisation.objects.filter(slug=chosen).exists():
        problems.append(f"An organisation with the slug {chosen!r} already exists here: choose another with --slug.")

    wanted: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    people_named: set[str] = set()
    for spec in model_specs():
        for row in export.records[spec.label]:
            for name, relation in spec.relations.items():
                value = row["fields"].get(name)
                values = value if isinstance(relation.field, models.ManyToManyField) else [value]
                for item in values or []:
                    if item is None:
                        continue
                    if relation.kind == Ref.LIBRARY:
                        wanted[relation.target].add(tuple(item))
                    elif relation.kind == Ref.USER:
                        people_named.add(str(item).lower())
    unnamed = sorted(people_named - set(export.people))
    if unnamed:
        problems.append(f"Records name people who are not in {data_member(USER_LABEL)}: {', '.join(unnamed[:5])}.")
    library = {label: _library_keys(label) for label in wanted}
    problems += _missing_library(wanted, library)

    owner = owner_email.strip().lower() if owner_email else None
    emails = set(export.people) | ({owner} if owner else set())
    # Matched case-insensitively: an address typed with capitals is still the same person.
    matched = User.objects.annotate(lower=Lower("email")).filter(lower__in=emails).values("pk")
    existing = {user.email.lower(): user for user in User.objects.filter(pk__in=matched)}
    members = {str(row["fields"].get("user") or "").lower() for row in export.records["accounts.membership"]}
    if problems:
        raise ImportRefused("Nothing was imported:\n- " + "\n- ".join(problems))
    listed = {entry["path"] for entry in export.manifest["files"]}
    missing_files = {str(name) for name in export.manifest.get("missing_files") or []} - listed
    return _Plan(
        slug=chosen,
        library=library,
        existing_users=existing,
        active_emails=(members | ({owner} if owner else set())) - {""},
        owner_email=owner,
        missing_files=missing_files,
    )


def _library_keys(label: str) -> dict[tuple[str, ...], int]:
    model = apps.get_model(label)
    return {tuple(row[1:]): row[0] for row in model._base_manager.values_list("pk", *NATURAL_KEYS[label]).iterator()}


def _missing_library(
    wanted: dict[str, set[tuple[str, ...]]], library: dict[str, dict[tuple[str, ...], int]]
) -> list[str]:
    """What the records need from the library that this instance lacks, a whole framework named once."""
    frameworks = set(_library_keys("compliance.framework")) if wanted else set()
    absent_frameworks: set[str] = set()
    absent_items: list[str] = []
    for label, keys in sorted(wanted.items()):
        for key in sorted(keys - set(library[label])):
            # Every natural key starts with its framework's slug.
            if (key[0],) not in frameworks:
                absent_frameworks.add(key[0])
            else:
                absent_items.append(f"{apps.get_model(label)._meta.verbose_name} {' '.join(key[1:])} of {key[0]}")
    problems = [
        f"framework {slug} is not loaded: run `python manage.py load_frameworks` (or `import_library` for a "
        "framework of your own) and import again"
        for slug in sorted(absent_frameworks)
    ]
    if absent_items:
        shown = ", ".join(absent_items[:20]) + (f" and {len(absent_items) - 20} more" if len(absent_items) > 20 else "")
        problems.append(f"this Greenlight's library lacks {shown}: update it with `load_frameworks` and import again")
    return problems


# --- Writing ----------------------------------------------------------------------------------------
@dataclass
class _Pending:
    """Values a row can only be given after every row is in: deferred references, times Django would set to
    now on insert, and stored files."""

    obj: models.Model
    values: dict[str, Any] = field(default_factory=dict)  # attname -> value
    files: dict[str, str] = field(default_factory=dict)  # field name -> ZIP member


class _Writer:
    def __init__(self, archive: zipfile.ZipFile, export: _Export, plan: _Plan, copied: list[tuple[Storage, str]]):
        self.archive = archive
        self.export = export
        self.plan = plan
        self.copied = copied  # every file stored so far, deleted again if the import fails
        self.ids: dict[str, dict[int, int]] = defaultdict(dict)  # label -> old id -> new id
        self.users: dict[str, int] = {}
        self.pending: dict[str, list[_Pending]] = defaultdict(list)
        self.counts: dict[str, int] = {}
        self.created: list[str] = []
        self.files_copied: dict[str, str] = {}  # ZIP member -> stored name
        self.organisation: Organisation | None = None

    # People
    def people(self) -> None:
        missing = [email for email in sorted(self.export.people) if email not in self.plan.existing_users]
        if self.plan.owner_email and self.plan.owner_email not in set(self.export.people) | set(
            self.plan.existing_users
        ):
            missing.append(self.plan.owner_email)
        new = []
        for email in missing:
            user = User(
                email=email, full_name=self.export.people.get(email, ""), is_active=email in self.plan.active_emails
            )
            user.set_unusable_password()
            new.append(user)
        User.objects.bulk_create(new, batch_size=BATCH)
        self.created = [user.email for user in new]
        self.users = {email: user.pk for email, user in self.plan.existing_users.items()}
        self.users.update({user.email: user.pk for user in new})

    # Rows
    def rows(self, spec: ModelSpec) -> None:
        deferred = {f.name for f in deferred_fields(spec)}
        auto = {f.name for f in spec.fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}
        rows = self.export.records[spec.label]
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            built = [self._build(spec, row, deferred, auto) for row in batch]
            objs = [pending.obj for pending in built]
            spec.model._base_manager.bulk_create(objs)
            for row, obj in zip(batch, objs, strict=True):
                self.ids[spec.label][row["pk"]] = obj.pk
            self.pending[spec.label] += [pending for pending in built if pending.values or pending.files]
        self.counts[spec.label] = len(rows)
        if spec.label == ORGANISATION_LABEL:
            self.organisation = Organisation.objects.get(pk=self.ids[ORGANISATION_LABEL][rows[0]["pk"]])

    def _build(self, spec: ModelSpec, row: dict[str, Any], deferred: set[str], auto: set[str]) -> _Pending:
        obj = spec.model()
        pending = _Pending(obj=obj)
        values = row["fields"]
        for f in spec.fields:
            if f.name not in values:
                continue  # an older export: the field keeps its default
            value = values[f.name]
            relation = spec.relations.get(f.name)
            if relation is not None:
                value = self._reference(spec, f.name, value)
            elif isinstance(f, models.FileField):
                if value:
                    pending.files[f.name] = value
                value = ""
            else:
                value = decode(f, value)
            if f.name in deferred or f.name in auto:
                pending.values[f.attname] = value
                value = None if f.name in deferred else value
            elif isinstance(value, _Later):
                raise ImportRefused(
                    f"A {spec.label} record refers to {value.label} {value.pk}, which the export does not hold."
                )
            setattr(obj, f.attname, value)
        if spec.is_tenant:
            assert self.organisation is not None
            obj.organisation_id = self.organisation.pk  # type: ignore[attr-defined]
        else:
            obj.slug = self.plan.slug  # type: ignore[attr-defined]
        ADJUSTMENTS.get(spec.label, _unchanged)(obj)
        return pending

    def _reference(self, spec: ModelSpec, name: str, value: Any) -> Any:
        if value is None:
            return None
        relation = spec.relations[name]
        if relation.kind == Ref.USER:
            return self.users[str(value).lower()]
        if relation.kind == Ref.LIBRARY:
            return self.plan.library[relation.target][tuple(value)]
        target = ORGANISATION_LABEL if relation.kind == Ref.ORGANISATION else relation.target
        if relation.target == spec.label or target not in self.ids or value not in self.ids[target]:
            # A reference to a row not yet written: resolved when pending values are applied.
            return _Later(target, value)
        return self.ids[target][value]

    def finish(self) -> None:
        """Set deferred references, restore the times inserting overwrote, copy files, link many-to-many."""
        for spec in model_specs():
            pending = self.pending.get(spec.label, [])
            if not pending:
                continue
            for item in pending:
                for attname, value in item.values.items():
                    setattr(item.obj, attname, self._resolve(value))
                for name, member in item.files.items():
                    setattr(item.obj, name, self._copy(spec, item.obj, name, member))
            names = sorted(
                {f.name for f in spec.fields if f.attname in {a for p in pending for a in p.values}}
                | {name for p in pending for name in p.files}
            )
            spec.model._base_manager.bulk_update([p.obj for p in pending], names, batch_size=BATCH)
        for spec in model_specs():
            for m2m in spec.many_to_many:
                self._link(spec, m2m)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, _Later):
            try:
                return self.ids[value.label][value.pk]
            except KeyError:
                raise ImportRefused(
                    f"A record refers to {value.label} {value.pk}, which the export does not hold."
                ) from None
        return value

    def _copy(self, spec: ModelSpec, obj: models.Model, name: str, member: str) -> str:
        if member in self.files_copied:
            return self.files_copied[member]
        if member in self.plan.missing_files:
            return ""  # already gone when the export was made; the row stays as it was there
        file_field = spec.model._meta.get_field(name)
        assert isinstance(file_field, models.FileField)
        filename = PurePosixPath(member).name
        try:
            source = self.archive.open(member)
        except KeyError:
            raise ImportRefused(f"A {spec.label} record names {member}, which the export does not hold.") from None
        with source:
            stored = file_field.storage.save(file_field.generate_filename(obj, filename), File(source, name=filename))
        self.copied.append((file_field.storage, stored))
        self.files_copied[member] = stored
        return stored

    def _link(self, spec: ModelSpec, m2m: models.ManyToManyField) -> None:
        through, source, target = join_table(m2m)
        links = []
        for row in self.export.records[spec.label]:
            owner = self.ids[spec.label][row["pk"]]
            for item in row["fields"].get(m2m.name) or []:
                other = self._resolve(self._reference(spec, m2m.name, item))
                links.append(through(**{source: owner, target: other}))
        through._base_manager.bulk_create(links, batch_size=BATCH)


@dataclass(frozen=True)
class _Later:
    label: str
    pk: int


def _unchanged(obj: models.Model) -> None:
    return None


def _connection_without_tokens(obj: models.Model) -> None:
    """Its tokens are not exported (format.EXCLUDED_FIELDS): a connected account must be connected again."""
    from evidence.models import ConnectionStatus

    if obj.status == ConnectionStatus.CONNECTED:  # type: ignore[attr-defined]
        obj.status = ConnectionStatus.NEEDS_RECONNECT  # type: ignore[attr-defined]


# Changes a row needs on import because of what the export leaves out, by model label.
ADJUSTMENTS = {"evidence.connection": _connection_without_tokens}


def _rebuild_derived(organisation: Organisation) -> None:
    """What this instance derives from the rows instead of importing it: the assistant's search index (an
    excluded model) and each report schedule's beat entry."""
    from assessments.models import ReportSchedule
    from assessments.services_schedules import _sync_beat
    from chat.document_index import rebuild

    rebuild(organisation_id=organisation.pk)
    for schedule in ReportSchedule.objects.filter(organisation=organisation):
        _sync_beat(schedule)


# --- The one way in ----------------------------------------------------------------------------------
def import_organisation(
    source: str | Path | IO[bytes], *, slug: str | None = None, owner_email: str | None = None
) -> ImportSummary:
    """Load an export. Raises ImportRefused (nothing changed) when it cannot be loaded as it stands."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportRefused(f"This is not a ZIP file Greenlight can read ({error}).") from None
    copied: list[tuple[Storage, str]] = []
    with archive:
        try:
            manifest = verify(archive)
        except ArchiveRefused as error:
            raise ImportRefused(str(error)) from None
        export = _read(archive, manifest)
        plan = _plan(export, slug=slug, owner_email=owner_email)
        try:
            with transaction.atomic():
                writer = _Writer(archive, export, plan, copied)
                writer.people()
                for spec in model_specs():
                    writer.rows(spec)
                writer.finish()
                organisation = writer.organisation
                assert organisation is not None
                if plan.owner_email:
                    Membership.objects.update_or_create(
                        organisation=organisation, user_id=writer.users[plan.owner_email], defaults={"role": Role.OWNER}
                    )
                _rebuild_derived(organisation)
                total = sum(writer.counts.values())
                audit_record(
                    organisation=organisation,
                    actor=SYSTEM,
                    action="organisation.imported",
                    summary=(
                        f"Imported from an export made on {manifest.get('exported_at', 'an unknown date')}: "
                        f"{total:,} records and {len(writer.files_copied):,} files"
                    ),
                    target=organisation,
                )
        except BaseException as error:
            _delete(copied)
            if isinstance(error, DatabaseError):
                raise ImportRefused(
                    f"The records could not be written here, so nothing was imported ({error})."
                ) from error
            raise
    organisation.refresh_from_db()
    return ImportSummary(
        organisation=organisation,
        counts={**writer.counts, USER_LABEL: len(export.people)},
        users_created=writer.created,
        users_matched=sorted(set(plan.existing_users) & set(export.people)),
        files=len(writer.files_copied),
    )


def _delete(copied: list[tuple[Storage, str]]) -> None:
    for storage, name in copied:
        try:
            storage.delete(name)
        except Exception:  # the storage cleanup task finds files no row points at
            logger.warning("Could not delete %s after a failed import", name, exc_info=True)
