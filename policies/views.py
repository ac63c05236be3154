"""The policy studio's pages: the list of policies and templates, a policy with its versions and
workflow, the editor with live preview, version comparison, drafting progress and exports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.roles import Capability
from config.pages import render_page, wants_fragment
from config.queueing import watch_enqueues
from policies import selectors, services
from policies.access import get_job_for, get_policy_for, get_version_for
from policies.diffing import diff_versions
from policies.forms import CompareForm, DraftForm, ReviewForm, StatusFilterForm, VersionEditForm
from policies.library import get_template
from policies.models import GenerationJob, Policy, PolicyStatus, PolicyVersion, SectionOrigin
from policies.rendering import markdown_html

LIST_TEMPLATE = "policies/policy_list.html"
DETAIL_TEMPLATE = "policies/policy_detail.html"
EDIT_TEMPLATE = "policies/policy_edit.html"
COMPARE_TEMPLATE = "policies/policy_compare.html"
JOB_TEMPLATE = "policies/job.html"
BACKGROUND_UNAVAILABLE = (
    "Saved. The background service is unavailable, so drafting will start automatically when it is back."
)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages) or "That could not be done."


def _can(request: HttpRequest, capability: Capability) -> bool:
    return require_membership(request).can(capability)


# --- List --------------------------------------------------------------------------------------------
@require_GET
@member_required()
def policy_list(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    filters = StatusFilterForm(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    policies = list(selectors.policies_for(organisation, status=status))
    offers = selectors.template_offers(organisation)
    context: dict[str, Any] = {
        "filters": filters,
        "status": status,
        "policies": policies,
        "statuses": PolicyStatus.choices,
        "staff_count": selectors.staff_for(organisation.pk).count(),
        # Detail links are this plus the id: reversing 200 URLs would cost more than the rest of the page.
        "list_url": reverse("policy_list"),
        "offers": [offer for offer in offers if offer.applies and offer.policy_id is None],
        "not_offered": [offer for offer in offers if not offer.applies and offer.policy_id is None],
    }
    return render_page(request, LIST_TEMPLATE, context, fragment="results")


@require_POST
@member_required(Capability.EDIT)
def policy_draft(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = DraftForm(request.POST)
    if not form.is_valid() or get_template(form.cleaned_data["template"]) is None:
        messages.error(request, "Choose one of the policy templates to draft.")
        return redirect("policy_list")
    return _start_draft(request, organisation, form.cleaned_data["template"])


@require_POST
@member_required()
def policy_redraft(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Draft again from the template: after a failure (retry), or to start over from a fresh draft."""
    policy = get_policy_for(request, policy_id, capability=Capability.EDIT)
    if not policy.template_key or get_template(policy.template_key) is None:
        messages.error(request, "This policy was not drafted from one of our templates, so it cannot be redrafted.")
        return redirect("policy_detail", policy_id=policy.pk)
    return _start_draft(request, policy.organisation, policy.template_key)


def _start_draft(request: HttpRequest, organisation: Any, template_key: str) -> HttpResponse:
    try:
        with watch_enqueues() as enqueues:
            job = services.policy_draft_start(
                organisation=organisation, template_key=template_key, actor=Actor.from_request(request)
            )
    except ValidationError as error:
        messages.error(request, _error_text(error))
        existing = Policy.objects.filter(organisation=organisation, template_key=template_key).first()
        return redirect("policy_detail", policy_id=existing.pk) if existing else redirect("policy_list")
    if enqueues.deferred:
        messages.warning(request, BACKGROUND_UNAVAILABLE)
    return redirect("policy_detail", policy_id=job.policy_id)


# --- Drafting progress ---------------------------------------------------------------------------------
@require_GET
@member_required()
def policy_job(request: HttpRequest, generationjob_id: int) -> HttpResponse:
    job = get_job_for(request, generationjob_id)
    from_policy = request.GET.get("from") == "policy"
    context = {"job": job, "policy": job.policy, "from_policy": from_policy}
    response = render_page(request, JOB_TEMPLATE, context, fragment="progress")
    if wants_fragment(request) and job.status == "done" and from_policy:
        # The policy page was polling: reload it so the new draft shows.
        response["HX-Refresh"] = "true"
    return response


@require_POST
@member_required()
def policy_job_cancel(request: HttpRequest, generationjob_id: int) -> HttpResponse:
    job = get_job_for(request, generationjob_id, write=True)
    try:
        job = services.policy_draft_cancel(job=job, actor=Actor.from_request(request))
        messages.info(request, "Drafting cancelled. Any earlier draft is unchanged.")
    except ValidationError as error:
        messages.info(request, _error_text(error))
    if wants_fragment(request):
        return render_page(request, JOB_TEMPLATE, {"job": job, "policy": job.policy}, fragment="progress")
    return redirect("policy_detail", policy_id=job.policy_id)


# --- A policy ------------------------------------------------------------------------------------------
def _rendered_sections(version: PolicyVersion | None) -> list[dict[str, Any]]:
    if version is None:
        return []
    return [
        {**section, "html": markdown_html(section.get("body", "")), "origin_label": _origin_label(section)}
        for section in version.sections
    ]


def _origin_label(section: dict[str, Any]) -> str:
    origin = section.get("origin", SectionOrigin.TEMPLATE)
    if origin == SectionOrigin.MODEL:
        provider = section.get("provider") or "the assistant"
        return f"Rewritten by the assistant ({provider})"
    if origin == SectionOrigin.PERSON:
        return "Edited by a person"
    return "From the template"


def _number(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@require_GET
@member_required()
def policy_detail(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for(request, policy_id)
    membership = require_membership(request)
    page = selectors.policy_page(
        policy,
        user=request.user,
        number=_number(request.GET.get("version")),
        with_staff=membership.can(Capability.ADMINISTER),
    )
    template = get_template(policy.template_key)
    job = page.job
    show_job = job is not None and (job.is_active or (job.status == "failed" and _after_latest(job, page.latest)))
    versions = page.versions
    context = {
        "policy": policy,
        "page": page,
        "version": page.shown,
        "sections": _rendered_sections(page.shown),
        "template": template,
        "job": job if show_job else None,
        "can_approve": membership.can(Capability.APPROVE),
        "can_administer": membership.can(Capability.ADMINISTER),
        "review_form": ReviewForm(),
        "compare_form": CompareForm(
            initial={"old": versions[1].number if len(versions) > 1 else None, "new": versions[0].number}
        )
        if len(versions) > 1
        else None,
        "controls": list(policy.controls.select_related("framework").order_by("framework__position", "position")),
    }
    return render_page(request, DETAIL_TEMPLATE, context)


def _after_latest(job: GenerationJob, latest: PolicyVersion | None) -> bool:
    return latest is None or job.created_at >= latest.created_at


def _workflow(request: HttpRequest, policy_id: int, capability: Capability, action: Any, success: str) -> HttpResponse:
    policy = get_policy_for(request, policy_id, capability=capability)
    try:
        action(policy, Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, success.format(title=policy.title))
    return redirect("policy_detail", policy_id=policy.pk)


@require_POST
@member_required()
def policy_submit(request: HttpRequest, policy_id: int) -> HttpResponse:
    return _workflow(
        request,
        policy_id,
        Capability.EDIT,
        lambda policy, actor: services.policy_submit(policy=policy, actor=actor),
        "Sent “{title}” for review. An owner, admin or consultant can now approve it.",
    )


@require_POST
@member_required()
def policy_review(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for(request, policy_id, capability=Capability.APPROVE)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether to approve the policy or send it back.")
        return redirect("policy_detail", policy_id=policy.pk)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.policy_review(
            policy=policy, actor=Actor.from_request(request), approve=approve, comment=form.cleaned_data["comment"]
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request,
            f"Approved “{policy.title}”. Publish it when staff should follow it."
            if approve
            else f"Sent “{policy.title}” back for changes with your comment.",
        )
    return redirect("policy_detail", policy_id=policy.pk)


@require_POST
@member_required()
def policy_publish(request: HttpRequest, policy_id: int) -> HttpResponse:
    return _workflow(
        request,
        policy_id,
        Capability.APPROVE,
        lambda policy, actor: services.policy_publish(policy=policy, actor=actor),
        "Published “{title}”. This version can no longer change; staff can now confirm they have read it.",
    )


@require_POST
@member_required()
def policy_retire(request: HttpRequest, policy_id: int) -> HttpResponse:
    return _workflow(
        request,
        policy_id,
        Capability.APPROVE,
        lambda policy, actor: services.policy_retire(policy=policy, actor=actor),
        "Retired “{title}”. Its versions are kept for your records.",
    )


@require_POST
@member_required()
def policy_new_version(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for(request, policy_id, capability=Capability.EDIT)
    try:
        version = services.policy_new_version(policy=policy, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("policy_detail", policy_id=policy.pk)
    messages.success(request, f"Started version {version.number} as a draft. The published version stays in force.")
    return redirect("policy_edit", policy_id=policy.pk)


@require_POST
@member_required()
def policy_acknowledge(request: HttpRequest, policy_id: int) -> HttpResponse:
    return _workflow(
        request,
        policy_id,
        Capability.EDIT,
        lambda policy, actor: services.policy_acknowledge(policy=policy, actor=actor),
        "Thank you: we have recorded that you have read “{title}”.",
    )


# --- Editing -------------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@member_required()
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for(request, policy_id, capability=Capability.EDIT)
    version = services.latest_version(policy)
    if version is None or policy.status != PolicyStatus.DRAFT or version.is_published:
        messages.info(request, "Only a draft can be edited. Start a new version or send the policy back first.")
        return redirect("policy_detail", policy_id=policy.pk)
    if request.method == "GET":
        form = VersionEditForm(
            sections=version.sections, initial={"revision": version.revision, "number": version.number}
        )
        return _editor(request, policy, version, form)

    form = VersionEditForm(request.POST, sections=version.sections)
    if not form.is_valid():
        return _editor(request, policy, version, form, status=400)
    if form.cleaned_data["number"] != version.number:
        form.add_error(
            None,
            f"A newer version (version {version.number}) was written while you were editing, so this save was "
            "refused. Your text is still below: copy what you need, then reload the editor.",
        )
        return _editor(request, policy, version, form, status=409)
    try:
        services.version_save(
            version=version,
            bodies=form.bodies(),
            revision=form.cleaned_data["revision"],
            actor=Actor.from_request(request),
        )
    except services.StaleVersion as error:
        form.add_error(None, _error_text(error))
        return _editor(request, policy, version, form, status=409)
    except ValidationError as error:
        form.add_error(None, _error_text(error))
        return _editor(request, policy, version, form, status=400)
    messages.success(request, f"Saved your changes to version {version.number}.")
    return redirect("policy_detail", policy_id=policy.pk)


def _editor(
    request: HttpRequest, policy: Policy, version: PolicyVersion, form: VersionEditForm, *, status: int = 200
) -> HttpResponse:
    bodies = {
        key: (form.data.get(name) if form.is_bound else section["body"])
        for section in version.sections
        for key, name in [(section["key"], f"body-{section['key']}")]
    }
    fields = [
        {"section": section, "field": field, "preview": markdown_html(bodies[section["key"]] or "")}
        for section, field in form.section_fields()
    ]
    context = {
        "policy": policy,
        "version": version,
        "form": form,
        "fields": fields,
        "max_kb": services.MAX_VERSION_BYTES // 1024,
    }
    return render_page(request, EDIT_TEMPLATE, context, status=status)


@require_POST
@member_required()
def policy_preview(request: HttpRequest, policy_id: int) -> HttpResponse:
    """The live preview: one section's Markdown as sanitised HTML."""
    get_policy_for(request, policy_id, capability=Capability.EDIT)
    body = next((str(value) for name, value in request.POST.items() if name.startswith("body-")), "")
    too_long = len(body.encode()) > services.MAX_VERSION_BYTES
    return render_page(
        request,
        EDIT_TEMPLATE,
        {"preview": "" if too_long else markdown_html(body), "too_long": too_long},
        fragment="preview",
    )


# --- Comparing versions -------------------------------------------------------------------------------
@require_GET
@member_required()
def policy_compare(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_policy_for(request, policy_id)
    form = CompareForm(request.GET or None)
    numbers = list(PolicyVersion.objects.filter(policy=policy).order_by("-number").values_list("number", flat=True))
    diff: list[Any] = []
    old = new = None
    if form.is_valid():
        wanted = {form.cleaned_data["old"], form.cleaned_data["new"]}
        found = {version.number: version for version in PolicyVersion.objects.filter(policy=policy, number__in=wanted)}
        old, new = found.get(form.cleaned_data["old"]), found.get(form.cleaned_data["new"])
        if old is None or new is None:
            raise Http404("No such version of this policy.")
        diff = diff_versions(old.sections, new.sections)
    context = {
        "policy": policy,
        "form": form,
        "numbers": numbers,
        "old": old,
        "new": new,
        "diff": diff,
        "changed": sum(1 for section in diff if section.status != "same"),
    }
    return render_page(request, COMPARE_TEMPLATE, context)


# --- Exports -------------------------------------------------------------------------------------------
def _export(version: PolicyVersion, kind: str) -> HttpResponse:
    # Imported here: the export modules load reportlab and python-docx, which only these two views need.
    if kind == "pdf":
        from policies.exports.pdf import policy_pdf

        content, content_type = policy_pdf(version), "application/pdf"
    else:
        from policies.exports.docx import policy_docx

        content = policy_docx(version)
        content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    response = HttpResponse(content, content_type=content_type)
    filename = f"{slugify(version.title) or 'policy'}-v{version.number}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@member_required()
def policy_version_pdf(request: HttpRequest, policyversion_id: int) -> HttpResponse:
    return _export(get_version_for(request, policyversion_id), "pdf")


@require_GET
@member_required()
def policy_version_docx(request: HttpRequest, policyversion_id: int) -> HttpResponse:
    return _export(get_version_for(request, policyversion_id), "docx")
