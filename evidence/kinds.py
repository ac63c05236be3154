"""Evidence types and how long each stays fresh before it should be collected again.

The models use `EvidenceType` for their choices; the quality score and the suggested valid-until date
both read `FRESHNESS_DAYS`, so a period changed here changes both.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import models


class EvidenceType(models.TextChoices):
    POLICY = "policy", "Policy or procedure"
    SCREENSHOT = "screenshot", "Screenshot"
    CONFIGURATION = "configuration", "Configuration export"
    LOG = "log", "Log export"
    CERTIFICATE = "certificate", "Certificate"
    TRAINING = "training", "Training record"
    CONTRACT = "contract", "Contract or agreement"
    REPORT = "report", "Report or assessment"  # pen test, vulnerability scan, audit report
    REGISTER = "register", "Register or inventory"  # asset register, ROPA, risk register
    MINUTES = "minutes", "Meeting minutes or sign-off"
    OTHER = "other", "Other"


FRESHNESS_DAYS: dict[str, int] = {
    # Policies are reviewed once a year (ISO 27001 A.5.1, Cyber Essentials questionnaire).
    EvidenceType.POLICY: 365,
    # Settings drift: a screen or export from last quarter no longer proves how things are set today.
    EvidenceType.SCREENSHOT: 90,
    EvidenceType.CONFIGURATION: 90,
    # Logs show that monitoring is running now; a month-old extract says little about this month.
    EvidenceType.LOG: 30,
    # Most certificates are annual, and Cyber Essentials is renewed every year.
    EvidenceType.CERTIFICATE: 365,
    # Security awareness training is expected yearly.
    EvidenceType.TRAINING: 365,
    # Contracts run for years, but supplier terms and processors change: check them every two years.
    EvidenceType.CONTRACT: 730,
    # Penetration tests, vulnerability scans and audits are commissioned yearly.
    EvidenceType.REPORT: 365,
    # Registers (assets, processing, risks) go stale as people and systems change: review twice a year.
    EvidenceType.REGISTER: 180,
    # Management reviews and sign-offs are annual.
    EvidenceType.MINUTES: 365,
    # Unknown material gets a cautious middle period.
    EvidenceType.OTHER: 180,
}


def freshness_days(evidence_type: str) -> int:
    """How many days evidence of this type stays fresh; ValueError for a type that does not exist."""
    try:
        return FRESHNESS_DAYS[evidence_type]
    except KeyError:
        raise ValueError(f"Unknown evidence type {evidence_type!r}.") from None


def default_valid_until(evidence_type: str, collected_on: date) -> date:
    """The date evidence collected on `collected_on` stops being fresh, as a default valid-until date."""
    return collected_on + timedelta(days=freshness_days(evidence_type))
