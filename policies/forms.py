"""Forms of the policy studio. The editor's fields follow the version's sections, so it is built per version."""

from __future__ import annotations

from typing import Any

from django import forms

from policies.models import PolicyStatus


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *PolicyStatus.choices], required=False)


class DraftForm(forms.Form):
    template = forms.SlugField(max_length=60)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("send_back", "Send back for changes")])
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when sending it back: say what needs to change. Kept with the approval record.",
    )


class CompareForm(forms.Form):
    old = forms.IntegerField(label="From version", min_value=1)
    new = forms.IntegerField(label="To version", min_value=1)


def _rows(body: str) -> int:
    """Tall enough for the section at about 70 characters a line, within reason."""
    lines = sum(1 + len(line) // 70 for line in body.split("\n"))
    return max(6, min(28, lines + 1))


def body_field_name(key: str) -> str:
    return f"body-{key}"


class VersionEditForm(forms.Form):
    """One Markdown textarea per section, plus the revision the editor loaded (to refuse a stale save)."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    number = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, sections: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sections = sections
        for section in sections:
            self.fields[body_field_name(section["key"])] = forms.CharField(
                label=section["title"],
                required=False,
                strip=False,
                initial=section["body"],
                widget=forms.Textarea(attrs={"rows": _rows(section["body"])}),
            )

    def bodies(self) -> dict[str, str]:
        return {section["key"]: self.cleaned_data.get(body_field_name(section["key"]), "") for section in self.sections}

    def section_fields(self) -> list[tuple[dict[str, Any], forms.BoundField]]:
        return [(section, self[body_field_name(section["key"])]) for section in self.sections]
