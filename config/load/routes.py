"""Every URL the simulated users request, with the Django URL name it must match.

The locustfile runs in Locust's process without Django, so it cannot `reverse`; config/tests/test_load.py
reverses each name here and checks it gives the same path, so a renamed or moved URL fails a fast test
rather than a load run. Locust groups its statistics by method and `name`, the pattern with its
placeholders in brackets, so each route is one row: `label` "POST /assessment/answers/[control_id]/".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    url_name: str
    pattern: str

    @property
    def name(self) -> str:
        """The request's name in Locust's statistics, which group by name and method."""
        return _PLACEHOLDER.sub(r"[\1]", self.pattern)

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}"

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.pattern))

    def path(self, **values: object) -> str:
        return self.pattern.format(**values)

    def values(self, path: str) -> dict[str, str] | None:
        """The placeholders' values in `path` (a redirect's Location, a link), or None if it is not this route."""
        pieces = _PLACEHOLDER.split(self.pattern)
        # split() alternates literal text and placeholder names: literal, name, literal, ...
        regex = "".join(re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>[^/?#]+)" for i, piece in enumerate(pieces))
        found = re.match(f"^{regex}(?:[?#].*)?$", path)
        return found.groupdict() if found else None


LOGIN_PAGE = Route("GET", "account_login", "/accounts/login/")
LOGIN = Route("POST", "account_login", "/accounts/login/")
DASHBOARD = Route("GET", "dashboard", "/")
ASSESSMENT = Route("GET", "assessment", "/assessment/")
ASSESSMENT_FRAMEWORK = Route("GET", "assessment_framework", "/assessment/{framework_slug}/")
ANSWER_SAVE = Route("POST", "answer_save", "/assessment/answers/{control_id}/")
EVIDENCE_LIST = Route("GET", "evidence_list", "/evidence/")
EVIDENCE_NEW = Route("GET", "evidence_new", "/evidence/new/")
EVIDENCE_CHECK_DUPLICATE = Route("GET", "evidence_check_duplicate", "/evidence/check-duplicate/")
EVIDENCE_UPLOAD = Route("POST", "evidence_upload", "/evidence/upload/")
POLICY_LIST = Route("GET", "policy_list", "/policies/")
POLICY_DRAFT = Route("POST", "policy_draft", "/policies/draft/")
POLICY_REDRAFT = Route("POST", "policy_redraft", "/policies/{policy_id}/redraft/")
POLICY_DETAIL = Route("GET", "policy_detail", "/policies/{policy_id}/")
POLICY_JOB = Route("GET", "policy_job", "/policies/jobs/{generationjob_id}/")
ASSISTANT = Route("GET", "assistant", "/assistant/")
ASSISTANT_START = Route("POST", "assistant_start", "/assistant/ask/")
ASSISTANT_CONVERSATION = Route("GET", "assistant_conversation", "/assistant/{conversation_id}/")
ASSISTANT_STREAM = Route(
    "GET", "assistant_answer_stream", "/assistant/{conversation_id}/questions/{message_id}/stream/"
)
API_READINESS = Route("GET", "api_readiness", "/api/v1/organisations/{organisation_slug}/readiness/")
API_EVIDENCE = Route("GET", "api_evidence_list", "/api/v1/organisations/{organisation_slug}/evidence/")

ROUTES: tuple[Route, ...] = (
    LOGIN_PAGE,
    LOGIN,
    DASHBOARD,
    ASSESSMENT,
    ASSESSMENT_FRAMEWORK,
    ANSWER_SAVE,
    EVIDENCE_LIST,
    EVIDENCE_NEW,
    EVIDENCE_CHECK_DUPLICATE,
    EVIDENCE_UPLOAD,
    POLICY_LIST,
    POLICY_DRAFT,
    POLICY_REDRAFT,
    POLICY_DETAIL,
    POLICY_JOB,
    ASSISTANT,
    ASSISTANT_START,
    ASSISTANT_CONVERSATION,
    ASSISTANT_STREAM,
    API_READINESS,
    API_EVIDENCE,
)
