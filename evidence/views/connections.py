"""Automated collection pages: a card per provider (what it reads, its state, connect, collect now and
disconnect), the OAuth callback, and a run's page, which follows a run in progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Organisation
from accounts.roles import Capability
from compliance.models import Control
from config.pages import render_page, wants_fragment
from config.queueing import watch_enqueues
from config.schedules import PERIODIC_TASKS
from evidence import selectors
from evidence.access import get_connection_for, get_run_for
from evidence.connectors import connector_class, connector_for
from evidence.connectors.base import ConnectorError
from evidence.models import CheckResult, CollectionRun, Connection, ConnectionStatus, Provider, RunStatus
from evidence.services import collection

LIST_TEMPLATE = "evidence/connections.html"
RUN_TEMPLATE = "evidence/run_detail.html"
COLLECT_TASK = "evidence.collect_all"
HISTORY_LIMIT = 30

# The environment variables an administrator sets to configure each provider (read in config/settings.py).
PROVIDER_ENV_VARS: dict[str, tuple[str, ...]] = {
    Provider.GOOGLE_WORKSPACE: ("GOOGLE_WORKSPACE_CLIENT_ID", "GOOGLE_WORKSPACE_CLIENT_SECRET"),
    Provider.MICROSOFT_365: ("MICROSOFT_365_CLIENT_ID", "MICROSOFT_365_CLIENT_SECRET", "MICROSOFT_365_TENANT"),
}
TOKEN_KEYS_ENV_VAR = "CONNECTOR_TOKEN_KEYS"


def _provider_or_404(provider: str) -> str:
    if provider not in Provider.values:
        raise Http404("No such provider.")
    return provider


def _redirect_uri(request: HttpRequest, provider: str) -> str:
    """The callback URL, identical when starting and finishing: providers refuse a code otherwise."""
    return request.build_absolute_uri(reverse("connection_callback", kwargs={"provider": provider}))


# --- The schedule ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    enabled: bool
    time: str  # "03:10"; "" when the schedule is not a simple daily time
    next_run: datetime | None


def _daily_time(hour: str, minute: str) -> tuple[int, int] | None:
    return (int(hour), int(minute)) if hour.isdigit() and minute.isdigit() else None


def collection_schedule(now: datetime | None = None) -> Schedule:
    """When the daily collection runs, as django-celery-beat has it (an administrator may have retimed or
    paused it in the admin); the code's default before the first migrate wrote it."""
    from django.conf import settings
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.filter(task=COLLECT_TASK).select_related("crontab").first()
    if task is not None and task.crontab is not None:
        enabled, hour, minute, zone = task.enabled, task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)
    else:
        fields = next(crontab for task_name, crontab in PERIODIC_TASKS.values() if task_name == COLLECT_TASK)
        enabled, hour, minute, zone = True, fields["hour"], fields["minute"], settings.TIME_ZONE
    at = _daily_time(hour, minute)
    if at is None:
        return Schedule(enabled=enabled, time="", next_run=None)
    local_now = (now or timezone.now()).astimezone(ZoneInfo(zone))
    next_run = local_now.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
    if next_run <= local_now:
        next_run += timedelta(days=1)
    return Schedule(enabled=enabled, time=f"{at[0]:02d}:{at[1]:02d}", next_run=next_run if enabled else None)


# --- The connections page --------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderCard:
    provider: str
    name: str
    reads: tuple[str, ...]
    scopes: tuple[str, ...]
    configured: bool
    env_vars: tuple[str, ...]
    connection: Connection | None
    latest_run: CollectionRun | None
    revoke_help: str

    @property
    def state(self) -> str:
        if self.connection is not None and self.connection.status == ConnectionStatus.NEEDS_RECONNECT:
            return "needs_reconnect"
        if self.connection is not None and self.connection.is_active:
            return "connected"
        return "not_configured" if not self.configured else "not_connected"

    @property
    def reconnect_reason(self) -> str:
        run = self.latest_run
        if run is not None and run.error:
            return run.error
        return "The provider no longer accepts the stored sign-in."

    @property
    def can_connect(self) -> bool:
        return self.configured and self.state != "connected"

    @property
    def can_collect(self) -> bool:
        return self.configured and self.state == "connected"

    @property
    def can_disconnect(self) -> bool:
        connection = self.connection
        return connection is not None and (
            bool(connection.encrypted_tokens) or connection.status != ConnectionStatus.DISCONNECTED
        )


def _cards(organisation: Organisation) -> tuple[list[ProviderCard], list[CollectionRun]]:
    """One card per provider and the organisation's recent runs: a query for the connections, one for
    who connected them, and one per connection (at most one per provider) for its runs."""
    connections = selectors.connections_for(organisation)
    prefetch_related_objects(list(connections.values()), "connected_by")
    cards: list[ProviderCard] = []
    history: list[CollectionRun] = []
    for provider in Provider.values:
        cls = connector_class(provider)
        connection = connections.get(provider)
        runs = list(selectors.runs_for(connection, limit=HISTORY_LIMIT)) if connection is not None else []
        for run in runs:
            run.connection = connection  # type: ignore[assignment]  # already loaded: no query per row
        history.extend(runs)
        cards.append(
            ProviderCard(
                provider=provider,
                name=cls.name,
                reads=cls.reads,
                scopes=cls.scopes,
                configured=connector_for(provider) is not None,
                env_vars=PROVIDER_ENV_VARS.get(provider, ()),
                connection=connection,
                latest_run=runs[0] if runs else None,
                revoke_help=str(getattr(cls, "revoke_help", "")),
            )
        )
    history.sort(key=lambda run: (run.run_on, run.pk), reverse=True)
    return cards, history[:HISTORY_LIMIT]


@require_GET
@member_required()
def connection_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    cards, history = _cards(membership.organisation)
    context: dict[str, Any] = {
        "cards": cards,
        "history": history,
        "schedule": collection_schedule() if any(card.state == "connected" for card in cards) else None,
        "token_keys_env_var": TOKEN_KEYS_ENV_VAR,
        "can_collect": membership.can(Capability.EDIT),
    }
    return render_page(request, LIST_TEMPLATE, context)


# --- Connecting ------------------------------------------------------------------------------------
@require_POST
@member_required(Capability.ADMINISTER)
def connection_connect(request: HttpRequest, provider: str) -> HttpResponse:
    provider = _provider_or_404(provider)
    organisation = require_membership(request).organisation
    try:
        authorise_url = collection.connection_authorise_start(
            session=request.session,
            organisation=organisation,
            actor=Actor.from_request(request),
            provider=provider,
            redirect_uri=_redirect_uri(request, provider),
        )
    except ConnectorError as error:
        messages.error(request, error.message)
        return redirect("evidence_connections")
    # The provider's own sign-in page: a plain redirect, never an htmx swap.
    return HttpResponseRedirect(authorise_url)


@require_GET
@member_required(Capability.ADMINISTER)
def connection_callback(request: HttpRequest, provider: str) -> HttpResponse:
    provider = _provider_or_404(provider)
    organisation = require_membership(request).organisation
    try:
        with watch_enqueues() as enqueues:
            collection.connection_authorise_complete(
                session=request.session,
                organisation=organisation,
                actor=Actor.from_request(request),
                provider=provider,
                params=request.GET.dict(),
                redirect_uri=_redirect_uri(request, provider),
            )
    except ConnectorError as error:
        messages.error(request, error.message)
    else:
        if enqueues.deferred:
            messages.warning(
                request,
                "Connected. The background service is unavailable, so collecting evidence will start "
                "automatically when it is back.",
            )
        else:
            messages.success(request, "Connected. Collecting evidence now…")
    return redirect("evidence_connections")


@require_POST
@member_required()
def connection_disconnect(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for(request, connection_id, capability=Capability.ADMINISTER)
    name = connection.get_provider_display()
    revoked = collection.connection_disconnect(connection=connection, actor=Actor.from_request(request))
    if revoked:
        messages.success(
            request,
            f"Disconnected. {name} confirmed it has withdrawn Greenlight's access, and the stored sign-in is deleted.",
        )
    else:
        help_text = str(getattr(connector_class(connection.provider), "revoke_help", "")) or (
            f"To finish, remove Greenlight from the connected apps in your {name} admin console."
        )
        messages.warning(
            request,
            f"Disconnected, and the stored sign-in is deleted. {name} did not confirm it withdrew access. {help_text}",
        )
    return redirect("evidence_connections")


# --- Running ---------------------------------------------------------------------------------------
@require_POST
@member_required()
def connection_run(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_connection_for(request, connection_id, capability=Capability.EDIT)
    if not connection.is_active:
        messages.error(request, f"Connect {connection.get_provider_display()} before collecting evidence from it.")
        return redirect("evidence_connections")
    if connector_for(connection.provider) is None:
        messages.error(request, f"{connection.get_provider_display()} is not configured on this server.")
        return redirect("evidence_connections")
    was_active = CollectionRun.objects.filter(
        connection=connection, run_on=timezone.localdate(), status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
    ).exists()
    with watch_enqueues() as enqueues:
        run = collection.collection_request(connection=connection, actor=Actor.from_request(request))
    if enqueues.deferred:
        messages.warning(
            request,
            "Saved. The background service is unavailable, so collection will start automatically when it is back.",
        )
    elif was_active:
        messages.info(request, "A collection is already under way; its progress is below.")
    else:
        messages.success(request, f"Collecting evidence from {connection.get_provider_display()} now…")
    return redirect("collection_run_detail", collectionrun_id=run.pk)


@dataclass(frozen=True)
class LogLine:
    at: datetime | None
    level: str
    message: str


def _log_lines(run: CollectionRun) -> list[LogLine]:
    lines: list[LogLine] = []
    for entry in run.log if isinstance(run.log, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            at: datetime | None = timezone.localtime(datetime.fromisoformat(str(entry.get("at"))))
        except ValueError:
            at = None
        level = str(entry.get("level") or "info")
        lines.append(
            LogLine(
                at=at,
                level=level if level in ("info", "warning", "error") else "info",
                message=str(entry.get("message", "")),
            )
        )
    return lines


def _checks(run: CollectionRun) -> list[CheckResult]:
    controls = Control.objects.select_related("framework").order_by("framework__position", "position")
    return list(
        CheckResult.objects.filter(run=run)
        .select_related("evidence")
        .prefetch_related(Prefetch("controls", queryset=controls))
        .order_by("passed", "title")
    )


@require_GET
@member_required()
def run_detail(request: HttpRequest, collectionrun_id: int) -> HttpResponse:
    run = get_run_for(request, collectionrun_id)
    membership = require_membership(request)
    context: dict[str, Any] = {"run": run, "connection": run.connection, "can_collect": membership.can(Capability.EDIT)}
    if wants_fragment(request):
        response = render_page(request, RUN_TEMPLATE, context, fragment="status")
        if not run.is_active:
            # The page was following the run: reload it so the checks and the log appear.
            response["HX-Refresh"] = "true"
        return response
    if not run.is_active:
        # The log and checks are written when the run finishes; until then the status block is all there is.
        context |= {"log_lines": _log_lines(run), "checks": _checks(run)}
    return render_page(request, RUN_TEMPLATE, context)
