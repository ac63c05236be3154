"""Words people use for the same thing. A control that uses any term of a set is also found by the others."""

from __future__ import annotations

import hashlib
import re

SYNONYM_SETS: tuple[frozenset[str], ...] = tuple(
    frozenset(terms)
    for terms in (
        {"mfa", "2fa", "multi factor", "multifactor", "two factor", "two step", "2 step verification", "2sv"},
        {"sar", "dsar", "subject access", "subject access request", "right of access"},
        {"patch", "patching", "security update", "security updates", "software update"},
        {"antivirus", "anti virus", "anti malware", "antimalware", "malware protection"},
        {"backup", "backups", "back up"},
        {"breach", "data breach", "personal data breach"},
        {"dpia", "data protection impact assessment", "impact assessment"},
        {"ropa", "record of processing", "records of processing"},
        {"dpo", "data protection officer"},
        {"byod", "bring your own device", "own device", "own devices", "personal device"},
        {"password", "passwords", "passphrase", "credential", "credentials"},
        {"encryption", "encrypt", "encrypted", "cryptography", "cryptographic"},
        {"admin", "administrator", "administrative", "privileged"},
        {"phishing", "social engineering"},
        {"cookie", "cookies", "pecr"},
        {"marketing", "newsletter", "direct marketing"},
        {"supplier", "suppliers", "vendor", "vendors", "third party", "processor"},
        {"training", "awareness"},
        {"logging", "logs", "audit trail", "monitoring"},
        {"incident", "incidents", "incident response"},
        {"ico", "information commissioner"},
        {"contract", "contracts", "agreement", "dpa"},
        {"transfer", "transfers", "international transfer", "idta"},
        {"fine", "fines", "penalty", "penalties", "administrative fines"},
        {"delete", "deletion", "erase", "erasure", "right to be forgotten"},
        {"privacy notice", "privacy policy", "privacy information"},
        {"clock", "time limit", "time limits", "clarification"},
        {"usa", "united states", "abroad", "overseas", "outside the uk", "third country"},
        {"stolen", "lost", "theft", "breach"},
        {"wrong person", "breach"},
        {"isms", "information security management system"},
        {"change management", "change control"},
        {"security awareness", "awareness training"},
        {"supplier agreement", "supplier agreements", "supplier relationships", "suppliers"},
    )
)

# Part of each loaded framework's content hash: changing the sets re-indexes the library on the next
# `load_frameworks`, since every control's search text includes the synonyms of its words.
SYNONYMS_FINGERPRINT = hashlib.sha256(repr(sorted(sorted(terms) for terms in SYNONYM_SETS)).encode()).hexdigest()

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, with hyphens and punctuation as spaces: 'Multi-Factor' and 'multi factor' meet."""
    return " ".join(_WORD.findall(text.lower()))


def expansions(text: str) -> set[str]:
    """Every synonym of every term found in the text (terms matched on word boundaries)."""
    padded = f" {normalise(text)} "
    found: set[str] = set()
    for terms in SYNONYM_SETS:
        if any(f" {term} " in padded for term in terms):
            found.update(terms)
    return found
