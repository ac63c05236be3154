"""Structured citations, and the check that drops any a model made up.

A control citation survives only when its framework and ref are live in the library; a policy or
evidence citation only when the document belongs to the organisation asking. One query per kind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q
from django.urls import reverse

from accounts.models import Organisation
from chat.organisation_context import PROFILE, READINESS
from compliance.models import Control
from evidence.models import Evidence
from policies.models import Policy

CONTROL = "control"
POLICY = "policy"
EVIDENCE = "evidence"
# The organisation's own computed figures (chat/organisation_context.py): one of each per organisation.
CONTEXT_PAGES = {
    READINESS: ("Your readiness, as Greenlight calculates it", "readiness_explained"),
    PROFILE: ("Your business profile and the frameworks that apply", "profile_summary"),
}


@dataclass(frozen=True)
class Citation:
    kind: str  # "control" | "policy" | "evidence" | "readiness" | "profile"
    framework: str  # library slug for controls, "" otherwise
    ref: str  # control ref; policy/evidence id as str
    title: str
    url: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        return cls(
            kind=str(data.get("kind", "")),
            framework=str(data.get("framework", "")),
            ref=str(data.get("ref", "")),
            title=str(data.get("title", "")),
            url=str(data.get("url", "")),
        )


def _key(item: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, framework, ref) of a raw citation, or None when it is malformed."""
    if not isinstance(item, dict):
        return None
    kind = str(item.get("kind") or "").strip().lower()
    framework = str(item.get("framework") or "").strip().lower()
    ref = str(item.get("ref") or item.get("id") or "").strip()
    if kind in CONTEXT_PAGES:
        return (kind, "", kind)
    if not ref:
        return None
    if kind in ("", CONTROL) and framework:
        return (CONTROL, framework, ref)
    if kind in (POLICY, EVIDENCE) and ref.isdigit():
        return (kind, "", ref)
    return None


def validate_citations(raw: list[dict[str, Any]], *, organisation: Organisation | None) -> tuple[list[Citation], int]:
    """The citations that point at something real and visible to the organisation, in the order
    given and without repeats, and how many were dropped."""
    keys: list[tuple[str, str, str]] = []
    dropped = 0
    for item in raw:
        key = _key(item)
        if key is None:
            dropped += 1
        elif key not in keys:
            keys.append(key)
    found = {
        **_controls([(framework, ref) for kind, framework, ref in keys if kind == CONTROL]),
        **_documents(POLICY, [ref for kind, _, ref in keys if kind == POLICY], organisation),
        **_documents(EVIDENCE, [ref for kind, _, ref in keys if kind == EVIDENCE], organisation),
        **_context_pages([kind for kind, _, _ in keys if kind in CONTEXT_PAGES], organisation),
    }
    citations = [found[key] for key in keys if key in found]
    return citations, dropped + len(keys) - len(citations)


def _controls(pairs: list[tuple[str, str]]) -> dict[tuple[str, str, str], Citation]:
    if not pairs:
        return {}
    # Refs are matched exactly as the library spells them; the slug was lower-cased above.
    wanted = reduce(or_, (Q(framework__slug=slug, ref=ref) for slug, ref in pairs))
    controls = Control.objects.live().filter(wanted).select_related("framework")
    return {
        (CONTROL, control.framework.slug, control.ref): Citation(
            kind=CONTROL,
            framework=control.framework.slug,
            ref=control.ref,
            title=control.title,
            url=control.get_absolute_url(),
        )
        for control in controls
    }


def _documents(kind: str, ids: list[str], organisation: Organisation | None) -> dict[tuple[str, str, str], Citation]:
    if not ids or organisation is None:
        return {}
    model = Policy if kind == POLICY else Evidence
    url_name = "policy_detail" if kind == POLICY else "evidence_detail"
    rows = model.objects.filter(organisation=organisation, pk__in=[int(pk) for pk in ids]).values_list("pk", "title")
    return {
        (kind, "", str(pk)): Citation(
            kind=kind, framework="", ref=str(pk), title=title, url=reverse(url_name, args=[pk])
        )
        for pk, title in rows
    }


def _context_pages(kinds: list[str], organisation: Organisation | None) -> dict[tuple[str, str, str], Citation]:
    if organisation is None:
        return {}
    return {
        (kind, "", kind): Citation(
            kind=kind, framework="", ref=kind, title=CONTEXT_PAGES[kind][0], url=reverse(CONTEXT_PAGES[kind][1])
        )
        for kind in kinds
    }
