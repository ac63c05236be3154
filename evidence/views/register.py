"""The evidence register: every item of the organisation, filtered, sorted and paged in SQL, and the bulk
actions people apply to the rows they select.

A page costs the same few queries however many items there are: the header counts (one aggregate), the
filter bar's frameworks, controls and members, then the filtered count, one page of rows and one
prefetch of their controls. An htmx request gets only the results (plus out-of-band updates of the
parts of the filter bar and header that depend on them), and the URL it should show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat, pluralize
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Membership, Organisation, User
from accounts.roles import Capability
from assessments.models import FrameworkAdoption
from compliance.models import Control, Framework
from config.formatting import long_date
from config.pages import render_page, wants_fragment
from evidence.forms_register import (
    ACTION_CHOICES,
    EXPIRY_CHOICES,
    MAX_ID,
    SORT_CHOICES,
    SOURCE_CHOICES,
    STATUS_CHOICES,
    TYPE_CHOICES,
    BulkActionForm,
    RegisterFilterForm,
    filter_query,
    is_filtered,
    requested_action,
)
from evidence.models import Evidence, EvidenceForm, EvidenceSource, EvidenceStatus
from evidence.quality import band_for
from evidence.selectors import RegisterFilters, current_evidence_q, register_for
from evidence.services.items import evidence_bulk as bulk_apply

TEMPLATE = "evidence/evidence_list.html"
PAGE_SIZE = 25
EXPIRING_DAYS = 30  # the header's "expiring soon", the same window as the "30" expiry filter
SHOWN_CONTROLS = 3
# Long text the table never shows: left in the database so a page of rows stays small.
UNSHOWN_FIELDS = ("description", "note", "extracted_text", "reviewer_comment")

STATUS_BADGES: dict[str, str] = {
    EvidenceStatus.DRAFT: "badge-muted",
    EvidenceStatus.SUBMITTED: "badge-warning",
    EvidenceStatus.ACCEPTED: "badge-success",
    EvidenceStatus.REJECTED: "badge-danger",
    EvidenceStatus.EXPIRED: "badge-danger",
}


# --- What the page is built from -----------------------------------------------------------------
@dataclass(frozen=True)
class FrameworkOption:
    pk: int
    slug: str
    name: str
    adopted: bool

    @property
    def short_name(self) -> str:
        # "SOC 2 (AICPA Trust Services Criteria)" reads as "SOC 2" on a badge.
        return self.name.split(" (", 1)[0]


@dataclass(frozen=True)
class ControlOption:
    pk: int
    label: str  # "8.5 Secure authentication", shortened for a select
    framework_id: int


@dataclass(frozen=True)
class ControlGroupOption:
    framework: FrameworkOption
    controls: list[ControlOption]


@dataclass(frozen=True)
class RegisterCounts:
    total: int
    current: int
    expiring: int
    expired: int
    awaiting_review: int


@dataclass(frozen=True)
class RegisterRow:
    """One item as the table shows it, worked out here so the template only prints: its controls as
    short badges, what it is, how long it lasts."""

    pk: int
    title: str
    form: str  # "file", "link" or "note": the icon beside the title
    form_label: str
    detail: str  # the file's name and size, the link's domain, or "Written note"
    type_label: str
    badges: list[str]
    more_controls: int
    owner: str  # empty for nobody
    collected_on: date
    valid_until: date | None
    expiry_label: str
    expiry_badge: str
    status_label: str
    status_badge: str
    quality: int
    quality_band: str

    @property
    def collected_label(self) -> str:
        return long_date(self.collected_on)

    @property
    def valid_label(self) -> str:
        return long_date(self.valid_until) if self.valid_until else ""


@dataclass
class Register:
    """One page of the register for one set of filters, with everything the filter bar needs."""

    filters: RegisterFilters
    frameworks: list[FrameworkOption]
    framework_controls: list[ControlOption]
    control_groups: list[ControlGroupOption]
    members: list[User]
    rows: list[RegisterRow]
    total: int
    page: int
    num_pages: int
    query: dict[str, str]
    counts: RegisterCounts | None = None

    @property
    def url(self) -> str:
        return self.page_url(self.page)

    def page_url(self, page: int) -> str:
        query = {**self.query, "page": str(page)} if page > 1 else self.query
        return reverse("evidence_list", query=query or None)

    @property
    def previous_url(self) -> str | None:
        return self.page_url(self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.page_url(self.page + 1) if self.page < self.num_pages else None

    @property
    def first_index(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * PAGE_SIZE, self.total)

    @property
    def is_filtered(self) -> bool:
        return is_filtered(self.filters)

    @property
    def hidden_fields(self) -> list[tuple[str, str]]:
        """The filters and page as form fields, so a bulk action comes back to the same rows."""
        return [*self.query.items(), *([("page", str(self.page))] if self.page > 1 else [])]

    @cached_property
    def owner_filter_options(self) -> SafeString:
        return options_html(((person.pk, person.display_name) for person in self.members), self.filters.owner)

    @cached_property
    def owner_options(self) -> SafeString:
        return options_html((person.pk, person.display_name) for person in self.members)

    @cached_property
    def control_filter_options(self) -> SafeString:
        return options_html(((control.pk, control.label) for control in self.framework_controls), self.filters.control)

    @cached_property
    def control_options(self) -> SafeString:
        return format_html_join(
            "",
            '<optgroup label="{}">{}</optgroup>',
            (
                (group.framework.name, options_html((control.pk, control.label) for control in group.controls))
                for group in self.control_groups
            ),
        )


def options_html(choices: Iterable[tuple[object, str]], selected: object = None) -> SafeString:
    """`<option>`s built in Python: the longest lists (the library's controls, the members) cost more
    through template loops, or even format_html, than the rest of the page. Every value is escaped."""
    return mark_safe(  # noqa: S308 - built from escaped values only
        "".join(
            f'<option value="{escape(str(value))}"{" selected" if value == selected else ""}>{escape(label)}</option>'
            for value, label in choices
        )
    )


# --- Loading ---------------------------------------------------------------------------------------
def frameworks_for(organisation: Organisation) -> list[FrameworkOption]:
    """Every framework in the library, the organisation's adopted ones first."""
    adopted = FrameworkAdoption.objects.filter(organisation=organisation, framework=OuterRef("pk"))
    rows = (
        Framework.objects.annotate(adopted=Exists(adopted))
        .order_by("-adopted", "position", "name")
        .values_list("pk", "slug", "name", "adopted")
    )
    return [FrameworkOption(pk=pk, slug=slug, name=name, adopted=bool(flag)) for pk, slug, name, flag in rows]


def controls_of(framework_ids: set[int]) -> list[ControlOption]:
    rows = (
        Control.objects.live()
        .filter(framework_id__in=framework_ids)
        .order_by("framework__position", "position")
        .values_list("pk", "ref", "title", "framework_id")
    )
    return [ControlOption(pk, _shorten(f"{ref} {title}", 80), framework_id) for pk, ref, title, framework_id in rows]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def members_of(organisation: Organisation) -> list[User]:
    people = User.objects.filter(memberships__organisation=organisation).only("pk", "full_name", "email")
    return sorted(people, key=lambda person: person.display_name.lower())


def register_counts(organisation: Organisation, today: date) -> RegisterCounts:
    """The header's figures for the whole register, in one aggregate query."""
    soon = today + timedelta(days=EXPIRING_DAYS)
    # Counting a column of the (organisation, status, valid_until) index rather than the id, so the
    # database can answer from the index alone without visiting the rows.
    figures = Evidence.objects.filter(organisation=organisation).aggregate(
        total=Count("*"),
        current=Count("status", filter=current_evidence_q(today)),
        expiring=Count("status", filter=Q(valid_until__gte=today, valid_until__lte=soon)),
        expired=Count("status", filter=Q(valid_until__lt=today)),
        awaiting_review=Count("status", filter=Q(status=EvidenceStatus.SUBMITTED)),
    )
    return RegisterCounts(**figures)


def _with_control_badges(items: QuerySet[Evidence]) -> QuerySet[Evidence]:
    # Only what a badge shows: the library's long texts would make the prefetch the page's heaviest query.
    controls = Control.objects.only("pk", "ref", "position", "framework_id").order_by("framework__position", "position")
    return items.prefetch_related(Prefetch("controls", queryset=controls))


def _page_of(items: QuerySet[Evidence], offset: int) -> QuerySet[Evidence]:
    """One page of rows. The page's ids are picked in a subquery that skips the joins, so a deep page or
    a sort by title does not join the owner and file of every row it passes over."""
    page_ids = items.values("pk")[offset : offset + PAGE_SIZE]
    # The filters are not repeated outside: the ids already satisfy them, and repeating an EXISTS filter
    # would make the database test it on every row again.
    page = Evidence.objects.filter(pk__in=Subquery(page_ids)).select_related("owner", "current_revision")
    return _with_control_badges(page.order_by(*items.query.order_by).defer(*UNSHOWN_FIELDS))


def _row(evidence: Evidence, framework_names: dict[int, str], today: date) -> RegisterRow:
    badges = [
        f"{framework_names.get(control.framework_id, '')} {control.ref}".strip() for control in evidence.controls.all()
    ]
    expiry_label, expiry_badge = _expiry(evidence.days_left(today))
    return RegisterRow(
        pk=evidence.pk,
        title=evidence.title,
        form=evidence.form,
        form_label=evidence.get_form_display(),
        detail=_detail(evidence),
        type_label=evidence.get_evidence_type_display(),
        badges=badges[:SHOWN_CONTROLS],
        more_controls=max(len(badges) - SHOWN_CONTROLS, 0),
        owner=evidence.owner.display_name if evidence.owner_id and evidence.owner else "",
        collected_on=evidence.collected_on,
        valid_until=evidence.valid_until,
        expiry_label=expiry_label,
        expiry_badge=expiry_badge,
        status_label=evidence.get_status_display(),
        status_badge=STATUS_BADGES.get(evidence.status, ""),
        quality=evidence.quality,
        quality_band=band_for(evidence.quality),
    )


def _detail(evidence: Evidence) -> str:
    revision = evidence.current_revision if evidence.current_revision_id else None
    if evidence.form == EvidenceForm.FILE and revision is not None:
        detail = f"{revision.original_name} · {filesizeformat(revision.size)}"
    elif evidence.form == EvidenceForm.LINK:
        detail = _domain(evidence.url)
    else:
        detail = evidence.get_form_display()
    if evidence.source != EvidenceSource.MANUAL:
        detail += f" · collected from {evidence.get_source_display()}"
    return detail


def _expiry(days_left: int | None) -> tuple[str, str]:
    """The valid-until column's badge: expired, today, or counting down within the header's window."""
    if days_left is None or days_left > EXPIRING_DAYS:
        return "", ""
    if days_left < 0:
        return "Expired", "badge-danger"
    if days_left == 0:
        return "Expires today", "badge-warning"
    return f"Expires in {days_left} day{pluralize(days_left)}", "badge-warning"


def _domain(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def database_id(value: object) -> int | None:
    """A whole number a primary key could be, or None (a larger one would overflow the database)."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number <= MAX_ID else None


def _page_number(data: Mapping[str, Any]) -> int:
    try:
        page = int(str(data.get("page") or 1))
    except ValueError:
        return 1
    return min(max(page, 1), 1_000_000)


def _implied_framework(data: QueryDict, frameworks: list[FrameworkOption]) -> QueryDict:
    """`?control=ID` alone (from a control's page) chooses that control's framework too, so the filter
    bar shows both; a control of another framework than the one chosen is dropped by the form."""
    slugs = {framework.slug for framework in frameworks}
    control_id = database_id(data.get("control"))
    if data.get("framework") in slugs or control_id is None:
        return data
    slug = Control.objects.filter(pk=control_id).values_list("framework__slug", flat=True).first()
    if slug is None:
        return data
    data = data.copy()
    data["framework"] = slug
    return data


@dataclass(frozen=True)
class FilterChoices:
    """The filters as understood (bad values dropped) and the choices the filter bar offers."""

    filters: RegisterFilters
    frameworks: list[FrameworkOption]
    controls: list[ControlOption]
    members: list[User]


def resolve_filters(organisation: Organisation, data: QueryDict, *, all_controls: bool) -> FilterChoices:
    """Validate the parameters against the organisation's frameworks, controls and members. The chosen
    framework's controls are loaded for its filter; `all_controls` adds every control a bulk action can
    map to (the adopted frameworks', or the whole library's before any is adopted)."""
    frameworks = frameworks_for(organisation)
    data = _implied_framework(data, frameworks)
    chosen = next((f for f in frameworks if f.slug == data.get("framework")), None)
    wanted = {chosen.pk} if chosen else set()
    if all_controls:
        wanted |= {f.pk for f in frameworks if f.adopted} or {f.pk for f in frameworks}
    controls = controls_of(wanted) if wanted else []
    members = members_of(organisation)
    form = RegisterFilterForm(
        data,
        framework_slugs=[f.slug for f in frameworks],
        control_ids=[control.pk for control in controls if chosen and control.framework_id == chosen.pk],
        owner_ids=[member.pk for member in members],
    )
    return FilterChoices(filters=form.filters(), frameworks=frameworks, controls=controls, members=members)


def build_register(
    organisation: Organisation, data: QueryDict, *, full_page: bool, today: date | None = None
) -> Register:
    """One page of rows for these parameters. A full page also has the header counts and the bulk
    action's controls; an htmx update only needs what changes with the filters."""
    today = today or date.today()
    choices = resolve_filters(organisation, data, all_controls=full_page)
    filters, frameworks = choices.filters, choices.frameworks
    counts = register_counts(organisation, today) if full_page else None
    items = register_for(organisation, filters, today=today)
    # Unfiltered, the header has already counted every row.
    total = counts.total if counts and not is_filtered(filters) else items.count()
    num_pages = max(math.ceil(total / PAGE_SIZE), 1)
    page = min(_page_number(data), num_pages)
    offset = (page - 1) * PAGE_SIZE
    names = {f.pk: f.short_name for f in frameworks}
    rows = [_row(evidence, names, today) for evidence in _page_of(items, offset)]
    chosen = next((f for f in frameworks if f.slug == filters.framework), None)
    return Register(
        filters=filters,
        frameworks=frameworks,
        framework_controls=[c for c in choices.controls if chosen and c.framework_id == chosen.pk],
        control_groups=_grouped(choices.controls, frameworks) if full_page else [],
        members=choices.members,
        rows=rows,
        total=total,
        page=page,
        num_pages=num_pages,
        query=filter_query(filters),
        counts=counts,
    )


def _grouped(controls: list[ControlOption], frameworks: list[FrameworkOption]) -> list[ControlGroupOption]:
    by_framework = {f.pk: f for f in frameworks}
    groups: dict[int, list[ControlOption]] = {}
    for control in controls:
        groups.setdefault(control.framework_id, []).append(control)
    return [ControlGroupOption(by_framework[pk], options) for pk, options in groups.items()]


def _context(membership: Membership, register: Register, *, oob: bool) -> dict[str, Any]:
    can_approve = membership.can(Capability.APPROVE)
    return {
        "register": register,
        "filters": register.filters,
        "counts": register.counts,
        "oob": oob,
        "list_url": reverse("evidence_list"),
        "status_choices": STATUS_CHOICES,
        "type_choices": TYPE_CHOICES,
        "expiry_choices": EXPIRY_CHOICES,
        "source_choices": SOURCE_CHOICES,
        "sort_choices": SORT_CHOICES,
        "action_choices": [choice for choice in ACTION_CHOICES if choice[0] != "accept" or can_approve],
        "expiring_days": EXPIRING_DAYS,
    }


# --- Views -----------------------------------------------------------------------------------------
@require_GET
@member_required()
def evidence_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    fragment = wants_fragment(request)
    register = build_register(membership.organisation, request.GET, full_page=not fragment)
    response = render_page(request, TEMPLATE, _context(membership, register, oob=fragment), fragment="results")
    if fragment:
        # The canonical address of what is shown: bad or stale parameters do not linger in a bookmark.
        response["HX-Push-Url"] = register.url
    return response


@require_POST
@member_required(Capability.EDIT)
def evidence_bulk(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    if requested_action(request.POST) == "accept":
        require_membership(request, Capability.APPROVE)
    form = BulkActionForm(request.POST)
    if form.is_valid():
        _apply(request, membership.organisation, form)
    else:
        problems = [str(problem) for problem in form.non_field_errors()]
        messages.error(request, " ".join(problems) or "Choose an action and the items to apply it to.")
    if not wants_fragment(request):
        return redirect(_register_url(membership.organisation, request.POST))
    register = build_register(membership.organisation, request.POST, full_page=False)
    # The header's figures change with the action, so they come back too.
    register.counts = register_counts(membership.organisation, date.today())
    return render_page(request, TEMPLATE, _context(membership, register, oob=True), fragment="results")


def _register_url(organisation: Organisation, data: QueryDict) -> str:
    """Where a bulk action without JavaScript goes back to: the same filters and page."""
    query = filter_query(resolve_filters(organisation, data, all_controls=False).filters)
    page = _page_number(data)
    if page > 1:
        query["page"] = str(page)
    return reverse("evidence_list", query=query or None)


def _apply(request: HttpRequest, organisation: Organisation, form: BulkActionForm) -> None:
    try:
        result = bulk_apply(
            organisation=organisation,
            actor=Actor.from_request(request),
            ids=form.cleaned_data["ids"],
            action=form.cleaned_data["action"],
            value=form.value,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return
    if result.changed:
        messages.success(request, result.message)
    else:
        messages.warning(request, result.message)
