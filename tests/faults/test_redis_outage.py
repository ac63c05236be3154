"""Redis stops while people work: pages keep serving, work that needs the background service is saved and
says it will run later, nothing saved is lost, and when Redis returns the queued work completes.

Redis is the cache (config/cache.py degrades instead of failing) and Celery's broker (config/queueing.py
publishes with a short retry and leaves the saved row queued when it cannot; config/requeue.py sends it
again once the broker answers).

The unit tests need no Redis at all: a loopback port nobody listens on is a Redis that refuses, and
`SilentServer` one that hangs. The journey starts a private redis-server (tests/faults/redis_server.py),
kills it mid-journey and starts it again on the same port. The last tests run a real Celery worker on that
Redis against the test database, so they need PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.audit import Actor
from accounts.notification_kinds import Channel
from accounts.scopes import Scope
from accounts.tasks import build_data_export
from accounts.tests.factories import DataExportFactory, NotificationFactory
from assessments import services as assessment_services
from assessments.models import Answer, ReportRun, ReportStatus
from assessments.tests.factories import BusinessProfileFactory, ReportRunFactory
from chat.models import Conversation
from compliance.models import Framework
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from config import cache as resilient_cache
from config.celery import ping
from config.queueing import enqueue, enqueue_on_commit, watch_enqueues
from config.requeue import REQUEUE_AFTER, requeue_waiting, requeue_waiting_work
from evidence.models import CollectionRun, Connection, ConnectionStatus, RunStatus
from evidence.tests.factories import CollectionRunFactory, ConnectionFactory
from evidence.tests.fake_google import FakeGoogle
from evidence.tokens import encrypt_tokens
from policies.models import GenerationJob, JobStatus, PolicyVersion
from policies.tests.factories import GenerationJobFactory, PolicyFactory
from tests.faults.redis_server import (
    REDIS_SERVER,
    RedisServer,
    SilentServer,
    app_on_redis_fixture,  # noqa: F401 (the app_on_redis fixture)
    cache_settings,
    celery_on,
    redis_server_fixture,  # noqa: F401 (the redis_server fixture)
    unreachable_redis_url,
)
from tests.faults.waiting import wait_for

BASE_DIR = Path(__file__).resolve().parents[2]
ON_POSTGRESQL = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
needs_redis_server = pytest.mark.skipif(not REDIS_SERVER, reason="needs redis-server to start a private Redis")
needs_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL, reason="needs PostgreSQL: the worker process works on the test database"
)

HTMX = {"HX-Request": "true"}
PAGES = ("dashboard", "assessment", "policy_list", "evidence_list", "reports", "assistant")
DRAFTING_LATER = "Saved. The background service is unavailable, so drafting will start automatically when it is back."
REPORT_LATER = (
    "Saved. The background service is unavailable, so your report will be built automatically when it is back."
)
COLLECTION_LATER = (
    "Saved. The background service is unavailable, so collection will start automatically when it is back."
)
WORKER_WAIT_SECONDS = 120


def text_of(response: Any) -> str:
    return " ".join(response.content.decode().split())


# --- A workplace: a profile, an adopted framework, a Google Workspace connection ------------------------
@pytest.fixture
def google(settings: Any) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(users=20).start()
    settings.EVIDENCE_CONNECTORS = {**settings.EVIDENCE_CONNECTORS, "google_workspace": asdict(fake.settings())}
    yield fake
    fake.stop()


@pytest.fixture
def workplace(personas: Any, google: FakeGoogle) -> SimpleNamespace:
    organisation = personas.organisation
    BusinessProfileFactory(organisation=organisation)
    framework = cast(Framework, FrameworkFactory(slug="alpha", name="Alpha Standard"))
    control = ControlFactory(group=ControlGroupFactory(framework=framework), ref="A1.1", title="Daily backups")
    assessment_services.framework_adopt(
        organisation=organisation, framework=framework, target_date=None, actor=Actor(user=personas.owner)
    )
    link = ConnectionFactory(
        organisation=organisation,
        provider="google_workspace",
        status=ConnectionStatus.CONNECTED,
        encrypted_tokens=encrypt_tokens(google.issue_tokens()),
        connected_by=personas.admin,
    )
    return SimpleNamespace(organisation=organisation, control=control, connection=link, google=google)


@pytest.fixture
def browser(personas: Any, client_for: Callable[[Any], Any]) -> Any:
    client = client_for(personas.owner)
    client.get(reverse("policy_list"))  # settles the session's organisation
    return client


def start_work(browser: Any, workplace: SimpleNamespace) -> dict[str, Any]:
    """What a person does that needs the background service: draft a policy, ask for a report, collect."""
    return {
        "draft": browser.post(reverse("policy_draft"), {"template": "information-security"}, follow=True),
        "report": browser.post(reverse("report_create"), {"kind": "readiness"}, follow=True),
        "collect": browser.post(reverse("connection_run", args=[workplace.connection.pk]), follow=True),
    }


def assert_saved_and_said(answers: dict[str, Any], organisation: Any) -> None:
    """Each start answered plainly, with one row waiting."""
    for response in answers.values():
        assert response.status_code == 200
    assert escape(DRAFTING_LATER) in text_of(answers["draft"])
    assert "Waiting to start" in text_of(answers["draft"])
    assert escape(REPORT_LATER) in text_of(answers["report"])
    assert "Waiting to start" in text_of(answers["report"])
    assert escape(COLLECTION_LATER) in text_of(answers["collect"])
    assert "Waiting to start" in text_of(answers["collect"])
    assert list(GenerationJob.objects.filter(organisation=organisation).values_list("status", flat=True)) == [
        JobStatus.QUEUED
    ]
    assert list(ReportRun.objects.filter(organisation=organisation).values_list("status", flat=True)) == [
        ReportStatus.QUEUED
    ]
    assert list(CollectionRun.objects.filter(organisation=organisation).values_list("status", flat=True)) == [
        RunStatus.QUEUED
    ]


def backdate_waiting_work(by: timedelta) -> None:
    """As if `by` had passed since the work was asked for."""
    GenerationJob.objects.update(created_at=timezone.now() - by)
    ReportRun.objects.update(created_at=timezone.now() - by)
    CollectionRun.objects.update(queued_at=timezone.now() - by)


def queued_messages(server: RedisServer, queue: str = "celery") -> list[tuple[str, list[Any]]]:
    """(task name, args) of each message waiting in the broker's queue, read as a worker would."""
    found = []
    for raw in server.client().lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args))
    return sorted(found)


# --- The cache without Redis ------------------------------------------------------------------------------
def test_a_cache_without_redis_misses_drops_writes_and_logs_once(settings, caplog):
    settings.CACHES = cache_settings(unreachable_redis_url())
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        assert cache.get("answer", "default") == "default"
        cache.set("answer", 42)
        assert cache.get("answer") is None
        assert cache.add("lock", 1) is True  # callers go ahead rather than wait for a lock
        assert cache.incr("count") == 1  # counted from the delta: a limiter lets the request through
        assert cache.incr("count", 5) == 5
        assert cache.get_many(["a", "b"]) == {}
        assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]  # Django's "not stored"
        assert cache.delete("answer") is False
        assert cache.has_key("answer") is False
        assert cache.get_or_set("computed", 7) == 7
        cache.delete_many(["a", "b"])
    warnings = [record for record in caplog.records if record.name == "config.cache"]
    assert len(warnings) == 1, [record.getMessage() for record in warnings]
    assert "unreachable" in warnings[0].getMessage()


def test_a_hung_redis_costs_one_timeout_not_one_per_call(settings):
    silent = SilentServer().start()
    try:
        settings.CACHES = cache_settings(silent.url())
        started = time.monotonic()
        assert cache.get("answer") is None
        first = time.monotonic() - started
        started = time.monotonic()
        for number in range(50):
            cache.set(f"key-{number}", number)
            assert cache.get(f"key-{number}") is None
        rest = time.monotonic() - started
    finally:
        silent.stop()
    assert first < 4  # the client's socket timeout (2 s), once
    assert rest < 1  # then no more asking until RETRY_AFTER_SECONDS have passed


@needs_redis_server
def test_the_cache_answers_again_once_redis_is_back(redis_server, settings, monkeypatch, caplog):
    monkeypatch.setattr(resilient_cache, "RETRY_AFTER_SECONDS", 0.05)
    settings.CACHES = cache_settings(redis_server.url())
    cache.set("answer", 1)
    assert cache.get("answer") == 1

    redis_server.kill()
    assert cache.get("answer") is None
    redis_server.start()  # the same port, empty: nothing persisted
    time.sleep(0.1)
    with caplog.at_level(logging.INFO, logger="config.cache"):
        for _attempt in range(3):  # the first call may meet a connection the restart broke
            cache.set("answer", 2)
            if cache.get("answer") == 2:
                break
    assert cache.get("answer") == 2
    assert any("answers again" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db
def test_rate_limits_let_requests_through_while_the_cache_is_down(settings, personas, api_for):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "1/minute"}}
    client = api_for(personas.organisation)
    url = "/api/v1/organisations/acme-bakery/reports/"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 429  # the limit holds while the cache works

    settings.CACHES = cache_settings(unreachable_redis_url())
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db
def test_people_sign_in_and_stay_signed_in_while_the_cache_is_down(settings, personas, client):
    # Sessions live in the database, so losing Redis signs nobody out.
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    settings.CACHES = cache_settings(unreachable_redis_url())
    personas.owner.set_password("correct horse battery")
    personas.owner.save()
    signed_in = client.post(
        reverse("account_login"), {"login": personas.owner.email, "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


# --- Enqueueing without a broker -------------------------------------------------------------------------
def test_an_enqueue_the_broker_refuses_is_logged_and_noted_at_once(caplog):
    with celery_on(unreachable_redis_url()), watch_enqueues() as enqueues, caplog.at_level(logging.WARNING):
        started = time.monotonic()
        assert enqueue(ping, "hello") is False
        took = time.monotonic() - started
    assert took < 2
    assert enqueues.deferred == ["greenlight.ping"]
    assert any("Could not enqueue greenlight.ping" in record.getMessage() for record in caplog.records)


def test_an_enqueue_to_a_hung_broker_gives_up_within_seconds():
    silent = SilentServer().start()
    try:
        with celery_on(silent.url()), watch_enqueues() as enqueues:
            started = time.monotonic()
            assert enqueue(ping, "hello") is False
            took = time.monotonic() - started
    finally:
        silent.stop()
    # Two attempts, each bounded by the broker's socket timeout (2 s), and a short pause between them.
    assert took < 7
    assert enqueues.deferred == ["greenlight.ping"]


@pytest.mark.django_db(transaction=True)
def test_an_enqueue_waits_for_the_commit_and_is_dropped_by_a_rollback():
    from django.db import transaction

    with celery_on(unreachable_redis_url()), watch_enqueues() as enqueues:
        with transaction.atomic():
            enqueue_on_commit(ping, "kept")
            assert enqueues.deferred == []  # nothing is published before the commit
        assert enqueues.deferred == ["greenlight.ping"]

        def roll_back() -> None:
            with transaction.atomic():
                enqueue_on_commit(ping, "rolled back")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            roll_back()
        assert enqueues.deferred == ["greenlight.ping"]


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_work_is_saved_queued_and_the_person_told(settings, personas, workplace, browser, api_for):
    settings.CACHES = cache_settings(unreachable_redis_url())
    with celery_on(unreachable_redis_url()):
        answers = start_work(browser, workplace)
        assert_saved_and_said(answers, workplace.organisation)

        # The API answers as it always does: 202 and the run, still queued (the same run: one is on its way).
        api = api_for(workplace.organisation, scopes=[Scope.REPORTS_READ, Scope.REPORTS_WRITE])
        response = api.post("/api/v1/organisations/acme-bakery/reports/", {"kind": "readiness"}, format="json")
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        assert ReportRun.objects.count() == 1

        # The sweep while the broker is still away sends nothing and changes nothing.
        backdate_waiting_work(REQUEUE_AFTER + timedelta(minutes=1))
        assert sum(requeue_waiting().values()) == 0
    assert GenerationJob.objects.get().status == JobStatus.QUEUED
    assert ReportRun.objects.get().status == ReportStatus.QUEUED
    assert CollectionRun.objects.get().status == RunStatus.QUEUED


# --- What waiting work looks like -------------------------------------------------------------------------
@pytest.mark.django_db
def test_waiting_work_says_so_plainly_instead_of_a_progress_bar(personas, browser, workplace):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    job: Any = GenerationJobFactory(organisation=personas.organisation, status=JobStatus.QUEUED, created_at=an_hour_ago)
    run: Any = ReportRunFactory(organisation=personas.organisation, created_at=an_hour_ago)
    collection: Any = CollectionRunFactory(
        organisation=personas.organisation,
        connection=workplace.connection,
        status=RunStatus.QUEUED,
        queued_at=an_hour_ago,
        error="",
    )

    drafting = text_of(browser.get(reverse("policy_job", args=[job.pk])))
    assert "Waiting to start" in drafting
    assert "starts automatically when the service is back" in drafting
    assert "<progress" not in drafting
    assert 'hx-trigger="every 3s"' in drafting  # still polling, gently, so it moves on when the work starts

    report = text_of(browser.get(reverse("report_run", args=[run.pk])))
    assert "Waiting to start" in report
    assert "it is built automatically when the service is back" in report
    # Queued for longer than a build may take, yet it never started: not "stopped", and no second build.
    assert "stopped" not in report.lower()
    assert reverse("report_retry", args=[run.pk]) not in report
    assert 'hx-trigger="every 3s"' in report
    listing = text_of(browser.get(reverse("reports")))
    assert "Waiting to start" in listing
    assert reverse("report_retry", args=[run.pk]) not in listing

    collecting = text_of(browser.get(reverse("collection_run_detail", args=[collection.pk])))
    assert "Waiting to start" in collecting
    assert "<progress" not in collecting


# --- The sweep ----------------------------------------------------------------------------------------------
@needs_redis_server
@pytest.mark.django_db
def test_the_sweep_sends_again_only_work_still_waiting_for_a_message(app_on_redis, personas, workplace):
    now = timezone.now()
    waited = now - REQUEUE_AFTER - timedelta(minutes=1)
    organisation = personas.organisation
    lost_job: Any = GenerationJobFactory(organisation=organisation, status=JobStatus.QUEUED, created_at=waited)
    GenerationJobFactory(organisation=organisation, status=JobStatus.QUEUED, created_at=now)  # just asked
    GenerationJobFactory(organisation=organisation, status=JobStatus.RUNNING, created_at=waited)  # a worker has it
    GenerationJobFactory(organisation=organisation, status=JobStatus.QUEUED, created_at=now - timedelta(days=2))
    replaced = PolicyFactory(organisation=organisation)
    GenerationJobFactory(organisation=organisation, policy=replaced, status=JobStatus.QUEUED, created_at=waited)
    newer: Any = GenerationJobFactory(
        organisation=organisation, policy=replaced, status=JobStatus.QUEUED, created_at=waited + timedelta(seconds=5)
    )
    lost_run: Any = ReportRunFactory(organisation=organisation, created_at=waited)
    ReportRunFactory(organisation=organisation, done=True, created_at=waited)
    lost_collection: Any = CollectionRunFactory(
        organisation=organisation, connection=workplace.connection, status=RunStatus.QUEUED, queued_at=waited
    )
    # Queued again by its own worker to retry later (it started after it was queued): that worker has it.
    CollectionRunFactory(
        organisation=organisation,
        connection=workplace.connection,
        status=RunStatus.QUEUED,
        queued_at=waited,
        started_at=waited + timedelta(seconds=1),
    )
    unsent: Any = NotificationFactory(
        organisation=organisation, user=personas.owner, channel=Channel.EMAIL, created_at=waited
    )
    NotificationFactory(
        organisation=organisation, user=personas.owner, channel=Channel.EMAIL, created_at=waited, emailed_at=now
    )
    NotificationFactory(organisation=organisation, user=personas.owner, channel=Channel.IN_APP, created_at=waited)
    lost_export: Any = DataExportFactory(organisation=organisation, created_at=waited)
    DataExportFactory(organisation=organisation, ready=True, created_at=waited)

    sent = requeue_waiting_work.apply().get()  # the task as beat has a worker run it

    assert sent == {"policy drafting": 2, "report": 1, "collection": 1, "notification email": 1, "data export": 1}
    assert queued_messages(app_on_redis) == sorted(
        [
            ("policies.draft_policy", [lost_job.pk]),
            ("policies.draft_policy", [newer.pk]),
            ("assessments.build_report", [lost_run.pk]),
            ("evidence.collect", [lost_collection.pk]),
            ("accounts.send_notification_email", [unsent.pk]),
            (build_data_export.name, [lost_export.pk]),
        ]
    )
    # Swept again at once (the next beat, a worker starting): each was just sent, so nothing is sent twice.
    assert sum(requeue_waiting_work.apply().get().values()) == 0
    assert len(queued_messages(app_on_redis)) == 6
    assert GenerationJob.objects.filter(organisation=organisation).count() == 6  # no row is ever made


# --- The journey --------------------------------------------------------------------------------------------
@needs_redis_server
@pytest.mark.django_db(transaction=True)
def test_redis_stops_mid_journey_pages_serve_nothing_is_lost_and_work_goes_out_when_it_returns(
    app_on_redis, personas, workplace, browser
):
    server = app_on_redis
    assert browser.get(reverse("dashboard")).status_code == 200  # with Redis
    # An answer while Redis is up: its readiness snapshot goes to the broker, which then has this process's
    # connection (and would have had Celery's result store subscribe to it, were results not ignored).
    saved = browser.post(
        reverse("answer_save", args=[workplace.control.pk]), {"status": "partial", "version": "0"}, headers=HTMX
    )
    assert saved.status_code == 200
    assert [name for name, _args in queued_messages(server)] == ["assessments.take_readiness_snapshot"]
    answer = Answer.objects.get(organisation=workplace.organisation, control=workplace.control)

    server.kill()

    for name in PAGES:
        assert browser.get(reverse(name)).status_code == 200, name
    # Readiness still tells the truth, so an orchestrator sees what is wrong.
    ready = browser.get(reverse("readyz"))
    assert ready.status_code == 503
    assert ready.json()["checks"]["cache"]["status"] == "error"
    assert ready.json()["checks"]["broker"]["status"] == "error"
    saved = browser.post(
        reverse("answer_save", args=[workplace.control.pk]),
        {"status": "implemented", "version": str(answer.version)},
        headers=HTMX,
    )
    assert saved.status_code == 200
    answer.refresh_from_db()
    assert answer.status == "implemented"
    asked = browser.post(reverse("assistant_start"), {"question": "Do we need multi-factor authentication?"})
    assert asked.status_code == 302
    assert Conversation.objects.filter(organisation=workplace.organisation).count() == 1
    started = time.monotonic()
    answers = start_work(browser, workplace)
    assert time.monotonic() - started < 10  # three requests, none held up by the missing broker
    assert_saved_and_said(answers, workplace.organisation)

    server.start()  # back on the same port, and empty: whatever it held before is gone
    assert queued_messages(server) == []
    backdate_waiting_work(REQUEUE_AFTER + timedelta(minutes=1))
    sent = requeue_waiting_work.apply().get()

    assert sent["policy drafting"] == sent["report"] == sent["collection"] == 1
    assert [name for name, _args in queued_messages(server)] == sorted(
        ["policies.draft_policy", "assessments.build_report", "evidence.collect"]
        + ["accounts.send_notification_email"] * sent["notification email"]
    )
    assert Answer.objects.get(pk=answer.pk).status == "implemented"
    for name in PAGES:
        assert browser.get(reverse(name)).status_code == 200, name


# --- A real worker completes the work -----------------------------------------------------------------------
@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start_worker(transactional_db, tmp_path, google) -> Iterator[Callable[[RedisServer], Worker]]:
    """`start_worker(server)`: a Celery worker (solo pool, the default queue, which only this test's private
    Redis holds) on the test database, with the fake Google Workspace and the offline AI provider."""
    started: list[Worker] = []

    def start(server: RedisServer) -> Worker:
        folder = tmp_path / "worker"
        folder.mkdir(exist_ok=True)
        database = connection.settings_dict
        env = {key: value for key, value in os.environ.items() if key != "CELERY_TASK_ALWAYS_EAGER"}
        env.update(
            REDIS_URL=server.url(),
            DATABASE_URL=f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}",
            DATA_DIR=str(folder),
            DJANGO_SETTINGS_MODULE="tests.faults.worker_settings",
            GREENLIGHT_TEST_CONNECTORS=json.dumps({"google_workspace": asdict(google.settings())}),
            AI_PROVIDER_ORDER="offline",
            GEMINI_API_KEY="",
            OPENAI_API_KEY="",
        )
        if database["PASSWORD"]:
            env["PGPASSWORD"] = database["PASSWORD"]
        log_path = folder / f"worker-{len(started)}.log"
        command = [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO"),
            *("--hostname", f"redis-outage-{server.port}@%h", "--without-gossip", "--without-mingle"),
            "--without-heartbeat",
        ]
        with log_path.open("w") as log:
            process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(process=process, log_path=log_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(condition: Callable[[], bool], what: str, worker: Worker) -> None:
    wait_for(condition, what, worker, timeout=WORKER_WAIT_SECONDS, poll=0.2)


@needs_redis_server
@needs_postgresql
@pytest.mark.live_services
@pytest.mark.django_db(transaction=True)
def test_when_redis_returns_the_sweep_sends_the_work_and_a_worker_completes_it(
    app_on_redis, personas, workplace, browser, start_worker
):
    server = app_on_redis
    server.kill()
    assert_saved_and_said(start_work(browser, workplace), workplace.organisation)

    server.start()
    backdate_waiting_work(REQUEUE_AFTER + timedelta(minutes=1))
    sent = requeue_waiting_work.apply().get()
    assert (sent["policy drafting"], sent["report"], sent["collection"]) == (1, 1, 1)
    worker = start_worker(server)

    def all_done() -> bool:
        return (
            GenerationJob.objects.filter(status=JobStatus.DONE).exists()
            and ReportRun.objects.filter(status=ReportStatus.DONE).exists()
            and CollectionRun.objects.filter(status__in=[RunStatus.SUCCEEDED, RunStatus.PARTIAL]).exists()
        )

    wait_until(all_done, "the drafting job, the report and the collection to finish", worker)

    # Done once each, in the rows saved during the outage: no second job, run or version.
    job = GenerationJob.objects.get()
    assert job.status == JobStatus.DONE
    assert PolicyVersion.objects.filter(policy=job.policy).count() == 1
    run = ReportRun.objects.get()
    assert run.status == ReportStatus.DONE
    assert run.size > 0
    assert len(run.sha256) == 64
    collected = CollectionRun.objects.get()
    assert collected.findings > 0
    assert Connection.objects.get().last_success_at is not None


@needs_redis_server
@needs_postgresql
@pytest.mark.live_services
@pytest.mark.django_db(transaction=True)
def test_a_worker_starting_after_an_outage_sends_the_waiting_work_itself(
    app_on_redis, personas, workplace, browser, start_worker
):
    server = app_on_redis
    server.kill()
    report = browser.post(reverse("report_create"), {"kind": "readiness"}, follow=True)
    assert escape(REPORT_LATER) in text_of(report)
    server.start()
    backdate_waiting_work(REQUEUE_AFTER + timedelta(minutes=1))

    # No beat and no sweep from the test: the worker sweeps when it is ready.
    worker = start_worker(server)
    wait_until(lambda: ReportRun.objects.filter(status=ReportStatus.DONE).exists(), "the report", worker)
    assert ReportRun.objects.count() == 1
    assert "greenlight.requeue_waiting_work" in worker.log()
