"""Adding evidence (upload, link, note), one item's page and what can be done to it, and file downloads.

Uploads are posted one file per request, so one refused file does not sink a batch and the size cap
applies to each file. The page's script posts them with XMLHttpRequest and gets a small fragment back per
file (201 stored, 400 refused, 409 a duplicate); without the script the same view answers a plain form
post with a page. Every write goes through `evidence.services.items`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Organisation
from accounts.roles import Capability
from compliance.models import Control
from config.pages import render_page, wants_fragment
from evidence import selectors
from evidence.access import get_evidence_for, get_revision_for
from evidence.forms_items import (
    TYPE_PLURALS,
    ControlsForm,
    DetailsForm,
    EditForm,
    LinkForm,
    NoteForm,
    ReuseForm,
    ReviewForm,
    ReviseForm,
    SuggestForm,
    UploadForm,
    valid_until_hint,
)
from evidence.intake import ALLOWED_KINDS, FLAG_DESCRIPTIONS, UploadRefused
from evidence.kinds import FRESHNESS_DAYS
from evidence.models import Evidence, EvidenceForm, EvidenceRevision, EvidenceSource, EvidenceStatus
from evidence.services import items as services
from evidence.services.refresh import quality_for
from evidence.services.storage import StorageFull

NEW_TEMPLATE = "evidence/evidence_new.html"
DETAIL_TEMPLATE = "evidence/evidence_detail.html"
EDIT_TEMPLATE = "evidence/evidence_edit.html"
UPLOAD_RESULT = "evidence/includes/item_upload_result.html"
DUPLICATE_PROMPT = "evidence/includes/item_duplicate.html"
CONTROL_OPTIONS = "evidence/includes/item_control_options.html"

TABS = {"upload": "Upload files", "link": "Add a link", "note": "Write a note"}
NEW_FORMS: dict[str, type[DetailsForm]] = {"upload": UploadForm, "link": LinkForm, "note": NoteForm}
PREVIEW_KINDS = frozenset({"png", "jpeg", "gif", "webp"})
INLINE_KINDS = PREVIEW_KINDS | {"pdf"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SANDBOX = "sandbox; default-src 'none'"
STATUS_BADGES = {
    EvidenceStatus.DRAFT: "badge-muted",
    EvidenceStatus.SUBMITTED: "badge-warning",
    EvidenceStatus.ACCEPTED: "badge-success",
    EvidenceStatus.REJECTED: "badge-danger",
    EvidenceStatus.EXPIRED: "badge-danger",
}


# --- Helpers ---------------------------------------------------------------------------------------
def _is_xhr(request: HttpRequest) -> bool:
    """The upload script's requests, which get a fragment per file instead of a page."""
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages) or "That could not be done."


def _organisation(request: HttpRequest) -> Organisation:
    return require_membership(request).organisation


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request)


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """After a change: htmx follows a client redirect, a plain form post a normal one."""
    if wants_fragment(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _add_errors(form: DetailsForm | ReviewForm, error: ValidationError) -> None:
    """A service's errors on the fields they name, or above the form when the form has no such field."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            field = name if name in form.fields else None
            for item in errors:
                form.add_error(field, item)
    else:
        form.add_error(None, error)


def _controls(ids: list[int]) -> QuerySet[Control]:
    return (
        Control.objects.live()
        .filter(pk__in=ids)
        .select_related("framework")
        .order_by("framework__position", "position")
    )


def _number(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _detail_url(evidence: Evidence) -> str:
    return reverse("evidence_detail", kwargs={"evidence_id": evidence.pk})


def _type_options(form: DetailsForm) -> list[dict[str, Any]]:
    """The type's choices with their freshness periods, so the page's script can keep the hint up to date."""
    chosen = str(form["evidence_type"].value() or "")
    choices: Any = form.fields["evidence_type"].choices  # type: ignore[attr-defined]
    return [
        {
            "value": value,
            "label": label,
            "days": FRESHNESS_DAYS.get(value),
            "plural": TYPE_PLURALS.get(value, ""),
            "selected": chosen == str(value),
        }
        for value, label in choices
    ]


def _with_hint(form: DetailsForm, collected_on: date) -> DetailsForm:
    hint = valid_until_hint(str(form["evidence_type"].value() or ""), collected_on)
    # A bound field copies its help text when first made, and validating the form has made it already.
    form.fields["valid_until"].help_text = hint
    form["valid_until"].help_text = hint
    return form


# --- Adding evidence -------------------------------------------------------------------------------
@require_GET
@member_required(Capability.EDIT)
def evidence_new(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "upload")
    tab = tab if tab in TABS else "upload"
    control = _number(request.GET.get("control"))
    initial = {"owner": request.user.pk, "collected_on": date.today(), "controls": [control] if control else []}
    form = NEW_FORMS[tab](initial=initial, organisation=_organisation(request))
    return _new_page(request, tab, form)


def _new_page(
    request: HttpRequest,
    tab: str,
    form: DetailsForm,
    *,
    status: int = 200,
    duplicate: Evidence | None = None,
    refusal: str = "",
) -> HttpResponse:
    organisation = _organisation(request)
    chosen_ids = form.chosen_control_ids()
    chosen = list(_controls(chosen_ids)) if chosen_ids else []
    _with_hint(form, _form_date(form, "collected_on") or date.today())
    text = " ".join(str(form[name].value() or "") for name in ("title", "description") if form.is_bound)
    context = {
        "tab": tab,
        "tabs": TABS,
        "form": form,
        "chosen": chosen,
        "suggestions": _suggestions(organisation, text, exclude=set(chosen_ids)) if text.strip() else [],
        "type_options": _type_options(form),
        "max_bytes": settings.EVIDENCE_MAX_UPLOAD_BYTES,
        "max_mb": settings.EVIDENCE_MAX_UPLOAD_BYTES // (1024 * 1024),
        "duplicate": duplicate,
        "refusal": refusal,
        "query_control": _number(request.GET.get("control")),
    }
    return render_page(request, NEW_TEMPLATE, context, status=status)


def _form_date(form: DetailsForm, name: str) -> date | None:
    if form.is_bound:
        value = form.cleaned_data.get(name) if hasattr(form, "cleaned_data") else None
        return value if isinstance(value, date) else None
    value = form.initial.get(name)
    return value if isinstance(value, date) else None


def _suggestions(organisation: Organisation, text: str, *, exclude: set[int]) -> list[Control]:
    return [control for control in selectors.suggested_controls(organisation, text=text) if control.pk not in exclude]


@require_POST
@member_required(Capability.EDIT)
def evidence_upload(request: HttpRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = UploadForm(request.POST, request.FILES, organisation=organisation)
    xhr = _is_xhr(request)
    if not form.is_valid():
        if xhr:
            problems = [str(error) for errors in form.errors.values() for error in errors]
            return _refused(request, " ".join(problems))
        return _new_page(request, "upload", form, status=400)
    upload = form.cleaned_data["file"]
    name = upload.name or "evidence"
    try:
        evidence = services.evidence_upload(
            organisation=organisation,
            actor=_actor(request),
            file=upload,
            name=name,
            details=form.upload_details(),
            allow_duplicate=form.cleaned_data["allow_duplicate"],
        )
    except UploadRefused as refusal:
        if xhr:
            return _refused(request, refusal.message)
        return _new_page(request, "upload", form, status=400, refusal=refusal.message)
    except StorageFull as full:
        if xhr:
            return _refused(request, full.message, status=507)
        return _new_page(request, "upload", form, status=507, refusal=full.message)
    except services.DuplicateEvidence as duplicate:
        if xhr:
            context = {"existing": duplicate.existing, "name": name}
            return render(request, DUPLICATE_PROMPT, context, status=409)
        return _new_page(request, "upload", form, status=409, duplicate=duplicate.existing)
    except ValidationError as error:
        if xhr:
            return _refused(request, _error_text(error))
        _add_errors(form, error)
        return _new_page(request, "upload", form, status=400)
    if xhr:
        near = [found for found in selectors.duplicates_of(organisation, evidence) if found.reason == "near"]
        return _upload_result(request, "stored", status=201, evidence=evidence, near=near)
    messages.success(request, f"Added “{evidence.title}”.")
    return redirect(_detail_url(evidence))


def _upload_result(request: HttpRequest, outcome: str, *, status: int, **context: Any) -> HttpResponse:
    return render(request, UPLOAD_RESULT, {"outcome": outcome, **context}, status=status)


def _refused(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    return _upload_result(request, "refused", status=status, message=message, nothing_stored=True)


@require_GET
@member_required(Capability.EDIT)
def evidence_check_duplicate(request: HttpRequest) -> HttpResponse:
    """Before an upload: 204 when the organisation has no file with this SHA-256, else the prompt."""
    sha256 = request.GET.get("sha256", "").strip().lower()
    if not SHA256.match(sha256):
        return HttpResponse("Give the file's SHA-256 as 64 hexadecimal characters.", status=400)
    existing = services.exact_duplicate(_organisation(request), sha256=sha256)
    if existing is None:
        return HttpResponse(status=204)
    context = {"existing": existing, "name": request.GET.get("name", "")[:255]}
    return render(request, DUPLICATE_PROMPT, context)


@require_POST
@member_required(Capability.EDIT)
def evidence_link_create(request: HttpRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = LinkForm(request.POST, organisation=organisation)
    if not form.is_valid():
        return _new_page(request, "link", form, status=400)
    try:
        evidence = services.evidence_add_link(
            organisation=organisation,
            actor=_actor(request),
            url=form.cleaned_data["url"],
            details=form.details(),
            allow_duplicate=form.cleaned_data["allow_duplicate"],
        )
    except services.DuplicateEvidence as duplicate:
        return _new_page(request, "link", form, status=409, duplicate=duplicate.existing)
    except ValidationError as error:
        _add_errors(form, error)
        return _new_page(request, "link", form, status=400)
    messages.success(request, f"Added the link “{evidence.title}”.")
    return redirect(_detail_url(evidence))


@require_POST
@member_required(Capability.EDIT)
def evidence_note_create(request: HttpRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = NoteForm(request.POST, organisation=organisation)
    if not form.is_valid():
        return _new_page(request, "note", form, status=400)
    try:
        evidence = services.evidence_add_note(
            organisation=organisation, actor=_actor(request), note=form.cleaned_data["note"], details=form.details()
        )
    except ValidationError as error:
        _add_errors(form, error)
        return _new_page(request, "note", form, status=400)
    messages.success(request, f"Added the note “{evidence.title}”.")
    return redirect(_detail_url(evidence))


@require_GET
@member_required(Capability.EDIT)
def evidence_suggest_controls(request: HttpRequest) -> HttpResponse:
    """The control picker's options: matches for `q`, or suggestions from the item's title and
    description, adopted frameworks first; the chosen (`controls`) and `exclude` ids left out."""
    form = SuggestForm(request.GET)
    if not form.is_valid():
        return HttpResponse("Those search terms could not be read.", status=400)
    data = form.cleaned_data
    hidden = set(data["controls"]) | set(data["exclude"])
    query = data["q"].strip()
    text = query or f"{data['title']} {data['description']}".strip()
    options = _suggestions(_organisation(request), text, exclude=hidden) if text else []
    context = {"options": options, "query": query, "suggested": bool(options) and not query}
    return render(request, CONTROL_OPTIONS, context)


# --- One item --------------------------------------------------------------------------------------
def _detail_context(request: HttpRequest, evidence: Evidence, **extra: Any) -> dict[str, Any]:
    membership = require_membership(request)
    organisation = membership.organisation
    can_edit = membership.can(Capability.EDIT)
    revisions = list(selectors.revisions_of(evidence)) if evidence.form == EvidenceForm.FILE else []
    controls = list(evidence.controls.select_related("framework").order_by("framework__position", "position"))
    mapped = {control.pk for control in controls}
    current = next((revision for revision in revisions if revision.pk == evidence.current_revision_id), None)
    text = f"{evidence.title} {evidence.description}"
    days_left = evidence.days_left()
    return {
        "evidence": evidence,
        "status_class": STATUS_BADGES.get(EvidenceStatus(evidence.status), ""),
        "days_left": days_left,
        "expiring": days_left is not None and 0 <= days_left <= 30,
        "revisions": revisions,
        "current": current,
        "preview": current is not None and current.file_kind in PREVIEW_KINDS,
        "kind_label": _kind_label(current.file_kind) if current else "",
        "flags": [FLAG_DESCRIPTIONS.get(flag, flag.replace("_", " ")) for flag in (current.flags if current else [])],
        "controls": controls,
        "quality": quality_for(evidence),
        "duplicates": selectors.duplicates_of(organisation, evidence),
        "automated": evidence.source != EvidenceSource.MANUAL,
        "checks": list(selectors.checks_of(evidence)) if evidence.source != EvidenceSource.MANUAL else [],
        "suggestions": _suggestions(organisation, text, exclude=mapped) if can_edit else [],
        "can_edit": can_edit,
        "can_approve": membership.can(Capability.APPROVE),
        "can_submit": evidence.status in (EvidenceStatus.DRAFT, EvidenceStatus.REJECTED),
        "can_review": evidence.status in (EvidenceStatus.SUBMITTED, EvidenceStatus.ACCEPTED, EvidenceStatus.REJECTED),
        "review_form": ReviewForm(),
        "revise_form": ReviseForm(),
        "max_bytes": settings.EVIDENCE_MAX_UPLOAD_BYTES,
        "max_mb": settings.EVIDENCE_MAX_UPLOAD_BYTES // (1024 * 1024),
        **extra,
    }


def _kind_label(kind: str) -> str:
    """“a PNG image” → “PNG image”, for the file's detected type."""
    known = ALLOWED_KINDS.get(kind)
    if known is None:
        return kind.upper()
    label = re.sub(r"^(a|an) ", "", known.label)
    return label[0].upper() + label[1:]


@require_GET
@member_required()
def evidence_detail(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_evidence_for(request, evidence_id)
    return render_page(request, DETAIL_TEMPLATE, _detail_context(request, evidence))


@require_http_methods(["GET", "POST"])
@member_required()
def evidence_edit(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_evidence_for(request, evidence_id, capability=Capability.EDIT)
    organisation = evidence.organisation
    with_note = evidence.form == EvidenceForm.NOTE
    if request.method == "GET":
        form = EditForm(initial=_initial(evidence), organisation=organisation, with_note=with_note)
        return _edit_page(request, evidence, form)
    form = EditForm(request.POST, organisation=organisation, with_note=with_note)
    if not form.is_valid():
        return _edit_page(request, evidence, form, status=400)
    try:
        services.evidence_update(
            evidence=evidence,
            actor=_actor(request),
            details=form.details(),
            note=form.cleaned_data.get("note") if with_note else None,
        )
    except ValidationError as error:
        _add_errors(form, error)
        return _edit_page(request, evidence, form, status=400)
    messages.success(request, f"Saved the details of “{form.cleaned_data['title']}”.")
    return redirect(_detail_url(evidence))


def _initial(evidence: Evidence) -> dict[str, Any]:
    return {
        "title": evidence.title,
        "description": evidence.description,
        "evidence_type": evidence.evidence_type,
        "owner": evidence.owner_id,
        "collected_on": evidence.collected_on,
        "valid_until": evidence.valid_until,
        "controls": list(evidence.controls.values_list("pk", flat=True)),
        "note": evidence.note,
    }


def _edit_page(request: HttpRequest, evidence: Evidence, form: EditForm, *, status: int = 200) -> HttpResponse:
    chosen_ids = form.chosen_control_ids()
    _with_hint(form, _form_date(form, "collected_on") or evidence.collected_on)
    text = f"{form['title'].value() or ''} {form['description'].value() or ''}"
    context = {
        "evidence": evidence,
        "form": form,
        "chosen": list(_controls(chosen_ids)) if chosen_ids else [],
        "suggestions": _suggestions(evidence.organisation, text, exclude=set(chosen_ids)) if text.strip() else [],
        "type_options": _type_options(form),
    }
    return render_page(request, EDIT_TEMPLATE, context, status=status)


@require_POST
@member_required()
def evidence_revise(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_evidence_for(request, evidence_id, capability=Capability.EDIT)
    form = ReviseForm(request.POST, request.FILES)
    xhr = _is_xhr(request)
    if evidence.form != EvidenceForm.FILE:
        message = "Only file evidence has versions: edit the details instead."
        return _revise_refused(request, evidence, message, xhr=xhr)
    if not form.is_valid():
        return _revise_refused(request, evidence, "Choose the file to upload as the new version.", xhr=xhr)
    upload = form.cleaned_data["file"]
    try:
        revision = services.evidence_revise(
            evidence=evidence,
            actor=_actor(request),
            file=upload,
            name=upload.name or "evidence",
            comment=form.cleaned_data["comment"],
        )
    except UploadRefused as refusal:
        return _revise_refused(request, evidence, refusal.message, xhr=xhr)
    except StorageFull as full:
        return _revise_refused(request, evidence, full.message, xhr=xhr)
    except ValidationError as error:
        return _revise_refused(request, evidence, _error_text(error), xhr=xhr)
    messages.success(request, f"Uploaded version {revision.number} of “{evidence.title}”. Earlier versions are kept.")
    if xhr:
        return _upload_result(request, "revised", status=201, evidence=evidence, revision=revision)
    return redirect(_detail_url(evidence))


def _revise_refused(request: HttpRequest, evidence: Evidence, message: str, *, xhr: bool) -> HttpResponse:
    if xhr:
        return _refused(request, message)
    context = _detail_context(request, evidence, revise_error=message)
    return render_page(request, DETAIL_TEMPLATE, context, status=400)


@require_POST
@member_required()
def evidence_submit(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_evidence_for(request, evidence_id, capability=Capability.EDIT)
    try:
        services.evidence_submit(evidence=evidence, actor=_actor(request))
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"Submitted “{evidence.title}” for review. It now counts towards readiness.")
    return _go(request, _detail_url(evidence))


@require_POST
@member_required()
def evidence_review(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_evidence_for(request, evidence_id, capability=Capability.APPROVE)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return render_page(request, DETAIL_TEMPLATE, _detail_context(request, evidence, review_form=form), status=400)
    accept = form.cleaned_data["decision"] == "accept"
    try:
        services.evidence_review(
            evidence=evidence, actor=_actor(request), accept=accept, comment=form.cleaned_data["comment"]
        )
    except ValidationError as error:
        _add_errors(form, error)
        return render_page(request, DETAIL_TEMPLATE, _detail_context(request, evidence, review_form=form), status=400)
    if accept:
        messages.success(request, f"Accepted “{evidence.title}”.")
    else:
        messages.success(request, f"Rejected “{evidence.title}”. Its owner can see your comment.")
    return _go(request, _detail_url(evidence))


@require_POST
@member_required()
def evidence_controls(request: HttpRequest, evidence_id: int) -> HttpResponse:
    """Map the ticked controls to the item or remove one; htmx gets the controls and quality panels back."""
    evidence = get_evidence_for(request, evidence_id, capability=Capability.EDIT)
    form = ControlsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose controls from the list.")
    elif not form.cleaned_data["controls"] and not form.cleaned_data["remove"]:
        messages.info(request, "Tick the controls to map first.")
    else:
        added, removed = form.cleaned_data["controls"], form.cleaned_data["remove"]
        try:
            services.evidence_map_controls(evidence=evidence, actor=_actor(request), add=added, remove=removed)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, _mapping_message(len(added), len(removed)))
    if not wants_fragment(request):
        return redirect(_detail_url(evidence))
    evidence.refresh_from_db(fields=["quality"])
    context = _detail_context(request, evidence)
    body = render_to_string(f"{DETAIL_TEMPLATE}#controls", context, request=request)
    body += render_to_string(f"{DETAIL_TEMPLATE}#quality", {**context, "oob": True}, request=request)
    body += render_to_string("includes/messages.html", {"oob": True}, request=request)
    return HttpResponse(body)


def _mapping_message(added: int, removed: int) -> str:
    parts = []
    if added:
        parts.append(f"mapped {added} control{'s' if added != 1 else ''}")
    if removed:
        parts.append(f"removed {removed} mapping{'s' if removed != 1 else ''}")
    sentence = " and ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


@require_POST
@member_required()
def evidence_reuse(request: HttpRequest, evidence_id: int) -> HttpResponse:
    """Use this item, already held, for the chosen controls instead of a duplicate; `discard` names a
    duplicate just added, which is deleted and whose mappings move here."""
    existing = get_evidence_for(request, evidence_id, capability=Capability.EDIT)
    form = ReuseForm(request.POST)
    xhr = _is_xhr(request)
    if not form.is_valid():
        return _reused(request, existing, "Choose controls from the list.", ok=False, xhr=xhr)
    discard_id = form.cleaned_data["discard"]
    discard = get_evidence_for(request, discard_id, capability=Capability.EDIT) if discard_id else None
    if discard is not None and discard.pk == existing.pk:
        return _reused(request, existing, "An item cannot replace itself.", ok=False, xhr=xhr)
    try:
        services.evidence_link_instead(
            existing=existing, actor=_actor(request), control_ids=form.cleaned_data["controls"], discard=discard
        )
    except ValidationError as error:
        return _reused(request, existing, _error_text(error), ok=False, xhr=xhr)
    mapped = len(form.cleaned_data["controls"])
    if discard is not None:
        message = f"Kept “{existing.title}” and deleted the new copy; its controls now use “{existing.title}”."
    elif mapped:
        message = (
            f"Mapped {mapped} control{'s' if mapped != 1 else ''} to “{existing.title}” instead. No copy was stored."
        )
    else:
        message = f"Kept “{existing.title}” and stored no copy."
    return _reused(request, existing, message, ok=True, xhr=xhr)


def _reused(request: HttpRequest, existing: Evidence, message: str, *, ok: bool, xhr: bool) -> HttpResponse:
    if xhr:
        outcome = "reused" if ok else "refused"
        return _upload_result(request, outcome, status=200 if ok else 400, message=message, evidence=existing)
    (messages.success if ok else messages.error)(request, message)
    return _go(request, _detail_url(existing))


@require_POST
@member_required()
def evidence_delete(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_evidence_for(request, evidence_id, capability=Capability.EDIT)
    title = evidence.title
    services.evidence_delete(evidence=evidence, actor=_actor(request))
    messages.success(request, f"Deleted “{title}” and its files.")
    return _go(request, reverse("evidence_list"))


# --- Downloads -------------------------------------------------------------------------------------
def _uses_s3() -> bool:
    backend: Any = settings.STORAGES["default"]
    return "s3" in str(backend["BACKEND"]).lower()


# A streamed file is not an HttpResponse, which is all `member_required` is typed to wrap.
@require_GET
@member_required()
def evidence_revision_download(request: HttpRequest, evidencerevision_id: int) -> HttpResponseBase:
    """A file of the organisation's evidence: a short-lived signed URL on S3, else streamed from disk.
    Never rendered by the browser as a page of this site: sandboxed, not sniffed, not cached."""
    revision = get_revision_for(request, evidencerevision_id)
    inline = request.GET.get("inline") == "1" and revision.file_kind in INLINE_KINDS
    response = revision_file_response(revision, inline=inline) or _missing(request, revision)
    response["Cache-Control"] = "private, no-store"
    return response


def revision_file_response(revision: EvidenceRevision, *, inline: bool) -> HttpResponseBase | None:
    """The file with the safe headers (also served by the consultants' admin); None when it is missing.
    Callers have checked access, and that `inline` is only asked for INLINE_KINDS."""
    disposition = content_disposition_header(as_attachment=not inline, filename=revision.original_name)
    name = str(revision.file.name)
    response: HttpResponseBase | None
    if _uses_s3():
        parameters = {"ResponseContentDisposition": disposition, "ResponseContentType": revision.content_type}
        response = HttpResponseRedirect(default_storage.url(name, parameters=parameters))  # type: ignore[call-arg]
    else:
        response = _stream(revision, name, inline=inline)
    if response is not None:
        response["Cache-Control"] = "private, no-store"
    return response


def _stream(revision: EvidenceRevision, name: str, *, inline: bool) -> HttpResponseBase | None:
    try:
        handle = default_storage.open(name, "rb")
    except OSError:  # FileNotFoundError included: the row is there, its file is not
        return None
    response = FileResponse(
        handle, as_attachment=not inline, filename=revision.original_name, content_type=revision.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    return response


def _missing(request: HttpRequest, revision: EvidenceRevision) -> HttpResponse:
    context = {"revision": revision, "evidence": revision.evidence}
    return render(request, "evidence/includes/item_missing_file.html", context, status=404)
