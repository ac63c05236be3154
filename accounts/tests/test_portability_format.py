"""The export format covers every tenant model by construction, writes values exactly, and documents
what it leaves out."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import models

from accounts.models import Organisation, PartnerGrant
from accounts.portability import records
from accounts.portability.format import (
    EXCLUDED_FIELDS,
    EXCLUDED_MODELS,
    NATURAL_KEYS,
    ORGANISATION_LABEL,
    PortabilityError,
    Ref,
    _relation,
    deferred_fields,
    model_specs,
    spec_for,
)
from accounts.portability.readme import readme_text
from accounts.tenancy import tenant_models


def test_every_tenant_model_is_exported_or_excluded_with_a_reason():
    exported = {spec.label for spec in model_specs()}
    for model in tenant_models():
        label = model._meta.label_lower
        assert (label in exported) != (label in EXCLUDED_MODELS), (
            f"{label} must be either exported or listed in EXCLUDED_MODELS (accounts/portability/format.py) "
            "with the reason it is left out"
        )
    assert ORGANISATION_LABEL in exported


def test_exclusions_name_real_models_and_fields_and_give_reasons():
    tenant_labels = {model._meta.label_lower for model in tenant_models()}
    for label, reason in EXCLUDED_MODELS.items():
        assert label in tenant_labels, f"{label} is excluded but is not a tenant model"
        assert len(reason) > 20
    for label, fields in EXCLUDED_FIELDS.items():
        spec_model = next(m for m in [*tenant_models(), Organisation] if m._meta.label_lower == label)
        for name, reason in fields.items():
            spec_model._meta.get_field(name)  # raises if the field is gone
            assert len(reason) > 20


def test_every_field_of_an_exported_model_is_written_unless_excluded():
    """A field cannot drop out of the export quietly: only EXCLUDED_FIELDS, with a reason, leaves one out."""
    for spec in model_specs():
        excluded = set(EXCLUDED_FIELDS.get(spec.label, {}))
        expected = {
            f.name
            for f in spec.model._meta.concrete_fields
            if not f.primary_key and f.name not in excluded and (f.name != "organisation" or not spec.is_tenant)
        }
        assert {f.name for f in spec.fields} == expected, spec.label
        assert {f.name for f in spec.many_to_many} == {
            f.name for f in spec.model._meta.many_to_many if f.name not in excluded
        }


def test_credentials_are_left_out():
    assert "accounts.webhookendpoint" in EXCLUDED_MODELS
    assert "encrypted_tokens" not in {f.name for f in spec_for("evidence.connection").fields}
    assert "accounts.apikey" not in {spec.label for spec in model_specs()}


def test_relations_are_written_by_id_natural_key_or_email():
    answer = spec_for("assessments.answer")
    assert answer.relations["round"].kind == Ref.TENANT
    assert answer.relations["control"].kind == Ref.LIBRARY
    assert answer.relations["owner"].kind == Ref.USER
    assert spec_for("evidence.evidence").relations["controls"].kind == Ref.LIBRARY
    assert spec_for("assessments.reportschedule").relations["recipients"].kind == Ref.USER
    for spec in model_specs():
        for relation in spec.relations.values():
            if relation.kind == Ref.LIBRARY:
                assert relation.target in NATURAL_KEYS


def test_a_reference_the_format_cannot_write_is_refused_with_the_way_out():
    exported = {spec.label for spec in model_specs()}
    with pytest.raises(PortabilityError, match=r"refers to accounts.partner.*exclude the field"):
        _relation(PartnerGrant, PartnerGrant._meta.get_field("partner"), exported)


def test_rows_are_ordered_so_required_references_come_first():
    order = [spec.label for spec in model_specs()]
    assert order[0] == ORGANISATION_LABEL
    for spec in model_specs():
        deferred = {f.name for f in deferred_fields(spec)}
        for name, relation in spec.relations.items():
            field = spec.model._meta.get_field(name)
            if relation.kind != Ref.TENANT or isinstance(field, models.ManyToManyField):
                continue
            if name in deferred:
                assert field.null, f"{spec.label}.{name} is set after insert, so it must be nullable"
            else:
                assert order.index(relation.target) < order.index(spec.label)
    # The circle between an item and its current revision, and a reply to another message, are set afterwards.
    assert "current_revision" in {f.name for f in deferred_fields(spec_for("evidence.evidence"))}
    assert "reply_to" in {f.name for f in deferred_fields(spec_for("chat.message"))}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (models.DateTimeField(), datetime.datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=datetime.UTC)),
        (models.DateField(), datetime.date(2026, 11, 21)),
        (models.DecimalField(max_digits=12, decimal_places=6), Decimal("0.001796")),
        (models.UUIDField(), uuid.UUID("12345678-1234-5678-1234-567812345678")),
        (models.DurationField(), datetime.timedelta(days=1, microseconds=5)),
        (models.BinaryField(), b"\x00\xffbytes"),
        (models.JSONField(), {"list": [1, 2.5, None], "text": "£"}),
        (models.CharField(), "Café, 21 November"),
        (models.PositiveIntegerField(), 7),
        (models.BooleanField(), False),
        (models.DateTimeField(null=True), None),
    ],
)
def test_values_survive_the_trip_exactly(field, value):
    import json

    written = json.loads(json.dumps(records.encode(field, value)))
    assert records.decode(field, written) == value


def test_the_readme_says_what_is_left_out_and_why():
    text = readme_text(
        organisation_name="Acme Bakery Ltd", exported_at=datetime.datetime(2026, 11, 21, 9, 5, tzinfo=datetime.UTC)
    )
    assert "as it stood on 21 November 2026, 09:05" in text
    flattened = " ".join(text.split())
    for label, reason in EXCLUDED_MODELS.items():
        assert f"{label}: {reason}" in flattened
    for label, fields in EXCLUDED_FIELDS.items():
        for name in fields:
            assert f"{label}.{name}" in flattened
