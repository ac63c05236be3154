"""Suggested first questions for the assistant, from the organisation's gaps.

The costliest gaps come first (answered "not implemented" or "partly", ranked as on the gaps page), each
phrased so that retrieval finds its control. Without such gaps (nothing adopted, or nothing answered
yet) come the questions owners ask most about the adopted frameworks, those that fit the business
profile first, and with nothing at all some general ones. Every question names its control closely
enough to find it: the tests check each against `chat.retrieval.retrieve`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, zip_longest

from django.db.models import Q

from accounts.models import Organisation
from assessments import scoring
from assessments.facts import profile_facts
from assessments.selectors import Readiness, ranked_gaps, readiness_for
from chat.retrieval import framework_label
from compliance.models import Control

TITLE_WORDS = 10


@dataclass(frozen=True)
class Starter:
    question: str
    framework: str  # library slug of the control the question is about
    ref: str
    facts: tuple[str, ...] = ()  # profile facts that must hold for it to be suggested without a gap

    @property
    def key(self) -> tuple[str, str]:
        return (self.framework, self.ref)


# What owners ask about each framework, most asked first.
FRAMEWORK_STARTERS: tuple[Starter, ...] = (
    Starter("Do we need to pay the ICO data protection fee?", "uk-gdpr", "DPA-FEE"),
    Starter("How quickly must we report a personal data breach?", "uk-gdpr", "33"),
    Starter("What must our privacy notice tell people?", "uk-gdpr", "13"),
    Starter("How do we handle a subject access request?", "uk-gdpr", "15"),
    Starter("Do we need a record of processing activities?", "uk-gdpr", "30"),
    Starter("When must we tell people their personal data was breached?", "uk-gdpr", "34"),
    Starter("When do we need a data protection impact assessment?", "uk-gdpr", "35"),
    Starter("What must our contracts with data processors say?", "uk-gdpr", "28"),
    Starter("Do we need consent for the cookies on our website?", "uk-gdpr", "PECR-COOKIES", ("website",)),
    Starter("Can we send marketing emails to our customers?", "uk-gdpr", "PECR-MARKETING", ("direct_marketing",)),
    Starter(
        "What extra rules apply to health and other special category data?",
        "uk-gdpr",
        "9",
        ("special_category_data",),
    ),
    Starter("Can we send personal data outside the UK?", "uk-gdpr", "44A", ("international_transfers",)),
    Starter("What does the Children's code mean for us?", "uk-gdpr", "DPA-CHILDREN", ("childrens_data",)),
    Starter("Do we need MFA on all our cloud services for Cyber Essentials?", "cyber-essentials", "UA.4"),
    Starter("How quickly must we install security updates for Cyber Essentials?", "cyber-essentials", "SU.4"),
    Starter("What firewall do we need for Cyber Essentials?", "cyber-essentials", "FW.1"),
    Starter("What malware protection does Cyber Essentials need on our devices?", "cyber-essentials", "MP.1"),
    Starter("What password length does Cyber Essentials require?", "cyber-essentials", "UA.8"),
    Starter("Do we need separate admin accounts for Cyber Essentials?", "cyber-essentials", "UA.5"),
    Starter("Are staff's own devices in scope for Cyber Essentials?", "cyber-essentials", "SCOPE.3", ("byod",)),
    Starter(
        "Do home and remote working devices count for Cyber Essentials?",
        "cyber-essentials",
        "SCOPE.4",
        ("remote_working",),
    ),
    Starter(
        "Are our cloud services in scope for Cyber Essentials?", "cyber-essentials", "SCOPE.5", ("cloud_services",)
    ),
    Starter("How should we assess information security risks for ISO 27001?", "iso27001-2022", "C6.1.2"),
    Starter("What goes in an ISO 27001 Statement of Applicability?", "iso27001-2022", "C6.1.3"),
    Starter("What should our ISO 27001 information security policy cover?", "iso27001-2022", "5.1"),
    Starter("How often do we need an ISO 27001 internal audit?", "iso27001-2022", "C9.2.1"),
    Starter("What security awareness training do staff need for ISO 27001?", "iso27001-2022", "6.3", ("employees",)),
    Starter("How should we set up and remove user accounts for SOC 2?", "soc2-tsc-2017", "CC6.2"),
    Starter("What does SOC 2 expect of our security incident response?", "soc2-tsc-2017", "CC7.4"),
    Starter("What does SOC 2 expect of our change management?", "soc2-tsc-2017", "CC8.1"),
    Starter("How should we back up and test our data under the NIST CSF?", "nist-csf-2.0", "PR.DS-11"),
    Starter("Where do we need MFA under the NIST CSF?", "nist-csf-2.0", "PR.AA-03"),
    Starter("What does the NIST CSF expect of our leadership?", "nist-csf-2.0", "GV.RR-01"),
    Starter(
        "Which PCI DSS self-assessment questionnaire applies to us?", "pci-dss-4.0.1", "SCOPE.1", ("card_payments",)
    ),
    Starter("How do we protect our card machines from tampering?", "pci-dss-4.0.1", "9.5", ("card_payments",)),
    Starter("How much card data may we keep under PCI DSS?", "pci-dss-4.0.1", "3.2", ("card_payments",)),
)
# For an organisation that has told us nothing yet: the questions almost every small business has.
GENERAL_STARTERS: tuple[Starter, ...] = (
    Starter("How long do we have to report a data breach?", "uk-gdpr", "33"),
    Starter("Do we need two-factor authentication on our accounts?", "cyber-essentials", "UA.4"),
    Starter("Do we need to pay the ICO data protection fee?", "uk-gdpr", "DPA-FEE"),
    Starter("How quickly must we install critical security updates?", "cyber-essentials", "SU.4"),
)
# Gaps whose titles alone are too vague ("General", "Objectives") or too close to a neighbour's to find
# them: asked the way an owner would, in words that retrieval ties to the control.
GAP_PHRASINGS: dict[tuple[str, str], str] = {
    ("iso27001-2022", "C6.3"): "How should we plan changes to the scope of our ISO 27001 ISMS?",
    ("iso27001-2022", "C7.5.1"): "What documented information does ISO 27001 require?",
    ("iso27001-2022", "5.22"): "How do we monitor supplier services for ISO 27001?",
    ("soc2-tsc-2017", "CC3.1"): "What service commitments and system requirements does SOC 2 expect us to write down?",
    ("soc2-tsc-2017", "PI1.1"): "What does SOC 2 expect of our processing integrity specifications?",
    ("nist-csf-2.0", "GV.SC-08"): "Should key suppliers be part of our incident plans for the NIST CSF?",
    ("nist-csf-2.0", "PR.DS-10"): "What does the NIST CSF expect for protecting data while in use?",
}
PHRASED: dict[tuple[str, str], str] = {
    **GAP_PHRASINGS,
    **{starter.key: starter.question for starter in FRAMEWORK_STARTERS},
}


def short_title(title: str) -> str:
    """The heart of a control's title: "Option: anti-malware software (for Windows…) updated…" becomes
    "anti-malware software updated…", bounded to a few words."""
    text = re.sub(r"\s*\([^)]*\)", "", title)
    head, colon, rest = text.partition(": ")
    # "Option: …" says nothing, "Password brute-force protection: …" says it all, and in "Purpose
    # limitation: further processing" both halves count.
    if colon and len(head.split()) == 1:
        text = rest
    elif colon and len(head.split()) >= 3:
        text = head
    text = re.split(r"; | - | – | — |, including ", text)[0]
    words = text.split()
    if len(words) > TITLE_WORDS:
        text = " ".join(words[:TITLE_WORDS]).rstrip(",;:") + "…"
    return text.strip(" .,")


def gap_question(control: Control) -> str:
    """An owner's question about one gap, naming its framework and title so retrieval finds it."""
    phrased = PHRASED.get((control.framework.slug, control.ref))
    if phrased:
        return phrased
    label = framework_label(control.framework.slug)
    # Without the reference: PostgreSQL's parser splits "GV.SC-01" into words no control contains.
    # Typographic quotes, as the rest of the interface writes them.
    return f"What do we need to do for {label} ‘{short_title(control.title)}’?"  # noqa: RUF001


def _known_gaps(readiness: Readiness) -> list[int]:
    """Control ids answered not (or partly) implemented, costliest first; not the unanswered ones,
    nor those only a published policy vouches for."""
    return [
        gap.control_id
        for gap in ranked_gaps(readiness)
        if gap.status in (scoring.NOT_IMPLEMENTED, scoring.PARTIAL) and not readiness.states[gap.control_id].via_policy
    ]


def _fits(
    starter: Starter, facts: dict[str, bool], readiness: Readiness, controls: dict[tuple[str, str], Control]
) -> bool:
    """Suggested when the profile says every fact it needs holds, and the organisation has not already
    settled its control (implemented, not applicable, or ruled out by the profile)."""
    if not all(facts.get(fact, False) for fact in starter.facts):
        return False
    control = controls.get(starter.key)
    if control is None:
        return True
    state = readiness.states.get(control.pk)
    return state is None or (state.applicable and state.status in (None, scoring.PARTIAL, scoring.NOT_IMPLEMENTED))


def _framework_starters(readiness: Readiness, facts: dict[str, bool]) -> Iterable[Starter]:
    """For the adopted frameworks, taking turns: first those the profile points to, then the rest."""
    adopted = [framework.framework.slug for framework in readiness.frameworks]
    by_framework = {slug: [s for s in FRAMEWORK_STARTERS if s.framework == slug] for slug in adopted}
    specific = [[s for s in starters if s.facts] for starters in by_framework.values()]
    common = [[s for s in starters if not s.facts] for starters in by_framework.values()]
    for group in (specific, common):
        yield from (s for s in chain.from_iterable(zip_longest(*group)) if s is not None)
    # Whatever is adopted, what the profile points to elsewhere (a website means cookies) still matters.
    yield from (s for s in FRAMEWORK_STARTERS if s.facts and s.framework not in adopted)


def _controls(readiness: Readiness, gap_ids: list[int]) -> dict[tuple[str, str], Control]:
    """The gaps' controls and the adopted frameworks' starters' controls, by (slug, ref), in one query."""
    frameworks = {framework.framework.pk: framework.framework for framework in readiness.frameworks}
    if not frameworks:
        return {}
    slugs = {framework.slug for framework in frameworks.values()}
    starters = Q(
        framework_id__in=frameworks,
        ref__in={s.ref for s in (*FRAMEWORK_STARTERS, *GENERAL_STARTERS) if s.framework in slugs},
        retired_at__isnull=True,
    )
    found = Control.objects.filter(Q(pk__in=gap_ids) | starters).order_by().only("id", "framework_id", "ref", "title")
    for control in found:
        control.framework = frameworks[control.framework_id]
    return {(control.framework.slug, control.ref): control for control in found}


def starter_questions(organisation: Organisation, *, limit: int = 4) -> list[str]:
    """Up to `limit` questions to start a conversation with, in a fixed number of queries whatever the
    data: two with nothing adopted, six with frameworks adopted."""
    if limit <= 0:
        return []
    readiness = readiness_for(organisation)
    facts = profile_facts(readiness.profile)
    gap_ids = _known_gaps(readiness)[:limit]
    controls = _controls(readiness, gap_ids)
    by_id = {control.pk: control for control in controls.values()}
    questions: dict[str, None] = {}
    asked: set[tuple[str, str]] = set()
    for control_id in gap_ids:
        control = by_id[control_id]
        questions[gap_question(control)] = None
        asked.add((control.framework.slug, control.ref))
    for starter in chain(_framework_starters(readiness, facts), GENERAL_STARTERS):
        if len(questions) >= limit:
            break
        if starter.key in asked or not _fits(starter, facts, readiness, controls):
            continue
        questions[starter.question] = None
        asked.add(starter.key)
    return list(questions)[:limit]
