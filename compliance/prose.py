"""Library prose to HTML: paragraphs separated by blank lines, "- " lines as bullet lists.

Library text is wrapped at a fixed width in the data files, so single line breaks inside a
paragraph or a bullet are joined back up. Everything is escaped; no other markup is honoured.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BULLET = "- "


def _join(lines: list[str]) -> str:
    return escape(" ".join(line.strip() for line in lines if line.strip()))


def prose_html(text: str) -> SafeString:
    html: list[str] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        lead: list[str] = []
        items: list[list[str]] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith(BULLET):
                items.append([stripped[len(BULLET) :]])
            elif items:
                items[-1].append(stripped)  # a wrapped continuation of the current bullet
            else:
                lead.append(stripped)
        if lead:
            html.append(f"<p>{_join(lead)}</p>")
        if items:
            html.append("<ul>" + "".join(f"<li>{_join(item)}</li>" for item in items) + "</ul>")
    return mark_safe("\n".join(html))  # noqa: S308 - every piece above is escaped
