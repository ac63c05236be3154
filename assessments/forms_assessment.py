"""Forms of the assessment: one answer, a new round, and the filters of a framework's page."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Organisation, User
from assessments.models import AnswerStatus

STATUS_REQUIRED = "Choose implemented, partially implemented, not implemented or not applicable."
JUSTIFICATION_REQUIRED = (
    "Say why this control does not apply to your business: auditors read the reason in your Statement of Applicability."
)

# The filters by status, as GET values; "unanswered" and "not_applicable" read more than the answer itself.
STATUS_FILTERS: dict[str, str] = {
    "unanswered": "Not answered yet",
    "implemented": "Implemented",
    "partial": "Partially implemented",
    "not_implemented": "Not implemented",
    "not_applicable": "Not applicable",
}


class AnswerForm(forms.Form):
    """One control's answer. The page renders its fields by hand (one form per control, ids made unique
    by control), so this form only reads and checks what was posted."""

    status = forms.ChoiceField(
        choices=AnswerStatus.choices,
        error_messages={"required": STATUS_REQUIRED, "invalid_choice": STATUS_REQUIRED},
    )
    notes = forms.CharField(required=False, max_length=5000)
    justification = forms.CharField(required=False, max_length=2000)
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        error_messages={"invalid_choice": "Choose someone in your organisation as the owner."},
    )
    # The answer's version when the page was opened (0: there was no answer), to notice an overwrite.
    version = forms.IntegerField(required=False, min_value=0)
    apply_to_mapped = forms.BooleanField(required=False)

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = User.objects.filter(memberships__organisation=organisation)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("status") == AnswerStatus.NOT_APPLICABLE and not cleaned.get("justification", "").strip():
            self.add_error("justification", JUSTIFICATION_REQUIRED)
        return cleaned


class RoundStartForm(forms.Form):
    name = forms.CharField(
        label="Name of the new round",
        required=False,
        max_length=120,
        help_text="Optional, for example “Before the Cyber Essentials renewal”.",
    )


class AssessmentFilterForm(forms.Form):
    """Filters of a framework's assessment page. Unknown values are ignored rather than refused."""

    status = forms.ChoiceField(required=False)
    group = forms.ChoiceField(required=False)

    def __init__(self, data: Any, *, groups: list[tuple[str, str]], counts: dict[str, int]) -> None:
        super().__init__(data)
        status = self.fields["status"]
        group = self.fields["group"]
        assert isinstance(status, forms.ChoiceField)
        assert isinstance(group, forms.ChoiceField)
        status.choices = [("", "Any status")] + [
            (value, f"{label} ({counts.get(value, 0)})") for value, label in STATUS_FILTERS.items()
        ]
        group.choices = [("", "All groups"), *groups]
        self.valid_values = {"status": set(STATUS_FILTERS), "group": {value for value, _label in groups}}

    @property
    def chosen(self) -> dict[str, str]:
        """The filters in force: each value that is one of its field's choices."""
        chosen: dict[str, str] = {}
        for name, valid in self.valid_values.items():
            value = str(self.data.get(name, ""))
            if value in valid:
                chosen[name] = value
        return chosen
