"""Approximate prices, in pounds per million tokens, for the cost estimate on each AI call.

Estimates only: converted from the providers' published US dollar list prices (November 2026) at
about $1.32 to the pound, ignoring free tiers, caching discounts and long-context surcharges. Update
when prices change; an unknown model gets no estimate rather than a wrong one.
"""

from __future__ import annotations

from decimal import Decimal

# Model name prefix: (input, output) pounds per million tokens. The longest matching prefix wins,
# so dated snapshots ("gpt-4.1-mini-2025-04-14") price like their family.
PRICES_PER_MILLION: dict[str, tuple[Decimal, Decimal]] = {
    "gemini-2.5-pro": (Decimal("0.95"), Decimal("7.60")),
    "gemini-2.5-flash": (Decimal("0.23"), Decimal("1.90")),
    "gemini-2.5-flash-lite": (Decimal("0.08"), Decimal("0.30")),
    "gemini-2.0-flash": (Decimal("0.08"), Decimal("0.30")),
    "gpt-4.1": (Decimal("1.52"), Decimal("6.06")),
    "gpt-4.1-mini": (Decimal("0.30"), Decimal("1.21")),
    "gpt-4.1-nano": (Decimal("0.08"), Decimal("0.30")),
    "gpt-4o": (Decimal("1.89"), Decimal("7.58")),
    "gpt-4o-mini": (Decimal("0.11"), Decimal("0.45")),
    "offline": (Decimal("0"), Decimal("0")),
}
MILLION = Decimal(1_000_000)


def price_for(model: str) -> tuple[Decimal, Decimal] | None:
    model = model.removeprefix("models/")
    matches = [prefix for prefix in PRICES_PER_MILLION if model.startswith(prefix)]
    return PRICES_PER_MILLION[max(matches, key=len)] if matches else None


def estimate_cost(model: str, *, tokens_in: int, tokens_out: int) -> Decimal | None:
    """Approximate cost in pounds, or None when the model's price is unknown."""
    prices = price_for(model)
    if prices is None:
        return None
    per_input, per_output = prices
    return ((per_input * tokens_in + per_output * tokens_out) / MILLION).quantize(Decimal("0.000001"))
