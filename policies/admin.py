"""The consultants' policy approval queue: policies sent for review in the organisations they consult for.

The change page is a review page: the version awaiting approval as the app renders it, what changed since
the previous version, and approve / send back (then publish) through `policies.services`, so the client's
audit log records who decided. Nothing is edited, added or deleted here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.admin_scope import OrganisationScopedAdmin, is_consultant
from accounts.audit import Actor
from config.admin_filters import StatusQueueFilter
from config.formatting import long_date, long_date_time
from policies import services
from policies.diffing import diff_versions
from policies.forms import ReviewForm
from policies.models import Policy, PolicyReview, PolicyStatus, PolicyVersion
from policies.rendering import markdown_html

AWAITING = PolicyStatus.IN_REVIEW.value


class PolicyQueueFilter(StatusQueueFilter):
    """Status, opening on the queue itself: the policies awaiting approval."""

    statuses = PolicyStatus
    awaiting = AWAITING
    awaiting_label = "Awaiting approval"


SHOWN = ("organisation", "title", "status", "owner", "review_by", "created", "updated")


@admin.register(Policy)
class PolicyAdmin(OrganisationScopedAdmin):
    list_display = ["title", "organisation", "status", "owner_name", "latest_version", "updated"]
    list_display_links = ["title"]
    list_filter = [PolicyQueueFilter, "organisation"]
    list_select_related = ["organisation", "owner"]
    search_fields = ["title", "organisation__name"]
    # Awaiting approval first, the longest waiting first.
    ordering = [Case(When(status=AWAITING, then=Value(0)), default=Value(1), output_field=IntegerField()), "updated_at"]
    fields = SHOWN
    readonly_fields = SHOWN
    change_form_template = "admin/policies/policy/change_form.html"

    # Changes happen only through the review actions below, for superusers as well.
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Policy]:
        latest = PolicyVersion.objects.filter(policy=OuterRef("pk")).order_by("-number").values("number")[:1]
        return super().get_queryset(request).annotate(latest_number=Subquery(latest))

    @admin.display(description="Owner", ordering="owner__email")
    def owner_name(self, policy: Policy) -> str:
        return policy.owner.display_name if policy.owner else "-"

    @admin.display(description="Latest version", ordering="latest_number")
    def latest_version(self, policy: Policy) -> str:
        number = getattr(policy, "latest_number", None)
        return f"Version {number}" if number else "No version yet"

    @admin.display(description="Last change", ordering="updated_at")
    def updated(self, policy: Policy) -> str:
        return long_date_time(policy.updated_at)

    @admin.display(description="Created")
    def created(self, policy: Policy) -> str:
        return long_date_time(policy.created_at)

    @admin.display(description="Review by")
    def review_by(self, policy: Policy) -> str:
        return long_date(policy.review_date) if policy.review_date else "-"

    # --- The review page ---------------------------------------------------------------------------
    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Policy | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(self._review_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _review_context(self, request: HttpRequest, policy: Policy) -> dict[str, Any]:
        versions = list(
            PolicyVersion.objects.filter(policy=policy)
            .select_related("created_by", "approved_by")
            .order_by("-number")[:2]
        )
        version = versions[0] if versions else None
        previous = versions[1] if len(versions) > 1 else None
        diff = diff_versions(previous.sections, version.sections) if version and previous else []
        reviews = (
            list(PolicyReview.objects.filter(version=version).select_related("reviewer").order_by("-created_at"))
            if version
            else []
        )
        return {
            "version": version,
            "previous": previous,
            "sections": [
                {"title": section.get("title", ""), "html": markdown_html(section.get("body", ""))}
                for section in (version.sections if version else [])
            ],
            "diff": diff,
            "changed": sum(1 for section in diff if section.status != "same"),
            "reviews": reviews,
            "review_form": ReviewForm(),
            "may_act": is_consultant(request),
            "awaiting": policy.status == PolicyStatus.IN_REVIEW,
            "approved": policy.status == PolicyStatus.APPROVED,
        }

    # --- The decisions -----------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:policy_id>/review/",
                never_cache(require_POST(self.review_view)),
                name="policies_policy_review",
            ),
            path(
                "<int:policy_id>/publish/",
                never_cache(require_POST(self.publish_view)),
                name="policies_policy_publish",
            ),
            *super().get_urls(),
        ]

    def _decide(self, request: HttpRequest, policy: Policy, act: Callable[[Actor], Any], success: str) -> HttpResponse:
        try:
            act(Actor.from_request(request))
        except (ValidationError, PermissionDenied) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            messages.error(request, text or "That could not be done.")
        else:
            messages.success(request, success)
        return redirect(reverse("admin:policies_policy_change", args=[policy.pk]))

    def review_view(self, request: HttpRequest, policy_id: int) -> HttpResponse:
        policy = self.get_object_for(request, policy_id)
        form = ReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose whether to approve the policy or send it back.")
            return redirect(reverse("admin:policies_policy_change", args=[policy.pk]))
        approve = form.cleaned_data["decision"] == "approve"
        comment = form.cleaned_data["comment"]
        return self._decide(
            request,
            policy,
            lambda actor: services.policy_review(policy=policy, actor=actor, approve=approve, comment=comment),
            f"Approved “{policy.title}” for {policy.organisation}. Publish it when their staff should follow it."
            if approve
            else f"Sent “{policy.title}” back to {policy.organisation} for changes with your comment.",
        )

    def publish_view(self, request: HttpRequest, policy_id: int) -> HttpResponse:
        policy = self.get_object_for(request, policy_id)
        return self._decide(
            request,
            policy,
            lambda actor: services.policy_publish(policy=policy, actor=actor),
            f"Published “{policy.title}” for {policy.organisation}. This version can no longer change.",
        )
