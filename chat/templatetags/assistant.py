"""Showing the assistant's answers: Markdown made safe, and how a citation reads."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from chat.retrieval import framework_label
from policies.rendering import markdown_html

register = template.Library()


@register.filter
def answer_html(text: str) -> SafeString:
    return markdown_html(text)


@register.filter
def citation_source(citation: dict[str, Any]) -> str:
    """ "UK GDPR 33", "Policy", "Evidence": what the citation points into."""
    if citation.get("kind", "control") == "control":
        return f"{framework_label(citation.get('framework', ''))} {citation.get('ref', '')}"
    return str(citation.get("kind", "")).capitalize()
