"""From a business profile to the facts that decide which library controls apply.

The facts are the keys of `compliance.profile_facts.PROFILE_FACTS`, which library controls name in
`applies_if`. Derivations are explicit and few, so "why does this control apply?" has an answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from assessments.models import BusinessProfile, CardHandling, EmployeesBand, Region

ONLINE_CARD_HANDLING = {CardHandling.HOSTED, CardHandling.DIRECT_POST, CardHandling.STORED}


def profile_facts(profile: BusinessProfile | None) -> dict[str, bool]:
    if profile is None:
        return {}
    abroad = {Region.EU, Region.US, Region.ELSEWHERE}
    return {
        "employees": profile.employees_band not in ("", EmployeesBand.SOLO),
        "special_category_data": profile.special_category_data,
        "childrens_data": profile.childrens_data,
        "card_payments": profile.card_handling != CardHandling.NONE,
        "stores_card_data": profile.card_handling == CardHandling.STORED,
        "ecommerce": profile.card_handling in ONLINE_CARD_HANDLING,
        "own_software": profile.own_software,
        "cloud_services": bool(profile.cloud_providers) or profile.productivity_suite not in ("", "neither"),
        "remote_working": profile.remote_working,
        "byod": profile.byod,
        # Customers or staff abroad mean personal data leaves the UK, at least to serve them.
        "international_transfers": bool(abroad & set(profile.customer_regions) | abroad & set(profile.staff_regions)),
        "direct_marketing": profile.direct_marketing,
        "website": profile.website,
        "processor_for_customers": profile.processor_for_customers,
        "physical_premises": profile.physical_premises,
        "automated_decisions": profile.automated_decisions,
        "public_sector_bids": profile.public_sector_bids,
        "cctv": profile.cctv,
    }


def control_applies(applies_if: Iterable[str], facts: dict[str, bool]) -> bool:
    """A control applies when every fact it names holds. With no profile yet, everything applies."""
    if not facts:
        return True
    return all(facts.get(fact, False) for fact in applies_if)


def unmet_facts(applies_if: Iterable[str], facts: dict[str, bool]) -> list[str]:
    return [fact for fact in applies_if if facts and not facts.get(fact, False)]
