"""What the assistant answers from: library controls, and the organisation's own policies and evidence.

Lexical retrieval only. Controls come from `search_controls` (full-text search with synonyms); the
organisation's documents from their own full-text index (chat/document_index.py), matched on the words
of the question and their synonyms, ranked in SQL and always filtered by organisation in the query
itself, so another organisation's document can never be retrieved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

from django.urls import reverse

from accounts.models import Organisation
from assessments.models import FrameworkAdoption
from chat.document_index import DocumentKind
from chat.document_index import search as search_documents
from chat.organisation_context import CONTEXT_KINDS, ContextPassage, context_passages, library_topic
from compliance.models import Control, Framework
from compliance.search import query_words, search_controls
from compliance.synonyms import expansions

MAX_TEXT = 1200
# Controls of the costliest gaps put first when the question is about readiness or gaps.
GAP_CONTROLS = 3
OWN_DOCUMENTS_PER_KIND = 2
MIN_WORD_LENGTH = 3
# The index matches any term, so every synonym of what was asked can be looked for.
MAX_DOCUMENT_TERMS = 24

# How people name a framework in a question, and the library slug it means.
FRAMEWORK_NAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(uk\s*)?gdpr\b|\bdata protection act\b|\bico\b", re.IGNORECASE), "uk-gdpr"),
    (re.compile(r"\bcyber\s*essentials\b", re.IGNORECASE), "cyber-essentials"),
    (re.compile(r"\biso\b(\s*/?\s*iec)?(\s*27001)?(:2022)?|\b27001\b", re.IGNORECASE), "iso27001-2022"),
    (re.compile(r"\bsoc\s*-?\s*2\b", re.IGNORECASE), "soc2-tsc-2017"),
    (re.compile(r"\bnist\b(\s*csf)?", re.IGNORECASE), "nist-csf-2.0"),
    (re.compile(r"\bpci\b(\s*dss)?", re.IGNORECASE), "pci-dss-4.0.1"),
)
# Topics that point at a framework without naming it: people's personal details mean UK GDPR. Unlike a
# name, these words stay in the search.
FRAMEWORK_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\bdata protection\b|\bpersonal (data|details|information)\b|\bsubject access\b|\bprivacy notice"
            r"|\bcustomers?'? (data|details|records|addresses)\b|\beras(e|ure)\b",
            re.IGNORECASE,
        ),
        "uk-gdpr",
    ),
)
FRAMEWORK_LABELS = {
    "uk-gdpr": "UK GDPR",
    "cyber-essentials": "Cyber Essentials",
    "iso27001-2022": "ISO 27001",
    "soc2-tsc-2017": "SOC 2",
    "nist-csf-2.0": "NIST CSF",
    "pci-dss-4.0.1": "PCI DSS",
}
# Words of everyday questions that say nothing about the topic ("how long do I have to…", "what does
# ISO say about…"); the library search would otherwise require them in a control's text.
FILLER_WORDS = frozenset(
    [
        "about",
        "actually",
        "agree",
        "before",
        "every",
        "everything",
        "quickly",
        "their",
        "them",
        "want",
        "wants",
        "cover",
        "covers",
        "expect",
        "expects",
        "require",
        "requires",
        "am",
        "any",
        "anything",
        "deal",
        "exactly",
        "get",
        "got",
        "had",
        "handle",
        "has",
        "know",
        "long",
        "me",
        "mean",
        "means",
        "much",
        "many",
        "often",
        "please",
        "really",
        "say",
        "says",
        "sure",
        "tell",
        "there",
        "these",
        "they",
        "this",
        "those",
        "us",
        "was",
        "were",
        "would",
        "could",
    ]
)
FILLER = re.compile(r"\b(" + "|".join(sorted(FILLER_WORDS)) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Passage:
    kind: str  # "control" | "policy" | "evidence"
    framework: str  # library slug for controls, "" otherwise
    ref: str  # control ref; policy/evidence id as str
    title: str
    text: str  # the guidance or excerpt used to answer
    url: str
    score: float

    @property
    def label(self) -> str:
        """How the passage is cited in prose: "UK GDPR 33", "policy 12"."""
        if self.kind == "control":
            return f"{framework_label(self.framework)} {self.ref}"
        if self.kind in CONTEXT_KINDS:
            return f"your {self.kind}"
        return f"{self.kind} {self.ref}"


def framework_label(slug: str) -> str:
    return FRAMEWORK_LABELS.get(slug, slug)


def named_frameworks(question: str) -> list[str]:
    """Library slugs of the frameworks the question names or clearly points at, without repeats."""
    found = [slug for pattern, slug in (*FRAMEWORK_NAMES, *FRAMEWORK_HINTS) if pattern.search(question)]
    return list(dict.fromkeys(found))


def retrieve(question: str, *, organisation: Organisation | None, limit: int = 8, framework: str = "") -> list[Passage]:
    """The passages to answer from: the organisation's computed figures when asked about (readiness and
    its costliest gaps' controls, the profile), then the best controls, then its own documents.

    `framework` (a library slug) counts as named in the question: its controls come first."""
    question = question.strip()
    if not question or limit <= 0:
        return []
    own: list[Passage] = []
    found: list[ContextPassage] = []
    if organisation is not None:
        found = context_passages(question, organisation)
        own = [*_policy_passages(question, organisation), *_evidence_passages(question, organisation)]
    own = own[: max(limit // 2, 0)]
    context = [_context_passage(passage) for passage in found]
    room = limit - len(own)
    # A question only about the organisation's standing ("where should we start?") names nothing to look up
    # in the library: its costliest gaps' controls are what to read. Otherwise the question's topic is.
    topic = library_topic(question) if found else question
    if topic:
        controls = _control_passages(topic, organisation=organisation, limit=room, preferred=framework)
    else:
        gap_ids = [pk for passage in found for pk in passage.gap_control_ids]
        controls = _controls_by_id(gap_ids[: min(GAP_CONTROLS, room)])
    return [*context, *controls, *own]


def _context_passage(passage: ContextPassage) -> Passage:
    return Passage(
        kind=passage.kind,
        framework="",
        ref=passage.kind,
        title=passage.title,
        text=passage.text,
        url=passage.url,
        score=1.0,
    )


def _controls_by_id(ids: list[int]) -> list[Passage]:
    """The controls of the costliest gaps, in gap order: what to read about closing them."""
    if not ids:
        return []
    controls = Control.objects.select_related("framework").in_bulk(ids)
    return [_control_passage(controls[pk], 1.0) for pk in ids if pk in controls]


# --- library controls ---------------------------------------------------------------------------


def _control_passages(
    question: str, *, organisation: Organisation | None, limit: int, preferred: str = ""
) -> list[Passage]:
    if limit <= 0:
        return []
    named = list(dict.fromkeys([*([preferred] if preferred else []), *named_frameworks(question)]))
    adopted: set[str] = set()
    if organisation is not None:
        adopted = set(
            FrameworkAdoption.objects.filter(organisation=organisation).values_list("framework__slug", flat=True)
        )
    topic = " ".join(FILLER.sub(" ", question).split()) or question
    # The framework's name is rarely in its controls' text: search without it.
    topic = (_without_framework_names(topic) or topic) if named else topic
    scored: dict[int, tuple[float, Control]] = {}
    for position, control in enumerate(_matching_controls(topic, framework=None, limit=limit * 3)):
        scored[control.pk] = (1.0 / (position + 1), control)
    if named:
        for framework in Framework.objects.filter(slug__in=named):
            found = _matching_controls(topic, framework=framework, limit=limit)
            for position, control in enumerate(found):
                score = 1.0 / (position + 1)
                if control.pk not in scored or scored[control.pk][0] < score:
                    scored[control.pk] = (score, control)

    def tier(item: tuple[float, Control]) -> tuple[bool, bool, float]:
        # Every control here matched the question; a named framework, then an adopted one, comes first.
        score, control = item
        return (control.framework.slug in named, control.framework.slug in adopted, score)

    ranked = sorted(scored.values(), key=tier, reverse=True)[:limit]
    return [_control_passage(control, score) for score, control in ranked]


# All a control passage reads; the rest (questions, evidence, synonyms, the group) would be loaded for nothing.
PASSAGE_FIELDS = ("ref", "title", "description", "guidance", "framework__slug")


def _matching_controls(topic: str, *, framework: Framework | None, limit: int) -> list[Control]:
    found = search_controls(topic, framework=framework, limit=limit)
    return list(found.select_related(None).select_related("framework").only(*PASSAGE_FIELDS))


def _without_framework_names(question: str) -> str:
    return reduce(lambda text, item: item[0].sub(" ", text), FRAMEWORK_NAMES, question).strip()


def _control_passage(control: Control, score: float) -> Passage:
    text = "\n\n".join(part.strip() for part in (control.description, control.guidance) if part.strip())
    return Passage(
        kind="control",
        framework=control.framework.slug,
        ref=control.ref,
        title=control.title,
        text=_trim(text),
        url=control.get_absolute_url(),
        score=round(score, 4),
    )


# --- the organisation's own documents -----------------------------------------------------------


def document_terms(question: str) -> list[str]:
    """Words and synonym phrases worth looking for in free text; short and filler words match too much."""
    words = [word for word in query_words(FILLER.sub(" ", question)) if len(word) >= MIN_WORD_LENGTH]
    return list(dict.fromkeys([*words, *sorted(expansions(question))]))[:MAX_DOCUMENT_TERMS]


def _policy_passages(question: str, organisation: Organisation) -> list[Passage]:
    return _document_passages(question, organisation, DocumentKind.POLICY, "policy_detail")


def _evidence_passages(question: str, organisation: Organisation) -> list[Passage]:
    return _document_passages(question, organisation, DocumentKind.EVIDENCE, "evidence_detail")


def _document_passages(question: str, organisation: Organisation, kind: DocumentKind, url_name: str) -> list[Passage]:
    """The organisation's best matching documents of one kind, from the full-text index (one query)."""
    terms = document_terms(question)
    if not terms:
        return []
    hits = search_documents(organisation_id=organisation.pk, kind=kind, terms=terms, limit=OWN_DOCUMENTS_PER_KIND)
    return [
        Passage(
            kind=kind.value,
            framework="",
            ref=str(hit.object_id),
            title=hit.title,
            text=_excerpt(hit.body, terms),
            url=reverse(url_name, args=[hit.object_id]),
            score=round(hit.score, 4),
        )
        for hit in hits
    ]


def _excerpt(text: str, terms: list[str]) -> str:
    """The part of a long document around the first term it mentions, so the passage stays short."""
    folded = text.casefold()
    hits = [index for index in (folded.find(term.casefold()) for term in terms) if index >= 0]
    start = max(min(hits) - 200, 0) if hits else 0
    return _trim(("…" if start else "") + text[start:])


def _trim(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(text) <= MAX_TEXT:
        return text
    cut = text[:MAX_TEXT].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
