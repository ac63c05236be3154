"""The record of every AI call: written once per provider attempt (or skip), read for the monthly budget."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Organisation
from chat.ai.pricing import estimate_cost
from chat.models import AICall, AICallOutcome
from config.observability.metrics import AI_CALLS

OFFLINE = "offline"
ERROR_MAX_LENGTH = 300


def ai_call_record(
    *,
    organisation: Organisation,
    request_id: uuid.UUID,
    feature: str,
    provider: str,
    model: str,
    outcome: AICallOutcome,
    tokens_in: int = 0,
    tokens_out: int = 0,
    latency_ms: int = 0,
    error: str = "",
    prompt: str = "",
    response: str = "",
) -> AICall:
    keep_text = settings.AI_STORE_PROMPTS
    call = AICall(
        organisation=organisation,
        request_id=request_id,
        feature=feature[:60],
        provider=provider,
        model=model[:100],
        outcome=outcome,
        error=_shorten(error),
        tokens_in=max(tokens_in, 0),
        tokens_out=max(tokens_out, 0),
        latency_ms=max(latency_ms, 0),
        cost_estimate=estimate_cost(model, tokens_in=tokens_in, tokens_out=tokens_out) if model else None,
        prompt=prompt if keep_text else "",
        response=response if keep_text else "",
    )
    call.full_clean(exclude=["organisation"])
    call.save()
    AI_CALLS.labels(provider=provider, feature=feature, outcome=outcome.value).inc()
    return call


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"


def tokens_used_this_month(organisation: Organisation) -> int:
    """Tokens in and out at external providers since the start of this calendar month (UK time)."""
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    used = (
        AICall.objects.filter(organisation=organisation, created_at__gte=month_start)
        .exclude(provider=OFFLINE)
        .aggregate(total=Sum(F("tokens_in") + F("tokens_out")))["total"]
    )
    return int(used or 0)
