"""Forms of the evidence register: the filter bar (a GET form whose bad values are dropped one by one,
never refused as a whole) and the bulk action a person applies to the rows they selected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from evidence.kinds import EvidenceType
from evidence.models import EvidenceSource, EvidenceStatus
from evidence.selectors import EXPIRY_FILTERS, SORTS, RegisterFilters

DEFAULT_SORT = "-collected_on"
MAX_ID = 2**63 - 1  # the largest primary key: a larger number would overflow the database, not just miss
NOBODY = 0  # the owner filter's value for items nobody owns

STATUS_CHOICES = [("", "Any status"), *EvidenceStatus.choices]
TYPE_CHOICES = [("", "Any type"), *EvidenceType.choices]
EXPIRY_CHOICES = [("", "Any date"), *EXPIRY_FILTERS.items()]
SOURCE_CHOICES = [("", "Any source"), *EvidenceSource.choices]
SORT_CHOICES = list(SORTS.items())


class RegisterFilterForm(forms.Form):
    """The register's filters. Frameworks, controls and owners are the organisation's own, so the view
    passes the values that exist; anything else (a stale bookmark, a hand-edited URL) is ignored."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    framework = forms.ChoiceField(required=False, label="Framework")
    control = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Control")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Status")
    type = forms.ChoiceField(required=False, choices=TYPE_CHOICES, label="Type")
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Owner")
    expiry = forms.ChoiceField(required=False, choices=EXPIRY_CHOICES, label="Valid until")
    source = forms.ChoiceField(required=False, choices=SOURCE_CHOICES, label="Source")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Sort by")

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        *,
        framework_slugs: Iterable[str],
        control_ids: Iterable[int],
        owner_ids: Iterable[int],
    ) -> None:
        super().__init__(data or {})
        self.fields["framework"].choices = [("", "Any framework"), *((slug, slug) for slug in framework_slugs)]  # type: ignore[attr-defined]
        self.fields["control"].choices = [("", "Any control"), *((str(pk), str(pk)) for pk in control_ids)]  # type: ignore[attr-defined]
        self.fields["owner"].choices = [  # type: ignore[attr-defined]
            ("", "Anyone"),
            (str(NOBODY), "Nobody"),
            *((str(pk), str(pk)) for pk in owner_ids),
        ]

    def value(self, name: str, default: Any = None) -> Any:
        """A field's cleaned value, or the default when it was missing or not valid."""
        self.is_valid()  # cleaned_data keeps the valid fields; an invalid one falls back to the default
        value = self.cleaned_data.get(name)
        return default if value in (None, "") else value

    def filters(self) -> RegisterFilters:
        return RegisterFilters(
            q=self.value("q", "").strip(),
            framework=self.value("framework", ""),
            control=self.value("control"),
            status=self.value("status", ""),
            evidence_type=self.value("type", ""),
            owner=self.value("owner"),
            expiry=self.value("expiry", ""),
            source=self.value("source", ""),
            sort=self.value("sort", DEFAULT_SORT),
        )


def filter_query(filters: RegisterFilters) -> dict[str, str]:
    """The URL parameters that reproduce these filters, leaving out the defaults so links stay short."""
    values: dict[str, Any] = {
        "q": filters.q,
        "framework": filters.framework,
        "control": filters.control,
        "status": filters.status,
        "type": filters.evidence_type,
        "owner": filters.owner,
        "expiry": filters.expiry,
        "source": filters.source,
        "sort": "" if filters.sort == DEFAULT_SORT else filters.sort,
    }
    return {name: str(value) for name, value in values.items() if value not in (None, "")}


def is_filtered(filters: RegisterFilters) -> bool:
    """Whether any filter narrows the register (sorting does not)."""
    return any(name != "sort" for name in filter_query(filters))


# --- Bulk actions ----------------------------------------------------------------------------------
ACTION_CHOICES = [
    ("", "Choose an action"),
    ("submit", "Submit for review"),
    ("accept", "Accept"),
    ("owner", "Set owner"),
    ("map", "Map to a control"),
]


class IdListField(forms.Field):
    """The selected rows' ids. Anything that is not a whole number is dropped rather than refused: the
    service only ever touches the organisation's own items, so a bad id can do nothing anyway."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        ids: list[int] = []
        for item in values:
            try:
                number = int(item)
            except (TypeError, ValueError):
                continue
            if 0 < number <= MAX_ID:
                ids.append(number)
        return list(dict.fromkeys(ids))


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(choices=ACTION_CHOICES, required=False, label="Action")
    ids = IdListField(required=False)
    bulk_owner = forms.IntegerField(required=False, min_value=0, max_value=MAX_ID, label="New owner")
    bulk_control = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, label="Control")
    delete = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("delete"):
            cleaned["action"] = "delete"
        action = cleaned.get("action")
        if not action:
            raise ValidationError("Choose what to do with the selected items.")
        if not cleaned.get("ids"):
            raise ValidationError("Select at least one item first.")
        if action == "owner" and cleaned.get("bulk_owner") is None:
            raise ValidationError("Choose the new owner, or “Nobody” to clear it.")
        if action == "map" and not cleaned.get("bulk_control"):
            raise ValidationError("Choose the control to map the selected items to.")
        return cleaned

    @property
    def value(self) -> int | None:
        """What the service's action needs beside the ids: the owner (None clears it) or the control."""
        if self.cleaned_data["action"] == "owner":
            owner = self.cleaned_data["bulk_owner"]
            return owner or None
        if self.cleaned_data["action"] == "map":
            return self.cleaned_data["bulk_control"]
        return None


def requested_action(data: Mapping[str, Any]) -> str:
    """The action asked for, read before validation so the view can check the role it needs first."""
    return "delete" if data.get("delete") else str(data.get("action") or "")
