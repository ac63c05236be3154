"""The business profile wizard's steps, and the forms that adopt frameworks.

Each step is a plain form whose field names are BusinessProfile field names, so its cleaned data is
exactly the `values` that `services.profile_update` takes. The same definitions label the profile
summary, so a question reads the same wherever it is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from django import forms
from django.utils import timezone

from assessments.models import (
    BusinessProfile,
    CardHandling,
    EmployeesBand,
    Goal,
    ProductivitySuite,
    Region,
    SicSection,
    TurnoverBand,
)

COMPANY_NUMBER = re.compile(r"^(?:\d{8}|[A-Z]{2}\d{6})$")

CLOUD_PROVIDERS = [
    ("aws", "Amazon Web Services (AWS)"),
    ("azure", "Microsoft Azure"),
    ("google-cloud", "Google Cloud"),
    ("other", "Another cloud or hosting provider"),
]

CERTIFICATIONS = [
    ("cyber-essentials", "Cyber Essentials"),
    ("cyber-essentials-plus", "Cyber Essentials Plus"),
    ("iso27001", "ISO 27001"),
    ("soc2", "SOC 2 report"),
    ("pci-dss", "PCI DSS attestation"),
]

CARD_HANDLING_HINTS: dict[str, str] = {
    CardHandling.NONE: "",
    CardHandling.HOSTED: "For example Stripe Checkout, PayPal buttons or a Shopify, Square or Wix shop: "
    "card numbers never touch your website.",
    CardHandling.DIRECT_POST: "Your website shows the payment form itself and sends the card details straight "
    "to your provider.",
    CardHandling.TERMINALS: "A card machine on the counter or a phone reader such as SumUp or Square.",
    CardHandling.VIRTUAL_TERMINAL: "Customers read their card number out and staff type it into the "
    "provider's web page.",
    CardHandling.STORED: "For example card numbers kept in a spreadsheet, a booking system or on paper, "
    "or an in-house payment system.",
}

GOAL_HINTS: dict[str, str] = {
    Goal.WIN_WORK: "A tender or contract lists a certificate as a condition.",
    Goal.CUSTOMER_ASKED: "A customer's security questionnaire or contract asks for it.",
    Goal.INSURANCE: "Your insurer asks, or you want better cover.",
    Goal.GET_ORGANISED: "Nobody is asking yet; you want to know where you stand.",
    Goal.INTERNATIONAL: "You want a standard that buyers abroad recognise too.",
}


class HintedRadioSelect(forms.RadioSelect):
    """Radio buttons whose options can each carry a one-line explanation (`option.data.hint`)."""

    def __init__(self, *args: Any, hints: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hints = hints or {}

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: Any,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["hint"] = self.hints.get(str(value), "")
        return option


def _yes(label: str, help_text: str = "") -> forms.BooleanField:
    return forms.BooleanField(label=label, help_text=help_text, required=False)


def _choice(
    label: str, choices: list[tuple[str, str]], *, blank: str = "Choose one", help_text: str = ""
) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=[("", blank), *choices], required=False, help_text=help_text)


def _radio(
    label: str,
    choices: list[tuple[str, str]],
    *,
    hints: dict[str, str] | None = None,
    help_text: str = "",
    required: bool = False,
) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, choices=choices, required=required, help_text=help_text, widget=HintedRadioSelect(hints=hints)
    )


def _several(label: str, choices: list[tuple[str, str]], help_text: str = "") -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, help_text=help_text, widget=forms.CheckboxSelectMultiple
    )


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


# --- Wizard steps ---------------------------------------------------------------------------------
class StepForm(forms.Form):
    """One page of the wizard. `sections` groups the fields under optional headings."""

    slug: ClassVar[str]
    title: ClassVar[str]
    intro: ClassVar[str] = ""
    sections: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()

    def __init__(self, *args: Any, autosave_url: str = "", read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if read_only:
                field.disabled = True
            elif autosave_url:
                # Each field saves itself when it changes; htmx sends the whole form with the field's name.
                # Saves from one form queue behind each other, so quick changes arrive in order.
                field.widget.attrs.update(
                    {"hx-post": autosave_url, "hx-trigger": "change", "hx-sync": "closest form:queue all"}
                )

    def grouped(self) -> list[tuple[str, list[forms.BoundField]]]:
        sections = self.sections or (("", tuple(self.fields)),)
        return [(heading, [self[name] for name in names]) for heading, names in sections]


class CompanyForm(StepForm):
    slug = "company"
    title = "Your company"
    intro = "The basics: who you are and how big you are. Size decides which controls make sense for you."

    company_name = forms.CharField(
        label="Company name",
        max_length=200,
        error_messages={"required": "Enter your company's name."},
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    company_number = forms.CharField(
        label="Companies House number",
        required=False,
        max_length=12,
        help_text="8 characters, for example 01234567, or SC123456 in Scotland. Leave it empty if you are "
        "not a limited company.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "input-short"}),
    )
    sic_section = _choice(
        "Sector", SicSection.choices, help_text="The UK SIC section that fits your main business best."
    )
    employees_band = _choice("People working for you, including you", EmployeesBand.choices)
    turnover_band = _choice("Annual turnover", TurnoverBand.choices)

    def clean_company_number(self) -> str:
        number = re.sub(r"\s+", "", self.cleaned_data["company_number"]).upper()
        if number and not COMPANY_NUMBER.match(number):
            raise forms.ValidationError(
                "Enter the 8-character Companies House number: 8 digits, or 2 letters and 6 digits "
                "(for example 01234567 or SC123456)."
            )
        return number


class PlacesForm(StepForm):
    slug = "places"
    title = "Where you work"
    intro = (
        "Where your customers and staff are decides which data protection laws apply and whether "
        "personal data leaves the UK."
    )

    customer_regions = _several("Where are your customers?", Region.choices, "Tick all that apply.")
    staff_regions = _several(
        "Where are your staff?",
        Region.choices,
        "Tick all that apply, including contractors who work for you regularly.",
    )


class DataForm(StepForm):
    slug = "data"
    title = "The data you handle"
    intro = "Most data protection duties depend on whose personal data you hold and what you do with it."
    sections = (
        ("Personal data", ("customers_personal_data", "employee_data", "special_category_data", "childrens_data")),
        ("Card payments", ("card_handling",)),
        (
            "Online, marketing and premises",
            ("direct_marketing", "website", "processor_for_customers", "automated_decisions", "cctv"),
        ),
    )

    customers_personal_data = _yes(
        "We hold personal data about our customers",
        "Names, email addresses, phone numbers, delivery addresses, order history.",
    )
    employee_data = _yes(
        "We hold personal data about our staff", "Payroll, contracts, contact details, sickness records."
    )
    special_category_data = _yes(
        "We handle health or other special category data",
        "Health, ethnicity, religion, sexual orientation, trade union membership, "
        "biometrics or genetic data, about anyone.",
    )
    childrens_data = _yes(
        "We handle children's personal data",
        "Data about anyone under 18, for example pupils, young customers or players.",
    )
    card_handling = _radio(
        "How do you take card payments?",
        CardHandling.choices,
        hints=CARD_HANDLING_HINTS,
        help_text="This decides whether PCI DSS applies and which questionnaire you would fill in.",
    )
    direct_marketing = _yes(
        "We send marketing emails or texts", "Newsletters and offers sent to people, not replies to their questions."
    )
    website = _yes("We run a website")
    processor_for_customers = _yes(
        "We handle personal data on behalf of our customers",
        "For example you run payroll, host their systems, or store their customers' records.",
    )
    automated_decisions = _yes(
        "We make important decisions about people automatically",
        "For example credit checks or job applications screened by software with no person involved.",
    )
    cctv = _yes("We use CCTV")

    def clean_card_handling(self) -> str:
        return self.cleaned_data["card_handling"] or CardHandling.NONE


class TechnologyForm(StepForm):
    slug = "technology"
    title = "Your technology"
    intro = "The tools you use decide which technical controls apply, and who looks after some of them for you."
    sections = (
        ("", ("productivity_suite", "cloud_providers")),
        ("How you work", ("own_software", "remote_working", "byod", "physical_premises")),
    )

    productivity_suite = _radio("Our email and documents run on", ProductivitySuite.choices)
    cloud_providers = _several(
        "Cloud providers you use directly", CLOUD_PROVIDERS, "Leave these empty if you only use ready-made apps."
    )
    own_software = _yes(
        "We develop our own software", "Websites, apps or systems written by your own team or by developers you hire."
    )
    remote_working = _yes("Staff work from home or on the move")
    byod = _yes("Staff use their own phones or computers for work", "Even just to read work email.")
    physical_premises = _yes("We have our own office, shop or workshop")


class CustomersForm(StepForm):
    slug = "customers"
    title = "Your customers"
    intro = "Who you sell to, and what they ask of you, is often the real reason to get a certificate."
    sections = (
        ("Who you sell to", ("sells_to_consumers", "sells_to_businesses", "public_sector_bids")),
        (
            "What customers ask of you",
            ("customers_ask_soc2", "customers_ask_iso27001", "customers_ask_cyber_essentials"),
        ),
    )

    sells_to_consumers = _yes("We sell to members of the public")
    sells_to_businesses = _yes("We sell to other businesses")
    public_sector_bids = _yes(
        "We bid for public sector contracts", "Central or local government, the NHS, schools and universities."
    )
    customers_ask_soc2 = _yes("A customer has asked us for a SOC 2 report", "Usually US companies ask for it.")
    customers_ask_iso27001 = _yes("A customer has asked us for ISO 27001 certification")
    customers_ask_cyber_essentials = _yes("A customer has asked us for Cyber Essentials")


class GoalsForm(StepForm):
    slug = "goals"
    title = "Where you are heading"
    intro = "What you already have, and what you want, shapes the order we suggest."

    existing_certifications = _several(
        "Certificates you already hold", CERTIFICATIONS, "Only current ones; leave empty if you have none yet."
    )
    goal = _radio("What matters most right now?", Goal.choices, hints=GOAL_HINTS)
    deadline = forms.DateField(
        label="Deadline, if you have one",
        required=False,
        widget=DateInput,
        help_text="For example the date a tender closes or a contract renews.",
    )

    def clean_deadline(self) -> date | None:
        deadline: date | None = self.cleaned_data["deadline"]
        if deadline is not None and deadline < timezone.localdate():
            raise forms.ValidationError("Choose a date in the future.")
        return deadline


class ReviewForm(StepForm):
    slug = "review"
    title = "Check your answers"
    intro = "Check what you told us. Finish, and we will recommend frameworks with our reasons."


STEP_FORMS: tuple[type[StepForm], ...] = (
    CompanyForm,
    PlacesForm,
    DataForm,
    TechnologyForm,
    CustomersForm,
    GoalsForm,
    ReviewForm,
)
STEPS = {form.slug: form for form in STEP_FORMS}
STEP_SLUGS = tuple(STEPS)


def step_initial(form_class: type[StepForm], profile: BusinessProfile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in form_class.base_fields}


# --- What the business told us, in words -----------------------------------------------------------
@dataclass
class ProfileAnswer:
    label: str
    value: str
    answered: bool


@dataclass
class ProfileSection:
    slug: str
    title: str
    answers: list[ProfileAnswer]


def _display(field: forms.Field, value: Any) -> tuple[str, bool]:
    if isinstance(field, forms.BooleanField):
        return ("Yes" if value else "No"), True
    if isinstance(field, forms.MultipleChoiceField):
        labels = dict(field.choices)  # type: ignore[arg-type]
        return (", ".join(str(labels.get(item, item)) for item in value) or "None"), True
    if value in (None, ""):
        return "Not answered", False
    if isinstance(field, forms.ChoiceField):
        return str(dict(field.choices).get(value, value)), True  # type: ignore[arg-type]
    if isinstance(value, date):
        return f"{value:%-d %B %Y}", True
    return str(value), True


def profile_sections(profile: BusinessProfile) -> list[ProfileSection]:
    """Every answer of every step, labelled as the wizard asks it."""
    sections = []
    for form_class in STEP_FORMS:
        if not form_class.base_fields:
            continue
        answers = []
        for name, field in form_class.base_fields.items():
            value, answered = _display(field, getattr(profile, name))
            answers.append(ProfileAnswer(str(field.label), value, answered))
        sections.append(ProfileSection(form_class.slug, form_class.title, answers))
    return sections


# --- Adopting frameworks --------------------------------------------------------------------------
class TargetDateForm(forms.Form):
    target_date = forms.DateField(label="Target date", required=False, widget=DateInput)

    def clean_target_date(self) -> date | None:
        target: date | None = self.cleaned_data["target_date"]
        if target is not None and target < timezone.localdate():
            raise forms.ValidationError("Choose a target date in the future.")
        return target


class AdoptForm(TargetDateForm):
    # A framework's slug; dots are allowed ("nist-csf-2.0"), so not a SlugField.
    framework = forms.CharField(max_length=60, widget=forms.HiddenInput)
