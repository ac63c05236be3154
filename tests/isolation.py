"""Machinery for the cross-organisation isolation test: URL discovery, data building, leak detection.

Later issues do not edit this or the test. They extend it by construction:
- a new tenant model (subclass of TenantModel) needs a factory in `<app>/tests/factories.py`;
- a new URL argument is either `<model_name>_id` for a tenant model, or has a resolver in
  `<app>/tests/isolation.py` (`KWARG_RESOLVERS = {"name": function(organisation) -> value}`).
Anything else makes the test fail with a message saying what to add.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import factory
from django.apps import apps
from django.conf import settings
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Membership, Organisation, User
from accounts.tenancy import tenant_models

LOCAL_APPS = ("accounts", "compliance", "assessments", "policies", "evidence", "chat")
OUR_MODULE_PREFIXES = (*LOCAL_APPS, "config")

# Arguments of third-party URLs (allauth, admin). They never name one of our tenant objects.
THIRD_PARTY_KWARGS: dict[str, str] = {
    "key": "not-a-real-key",
    "uidb36": "zz",
    "app_label": "accounts",
    "content_type_id": "1",
    "object_id": "1",
    "url": "nowhere",
    "type": "totp",
    "pk": "1",
    "id": "1",
}


@dataclass(frozen=True)
class Route:
    name: str  # fully namespaced, for reverse()
    kwargs: tuple[str, ...]
    callback_module: str

    @property
    def is_ours(self) -> bool:
        return self.callback_module.split(".")[0] in OUR_MODULE_PREFIXES


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str | None, Any, list[str]]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            child_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            for name, callback, kwargs in _walk(entry.url_patterns, child_ns):
                yield name, callback, [*_pattern_kwargs(entry), *kwargs]
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield name, entry.callback, _pattern_kwargs(entry)


def _pattern_kwargs(entry: URLPattern | URLResolver) -> list[str]:
    pattern = entry.pattern
    converters = getattr(pattern, "converters", None)
    if converters is not None and hasattr(pattern, "_route"):
        return list(converters)
    return list(pattern.regex.groupindex)


def discover_routes() -> list[Route]:
    routes: dict[str, Route] = {}
    for name, callback, kwargs in _walk(get_resolver().url_patterns):
        module = getattr(callback, "__module__", "") or ""
        if name is None:
            if module.split(".")[0] in OUR_MODULE_PREFIXES:
                raise AssertionError(f"Every Greenlight URL needs a name; {callback} has none.")
            continue
        routes.setdefault(name, Route(name=name, kwargs=tuple(kwargs), callback_module=module))
    return list(routes.values())


def app_kwarg_resolvers() -> dict[str, Callable[[Organisation], Any]]:
    resolvers: dict[str, Callable[[Organisation], Any]] = {}
    for app in LOCAL_APPS:
        try:
            module = importlib.import_module(f"{app}.tests.isolation")
        except ModuleNotFoundError:
            continue
        resolvers.update(getattr(module, "KWARG_RESOLVERS", {}))
    return resolvers


def tenant_model_by_kwarg() -> dict[str, type[models.Model]]:
    return {f"{model._meta.model_name}_id": model for model in tenant_models()}


def factories_by_model() -> dict[type[models.Model], type[factory.django.DjangoModelFactory]]:
    found: dict[type[models.Model], type[factory.django.DjangoModelFactory]] = {}
    for app in LOCAL_APPS:
        try:
            module = importlib.import_module(f"{app}.tests.factories")
        except ModuleNotFoundError:
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, factory.django.DjangoModelFactory) and obj._meta.model is not None:
                model = obj._meta.get_model_class()
                # The first factory declared for a model is its canonical one.
                found.setdefault(model, obj)
    return found


def build_tenant_data(organisation: Organisation, *, per_model: int = 2) -> None:
    """Create rows in every tenant model for one organisation, through the factories."""
    registry = factories_by_model()
    missing = [model._meta.label for model in tenant_models() if model not in registry]
    if missing:
        raise AssertionError(f"Tenant models without a factory in <app>/tests/factories.py: {missing}")
    for model in tenant_models():
        for _ in range(per_model):
            registry[model](organisation=organisation)


def _text_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, (models.CharField, models.TextField)) and not field.choices
    ]


def organisation_rows(organisation: Organisation) -> list[tuple[str, dict[str, Any]]]:
    """Every row the organisation owns, plus its members' accounts, as comparable values."""
    rows: list[tuple[str, dict[str, Any]]] = [
        ("accounts.organisation", dict(Organisation.objects.filter(pk=organisation.pk).values().get()))
    ]
    for model in tenant_models():
        for values in model.objects.filter(organisation=organisation).order_by("pk").values():
            rows.append((model._meta.label_lower, dict(values)))
    user_ids = Membership.objects.filter(organisation=organisation).values("user_id")
    for values in User.objects.filter(pk__in=user_ids).order_by("pk").values():
        rows.append(("accounts.user", dict(values)))
    return rows


def secret_markers(secret: Organisation, visible: Organisation) -> set[str]:
    """Strings that only the secret organisation holds: finding one in a response is a leak."""

    def strings(organisation: Organisation) -> set[str]:
        found = {organisation.name, organisation.slug}
        for model in tenant_models():
            fields = [field.attname for field in _text_fields(model)]
            for values in model.objects.filter(organisation=organisation).values_list(*fields):
                found.update(value for value in values if isinstance(value, str))
        user_ids = Membership.objects.filter(organisation=organisation).values("user_id")
        for email, full_name in User.objects.filter(pk__in=user_ids).values_list("email", "full_name"):
            found.update({email, full_name})
        return found

    allowed = strings(visible) | {settings.SECRET_KEY}
    return {value for value in strings(secret) - allowed if len(value) >= 6}


def all_models_registered() -> None:
    apps.check_models_ready()
