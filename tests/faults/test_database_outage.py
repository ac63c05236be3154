"""The database goes away: requests fail fast with a clean 503, and everything recovers when it is back.

Two parts. In the test process, on whichever engine the suite runs, the default connection is swapped
for one of the same engine pointed where nothing answers (as config/tests/test_health.py does), and a
signed-in page, the API and /readyz are asked for. Then, live: a private PostgreSQL cluster of our own
(initdb, pg_ctl) in a temporary folder, never the shared server, holding a copy of this run's test
database; gunicorn serving it as the Dockerfile starts it (uvicorn workers, two, Django's psycopg pool
on); PostgreSQL really stopped and started while requests keep coming.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import cast

import psycopg
import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.utils import load_backend
from django.test import Client, RequestFactory
from django.urls import get_resolver, reverse

from accounts.models import ApiKey, Membership
from accounts.roles import Role
from accounts.tests.factories import ApiKeyFactory, MembershipFactory, OrganisationFactory, api_secret
from config.database_outage import RETRY_AFTER_SECONDS, is_connection_failure, server_error

UNAVAILABLE_TEXT = "Greenlight is briefly unavailable"
PAGE = "/policies/"


# --- In the test process, on either engine --------------------------------------------------------
def _unreachable_copy_of(settings_dict: dict, folder: Path) -> dict:
    broken = {**settings_dict}
    if broken["ENGINE"] == "django.db.backends.sqlite3":
        broken["NAME"] = str(folder / "no-such-folder" / "greenlight.sqlite3")
    else:
        with socket.socket() as probe:  # a port nothing listens on: refused at once, like a stopped server
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        broken.update(HOST="127.0.0.1", PORT=port)
        # Without the pool: Django keeps one pool per alias, and this copy would borrow the live one's.
        options = {key: value for key, value in broken.get("OPTIONS", {}).items() if key != "pool"}
        broken["OPTIONS"] = {**options, "connect_timeout": 2}
    return broken


@pytest.fixture
def database_down(tmp_path):
    """`database_down()` replaces the default connection by a real one of the same engine that cannot
    connect; the working one is put back afterwards."""
    working = connections[DEFAULT_DB_ALIAS]
    broken = load_backend(working.settings_dict["ENGINE"]).DatabaseWrapper(
        _unreachable_copy_of(working.settings_dict, tmp_path), DEFAULT_DB_ALIAS
    )

    def go_down() -> None:
        connections[DEFAULT_DB_ALIAS] = broken

    yield go_down
    connections[DEFAULT_DB_ALIAS] = working
    broken.close()


def _no_internals(body: str) -> None:
    for leak in ("Traceback", "OperationalError", "psycopg", "sqlite3", "connection failed", "127.0.0.1"):
        assert leak not in body, f"{leak!r} leaked into the response"


@pytest.mark.django_db
def test_a_signed_in_page_answers_503_with_retry_after_when_the_database_is_down(personas, database_down):
    browser = Client(raise_request_exception=False)
    browser.force_login(personas.owner)
    assert browser.get(PAGE).status_code == 200

    database_down()
    response = browser.get(PAGE)

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert UNAVAILABLE_TEXT in body
    assert "Nothing you saved has been lost" in body
    _no_internals(body)


@pytest.mark.django_db
def test_the_api_answers_a_503_problem_when_the_database_is_down(personas, database_down):
    key = cast(ApiKey, ApiKeyFactory(organisation=personas.organisation))
    api = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {api_secret(key)}"})
    url = reverse("api_organisation_list")
    assert api.get(url).status_code == 200

    database_down()
    response = api.get(url)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    problem = response.json()
    assert problem["status"] == 503
    assert problem["title"] == "Service unavailable"
    assert "cannot reach its database" in problem["detail"]
    _no_internals(response.content.decode())


@pytest.mark.django_db
def test_readyz_names_the_database_and_does_not_wait_for_it_twice(client, database_down):
    database_down()
    started = time.perf_counter()
    response = client.get("/readyz")
    elapsed = time.perf_counter() - started

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "error"
    # The migrations check reads the database too: skipped, not a second wait for the same answer.
    assert checks["migrations"] == {"status": "skipped", "reason": "the database is unreachable"}
    assert checks["cache"]["status"] == "ok"
    assert elapsed < 5


def test_the_project_answers_uncaught_errors_through_the_outage_handler():
    assert get_resolver().resolve_error_handler(500) is server_error


def _refused_connection_error() -> psycopg.OperationalError:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        psycopg.connect(host="127.0.0.1", port=port, user="nobody", dbname="none", connect_timeout=2)
    except psycopg.OperationalError as error:
        return error
    raise AssertionError("a connection to a closed port succeeded")


def test_a_refused_or_lost_postgresql_connection_counts_as_an_outage():
    assert is_connection_failure(_refused_connection_error())
    assert is_connection_failure(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    assert is_connection_failure(psycopg.errors.CannotConnectNow("the database system is starting up"))
    assert is_connection_failure(psycopg.InterfaceError("the connection is closed"))


def test_errors_in_the_query_are_not_an_outage():
    assert not is_connection_failure(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert not is_connection_failure(psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))
    assert not is_connection_failure(psycopg.InterfaceError("the cursor is closed"))
    assert not is_connection_failure(ValueError("not a database error"))
    assert not is_connection_failure(None)


@pytest.mark.django_db
def test_a_failed_query_still_gets_the_ordinary_500_page():
    """A real OperationalError from the database in use that is not about the connection."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        statements = ["SET LOCAL statement_timeout = 1", "SELECT pg_sleep(1)"]  # cancelled: 57014
    else:
        statements = ["SELECT * FROM greenlight_no_such_table"]  # SQLite: "no such table"
    request = RequestFactory().get(PAGE)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    except OperationalError:
        response = server_error(request)
    else:
        pytest.fail("the statement was expected to fail")

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert not response.has_header("Retry-After")


# --- Live: a real PostgreSQL, really restarted, under gunicorn -----------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRESQL = DATABASE_URL.startswith(("postgres://", "postgresql://", "pgsql://"))
POSTGRES_BIN = next(
    (
        Path(folder)
        for folder in sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name))[::-1]
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_dump", "pg_restore", "psql"))
    ),
    None,
)
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# PostgreSQL refuses to run as root, so as root the cluster is run as the `postgres` system user.
RUN_AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if AS_ROOT else []
WORKERS = 2
POOL_SIZE = 10  # settings' default DATABASE_POOL_SIZE, which the server below keeps
OUTAGE_BOUND_SECONDS = 5
PROBES = ("/readyz", "/healthz")
RECOVERY_BOUND_SECONDS = 10


def _live_skip_reason() -> str:
    if not ON_POSTGRESQL:
        return "needs DATABASE_URL on PostgreSQL: the restart is of a PostgreSQL cluster"
    if POSTGRES_BIN is None:
        return "needs PostgreSQL's server binaries (initdb, pg_ctl, pg_dump, pg_restore, psql) in /usr/lib/postgresql"
    if AS_ROOT and (shutil.which("runuser") is None or _no_postgres_user()):
        return "running as root needs runuser and a postgres system user to run the private cluster"
    if not Path("/proc/net/tcp").exists():
        return "needs Linux's /proc to tell which gunicorn worker answered"
    return ""


def _no_postgres_user() -> bool:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return True
    return False


def _run(command: list[str], **options) -> str:
    """Run a PostgreSQL tool; a failure says what the tool printed, not only its exit status."""
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, **options)
    if finished.returncode:
        pytest.fail(f"{Path(command[0]).name} failed ({finished.returncode}): {finished.stderr or finished.stdout}")
    return finished.stdout


class PrivateCluster:
    """A PostgreSQL cluster of our own on a free loopback port, in a folder removed afterwards."""

    def __init__(self, root: Path) -> None:
        assert POSTGRES_BIN is not None
        self.bin, self.root, self.data, self.log = POSTGRES_BIN, root, root / "data", root / "postgresql.log"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def _server(self, *arguments: str) -> None:
        _run([*RUN_AS_POSTGRES, *arguments])

    def create(self) -> None:
        if AS_ROOT:
            shutil.chown(self.root, user="postgres")
        self._server(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"),
        )
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._server(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        # `fast`, as a service restart does: sessions are ended and the clients' connections dropped.
        self._server(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        subprocess.run(
            [*RUN_AS_POSTGRES, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> list[list[str]]:
        output = _run([str(self.bin / "psql"), "-X", "-A", "-t", "-F", "\t", "-d", self.url(database), "-c", statement])
        return [line.split("\t") for line in output.splitlines() if line]

    def copy_of(self, source: dict, name: str) -> None:
        """The source database (a settings dict), schema and data, as database `name` here."""
        environment = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        dump = self.root / "source.dump"
        _run(
            [
                str(self.bin / "pg_dump"),
                *("-h", source.get("HOST") or "127.0.0.1", "-p", str(source.get("PORT") or 5432)),
                *("-U", source.get("USER") or "postgres", "-d", source["NAME"]),
                *("-Fc", "--no-owner", "--no-privileges", "-f", str(dump)),
            ],
            env=environment,
        )
        self.sql(f"CREATE DATABASE {name}")
        _run([str(self.bin / "pg_restore"), "--no-owner", "--no-privileges", "-d", self.url(name), str(dump)])


# Which gunicorn worker holds which TCP connection, read from /proc (Linux): the worker that answered a
# request owns the server side of its connection, and a worker's database connections are its own.
ESTABLISHED, LISTEN = "01", "0A"


@dataclass(frozen=True)
class TcpSocket:
    local_port: int
    remote_port: int
    state: str


def _tcp_sockets() -> dict[int, TcpSocket]:
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            inode = int(fields[9])
            if inode:
                port = lambda address: int(address.rsplit(":", 1)[1], 16)  # noqa: E731
                sockets[inode] = TcpSocket(port(fields[1]), port(fields[2]), fields[3])
    return sockets


def _socket_inodes(pid: int) -> set[int]:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # the process ended, or is not ours to read
        return set()
    inodes = set()
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def gunicorn_workers(port: int) -> set[int]:
    """The worker processes of the gunicorn listening on `port`: holders of the listening socket whose
    parent (the arbiter) holds it too."""
    listening = {inode for inode, s in _tcp_sockets().items() if s.local_port == port and s.state == LISTEN}
    holders = {int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _socket_inodes(int(pid)) & listening}
    return {pid for pid in holders if _parent(pid) in holders}


def connections_of(pid: int, *, local_port: int | None = None, remote_port: int | None = None) -> list[TcpSocket]:
    table = _tcp_sockets()
    return [
        table[inode]
        for inode in _socket_inodes(pid)
        if inode in table
        and table[inode].state == ESTABLISHED
        and (local_port is None or table[inode].local_port == local_port)
        and (remote_port is None or table[inode].remote_port == remote_port)
    ]


@dataclass(frozen=True)
class Reply:
    path: str
    status: int
    headers: dict[str, str]
    body: str
    seconds: float
    worker: int  # the pid of the gunicorn worker that answered


class App:
    """Requests to the gunicorn under test, each on a new connection, noting the worker that answered."""

    def __init__(self, port: int, workers: set[int], *, cookie: str, api_key: str) -> None:
        self.port, self.workers = port, workers
        self.cookie, self.api_key = cookie, api_key

    def get(self, path: str) -> Reply:
        # The API with its key, the probes as a platform asks (no cookie), pages as the signed-in owner.
        headers = (
            {"Authorization": f"Bearer {self.api_key}"}
            if path.startswith("/api/")
            else {}
            if path in PROBES
            else {"Cookie": self.cookie}
        )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read().decode(errors="replace")
            seconds = time.perf_counter() - started
            # The server keeps the connection open (keep-alive) until we close it: its owner answered.
            client_port = connection.sock.getsockname()[1]
            worker = next(
                (pid for pid in self.workers if connections_of(pid, local_port=self.port, remote_port=client_port)),
                0,
            )
        finally:
            connection.close()
        return Reply(path, response.status, {k.lower(): v for k, v in response.getheaders()}, body, seconds, worker)

    def get_many(self, paths: list[str], *, concurrency: int = 8) -> list[Reply]:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(self.get, paths))


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    if reason := _live_skip_reason():
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="greenlight-pg-"))
    cluster = PrivateCluster(root)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()


@contextmanager
def _writing_to(cluster: PrivateCluster, name: str) -> Iterator[None]:
    """Model writes in this block go to database `name` of the private cluster, committed at once."""
    working = connections[DEFAULT_DB_ALIAS]
    options = {key: value for key, value in working.settings_dict["OPTIONS"].items() if key != "pool"}
    private = load_backend(working.settings_dict["ENGINE"]).DatabaseWrapper(
        {
            **working.settings_dict,
            "NAME": name,
            "HOST": "127.0.0.1",
            "PORT": cluster.port,
            "USER": "postgres",
            "PASSWORD": "",
            "OPTIONS": options,
        },
        DEFAULT_DB_ALIAS,
    )
    connections[DEFAULT_DB_ALIAS] = private
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = working
        private.close()


@pytest.fixture
def served_app(private_cluster, db, tmp_path) -> Iterator[tuple[App, PrivateCluster]]:
    """gunicorn on the private cluster, which holds this run's migrated test database and an owner of
    Acme signed in with an API key."""
    from config.bench_api import gunicorn

    # The test's own rows are in its uncommitted transaction, so the copy is the schema as migrated.
    private_cluster.copy_of(connections[DEFAULT_DB_ALIAS].settings_dict, "greenlight")
    with _writing_to(private_cluster, "greenlight"):
        organisation = OrganisationFactory(name="Acme Bakery Ltd", slug="acme-bakery")
        owner = cast(Membership, MembershipFactory(organisation=organisation, role=Role.OWNER)).user
        browser = Client()
        browser.force_login(owner)
        session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        key = cast(ApiKey, ApiKeyFactory(organisation=organisation))

    overrides = {
        "DATABASE_URL": private_cluster.url("greenlight"),
        # The project's own settings and URLs; development mode only so pages need no collectstatic
        # (production's static storage reads a manifest), with DEBUG off as in production.
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "GREENLIGHT_ENV": "development",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # the session cookie made here is signed with it
        "DATA_DIR": str(tmp_path / "data"),
        # The defaults, whatever this shell sets: the pool on, its timeouts as shipped.
        "DATABASE_POOL_SIZE": "",
        "DATABASE_POOL_TIMEOUT": "",
        "DATABASE_CONNECT_TIMEOUT": "",
        "LOG_FORMAT": "text",
    }
    log = tmp_path / "gunicorn.log"
    with gunicorn("unused", workers=WORKERS, log=log, overrides=overrides, ready_path="/healthz") as server:
        port = int(server.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while len(workers := gunicorn_workers(port)) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == WORKERS, f"found workers {workers}; log:\n{log.read_text()}"
        cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
        yield App(port, workers, cookie=cookie, api_key=api_secret(key)), private_cluster


def _until_each_worker(app: App, paths: list[str], *, within: float) -> tuple[list[Reply], dict[int, float]]:
    """Ask, in concurrent rounds of `paths`, until every worker has answered the first of them with a
    200; every reply, and the seconds each worker took."""
    started = time.perf_counter()
    replies: list[Reply] = []
    first: dict[int, float] = {}
    while set(first) != app.workers and time.perf_counter() - started < within:
        for reply in app.get_many(paths, concurrency=len(paths)):
            replies.append(reply)
            if reply.path == paths[0] and reply.status == 200 and reply.worker not in first:
                first[reply.worker] = round(time.perf_counter() - started, 2)
    return replies, first


def _backends(cluster: PrivateCluster) -> list[tuple[int, str]]:
    rows = cluster.sql(
        "SELECT client_port, state FROM pg_stat_activity "
        "WHERE datname = 'greenlight' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    return [(int(port), state) for port, state in rows]


@pytest.mark.live_services
def test_a_postgresql_restart_fails_fast_then_recovers_in_every_worker(served_app):
    app, cluster = served_app
    api = reverse("api_organisation_list")

    # Before: every worker answers, and concurrent requests give each a pool of several connections.
    before = app.get_many([PAGE, api] * 8)
    assert [reply.status for reply in before] == [200] * len(before)
    assert {reply.worker for reply in before} == app.workers

    cluster.stop()
    # Every worker is asked during the outage: the probes, and pages and the API as people would.
    outage = [PAGE, api, "/readyz", "/healthz"] * 3
    during: list[Reply] = []
    while {r.worker for r in during if r.status == 503 and r.path in (PAGE, api)} != app.workers:
        assert len(during) < 3 * len(outage), "some worker was never asked for a page or the API"
        during += app.get_many(outage, concurrency=len(outage))
    for reply in during:
        assert reply.seconds < OUTAGE_BOUND_SECONDS, f"{reply.path} took {reply.seconds:.1f} s"
    for reply in (r for r in during if r.path == PAGE):
        assert (reply.status, reply.headers["retry-after"]) == (503, str(RETRY_AFTER_SECONDS))
        assert reply.headers["content-type"].startswith("text/html")
        assert UNAVAILABLE_TEXT in reply.body
        _no_internals(reply.body)
    for reply in (r for r in during if r.path == api):
        assert (reply.status, reply.headers["content-type"]) == (503, "application/problem+json")
        assert json.loads(reply.body)["status"] == 503
        _no_internals(reply.body)
    for reply in (r for r in during if r.path == "/readyz"):
        assert reply.status == 503
        assert json.loads(reply.body)["checks"]["database"]["status"] == "error"
    assert {r.status for r in during if r.path == "/healthz"} == {200}  # the process itself is fine

    cluster.start()
    # Within seconds every worker answers again, and no request fails once PostgreSQL is back: the
    # connections the restart broke were dropped, not handed to a request.
    recovering, recovered = _until_each_worker(app, [PAGE, api, PAGE, api], within=RECOVERY_BOUND_SECONDS)
    assert set(recovered) == app.workers, f"workers answering again after (s): {recovered}, of {app.workers}"
    # Then through each worker's pool: concurrent requests take several connections in each.
    after = recovering + app.get_many([PAGE, api] * 12)
    failed = [(reply.path, reply.status, reply.worker) for reply in after if reply.status != 200]
    assert not failed, failed
    assert {reply.worker for reply in after} == app.workers

    # No connection is stuck: each backend belongs to a worker, within its pool, and none is left in a
    # transaction (connections go back to the pool just after the response, so allow a moment).
    deadline = time.monotonic() + 3
    backends = _backends(cluster)
    while any(state != "idle" for _, state in backends) and time.monotonic() < deadline:
        time.sleep(0.1)
        backends = _backends(cluster)
    assert {state for _, state in backends} == {"idle"}, backends
    ports_of = {pid: {s.local_port for s in connections_of(pid, remote_port=cluster.port)} for pid in app.workers}
    for pid, ports in ports_of.items():
        held = [port for port, _ in backends if port in ports]
        assert 1 <= len(held) <= POOL_SIZE, f"worker {pid} holds {len(held)} connections"
    orphans = [port for port, _ in backends if not any(port in ports for ports in ports_of.values())]
    assert not orphans, f"backends no worker holds: {orphans}"
