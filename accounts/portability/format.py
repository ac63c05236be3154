"""The organisation export format: its layout, what it holds, and how one row refers to another.

A ZIP holds `README.txt`, `manifest.json`, one `data/<app_label>.<model_name>.json` per model and
`files/<stored name>` for every stored file. The models are discovered, not listed: the Organisation row
and every tenant model (`accounts.tenancy.tenant_models`), less the exclusions below, each with its reason.
A new tenant model is therefore exported without anyone remembering to, and a test fails if one of its
references cannot be written (a foreign key to something that is neither exported, the library, a
person, nor the organisation).

References are written so they survive a fresh instance:
- another exported row: its original id (the importer gives rows new ids and maps them);
- the framework library (compliance.*): a natural key such as ["iso27001-2022", "5.1"], because the
  library's ids differ from instance to instance;
- a person: their email address (`data/accounts.user.json` lists them with their names).
"""

from __future__ import annotations

import contextlib
import graphlib
import itertools
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import models

from accounts.models import Organisation, User
from accounts.tenancy import tenant_models

FORMAT_NAME = "greenlight-organisation-export"
FORMAT_VERSION = 1
# Versions the importer reads. A later format adds its number here only with the code that reads it.
SUPPORTED_VERSIONS = frozenset({1})

MANIFEST = "manifest.json"
README = "README.txt"
ORGANISATION_LABEL = "accounts.organisation"
USER_LABEL = "accounts.user"


class PortabilityError(Exception):
    """The export cannot be written or read as it stands; the message says why."""


# Tenant models left out of the export, with the reason README.txt gives. Every tenant model is exported
# unless it is here: tests/test_portability_format checks each one is one or the other.
EXCLUDED_MODELS: dict[str, str] = {
    "accounts.dataexport": (
        "Earlier exports. An export never holds another (they would nest), and their files are deleted after "
        "a few days anyway."
    ),
    "accounts.idempotencyrecord": (
        "API replay records, kept for a day so that a retried request is not done twice. They only repeat "
        "responses about data that is exported anyway."
    ),
    "accounts.partnergrant": (
        "Permissions for a partner to reach your data through this instance's API. In a new instance an owner "
        "grants them again, so nobody gains access to your data by an import."
    ),
    "accounts.webhookendpoint": (
        "Webhook endpoints hold a signing secret, which is a credential. Add them again in the new instance, "
        "which then signs with a secret of its own."
    ),
    "accounts.webhookdelivery": (
        "The delivery log of those webhook endpoints: copies of events about data that is exported anyway."
    ),
    "chat.documentindex": (
        "The assistant's search index, a copy of your evidence and policy text. It is rebuilt from them on import."
    ),
}

# Fields of exported models that are left out, with the reason. On import they take their default.
EXCLUDED_FIELDS: dict[str, dict[str, str]] = {
    ORGANISATION_LABEL: {
        "deletion_requested_at": "A pending deletion belongs to this instance: an import is never due for deletion.",
        "deletion_due_at": "A pending deletion belongs to this instance: an import is never due for deletion.",
        "deletion_requested_by": "A pending deletion belongs to this instance: an import is never due for deletion.",
    },
    "evidence.connection": {
        "encrypted_tokens": (
            "The OAuth tokens of connected Google Workspace or Microsoft 365 accounts are credentials. The "
            "connections are kept, marked as needing to be connected again."
        ),
    },
}

# Data held outside the tenant models that an organisation might expect, and why it is not exported.
NOT_EXPORTED_ELSEWHERE: dict[str, str] = {
    "accounts.apikey": "API keys are credentials (only their hashes are stored); make new ones in the new instance.",
    "accounts.user": (
        "People's accounts are written as email address and name only: never passwords, two-factor devices or "
        "notification preferences. Each person's own data has its own export."
    ),
}

# The framework library, referred to by natural key. Each path is read with `values_list`.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "compliance.framework": ("slug",),
    "compliance.controlgroup": ("framework__slug", "ref"),
    "compliance.control": ("framework__slug", "ref"),
    "compliance.question": ("control__framework__slug", "control__ref", "key"),
    "compliance.controlmapping": ("source__framework__slug", "source__ref", "target__framework__slug", "target__ref"),
}


class Ref:
    """How a relation is written: the kinds of thing a foreign key may point at."""

    ORGANISATION = "organisation"
    TENANT = "tenant"  # another exported row, by original id
    USER = "user"  # a person, by email
    LIBRARY = "library"  # the framework library, by natural key


@dataclass(frozen=True)
class Relation:
    field: models.Field
    kind: str
    target: str  # the target model's label, lower case


@dataclass(frozen=True)
class ModelSpec:
    """One exported model: the fields written for each row and how its relations are written."""

    model: type[models.Model]
    fields: tuple[models.Field, ...]  # concrete, less the primary key, the tenant `organisation` and exclusions
    many_to_many: tuple[models.ManyToManyField, ...]
    relations: dict[str, Relation] = field(default_factory=dict)  # by field name, for foreign keys and m2m

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def member(self) -> str:
        return data_member(self.label)

    @property
    def file_fields(self) -> tuple[models.FileField, ...]:
        return tuple(f for f in self.fields if isinstance(f, models.FileField))

    @property
    def is_tenant(self) -> bool:
        return self.label != ORGANISATION_LABEL


def data_member(label: str) -> str:
    return f"data/{label}.json"


def file_member(stored_name: str) -> str:
    return f"files/{stored_name}"


def _relation(model: type[models.Model], fk: models.Field, exported: set[str]) -> Relation:
    target_model = fk.related_model
    assert target_model is not None
    assert not isinstance(target_model, str)
    target = target_model._meta.label_lower
    if target_model is Organisation:
        kind = Ref.ORGANISATION
    elif target_model is User or target == settings.AUTH_USER_MODEL.lower():
        kind = Ref.USER
    elif target in NATURAL_KEYS:
        kind = Ref.LIBRARY
    elif target in exported:
        kind = Ref.TENANT
    else:
        raise PortabilityError(
            f"{model._meta.label_lower}.{fk.name} refers to {target}, which the export cannot write: it is neither "
            "exported, the framework library (format.NATURAL_KEYS), a person nor the organisation. Export it, "
            "give it a natural key, or exclude the field in accounts/portability/format.py with a reason."
        )
    return Relation(field=fk, kind=kind, target=target)


def _spec(model: type[models.Model], exported: set[str]) -> ModelSpec:
    label = model._meta.label_lower
    excluded = EXCLUDED_FIELDS.get(label, {})
    fields = tuple(
        f
        for f in model._meta.concrete_fields
        if not f.primary_key
        and f.name not in excluded
        and not (label != ORGANISATION_LABEL and f.name == "organisation")
    )
    many = tuple(
        f
        for f in model._meta.many_to_many
        if isinstance(f, models.ManyToManyField) and f.name not in excluded and _written_as_list(f, exported)
    )
    relations = {f.name: _relation(model, f, exported) for f in (*fields, *many) if f.is_relation}
    return ModelSpec(model=model, fields=fields, many_to_many=many, relations=relations)


def _written_as_list(m2m: models.ManyToManyField, exported: set[str]) -> bool:
    """Django's own join table is written as a list on the row; a through model of our own is exported as
    a model in its own right."""
    through = m2m.remote_field.through
    if through is not None and not isinstance(through, str):
        if through._meta.auto_created:
            return True
        if through._meta.label_lower in exported:
            return False
    raise PortabilityError(f"{m2m.model._meta.label_lower}.{m2m.name} goes through a model that is not exported.")


def join_table(m2m: models.ManyToManyField) -> tuple[type[models.Model], str, str]:
    """A many-to-many field's join table, and its columns for this side and the other."""
    through = m2m.remote_field.through
    assert through is not None
    assert not isinstance(through, str)
    return through, f"{m2m.m2m_field_name()}_id", f"{m2m.m2m_reverse_field_name()}_id"


@cache
def model_specs() -> tuple[ModelSpec, ...]:
    """The Organisation, then every exported tenant model, in an order where each row's required references
    come before it (the importer's order)."""
    models_by_label = {m._meta.label_lower: m for m in tenant_models() if m._meta.label_lower not in EXCLUDED_MODELS}
    exported = set(models_by_label) | {ORGANISATION_LABEL}
    specs = {label: _spec(model, exported) for label, model in models_by_label.items()}
    specs[ORGANISATION_LABEL] = _spec(Organisation, exported)
    order = _dependency_order(specs)
    return tuple(specs[label] for label in order)


def _dependency_order(specs: dict[str, ModelSpec]) -> list[str]:
    """Targets before the rows that need them. A required reference is a hard edge; a nullable one is kept
    when it can be, and otherwise (a cycle, such as an evidence item's current revision) set afterwards."""
    hard: dict[str, set[str]] = {label: set() for label in specs}
    soft: dict[str, set[str]] = {label: set() for label in specs}
    for label, spec in specs.items():
        for relation in spec.relations.values():
            if (
                relation.kind != Ref.TENANT
                or relation.target == label
                or isinstance(relation.field, models.ManyToManyField)
            ):
                continue
            (soft if relation.field.null else hard)[label].add(relation.target)
        if label != ORGANISATION_LABEL:
            hard[label].add(ORGANISATION_LABEL)
    while True:
        graph = {label: hard[label] | soft[label] for label in specs}
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as error:
            cycle: list[str] = error.args[1]
            # Each node of the cycle is a dependency of the next one: drop the first soft edge in it.
            for dependency, dependant in itertools.pairwise(cycle):
                if dependency in soft[dependant]:
                    soft[dependant].discard(dependency)
                    break
            else:
                raise PortabilityError(f"Required references go round in a circle: {' -> '.join(cycle)}.") from None


def deferred_fields(spec: ModelSpec) -> tuple[models.Field, ...]:
    """References to rows that may not exist yet when this model's rows are inserted (itself, or a model
    later in the order): inserted empty and set once every row is in."""
    order = [s.label for s in model_specs()]
    position = order.index(spec.label)
    return tuple(
        relation.field
        for relation in spec.relations.values()
        if relation.kind == Ref.TENANT
        and not isinstance(relation.field, models.ManyToManyField)
        and order.index(relation.target) >= position
    )


def spec_for(label: str) -> ModelSpec | None:
    return next((spec for spec in model_specs() if spec.label == label), None)


def greenlight_version() -> dict[str, str | None]:
    """The exporting Greenlight's version (pyproject.toml) and git commit, where either can be found."""
    base = Path(settings.BASE_DIR)
    version = commit = None
    with contextlib.suppress(OSError, KeyError, tomllib.TOMLDecodeError):
        version = tomllib.loads((base / "pyproject.toml").read_text())["project"]["version"]
    try:
        head = (base / ".git" / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref_file = base / ".git" / head.removeprefix("ref: ")
            head = ref_file.read_text().strip() if ref_file.exists() else ""
        commit = head if len(head) == 40 else None
    except OSError:
        pass
    return {"version": version, "commit": commit}
