"""Who may do what: the one table that pages, API and admin read.

Roles belong to a membership (a user in an organisation). Capabilities are coarse on purpose:
`view` reads the organisation's data, `edit` changes it, `approve` signs off policies and evidence,
`administer` manages the organisation itself (members, invitations, roles, audit log).
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"
    CONSULTANT = "consultant", "Consultant"


class Capability(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    APPROVE = "approve"
    ADMINISTER = "administer"


ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.OWNER: frozenset({Capability.VIEW, Capability.EDIT, Capability.APPROVE, Capability.ADMINISTER}),
    Role.ADMIN: frozenset({Capability.VIEW, Capability.EDIT, Capability.APPROVE, Capability.ADMINISTER}),
    Role.MEMBER: frozenset({Capability.VIEW, Capability.EDIT}),
    Role.VIEWER: frozenset({Capability.VIEW}),
    Role.CONSULTANT: frozenset({Capability.VIEW, Capability.EDIT, Capability.APPROVE}),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.OWNER: "Full control, including owners, billing and deleting the organisation.",
    Role.ADMIN: "Manages members, invitations and settings, and can approve work.",
    Role.MEMBER: "Answers assessments, drafts policies and collects evidence.",
    Role.VIEWER: "Reads everything, changes nothing.",
    Role.CONSULTANT: "An outside adviser who reviews and approves work.",
}

# Only owners may grant or take away the owner role.
ROLES_ONLY_OWNERS_ASSIGN = frozenset({Role.OWNER})


def role_can(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(Role(role), frozenset())
