"""Test data for the export and import tests: an organisation with a row in every tenant model and a value
in (nearly) every field, a comparable snapshot of it, and a way to wipe it as a fresh instance would lack it.

The snapshot compares what a person would recognise, not ids: rows in id order (an import keeps that
order), references to other rows as the position of the row referred to, people as email addresses, the
library by natural key, and files by the SHA-256 of their bytes (their stored names change on import).
"""

from __future__ import annotations

import datetime
import hashlib
import os
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.models import Membership, Organisation, User
from accounts.portability.format import EXCLUDED_FIELDS, NATURAL_KEYS, ORGANISATION_LABEL, model_specs
from accounts.roles import Role
from accounts.tenancy import tenant_models
from accounts.tests.factories import MembershipFactory, UserFactory
from tests.isolation import build_tenant_data

# Three chunks and a bit: copying must go chunk by chunk and get every byte.
BIG_FILE = os.urandom(3 * 1024 * 1024 + 123)


def populate(organisation: Organisation) -> User:
    """Fill the organisation; returns its owner."""
    from assessments.models import ReportSchedule
    from assessments.tests.factories import ReportRunFactory
    from chat.models import Message
    from compliance.tests.factories import ControlFactory
    from evidence.models import Evidence, EvidenceRevision
    from evidence.tests.factories import EvidenceRevisionFactory

    owner = MembershipFactory(
        organisation=organisation, role=Role.OWNER, user=UserFactory(full_name="Olive Owner")
    ).user
    organisation.logo.save("logo.png", ContentFile(b"\x89PNG\r\n\x1a\n logo bytes"), save=True)
    Organisation.objects.filter(pk=organisation.pk).update(
        conversation_retention_days=31,
        ai_call_retention_days=32,
        audit_event_retention_days=33,
        report_run_retention_days=34,
    )
    build_tenant_data(organisation)
    EvidenceRevisionFactory(
        organisation=organisation,
        original_name="backup-log.bin",
        file=ContentFile(BIG_FILE, name="backup-log.bin"),
        size=len(BIG_FILE),
        sha256=hashlib.sha256(BIG_FILE).hexdigest(),
    )
    ReportRunFactory(organisation=organisation, done=True)
    _fill_every_field(organisation, owner)

    # References the factories leave empty: a cycle (an item's current revision), a row referring to its own
    # model (a reply), and many-to-many links to the library and to people.
    controls = [ControlFactory(), ControlFactory()]
    for item in Evidence.objects.filter(organisation=organisation):
        item.controls.set(controls)
        latest = EvidenceRevision.objects.filter(evidence=item).order_by("-pk").first()
        if latest is not None:
            Evidence.objects.filter(pk=item.pk).update(current_revision=latest)
    for model in tenant_models():
        if any(f.name == "controls" for f in model._meta.many_to_many):
            for row in model._base_manager.filter(organisation=organisation):
                row.controls.add(controls[0])  # type: ignore[attr-defined]
    question, answer = Message.objects.filter(organisation=organisation).order_by("pk")[:2]
    Message.objects.filter(pk=answer.pk).update(conversation=question.conversation, reply_to=question, role="assistant")
    for schedule in ReportSchedule.objects.filter(organisation=organisation):
        schedule.recipients.set([owner])
    return owner


def _fill_every_field(organisation: Organisation, person: User) -> None:
    """Give every empty field a value, and every field of one row of each model a value other than its
    default, so a field the export dropped would come back different. A change a constraint refuses is
    skipped (each is tried in its own savepoint)."""
    now = timezone.now().replace(microsecond=654321)
    for model in tenant_models():
        rows = list(model._base_manager.filter(organisation=organisation).order_by("pk"))
        for index, row in enumerate(rows):
            values: dict[str, Any] = {}
            for field in model._meta.concrete_fields:
                current = getattr(row, field.attname)
                if field.primary_key or field.is_relation or field.choices or isinstance(field, models.FileField):
                    continue
                if current in (None, "", [], {}):
                    values[field.attname] = _filler(field, row.pk, now - datetime.timedelta(days=index + 1))
            values.update(
                {
                    f.attname: person.pk
                    for f in model._meta.concrete_fields
                    if f.is_relation and f.related_model is User and getattr(row, f.attname) is None
                }
            )
            if values:
                model._base_manager.filter(pk=row.pk).update(**values)
        if rows:
            _differ_from_defaults(organisation, model, rows[0])


def _filler(field: models.Field, pk: int, moment: datetime.datetime) -> Any:
    if isinstance(field, models.GenericIPAddressField):
        return "192.0.2.7"
    if isinstance(field, (models.CharField, models.TextField)):
        return f"{field.name[:4]}{pk}"[: field.max_length or None]
    if isinstance(field, models.JSONField):
        return {"filled": field.name, "row": pk}
    if isinstance(field, models.DateTimeField):
        return moment
    if isinstance(field, models.DateField):
        return datetime.date(2026, 11, 21)
    if isinstance(field, models.DecimalField):
        return Decimal("1.25")
    if isinstance(field, models.BooleanField):
        return True
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 1
    return None


def _differ_from_defaults(organisation: Organisation, model: type[models.Model], row: models.Model) -> None:
    from django.apps import apps

    row = model._base_manager.get(pk=row.pk)  # as filled above
    for field in model._meta.concrete_fields:
        if field.primary_key or isinstance(field, models.FileField) or field.name == "organisation":
            continue
        current = getattr(row, field.attname)
        value: Any = None
        if field.is_relation:
            if current is not None:
                continue
            target = field.related_model
            label = target._meta.label_lower  # type: ignore[union-attr]
            if label in NATURAL_KEYS:
                value = apps.get_model(label)._base_manager.order_by("pk").values_list("pk", flat=True).first()
            elif target in tenant_models():
                value = (
                    target._base_manager.filter(organisation=organisation)  # type: ignore[union-attr]
                    .order_by("-pk")
                    .values_list("pk", flat=True)
                    .first()
                )
        elif field.choices:
            others = [choice for choice, _label in field.flatchoices if choice != current]
            value = others[-1] if others else None
        elif isinstance(field, models.BooleanField):
            value = not current
        elif isinstance(field, (models.IntegerField, models.FloatField)) and current == field.get_default():
            value = current + 1
        elif isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
            value = datetime.date(2026, 11, 20) if current != datetime.date(2026, 11, 20) else None
        if value is None:
            continue
        try:
            with transaction.atomic():
                model._base_manager.filter(pk=row.pk).update(**{field.attname: value})
        except (IntegrityError, ValueError):
            pass  # a constraint of the model refuses this value: the field keeps the one it had


# --- Comparing ---------------------------------------------------------------------------------------
def snapshot(organisation: Organisation) -> dict[str, list[dict[str, Any]]]:
    """Every exported row of the organisation, as comparable values (see the module's docstring)."""
    specs = model_specs()
    positions: dict[str, dict[int, int]] = {}
    for spec in specs:
        pks = _rows(spec.model, organisation).order_by("pk").values_list("pk", flat=True)
        positions[spec.label] = {pk: i for i, pk in enumerate(pks)}
    library = {label: _natural_keys(label) for label in NATURAL_KEYS}
    emails = dict(User.objects.values_list("pk", "email"))
    result: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        excluded = set(EXCLUDED_FIELDS.get(spec.label, {}))
        # Every concrete field of the model, not the export's own list: a field the export forgot still counts.
        fields = [f for f in spec.model._meta.concrete_fields if not f.primary_key and f.name not in excluded]
        rows = []
        for row in _rows(spec.model, organisation).order_by("pk"):
            values: dict[str, Any] = {}
            for field in fields:
                value = getattr(row, field.attname)
                if isinstance(field, models.FileField):
                    values[field.name] = _digest(getattr(row, field.name))
                elif field.is_relation and value is not None:
                    values[field.name] = _identity(field, value, positions, library, emails)
                else:
                    values[field.name] = value
            for m2m in spec.model._meta.many_to_many:
                linked = getattr(row, m2m.name).values_list("pk", flat=True)
                values[m2m.name] = sorted(str(_identity(m2m, pk, positions, library, emails)) for pk in linked)
            rows.append(values)
        result[spec.label] = rows
    result["accounts.user"] = sorted(
        User.objects.filter(pk__in=_people(organisation)).values_list("email", "full_name")  # type: ignore[arg-type]
    )
    return result


def _rows(model: type[models.Model], organisation: Organisation) -> models.QuerySet[Any]:
    if model is Organisation:
        return Organisation.objects.filter(pk=organisation.pk)
    return model._base_manager.filter(organisation=organisation)


def _natural_keys(label: str) -> dict[int, tuple[str, ...]]:
    from django.apps import apps

    return {
        row[0]: tuple(row[1:]) for row in apps.get_model(label)._base_manager.values_list("pk", *NATURAL_KEYS[label])
    }


def _identity(
    field: models.Field,
    value: int,
    positions: dict[str, dict[int, int]],
    library: dict[str, dict[int, tuple[str, ...]]],
    emails: dict[int, str],
) -> Any:
    target = field.related_model._meta.label_lower  # type: ignore[union-attr]
    if target == ORGANISATION_LABEL:
        return "the organisation"
    if target == "accounts.user":
        return emails[value]
    if target in library:
        return library[target][value]
    return (target, positions[target][value])


def _digest(file: Any) -> str | None:
    if not file:
        return None
    with file.storage.open(file.name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _people(organisation: Organisation) -> set[int]:
    """Everyone the organisation's rows name."""
    found: set[int] = set()
    for spec in model_specs():
        for name, relation in spec.relations.items():
            if relation.kind != "user":
                continue
            field = spec.model._meta.get_field(name)
            if isinstance(field, models.ManyToManyField):
                for row in _rows(spec.model, organisation):
                    found.update(getattr(row, name).values_list("pk", flat=True))
            else:
                found.update(
                    pk for pk in _rows(spec.model, organisation).values_list(field.attname, flat=True) if pk is not None
                )
    return found


# --- A fresh instance --------------------------------------------------------------------------------
def wipe(organisation: Organisation) -> None:
    """Remove the organisation, every stored file of it and everyone its rows name, keeping the library: the
    state of another Greenlight that never held it."""
    people = _people(organisation)
    for spec in model_specs():
        for field in spec.file_fields:
            for name in (
                _rows(spec.model, organisation).exclude(**{field.attname: ""}).values_list(field.attname, flat=True)
            ):
                field.storage.delete(name)
    Organisation.objects.filter(pk=organisation.pk).delete()
    Membership.objects.filter(user_id__in=people).delete()
    User.objects.filter(pk__in=people).delete()
