from __future__ import annotations

from django import template

from compliance.profile_facts import PROFILE_FACTS

register = template.Library()


@register.filter
def fact_label(fact: str) -> str:
    """A business-profile fact as a person would say it."""
    return PROFILE_FACTS.get(fact, fact.replace("_", " "))


@register.filter
def prose(text: str) -> str:
    """Library guidance as paragraphs and bullet lists (see compliance/prose.py)."""
    from compliance.prose import prose_html

    return prose_html(text or "")
