from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import add_never_cache_headers

from accounts import services, services_api
from accounts.admin_scope import OrganisationScopedAdmin, OrganisationScopedInline, SuperuserOnlyAdmin
from accounts.audit import Actor
from accounts.forms_api_keys import PartnerKeyForm
from accounts.models import (
    ApiKey,
    AuditEvent,
    DataExport,
    Invitation,
    Membership,
    Organisation,
    Partner,
    PartnerGrant,
    User,
)
from accounts.people import FORMER_MEMBER, audit_actor_name
from accounts.roles import ROLE_CAPABILITIES, Role


@admin.register(User)
class UserAdmin(SuperuserOnlyAdmin, BaseUserAdmin):
    """Credentials and staff rights: superusers only. Consultants see people only as their clients'
    memberships, invitations and audit events show them."""

    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal details", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class ReadOnlyAdminMixin:
    """Seen, not changed, in the admin: changes go through the app, where the rules and the audit trail apply."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def person(user: User | None) -> str:
    """A person as text: Django links a read-only user field to the user admin, which only superusers
    may open, so consultants would meet a dead end on every such link."""
    if user is None:
        return "-"
    return f"{user.full_name} ({user.email})" if user.full_name else user.email


class MembershipInline(ReadOnlyAdminMixin, OrganisationScopedInline, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("member", "role", "created_at")
    readonly_fields = fields

    @admin.display(description="Member")
    def member(self, obj: Membership) -> str:
        return person(obj.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user")


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin):
    """A consultant sees the organisations they consult for, read-only; superusers may rename."""

    organisation_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    # Only the name is edited here; deletion and retention change through the owners' settings pages,
    # which confirm, audit and notify.
    fields = (
        "name",
        "slug",
        "created_at",
        "deletion_due_at",
        "conversation_retention_days",
        "ai_call_retention_days",
        "audit_event_retention_days",
        "report_run_retention_days",
    )
    readonly_fields = fields[1:]
    inlines = [MembershipInline]

    # Organisations are created in the app, by the person who becomes their owner.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        # Renaming (the only change the admin allows) goes through the service, so the audit log records it.
        if "name" in form.changed_data:
            current = Organisation.objects.get(pk=obj.pk)
            services.organisation_rename(organisation=current, name=obj.name, actor=Actor.from_request(request))


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, OrganisationScopedAdmin):
    list_display = ["user", "organisation", "role", "capabilities", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "organisation"]
    search_fields = ["user__email", "user__full_name", "organisation__name"]
    fields = readonly_fields = ("organisation", "member", "role", "capabilities", "created_at")

    @admin.display(description="Member", ordering="user__email")
    def member(self, obj: Membership) -> str:
        return person(obj.user)

    @admin.display(description="May")
    def capabilities(self, obj: Membership) -> str:
        # Read from the one roles table, like every page and the API.
        return ", ".join(sorted(ROLE_CAPABILITIES[Role(obj.role)]))


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, OrganisationScopedAdmin):
    list_display = ["email", "organisation", "role", "created_at", "accepted_at", "revoked_at"]
    list_select_related = ["organisation"]
    search_fields = ["email", "organisation__name"]
    fields = readonly_fields = (
        "organisation",
        "email",
        "role",
        "sent_by",
        "created_at",
        "accepted_at",
        "accepted_by_person",
        "revoked_at",
    )

    @admin.display(description="Invited by")
    def sent_by(self, obj: Invitation) -> str:
        return person(obj.invited_by)

    @admin.display(description="Accepted by")
    def accepted_by_person(self, obj: Invitation) -> str:
        return person(obj.accepted_by)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, OrganisationScopedAdmin):
    """The audit log is append-only everywhere, admin included."""

    list_display = ["created_at", "organisation", "who", "action", "summary", "ip_address"]
    list_filter = ["action"]
    list_select_related = ["organisation"]
    search_fields = ["summary", "actor_label", "organisation__name"]
    date_hierarchy = "created_at"
    # The actor as recorded (actor_label), not a link to the user admin, which only superusers may open.
    fields = readonly_fields = (
        "created_at",
        "organisation",
        "actor_label",
        "action",
        "summary",
        "object_type",
        "object_id",
        "ip_address",
    )

    @admin.display(description="Actor", ordering="actor_label")
    def who(self, obj: AuditEvent) -> str:
        # As the audit log page shows it: a deleted account's entries read "Former member" in the list.
        return audit_actor_name(obj)


@admin.register(DataExport)
class DataExportAdmin(ReadOnlyAdminMixin, OrganisationScopedAdmin):
    """That an export was made, when and by whom. Never the file: only the organisation's owners download it."""

    list_display = ["created_at", "organisation", "requester", "status", "size", "expires_at"]
    list_filter = ["status"]
    list_select_related = ["organisation", "requested_by"]
    search_fields = ["organisation__name"]
    fields = readonly_fields = (
        "created_at",
        "organisation",
        "requester",
        "status",
        "progress",
        "message",
        "error",
        "size",
        "sha256",
        "started_at",
        "finished_at",
        "expires_at",
    )

    @admin.display(description="Asked for by")
    def requester(self, obj: DataExport) -> str:
        # Only a person asks for an export: nobody here means their account was deleted.
        return person(obj.requested_by) if obj.requested_by else FORMER_MEMBER


# --- Partner API access ---------------------------------------------------------------------------
class PartnerKeyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The partner's keys, as the ApiKey admin shows them: never the hash."""

    model = ApiKey
    extra = 0
    fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True
    verbose_name = "API key"


@admin.register(Partner)
class PartnerAdmin(SuperuserOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "contact_email", "is_active", "organisations", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "contact_email"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["created_at"]
    inlines = [PartnerKeyInline]
    actions = ["suspend", "reactivate"]

    # Suspended, never deleted: organisations' grants and audit trails refer to the partner.
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        standing = Q(grants__revoked_at__isnull=True)
        return super().get_queryset(request).annotate(organisation_count=Count("grants", filter=standing))

    @admin.display(description="Organisations", ordering="organisation_count")
    def organisations(self, obj: Partner) -> int:
        return obj.organisation_count  # type: ignore[attr-defined]

    @admin.action(description="Suspend selected partners (their keys stop working everywhere)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        # Through the service, so each organisation that granted access has it in its audit log.
        for partner in queryset:
            services_api.partner_set_active(partner=partner, active=False, actor=Actor.from_request(request))
        self.message_user(request, f"Suspended {len(queryset)} partner(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected partners")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            services_api.partner_set_active(partner=partner, active=True, actor=Actor.from_request(request))
        self.message_user(request, f"Reactivated {len(queryset)} partner(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Partner, form: Any, change: bool) -> None:
        active = obj.is_active
        if change and "is_active" in form.changed_data:
            obj.is_active = not active  # saved as it was; the service makes the change and audits it
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            services_api.partner_set_active(partner=obj, active=active, actor=Actor.from_request(request))

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:partner_id>/issue-key/",
                self.admin_site.admin_view(self.issue_key_view),
                name="accounts_partner_issue_key",
            ),
            *super().get_urls(),
        ]

    def issue_key_view(self, request: HttpRequest, partner_id: int) -> HttpResponse:
        """Issue a key for the partner and show its secret on this response only (never a message)."""
        partner = get_object_or_404(Partner, pk=partner_id)
        if not self.has_change_permission(request, partner):
            raise PermissionDenied
        form = PartnerKeyForm(request.POST or None)
        issued = None
        if request.method == "POST" and form.is_valid():
            issued = services_api.partner_key_create(
                partner=partner,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.cleaned_data["expires_on"],
                actor=Actor.from_request(request),
            )
            self.log_change(request, partner, f"Issued the API key {issued.key.name} ({issued.key.prefix}).")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Issue an API key for {partner.name}",
            "opts": self.model._meta,
            "original": partner,
            "form": form,
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/accounts/partner/issue_key.html", context)
        if issued is not None:
            add_never_cache_headers(response)
        return response


@admin.register(ApiKey)
class ApiKeyAdmin(SuperuserOnlyAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys are made in settings (an organisation's) or from a partner's page here; the hash is never shown."""

    list_display = ["name", "prefix", "holder", "created_at", "last_used_at", "expires_at", "status"]
    list_select_related = ["organisation", "partner"]
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("partner", admin.EmptyFieldListFilter))
    search_fields = ["name", "prefix", "organisation__name", "partner__name"]
    # Listed, so secret_hash never appears.
    fields = readonly_fields = (
        "name",
        "prefix",
        "organisation",
        "partner",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "rotated_from",
    )
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).select_related("organisation", "partner", "created_by", "rotated_from")

    @admin.display(description="Belongs to")
    def holder(self, obj: ApiKey) -> str:
        return f"Partner: {obj.partner}" if obj.partner_id else str(obj.organisation)

    @admin.display(description="Status")
    def status(self, obj: ApiKey) -> str:
        return obj.status.capitalize()

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # The model admin is read-only; revoking is the one change, for those who may change keys.
        return request.user.has_perm("accounts.change_apikey")

    @admin.action(description="Revoke selected keys (they stop working at once)", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        actor = Actor.from_request(request)
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True).select_related("organisation", "partner"):
            services_api.api_key_revoke(key=key, actor=actor)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


@admin.register(PartnerGrant)
class PartnerGrantAdmin(SuperuserOnlyAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Grants are given and revoked by each organisation in its settings; staff only look."""

    list_display = ["partner", "organisation", "scope_list", "granted_at", "granted_by", "revoked_at"]
    list_select_related = ["partner", "organisation", "granted_by"]
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ["partner__name", "organisation__name"]

    @admin.display(description="Scopes")
    def scope_list(self, obj: PartnerGrant) -> str:
        return ", ".join(obj.scopes)
