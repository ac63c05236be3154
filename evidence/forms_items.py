"""Forms for adding evidence and looking after one item: the details every item shares, the upload, link
and note forms, editing, a new revision, review, control mapping and reusing an item already held.

The forms only parse what was posted; `evidence.services.items` decides what is allowed and stores it.
"""

from __future__ import annotations

from datetime import date
from pathlib import PurePath
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.models import Organisation, User
from config.formatting import long_date
from evidence.kinds import FRESHNESS_DAYS, EvidenceType, default_valid_until
from evidence.services.items import MAX_NOTE_CHARS, EvidenceDetails

# More than anyone maps by hand; a bigger list is a mistake or an attack on the IN clause.
MAX_CONTROLS = 200
AUTOMATIC_TYPE = ""
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
EXTENSION_TYPES = {
    "csv": EvidenceType.CONFIGURATION,
    "json": EvidenceType.CONFIGURATION,
    "log": EvidenceType.LOG,
}
# How a type's evidence is named in the valid-until hint: “defaults to 20 February 2027 for screenshots”.
TYPE_PLURALS: dict[str, str] = {
    EvidenceType.POLICY: "policies",
    EvidenceType.SCREENSHOT: "screenshots",
    EvidenceType.CONFIGURATION: "configuration exports",
    EvidenceType.LOG: "log exports",
    EvidenceType.CERTIFICATE: "certificates",
    EvidenceType.TRAINING: "training records",
    EvidenceType.CONTRACT: "contracts",
    EvidenceType.REPORT: "reports",
    EvidenceType.REGISTER: "registers",
    EvidenceType.MINUTES: "minutes and sign-offs",
    EvidenceType.OTHER: "other evidence",
}
SUBMIT_CHOICES = [("submit", "Submit for review"), ("draft", "Save as a draft")]


class ControlIdsField(forms.Field):
    """Ids of library controls from checkboxes named alike; the service checks each is a live control."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        try:
            ids = sorted({int(item) for item in values})
        except (TypeError, ValueError):
            raise ValidationError("Choose controls from the list.", code="invalid") from None
        if len(ids) > MAX_CONTROLS or any(pk <= 0 for pk in ids):
            raise ValidationError(f"Choose at most {MAX_CONTROLS} controls from the list.", code="invalid")
        return ids


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def members_of(organisation: Organisation) -> QuerySet[User]:
    return User.objects.filter(memberships__organisation=organisation).order_by("full_name", "email")


class OwnerChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class DetailsForm(forms.Form):
    """What is said about an item whatever its form: the fields of `EvidenceDetails`."""

    title = forms.CharField(
        label="Title", max_length=200, error_messages={"required": "Give it a title that says what it shows."}
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What it shows and why it proves the control, in a sentence or two.",
    )
    evidence_type = forms.ChoiceField(label="Type", choices=EvidenceType.choices, initial=EvidenceType.OTHER)
    owner = OwnerChoiceField(label="Owner", queryset=User.objects.none(), required=False, empty_label="Nobody")
    collected_on = forms.DateField(label="Collected on", required=False, widget=DateInput())
    valid_until = forms.DateField(label="Valid until", required=False, widget=DateInput())
    controls = ControlIdsField(label="Mapped controls", required=False)
    submit = forms.ChoiceField(
        label="When it is added",
        choices=SUBMIT_CHOICES,
        initial="submit",
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.fields["owner"].queryset = members_of(organisation)  # type: ignore[attr-defined]

    def clean_collected_on(self) -> date | None:
        collected_on: date | None = self.cleaned_data.get("collected_on")
        if collected_on is not None and collected_on > date.today():
            raise ValidationError("The date it was collected cannot be in the future.")
        return collected_on

    def chosen_control_ids(self) -> list[int]:
        """The controls to show as chosen when the form is shown again, valid or not."""
        if self.is_bound:
            try:
                return self.fields["controls"].clean(self["controls"].value())  # type: ignore[no-any-return]
            except ValidationError:
                return []
        initial = self.initial.get("controls") or []
        return [int(pk) for pk in initial]

    def details(self, *, title: str | None = None, evidence_type: str | None = None) -> EvidenceDetails:
        data = self.cleaned_data
        return EvidenceDetails(
            title=title if title is not None else data["title"],
            description=data.get("description", ""),
            evidence_type=evidence_type or data["evidence_type"],
            owner=data.get("owner"),
            collected_on=data.get("collected_on"),
            valid_until=data.get("valid_until"),
            control_ids=tuple(data.get("controls") or ()),
            submit=data.get("submit") != "draft",
        )


class UploadForm(DetailsForm):
    """One file and the details shared by a batch; the page's script posts each file of a batch on its own."""

    file = forms.FileField(label="File", allow_empty_file=True, error_messages={"required": "Choose a file to upload."})
    allow_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["title"].help_text = "Leave blank to use the file name."
        self.fields["evidence_type"].choices = [  # type: ignore[attr-defined]
            (AUTOMATIC_TYPE, "Decide from each file"),
            *EvidenceType.choices,
        ]
        self.fields["evidence_type"].required = False
        self.fields["evidence_type"].initial = AUTOMATIC_TYPE
        self.fields[
            "evidence_type"
        ].help_text = (
            "Pictures become screenshots, CSV and JSON files configuration exports; you can change each one later."
        )

    def upload_details(self) -> EvidenceDetails:
        upload = self.cleaned_data["file"]
        title = self.cleaned_data.get("title") or title_from_name(upload.name or "")
        evidence_type = self.cleaned_data.get("evidence_type") or type_for_upload(upload)
        return self.details(title=title, evidence_type=evidence_type)


class LinkForm(DetailsForm):
    url = forms.URLField(
        label="Web address",
        max_length=2000,
        assume_scheme="https",
        error_messages={"required": "Enter the web address.", "invalid": "Enter a web address such as https://…"},
        help_text="A page that shows the control in place, such as a status page or a shared document.",
    )
    allow_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = ["title", "url", "description"]


class NoteForm(DetailsForm):
    note = forms.CharField(
        label="Note",
        max_length=MAX_NOTE_CHARS,
        error_messages={"required": "Write what the note records."},
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What was checked, by whom and what was found. Write it so an auditor can follow it.",
    )

    field_order = ["title", "note", "description"]


class EditForm(DetailsForm):
    """The details of an item already held; a note's text is edited here too."""

    note = forms.CharField(
        label="Note",
        required=False,
        max_length=MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Write what the note records."},
    )

    def __init__(self, *args: Any, with_note: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["submit"]
        if with_note:
            self.fields["note"].required = True
        else:
            del self.fields["note"]


class ReviseForm(forms.Form):
    file = forms.FileField(label="New version", allow_empty_file=True)
    comment = forms.CharField(
        label="What changed",
        required=False,
        max_length=300,
        help_text="Optional, for example “Taken after the settings were tightened”.",
    )


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when rejecting: say what needs to change.",
    )


class ControlsForm(forms.Form):
    """Add the ticked controls to an item, or remove one."""

    controls = ControlIdsField(required=False)
    remove = ControlIdsField(required=False)


class ReuseForm(forms.Form):
    """Use an item already held for these controls instead of a duplicate (optionally discarding it)."""

    controls = ControlIdsField(required=False)
    discard = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class SuggestForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    title = forms.CharField(required=False, max_length=200)
    description = forms.CharField(required=False, max_length=5000)
    controls = ControlIdsField(required=False)
    exclude = ControlIdsField(required=False)


def title_from_name(name: str) -> str:
    """A title from a file name: no folders or extension, dashes and underscores as spaces."""
    stem = PurePath(name.replace("\\", "/")).name
    if "." in stem.lstrip("."):
        stem = stem.rsplit(".", 1)[0]
    title = " ".join(stem.replace("-", " ").replace("_", " ").split())
    return title[:200] or "Uploaded file"


def type_for_upload(upload: Any) -> str:
    """The type an upload most likely is, for a default the person can change: pictures are screenshots
    (judged by their first bytes, as intake does), exports by their extension."""
    head = _head(upload)
    if head.startswith(IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return EvidenceType.SCREENSHOT
    extension = PurePath(upload.name or "").suffix.lower().lstrip(".")
    return EXTENSION_TYPES.get(extension, EvidenceType.OTHER)


def _head(upload: Any) -> bytes:
    try:
        upload.seek(0)
        head: bytes = upload.read(16)
        upload.seek(0)
    except (OSError, ValueError):
        return b""
    return head


def valid_until_hint(evidence_type: str, collected_on: date) -> str:
    """What a blank valid-until date becomes: “defaults to 20 February 2027 for screenshots”."""
    if evidence_type not in FRESHNESS_DAYS:
        example = default_valid_until(EvidenceType.SCREENSHOT, collected_on)
        return f"Leave blank to use each type's usual period, for example {long_date(example)} for screenshots."
    until = default_valid_until(evidence_type, collected_on)
    return f"Leave blank: defaults to {long_date(until)} for {TYPE_PLURALS[evidence_type]}."
