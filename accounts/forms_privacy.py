"""Confirming the two deletions: typing what is deleted, and the password, so neither happens by accident
or from a session someone else left open."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Organisation, User

WRONG_PASSWORD = "That is not your password."


def _same_words(typed: str, expected: str) -> bool:
    # Case and spacing are forgiven; the words must be the same.
    return " ".join(typed.split()).casefold() == " ".join(expected.split()).casefold()


class _PasswordConfirmation(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(WRONG_PASSWORD)
        return password


class AccountDeleteForm(_PasswordConfirmation):
    email = forms.CharField(
        label="Your email address",
        help_text="Type it to confirm this is the account to delete.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    delete_sole_organisations = forms.BooleanField(required=False)
    field_order = ["email", "password", "delete_sole_organisations"]

    def __init__(self, *args: Any, user: User, sole_organisations: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        if sole_organisations:
            names = ", ".join(organisation.name for organisation in sole_organisations)
            self.fields["delete_sole_organisations"].label = f"Also delete {names} and everything in it"
        else:
            del self.fields["delete_sole_organisations"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email.casefold() != self.user.email.casefold():
            raise forms.ValidationError("That is not the email address of this account.")
        return email


class OrganisationDeleteForm(_PasswordConfirmation):
    name = forms.CharField(label="The organisation's name", widget=forms.TextInput(attrs={"autocomplete": "off"}))
    field_order = ["name", "password"]

    def __init__(self, *args: Any, user: User, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.organisation = organisation
        self.fields["name"].help_text = f"Type {organisation.name} to confirm."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not _same_words(name, self.organisation.name):
            raise forms.ValidationError(f"Type the organisation's name, {self.organisation.name}, as shown.")
        return name
