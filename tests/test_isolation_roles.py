"""Cross-organisation sweep for every role (issue 11): people in both organisations, downloads, the admin.

`test_isolation.py` walks every URL as each role of organisation A; `test_api_isolation.py` walks the API
with keys, partner keys and browser sessions of each role. This module adds:
- someone in both organisations (each role in A, viewer in B; and viewer in A, owner in B) with A current:
  B's objects through A's URLs still 404 and A's pages show nothing of B but its name in the switcher,
  because the current organisation decides, not membership somewhere;
- someone who has left B, whom B's rows still name: nothing of B anywhere;
- every download (found by walking, so a new one cannot be missed) for each role: B's ids 404, and A's
  own downloads, read as text whatever their format, hold nothing of B;
- the admin for owners, admins, members and viewers who are not staff: the admin sign-in, or a 404 for
  the admin's own object URLs, and nothing changed.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from html import escape, unescape
from typing import Any

import pypdf
import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.db import models
from django.urls import reverse
from PIL import Image

from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.tenancy import tenant_models
from accounts.tests.factories import DataExportFactory, MembershipFactory, UserFactory
from assessments.exports.cyber_essentials import CYBER_ESSENTIALS_SLUG
from assessments.exports.soa import ISO27001_SLUG
from assessments.tests.factories import AnswerFactory, FrameworkAdoptionFactory, ReportRunFactory
from compliance.models import Framework
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from evidence.models import Evidence, EvidenceRevision
from tests.isolation import (
    SESSION_SWITCHES,
    THIRD_PARTY_KWARGS,
    Browsers,
    Route,
    TwoOrganisations,
    assert_missing,
    assert_no_leak,
    discover_routes,
    foreign_references,
    hand_over,
    hostile_form,
    organisation_rows,
    person_in,
    secret_markers,
    two_organisations,
    url_naming,
    walk_pages,
)

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.CONSULTANT]


@pytest.fixture
def world():
    return two_organisations()


# --- people in both organisations ----------------------------------------------------------------
def in_both(world: TwoOrganisations, role_in_visible: str, role_in_secret: str = Role.VIEWER) -> User:
    """Someone in both organisations, joined to the secret one first (so it is the one the middleware
    would fall back to), and the person on B's rows (its conversations, notifications, tasks are theirs)."""
    person = UserFactory.create(
        email=f"both-{role_in_visible}@visible.example", is_staff=role_in_visible == Role.CONSULTANT
    )
    MembershipFactory(organisation=world.secret, role=role_in_secret, user=person)
    MembershipFactory(organisation=world.visible, role=role_in_visible, user=person)
    assert hand_over(world.secret, person)
    return person


# A person's own pages, not an organisation's: what they show of every organisation the person belongs to
# is theirs, so someone in B sees B there. (Someone not in B must see nothing of it there either: see the
# former member below.)
PERSONAL_URLS = {"account_data_export": "everything Greenlight holds about the person (UK GDPR right of access)"}


def markers_for_both(world: TwoOrganisations) -> set[str]:
    # B's name and address are theirs to see: the organisation switcher lists both organisations.
    return secret_markers(world.secret, world.visible) - {world.secret.name, world.secret.slug}


# Who is in both, and how they walk. Every role of A reads; the owner of A (who reaches every form) and a
# viewer of A who owns B (whose writes B itself would accept, were a view to ask whether they may write
# anywhere rather than here) post to every URL as well. The other roles' posts are the one-organisation
# walks' (test_isolation.py): posting as them again here would add a minute and nothing else.
BOTH = [
    (Role.OWNER, Role.VIEWER, ("get", "post")),
    *((role, Role.VIEWER, ("get",)) for role in ROLES if role != Role.OWNER),
    (Role.VIEWER, Role.OWNER, ("get", "post")),
]


@pytest.mark.parametrize(
    ("role_in_visible", "role_in_secret", "methods"),
    BOTH,
    ids=[f"{a}-in-A-{b}-in-B-{'+'.join(methods)}" for a, b, methods in BOTH],
)
def test_in_both_organisations_the_current_one_decides(world, role_in_visible, role_in_secret, methods):
    person = in_both(world, role_in_visible, role_in_secret)
    markers = markers_for_both(world)
    assert len(markers) > 20
    before = organisation_rows(world.secret, walker=person)
    references_before = foreign_references(world.visible)

    # The API names its organisation in the URL rather than taking the session's: B's address is theirs to
    # use as B's viewer. test_api_isolation.py holds them to that role there.
    routes = [
        route
        for route in discover_routes()
        if "organisation_slug" not in route.kwargs and route.name not in PERSONAL_URLS
    ]

    walk = walk_pages(user=person, world=world, markers=markers, routes=routes, methods=methods)

    # The switchers did move the session (so the walk would have seen any other move), and nothing else.
    assert walk.switched == {switch for switch in SESSION_SWITCHES if switch[1].lower() in methods}
    assert walk.own_membership_changed <= {("membership_leave", "POST")}
    assert organisation_rows(world.secret, walker=person) == before, "another organisation's data changed"
    assert foreign_references(world.visible) - references_before == set(), "a row now points at another organisation"
    assert Membership.objects.get(organisation=world.secret, user=person).role == role_in_secret


def test_someone_who_has_left_the_other_organisation_sees_nothing_of_it(world):
    """A former member of B, now only in A, whom B's rows still name (their evidence, tasks, conversations,
    invitations...): nothing of B on any page or download. GET only: the walks above post to every URL."""
    person = person_in(world.secret, Role.OWNER, email="former@visible.example")
    assert hand_over(world.secret, person)
    Membership.objects.filter(organisation=world.secret, user=person).delete()
    MembershipFactory(organisation=world.visible, role=Role.MEMBER, user=person)
    markers = secret_markers(world.secret, world.visible)

    walk = walk_pages(user=person, world=world, markers=markers, methods=("get",))

    assert walk.requests == len(discover_routes())


# --- downloads ----------------------------------------------------------------------------------
# Every download there is today. The sweep finds downloads by walking every URL, so a new one is checked
# without being listed; this list only proves the finding works (a download it stopped seeing fails here).
KNOWN_DOWNLOADS = {
    "admin:evidence_evidence_file",
    "api_evidence_download",
    "api_policy_export",
    "api_report_download",
    "assistant_export",
    "data_export_download",
    "evidence_revision_download",
    "export_controls_csv",
    "export_cyber_essentials",
    "export_evidence_csv",
    "export_evidence_pack",
    "export_soa_pdf",
    "export_soa_xlsx",
    "export_tasks_csv",
    "organisation_logo",
    "policy_version_docx",
    "policy_version_pdf",
    "report_download",
}
# A URL named like a download must be one for someone in its organisation (else it escaped the sweep),
# unless it is a page about downloads, listed here with what it is.
DOWNLOAD_NAME = re.compile(r"(download|_pdf|_docx|_xlsx|_csv|_file|_logo)$|^export_|_export$")
NOT_DOWNLOADS = {"settings_data_export": "the page listing the organisation's exports"}
# Answers that are pages rather than files. Anything else, or anything sent as an attachment, is a download.
PAGE_TYPES = {"text/html", "application/json", "application/problem+json", "text/event-stream"}
# Files that hold nothing of any organisation: still checked for B's data, but not expected to show A's.
NO_ORGANISATION_DATA = {"metrics": "Prometheus counters of requests and tasks, for the operators"}
# The other ways the same downloads are asked for.
QUERY_VARIANTS: dict[str, list[dict[str, str]]] = {
    "evidence_revision_download": [{}, {"inline": "1"}],
    "assistant_export": [{}, {"format": "json"}],
    "export_evidence_pack": [{}, {"scope": "accepted"}],
}
# How many objects of each model a download is tried with (build_tenant_data makes two; the world adds a
# finished report, which comes third).
ROWS = 3


def content_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content


def content_type_of(response: Any) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def is_download(response: Any) -> bool:
    if response.status_code != 200:
        return False
    return "Content-Disposition" in response.headers or content_type_of(response) not in PAGE_TYPES


def text_of(content: bytes, name: str = "") -> str:
    """What a person would read in a file: PDF text, the XML text of Word and Excel files, and the files
    inside a ZIP (each read the same way), else the bytes as UTF-8."""
    if content.startswith(b"%PDF") and b"%%EOF" in content[-1024:]:
        return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    if zipfile.is_zipfile(io.BytesIO(content)):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return " ".join(f"{member} {text_of(archive.read(member), member)}" for member in archive.namelist())
    text = content.decode("utf-8", errors="replace")
    if name.endswith((".xml", ".rels")):
        return unescape(re.sub(r"<[^>]*>", " ", text))
    return text


def _squashed(text: str) -> str:
    # PDF text comes out with its own line breaks and spacing; compare with all whitespace removed.
    return re.sub(r"\s+", "", text)


def stored_files(organisation: Organisation) -> set[bytes]:
    """The contents of every file the organisation has stored: its logo and its rows' files."""
    files = [organisation.logo] if organisation.logo else []
    for model in tenant_models():
        names = [field.name for field in model._meta.concrete_fields if isinstance(field, models.FileField)]
        for row in model._default_manager.filter(organisation=organisation):
            files.extend(getattr(row, name) for name in names if getattr(row, name))
    found = set()
    for stored in files:
        with stored.open("rb") as handle:
            found.add(handle.read())
    return found


class Contents:
    """What must not be in a download of A (B's words and files), and what should be (A's, to prove the
    file was read at all)."""

    def __init__(self, world: TwoOrganisations) -> None:
        self.secret_words = {_squashed(marker) for marker in secret_markers(world.secret, world.visible)}
        self.own_words = {_squashed(marker) for marker in secret_markers(world.visible, world.secret)}
        theirs, ours = stored_files(world.secret), stored_files(world.visible)
        self.secret_files = {content for content in theirs - ours if not any(content in own for own in ours)}
        self.own_files = ours - theirs

    def check(self, response: Any, where: str) -> bool:
        """Asserts the download holds nothing of B; returns whether it visibly holds something of A."""
        content = content_of(response)
        text = _squashed(text_of(content) + " ".join(f"{k}: {v}" for k, v in response.headers.items()))
        for word in self.secret_words:
            assert word not in text, f"{where} holds {word!r} of B"
            assert _squashed(escape(word)) not in text, f"{where} holds {word!r} of B"
        for stored in self.secret_files:
            assert stored not in content, f"{where} holds one of B's files"
        return any(word in text for word in self.own_words) or any(own in content for own in self.own_files)


def give_files(organisation: Organisation, colour: tuple[int, int, int], frameworks: list[Framework]) -> None:
    """What downloads need beyond build_tenant_data's rows: a logo and a finished report of its own, its
    evidence files as their items' current revisions, and the frameworks the exports are about, adopted."""
    image = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(image, format="PNG")
    organisation.logo.save("logo.png", ContentFile(image.getvalue()), save=True)
    report = f"%PDF-1.7 readiness report of {organisation.name}".encode()
    ReportRunFactory(organisation=organisation, done=True, file=ContentFile(report, name="readiness-report.pdf"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as export:
        export.writestr("organisation.json", json.dumps({"name": organisation.name}))
    DataExportFactory(organisation=organisation, ready=True, file=ContentFile(archive.getvalue(), name="export.zip"))
    for revision in EvidenceRevision.objects.filter(organisation=organisation):
        Evidence.objects.filter(pk=revision.evidence_id).update(current_revision=revision)
    for framework in frameworks:
        FrameworkAdoptionFactory(organisation=organisation, framework=framework)
        for control in framework.controls.all():
            AnswerFactory(organisation=organisation, control=control)


def export_frameworks() -> list[Framework]:
    """Small stand-ins for the ISO 27001 and Cyber Essentials libraries the exports are written from."""
    iso = FrameworkFactory.create(slug=ISO27001_SLUG, name="ISO/IEC 27001")
    essentials = FrameworkFactory.create(slug=CYBER_ESSENTIALS_SLUG, name="Cyber Essentials")
    for framework, group in ((iso, "A.5"), (essentials, "FW")):
        ControlFactory.create_batch(2, group=ControlGroupFactory(framework=framework, ref=group))
    return [iso, essentials]


def urls(route: Route, organisation: Organisation, *, address: Organisation | None = None) -> Iterator[str]:
    """The route's URL for each of the organisation's first ROWS objects (once if it names none), with
    each query variant."""
    for row in range(ROWS):
        try:
            url, names_object = url_naming(route, organisation, row=row, address=address)
        except IndexError:
            return
        for query in QUERY_VARIANTS.get(route.name, [{}]):
            yield url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")
        if not names_object:
            return


def find_downloads(world: TwoOrganisations, people: list[User]) -> list[Route]:
    """Every route that answers one of these people of A with a file, for some object of A."""
    browsers = [Browsers(person, world.visible) for person in people]
    return [route for route in discover_routes() if route.is_ours and _gives_a_file(route, world, browsers)]


def _gives_a_file(route: Route, world: TwoOrganisations, browsers: list[Browsers]) -> bool:
    for browser in browsers:
        for url in urls(route, world.visible):
            response = browser.new().get(url)
            if is_download(response):
                return True
            if response.status_code in (200, 405):
                return False  # a page, or not a GET: no other object or person makes it a file
    return False


@pytest.fixture
def downloads_world(world):
    frameworks = export_frameworks()
    give_files(world.visible, (0, 128, 0), frameworks)
    give_files(world.secret, (128, 0, 0), frameworks)
    return world


def test_every_download_is_found_and_keeps_to_its_organisation_for_every_role(downloads_world):
    world = downloads_world
    contents = Contents(world)
    assert contents.secret_files, "B has no files of its own to look for"
    founder = Membership.objects.get(organisation=world.visible, role=Role.OWNER).user
    consultant = person_in(world.visible, Role.CONSULTANT, email="adviser@visible.example", staff=True)
    hand_over(world.visible, founder)

    downloads = find_downloads(world, [founder, consultant])
    names = {route.name for route in downloads}
    assert names >= KNOWN_DOWNLOADS, f"no longer found as downloads: {sorted(KNOWN_DOWNLOADS - names)}"
    named_like_one = {
        route.name for route in discover_routes() if route.is_ours and DOWNLOAD_NAME.search(route.name)
    } - set(NOT_DOWNLOADS)
    assert named_like_one <= names, (
        f"{sorted(named_like_one - names)} look like downloads but gave A's owner and consultant no file: "
        "give the factories a row they can download"
    )

    people = [
        person_in(world.visible, role, email=f"{role}@visible.example", staff=role == Role.CONSULTANT) for role in ROLES
    ]
    people.append(in_both(world, Role.OWNER))
    shown: set[str] = set()
    for person in people:
        hand_over(world.visible, person)
        shown |= check_downloads_of(person, world, downloads, contents)

    # Each download was read and held A's own data (else the search for B's proved nothing).
    assert shown == names - set(NO_ORGANISATION_DATA), f"never seen holding A's data: {sorted(names - shown)}"


def check_downloads_of(person: User, world: TwoOrganisations, downloads: list[Route], contents: Contents) -> set[str]:
    """Each download as `person` with A current: A's own hold nothing of B, B's objects are missing (from A,
    and for the API at B's address too unless B is theirs). Returns the downloads seen holding A's data."""
    browsers = Browsers(person, world.visible)
    in_secret = Membership.objects.filter(organisation=world.secret, user=person).exists()
    role = Membership.objects.get(organisation=world.visible, user=person).role
    shown, downloaded = set(), 0
    for route in downloads:
        if in_secret and route.name in PERSONAL_URLS:
            continue
        own = list(urls(route, world.visible))
        for url in own:
            response = browsers.new().get(url)
            where = f"GET {url} as {role}"
            assert response.status_code < 500, f"{where} answered {response.status_code}"
            if is_download(response):
                downloaded += 1
                if contents.check(response, where):
                    shown.add(route.name)
        # An API URL names its organisation: B's address too, for those who are not B's.
        by_address = "organisation_slug" in route.kwargs and not in_secret
        for address in [world.visible, world.secret] if by_address else [world.visible]:
            for url in urls(route, world.secret, address=address):
                if url in own:
                    continue  # it names nothing of B: the current organisation's export
                response = browsers.new().get(url)
                where = f"GET {url} as {role} (B's object)"
                assert not is_download(response), f"{where} answered a file"
                assert_missing(response, where, _asking_for_nothing(browsers, route, world.secret, address))
    assert downloaded, f"{role} downloaded nothing"
    return shown


def _asking_for_nothing(
    browsers: Browsers, route: Route, organisation: Organisation, address: Organisation
) -> Callable[[], Any]:
    def ask() -> Any:
        return browsers.new().get(url_naming(route, organisation, missing=True, address=address)[0])

    return ask


# --- the admin, for people who are not staff ------------------------------------------------------
# Admin URLs open to everyone: signing in to the admin (and out of it).
ADMIN_SIGN_IN = {"admin:login", "admin:logout"}
# The admin's own object URLs (review, reply, file) look up their object for staff only; to anyone else
# it does not exist, so they answer 404 rather than offer to sign in for any id (accounts/admin_scope.py).
ADMIN_OBJECT_URLS_MISSING = {
    "admin:chat_conversation_reply",
    "admin:chat_conversation_resolve",
    "admin:evidence_evidence_file",
    "admin:evidence_evidence_review",
    "admin:policies_policy_publish",
    "admin:policies_policy_review",
}
# Our own admin pages besides the models' (the consultants' client list, the library import, partners'
# keys): proof the walk reached them.
CUSTOM_ADMIN_PAGES = {
    "admin:client_overview",
    "admin:client_detail",
    "admin:compliance_framework_import",
    "admin:accounts_partner_issue_key",
    *ADMIN_OBJECT_URLS_MISSING,
}


def admin_model_prefixes() -> dict[str, type[models.Model]]:
    return {f"admin:{model._meta.app_label}_{model._meta.model_name}_": model for model in admin.site._registry}


def admin_url(route: Route, organisation: Organisation, prefixes: dict[str, type[models.Model]]) -> str:
    """The admin URL naming the organisation's object where it names one: a model admin's object_id is
    filled with the organisation's first row of that model, our own admin URLs as every sweep fills them."""
    if route.is_ours:
        return url_naming(route, organisation)[0]
    kwargs = {name: THIRD_PARTY_KWARGS[name] for name in route.kwargs}
    model = next((model for prefix, model in prefixes.items() if route.name.startswith(prefix)), None)
    if "object_id" in kwargs and model is not None:
        row = _first_row_of(model, organisation)
        if row is not None:
            kwargs["object_id"] = str(row.pk)
    return reverse(route.name, kwargs=kwargs)


def _first_row_of(model: type[models.Model], organisation: Organisation) -> models.Model | None:
    if model is Organisation:
        return organisation
    if model is User:
        return User.objects.filter(memberships__organisation=organisation).order_by("pk").first()
    if any(field.name == "organisation" for field in model._meta.concrete_fields):
        return model._default_manager.filter(organisation=organisation).order_by("pk").first()
    return None


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER])
def test_people_who_are_not_staff_are_sent_to_the_admin_sign_in_from_every_admin_url(world, role):
    person = person_in(world.visible, role, email=f"{role}@visible.example")
    browsers = Browsers(person, world.visible)
    # Nothing of either organisation, A included: the admin is no place for them. Their own name aside, and
    # A's, which the site's layout shows them (the 404 page of the admin's own object URLs is the site's).
    markers = (secret_markers(world.secret, world.visible) | secret_markers(world.visible, world.secret)) - {
        person.email,
        person.full_name,
        world.visible.name,
        world.visible.slug,
    }
    before = organisation_rows(world.visible, walker=person), organisation_rows(world.secret)
    sign_in = reverse("admin:login")
    prefixes = admin_model_prefixes()
    routes = [route for route in discover_routes() if route.name.startswith("admin:")]
    payload = hostile_form(world.secret)
    redirected, missing = set(), set()

    for route in routes:
        for url in {admin_url(route, organisation, prefixes) for organisation in (world.visible, world.secret)}:
            for method in ("get", "post"):
                where = f"{method.upper()} {url} as a {role} who is not staff"
                response = getattr(browsers.new(), method)(url, payload if method == "post" else None)
                assert_no_leak(response, markers, where)
                if route.name in ADMIN_SIGN_IN:
                    continue
                if route.name in ADMIN_OBJECT_URLS_MISSING:
                    assert response.status_code in (404, 405), f"{where} answered {response.status_code}, not 404"
                    missing.add(route.name)
                    continue
                assert response.status_code == 302, (
                    f"{where} answered {response.status_code}, not the admin sign-in (an object URL of our own that "
                    "looks its object up through get_object_for belongs in ADMIN_OBJECT_URLS_MISSING)"
                )
                assert response["Location"].startswith(f"{sign_in}?next="), (
                    f"{where} sent them to {response['Location']}"
                )
                redirected.add(route.name)

    assert redirected | missing >= CUSTOM_ADMIN_PAGES
    assert len(redirected) > 50, "expected every model admin's pages"
    assert (organisation_rows(world.visible, walker=person), organisation_rows(world.secret)) == before
