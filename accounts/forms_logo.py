"""The organisation settings page's logo upload form; the checks and writes are in accounts/logos.py."""

from __future__ import annotations

from django import forms

from accounts.logos import LogoImage, inspect_logo


class LogoForm(forms.Form):
    logo = forms.FileField(
        label="Logo",
        help_text="PNG or JPEG, at most 2 MB and 4,000 × 4,000 pixels. It appears on the cover of your reports.",
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
    )

    def clean_logo(self) -> LogoImage:
        return inspect_logo(self.cleaned_data["logo"])
