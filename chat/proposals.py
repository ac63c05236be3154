"""Requests to act ("draft a breach policy", "add a task to enable MFA") become proposals.

The assistant never acts by itself: a proposal is stored on the answer and runs only when the member
confirms it with a button. Proposals come from the member's own question, read by code, never from the
model's output or from the documents retrieved.

A request is a sentence that starts with one (after "please", "can you", "I'd like you to" and the
like): "draft our breach policy", "can you help us write a BYOD policy?", "add a task to enable MFA",
"put the backup review on the plan", "remind us to renew the ICO fee". A sentence starting any other way
("how do I draft a policy?", "should we add a task…", "can we write our own policy?") is a question,
and "I need a data retention policy" counts as a request only as a statement, not with a question mark.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import Organisation
from accounts.roles import Capability
from assessments.facts import profile_facts
from assessments.models import BusinessProfile, FrameworkAdoption
from chat.models import Message, MessageRole, ProposalStatus
from chat.retrieval import retrieve
from compliance.models import Control
from compliance.profile_facts import PROFILE_FACTS
from compliance.synonyms import normalise
from policies.library import PolicyTemplate, get_template, load_library
from policies.models import Policy

DRAFT_POLICY = "draft_policy"
ADD_TASK = "add_task"
# A request comes early in a message: later sentences are context, often pasted from somewhere else.
SENTENCES_READ = 3
TASK_TITLE_CHARS = 120
TASK_CONTROLS = 3
# Control passages looked at for a task; those outside the adopted frameworks are dropped.
TASK_CANDIDATES = 60
QUESTION_IN_DESCRIPTION_CHARS = 500

# --- Reading the request ----------------------------------------------------------------------------
_GREETING = r"(?:(?:hi|hello|hey|ok|okay|right|great|thanks|thank\s+you|cheers)(?:\s+there)?\s*[,!.]?\s+)?"
# Asking the assistant directly: allowed with a question mark ("can you draft…?").
_ASK = r"(?:(?:please\s+)?(?:can|could|would|will)\s+you\s+(?:please\s+)?|please\s+)?"
# Saying what one wants done: "I'd like you to…", "we need to…".
_WANT = (
    r"(?P<want>(?:i|we)(?:'d|\s+would)\s+(?:like|love)\s+(?:you\s+)?to\s+"
    r"|(?:i|we)\s+(?:want|need)\s+(?:you\s+)?to\s+|let's\s+|let\s+us\s+|go\s+ahead\s+and\s+)?"
)
_HELP = r"(?:please\s+)?(?:help\s+(?:me|us)\s+(?:to\s+)?)?"
LEAD = _GREETING + _ASK + _WANT + _HELP

# Words that end a policy's kind: no pronoun, article or verb is part of "data retention".
_NOT_KIND = (
    r"(?:i|we|you|they|he|she|it|us|me|them|need|needs|should|must|do|does|did|is|are|was|be|can|could|"
    r"would|will|how|what|why|when|where|which|who|whether|if|that|this|these|those|our|a|an|the|my|your|"
    r"their|its|sure|to|for|about|on|with|policy|policies|notice|plan|procedure)"
)
_KIND_WORD = rf"(?!{_NOT_KIND}\b)[a-z0-9][\w'&/+.-]*"
_KIND = rf"(?P<kind>(?:{_KIND_WORD},?\s+){{0,5}}{_KIND_WORD})"
_DRAFT = r"(?:draft|write|create|prepare|generate|make|produce|draw\s+up|put\s+together|start)"
_DETERMINER = r"(?:(?:a|an|our|the|my|one)\s+)?(?:(?:new|proper|simple|basic|short|first|updated)\s+)?"
_POLICY_NOUN = r"(?:policy|notice|procedure|plan)(?:\s+document)?\b"

DRAFT_REQUEST = re.compile(rf"^{LEAD}{_DRAFT}\s+(?:(?:me|us)\s+)?{_DETERMINER}{_KIND}\s+{_POLICY_NOUN}", re.IGNORECASE)
# "Draft a policy for handling data breaches": the kind follows the noun.
DRAFT_ABOUT_REQUEST = re.compile(
    rf"^{LEAD}{_DRAFT}\s+(?:(?:me|us)\s+)?{_DETERMINER}policy\s+"
    r"(?:on|for|about|covering|around|regarding|to\s+cover|that\s+covers)\s+(?P<kind>[^.;:!?]+)",
    re.IGNORECASE,
)
# "I need a data retention policy": a statement of need, not "do I need…?".
NEED_REQUEST = re.compile(
    rf"^{_GREETING}(?:i|we)\s+(?:really\s+|also\s+|urgently\s+|now\s+)?(?:need|want|would\s+like|'d\s+like)\s+"
    rf"(?:to\s+(?:have|get)\s+)?{_DETERMINER}{_KIND}\s+{_POLICY_NOUN}",
    re.IGNORECASE,
)

_TASK_NOUN = r"(?:task|to-?do(?:\s+item)?|action(?:\s+item)?|reminder)"
_PLAN_NOUN = (
    r"(?:(?:implementation|action|security|compliance)\s+)?(?:plan|to-?do\s+list|task\s+list|list\s+of\s+tasks|list)"
)
_PLACE = rf"(?:to|on|in|onto|into)\s+(?:the|our|my|your)\s+{_PLAN_NOUN}\b"
_CONNECT = r"(?:\s*[:,–—-]\s*|\s+)(?:(?:to|for|about|called|named|titled|saying|that\s+says|reading)\s+)?"
TASK_REQUESTS = (
    # "Add a task to enable MFA", "create a task on our plan for reviewing backups".
    re.compile(
        rf"^{LEAD}(?:add|create|make|set\s+up|put|raise|log|open|start|write)\s+(?:(?:me|us)\s+)?"
        rf"(?:a|an|one|another)\s+(?:new\s+)?{_TASK_NOUN}(?:\s+{_PLACE})?{_CONNECT}(?P<title>.+)$",
        re.IGNORECASE,
    ),
    # "New task: check the backups" (a colon, so "task list: what goes in it?" is not one; and not
    # "reminder:" or "action:", which more often introduce a note than ask for a task).
    re.compile(rf"^{LEAD}(?:new\s+)?(?:task|to-?do)\s*:\s*(?P<title>.+)$", re.IGNORECASE),
    # "Add to the plan: review the backups".
    re.compile(
        rf"^{LEAD}(?:add|put)\s+(?:to|on|onto)\s+(?:the|our|my|your)\s+{_PLAN_NOUN}\s*[:,–—-]?\s+(?P<title>.+)$",
        re.IGNORECASE,
    ),
    # "Put enabling MFA on the plan", "add 'review backups' to our to-do list".
    re.compile(
        rf"^{LEAD}(?:add|put|pop|stick|include)\s+(?P<title>.+?)\s+{_PLACE}"
        r"(?:\s+(?:as\s+a\s+task|please|for\s+(?:me|us)|too|as\s+well))*\W*$",
        re.IGNORECASE,
    ),
    # "Remind us to renew the ICO fee" (not "remind me what article 33 says").
    re.compile(rf"^{LEAD}remind\s+(?:me|us)\s+to\s+(?P<title>.+)$", re.IGNORECASE),
)

# How people name a policy, and the template it means. The longest name found wins; between names
# of different templates, the last (the head of "personal data breach policy") wins.
KIND_NAMES: dict[str, tuple[str, ...]] = {
    "incident-response": (
        "breach",
        "breaches",
        "data breach",
        "personal data breach",
        "security breach",
        "incident",
        "incidents",
        "incident response",
        "incident management",
        "cyber incident",
    ),
    "remote-working": (
        "byod",
        "own device",
        "own devices",
        "personal device",
        "personal devices",
        "mobile device",
        "mobile devices",
        "remote working",
        "remote work",
        "remote access",
        "home working",
        "homeworking",
        "working from home",
        "wfh",
        "hybrid working",
        "flexible working",
    ),
    "access-control": (
        "password",
        "passwords",
        "access control",
        "access management",
        "user access",
        "access",
        "mfa",
        "2fa",
        "two factor",
        "multi factor",
        "authentication",
        "account",
        "accounts",
    ),
    "business-continuity": (
        "backup",
        "backups",
        "back up",
        "back ups",
        "business continuity",
        "continuity",
        "disaster recovery",
        "recovery",
        "resilience",
    ),
    "privacy-notice": ("privacy", "privacy notice", "privacy policy"),
    "data-protection": ("data protection", "gdpr", "uk gdpr", "personal data", "dpa"),
    "data-retention": (
        "retention",
        "data retention",
        "record retention",
        "records retention",
        "records management",
        "disposal",
        "data disposal",
        "destruction",
        "data destruction",
        "deletion",
    ),
    "acceptable-use": (
        "acceptable use",
        "aup",
        "it use",
        "computer use",
        "internet",
        "internet use",
        "email",
        "email use",
        "social media",
        "ai",
        "ai use",
    ),
    "cookie-policy": ("cookie", "cookies"),
    "cryptography": ("encryption", "cryptography", "cryptographic", "crypto", "key management"),
    "information-security": (
        "information security",
        "infosec",
        "cyber security",
        "cybersecurity",
        "it security",
        "security",
        "isms",
    ),
    "joiners-movers-leavers": (
        "joiner",
        "joiners",
        "mover",
        "movers",
        "leaver",
        "leavers",
        "starters",
        "onboarding",
        "offboarding",
    ),
    "malware-protection": ("malware", "anti malware", "antivirus", "anti virus", "virus", "ransomware"),
    "patch-management": (
        "patch",
        "patches",
        "patching",
        "update",
        "updates",
        "software update",
        "software updates",
        "vulnerability",
        "vulnerabilities",
        "vulnerability management",
    ),
    "physical-security": (
        "physical",
        "physical security",
        "premises",
        "office security",
        "building security",
        "clear desk",
        "visitor",
        "visitors",
    ),
    "risk-management": ("risk", "risks", "risk management", "risk assessment"),
    "secure-configuration": ("secure configuration", "configuration", "hardening", "firewall", "firewalls"),
    "supplier-security": (
        "supplier",
        "suppliers",
        "supplier security",
        "supplier risk",
        "third party",
        "third parties",
        "third party risk",
        "vendor",
        "vendors",
        "outsourcing",
    ),
}
# Too general to pick a template by title words alone ("a policy for the business").
VAGUE_WORDS = frozenset(
    ["a", "an", "and", "of", "the", "our", "my", "new", "policy", "business", "company", "organisation"]
) | frozenset(["organization", "staff", "data", "information"])
COORDINATION = re.compile(r",|&|\b(?:and|or|plus)\b", re.IGNORECASE)
DEICTIC = frozenset(
    ["it", "this", "that", "these", "those", "them", "me", "us", "one", "this one", "that one", "something", "task"]
)
TRAILING = re.compile(
    rf"(?:\s+(?:{_PLACE}|please|for\s+(?:me|us)|thanks|thank\s+you|as\s+a\s+task|asap|too|as\s+well)|\s*[.!?,;:…])+$",
    re.IGNORECASE,
)
# Words of a task that say what to do, not what it is about: the search would require them in a control.
TASK_VERBS = re.compile(
    r"^(?:(?:please|we\s+(?:need|must|should)\s+to|make\s+sure|ensure|start|begin)\s+"
    r"|(?:enabl|turn(?:ing)?\s+on|switch(?:ing)?\s+on|set(?:ting)?\s+up|review|check|implement|introduc|"
    r"roll(?:ing)?\s+out|add|creat|renew|book|arrang|sort(?:ing)?\s+out|fix|document|test|install|"
    r"configur|rotat|chang|buy|get(?:ting)?|do(?:ing)?|look(?:ing)?\s+(?:at|into)|think(?:ing)?\s+about|"
    r"train|run|carry(?:ing)?\s+out|put(?:ting)?\s+in\s+place)\w*\s+)+",
    re.IGNORECASE,
)
TASK_NOISE = re.compile(r"\b(?:all|every|each|any|some)\b", re.IGNORECASE)
QUOTES = "\"'`\u201c\u201d\u2018\u2019"


def _sentences(text: str) -> list[str]:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    # The one policy name with a pronoun in it, which would otherwise end the kind.
    text = re.sub(r"\bbring\s+your\s+own\s+device\b", "BYOD", text, flags=re.IGNORECASE)
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [" ".join(part.split()) for part in parts if part.strip()][:SENTENCES_READ]


def _name_matches(kind: str, names: dict[str, tuple[str, ...]]) -> list[tuple[int, int, str]]:
    """(start, end, template key) of the names found in the kind, the longest kept where they overlap."""
    padded = f" {normalise(kind)} "
    found: list[tuple[int, int, str]] = []
    for key, phrases in names.items():
        for phrase in phrases:
            for match in re.finditer(rf"(?<= ){re.escape(phrase)}(?= )", padded):
                found.append((match.start(), match.end(), key))
    kept: list[tuple[int, int, str]] = []
    for start, end, key in sorted(found, key=lambda item: item[0] - item[1]):
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in kept):
            kept.append((start, end, key))
    return sorted(kept)


def template_for_kind(kind: str) -> PolicyTemplate | None:
    """The template a member means by "breach", "BYOD" or "joiners, movers and leavers"; None when it is
    unknown, or when two different policies are asked for at once."""
    library = load_library()
    names = {key: phrases for key, phrases in KIND_NAMES.items() if key in library}
    matches = _name_matches(kind, names)
    keys = list(dict.fromkeys(key for _, _, key in matches))
    if len(keys) > 1 and COORDINATION.search(kind):
        return None
    if keys:
        return library[matches[-1][2]]
    # A template added to the library later is still found by the words of its title or key.
    words = set(normalise(kind).split()) - VAGUE_WORDS
    if not words:
        return None
    fitting = [
        template for template in library.values() if words <= set(normalise(f"{template.title} {template.key}").split())
    ]
    return fitting[0] if len(fitting) == 1 else None


def _policy_request(sentence: str) -> str | None:
    """The kind of policy a sentence asks to be drafted, if it asks for one."""
    asked = sentence.endswith("?")
    for pattern in (DRAFT_REQUEST, DRAFT_ABOUT_REQUEST):
        match = pattern.match(sentence)
        if match and not (asked and match.group("want")):
            return match.group("kind")
    match = NEED_REQUEST.match(sentence)
    if match and not asked:
        return match.group("kind")
    return None


def clean_task_title(text: str) -> str | None:
    """A plan task's title from the words of a request: unquoted, without "please" or "to the plan",
    capitalised and bounded; None when nothing is left to name a task."""
    title = text.strip()
    for _ in range(3):
        title = TRAILING.sub("", title).strip().strip(QUOTES).strip()
    title = re.sub(r"^(?:a|an|the)\s+", "", title, flags=re.IGNORECASE)
    if not re.search(r"[^\W\d_]{2}", title) or title.casefold() in DEICTIC:
        return None
    if len(title) > TASK_TITLE_CHARS:
        title = title[: TASK_TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
    return title[:1].upper() + title[1:]


def _task_request(sentence: str) -> str | None:
    asked = sentence.endswith("?")
    for pattern in TASK_REQUESTS:
        match = pattern.match(sentence)
        if match and not (asked and match.group("want")):
            return clean_task_title(match.group("title"))
    return None


# --- Proposals --------------------------------------------------------------------------------------
def proposal_for(question: str, *, organisation: Organisation) -> dict[str, Any] | None:
    """The action the question asks for, or None when it only asks for information."""
    for sentence in _sentences(question):
        # A task first: "add a task to write our breach policy" asks for a task, not a policy.
        title = _task_request(sentence)
        if title:
            return _task_proposal(title, organisation)
        kind = _policy_request(sentence)
        if kind:
            template = template_for_kind(kind)
            # An unknown kind gets no proposal: the answer still helps.
            return _policy_proposal(template, organisation) if template else None
    return None


def _policy_proposal(template: PolicyTemplate, organisation: Organisation) -> dict[str, Any]:
    drafted = Policy.objects.filter(organisation=organisation, template_key=template.key).exists()
    label = f"Draft {'a new version of ' if drafted else ''}the {template.title} for {organisation.name}"
    if template.applies_if:
        facts = profile_facts(BusinessProfile.objects.filter(organisation=organisation).first())
        unmet = template.unmet_facts(facts)
        if unmet:
            needs = " and ".join(_lower_first(PROFILE_FACTS.get(fact, fact)) for fact in unmet)
            label += f" (not one we suggest for you: it is for a business that {needs})"
    return {"action": DRAFT_POLICY, "template": template.key, "label": label}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _task_proposal(title: str, organisation: Organisation) -> dict[str, Any]:
    return {
        "action": ADD_TASK,
        "title": title,
        "controls": [
            {"id": control.pk, "framework": control.framework.slug, "ref": control.ref}
            for control in _controls_for_task(title, organisation)
        ],
        "label": f"Add “{title}” to your plan",
    }


def _controls_for_task(title: str, organisation: Organisation) -> list[Control]:
    """The library controls of the adopted frameworks that the task's words match best."""
    adopted = set(FrameworkAdoption.objects.filter(organisation=organisation).values_list("framework__slug", flat=True))
    if not adopted:
        return []
    topic = " ".join(TASK_NOISE.sub(" ", TASK_VERBS.sub("", title)).split()) or title
    # Searched without the organisation: only library controls, never its documents, shape a proposal.
    wanted = [
        (passage.framework, passage.ref)
        for passage in retrieve(topic, organisation=None, limit=TASK_CANDIDATES)
        if passage.kind == "control" and passage.framework in adopted
    ]
    if not wanted:
        return []
    found = {
        (control.framework.slug, control.ref): control
        for control in Control.objects.live()
        .filter(assessable=True, framework__slug__in=adopted, ref__in={ref for _, ref in wanted})
        .select_related("framework")
    }
    return [found[key] for key in dict.fromkeys(wanted) if key in found][:TASK_CONTROLS]


# --- Confirming ---------------------------------------------------------------------------------------
def _own(message: Message, actor: Actor) -> None:
    if actor.user is None or message.conversation.user_id != actor.user.pk:
        raise PermissionDenied("Only the member who asked can confirm or dismiss this suggestion.")


def _pending(message: Message) -> dict[str, Any]:
    if message.role != MessageRole.ASSISTANT or not message.proposal:
        raise ValidationError("There is no suggestion to confirm here.")
    if message.proposal_status == ProposalStatus.CONFIRMED:
        raise ValidationError("This suggestion has already been carried out.")
    if message.proposal_status == ProposalStatus.DISMISSED:
        raise ValidationError("This suggestion was dismissed. Ask again if you want it after all.")
    return message.proposal


def proposal_confirm(*, message: Message, actor: Actor) -> str:
    """Carry out a pending proposal through the real services; returns the URL of what was created."""
    _own(message, actor)
    with transaction.atomic():
        locked = Message.objects.select_for_update().select_related("organisation").get(pk=message.pk)
        proposal = _pending(locked)
        organisation = locked.organisation
        if proposal.get("action") == DRAFT_POLICY:
            url = _confirm_policy(proposal, organisation, actor)
        elif proposal.get("action") == ADD_TASK:
            url = _confirm_task(proposal, locked, actor)
        else:
            raise ValidationError("This suggestion can no longer be carried out.")
        locked.proposal_status = ProposalStatus.CONFIRMED
        locked.proposal_result_url = url
        locked.save(update_fields=["proposal_status", "proposal_result_url"])
        audit_record(
            organisation=organisation,
            actor=actor,
            action="assistant.proposal_confirmed",
            summary=f"Confirmed the assistant's suggestion: {proposal.get('label', '')}",
            target=locked,
        )
    message.proposal_status, message.proposal_result_url = locked.proposal_status, url
    return url


def _confirm_policy(proposal: dict[str, Any], organisation: Organisation, actor: Actor) -> str:
    from policies.services import policy_draft_start

    require_actor(organisation, actor, Capability.EDIT, what="policies")
    template = get_template(str(proposal.get("template", "")))
    if template is None:
        raise ValidationError("That policy template is no longer in the library, so nothing was drafted.")
    job = policy_draft_start(organisation=organisation, template_key=template.key, actor=actor)
    return reverse("policy_detail", args=[job.policy_id])


def _confirm_task(proposal: dict[str, Any], message: Message, actor: Actor) -> str:
    from assessments.services import task_create

    organisation = message.organisation
    # task_create leaves the role check to its callers.
    require_actor(organisation, actor, Capability.EDIT, what="the plan")
    title = clean_task_title(str(proposal.get("title", "")))
    if not title:
        raise ValidationError("This suggestion has no task title, so nothing was added.")
    stored = {
        (entry.get("id"), entry.get("framework"), entry.get("ref"))
        for entry in proposal.get("controls") or []
        if isinstance(entry, dict)
    }
    ids = [pk for pk, _, _ in stored if isinstance(pk, int)]
    # Read again, and only live library controls of the frameworks adopted now, matching what was shown.
    controls = [
        control
        for control in Control.objects.live()
        .filter(
            pk__in=ids,
            assessable=True,
            framework_id__in=FrameworkAdoption.objects.filter(organisation=organisation).values("framework_id"),
        )
        .select_related("framework")
        if (control.pk, control.framework.slug, control.ref) in stored
    ]
    asked = ""
    if message.reply_to_id is not None:
        asked = Message.objects.filter(pk=message.reply_to_id).values_list("content", flat=True).first() or ""
    asked = " ".join(asked.split())
    if len(asked) > QUESTION_IN_DESCRIPTION_CHARS:
        asked = asked[: QUESTION_IN_DESCRIPTION_CHARS - 1].rstrip() + "…"
    task = task_create(
        organisation=organisation,
        title=title,
        actor=actor,
        description=f"Added from the assistant, as asked: “{asked}”" if asked else "Added from the assistant.",
        controls=controls,
    )
    return reverse("task_detail", args=[task.pk])


def proposal_dismiss(*, message: Message, actor: Actor) -> None:
    """Put a proposal aside; dismissing one already dismissed changes nothing."""
    _own(message, actor)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.proposal_status == ProposalStatus.DISMISSED:
            return
        _pending(locked)
        locked.proposal_status = ProposalStatus.DISMISSED
        locked.save(update_fields=["proposal_status"])
    message.proposal_status = ProposalStatus.DISMISSED
