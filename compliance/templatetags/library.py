from __future__ import annotations

from django import template

from compliance.profile_facts import PROFILE_FACTS

register = template.Library()


@register.filter
def fact_label(fact: str) -> str:
    """A business-profile fact as a person would say it."""
    return PROFILE_FACTS.get(fact, fact.replace("_", " "))
