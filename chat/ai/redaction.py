"""Personal data out before text leaves for an external provider, and back in where the answer uses it.

Each value becomes a stable token (`[EMAIL_1]`, the same token every time the same address appears),
so the model can still refer to it; `restore` puts the originals back into the model's output, nested
JSON included. Detection is deliberately simple and errs towards redacting: emails, UK phone numbers,
UK postcodes, National Insurance numbers, payment card numbers (Luhn-checked) and the names given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits, optionally grouped by spaces or hyphens; the Luhn check decides.
CARD = re.compile(r"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d\-])")
NATIONAL_INSURANCE = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE
)
# +44 20 7946 0958, +44 (0)20 7946 0958, 0044 20..., (020) 7946 0958, 07700 900123, 01632960001.
UK_PHONE = re.compile(
    r"(?<![\w+])(?:\+44 ?(?:\(0\) ?)?|0044 ?|\(?0)\d{2,4}\)?[ \-]?\d{3,4}[ \-]?\d{3,4}(?!\d)",
)
UK_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
TOKEN = re.compile(r"\[(EMAIL|CARD|NI_NUMBER|PHONE|POSTCODE|NAME)_(\d+)\]")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def is_card_number(text: str) -> bool:
    digits = _digits(text)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def is_uk_phone_number(text: str) -> bool:
    digits = _digits(text)
    if digits.startswith("0044"):
        digits = digits[4:]
    elif text.lstrip().startswith("+44"):
        digits = digits[2:]
    # A trunk 0 may follow the country code, as in +44 (0)20.
    national = digits[1:] if digits.startswith("0") else digits
    return len(national) in {9, 10} and national[0] in "1235789"


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = {" ".join(name.split()) for name in names}
    # Very short names would redact ordinary words; longest first so "Jo Ann Smith" beats "Jo Ann".
    usable = sorted((name for name in cleaned if len(name) >= 3), key=len, reverse=True)
    if not usable:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in name.split()) for name in usable)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class Redactor:
    """Replaces personal data with tokens, remembering them so `restore` can put it back.

    One redactor serves one request: every text sent in it shares the token numbering.
    """

    def __init__(self, *, names: Iterable[str] = ()) -> None:
        self._by_token: dict[str, str] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        name_pattern = _name_pattern(names)
        self._passes: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None, Callable[[str], str]]] = [
            ("EMAIL", EMAIL, None, str.lower),
            ("CARD", CARD, is_card_number, _digits),
            ("NI_NUMBER", NATIONAL_INSURANCE, None, lambda value: value.replace(" ", "").upper()),
            ("PHONE", UK_PHONE, is_uk_phone_number, _digits),
            ("POSTCODE", UK_POSTCODE, None, lambda value: value.replace(" ", "").upper()),
        ]
        if name_pattern is not None:
            self._passes.append(("NAME", name_pattern, None, lambda value: " ".join(value.lower().split())))

    @property
    def replacements(self) -> dict[str, str]:
        """Token to original text, for every value redacted so far."""
        return dict(self._by_token)

    def redact(self, text: str) -> str:
        for kind, pattern, accept, normalise in self._passes:

            def replace(
                match: re.Match[str],
                kind: str = kind,
                accept: Callable[[str], bool] | None = accept,
                normalise: Callable[[str], str] = normalise,
            ) -> str:
                value = match.group(0)
                if accept is not None and not accept(value):
                    return value
                return self._token_for(kind, value, normalise(value))

            text = pattern.sub(replace, text)
        return text

    def restore(self, value: Any) -> Any:
        """The value with every known token replaced by its original, through nested lists and dicts."""
        if isinstance(value, str):
            return TOKEN.sub(lambda match: self._by_token.get(match.group(0), match.group(0)), value)
        if isinstance(value, list):
            return [self.restore(item) for item in value]
        if isinstance(value, dict):
            return {self.restore(key): self.restore(item) for key, item in value.items()}
        return value

    def _token_for(self, kind: str, original: str, key: str) -> str:
        existing = self._by_key.get((kind, key))
        if existing is not None:
            return existing
        self._counts[kind] = self._counts.get(kind, 0) + 1
        token = f"[{kind}_{self._counts[kind]}]"
        self._by_key[(kind, key)] = token
        self._by_token[token] = original
        return token
