"""The framework library in admin: every staff user can read it; only library editors can change it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from compliance.exporting import dump_yaml, framework_document, mappings_document
from compliance.library_format import LibraryError, read_yaml_bytes
from compliance.models import Control, ControlGroup, ControlMapping, Framework, Question
from compliance.services import control_refresh_search, library_import

EDIT_LIBRARY = "compliance.edit_library"


class LibraryPermissions:
    """Reading needs staff; adding, changing and deleting need the library-editor permission."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.has_perm(EDIT_LIBRARY)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(EDIT_LIBRARY)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(EDIT_LIBRARY)


class LibraryImportForm(forms.Form):
    file = forms.FileField(help_text="A Greenlight library file or a CISO Assistant library (.yaml).")
    slug = forms.SlugField(required=False, help_text="Optional: the slug to give the imported framework.")


@admin.action(description="Export as Greenlight library YAML")
def export_frameworks(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Framework]
) -> HttpResponse:
    frameworks = list(queryset)
    if len(frameworks) != 1:
        modeladmin.message_user(request, "Choose one framework to export at a time.", messages.WARNING)
        return redirect(request.get_full_path())
    framework = frameworks[0]
    response = HttpResponse(dump_yaml(framework_document(framework)), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{framework.slug}.yaml"'
    return response


@admin.action(description="Export mappings as Greenlight library YAML")
def export_mappings(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Framework]) -> HttpResponse:
    frameworks = list(queryset)
    if len(frameworks) != 1:
        modeladmin.message_user(request, "Choose one framework to export at a time.", messages.WARNING)
        return redirect(request.get_full_path())
    response = HttpResponse(dump_yaml(mappings_document(frameworks[0])), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{frameworks[0].slug}-mappings.yaml"'
    return response


class ControlGroupInline(LibraryPermissions, admin.TabularInline):
    model = ControlGroup
    fields = ["ref", "kind", "title", "parent", "position", "retired_at"]
    readonly_fields = ["retired_at"]
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[ControlGroup]:
        return super().get_queryset(request).select_related("parent")


@admin.register(Framework)
class FrameworkAdmin(LibraryPermissions, admin.ModelAdmin):
    list_display = ["name", "slug", "version", "jurisdiction", "origin", "loaded_at"]
    search_fields = ["name", "slug"]
    list_filter = ["origin", "jurisdiction"]
    readonly_fields = ["content_hash", "loaded_at", "origin", "urn"]
    actions = [export_frameworks, export_mappings]
    change_list_template = "admin/compliance/framework/change_list.html"

    def get_urls(self) -> list[Any]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="compliance_framework_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            messages.error(request, "Only library editors can import frameworks.")
            return redirect(reverse("admin:compliance_framework_changelist"))
        form = LibraryImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                data = read_yaml_bytes(upload.read(), source=upload.name)
                report = library_import(data=data, source=upload.name, slug=form.cleaned_data["slug"] or None)
            except LibraryError as error:
                form.add_error("file", f"Nothing was imported. {error}")
            else:
                for result in report.frameworks:
                    messages.success(
                        request,
                        f"{result.slug}: {result.created} new, {result.updated} updated, {result.retired} retired.",
                    )
                if report.mappings:
                    messages.success(request, f"{report.mappings} mapping(s) imported.")
                for line in report.skipped[:20]:
                    messages.warning(request, f"Skipped {line}")
                return redirect(reverse("admin:compliance_framework_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Import a library file",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/compliance/framework/import.html", context)


@admin.register(ControlGroup)
class ControlGroupAdmin(LibraryPermissions, admin.ModelAdmin):
    list_display = ["ref", "title", "kind", "framework", "parent", "retired_at"]
    list_select_related = ["framework", "parent"]
    list_filter = ["framework", "kind"]
    search_fields = ["ref", "title"]
    autocomplete_fields = ["parent"]


class QuestionInline(LibraryPermissions, admin.TabularInline):
    model = Question
    fields = ["key", "text", "help_text", "position", "retired_at"]
    extra = 0


class MappingInline(LibraryPermissions, admin.TabularInline):
    model = ControlMapping
    fk_name = "source"
    fields = ["target", "relationship", "rationale", "origin"]
    readonly_fields = ["origin"]
    autocomplete_fields = ["target"]
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[ControlMapping]:
        return super().get_queryset(request).select_related("target__framework")


@admin.register(Control)
class ControlAdmin(LibraryPermissions, admin.ModelAdmin):
    list_display = ["ref", "title", "framework", "group", "weight", "assessable", "auto_fail", "retired_at"]
    list_select_related = ["framework", "group"]
    list_filter = [
        "framework",
        ("group", admin.RelatedOnlyFieldListFilter),
        "assessable",
        "auto_fail",
        ("retired_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["ref", "title", "framework__name"]
    autocomplete_fields = ["group"]
    readonly_fields = ["retired_at", "urn"]
    inlines = [QuestionInline, MappingInline]
    fieldsets = (
        (None, {"fields": ("framework", "group", "ref", "title", "weight", "assessable", "auto_fail", "applies_if")}),
        ("For the small business", {"fields": ("description", "guidance", "typical_evidence")}),
        ("Library", {"fields": ("position", "retired_at", "urn")}),
    )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        control_refresh_search(control=form.instance)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Control], search_term: str
    ) -> tuple[QuerySet[Control], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset.select_related("framework"), may_have_duplicates


@admin.register(ControlMapping)
class ControlMappingAdmin(LibraryPermissions, admin.ModelAdmin):
    list_display = ["source", "relationship", "target", "origin"]
    list_select_related = ["source__framework", "target__framework"]
    list_filter = ["relationship", "source__framework", "target__framework", "origin"]
    search_fields = ["source__ref", "source__title", "target__ref", "target__title"]
    autocomplete_fields = ["source", "target"]
    readonly_fields = ["origin"]
