"""A Celery worker killed in the middle of policy drafting, evidence collection and report building: the
task is delivered again and its result is stored once (no duplicate evidence, reports or versions).

The kill is the one a prefork worker really suffers: the pool process running the task is SIGKILLed (the
kernel's OOM killer, say). The worker's main process sees it go (WorkerLostError) and, the tasks being
acks_late with reject_on_worker_lost, puts the message back on the queue, and its new pool process takes
it at once. The job's row still says running; the delivery finds nobody holding the job's lock (the dead
process's database session went with it) and takes the job over (config.task_claims).

Each scenario stops the work at a chosen point with no hook in the product: the local fake the worker is
talking to holds its reply. Drafting stops in its second call to the fake Gemini; collection stops while
storing its third evidence file in the fake S3 bucket, after two findings are committed; the report stops
after the fake S3 has its file and before the run records it. Then the test kills the pool process and
waits for the redelivery to finish, and counts what was stored: the rows, and the objects in the bucket.

The whole worker SIGKILLed (main process and pool) is the other case: nobody rejects the message, and Redis
hands it out again only after the broker's visibility timeout (an hour by default). The last test runs it
with a visibility timeout of a few seconds (CELERY_VISIBILITY_TIMEOUT) and a second worker.

Needs PostgreSQL (the worker shares the test database) and REDIS_URL (the broker); Linux, for /proc.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.audit import Actor
from accounts.models import AuditEvent
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from assessments.models import ReportRun, ReportStatus
from assessments.services_reports import report_request
from assessments.tests.factories import BusinessProfileFactory
from chat.tests.fakes import GEMINI, FakeAIServer, Reply, gemini_ok
from config.celery import app
from evidence.models import CheckResult, CollectionRun, Connection, Evidence, EvidenceRevision, RunStatus
from evidence.services.collection import collection_request
from evidence.tests.fake_google import FakeGoogle
from evidence.tokens import encrypt_tokens
from policies.models import GenerationJob, JobStatus, PolicyVersion
from policies.services import policy_draft_start
from tests.faults.fake_s3 import FakeS3
from tests.faults.waiting import wait_for

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = [
    pytest.mark.live_services,
    pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: a real Redis for the broker"),
    pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: the worker process shares the test database"),
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the pool process through /proc (Linux)"),
]

# Long enough for a worker to start and a task to run on a busy two-CPU machine.
WAIT_SECONDS = 90


# --- The worker ------------------------------------------------------------------------------------------
@dataclass
class Worker:
    queue: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pool_processes(self) -> list[int]:
        return _children(self.process.pid)

    def kill_pool_process(self) -> int:
        """SIGKILL the pool process running the task, as the OOM killer does; the main process lives on."""
        children = self.pool_processes()
        assert len(children) == 1, f"expected one pool process, found {children}"
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # gone while we looked
        if int(fields[1]) == pid:  # the field after the state is the parent's id
            found.append(int(stat.parent.name))
    return found


def _wait_for(condition: Callable[[], object], what: str, worker: Worker, timeout: float = WAIT_SECONDS) -> None:
    wait_for(condition, what, worker, timeout=timeout)


@dataclass
class Fakes:
    ai: FakeAIServer
    google: FakeGoogle
    s3: FakeS3


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    started = Fakes(ai=FakeAIServer().start(), google=FakeGoogle(users=120).start(), s3=FakeS3().start())
    yield started
    started.ai.stop()
    started.google.stop()
    started.s3.stop()


def _start_worker(queue: str, fakes: Fakes, folder: Path, name: str, **extra_env: str) -> Worker:
    log_path = folder / f"{name}.log"
    env = {key: value for key, value in os.environ.items() if key != "CELERY_TASK_ALWAYS_EAGER"}
    database = connection.settings_dict
    env.update(
        REDIS_URL=REDIS_URL,
        # The test database this run created, so the worker sees what the test commits.
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/"
        f"{database['NAME']}",
        DATA_DIR=str(folder),
        DJANGO_SETTINGS_MODULE="tests.faults.worker_settings",
        GREENLIGHT_TEST_QUEUE=queue,
        GREENLIGHT_TEST_CONNECTORS=json.dumps({"google_workspace": dataclasses.asdict(fakes.google.settings())}),
        **fakes.s3.environment(),
        GEMINI_API_KEY="test-gemini-key",
        GEMINI_BASE_URL=fakes.ai.url,
        AI_PROVIDER_ORDER="gemini",
        AI_TIMEOUT_SECONDS="120",
        AI_MAX_RETRIES="0",
        AI_REQUESTS_PER_MINUTE="0",
        AI_MONTHLY_TOKEN_BUDGET="0",
        **extra_env,
    )
    if database["PASSWORD"]:
        env["PGPASSWORD"] = database["PASSWORD"]
    command = [
        *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", "--concurrency=1"),
        *("--queues", queue, "--hostname", f"{name}-{queue}@%h", "--loglevel=INFO"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = Worker(queue=queue, process=process, log_path=log_path)
    _wait_for(lambda: "ready." in worker.log() and worker.pool_processes(), "the worker to start", worker)
    return worker


def _forget_in_redis(queue: str, log: str) -> None:
    """Leave nothing behind in Redis: the queue and kombu's keys named after it, messages of the queue still
    unacknowledged, and the results of the tasks the log shows."""
    task_ids = set(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] received", log))
    with app.connection_for_write(REDIS_URL) as broker:
        client = broker.default_channel.client
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        for tag, message in client.hscan_iter("unacked"):
            if json.loads(message)[2] == queue:  # [message, exchange, routing key]
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
        for task_id in task_ids:
            client.delete(f"celery-task-meta-{task_id}")


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, fakes, tmp_path_factory) -> Iterator[Worker]:
    queue = f"greenlight-faults-{uuid.uuid4().hex[:12]}"
    with django_db_blocker.unblock():
        started = _start_worker(queue, fakes, tmp_path_factory.mktemp("worker"), "worker")
    try:
        yield started
    finally:
        started.stop()
        _forget_in_redis(queue, started.log())


@pytest.fixture
def broker_to(worker):
    """Undo the suite's eager mode for one test: what the services enqueue goes through Redis to the
    worker's private queue. Celery reads Django's settings live, and values set on `app.conf` shadow them
    until removed, so the overrides are taken out again afterwards rather than overwritten."""

    def use(queue: str) -> None:
        overrides = {"task_always_eager": False, "broker_url": REDIS_URL, "task_default_queue": queue}
        shadowed.update({key: changes[key] for key in overrides if key in changes and key not in shadowed})
        app.conf.update(overrides)
        _fresh_producers()

    changes = app.conf.changes
    shadowed: dict[str, object] = {}
    use(worker.queue)
    yield use
    for key in ("task_always_eager", "broker_url", "task_default_queue"):
        changes.pop(key, None)
    changes.update(shadowed)
    _fresh_producers()


def _fresh_producers() -> None:
    # The producer pools are made on first use for the broker of that moment (another test's Redis, or
    # none): dropped, they are made again for this one.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def owner(transactional_db):
    organisation = OrganisationFactory()
    return MembershipFactory(organisation=organisation, role=Role.OWNER, user=UserFactory()).user


def _pool_process_lost(worker: Worker, pid: int) -> bool:
    return f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in worker.log() and "WorkerLostError" in worker.log()


# --- Policy drafting ---------------------------------------------------------------------------------------
def test_a_draft_killed_mid_way_is_drafted_again_into_one_version(worker, broker_to, fakes, owner):
    organisation = owner.memberships.get().organisation
    BusinessProfileFactory(organisation=organisation, company_name="Acme Bakery Ltd")
    ai = fakes.ai
    before = len(ai.seen(GEMINI))
    rewrite = gemini_ok({"body": "A rewrite that drops the facts, so the template prose is kept."})
    # acceptable-use has two sections for the model: the first is answered, the second never is.
    ai.script(GEMINI, rewrite, Reply(delay=WAIT_SECONDS * 2), rewrite, rewrite)

    job = policy_draft_start(organisation=organisation, template_key="acceptable-use", actor=Actor(owner))
    _wait_for(lambda: len(ai.seen(GEMINI)) == before + 2, "the second call to the model", worker)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    killed = worker.kill_pool_process()

    _wait_for(lambda: GenerationJob.objects.get(pk=job.pk).status == JobStatus.DONE, "the draft to finish", worker)
    job.refresh_from_db()
    assert _pool_process_lost(worker, killed), worker.log()
    assert job.attempts == 2
    versions = PolicyVersion.objects.filter(policy=job.policy)
    assert versions.count() == 1
    assert job.version == versions.get()
    assert AuditEvent.objects.filter(organisation=organisation, action="policy.drafted").count() == 1
    assert len(ai.seen(GEMINI)) == before + 4  # both sections asked again, once each


# --- Evidence collection -----------------------------------------------------------------------------------
def test_a_collection_killed_while_storing_stores_each_finding_once(worker, broker_to, fakes, owner):
    organisation = owner.memberships.get().organisation
    connection_row = Connection.objects.create(
        organisation=organisation,
        provider="google_workspace",
        account_label="example.co.uk",
        encrypted_tokens=encrypt_tokens(fakes.google.issue_tokens()),
        connected_by=owner,
    )
    prefix = f"evidence/{organisation.pk}/"
    fakes.s3.stall_put(prefix, nth=3)

    run = collection_request(connection=connection_row, actor=None)
    _wait_for(fakes.s3.stalled.is_set, "the third evidence file to be stored", worker)
    # Two findings are committed; the third's file is in the bucket and its rows are not.
    assert Evidence.objects.filter(organisation=organisation).count() == 2
    first_attempt = set(fakes.s3.keys(prefix))
    assert len(first_attempt) == 3
    killed = worker.kill_pool_process()

    done = (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED)
    _wait_for(lambda: CollectionRun.objects.get(pk=run.pk).status in done, "the run to finish", worker)
    run.refresh_from_db()
    assert _pool_process_lost(worker, killed), worker.log()
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), run.error
    assert run.attempts == 2
    items = Evidence.objects.filter(organisation=organisation)
    revisions = EvidenceRevision.objects.filter(organisation=organisation)
    assert run.findings > 3
    assert items.count() == items.values("source_key").distinct().count() == run.findings
    assert revisions.count() == run.findings  # one revision per item for the day
    assert CheckResult.objects.filter(run=run).count() == run.checks_passed + run.checks_failed
    # The bucket holds exactly the revisions' files: the first attempt's are gone, recorded or not.
    assert set(fakes.s3.keys(prefix)) == set(revisions.values_list("file", flat=True))
    assert not first_attempt & set(fakes.s3.keys(prefix))


# --- Report building ---------------------------------------------------------------------------------------
def test_a_report_killed_after_storing_its_file_keeps_one_file(worker, broker_to, fakes, owner):
    organisation = owner.memberships.get().organisation
    prefix = f"reports/{organisation.pk}/"
    fakes.s3.stall_put(prefix)

    run = report_request(organisation=organisation, actor=Actor(owner), kind="readiness")
    _wait_for(fakes.s3.stalled.is_set, "the report file to be stored", worker)
    # The bucket has the file; the run has not recorded it.
    orphan = fakes.s3.keys(prefix)
    assert len(orphan) == 1
    run.refresh_from_db()
    assert (run.status, run.attempts, run.file.name) == (ReportStatus.RUNNING, 1, "")
    killed = worker.kill_pool_process()

    _assert_report_built_once(run, worker, fakes, prefix, orphan, attempts=2)
    assert _pool_process_lost(worker, killed), worker.log()


def _assert_report_built_once(
    run: ReportRun, worker: Worker, fakes: Fakes, prefix: str, orphan: list[str], *, attempts: int
) -> None:
    finished = (ReportStatus.DONE, ReportStatus.FAILED)
    _wait_for(lambda: ReportRun.objects.get(pk=run.pk).status in finished, "the report to finish", worker)
    run.refresh_from_db()
    assert run.status == ReportStatus.DONE, run.error
    assert run.attempts == attempts
    assert fakes.s3.keys(prefix) == [run.file.name]
    assert run.file.name not in orphan
    content = fakes.s3.get(run.file.name) or b""
    assert content.startswith(b"%PDF")
    assert (len(content), hashlib.sha256(content).hexdigest()) == (run.size, run.sha256)


# --- The whole worker killed -------------------------------------------------------------------------------
def test_a_report_whose_whole_worker_was_killed_is_built_after_the_visibility_timeout(
    broker_to, fakes, owner, tmp_path
):
    """Main process and pool killed together: nobody rejects the message, so Redis hands it out again
    only once its visibility timeout has passed (a few seconds here, an hour by default), to whichever
    worker sweeps for it first."""
    queue = f"greenlight-faults-{uuid.uuid4().hex[:12]}"
    broker_to(queue)
    short = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    first = _start_worker(queue, fakes, tmp_path, "first", **short)
    second: Worker | None = None
    try:
        organisation = owner.memberships.get().organisation
        prefix = f"reports/{organisation.pk}/"
        fakes.s3.stall_put(prefix)
        run = report_request(organisation=organisation, actor=Actor(owner), kind="readiness")
        _wait_for(fakes.s3.stalled.is_set, "the report file to be stored", first)
        orphan = fakes.s3.keys(prefix)
        os.killpg(first.process.pid, signal.SIGKILL)  # the whole worker, as `docker kill` does
        first.process.wait()

        second = _start_worker(queue, fakes, tmp_path, "second", **short)
        _assert_report_built_once(run, second, fakes, prefix, orphan, attempts=2)
    finally:
        first.stop()
        if second is not None:
            second.stop()
        _forget_in_redis(queue, first.log() + (second.log() if second else ""))
