"""The admin is as safe as the pages: a consultant sees only the organisations that made them a consultant.

Every ModelAdmin holding organisations' data inherits `OrganisationScopedAdmin` (inlines
`OrganisationScopedInline`). They scope, through `organisation_path`, the changelist, the change and
delete views, autocomplete results, foreign-key and many-to-many choices, the organisation list filter,
inlines and actions (actions receive the scoped queryset). Superusers see everything. What consultants
may change is opt-in per admin (`consultant_may_change` ...), and goes through services so the client
organisation's audit log records it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.tenancy import TenantModel


def consulted_organisation_ids(request: HttpRequest) -> frozenset[int] | None:
    """The organisations the signed-in user consults for; None for a superuser (all of them)."""
    user = request.user
    if not (user.is_authenticated and user.is_active):
        return frozenset()
    if user.is_superuser:
        return None
    cached = getattr(request, "_consulted_organisation_ids", None)
    if cached is not None:
        return cached
    # The organisation middleware has loaded the memberships already: no query on every admin page.
    memberships = getattr(request, "memberships", None)
    if memberships is None:
        memberships = list(Membership.objects.filter(user=user))
    ids = frozenset(m.organisation_id for m in memberships if m.role == Role.CONSULTANT)
    request._consulted_organisation_ids = ids  # type: ignore[attr-defined]
    return ids


def is_consultant(request: HttpRequest) -> bool:
    """A staff user with at least one consultant membership (or a superuser)."""
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    ids = consulted_organisation_ids(request)
    return ids is None or bool(ids)


def scope_queryset[M: models.Model](
    queryset: QuerySet[M], request: HttpRequest, organisation_path: str = "organisation"
) -> QuerySet[M]:
    ids = consulted_organisation_ids(request)
    if ids is None:
        return queryset
    if organisation_path in ("", "pk"):
        return queryset.filter(pk__in=ids)
    return queryset.filter(**{f"{organisation_path}__in": ids})


def scoped_choices(model: type[models.Model], request: HttpRequest) -> QuerySet[Any] | None:
    """The choices a consultant may pick for a relation to `model`, or None to leave Django's own."""
    ids = consulted_organisation_ids(request)
    if ids is None:
        return None
    if model is Organisation:
        return Organisation.objects.filter(pk__in=ids)
    if model is User:
        return User.objects.filter(pk__in=Membership.objects.filter(organisation_id__in=ids).values("user_id"))
    if issubclass(model, TenantModel):
        return model._default_manager.filter(organisation_id__in=ids)
    return None


class ScopedOrganisationFilter(admin.RelatedFieldListFilter):
    """The organisation filter listing only the organisations the user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        ids = consulted_organisation_ids(request)
        organisations = Organisation.objects.order_by("name")
        if ids is not None:
            organisations = organisations.filter(pk__in=ids)
        return [(str(organisation.pk), str(organisation)) for organisation in organisations]


class _ScopedPermissions:
    organisation_path = "organisation"
    consultant_may_add = False
    consultant_may_change = False
    consultant_may_delete = False

    def _in_scope(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return True
        ids = consulted_organisation_ids(request)
        if ids is None:
            return True
        queryset = type(obj)._default_manager.filter(pk=obj.pk)
        return scope_queryset(queryset, request, self.organisation_path).exists()

    def _consultant_may(self, request: HttpRequest, allowed: bool, obj: Any = None) -> bool:
        return allowed and is_consultant(request) and self._in_scope(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return super().has_module_permission(request)  # type: ignore[misc]
        return is_consultant(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)  # type: ignore[misc]
        return self._consultant_may(request, True, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if request.user.is_superuser:
            return super().has_add_permission(request, *args)  # type: ignore[misc]
        return self._consultant_may(request, self.consultant_may_add)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)  # type: ignore[misc]
        return self._consultant_may(request, self.consultant_may_change, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)  # type: ignore[misc]
        return self._consultant_may(request, self.consultant_may_delete, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


class OrganisationScopedAdmin(_ScopedPermissions, admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request, self.organisation_path)

    def get_list_filter(self, request: HttpRequest) -> Any:
        # A plain "organisation" filter would list every organisation's name: swap in the scoped one.
        return [
            (name, ScopedOrganisationFilter) if name == self.organisation_path and name != "pk" else name
            for name in super().get_list_filter(request)
        ]


class OrganisationScopedInline(_ScopedPermissions):
    """Mix into an inline (`class X(OrganisationScopedInline, admin.TabularInline)`)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request, self.organisation_path)  # type: ignore[misc]
