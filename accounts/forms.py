from __future__ import annotations

from typing import Any, cast

from allauth.account import forms as allauth_forms
from django import forms

from accounts.roles import ROLE_DESCRIPTIONS, Role


class OrganisationForm(forms.Form):
    name = forms.CharField(
        label="Organisation name",
        max_length=200,
        help_text="Your business's trading name, as your customers know it.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the organisation's name.")
        return name


def role_choices(*, include_owner: bool) -> list[tuple[str, str]]:
    return [
        (role.value, f"{role.label} — {ROLE_DESCRIPTIONS[role]}")
        for role in Role
        if include_owner or role != Role.OWNER
    ]


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label="Role", initial=Role.MEMBER)

    def __init__(self, *args: object, include_owner: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        cast(forms.ChoiceField, self.fields["role"]).choices = role_choices(include_owner=include_owner)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[
            ("", "All activity"),
            ("organisation.", "Organisation"),
            ("membership.", "Members and roles"),
            ("invitation.", "Invitations"),
        ],
    )


class LoginForm(allauth_forms.LoginForm):
    """allauth's sign-in form with our wording (sentence case, UK English)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "remember" in self.fields:
            self.fields["remember"].label = "Keep me signed in on this device"


class SignupForm(allauth_forms.SignupForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "password2" in self.fields:
            self.fields["password2"].label = "Confirm password"
            self.fields["password2"].widget.attrs["placeholder"] = "Type the password again"
