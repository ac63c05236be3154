"""The member's notifications in the current organisation: the list (unread first), marking one read and
marking them all read; and, under settings, how they want each kind delivered."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_tenant_object_or_404, member_required, require_membership
from accounts.forms_notifications import NotificationPreferencesForm
from accounts.models import Notification, User
from accounts.notification_kinds import CHANNEL_HINTS, Channel, kinds_for_roles
from accounts.notifications import notification_preferences_save, preferences_for, unread_count
from config.pages import fragment_status, render_page, wants_fragment

TEMPLATE = "accounts/notifications.html"
PAGE_SIZE = 25


def _mine(request: HttpRequest) -> QuerySet[Notification]:
    """The signed-in member's notifications in the current organisation, and nobody else's."""
    membership = require_membership(request)
    return Notification.objects.filter(organisation=membership.organisation, user_id=membership.user_id)


def _ordered(notifications: QuerySet[Notification]) -> QuerySet[Notification]:
    unread = ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())
    return notifications.order_by(unread.desc(), "-created_at", "-pk")


def safe_link(url: str) -> str:
    """The notification's link when it is a path within Greenlight; anything else is not followed."""
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return url
    return ""


@require_GET
@member_required()
def notification_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


def _render_list(request: HttpRequest) -> HttpResponse:
    notifications = _mine(request)
    page = Paginator(_ordered(notifications), PAGE_SIZE).get_page(request.GET.get("page"))
    for notification in page.object_list:
        notification.link = safe_link(notification.url)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "page": page,
        "unread": notifications.filter(read_at__isnull=True).count(),
    }
    context["unread_notifications"] = context["unread"]
    return render_page(request, TEMPLATE, context, fragment="notifications")


def _back(request: HttpRequest) -> HttpResponse:
    if wants_fragment(request):
        return _render_list(request)
    return redirect("notifications")


@require_GET
@member_required()
def notification_badge(request: HttpRequest) -> HttpResponse:
    """The header badge with the unread count, fetched by htmx after each page loads."""
    membership = require_membership(request)
    # The signed-in user, already loaded: the badge polls, so it reads no more than it must.
    count = unread_count(organisation=membership.organisation, user=request.user)  # type: ignore[arg-type]
    return render(request, "includes/notifications_badge.html", {"unread_notifications": count})


@require_POST
@member_required()
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = get_tenant_object_or_404(request, _mine(request), notification_id)
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk).update(read_at=timezone.now())
    return _back(request)


@require_POST
@member_required()
def notification_read_all(request: HttpRequest) -> HttpResponse:
    marked = _mine(request).filter(read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        messages.success(request, f"Marked {marked} notification{'' if marked == 1 else 's'} as read.")
    return _back(request)


@require_http_methods(["GET", "POST"])
@member_required()
def settings_notifications(request: HttpRequest) -> HttpResponse:
    """One choice per kind, saved together. Preferences belong to the person, so they apply in every
    organisation they belong to; the page offers the kinds any of their roles can receive."""
    user: User = request.user  # type: ignore[assignment]  # member_required: signed in
    kinds = kinds_for_roles({m.role for m in request.memberships})  # type: ignore[attr-defined]
    current = preferences_for(user)
    # Bound on every POST, even an empty one, so a missing choice is reported rather than ignored.
    data = request.POST if request.method == "POST" else None
    form = NotificationPreferencesForm(data, kinds=kinds, current=current)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            notification_preferences_save(user=user, channels=form.cleaned_data)
            messages.success(request, "Notification preferences saved.")
            if not wants_fragment(request):
                return redirect("settings_notifications")
            form = NotificationPreferencesForm(kinds=kinds, current={**current, **form.cleaned_data})
        else:
            status = fragment_status(request, 400)
    context = {
        "section": "notifications",
        "form": form,
        "channels": [(value, label, CHANNEL_HINTS[value]) for value, label in Channel.choices],
    }
    return render_page(request, "accounts/settings_notifications.html", context, fragment="preferences", status=status)
