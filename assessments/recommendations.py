"""Which frameworks a business should adopt, and why: explicit rules over the business profile.

Each rule looks at the profile and, when it fires, gives a framework, how strongly we recommend it
and the reasons in the owner's words. Rules never guess: no profile answer, no recommendation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from assessments.models import BusinessProfile, CardHandling, EmployeesBand, Goal, Region

REQUIRED, RECOMMENDED, WORTH_CONSIDERING = "required", "recommended", "worth considering"
STRENGTH_ORDER = {REQUIRED: 0, RECOMMENDED: 1, WORTH_CONSIDERING: 2}

# The PCI DSS self-assessment questionnaire a merchant usually completes, by how it takes cards.
SAQ_BY_CARD_HANDLING = {
    CardHandling.HOSTED: ("SAQ A", "card details are entered only on your payment provider's page or iframe"),
    CardHandling.DIRECT_POST: (
        "SAQ A-EP",
        "your own website's checkout page can affect how card details are collected",
    ),
    CardHandling.TERMINALS: ("SAQ B or B-IP", "you take cards in person on terminals from your payment provider"),
    CardHandling.VIRTUAL_TERMINAL: ("SAQ C-VT", "staff type card details into your provider's virtual terminal"),
    CardHandling.STORED: ("SAQ D", "card numbers are stored, processed or transmitted on your own systems"),
}


@dataclass
class Recommendation:
    framework_slug: str
    strength: str
    reasons: list[str] = field(default_factory=list)
    saq: str = ""

    def merge(self, other: Recommendation) -> None:
        if STRENGTH_ORDER[other.strength] < STRENGTH_ORDER[self.strength]:
            self.strength = other.strength
        self.reasons.extend(reason for reason in other.reasons if reason not in self.reasons)
        self.saq = self.saq or other.saq


Rule = Callable[[BusinessProfile], Recommendation | None]


def uk_gdpr_personal_data(profile: BusinessProfile) -> Recommendation | None:
    holds = []
    if profile.customers_personal_data:
        holds.append("your customers' personal data")
    if profile.employee_data:
        holds.append("your staff's personal data")
    if not holds:
        return None
    reasons = [f"You hold {' and '.join(holds)}, so UK GDPR and the Data Protection Act 2018 apply to you."]
    if profile.special_category_data:
        reasons.append("You handle special category data such as health records, which needs extra safeguards.")
    if profile.childrens_data:
        reasons.append("You handle children's data, which brings the ICO's Children's code into play.")
    if profile.direct_marketing or profile.website:
        reasons.append("Your marketing emails or website cookies are covered by PECR, which sits beside UK GDPR.")
    return Recommendation("uk-gdpr", REQUIRED, reasons)


def cyber_essentials_government(profile: BusinessProfile) -> Recommendation | None:
    if not profile.public_sector_bids:
        return None
    return Recommendation(
        "cyber-essentials",
        REQUIRED,
        [
            "You bid for UK public sector contracts: central government requires Cyber Essentials from suppliers "
            "whose contracts involve personal data or certain ICT services."
        ],
    )


def cyber_essentials_asked(profile: BusinessProfile) -> Recommendation | None:
    if not profile.customers_ask_cyber_essentials:
        return None
    return Recommendation("cyber-essentials", REQUIRED, ["A customer has asked you for Cyber Essentials."])


def cyber_essentials_baseline(profile: BusinessProfile) -> Recommendation | None:
    if profile.goal == Goal.INSURANCE:
        return Recommendation(
            "cyber-essentials",
            RECOMMENDED,
            ["Cyber insurers often ask for Cyber Essentials, and some include cover with it."],
        )
    if (profile.employees_band and profile.employees_band != EmployeesBand.SOLO) or profile.cloud_providers:
        return Recommendation(
            "cyber-essentials",
            WORTH_CONSIDERING,
            [
                "Cyber Essentials is the UK's baseline against common internet attacks and the cheapest "
                "certificate to show customers you take security seriously."
            ],
        )
    return None


def pci_dss_cards(profile: BusinessProfile) -> Recommendation | None:
    if profile.card_handling == CardHandling.NONE:
        return None
    saq, why = SAQ_BY_CARD_HANDLING[CardHandling(profile.card_handling)]
    return Recommendation(
        "pci-dss-4.0.1",
        REQUIRED,
        [
            f"You take card payments, so your payment provider requires PCI DSS compliance. Your likely "
            f"questionnaire is {saq}, because {why}."
        ],
        saq=saq,
    )


def soc2_us_enterprise(profile: BusinessProfile) -> Recommendation | None:
    if profile.customers_ask_soc2:
        strength = REQUIRED if Region.US in profile.customer_regions else RECOMMENDED
        return Recommendation("soc2-tsc-2017", strength, ["Enterprise customers have asked you for a SOC 2 report."])
    if Region.US in profile.customer_regions and profile.sells_to_businesses and profile.own_software:
        return Recommendation(
            "soc2-tsc-2017",
            WORTH_CONSIDERING,
            ["You sell software or services to US businesses, whose security reviews usually ask for SOC 2."],
        )
    return None


def iso27001_enterprise(profile: BusinessProfile) -> Recommendation | None:
    reasons = []
    if profile.customers_ask_iso27001:
        reasons.append("Enterprise customers have asked you for ISO 27001 certification.")
    if profile.goal == Goal.INTERNATIONAL:
        reasons.append("You want an internationally recognised standard; ISO 27001 is the one most buyers know.")
    if reasons:
        return Recommendation("iso27001-2022", REQUIRED if profile.customers_ask_iso27001 else RECOMMENDED, reasons)
    if profile.sells_to_businesses and (Region.EU in profile.customer_regions or profile.public_sector_bids):
        return Recommendation(
            "iso27001-2022",
            WORTH_CONSIDERING,
            ["Larger customers in Europe and the public sector often prefer suppliers certified to ISO 27001."],
        )
    return None


def nist_csf_structure(profile: BusinessProfile) -> Recommendation | None:
    if profile.goal == Goal.GET_ORGANISED:
        return Recommendation(
            "nist-csf-2.0",
            WORTH_CONSIDERING,
            [
                "You want to get your house in order: NIST CSF 2.0 is a free, clear structure for a security "
                "programme, with no certificate to buy."
            ],
        )
    if Region.US in profile.customer_regions and not profile.customers_ask_soc2:
        return Recommendation(
            "nist-csf-2.0",
            WORTH_CONSIDERING,
            ["You have US customers; NIST CSF is the framework US buyers recognise without asking for an audit."],
        )
    return None


RULES: tuple[Rule, ...] = (
    uk_gdpr_personal_data,
    cyber_essentials_government,
    cyber_essentials_asked,
    cyber_essentials_baseline,
    pci_dss_cards,
    soc2_us_enterprise,
    iso27001_enterprise,
    nist_csf_structure,
)


def recommend(profile: BusinessProfile | None) -> list[Recommendation]:
    """Every framework some rule recommends, strongest first, reasons merged."""
    if profile is None:
        return []
    found: dict[str, Recommendation] = {}
    for rule in RULES:
        recommendation = rule(profile)
        if recommendation is None:
            continue
        if recommendation.framework_slug in found:
            found[recommendation.framework_slug].merge(recommendation)
        else:
            found[recommendation.framework_slug] = recommendation
    return sorted(found.values(), key=lambda r: STRENGTH_ORDER[r.strength])
