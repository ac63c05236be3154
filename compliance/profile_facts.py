"""Facts about a business that decide whether a control applies to it.

The business profile (assessments) answers these; library controls name them in `applies_if`.
"""

from __future__ import annotations

PROFILE_FACTS: dict[str, str] = {
    "employees": "Has staff besides the owners",
    "special_category_data": "Handles special category data such as health records",
    "childrens_data": "Handles children's personal data",
    "card_payments": "Takes card payments",
    "stores_card_data": "Stores, processes or transmits card data itself rather than outsourcing it all",
    "ecommerce": "Takes payments online",
    "own_software": "Develops its own software",
    "cloud_services": "Uses cloud services",
    "remote_working": "Has staff working remotely",
    "byod": "Lets staff use their own devices for work",
    "international_transfers": "Sends personal data outside the UK",
    "direct_marketing": "Sends electronic direct marketing",
    "website": "Runs a website",
    "processor_for_customers": "Processes personal data on behalf of its customers",
    "physical_premises": "Has its own office or premises",
    "automated_decisions": "Makes significant decisions about people by automated means",
    "public_sector_bids": "Bids for public sector contracts",
    "cctv": "Uses CCTV",
}
