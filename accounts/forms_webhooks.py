"""The form that adds a webhook endpoint: its address, a description, and the events it receives."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundWidget

from accounts.webhooks import EVENTS


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint address",
        max_length=500,
        assume_scheme="https",
        help_text="A public https:// address that accepts POST requests, e.g. https://hooks.example.co.uk/greenlight.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}),
        error_messages={
            "required": "Enter the address events should be sent to.",
            "invalid": "Enter a full web address, starting https://.",
        },
    )
    description = forms.CharField(
        label="Description",
        max_length=200,
        required=False,
        help_text="Optional: what receives the events, so others know why it is here.",
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(name, name) for name in EVENTS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event.", "invalid_choice": "Choose events from the list."},
    )

    def event_options(self) -> list[tuple[BoundWidget, str]]:
        """Each event's checkbox beside what makes Greenlight send it."""
        return [(option, EVENTS[str(option.data["value"])].description) for option in self["events"]]

    def add_service_error(self, error: ValidationError) -> None:
        """A service's errors, on the fields they name (the whole form for the rest)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
