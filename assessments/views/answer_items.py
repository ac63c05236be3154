"""One control of the assessment and its answer form, as HTML.

A framework's page shows 100+ of these, and the autosave endpoint sends one back after each change, so
only that fragment is swapped and focus stays where it was (every input keeps its id). They are built
here with plain escaping rather than by a template included once per control: through some 40 tags
each, the controls were most of the page's time. Every value from the data goes through `escape`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from html import escape
from typing import Any
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from assessments import charts, selectors
from assessments.models import AnswerStatus
from compliance.models import Control
from compliance.templatetags.library import fact_label

STATUS_CHOICES: list[tuple[str, str]] = AnswerStatus.choices
STATUS_LABELS: dict[str, str] = dict(STATUS_CHOICES)
STATUS_BADGES: dict[str | None, str] = {
    AnswerStatus.IMPLEMENTED: "badge-success",
    AnswerStatus.PARTIAL: "badge-warning",
    AnswerStatus.NOT_IMPLEMENTED: "badge-danger",
    AnswerStatus.NOT_APPLICABLE: "badge-muted",
    None: "",
}
ERROR_KEYS = ("__all__", "status", "notes", "justification", "owner", "version")


@cache
def _url_prefix(name: str, *placeholders: object) -> str:
    """A URL reversed once with placeholder arguments, so 100+ controls do not each go through `reverse`."""
    return reverse(name, args=placeholders)


def answer_save_url(control_id: int) -> str:
    return f"{_url_prefix('answer_save', 0).removesuffix('0/')}{control_id}/"


def control_url(framework_slug: str, ref: str) -> str:
    pattern = _url_prefix("control_detail", "framework-placeholder", "control-placeholder")
    return pattern.replace("framework-placeholder", quote(framework_slug)).replace("control-placeholder", quote(ref))


def overwrite_notice(overwrote: str) -> str:
    return f"{overwrote} since you opened the page; your answer replaced theirs (kept in the audit log)."


@dataclass(frozen=True)
class FormContext:
    """What every control's form takes from the request, worked out once per page."""

    can_edit: bool = False
    # The hidden input `{% csrf_token %}` would render.
    csrf_input: str = ""
    # A framework's page: its filters, so a browser without JavaScript returns to them after saving.
    query_string: str = ""


@dataclass
class Members:
    """The organisation's members for the owner field, their options built once per page and not once
    per control: with 60 members and 120 controls, that was 7,000 options to escape."""

    names: list[tuple[int, str]] = field(default_factory=list)
    _options: dict[int | None, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = dict(self.names)

    def options(self, chosen: int | None) -> str:
        found = self._options.get(chosen)
        if found is None:
            found = self._options[chosen] = "".join(
                f'<option value="{user_id}"{" selected" if user_id == chosen else ""}>{escape(name)}</option>'
                for user_id, name in self.names
            )
        return found


@dataclass
class Covered:
    """A control that an answer in combined mode also counts for."""

    control: Control
    # It has an answer of its own (or from another control), which combined mode leaves alone.
    answered_separately: bool = False


def _errors(errors: list[str], element_id: str = "", *, alert: bool = False, css: str = "field-error") -> str:
    """A list of errors, or nothing when there are none."""
    if not errors:
        return ""
    attributes = (f' id="{element_id}"' if element_id else "") + (' role="alert"' if alert else "")
    return f'<div class="{css}"{attributes}>{"".join(f"<p>{escape(error)}</p>" for error in errors)}</div>'


def _lines(*lines: str) -> str:
    return "\n".join(line for line in lines if line)


@dataclass
class ControlItem:
    control: Control
    # (text, help text) of each live question
    questions: list[tuple[str, str]] = field(default_factory=list)
    answer: selectors.AnswerDetail | None = None
    # The status that counts: the control's own answer or, failing that, a covering control's.
    status: str | None = None
    via: Control | None = None
    via_policy: bool = False
    excluded_facts: list[str] = field(default_factory=list)
    updated_by: str = ""
    combined: bool = False
    covers: list[Covered] = field(default_factory=list)
    # What the form shows: the saved answer, or what was posted when it could not be saved.
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=lambda: {key: [] for key in ERROR_KEYS})
    saved: bool = False
    overwrote: str = ""
    applied_to: list[Control] = field(default_factory=list)
    # The evidence line under the answer (evidence.embeds.answer_evidence_line), already escaped.
    evidence_line: str = ""
    members: Members = field(default_factory=Members)
    form: FormContext = field(default_factory=FormContext)

    @property
    def pk(self) -> int:
        return self.control.pk

    @property
    def dom(self) -> str:
        """The control's id as text, for element ids."""
        return str(self.control.pk)

    @property
    def excluded(self) -> bool:
        return bool(self.excluded_facts)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status or "", "Not answered yet")

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "")

    @property
    def counted_from_mapping(self) -> bool:
        """The status comes from another control: applied in combined mode, or covered by a mapping."""
        return self.via is not None

    @property
    def form_errors(self) -> list[str]:
        stale = ["This page is out of date: reload it and answer again."] if self.errors.get("version") else []
        return self.errors.get("__all__", []) + stale

    @property
    def updated_on(self) -> str:
        """When the answer last changed, as "21 November 2026" in local time."""
        return charts.long_date(timezone.localdate(self.answer.updated_at)) if self.answer else ""

    # --- The HTML ---------------------------------------------------------------------------------
    @property
    def html(self) -> SafeString:
        """The whole `<article>`: what a page lists and what an autosave swaps in."""
        d = self.dom
        if self.excluded:
            body = self._excluded()
            css = "answer-item answer-item-excluded"
        else:
            body = _lines(self._header(), self._form())
            css = "answer-item"
        return mark_safe(  # noqa: S308 - every value is escaped
            f'<article class="{css}" id="control-{d}" aria-labelledby="control-{d}-title">\n{body}\n</article>'
        )

    def _excluded(self) -> str:
        c, d = self.control, self.dom
        facts = " and ".join(escape(label[:1].lower() + label[1:]) for label in map(fact_label, self.excluded_facts))
        return _lines(
            f'  <details class="answer-excluded"{" open" if self.form_errors else ""}>',
            f'    <summary><span id="control-{d}-title"><span class="ref">{escape(c.ref)}</span> {escape(c.title)}'
            '</span> <span class="badge badge-muted">Not applicable</span></summary>',
            f"    <p>Not applicable to your business because it only applies to a business that {facts}.</p>",
            f'    <p class="muted">{escape(c.description)}</p>',
            _errors(self.form_errors, alert=True, css="form-errors"),
            f'    <p class="hint">This follows from your <a href="{reverse("profile_summary")}">business profile</a>. '
            "If your business has changed, update the profile and this control will be asked.</p>",
            "  </details>",
        )

    def _header(self) -> str:
        """The control's heading, badges, description and questions, and where its answer came from."""
        c = self.control
        auto_fail = (
            ' <span class="badge badge-danger" title="Not meeting this fails the whole assessment">Auto-fail</span>'
            if c.auto_fail
            else ""
        )
        questions = via = covers = ""
        if self.questions:
            listed = "".join(
                f"<li>{escape(text)}{f' <span class="hint">{escape(hint)}</span>' if hint else ''}</li>"
                for text, hint in self.questions
            )
            questions = f'  <ul class="answer-questions" aria-label="Questions to ask yourself">{listed}</ul>'
        if self.via is not None:
            own = "" if self.answer else ", which covers this control. Answer here to give it an answer of its own"
            source = f"{escape(self.via.framework.name)} {escape(self.via.ref)}"
            via = f'  <p class="answer-via">Counted from {source}{own}.</p>'
        elif self.via_policy and self.answer is None:
            via = (
                '  <p class="answer-via">Counted as partly implemented because a published policy covers it. '
                "Answer here to say how it works in practice.</p>"
            )
        if self.combined and self.covers:
            listed = ", ".join(
                f"{escape(covered.control.framework.name)} {escape(covered.control.ref)}"
                + (" (answered separately)" if covered.answered_separately else "")
                for covered in self.covers
            )
            covers = f'  <p class="answer-covers"><strong>Also answers:</strong> {listed}</p>'
        return _lines(
            '  <header class="answer-header">',
            f'    <p class="eyebrow">{escape(c.group.ref)} {escape(c.group.title)}</p>' if self.combined else "",
            f'    <h3 id="control-{self.dom}-title"><span class="ref">{escape(c.ref)}</span> {escape(c.title)}</h3>',
            f'    <p class="answer-badges"><span class="badge {self.status_badge}">{escape(self.status_label)}</span>'
            f"{auto_fail}</p>",
            "  </header>",
            f'  <p class="answer-description">{escape(c.description)}</p>',
            questions,
            via,
            covers,
        )

    def _form(self) -> str:
        d, form, save_url = self.dom, self.form, answer_save_url(self.control.pk)
        htmx = (
            f' hx-post="{save_url}" hx-trigger="change" hx-target="#control-{d}" hx-swap="outerHTML"'
            if form.can_edit
            else ""
        )
        mode = (
            '<input type="hidden" name="apply_to_mapped" value="1">'
            if self.combined
            else f'<input type="hidden" name="filters" value="{escape(form.query_string)}">'
        )
        save = (
            '<button type="submit" class="button button-small js-hidden">Save'
            f'<span class="visually-hidden"> {escape(self.control.ref)}</span></button>'
            if form.can_edit
            else ""
        )
        guidance = control_url(self.control.framework.slug, self.control.ref)
        notice = (
            '<div class="message message-warning answer-overwrite" role="alert">'
            f"<p>{escape(overwrite_notice(self.overwrote))}</p></div>"
            if self.overwrote
            else ""
        )
        return _lines(
            f'  <form class="answer-form" method="post" action="{save_url}"{htmx} novalidate>',
            f"    {form.csrf_input}",
            f'    <input type="hidden" name="version" value="{self.values["version"]}">',
            f"    {mode}",
            _errors(self.form_errors, alert=True, css="form-errors"),
            f'    <fieldset class="answer-inputs"{"" if form.can_edit else " disabled"}>',
            self._inputs(),
            "    </fieldset>",
            '    <div class="answer-footer">',
            f"      {save}",
            f'      <p class="answer-saved" role="status">{self._saved_note()}</p>',
            f'      <a class="answer-guidance" href="{escape(guidance)}">Guidance'
            f'<span class="visually-hidden"> for {escape(self.control.ref)}</span></a>',
            "    </div>",
            f"    {self.evidence_line}" if self.evidence_line else "",
            notice,
            "  </form>",
        )

    def _inputs(self) -> str:
        """The status radios, the reason for "not applicable", notes and owner, each with its errors."""
        d, e, v = self.dom, self.errors, self.values
        radios = "".join(
            f'<label class="answer-choice answer-choice-{value}" for="c{d}-{value}"><input type="radio" '
            f'id="c{d}-{value}" name="status" value="{value}"{" checked" if value == v["status"] else ""}> '
            f"{escape(label)}</label>"
            for value, label in STATUS_CHOICES
        )
        status_invalid = f' field-invalid" aria-describedby="c{d}-status-error' if e["status"] else ""
        shown = " is-shown" if v["justification"] or e["justification"] else ""
        described = f"c{d}-justification-hint"
        justification_invalid = ""
        if e["justification"]:
            described += f" c{d}-justification-error"
            shown += " field-invalid"
            justification_invalid = ' aria-invalid="true"'
        return _lines(
            f'      <fieldset class="answer-statuses{status_invalid}">',
            "        <legend>Where are you with this?</legend>",
            f'        <div class="answer-choices">{radios}</div>',
            _errors(e["status"], f"c{d}-status-error"),
            "      </fieldset>",
            f'      <div class="field answer-justification{shown}">',
            f'        <label for="c{d}-justification">Why does it not apply to your business?</label>',
            f'        <p class="hint" id="c{d}-justification-hint">Needed for “not applicable”: the reason goes in '
            "your Statement of Applicability.</p>",
            f'        <textarea id="c{d}-justification" name="justification" rows="2" aria-describedby="{described}"'
            f"{justification_invalid}>{escape(v['justification'])}</textarea>",
            _errors(e["justification"], f"c{d}-justification-error", alert=True),
            "      </div>",
            '      <div class="answer-extra">',
            f'        <div class="field answer-notes{" field-invalid" if e["notes"] else ""}">',
            f'          <label for="c{d}-notes">Notes <span class="muted">(optional)</span></label>',
            f'          <textarea id="c{d}-notes" name="notes" rows="2">{escape(v["notes"])}</textarea>',
            _errors(e["notes"]),
            "        </div>",
            f'        <div class="field answer-owner{" field-invalid" if e["owner"] else ""}">',
            f'          <label for="c{d}-owner">Owner</label>',
            f'          <select id="c{d}-owner" name="owner"><option value="">Nobody yet</option>'
            f"{self.members.options(v['owner_id'])}</select>",
            _errors(e["owner"]),
            "        </div>",
            "      </div>",
        )

    def _saved_note(self) -> str:
        """ "Saved" after an autosave; otherwise who last changed the answer, and when."""
        if self.saved:
            applied = ""
            if self.applied_to:
                listed = ", ".join(f"{escape(c.framework.name)} {escape(c.ref)}" for c in self.applied_to)
                applied = f", and counted for {listed} too"
            return f"<strong>Saved</strong>{applied}."
        if self.answer:
            by = f" by {escape(self.updated_by)}" if self.updated_by else ""
            return f'<span class="muted">Last changed{by} on {self.updated_on}</span>'
        return ""
