"""The notification preferences form: one choice of channel per kind the person can receive."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django import forms

from accounts.notification_kinds import Channel, NotificationKind


class NotificationPreferencesForm(forms.Form):
    def __init__(self, *args: Any, kinds: list[NotificationKind], current: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        for kind in kinds:
            self.fields[kind.key] = forms.ChoiceField(
                label=kind.label,
                help_text=kind.description,
                choices=Channel.choices,
                initial=current.get(kind.key, kind.default),
                widget=forms.RadioSelect,
                error_messages={
                    "required": f"Choose how to receive “{kind.label}”.",
                    "invalid_choice": f"Choose how to receive “{kind.label}”.",
                },
            )

    def rows(self) -> Iterator[tuple[NotificationKind, forms.BoundField]]:
        for kind in self.kinds:
            yield kind, self[kind.key]
