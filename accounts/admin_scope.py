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
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

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
    if issubclass(model, TenantModel) or _has_organisation_key(model):
        return model._default_manager.filter(organisation_id__in=ids)
    return None


def _has_organisation_key(model: type[models.Model]) -> bool:
    """Models outside TenantModel that still belong to an organisation (an ApiKey's nullable one)."""
    try:
        field = model._meta.get_field("organisation")
    except FieldDoesNotExist:
        return False
    return field.is_relation and field.related_model is Organisation


class ScopedOrganisationFilter(admin.RelatedFieldListFilter):
    """The organisation filter listing only the organisations the user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        ids = consulted_organisation_ids(request)
        organisations = Organisation.objects.order_by("name")
        if ids is not None:
            organisations = organisations.filter(pk__in=ids)
        return [(str(organisation.pk), str(organisation)) for organisation in organisations]


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """Django's related filter lists every row of the related table (every user's name, say): this one
    lists only those the user may pick elsewhere in the admin."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        choices = scoped_choices(field.related_model, request)
        if choices is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            choices = choices.order_by(*ordering)
        return [(str(obj.pk), str(obj)) for obj in choices]


class ScopedAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Across a relation (`organisation__name`) Django reads the values from the related model's whole
    table; read them through the admin's scoped queryset instead."""

    def __init__(
        self, field: Any, request: HttpRequest, params: Any, model: Any, model_admin: Any, field_path: str
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request).distinct().order_by(field_path).values_list(field_path, flat=True)
        )


def _scoped_filter_class(model: type[models.Model], field_path: str) -> type[admin.ListFilter] | None:
    """The scoped replacement for the filter Django would pick for `field_path`, if it needs one."""
    try:
        field = get_fields_from_path(model, field_path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return None
    for test, filter_class in admin.FieldListFilter._field_list_filters:  # type: ignore[attr-defined]
        if test(field):
            return _scoped_replacement(filter_class, field_path)
    return None


def _scoped_replacement(filter_class: type[admin.ListFilter], field_path: str) -> type[admin.ListFilter] | None:
    if filter_class is admin.RelatedFieldListFilter:
        return ScopedRelatedFieldListFilter
    if filter_class is admin.AllValuesFieldListFilter and "__" in field_path:
        return ScopedAllValuesFieldListFilter
    return None


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
        # The admin hands these methods objects it loaded through the scoped queryset, with their
        # organisation key as stored: read it rather than ask the database again on every call.
        if self.organisation_path in ("", "pk"):
            return obj.pk in ids
        if self.organisation_path == "organisation" and hasattr(obj, "organisation_id"):
            return obj.organisation_id in ids
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


class SuperuserOnlyAdmin:
    """Mix in before ModelAdmin for what is no consultant's business (people's credentials, partners and
    their keys): only superusers see it, whatever model permissions a staff user holds."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)  # type: ignore[misc]


class OrganisationScopedAdmin(_ScopedPermissions, admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request, self.organisation_path)

    def get_object_for(self, request: HttpRequest, object_id: Any) -> Any:
        """The object for one of this admin's own action URLs (reply, review, file): the admin's
        `get_<thing>_for`. Those URLs are not wrapped in `admin_view`, whose login redirect would answer
        for any id: to anyone but staff the object simply does not exist (404), staff who consult for
        nobody are refused (403), and an object outside the consultant's organisations is missing (404)."""
        missing = f"No such {self.model._meta.verbose_name}."
        if not (request.user.is_active and request.user.is_staff):
            raise Http404(missing)
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, str(object_id))
        if obj is None:
            raise Http404(missing)
        return obj

    def get_list_filter(self, request: HttpRequest) -> Any:
        # Django's filters for relations (and for fields across one) list every row of the related table,
        # every organisation's name among them: swap in scoped ones. Custom filter classes are left alone.
        return [self._scoped_list_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_list_filter(self, entry: Any) -> Any:
        if isinstance(entry, str):
            name, filter_class = entry, None
        elif isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str):
            name, filter_class = entry
            if filter_class not in (admin.RelatedFieldListFilter, admin.AllValuesFieldListFilter):
                return entry
        else:
            return entry
        if name == self.organisation_path and name != "pk":
            return (name, ScopedOrganisationFilter)
        replacement = (
            _scoped_filter_class(self.model, name) if filter_class is None else _scoped_replacement(filter_class, name)
        )
        return (name, replacement) if replacement is not None else entry


class OrganisationScopedInline(_ScopedPermissions):
    """Mix into an inline (`class X(OrganisationScopedInline, admin.TabularInline)`)."""

    def _in_scope(self, request: HttpRequest, obj: Any) -> bool:
        # An inline's permission methods receive the parent object, which the parent admin has already
        # fetched through its scoped queryset; the inline's own rows are scoped by get_queryset below.
        if obj is not None and not isinstance(obj, self.model):  # type: ignore[attr-defined]
            return True
        return super()._in_scope(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request, self.organisation_path)  # type: ignore[misc]
