"""Template-first tailoring: the business profile fills the placeholders and switches sections on and off.

Everything here is code, not a language model: the facts in a policy come from what the business told
us, with plain wording where the profile is still incomplete. The model may later rewrite the prose of
sections marked `rewrite: true` (see drafting.py), never the facts or the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone

from accounts.models import Organisation
from assessments.facts import profile_facts
from assessments.models import BusinessProfile, CardHandling, EmployeesBand, ProductivitySuite, Region, SicSection
from config.formatting import long_date
from policies.library import PLACEHOLDERS, TOKEN, PolicyTemplate
from policies.models import SectionOrigin

EMPLOYEE_WORDS: dict[str, str] = {
    EmployeesBand.SOLO: "one person",
    EmployeesBand.MICRO: "2 to 9 people",
    EmployeesBand.SMALL: "10 to 49 people",
    EmployeesBand.MEDIUM: "50 to 249 people",
    EmployeesBand.LARGE: "250 or more people",
}
SMALL_BANDS = {"", EmployeesBand.SOLO, EmployeesBand.MICRO}

PRODUCTIVITY_WORDS: dict[str, str] = {
    ProductivitySuite.MICROSOFT: "Microsoft 365",
    ProductivitySuite.GOOGLE: "Google Workspace",
    ProductivitySuite.BOTH: "Microsoft 365 and Google Workspace",
}
CLOUD_WORDS: dict[str, str] = {
    "aws": "Amazon Web Services",
    "azure": "Microsoft Azure",
    "google-cloud": "Google Cloud",
    "other": "other cloud and hosting providers",
}
REGION_WORDS: dict[str, str] = {
    Region.UK: "the UK",
    Region.EU: "the EU",
    Region.US: "the United States",
    Region.ELSEWHERE: "other countries",
}
CARD_HANDLING_CLAUSES: dict[str, str] = {
    CardHandling.NONE: "We do not take card payments.",
    CardHandling.HOSTED: "We take card payments online only through a payment page hosted by our payment "
    "provider, so card numbers never reach our own systems.",
    CardHandling.DIRECT_POST: "We take card payments online through our own checkout page, which sends card "
    "details straight to our payment provider; our own systems never store card numbers.",
    CardHandling.TERMINALS: "We take card payments in person on card terminals supplied by our payment "
    "provider, so card numbers never reach our own systems.",
    CardHandling.VIRTUAL_TERMINAL: "We take card payments by phone, typed straight into our payment "
    "provider's virtual terminal; card details are never written down or kept.",
    CardHandling.STORED: "We store, process or transmit card numbers on our own systems, so those systems "
    "must meet PCI DSS in full.",
}
ICO_REGISTRATION_CLAUSE = "We pay the data protection fee to the ICO."

# Names of the organisation and company number are never re-cased; role and phrase placeholders
# start a sentence with a capital ("The IT Lead keeps ...").
NEVER_CAPITALISED = {"organisation_name", "company_number_clause"}
SENTENCE_START = re.compile(
    r"(?:(?:\A|\n)[ \t]*(?:(?:[-*+]|\d+[.)]|#{1,6}|>)[ \t]+)?|[.!?][\"')]?[ \t\n]+)(?:\*\*|__)?\Z"
)


def join_words(items: Iterable[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    items = [item for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class PolicyContext:
    """Everything a template needs to know about the business, already worded."""

    organisation_name: str
    company_number_clause: str
    sector: str
    employee_count: str
    productivity_suite: str
    cloud_providers: str
    data_types: str
    customer_locations: str
    frameworks: str
    policy_owner: str
    security_lead: str
    dpo_or_lead: str
    effective_date: str
    ico_registration_clause: str
    card_handling_clause: str
    facts: Mapping[str, bool] = field(default_factory=dict)
    framework_slugs: frozenset[str] = frozenset()
    # Plain facts for the language model (never personal data): what the rewrite may lean on.
    summary: Mapping[str, Any] = field(default_factory=dict)

    def values(self, template: PolicyTemplate) -> dict[str, str]:
        """Every placeholder's text for this template."""
        values = {name: str(getattr(self, name)) for name in PLACEHOLDERS if name != "review_months"}
        values["review_months"] = str(template.review_months)
        return values


def build_context(
    *,
    organisation: Organisation,
    profile: BusinessProfile | None,
    frameworks: list[tuple[str, str]],
    today: date | None = None,
) -> PolicyContext:
    """Word the profile for the templates. `frameworks` is [(slug, name)] in the order to name them."""
    today = today or timezone.localdate()
    facts = profile_facts(profile)
    band = profile.employees_band if profile else ""
    small = band in SMALL_BANDS
    policy_owner = "the Managing Director" if small else "the Operations Director"
    security_lead = "the Managing Director" if small else "the IT Lead"
    # A Data Protection Officer is required for special category data at scale: we read that as
    # health or similar data in a business of ten or more people.
    needs_dpo = bool(profile and profile.special_category_data and not small)
    dpo_or_lead = (
        "our Data Protection Officer" if needs_dpo else f"the person responsible for data protection ({policy_owner})"
    )
    name = (profile.company_name.strip() if profile and profile.company_name.strip() else "") or organisation.name
    number = profile.company_number.strip() if profile else ""
    card_handling = profile.card_handling if profile else CardHandling.NONE
    return PolicyContext(
        organisation_name=name,
        company_number_clause=f", company number {number}," if number else "",
        sector=_sector(profile),
        employee_count=EMPLOYEE_WORDS.get(band, "a small team"),
        productivity_suite=PRODUCTIVITY_WORDS.get(
            profile.productivity_suite if profile else "", "our email and document systems"
        ),
        cloud_providers=_cloud_providers(profile),
        data_types=_data_types(profile),
        customer_locations=_customer_locations(profile),
        frameworks=join_words(name for _, name in frameworks)
        or "recognised good practice for information security and data protection",
        policy_owner=policy_owner,
        security_lead=security_lead,
        dpo_or_lead=dpo_or_lead,
        effective_date=long_date(today),
        ico_registration_clause=ICO_REGISTRATION_CLAUSE,
        card_handling_clause=CARD_HANDLING_CLAUSES.get(card_handling, CARD_HANDLING_CLAUSES[CardHandling.NONE]),
        facts=facts,
        framework_slugs=frozenset(slug for slug, _ in frameworks),
        summary=_summary(profile, facts, frameworks),
    )


def policy_context_for(organisation: Organisation, *, today: date | None = None) -> PolicyContext:
    """The context from the organisation's profile and adopted frameworks (two queries)."""
    from assessments.selectors import adoptions_for, profile_for

    frameworks = [(adoption.framework.slug, adoption.framework.name) for adoption in adoptions_for(organisation)]
    return build_context(
        organisation=organisation, profile=profile_for(organisation), frameworks=frameworks, today=today
    )


def _sector(profile: BusinessProfile | None) -> str:
    if profile and profile.sic_section in SicSection.values:
        return str(SicSection(profile.sic_section).label).lower()
    return "our line of business"


def _cloud_providers(profile: BusinessProfile | None) -> str:
    chosen = [CLOUD_WORDS[key] for key in CLOUD_WORDS if profile and key in (profile.cloud_providers or [])]
    return join_words(chosen) or "our cloud services"


def _customer_locations(profile: BusinessProfile | None) -> str:
    chosen = [REGION_WORDS[key] for key in REGION_WORDS if profile and key in (profile.customer_regions or [])]
    return join_words(chosen) or "the UK"


def _data_types(profile: BusinessProfile | None) -> str:
    if profile is None:
        return "personal data about the people we deal with"
    whose = join_words(
        [
            "customers'" if profile.customers_personal_data else "",
            "staff's" if profile.employee_data else "",
        ]
    )
    base = f"{whose} personal data" if whose else "personal data about the people we deal with"
    extras = [
        "special category data such as health information" if profile.special_category_data else "",
        "children's personal data" if profile.childrens_data else "",
        "payment card data" if profile.card_handling == CardHandling.STORED else "",
    ]
    extra = join_words(extras)
    return f"{base}, including {extra}" if extra else base


def _summary(
    profile: BusinessProfile | None, facts: Mapping[str, bool], frameworks: list[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "sector": _sector(profile),
        "people": EMPLOYEE_WORDS.get(profile.employees_band if profile else "", "not told us yet"),
        "productivity_suite": PRODUCTIVITY_WORDS.get(profile.productivity_suite if profile else "", "not stated"),
        "cloud_providers": _cloud_providers(profile),
        "customer_locations": _customer_locations(profile),
        "facts": sorted(name for name, value in facts.items() if value),
        "frameworks": [name for _, name in frameworks],
    }


# --- Filling ----------------------------------------------------------------------------------------
class UnfilledPlaceholder(ValueError):
    pass


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder; `{{` and `}}` become literal braces. A placeholder with no value is
    an error, never left in the text."""

    def replace(match: re.Match[str]) -> str:
        token, name = match.group(0), match.group(1)
        if name is None:
            return token[0]
        if name not in values:
            raise UnfilledPlaceholder(f"No value for the placeholder {{{name}}}.")
        value = values[name]
        if value and name not in NEVER_CAPITALISED and SENTENCE_START.search(text, 0, match.start()):
            value = value[0].upper() + value[1:]
        return value

    return TOKEN.sub(replace, text)


def tailor(template: PolicyTemplate, context: PolicyContext) -> list[dict[str, Any]]:
    """The template's sections that apply to this business, placeholders filled, as version sections."""
    values = context.values(template)
    sections: list[dict[str, Any]] = []
    for section in template.sections:
        if not section.when.holds(dict(context.facts), context.framework_slugs):
            continue
        entry: dict[str, Any] = {
            "key": section.key,
            "title": fill(section.title, values).strip(),
            "body": fill(section.body, values).strip(),
            "origin": SectionOrigin.TEMPLATE.value,
            "provider": "",
            "rewrite": section.rewrite,
        }
        if "effective_date" in section.placeholders:
            # Drafts carry the drafting date; publishing swaps in the real date (see services).
            entry["effective_date"] = context.effective_date
        sections.append(entry)
    return sections
