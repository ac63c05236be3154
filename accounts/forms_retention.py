"""The retention settings form: one number of days per kind of record, within the bounds accounts.retention
sets (and checks again when saving)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from accounts.models import Organisation
from accounts.retention import KINDS, bound_errors


class RetentionForm(forms.Form):
    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {kind.field: getattr(organisation, kind.field) for kind in KINDS})
        super().__init__(*args, **kwargs)
        for kind in KINDS:
            errors = bound_errors(kind)
            # The bounds as validators with our own words; the browser's min and max only help.
            self.fields[kind.field] = forms.IntegerField(
                label=f"{kind.label} (days)",
                help_text=kind.help_text,
                validators=[
                    MinValueValidator(kind.minimum, message=errors["min_value"]),
                    MaxValueValidator(kind.maximum, message=errors["max_value"]),
                ],
                error_messages={
                    "required": f"Say how many days to keep {kind.label.lower()}.",
                    "invalid": "Enter a whole number of days, such as 365.",
                },
                widget=forms.NumberInput(
                    attrs={"min": kind.minimum, "max": kind.maximum, "step": 1, "class": "input-days"}
                ),
            )
