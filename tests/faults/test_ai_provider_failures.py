"""AI providers failing, end to end through what an owner does: drafting a policy and asking the assistant.

Gemini and OpenAI are configured for real (keys set, their official clients) against the local fake in
chat/tests/fakes.py, scripted to time out, answer 500 or 429, send a body that is not JSON, or send JSON
that is not what was asked for. The pages are driven with the test client and the drafting task runs
eagerly, as it does without a worker. Each test checks what the owner sees, what was stored (drafts,
questions, answers, an AICall row per attempt) and that nothing of the provider's error reaches a page.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

import pytest
from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client
from django.urls import reverse

from accounts.models import User
from assessments.tests.factories import BusinessProfileFactory
from chat.models import AICall, AICallOutcome, Conversation, MessageRole
from chat.tests.fakes import GEMINI, OPENAI, FakeAIServer, Reply, error, gemini_ok, malformed, openai_ok
from policies.library import get_template
from policies.models import GenerationJob, JobStatus, Policy, PolicyVersion, SectionOrigin
from policies.tailoring import policy_context_for, tailor

pytestmark = pytest.mark.django_db

# In every scripted failure, so a page showing any of the provider's words is caught.
PROVIDER_DETAIL = "upstream-detail-7f3a: model shard overloaded at node gpu-eu-4"
TEMPLATE = "acceptable-use"  # a real library template with two prose sections the model may reword
BREACH = "How long do we have to report a personal data breach to the ICO?"
HTMX = {"HTTP_HX_REQUEST": "true"}
ATTEMPTS = 2  # AI_MAX_RETRIES = 1 below: one try and one retry at each provider


def _timeout(provider: str) -> Reply:
    return Reply(delay=2.0, body=PROVIDER_DETAIL.encode())  # answered long after the client gave up


def _server_error(provider: str) -> Reply:
    return error(500, PROVIDER_DETAIL)


def _rate_limited(provider: str) -> Reply:
    return error(429, PROVIDER_DETAIL)


def _malformed_body(provider: str) -> Reply:
    return malformed()


def _not_the_json_asked_for(provider: str) -> Reply:
    text = f"Sure! {PROVIDER_DETAIL} {{not json"
    return gemini_ok(text) if provider == GEMINI else openai_ok(text)


@dataclass(frozen=True)
class Failure:
    reply: Callable[[str], Reply]  # the scripted reply, for a provider
    outcome: AICallOutcome  # as recorded for each attempt
    attempts: int  # at one provider, for one request


FAILURES = {
    "timeout": Failure(_timeout, AICallOutcome.TIMEOUT, attempts=ATTEMPTS),
    "500": Failure(_server_error, AICallOutcome.SERVER_ERROR, attempts=ATTEMPTS),
    "429": Failure(_rate_limited, AICallOutcome.RATE_LIMITED, attempts=ATTEMPTS),
    # Not retried: the same request would get the same unreadable body.
    "malformed JSON": Failure(_malformed_body, AICallOutcome.MALFORMED_RESPONSE, attempts=1),
    # Not retried either, but given one repair attempt with the validation error.
    "output not JSON": Failure(_not_the_json_asked_for, AICallOutcome.INVALID_OUTPUT, attempts=2),
}
# Where every mode takes the same path through the feature, two of them are enough to show it: one the
# gateway retries (a timeout) and one it repairs (output that is not the JSON asked for).
SOME_FAILURES = ("timeout", "output not JSON")


@pytest.fixture
def providers(settings) -> Iterator[FakeAIServer]:
    """Gemini, then OpenAI, then offline, both served by the local fake; short timeouts and waits."""
    server = FakeAIServer().start()
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.GEMINI_MODEL = "gemini-2.5-flash"
    settings.GEMINI_BASE_URL = server.url
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.OPENAI_MODEL = "gpt-4.1-mini"
    settings.OPENAI_BASE_URL = f"{server.url}/v1"
    settings.AI_PROVIDER_ORDER = ["gemini", "openai", "offline"]
    settings.AI_TIMEOUT_SECONDS = 0.3
    settings.AI_MAX_RETRIES = ATTEMPTS - 1
    settings.AI_RETRY_MAX_WAIT_SECONDS = 0.05
    settings.AI_CIRCUIT_FAILURES = 5
    settings.AI_CIRCUIT_COOLDOWN_SECONDS = 60
    settings.AI_REQUESTS_PER_MINUTE = 0
    settings.AI_MONTHLY_TOKEN_BUDGET = 0
    settings.AI_STORE_PROMPTS = False
    yield server
    server.stop()


def _fail(server: FakeAIServer, mode: str, *names: str) -> None:
    for name in names:
        server.script(name, *(FAILURES[mode].reply(name) for _ in range(12)))


@pytest.fixture
def owner(personas) -> Client:
    BusinessProfileFactory(organisation=personas.organisation, company_name="Acme Bakery Ltd")
    browser = Client()
    browser.force_login(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _nothing_leaked(*pages: str) -> None:
    for page in pages:
        for leak in (PROVIDER_DETAIL, "upstream-detail", "Traceback", "SCRIPTED", "Error code:", "httpx"):
            assert leak not in page, f"{leak!r} reached the page"


def _outcomes(provider: str) -> list[str]:
    return list(AICall.objects.filter(provider=provider).order_by("pk").values_list("outcome", flat=True))


# --- Drafting a policy -------------------------------------------------------------------------------
def _draft(browser: Client, capture, url: str, data: dict[str, str] | None = None):
    """Press a drafting button; the task runs eagerly once the request's transaction commits."""
    with capture(execute=True):
        response = browser.post(url, data or {})
    assert response.status_code == 302, response.status_code
    return response


def _edit(browser: Client, policy: Policy, version: PolicyVersion, key: str, body: str) -> None:
    data: dict[str, object] = {"revision": version.revision, "number": version.number}
    data.update({f"body-{section['key']}": section["body"] for section in version.sections})
    data[f"body-{key}"] = body
    response = browser.post(reverse("policy_edit", args=[policy.pk]), data)
    assert response.status_code == 302, text_of(response)


@pytest.mark.parametrize("mode", FAILURES)
def test_drafting_with_every_provider_failing_gives_the_template_draft_and_keeps_the_edited_one(
    mode, personas, owner, providers, django_capture_on_commit_callbacks
):
    _fail(providers, mode, GEMINI, OPENAI)
    failure = FAILURES[mode]

    response = _draft(owner, django_capture_on_commit_callbacks, reverse("policy_draft"), {"template": TEMPLATE})
    policy = Policy.objects.get(organisation=personas.organisation, template_key=TEMPLATE)
    assert response["Location"] == reverse("policy_detail", args=[policy.pk])
    job = GenerationJob.objects.get(policy=policy)
    assert job.status == JobStatus.DONE, job.error
    first = PolicyVersion.objects.get(policy=policy)
    # The offline answer is the template's own prose: every section says where its words came from.
    assert {section["origin"] for section in first.sections} == {SectionOrigin.TEMPLATE}
    detail = text_of(owner.get(response["Location"]))
    assert "From the template" in detail
    assert "Rewritten by the assistant" not in detail
    job_page = text_of(owner.get(reverse("policy_job", args=[job.pk])))
    assert "Draft ready" in job_page
    _nothing_leaked(detail, job_page)
    # Each provider was tried and retried once, for the first prose section only: once they failed,
    # the second is not sent to the same failing providers (it keeps the template's prose).
    assert _outcomes(GEMINI) == [failure.outcome] * failure.attempts
    assert _outcomes(OPENAI) == _outcomes(GEMINI)
    assert _outcomes("offline") == [AICallOutcome.OK]
    assert not AICall.objects.exclude(provider__in=[GEMINI, OPENAI, "offline"]).exists()

    # The owner edits the draft, then asks for a fresh one while the providers are still failing.
    prose = next(section["key"] for section in first.sections if section["key"] != "review")
    _edit(owner, policy, first, prose, "Our own words about acceptable use, written by the owner.")
    first.refresh_from_db()
    edited = copy.deepcopy(first.sections)
    assert first.revision == 2

    _draft(owner, django_capture_on_commit_callbacks, reverse("policy_redraft", args=[policy.pk]))
    latest = GenerationJob.objects.filter(policy=policy).latest("created_at")
    assert latest.status == JobStatus.DONE, latest.error
    first.refresh_from_db()
    assert (first.sections, first.revision) == (edited, 2)  # the edited draft is kept as it was
    second = PolicyVersion.objects.get(policy=policy, number=2)
    assert next(s for s in second.sections if s["key"] == prose)["origin"] == SectionOrigin.TEMPLATE
    earlier = text_of(owner.get(reverse("policy_detail", args=[policy.pk]), {"version": 1}))
    assert "Our own words about acceptable use, written by the owner." in earlier
    assert "Edited by a person" in earlier
    _nothing_leaked(earlier)


@pytest.mark.parametrize("mode", SOME_FAILURES)
def test_drafting_uses_the_second_provider_when_the_first_fails(
    mode, personas, owner, providers, django_capture_on_commit_callbacks
):
    # OpenAI rewords each prose section, keeping every fact the template filled in.
    template = get_template(TEMPLATE)
    assert template is not None
    prose = [s for s in tailor(template, policy_context_for(personas.organisation)) if s.get("rewrite")]
    assert len(prose) == 2
    reworded = {s["key"]: f"{s['body']}\n\nEveryone at Acme Bakery Ltd follows this." for s in prose}
    _fail(providers, mode, GEMINI)
    providers.script(OPENAI, *(openai_ok({"body": body}) for body in reworded.values()))

    response = _draft(owner, django_capture_on_commit_callbacks, reverse("policy_draft"), {"template": TEMPLATE})

    version = PolicyVersion.objects.get(policy__template_key=TEMPLATE, policy__organisation=personas.organisation)
    rewritten = {s["key"]: s for s in version.sections if s["origin"] == SectionOrigin.MODEL}
    assert {key: s["body"] for key, s in rewritten.items()} == reworded
    assert {s["provider"] for s in rewritten.values()} == {OPENAI}
    detail = text_of(owner.get(response["Location"]))
    assert "Rewritten by the assistant (openai)" in detail
    assert "Everyone at Acme Bakery Ltd follows this." in detail
    _nothing_leaked(detail)
    assert set(_outcomes(GEMINI)) == {FAILURES[mode].outcome}
    assert _outcomes(OPENAI) == [AICallOutcome.OK, AICallOutcome.OK]
    assert _outcomes("offline") == []


# --- The assistant -----------------------------------------------------------------------------------
def _conversation(user: User) -> Conversation:
    return Conversation.objects.get(user=user)


@pytest.mark.usefixtures("library")
@pytest.mark.parametrize("mode", FAILURES)
def test_the_assistant_answers_from_the_library_when_every_provider_fails(mode, personas, owner, providers):
    _fail(providers, mode, GEMINI, OPENAI)

    response = owner.post(reverse("assistant_start"), {"question": BREACH})

    conversation = _conversation(personas.owner)
    assert response.status_code == 302
    question = conversation.messages.get(role=MessageRole.USER)
    answer = conversation.messages.get(role=MessageRole.ASSISTANT)
    assert question.content == BREACH  # the question is kept
    assert (answer.reply_to_id, answer.provider) == (question.pk, "offline")
    assert any(c.get("framework") == "uk-gdpr" and c.get("ref") == "33" for c in answer.citations)
    page = text_of(owner.get(conversation.get_absolute_url()))
    assert BREACH in page
    assert "Composed from the Greenlight library" in page
    assert "UK GDPR 33" in page
    assert reverse("control_detail", args=["uk-gdpr", "33"]) in page
    _nothing_leaked(page)
    assert set(_outcomes(GEMINI)) == set(_outcomes(OPENAI)) == {FAILURES[mode].outcome}
    assert _outcomes("offline") == [AICallOutcome.OK]


def _stream(user: User, url: str) -> list[tuple[str, str]]:
    """The answer stream read to its end through the ASGI path, as (event, data) pairs."""

    async def read() -> str:
        client = AsyncClient()
        await client.aforce_login(user)
        response = cast(StreamingHttpResponse, await client.get(url))
        assert response.status_code == 200
        chunks = [chunk async for chunk in response]
        return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks).decode()

    events = []
    for block in async_to_sync(read)().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if lines:
            events.append((lines[0].removeprefix("event: "), "\n".join(x.removeprefix("data: ") for x in lines[1:])))
    return events


@pytest.mark.usefixtures("library")
def test_a_streamed_answer_falls_back_to_the_library_when_the_providers_time_out(personas, owner, providers):
    _fail(providers, "timeout", GEMINI, OPENAI)

    response = owner.post(reverse("assistant_start"), {"question": BREACH}, **HTMX)  # stored, not yet answered
    conversation = _conversation(personas.owner)
    assert response.status_code == 200
    question = conversation.messages.get(role=MessageRole.USER)
    assert not conversation.messages.filter(role=MessageRole.ASSISTANT).exists()

    events = _stream(personas.owner, reverse("assistant_answer_stream", args=[conversation.pk, question.pk]))

    names = [name for name, _ in events]
    assert names[-1] == "answer", events
    assert "failed" not in names
    html = events[-1][1]
    assert "Composed from the Greenlight library" in html
    assert "UK GDPR 33" in html
    _nothing_leaked(*(data for _, data in events))
    assert conversation.messages.get(role=MessageRole.ASSISTANT).provider == "offline"
    assert set(_outcomes(GEMINI)) == {AICallOutcome.TIMEOUT}


@pytest.mark.usefixtures("library")
@pytest.mark.parametrize("mode", SOME_FAILURES)
def test_the_assistant_uses_the_second_provider_when_the_first_fails(mode, personas, owner, providers):
    _fail(providers, mode, GEMINI)
    written = "Tell the ICO within 72 hours of becoming aware of the breach (UK GDPR 33)."
    providers.script(OPENAI, openai_ok({"answer": written, "citations": [{"framework": "uk-gdpr", "ref": "33"}]}))

    owner.post(reverse("assistant_start"), {"question": BREACH})

    conversation = _conversation(personas.owner)
    answer = conversation.messages.get(role=MessageRole.ASSISTANT)
    assert (answer.provider, answer.content) == (OPENAI, written)
    page = text_of(owner.get(conversation.get_absolute_url()))
    assert written in page
    assert "Written by gpt-4.1-mini" in page
    _nothing_leaked(page)


@pytest.mark.usefixtures("library")
@pytest.mark.parametrize("mode", SOME_FAILURES)
def test_the_api_answers_from_the_library_when_every_provider_fails(mode, personas, providers, api_for):
    _fail(providers, mode, GEMINI, OPENAI)
    api = api_for(personas.organisation)

    response = api.post(
        reverse("api_assistant_ask", kwargs={"organisation_slug": personas.organisation.slug}),
        {"question": BREACH},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["provider"] == "offline"
    assert any(c.get("framework") == "uk-gdpr" and c.get("ref") == "33" for c in body["citations"])
    _nothing_leaked(response.content.decode())
