"""What the assistant knows of the organisation itself: its business profile, which frameworks apply
and why, and its readiness and costliest gaps.

Every figure here is computed by Greenlight (assessments.selectors and .recommendations), never by a
model: the passages carry the numbers, and the model, if any, only puts them into words. They are built
only when the question is about them, because readiness means scoring every adopted control.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import reverse

from accounts.models import Organisation
from assessments import selectors
from assessments.models import BusinessProfile
from assessments.recommendations import recommend
from assessments.scoring import NOT_IMPLEMENTED, PARTIAL

READINESS = "readiness"
PROFILE = "profile"
CONTEXT_KINDS = (READINESS, PROFILE)
TOP_GAPS = 5

ASKS_ABOUT_READINESS = re.compile(
    r"\b(readiness|ready|score|scored|progress|how (are|am) (we|i) doing|how far|how close"
    r"|gaps?|weak(est|ness|nesses)?|biggest risks?|prioriti[sz]e"
    r"|(where|what) (should|do|shall) (we|i) (start|begin|do|fix|tackle|focus)"
    r"|next steps?)\b",
    re.IGNORECASE,
)
ASKS_ABOUT_PROFILE = re.compile(
    r"\b(which|what) (frameworks?|standards?|certifications?|regulations?|rules)\b"
    r"|\bapply to (us|me|our)\b|\bour (business )?profile\b"
    r"|\b(do|does|must|should) (we|i) (really )?(need|have) to (comply with|follow|meet|get|be certified|adopt)\b"
    r"|\b(do|does|must|should) (we|i) (really )?need (cyber essentials|iso|soc|pci|nist|a certificat|certificat)"
    r"|\bwhy (do|should|must) (we|i) (need|adopt|comply|get|follow)\b",
    re.IGNORECASE,
)
# Words of a question about one's own standing that name no topic to look up in the library.
STANDING_WORDS = frozenset(
    [
        "what",
        "where",
        "which",
        "when",
        "how",
        "should",
        "could",
        "would",
        "shall",
        "start",
        "begin",
        "biggest",
        "first",
        "most",
        "need",
        "have",
        "does",
        "with",
        "from",
        "that",
        "this",
        "your",
        "ours",
        "fix",
        "tackle",
        "focus",
        "doing",
    ]
)
STATUS_WORDS = {NOT_IMPLEMENTED: "not in place", PARTIAL: "partly in place", None: "not answered yet"}


@dataclass(frozen=True)
class ContextPassage:
    kind: str  # READINESS | PROFILE
    title: str
    text: str
    url: str
    gap_control_ids: tuple[int, ...] = ()


def context_passages(question: str, organisation: Organisation) -> list[ContextPassage]:
    passages = []
    if ASKS_ABOUT_READINESS.search(question):
        passages.append(readiness_passage(organisation))
    if ASKS_ABOUT_PROFILE.search(question):
        passage = profile_passage(organisation)
        if passage is not None:
            passages.append(passage)
    return passages


def library_topic(question: str) -> str:
    """The question without its words about the organisation's standing: what is left to look up in the
    library, or "" when nothing is ("what are our biggest gaps?")."""
    rest = ASKS_ABOUT_PROFILE.sub(" ", ASKS_ABOUT_READINESS.sub(" ", question))
    words = [word for word in re.findall(r"[a-z0-9]+", rest.lower()) if len(word) >= 4 and word not in STANDING_WORDS]
    return " ".join(rest.split()) if words else ""


def readiness_passage(organisation: Organisation) -> ContextPassage:
    readiness = selectors.readiness_for(organisation)
    url = reverse("readiness_explained")
    title = "Your readiness, as Greenlight calculates it"
    if not readiness.frameworks:
        text = (
            "The organisation has not adopted a framework yet, so there is no readiness score. "
            "Completing the business profile gives recommendations; adopting a framework starts its assessment."
        )
        return ContextPassage(kind=READINESS, title=title, text=text, url=url)
    lines = [f"Overall readiness: {readiness.overall}%."]
    for framework in readiness.frameworks:
        score = framework.score
        fails = " It would fail today: a control that decides the outcome is not in place." if score.would_fail else ""
        lines.append(
            f"{framework.framework.name}: {score.percent}% ({score.band}); {score.implemented} of "
            f"{score.applicable} applicable controls in place, {score.answered} answered.{fails}"
        )
    ranked = selectors.ranked_gaps(readiness)[:TOP_GAPS]
    controls = readiness.load_controls(gap.control_id for gap in ranked)
    if ranked:
        lines.append("Costliest gaps, first to fix:")
        for number, gap in enumerate(ranked, start=1):
            control = controls[gap.control_id]
            must = " (fails the assessment on its own)" if gap.auto_fail else ""
            lines.append(
                f"{number}. {_label(control.framework_id, readiness)} {control.ref} {control.title}: "
                f"{STATUS_WORDS.get(gap.status, gap.status)}, {gap.lost_points} points lost{must}."
            )
    else:
        lines.append("There are no gaps: every applicable control is in place.")
    return ContextPassage(
        kind=READINESS,
        title=title,
        text="\n".join(lines),
        url=url,
        gap_control_ids=tuple(gap.control_id for gap in ranked),
    )


def _label(framework_id: int, readiness: selectors.Readiness) -> str:
    from chat.retrieval import framework_label

    framework = readiness.for_framework(framework_id)
    return framework_label(framework.framework.slug) if framework else ""


def profile_passage(organisation: Organisation) -> ContextPassage | None:
    profile = selectors.profile_for(organisation)
    if profile is None or profile.completed_at is None:
        return None
    facts = _profile_facts(profile)
    lines = [f"What {organisation.name} told us: " + "; ".join(facts) + "." if facts else ""]
    from chat.retrieval import framework_label

    for recommendation in recommend(profile):
        reasons = "; ".join(recommendation.reasons)
        saq = f" ({recommendation.saq})" if recommendation.saq else ""
        lines.append(
            f"{framework_label(recommendation.framework_slug)}{saq}: {recommendation.strength}, because {reasons}."
        )
    adopted = [adoption.framework.name for adoption in selectors.adoptions_for(organisation)]
    lines.append("Adopted: " + (", ".join(adopted) if adopted else "none yet") + ".")
    return ContextPassage(
        kind=PROFILE,
        title="Your business profile and the frameworks that apply",
        text="\n".join(line for line in lines if line),
        url=reverse("profile_summary"),
    )


def _profile_facts(profile: BusinessProfile) -> list[str]:
    """The profile's answers as the wizard asks them ("Do you take card payments?: Yes")."""
    from assessments.forms_onboarding import profile_sections

    return [
        f"{answer.label.rstrip('?')}: {answer.value}"
        for section in profile_sections(profile)
        for answer in section.answers
        if answer.answered
    ]
