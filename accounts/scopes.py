"""What an API key may do: scopes, named `<area>:<read|write>`, each with the sentence settings show.

A key holds a set of scopes; a partner's key is further narrowed by the scopes each organisation
granted the partner. Session calls (the browser) get the scopes their role implies.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from accounts.roles import Capability, role_can


class Scope(StrEnum):
    PROFILE_READ = "profile:read"
    PROFILE_WRITE = "profile:write"
    ASSESSMENTS_READ = "assessments:read"
    ASSESSMENTS_WRITE = "assessments:write"
    READINESS_READ = "readiness:read"
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    EVIDENCE_READ = "evidence:read"
    EVIDENCE_WRITE = "evidence:write"
    POLICIES_READ = "policies:read"
    REPORTS_READ = "reports:read"
    REPORTS_WRITE = "reports:write"
    ASSISTANT_ASK = "assistant:ask"
    AUDIT_READ = "audit:read"
    WEBHOOKS_MANAGE = "webhooks:manage"

    @property
    def description(self) -> str:
        return SCOPE_DESCRIPTIONS[self]

    @property
    def writes(self) -> bool:
        # Asking the assistant changes nothing (viewers may ask on the page too).
        return not self.value.endswith((":read", ":ask"))


SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.PROFILE_READ: "Read the business profile.",
    Scope.PROFILE_WRITE: "Update the business profile.",
    Scope.ASSESSMENTS_READ: "Read adopted frameworks, assessments and answers.",
    Scope.ASSESSMENTS_WRITE: "Adopt frameworks and answer assessment questions.",
    Scope.READINESS_READ: "Read readiness scores, their history and explanation, and the gaps.",
    Scope.TASKS_READ: "Read the implementation plan's tasks.",
    Scope.TASKS_WRITE: "Create and update tasks in the implementation plan.",
    Scope.EVIDENCE_READ: "List and download evidence.",
    Scope.EVIDENCE_WRITE: "Upload evidence and change which controls it supports.",
    Scope.POLICIES_READ: "Read policies and export them as PDF or Word.",
    Scope.REPORTS_READ: "See reports' progress and download finished reports.",
    Scope.REPORTS_WRITE: "Request new reports.",
    Scope.ASSISTANT_ASK: "Ask the assistant questions about this organisation's compliance.",
    Scope.AUDIT_READ: "Read the audit log.",
    Scope.WEBHOOKS_MANAGE: "Subscribe to events with webhooks and read their delivery log.",
}

ALL_SCOPES: frozenset[Scope] = frozenset(Scope)
READ_SCOPES: frozenset[Scope] = frozenset(scope for scope in Scope if not scope.writes)


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """The known scopes among `values`; unknown names are dropped (a key stored before a scope was
    retired keeps working for the rest)."""
    known = {scope.value for scope in Scope}
    return frozenset(Scope(value) for value in values if value in known)


def scopes_for_role(role: str) -> frozenset[Scope]:
    """The scopes a signed-in member's browser session has, from their role: the same lines the pages
    draw (the audit log and webhooks are for those who administer the organisation)."""
    administrative = {Scope.AUDIT_READ, Scope.WEBHOOKS_MANAGE}
    scopes: set[Scope] = set()
    if role_can(role, Capability.VIEW):
        scopes |= READ_SCOPES - administrative
    if role_can(role, Capability.EDIT):
        scopes |= {scope for scope in Scope if scope.writes} - administrative
    if role_can(role, Capability.ADMINISTER):
        scopes |= administrative
    return frozenset(scopes)


def capabilities_for_scopes(scopes: Iterable[Scope]) -> frozenset[Capability]:
    """What services let a key do: read with any scope, change with a write scope; never approve or
    administer (those stay with people)."""
    scopes = frozenset(scopes)
    if not scopes:
        return frozenset()
    if any(scope.writes for scope in scopes):
        return frozenset({Capability.VIEW, Capability.EDIT})
    return frozenset({Capability.VIEW})
