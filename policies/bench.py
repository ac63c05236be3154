"""Benchmark rows for the policy studio (run by `make bench`, see config/bench.py).

The large organisation has 200 policies in every status, with versions, mapped controls and staff
acknowledgements: more than any small business will keep; the small organisation has three, and the
policy list must cost both the same number of queries. Exports and drafting are functions, not pages,
so the seeder times them itself and records issue 5's MEASURES: the PDF and Word exports of a ten-page
policy (1 s each), and the offline draft of every template (tailoring plus the gateway's offline
answer, 300 ms each).
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from config.bench import SMALL_ROWS, BenchData, Budget, Measure, Result, Scenario, Small

POLICIES = 200
CONTROLS_PER_POLICY = 6
EXPORT_RUNS = 5
EXPORT_BUDGET_S = 1.0
DRAFT_BUDGET_MS = 300
PAGE_BUDGET_MS = 50
ISSUE = 5
DRAFTS = Measure("offline draft of every policy template", ISSUE, Budget(ms=DRAFT_BUDGET_MS, on="each"))
PDF_EXPORT = Measure("PDF export of a 10-page policy", ISSUE, Budget(ms=EXPORT_BUDGET_S * 1000))
WORD_EXPORT = Measure("Word export of a 10-page policy", ISSUE, Budget(ms=EXPORT_BUDGET_S * 1000))
MEASURES = [DRAFTS, PDF_EXPORT, WORD_EXPORT]
TITLES = (
    "Information Security Policy",
    "Acceptable Use Policy",
    "Access Control and Password Policy",
    "Data Protection Policy",
    "Data Retention and Disposal Policy",
    "Incident Response and Personal Data Breach Policy",
    "Business Continuity and Backup Policy",
    "Remote Working and Own Devices Policy",
    "Supplier and Third-Party Security Policy",
    "Patch and Vulnerability Management Policy",
)


def ten_page_sections() -> list[dict[str, str]]:
    """Sections that fill ten A4 pages of the PDF export (the tests check the page count): prose,
    sub-headings, bullets, numbered steps, emphasis and a table in every other section."""
    sentences = (
        "Every member of staff uses a separate account protected by a strong password and multi-factor "
        "authentication, and shares it with nobody, including the IT Lead.",
        "The IT Lead reviews who can reach each system at least every three months and removes access "
        "that is no longer needed within 24 hours of the change being agreed.",
        "Laptops and phones are encrypted, lock after five minutes without use and receive security "
        "updates within 14 days of release, or sooner when the supplier rates an update critical.",
        "Personal data is kept only as long as the retention schedule allows and is disposed of securely, "
        "with a record of what was destroyed, when and by whom.",
        "Suspected incidents are reported to the Managing Director straight away, and personal data "
        "breaches that risk people's rights are reported to the ICO within 72 hours.",
    )
    sections = []
    for number in range(1, 9):
        paragraphs = [" ".join(sentences[(number + i + j) % 5] for i in range(3)) for j in range(3)]
        body = [
            paragraphs[0],
            f"### What this means day to day ({number})",
            paragraphs[1],
            "\n".join(f"- **Rule {number}.{i}:** {sentences[(number + i) % 5]}" for i in range(1, 6)),
            "\n".join(f"{i}. *Step {i}*: {sentences[(number * i) % 5]}" for i in range(1, 5)),
            paragraphs[2],
        ]
        if number % 2 == 0:
            rows = "\n".join(f"| Task {i} | {sentences[i % 5]} | Every {i + 2} months |" for i in range(1, 5))
            body.append(f"| Task | What we do | How often |\n|---|---|---|\n{rows}")
        sections.append(
            {
                "key": f"section-{number}",
                "title": f"{number}. {TITLES[number % len(TITLES)].removesuffix(' Policy')}",
                "body": "\n\n".join(body),
                "origin": "template",
                "provider": "",
            }
        )
    return sections


def seed(data: BenchData) -> None:
    from django.utils import timezone

    from accounts.models import Membership
    from compliance.models import Control
    from policies.models import Policy, PolicyAcknowledgement, PolicyStatus, PolicyVersion

    organisation, owner = data.organisation, data.users["owner"]
    if data.wants(DRAFTS):
        _time_drafting(data)
    now = timezone.now()
    today = timezone.localdate()
    statuses = list(PolicyStatus)
    policies = Policy.objects.bulk_create(
        Policy(
            organisation=organisation,
            title=f"{TITLES[i % len(TITLES)]} ({i // len(TITLES) + 1})",
            status=statuses[i % len(statuses)],
            owner=owner,
            review_date=today + timedelta(days=3 * i - 150),  # some overdue, most to come
            created_at=now - timedelta(days=400 - i),
            updated_at=now - timedelta(days=i),
        )
        for i in range(POLICIES)
    )

    versions: list[PolicyVersion] = []
    for policy in policies:
        released = policy.status in (PolicyStatus.PUBLISHED, PolicyStatus.RETIRED)
        approved = released or policy.status == PolicyStatus.APPROVED
        versions.append(
            PolicyVersion(
                organisation=organisation,
                policy=policy,
                number=1,
                title=policy.title,
                sections=[
                    {
                        "key": "purpose",
                        "title": "Purpose",
                        "body": "Why we have this policy.",
                        "origin": "template",
                        "provider": "",
                    }
                ],
                created_by=owner,
                approved_by=owner if approved else None,
                approved_at=now - timedelta(days=30) if approved else None,
                approval_comment="Reads well." if approved else "",
                published_at=now - timedelta(days=29) if released else None,
            )
        )
        if released:  # a newer draft being worked on
            versions.append(
                PolicyVersion(
                    organisation=organisation,
                    policy=policy,
                    number=2,
                    title=policy.title,
                    sections=versions[-1].sections,
                    created_by=owner,
                )
            )
    PolicyVersion.objects.bulk_create(versions, batch_size=500)

    controls = list(
        Control.objects.filter(retired_at__isnull=True)
        .order_by("framework_id", "position")
        .values_list("id", flat=True)[:2000]
    )
    if controls:
        Link = Policy.controls.through
        Link.objects.bulk_create(
            [
                Link(policy_id=policy.pk, control_id=controls[(i * 37 + j * 11) % len(controls)])
                for i, policy in enumerate(policies)
                for j in range(CONTROLS_PER_POLICY)
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )

    members = list(Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True))
    acknowledgements = [
        PolicyAcknowledgement(
            organisation=organisation, version=version, user_id=user_id, acknowledged_at=now - timedelta(days=20)
        )
        for version in versions
        if version.published_at is not None
        for user_id in members[::2]
    ]
    PolicyAcknowledgement.objects.bulk_create(acknowledgements, batch_size=1000)

    data.counts["policies"] = len(policies)
    data.counts["policy versions"] = len(versions)
    data.counts["acknowledgements"] = len(acknowledgements)
    _seed_small(data, controls)
    if data.wants(PDF_EXPORT) or data.wants(WORD_EXPORT):
        _time_exports(data, policies[0], controls)


def _seed_small(data: BenchData, controls: list[int]) -> None:
    """The small organisation's three published policies, each with a version, controls and an
    acknowledgement, so its policy list takes the large one's paths."""
    from django.utils import timezone

    from policies.models import Policy, PolicyAcknowledgement, PolicyStatus, PolicyVersion

    organisation = data.small_organisation
    if organisation is None:
        return
    owner, member = data.users["small owner"], data.users["small member"]
    now = timezone.now()
    for n in range(SMALL_ROWS):
        policy = Policy.objects.create(
            organisation=organisation, title=TITLES[n], status=PolicyStatus.PUBLISHED, owner=owner
        )
        policy.controls.set(controls[n : n + 2])
        version = PolicyVersion.objects.create(
            organisation=organisation,
            policy=policy,
            number=1,
            title=policy.title,
            created_by=owner,
            approved_by=owner,
            approved_at=now,
            published_at=now,
        )
        PolicyAcknowledgement.objects.create(organisation=organisation, version=version, user=member)


def _time_drafting(data: BenchData) -> None:
    """Draft every template offline through the page's code path, without saving: the budget is per template."""
    from policies.drafting import draft_sections
    from policies.library import load_library
    from policies.tailoring import policy_context_for

    templates = load_library()
    context = policy_context_for(data.organisation)
    timings: dict[str, float] = {}
    for template in templates.values():
        started = time.perf_counter()
        draft_sections(organisation=data.organisation, template=template, context=context)
        timings[template.key] = (time.perf_counter() - started) * 1000
    slowest = max(timings, key=timings.__getitem__)
    over = [f"{key} {ms:.0f} ms" for key, ms in timings.items() if ms > DRAFT_BUDGET_MS]
    values = list(timings.values())
    data.record(
        DRAFTS,
        Result(
            median_ms=statistics.median(values),
            p95_ms=statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0],
            worst_ms=timings[slowest],
            detail=f"{len(templates)} templates once each, slowest {slowest} {timings[slowest]:.0f} ms"
            + (f"; over: {', '.join(over)}" if over else ""),
        ),
    )


def _time_exports(data: BenchData, policy: Any, controls: list[int]) -> None:
    from django.utils import timezone
    from pypdf import PdfReader

    from policies.exports.docx import policy_docx
    from policies.exports.pdf import policy_pdf
    from policies.models import PolicyVersion

    owner = data.users["owner"]
    now = timezone.now()
    version = PolicyVersion.objects.create(
        organisation=data.organisation,
        policy=policy,
        number=3,
        title=policy.title,
        sections=ten_page_sections(),
        created_by=owner,
        approved_by=owner,
        approved_at=now,
        approval_comment="Approved at the board meeting.",
        published_at=now,
    )
    policy.controls.add(*controls[:: max(len(controls) // 40, 1)][:40])
    version = PolicyVersion.objects.select_related("policy__owner", "organisation", "approved_by").get(pk=version.pk)

    mapped = policy.controls.count()
    for measure, export in ((PDF_EXPORT, policy_pdf), (WORD_EXPORT, policy_docx)):
        if not data.wants(measure):
            continue
        output, first, median, peak_kib = _timed(export, version)
        what = f"{len(PdfReader(io.BytesIO(output)).pages)} PDF pages" if export is policy_pdf else "Word"
        data.record(
            measure,
            Result(
                median_ms=median * 1000,
                peak_kib=peak_kib,
                detail=f"{what} with {mapped} controls in the appendix; median of {EXPORT_RUNS} after a first call "
                f"of {first:.2f} s (fonts and templates loading)",
            ),
        )


def _timed(export: Callable[[Any], bytes], version: Any) -> tuple[bytes, float, float, float]:
    """The output, the first call's time (fonts and templates loading), the median of the next runs and
    the peak memory of one more, traced apart because tracing slows Python."""
    import tracemalloc

    started = time.perf_counter()
    output = export(version)
    first = time.perf_counter() - started
    timings = []
    for _ in range(EXPORT_RUNS):
        started = time.perf_counter()
        export(version)
        timings.append(time.perf_counter() - started)
    tracemalloc.start()
    try:
        export(version)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return output, first, statistics.median(timings), peak / 1024


def _first_policy(data: BenchData) -> dict[str, int]:
    from policies.models import Policy, PolicyStatus

    policy = Policy.objects.filter(organisation=data.organisation, status=PolicyStatus.PUBLISHED).order_by("pk").first()
    return {"policy_id": policy.pk if policy else 0}


SCENARIOS = [
    Scenario(
        f"policy list ({POLICIES} policies)",
        "policy_list",
        as_user="owner",
        budget_ms=PAGE_BUDGET_MS,
        issue=ISSUE,
        small=Small(),
    ),
    Scenario(
        "policy list, published only (htmx)",
        "policy_list",
        as_user="owner",
        query={"status": "published"},
        htmx=True,
        budget_ms=PAGE_BUDGET_MS,
        issue=ISSUE,
    ),
    Scenario(
        "policy page, published with a draft after it",
        "policy_detail",
        as_user="owner",
        kwargs=_first_policy,
        budget_ms=PAGE_BUDGET_MS,
        issue=ISSUE,
    ),
]
