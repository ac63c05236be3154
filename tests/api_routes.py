"""The partner API's routes as the cross-cutting API tests walk them: found from the URL configuration,
so an endpoint added later is covered without editing a test.

A route's URL arguments are filled the way tests/isolation.py fills them: `organisation_slug` with the
organisation named, `<model_name>_id` with an object of the organisation given as `objects_of`, and
anything else through an app's `tests/isolation.py` resolvers.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.urls.resolvers import ResolverMatch, get_resolver
from drf_spectacular.generators import SchemaGenerator

from accounts.models import Organisation
from accounts.scopes import Scope
from tests.isolation import Route, app_kwarg_resolvers, discover_routes, tenant_model_by_kwarg

API_PREFIX = "/api/v1/"
ORGANISATION_KWARG = "organisation_slug"
WALKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Organisation operations that need no scope: reading the organisation itself, whose answer is the
# scopes the caller holds there.
UNSCOPED_OPERATIONS = {("api_organisation_detail", "GET")}


@dataclass(frozen=True)
class ApiRoute:
    name: str
    kwargs: tuple[str, ...]
    view_class: type

    @property
    def is_organisation_route(self) -> bool:
        return ORGANISATION_KWARG in self.kwargs

    @property
    def tenant_kwargs(self) -> tuple[str, ...]:
        by_kwarg = tenant_model_by_kwarg()
        return tuple(name for name in self.kwargs if name in by_kwarg)

    @property
    def methods(self) -> tuple[str, ...]:
        """The HTTP methods the view answers (HEAD and OPTIONS aside)."""
        actions = getattr(self.view_class, "_api_route_actions", None)
        if actions:
            return tuple(sorted(method.upper() for method in actions))
        names = getattr(self.view_class, "http_method_names", [])
        return tuple(
            sorted(name.upper() for name in names if name not in ("head", "options") and hasattr(self.view_class, name))
        )

    @property
    def scopes(self) -> dict[str, Scope]:
        return dict(getattr(self.view_class, "scopes", {}) or {})

    @property
    def operations(self) -> dict[str, Scope | None]:
        """Each method the view answers, with the scope it needs (None if it names none)."""
        scopes = self.scopes
        return {method: scopes.get(method) for method in self.methods}

    def url(self, organisation: Organisation, *, objects_of: Organisation | None = None) -> str:
        return reverse(self.name, kwargs=url_kwargs(self, organisation, objects_of=objects_of or organisation))


def url_kwargs(route: ApiRoute | Route, organisation: Organisation, *, objects_of: Organisation) -> dict[str, Any]:
    by_kwarg = tenant_model_by_kwarg()
    resolvers = app_kwarg_resolvers()
    kwargs: dict[str, Any] = {}
    for name in route.kwargs:
        if name == ORGANISATION_KWARG:
            kwargs[name] = organisation.slug
        elif name in by_kwarg:
            row = by_kwarg[name].objects.filter(organisation=objects_of).order_by("pk").first()
            if row is None:
                raise AssertionError(f"{route.name} needs a {name}, and {objects_of.slug} has none.")
            kwargs[name] = row.pk
        elif name in resolvers:
            kwargs[name] = resolvers[name](objects_of)
        else:
            raise AssertionError(
                f"API URL {route.name!r} takes {name!r}, which the API tests cannot fill. Name it "
                f"<model_name>_id for a tenant model, or add a resolver to <app>/tests/isolation.py."
            )
    return kwargs


def _view_class(match: ResolverMatch) -> type | None:
    view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    if view is not None and getattr(match.func, "actions", None):
        # A viewset routed with {"get": "list", ...}: only those methods answer.
        view = type(view.__name__, (view,), {"_api_route_actions": tuple(match.func.actions)})
    return view


def api_routes(organisation: Organisation) -> list[ApiRoute]:
    """Every named DRF route under /api/v1/ (whose name starts with `api_`), filled for `organisation`."""
    resolver = get_resolver()
    found: list[ApiRoute] = []
    for route in discover_routes():
        if not route.name.startswith("api_"):
            continue
        url = reverse(route.name, kwargs=url_kwargs(route, organisation, objects_of=organisation))
        if not url.startswith(API_PREFIX):
            continue
        view = _view_class(resolver.resolve(url))
        if view is None or not hasattr(view, "permission_classes"):
            continue  # not a DRF view (the problem+json 404 for unknown URLs)
        found.append(ApiRoute(name=route.name, kwargs=route.kwargs, view_class=view))
    assert found, "expected API routes under /api/v1/"
    return sorted(found, key=lambda route: route.name)


def organisation_routes(organisation: Organisation) -> list[ApiRoute]:
    return [route for route in api_routes(organisation) if route.is_organisation_route]


def refuse_network(monkeypatch: Any) -> None:
    """Walking every endpoint reaches those that call out (a webhook's test delivery): no name resolves,
    so nothing leaves the machine and such calls fail fast, as they would for an unknown host."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("Tests do not use the network.")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def request_examples() -> dict[tuple[str, str], dict[str, Any]]:
    """(path template, METHOD) -> the first JSON request example the OpenAPI schema documents."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    examples: dict[tuple[str, str], dict[str, Any]] = {}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            documented = [example.get("value") for example in content.get("examples", {}).values()]
            documented.append(content.get("example"))
            first = next((value for value in documented if isinstance(value, dict)), None)
            if first is not None:
                examples[(path, method.upper())] = first
    return examples


def example_for(examples: dict[tuple[str, str], dict[str, Any]], method: str, url: str) -> dict[str, Any] | None:
    """The documented request example for a concrete URL, if its operation has one."""
    for (template, example_method), value in examples.items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if example_method == method and re.fullmatch(pattern, url):
            return value
    return None
