"""A policy version as a document to hand to staff and auditors: PDF (`policies.exports.pdf.policy_pdf`)
and Word (`policies.exports.docx.policy_docx`, for businesses that edit their policies in Word).

Both render the same `PolicyDocument`, gathered here in a handful of queries: the cover facts, the
sections parsed into blocks (`markdown_blocks`), the approval record and the controls the policy
satisfies, grouped by framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone
from django.utils.text import slugify

from accounts.people import person_name
from policies.exports.markdown_blocks import Block, clean_text, parse_blocks
from policies.models import PolicyStatus, PolicyVersion

NOT_SET = "Not set"


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block]


@dataclass(frozen=True)
class Approval:
    approved_by: str
    approved_on: str
    comment: str


@dataclass(frozen=True)
class FrameworkControls:
    framework: str
    controls: list[tuple[str, str]]  # (ref, title), in the framework's order


@dataclass(frozen=True)
class PolicyDocument:
    organisation: str
    title: str
    version: int
    status: str
    published_on: str
    review_on: str
    owner: str
    sections: list[Section]
    approval: Approval | None
    frameworks: list[FrameworkControls]

    @property
    def footer(self) -> str:
        return f"{self.organisation} · {self.title} · version {self.version}"

    @property
    def details(self) -> list[tuple[str, str]]:
        """The cover's facts, label then value."""
        return [
            ("Version", str(self.version)),
            ("Status", self.status),
            ("Published", self.published_on),
            ("Review date", self.review_on),
            ("Policy owner", self.owner),
        ]


def long_date(value: date | datetime | None, *, with_time: bool = False) -> str:
    """21 November 2026 (UK style, in the site's time zone), or "Not set"."""
    if value is None:
        return NOT_SET
    if isinstance(value, datetime):
        local = timezone.localtime(value)
        text = f"{local.day} {local:%B %Y}"
        return f"{text}, {local:%H:%M}" if with_time else text
    return f"{value.day} {value:%B %Y}"


def export_filename(version: PolicyVersion, extension: str) -> str:
    """A download name such as `acceptable-use-policy-v3.pdf`."""
    return f"{slugify(version.title) or 'policy'}-v{version.number}.{extension}"


def policy_document(version: PolicyVersion) -> PolicyDocument:
    policy = version.policy
    newer = list(policy.versions.filter(number__gt=version.number).values_list("number", "published_at"))
    controls = (
        policy.controls.filter(retired_at__isnull=True)
        .select_related("framework")
        .order_by("framework__position", "framework__name", "position", "ref")
    )
    frameworks: dict[int, FrameworkControls] = {}
    for control in controls:
        group = frameworks.setdefault(control.framework_id, FrameworkControls(clean_text(str(control.framework)), []))
        group.controls.append((clean_text(control.ref), clean_text(control.title)))

    approval = None
    if version.approved_at is not None:
        approval = Approval(
            approved_by=clean_text(person_name(version.approved_by)),
            approved_on=long_date(version.approved_at, with_time=True),
            comment=clean_text(version.approval_comment.strip()),
        )
    return PolicyDocument(
        organisation=clean_text(version.organisation.name),
        title=clean_text(version.title),
        version=version.number,
        status=_status(version, newer),
        published_on=long_date(version.published_at) if version.published_at else "Not published",
        review_on=long_date(policy.review_date),
        owner=clean_text(policy.owner.display_name) if policy.owner else NOT_SET,
        sections=[
            Section(clean_text(str(section.get("title", ""))), parse_blocks(str(section.get("body", ""))))
            for section in version.sections
        ],
        approval=approval,
        frameworks=list(frameworks.values()),
    )


def _status(version: PolicyVersion, newer: list[tuple[int, datetime | None]]) -> str:
    """The status of this version, which is the policy's only for its latest version."""
    policy = version.policy
    if version.published_at is not None:
        superseded_by = min((number for number, published_at in newer if published_at is not None), default=None)
        if superseded_by is not None:
            return f"Superseded by version {superseded_by}"
        return PolicyStatus.RETIRED.label if policy.status == PolicyStatus.RETIRED else PolicyStatus.PUBLISHED.label
    if version.approved_at is not None:
        return PolicyStatus.APPROVED.label
    if not newer and policy.status == PolicyStatus.IN_REVIEW:
        return PolicyStatus.IN_REVIEW.label
    return PolicyStatus.DRAFT.label
