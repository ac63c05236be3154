"""The mixed small-business journey that `make load` runs with Locust (see config/load/run.py).

Each simulated person signs in through the real sign-in form (a few at a time: see `sign_in_gate`) as
the owner of one seeded organisation (shared out evenly, so each organisation has about as many people),
then, with a pause of one to three seconds between steps: looks at the dashboard, opens the assessment,
saves answers as the page's htmx autosave does, uploads a small PDF or PNG as the upload script does
(duplicate check, then one XMLHttpRequest per file), drafts a policy and polls the job the Celery worker
runs until it is done, asks the assistant and reads the streamed answer, and reads readiness and
evidence through the API with the organisation's key.

Every answer is checked as the page would check it, and anything else is a failure: nothing is
expected to be refused. The limits that could refuse (sign-ins per address, questions per organisation
per minute, API calls per key) are kept by the shape of the load instead: every person comes from an
address of their own on the loopback network, and leaves the plan's interval between two questions.

Production sits behind an HTTPS proxy. The client plays the proxy's part too: it adds
`X-Forwarded-Proto: https`, so Django sees the secure request it would see, and sends the session's
Secure cookies on the plain loopback hop as a browser sends them over HTTPS.

Runs in Locust's process, which never loads Django; the routes are in routes.py, checked by a test.
"""

# Random choices here shape a simulated person's clicks; nothing secret depends on them.
# ruff: noqa: S311

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import time
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gevent.lock import BoundedSemaphore
from locust import HttpUser, between, constant, events, task
from locust.clients import LocustHttpAdapter, ResponseContextManager
from locust.exception import StopUser
from urllib3 import PoolManager

from config.load import files, report, routes
from config.load.pages import Page
from config.load.plan import PLAN_ENV, RESULTS_ENV, SAMPLES_ENV, Account, Plan
from config.load.routes import Route

ANSWER_STATUSES = ("implemented", "partial", "not_implemented")
QUESTIONS = (
    "How quickly do we have to report a personal data breach to the ICO?",
    "What does Cyber Essentials require for passwords and multi-factor authentication?",
    "Do we need to pay the ICO data protection fee?",
    "How often should we apply security updates to our laptops?",
    "What should our privacy notice tell customers?",
    "Do we need a data processing agreement with our payroll provider?",
    "How should we handle a subject access request?",
    "Which firewall settings does Cyber Essentials expect on home routers?",
)
# Job states the policy page keeps polling; "done" ends it; anything else is a failed draft.
ACTIVE_JOB = frozenset({"queued", "running"})
SAMPLE_CHARS = 2000

_people = itertools.count()
_sampled: set[tuple[str, str]] = set()

Check = Callable[[ResponseContextManager], str]


@cache
def plan() -> Plan:
    return Plan.load(Path(os.environ[PLAN_ENV]))


@events.quitting.add_listener
def _write_results(environment: Any, **kwargs: Any) -> None:
    """The final statistics, once every person has stopped (see config/load/report.py)."""
    path = os.environ.get(RESULTS_ENV)
    if path and environment.runner is not None:
        report.write(environment, Path(path))


@cache
def sign_in_gate() -> BoundedSemaphore:
    """People arrive at the spawn rate, but sign in only a few at a time, as people trickle in to work.
    A sign-in costs the password hasher about a second of CPU on purpose: fifty at once on two CPUs are
    a minute-long queue of hashes that every other request waits behind, each holding a database
    connection all along (with the default pool, the requests behind them were shed with 503)."""
    return BoundedSemaphore(plan().sign_ins_at_once)


def loopback_address(number: int) -> str:
    """A loopback address of person `number`'s own (127.1.0.2 onwards; Linux routes all of 127/8 to lo)."""
    number += 2
    return f"127.1.{number // 256}.{number % 256}"


def _sample(label: str, problem: str, response: ResponseContextManager) -> None:
    """The first response of each kind of failure, kept for the report (the statistics keep only counts)."""
    path = os.environ.get(SAMPLES_ENV)
    if not path or (label, problem) in _sampled:
        return
    _sampled.add((label, problem))
    body = response.text if response.content else ""
    record = {"request": label, "error": problem, "status": response.status_code, "body": body[:SAMPLE_CHARS]}
    with Path(path).open("a", encoding="utf-8") as samples:
        samples.write(json.dumps(record) + "\n")


class Person(HttpUser):
    """Someone who owns one of the seeded organisations, and every step they can take."""

    abstract = True
    # Seconds spent reading a control before answering it.
    reading = (0.5, 2.0)

    account: Account
    origin: str
    next_question_at: float

    def on_start(self) -> None:
        number = next(_people)
        self.account = plan().accounts[number % len(plan().accounts)]
        pool = PoolManager(source_address=(loopback_address(number), 0))
        self.client.mount("http://", LocustHttpAdapter(pool_manager=pool))
        self.client.headers.update({"X-Forwarded-Proto": "https", "User-Agent": "Greenlight load test"})
        self.origin = f"https://{urlsplit(str(self.host)).netloc}"
        # Spread each person's first question over the interval, so people of one organisation never
        # start in step.
        self.next_question_at = time.monotonic() + random.uniform(0, plan().question_interval)
        self.sign_in()

    # --- Requests ---------------------------------------------------------------------------------
    def call(
        self,
        route: Route,
        path: str | None = None,
        *,
        expect: int = 200,
        check: Check | None = None,
        htmx: bool = False,
        from_page: str = "/",
        **kwargs: Any,
    ) -> ResponseContextManager | None:
        """Request `route` (at `path`, for a route with placeholders) and judge the answer as the page
        would. Returns the response, or None when it failed (the failure and a sample are recorded)."""
        headers: dict[str, str] = kwargs.pop("headers", {})
        if htmx:
            headers = {"HX-Request": "true", "HX-Current-URL": self.origin + from_page, **headers}
        if route.method != "GET":
            # What a browser sends with a form post; Django's CSRF check compares the origin.
            headers = {"Origin": self.origin, "Referer": self.origin + from_page, **headers}
        for cookie in self.client.cookies:
            cookie.secure = False  # the proxy hop: see the module's docstring
        with self.client.request(
            route.method,
            path or route.path(),
            name=route.name,
            headers=headers,
            catch_response=True,
            allow_redirects=False,
            timeout=plan().request_timeout,
            **kwargs,
        ) as response:
            problem = _problem(response, expect, check)
            if problem:
                response.failure(problem)
                _sample(route.label, problem, response)
                return None
            response.success()
            return response

    def page(self, route: Route, path: str | None = None, **kwargs: Any) -> Page | None:
        response = self.call(route, path, **kwargs)
        return Page(response.text) if response is not None else None

    # --- Signing in -------------------------------------------------------------------------------
    def sign_in(self) -> None:
        """The sign-in form, a few people at a time (see `sign_in_gate`)."""
        with sign_in_gate():
            self._sign_in()

    def _sign_in(self) -> None:
        login = self.page(routes.LOGIN_PAGE)
        form = login.form_posting_to(routes.LOGIN.path()) if login else None
        data = form.data(login=self.account.email, password=self.account.password) if form else None
        signed_in = (
            data is not None
            and self.call(
                routes.LOGIN,
                data=data,
                expect=302,
                check=_redirects_to(routes.DASHBOARD.path()),
                from_page=routes.LOGIN_PAGE.path(),
            )
            is not None
        )
        if not signed_in:
            raise StopUser  # every later request would fail the same way; the failure is recorded

    # --- The journey ------------------------------------------------------------------------------
    def dashboard(self) -> None:
        self.call(routes.DASHBOARD, check=_contains("Readiness"))

    def assessment(self) -> None:
        if self.call(routes.ASSESSMENT) is not None:
            self.call(routes.ASSESSMENT_FRAMEWORK, self._framework_path())

    def answer(self) -> None:
        """Open a framework's assessment and answer one to three controls, as the autosave posts them."""
        framework_path = self._framework_path()
        page = self.page(routes.ASSESSMENT_FRAMEWORK, framework_path)
        if page is None:
            return
        forms = page.find_forms(lambda form: "answer-form" in form.attrs.get("class", "") and "hx-post" in form.attrs)
        if not forms:
            self._fail_flow(routes.ASSESSMENT_FRAMEWORK, "no answer form on the page")
            return
        for form in random.sample(forms, k=min(len(forms), random.randint(1, 3))):
            time.sleep(random.uniform(*self.reading))
            self.call(
                routes.ANSWER_SAVE,
                form.action,
                data=form.data(status=random.choice(ANSWER_STATUSES)),
                htmx=True,
                from_page=framework_path,
                check=_contains("<strong>Saved</strong>"),
            )

    def evidence(self) -> None:
        """The register, then one file added as the upload page's script adds it."""
        if self.call(routes.EVIDENCE_LIST) is None:
            return
        new = self.page(routes.EVIDENCE_NEW)
        form = new.form_posting_to(routes.EVIDENCE_UPLOAD.path()) if new else None
        if form is None:
            return
        if random.random() < 0.5:
            name, content, kind = "access-review.pdf", files.pdf("Quarterly access review"), "application/pdf"
        else:
            name, content, kind = "mfa-settings.png", files.png(), "image/png"
        digest = hashlib.sha256(content).hexdigest()
        unknown = self.call(
            routes.EVIDENCE_CHECK_DUPLICATE,
            params={"sha256": digest, "name": name},
            headers={"X-Requested-With": "XMLHttpRequest"},
            expect=204,
        )
        if unknown is None:
            return
        self.call(
            routes.EVIDENCE_UPLOAD,
            data=form.data(collected_on=date.today().isoformat()),
            files={"file": (name, content, kind)},
            headers={"X-Requested-With": "XMLHttpRequest"},
            from_page=routes.EVIDENCE_NEW.path(),
            expect=201,
            check=_contains('data-outcome="stored"'),
        )

    def policy(self) -> None:
        """Draft a policy not drafted yet (or redraft one), then poll the job as the policy page does."""
        listing = self.page(routes.POLICY_LIST)
        if listing is None:
            return
        offers = listing.find_forms(lambda form: form.action == routes.POLICY_DRAFT.path())
        if offers:
            started = self.call(
                routes.POLICY_DRAFT,
                data=random.choice(offers).data(),
                expect=302,
                check=_redirects_to_route(routes.POLICY_DETAIL),
                from_page=routes.POLICY_LIST.path(),
            )
        else:
            started = self._redraft(listing)
        if started is None:
            return
        policy_path = started.headers["Location"]
        detail = self.page(routes.POLICY_DETAIL, policy_path, check=_no_failed_job)
        if detail is None:
            return
        polling = [url for url in detail.attribute_values("hx-get") if routes.POLICY_JOB.values(url)]
        if polling:
            self._wait_for_job(polling[0], policy_path)

    def _redraft(self, listing: Page) -> ResponseContextManager | None:
        links = {href for href in listing.attribute_values("href") if routes.POLICY_DETAIL.values(href)}
        if not links:
            return None
        policy_path = random.choice(sorted(links))
        detail = self.page(routes.POLICY_DETAIL, policy_path, check=_no_failed_job)
        values = routes.POLICY_DETAIL.values(policy_path) or {}
        form = detail.form_posting_to(routes.POLICY_REDRAFT.path(**values)) if detail else None
        if form is None:
            return None  # a draft is being written already, or the policy is in review
        return self.call(
            routes.POLICY_REDRAFT,
            form.action,
            data=form.data(),
            expect=302,
            check=_redirects_to(policy_path),
            from_page=policy_path,
        )

    def _wait_for_job(self, job_url: str, policy_path: str) -> None:
        deadline = time.monotonic() + plan().job_timeout
        while True:
            time.sleep(1)  # the panel's hx-trigger="every 1s"
            response = self.call(routes.POLICY_JOB, job_url, htmx=True, from_page=policy_path, check=_no_failed_job)
            if response is None:
                return
            if response.headers.get("HX-Refresh") == "true" or _job_status(Page(response.text)) not in ACTIVE_JOB:
                self.call(routes.POLICY_DETAIL, policy_path)  # htmx reloads the page to show the draft
                return
            if time.monotonic() > deadline:
                self._fail_flow(routes.POLICY_JOB, f"the draft was not written within {plan().job_timeout:g} s")
                return

    def assistant(self) -> None:
        """Ask a question as the page does (htmx), open the conversation and read the streamed answer."""
        home = self.page(routes.ASSISTANT)
        if home is None or time.monotonic() < self.next_question_at:
            return  # looked at earlier conversations; the next question waits for its turn
        form = home.form_posting_to(routes.ASSISTANT_START.path())
        if form is None:
            self._fail_flow(routes.ASSISTANT, "no question form on the page")
            return
        self.next_question_at = time.monotonic() + plan().question_interval
        asked = self.call(
            routes.ASSISTANT_START,
            data=form.data(question=random.choice(QUESTIONS)),
            htmx=True,
            from_page=routes.ASSISTANT.path(),
            check=_client_redirect_to(routes.ASSISTANT_CONVERSATION),
        )
        if asked is None:
            return
        conversation_path = asked.headers["HX-Redirect"]
        conversation = self.page(routes.ASSISTANT_CONVERSATION, conversation_path)
        streams = conversation.attribute_values("data-stream-url") if conversation else []
        if conversation is not None and not streams:
            self._fail_flow(routes.ASSISTANT_CONVERSATION, "no answer to stream on the page")
        for stream in streams:
            self.call(
                routes.ASSISTANT_STREAM,
                stream,
                headers={"Accept": "text/event-stream"},
                check=_streamed_answer,
            )

    def api(self) -> None:
        bearer = {"Authorization": f"Bearer {self.account.api_key}"}
        slug = self.account.organisation
        self.call(routes.API_READINESS, routes.API_READINESS.path(organisation_slug=slug), headers=bearer)
        self.call(routes.API_EVIDENCE, routes.API_EVIDENCE.path(organisation_slug=slug), headers=bearer)

    # --- Helpers ----------------------------------------------------------------------------------
    def _framework_path(self) -> str:
        return routes.ASSESSMENT_FRAMEWORK.path(framework_slug=random.choice(self.account.frameworks))

    def _fail_flow(self, route: Route, problem: str) -> None:
        """A step the journey could not take although every request succeeded: a failure of its own."""
        self.environment.events.request.fire(
            request_type=route.method,
            name=route.name,
            response_time=0,
            response_length=0,
            exception=AssertionError(problem),
            context={},
        )


# Every step, and how often an owner takes it relative to the others.
WEIGHTED_STEPS = (
    (Person.dashboard, 5),
    (Person.assessment, 3),
    (Person.answer, 4),
    (Person.evidence, 2),
    (Person.policy, 1),
    (Person.assistant, 2),
    (Person.api, 3),
)


class SmallBusinessOwner(Person):
    """`make load`'s people: the steps weighted by how often an owner takes them, a pause between two."""

    wait_time = between(1, 3)
    tasks = [step for step, weight in WEIGHTED_STEPS for _ in range(weight)]


class EveryStepOnce(Person):
    """One person taking every step once, without pauses, then ending the run (config/tests/test_load.py)."""

    wait_time = constant(0)
    reading = (0.0, 0.0)

    @task
    def every_step(self) -> None:
        for step, _weight in WEIGHTED_STEPS:
            step(self)
        if self.environment.runner is not None:
            self.environment.runner.quit()


# --- Judging responses ----------------------------------------------------------------------------
def _problem(response: ResponseContextManager, expect: int, check: Check | None) -> str:
    if response.error is not None and not response.status_code:
        # Without object addresses ("at 0x7f..."), so the same error groups as one.
        return "no response: " + re.sub(r" at 0x[0-9a-f]+", "", repr(response.error))[:300]
    if response.status_code != expect:
        location = response.headers.get("Location")
        where = f" (to {location.split('?')[0]})" if location else ""
        return f"HTTP {response.status_code}, expected {expect}{where}"
    return check(response) if check else ""


def _contains(text: str) -> Check:
    def check(response: ResponseContextManager) -> str:
        return "" if text in response.text else f"the answer lacks {text!r}"

    return check


def _redirects_to(path: str) -> Check:
    def check(response: ResponseContextManager) -> str:
        location = response.headers.get("Location", "")
        return "" if location == path else f"redirected to {location.split('?')[0] or 'nowhere'}, not {path}"

    return check


def _redirects_to_route(route: Route) -> Check:
    def check(response: ResponseContextManager) -> str:
        location = response.headers.get("Location", "")
        return "" if route.values(location) is not None else f"redirected to {location.split('?')[0] or 'nowhere'}"

    return check


def _client_redirect_to(route: Route) -> Check:
    def check(response: ResponseContextManager) -> str:
        target = response.headers.get("HX-Redirect", "")
        return "" if route.values(target) is not None else "no HX-Redirect to the conversation"

    return check


def _job_status(page: Page) -> str:
    for attrs in page.tags_with_class("job-panel"):
        for css in attrs.get("class", "").split():
            if css.startswith("job-") and css != "job-panel":
                return css.removeprefix("job-")
    return ""


def _no_failed_job(response: ResponseContextManager) -> str:
    status = _job_status(Page(response.text))
    return "" if status in ("", "done", *ACTIVE_JOB) else f"the policy draft job ended {status}"


def _streamed_answer(response: ResponseContextManager) -> str:
    if "event: failed" in response.text:
        return "the stream sent 'failed'"
    return "" if "event: answer" in response.text else "the stream ended without an answer"
