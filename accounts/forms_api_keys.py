"""Forms for API keys and partner access: the scopes as grouped checkboxes, and a key's expiry."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.boundfield import BoundWidget
from django.utils import timezone

from accounts.models import Partner
from accounts.scopes import READ_SCOPES, Scope

# The part of a scope before the colon, as the settings pages name it.
AREAS = {
    "profile": "Business profile",
    "assessments": "Assessments",
    "readiness": "Readiness",
    "tasks": "Plan",
    "evidence": "Evidence",
    "policies": "Policies",
    "reports": "Reports",
    "assistant": "Assistant",
    "audit": "Audit log",
    "webhooks": "Webhooks",
}

EXPIRY_CHOICES = [
    ("never", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In 1 year"),
    ("date", "On a date"),
]


def end_of(day: date) -> datetime:
    """A key set to expire on a day works until that day ends, in UK time."""
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def scope_field(**kwargs: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label="Scopes",
        choices=[(scope.value, scope.description) for scope in Scope],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope.", "invalid_choice": "Choose scopes from the list."},
        **kwargs,
    )


class ScopesMixin:
    """For a form with a `scopes` field: its checkboxes grouped by area, and a service's refusal shown in place."""

    def scope_groups(self) -> list[tuple[str, list[BoundWidget]]]:
        groups: dict[str, list[BoundWidget]] = {}
        for option in cast(forms.Form, self)["scopes"]:
            area = str(option.data["value"]).split(":", 1)[0]
            groups.setdefault(AREAS.get(area, area.capitalize()), []).append(option)
        return list(groups.items())

    def add_service_error(self, error: ValidationError, *, fields: dict[str, str] | None = None) -> None:
        """Shows a service's refusal beside the field it names (`fields` renames the service's names)."""
        form = cast(forms.Form, self)
        if not hasattr(error, "error_dict"):
            form.add_error(None, error.messages)
            return
        for name, messages in error.message_dict.items():
            name = (fields or {}).get(name, name)
            form.add_error(name if name in form.fields else None, messages)


class ApiKeyForm(ScopesMixin, forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the key is for, so you can tell your keys apart: for example “Xero sync” or “IT dashboard”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Give the key a name."},
    )
    scopes = scope_field(help_text="Choose only what the script or tool needs. Scopes cannot be changed later.")
    expiry = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, initial="90", widget=forms.RadioSelect)
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        help_text="The key works until the end of this day.",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the date as day, month and year."},
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the key a name.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        expiry = data.get("expiry")
        data["expires_at"] = None
        today = timezone.localdate()
        if expiry == "date":
            day = data.get("expires_on")
            if day is None:
                if "expires_on" not in self.errors:
                    self.add_error("expires_on", "Choose the date the key stops working.")
            elif day <= today:
                self.add_error("expires_on", "Choose a date after today.")
            else:
                data["expires_at"] = end_of(day)
        elif expiry and expiry != "never":
            data["expires_at"] = timezone.now() + timedelta(days=int(expiry))
        return data


class PartnerGrantForm(ScopesMixin, forms.Form):
    partner = forms.ModelChoiceField(
        label="Partner",
        queryset=Partner.objects.none(),
        empty_label="Choose a partner",
        help_text="Only partners registered with Greenlight, and not already given access, are listed.",
        error_messages={"required": "Choose a partner.", "invalid_choice": "Choose a partner from the list."},
    )
    scopes = scope_field(initial=sorted(scope.value for scope in READ_SCOPES))

    def __init__(self, *args: Any, partners: QuerySet[Partner], **kwargs: Any) -> None:
        """`partners` is the queryset offered; it is read once, for both the choices and `has_partners`."""
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["partner"])
        field.queryset = partners  # validation looks the choice up again, so a stale page cannot grant
        offered = list(partners)
        field.choices = [("", field.empty_label or ""), *((partner.pk, partner.name) for partner in offered)]
        self.has_partners = bool(offered)


class GrantScopesForm(ScopesMixin, forms.Form):
    """Changing what an existing grant allows; one per grant on the page, told apart by `auto_id`."""

    scopes = scope_field()


class PartnerKeyForm(ScopesMixin, forms.Form):
    """Issuing a partner's key in the admin. Every scope by default: an organisation's grant narrows it."""

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the partner uses it for, e.g. “Production sync”.",
        error_messages={"required": "Give the key a name."},
    )
    scopes = scope_field(
        initial=[scope.value for scope in Scope],
        help_text="The most the key may do; each organisation's grant narrows it further.",
    )
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        help_text="Optional. The key works until the end of this day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        if day <= timezone.localdate():
            raise ValidationError("Choose a date after today.")
        return end_of(day)
