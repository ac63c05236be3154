"""Machinery for the cross-organisation isolation test: URL discovery, data building, leak detection.

New code needs no edit here or in the sweeps; they extend by construction:
- a new tenant model (subclass of TenantModel) needs a factory in `<app>/tests/factories.py`;
- a new URL argument is either `<model_name>_id` for a tenant model, or has a resolver in
  `<app>/tests/isolation.py` (`KWARG_RESOLVERS = {"name": function(organisation) -> value}`).
Anything else makes the test fail with a message saying what to add.

The sweeps of issue 11 (every role, people in both organisations, downloads, the API with keys and
sessions, the admin) share the rest: the two organisations (`two_organisations`), people in them
(`person_in`, `hand_over`), fresh signed-in browsers (`Browsers`), the hostile bodies, the leak, 404 and
foreign-reference checks, and the page walk itself (`walk_pages`), run once per role.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from typing import Any

import factory
from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from accounts.middleware import SESSION_KEY
from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.tenancy import tenant_models
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory

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


# Both read only the code, which does not change while tests run; the sweeps ask for them on every URL.
@functools.cache
def app_kwarg_resolvers() -> dict[str, Callable[[Organisation], Any]]:
    resolvers: dict[str, Callable[[Organisation], Any]] = {}
    for app in LOCAL_APPS:
        try:
            module = importlib.import_module(f"{app}.tests.isolation")
        except ModuleNotFoundError:
            continue
        resolvers.update(getattr(module, "KWARG_RESOLVERS", {}))
    return resolvers


@functools.cache
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


def organisation_rows(organisation: Organisation, *, walker: User | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every row the organisation owns, plus its members' accounts, as comparable values.

    `walker` is a member of it who is signed in again for every request of a sweep: their last sign-in
    time is left out, as that is the only change signing in makes."""
    rows: list[tuple[str, dict[str, Any]]] = [
        ("accounts.organisation", dict(Organisation.objects.filter(pk=organisation.pk).values().get()))
    ]
    for model in tenant_models():
        for values in model._default_manager.filter(organisation=organisation).order_by("pk").values():
            rows.append((model._meta.label_lower, dict(values)))
    user_ids = Membership.objects.filter(organisation=organisation).values("user_id")
    for person in User.objects.filter(pk__in=user_ids).order_by("pk").values():
        row = dict(person)
        if walker is not None and row["id"] == walker.pk:
            row.pop("last_login")
        rows.append(("accounts.user", row))
    return rows


def secret_markers(secret: Organisation, visible: Organisation) -> set[str]:
    """Strings that only the secret organisation holds: finding one in a response is a leak."""

    def strings(organisation: Organisation) -> set[str]:
        found = {organisation.name, organisation.slug}
        for model in tenant_models():
            fields = [field.attname for field in _text_fields(model)]
            if not fields:
                continue  # values_list() without fields would give every field, choices and all
            for values in model._default_manager.filter(organisation=organisation).values_list(*fields):
                found.update(value for value in values if isinstance(value, str))
        user_ids = Membership.objects.filter(organisation=organisation).values("user_id")
        for email, full_name in User.objects.filter(pk__in=user_ids).values_list("email", "full_name"):
            found.update({email, full_name})
        return found

    allowed = strings(visible) | {settings.SECRET_KEY}
    return {value for value in strings(secret) - allowed if len(value) >= 6}


def all_models_registered() -> None:
    apps.check_models_ready()


# --- the two organisations of the sweeps -----------------------------------------------------------
@dataclass
class TwoOrganisations:
    """Organisation A (`visible`), whose people sweep, and B (`secret`), whose data they must never reach.
    Both have data in every tenant model and an owner of their own."""

    visible: Organisation
    secret: Organisation


def two_organisations() -> TwoOrganisations:
    visible = OrganisationFactory.create(name="Visible Ventures Ltd", slug="visible-ventures")
    secret = OrganisationFactory.create(name="Secretive Holdings Ltd", slug="secretive-holdings")
    MembershipFactory(organisation=visible, role=Role.OWNER, user=UserFactory(email="founder@visible.example"))
    MembershipFactory(organisation=secret, role=Role.OWNER, user=UserFactory(email="owner@secretive.example"))
    build_tenant_data(visible)
    build_tenant_data(secret)
    return TwoOrganisations(visible=visible, secret=secret)


def person_in(organisation: Organisation, role: str, *, email: str, staff: bool = False) -> User:
    """A new person with `role` in the organisation; consultants are staff, as the admin needs them to be."""
    user = UserFactory.create(email=email, is_staff=staff)
    MembershipFactory(organisation=organisation, role=role, user=user)
    return user


def signed_in(user: User, organisation: Organisation) -> Client:
    """A browser signed in as `user`, with `organisation` current (as the switcher leaves it)."""
    browser = Client()
    browser.force_login(user)
    session = browser.session
    session[SESSION_KEY] = organisation.pk
    session.save()
    return browser


class Browsers:
    """Fresh browsers, each with its own copy of one signed-in session of `user` in `organisation`.

    A sweep starts every request from a clean session, so nothing one request leaves there colours the
    next; copying a session made by a real sign-in costs one write, where signing in again costs several."""

    def __init__(self, user: User, organisation: Organisation) -> None:
        self.data = dict(signed_in(user, organisation).session.items())
        self.store = importlib.import_module(settings.SESSION_ENGINE).SessionStore

    def new(self) -> Client:
        session = self.store()
        session.update(self.data)
        session.save()
        browser = Client()
        browser.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
        return browser


# --- what a leak looks like ------------------------------------------------------------------------
def response_text(response: Any) -> str:
    """The body (not a streamed one: downloads are read by their own test) and the headers."""
    body = "" if getattr(response, "streaming", False) else response.content.decode(errors="replace")
    return body + " " + " ".join(f"{key}: {value}" for key, value in response.headers.items())


def assert_no_leak(response: Any, markers: set[str], where: str) -> None:
    text = response_text(response)
    for marker in markers:
        assert marker not in text, f"{where} shows {marker!r} of another organisation"
        assert escape(marker) not in text, f"{where} shows {marker!r} of another organisation"


# An object id that no table reaches.
MISSING_ID = 2_000_000_000


def url_naming(
    route: Route, secret: Organisation, *, missing: bool = False, row: int = 0, address: Organisation | None = None
) -> tuple[str, bool]:
    """The URL with every argument filled from the secret organisation; and whether it names a tenant object.

    `row` picks the organisation's second, third... object of each model instead of its first (IndexError
    when it has no more); with `missing`, tenant object ids are replaced by one that exists nowhere; with
    `address`, an API URL names that organisation while its object ids stay the secret one's."""
    by_kwarg = tenant_model_by_kwarg()
    resolvers = app_kwarg_resolvers()
    kwargs: dict[str, Any] = {}
    names_secret_object = False
    for name in route.kwargs:
        if name == "organisation_slug" and address is not None:
            kwargs[name] = address.slug
        elif name in by_kwarg:
            found = by_kwarg[name]._default_manager.filter(organisation=secret).order_by("pk")[row : row + 1]
            if not found:
                raise IndexError(f"{secret.slug} has no {name} number {row + 1}")
            kwargs[name] = MISSING_ID if missing else found[0].pk
            names_secret_object = True
        elif name in resolvers:
            # A resolved argument is a capability such as a signed link, not an object id: its page may
            # answer, but must show and change nothing of the other organisation.
            kwargs[name] = resolvers[name](secret)
        elif not route.is_ours and name in THIRD_PARTY_KWARGS:
            kwargs[name] = THIRD_PARTY_KWARGS[name]
        else:
            raise AssertionError(
                f"URL {route.name!r} takes {name!r}, which the isolation test cannot fill. Name it "
                f"<model_name>_id for a tenant model, or add a resolver to <app>/tests/isolation.py."
            )
    try:
        return reverse(route.name, kwargs=kwargs), names_secret_object
    except NoReverseMatch as error:
        raise AssertionError(f"Could not build {route.name!r} with {kwargs}: {error}") from error


def hostile_body(secret: Organisation) -> dict[str, Any]:
    """A write naming the secret organisation's objects and people under every likely field name."""
    body: dict[str, Any] = {
        "organisation": secret.pk,
        "organisation_id": secret.pk,
        "organisation_slug": secret.slug,
        "name": "Renamed by an outsider",
        "title": "Renamed by an outsider",
    }
    for kwarg, model in tenant_model_by_kwarg().items():
        row = model._default_manager.filter(organisation=secret).order_by("pk").first()
        if row is None:
            continue
        name = kwarg.removesuffix("_id")
        body.update({name: row.pk, kwarg: row.pk, f"{name}_ids": [row.pk], f"{name}s": [row.pk]})
    person = User.objects.filter(memberships__organisation=secret).order_by("pk").first()
    if person is not None:
        for name in ("owner", "assignee", "user", "assigned_to", "reviewer", "approver"):
            body.update({name: person.pk, f"{name}_id": person.pk})
    return body


def hostile_form(secret: Organisation) -> dict[str, Any]:
    """`hostile_body` as a form posts it, plus the fields the first isolation test posted."""
    form: dict[str, Any] = {
        key: [str(item) for item in value] if isinstance(value, list) else str(value)
        for key, value in hostile_body(secret).items()
    }
    form.update({"role": Role.VIEWER, "email": "intruder@visible.example", "action": ""})
    return form


def foreign_references(organisation: Organisation) -> set[tuple[str, int, str]]:
    """Rows of the organisation that point at another organisation's row, or at someone outside it."""
    members = set(Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True))
    tenant = set(tenant_models())
    found: set[tuple[str, int, str]] = set()
    for model in tenant:
        rows = model._default_manager.filter(organisation=organisation)
        for relation in model._meta.get_fields():
            if not relation.is_relation or relation.auto_created or relation.name == "organisation":
                continue
            target = relation.related_model
            if target in tenant:
                lookup = {f"{relation.name}__organisation": organisation}
                stray = rows.filter(**{f"{relation.name}__isnull": False}).exclude(**lookup)
                found.update((model._meta.label, pk, relation.name) for pk in stray.values_list("pk", flat=True))
            elif target is User and isinstance(relation, models.ForeignKey):
                pairs = rows.exclude(**{f"{relation.attname}__isnull": True}).values_list("pk", relation.attname)
                found.update((model._meta.label, pk, relation.name) for pk, user_id in pairs if user_id not in members)
    return found


# --- the page walk -------------------------------------------------------------------------------
# The two ways a person moves their session to another of their organisations. For someone who belongs to
# the secret organisation too, these must move it there (proving the walk would see any other move).
SESSION_SWITCHES = frozenset({("organisation_open", "GET"), ("organisation_switch", "POST")})
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@dataclass
class PageWalk:
    requests: int = 0
    # Pages opened after a request that wrote something or moved the session (see walk_pages).
    follow_ups: int = 0
    switched: set[tuple[str, str]] = field(default_factory=set)
    wrote: set[tuple[str, str]] = field(default_factory=set)
    # URLs naming the other organisation's object that refused the role before looking for it.
    refused_before_lookup: set[tuple[str, str]] = field(default_factory=set)
    # Requests after which the walker was no longer in the visible organisation with their role.
    own_membership_changed: set[tuple[str, str]] = field(default_factory=set)


def _wrote(queries: CaptureQueriesContext) -> bool:
    # Saving the session is how every signed-in request ends; it changes nothing a page shows.
    return any(_WRITE.match(query["sql"]) and "django_session" not in query["sql"] for query in queries)


def walk_pages(
    *,
    user: User,
    world: TwoOrganisations,
    markers: set[str],
    methods: tuple[str, ...] = ("get", "post"),
    routes: list[Route] | None = None,
) -> PageWalk:
    """Every URL, with every argument filled from the secret organisation, as `user` with the visible
    organisation current, by GET and by POST with a body naming the secret organisation's objects.

    Each request starts from a fresh browser. Asserted for each: nothing of the secret organisation shown;
    URLs naming its objects look exactly like URLs naming nothing (`assert_missing`); the session never
    ends up in it (but for SESSION_SWITCHES when the user belongs to it); and when a request wrote anything
    or moved the session, the dashboard opened next shows nothing of it either. A request that wrote
    nothing to the database and left the session alone has nothing to change the next page with, so the
    dashboard is not opened after every request: that keeps a sweep per role within minutes. Whoever
    leaves the visible organisation (it is one of the URLs) is put back, so the walk still runs as a member."""
    walker = _PageWalker(user, world, markers)
    for route in routes if routes is not None else discover_routes():
        url, names_secret_object = url_naming(route, world.secret)
        for method in methods:
            walker.visit(route, method, url, names_secret_object=names_secret_object)
    return walker.walk


class _PageWalker:
    def __init__(self, user: User, world: TwoOrganisations, markers: set[str]) -> None:
        self.user, self.world, self.markers = user, world, markers
        self.role = Membership.objects.get(user=user, organisation=world.visible).role
        self.in_secret = Membership.objects.filter(user=user, organisation=world.secret).exists()
        self.payload = hostile_form(world.secret)
        self.browsers = Browsers(user, world.visible)
        self.walk = PageWalk()

    def request(self, browser: Client, method: str, url: str) -> Any:
        return getattr(browser, method)(url, self.payload if method == "post" else None)

    def visit(self, route: Route, method: str, url: str, *, names_secret_object: bool) -> None:
        visible, secret = self.world.visible, self.world.secret
        operation = (route.name, method.upper())
        where = f"{method.upper()} {url} as {self.role}"
        browser = self.browsers.new()
        with CaptureQueriesContext(connection) as queries:
            response = self.request(browser, method, url)
        self.walk.requests += 1
        assert_no_leak(response, self.markers, where)
        if route.is_ours and names_secret_object:
            assert_missing(
                response,
                where,
                lambda: self.request(self.browsers.new(), method, url_naming(route, secret, missing=True)[0]),
            )
            if response.status_code == 403:
                self.walk.refused_before_lookup.add(operation)

        still_member = _keep_membership(self.user, visible, self.role)
        if not still_member:
            self.walk.own_membership_changed.add(operation)
        session = browser.session
        now = session.get(SESSION_KEY)
        if self.in_secret and operation in SESSION_SWITCHES:
            assert now == secret.pk, f"{where} did not switch to the user's other organisation"
            self.walk.switched.add(operation)
            return
        if now == secret.pk:
            # Leaving the visible organisation leaves the user's other one current; nothing else may.
            assert self.in_secret, f"{where} moved the session into another organisation"
            assert not still_member, f"{where} moved the session into another organisation"
            return
        if now not in (None, visible.pk):
            assert Membership.objects.filter(user=self.user, organisation_id=now).exists(), (
                f"{where} made organisation {now} current, which is not the user's"
            )
        wrote = _wrote(queries)
        if wrote:
            self.walk.wrote.add(operation)
        if (wrote or now != visible.pk) and session.get("_auth_user_id"):
            # Whatever that request did, the next page the user sees must still be free of the other's data.
            assert_no_leak(browser.get(reverse("dashboard")), self.markers, f"dashboard after {where}")
            self.walk.follow_ups += 1


def assert_missing(response: Any, where: str, ask_for_nothing: Callable[[], Any]) -> None:
    """The other organisation's object must look exactly like one that does not exist: 404 (405 for a
    method the URL lacks), or, for a role refused that URL whatever it names, the 403 an id that exists
    nowhere gets too. A 403 that a missing id does not get would confirm the object exists."""
    if response.status_code == 403:
        nothing = ask_for_nothing()
        assert nothing.status_code == 403, (
            f"{where} answered 403, but {nothing.status_code} for an id that exists nowhere"
        )
        return
    assert response.status_code in (404, 405), f"{where} answered {response.status_code}, not 404"


def _keep_membership(user: User, organisation: Organisation, role: str) -> bool:
    """Whether the user is still in the organisation with their role; if not, they are put back."""
    current = Membership.objects.filter(user=user, organisation=organisation).values_list("role", flat=True).first()
    if current == role:
        return True
    Membership.objects.update_or_create(user=user, organisation=organisation, defaults={"role": role})
    return False


def hand_over(organisation: Organisation, user: User) -> int:
    """Make `user` the person on the organisation's rows (owner, author, assignee, recipient...), so pages
    that show only one's own things (conversations, notifications, tasks) show them theirs. Rows whose
    constraints refuse the change keep their person. Returns how many rows changed."""
    changed = 0
    for model in tenant_models():
        if model is Membership:
            continue
        people = [
            relation.attname
            for relation in model._meta.concrete_fields
            if isinstance(relation, models.ForeignKey) and relation.related_model is User
        ]
        for pk in model._default_manager.filter(organisation=organisation).values_list("pk", flat=True):
            for attname in people:
                try:
                    with transaction.atomic():
                        changed += model._default_manager.filter(pk=pk).update(**{attname: user.pk})
                except (IntegrityError, TypeError):
                    continue  # a unique constraint, or an append-only model (the audit log)
    return changed
