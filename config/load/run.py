"""`make load` (`python -m config.load`): Greenlight under a mixed small-business load, as production
serves it, on this machine.

It needs PostgreSQL (`DATABASE_URL=postgres://...`) and Redis (`REDIS_URL=redis://...`), and:

1. creates a throwaway database (`load_<name>`) and migrates it;
2. seeds organisations, each with an owner, the library, two frameworks adopted, an assessment round
   with answers, a few evidence items and a read-only API key (config/load/seed.py);
3. collects static files and starts a Celery worker and gunicorn (uvicorn workers, as the Dockerfile
   starts it) with production settings on a free loopback port, and waits for /readyz and a ping
   through the worker;
4. runs Locust headless on loopback (config/load/locustfile.py) for a bounded time;
5. stops everything, drops the database, removes the Redis keys the run created, and prints requests
   per second, p50 and p95 per route and every failure, grouped, with the first response of each kind.

It exits non-zero when any request failed (or gunicorn or the worker logged an error), so `make load`
passes only with no errors; the logs are then kept. Ctrl-C stops it cleanly at any point.

    python -m config.load [--users 50] [--seconds 60] [--spawn-rate 10] [--workers 4]
                          [--celery-concurrency 2] [--organisations N] [--redis-db N] [--keep]
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, cast

from config.bench import BASE_DIR
from config.load import report, routes, stack
from config.load.plan import PLAN_ENV, RESULTS_ENV, SAMPLES_ENV, Plan

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# In the run's folder: what the people are told, the results, and the first response of each kind of failure.
PLAN, RESULTS, SAMPLES = "plan.json", "results.json", "samples.jsonl"
# Seconds Locust gives a person to finish the step under way when the time is up (a policy being
# drafted, an answer streaming), so the run ends with whole journeys rather than cut-off requests.
STOP_TIMEOUT = 30
# Seconds gunicorn and the worker may take to answer: four workers importing Django on a busy 2-CPU
# machine took close to a minute.
SERVICES_READY_SECONDS = 180
# Margin added to the spacing of one person's questions: the server counts a question when it handles
# it, which may be a little later than the person asked.
QUESTION_MARGIN_SECONDS = 2.0


def question_interval(*, people_per_organisation: int, per_minute: int) -> float:
    """Seconds one person waits between two questions so an organisation's people together ask no more
    than `per_minute` in any calendar minute (the assistant's fixed window): with questions at least
    `s` seconds apart, one person asks at most ceil(60 / s) in a minute."""
    allowance = per_minute // people_per_organisation
    if allowance < 1:
        raise ValueError(
            f"{people_per_organisation} people in one organisation cannot each ask a question a minute within "
            f"its limit of {per_minute}: use more organisations."
        )
    return 60 / allowance + QUESTION_MARGIN_SECONDS


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.load", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="simulated people (default 50)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the run, ramp-up included (default 60)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="people started per second (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--celery-concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument(
        "--organisations", type=int, default=None, help="organisations seeded (default: one for every two people)"
    )
    parser.add_argument(
        "--redis-db", type=int, default=None, help="Redis database number (default: the one in REDIS_URL)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and results when the run passes too")
    arguments = parser.parse_args(argv)
    for name in ("users", "workers", "celery_concurrency", "organisations"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1.")
    for name in ("seconds", "spawn_rate"):
        if getattr(arguments, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be more than 0.")
    if arguments.redis_db is not None and arguments.redis_db < 0:
        parser.error("--redis-db must be 0 or more.")
    if arguments.organisations is None:
        arguments.organisations = math.ceil(arguments.users / 2)
    return arguments


def require_services() -> None:
    """PostgreSQL and Redis, as production runs: SQLite and eager tasks would measure something else."""
    from config.bench_api import require_postgresql

    require_postgresql("make load")
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SystemExit(
            "make load needs Redis for the cache, the broker and the Celery worker, as production runs: set "
            "REDIS_URL, for example REDIS_URL=redis://127.0.0.1:6379/3 make load "
            f"(now: {'unset' if not url else url.split(':', 1)[0]})."
        )


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C: every context below unwinds


def main(argv: list[str] | None = None) -> None:
    arguments = parse(argv)
    require_services()
    redis_url = stack.redis_url_with_db(os.environ["REDIS_URL"], arguments.redis_db)
    folder = Path(tempfile.mkdtemp(prefix="greenlight-load-"))
    # This process seeds evidence files and sends the worker its first ping: it uses the services' Redis
    # database and files, so the environment is set before Django reads it.
    os.environ.update({"REDIS_URL": redis_url, "CELERY_TASK_ALWAYS_EAGER": "false", "DATA_DIR": str(folder)})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        failed = run(arguments, folder=folder, redis_url=redis_url)
    except SystemExit:
        if not any(folder.glob("*.log")):
            shutil.rmtree(folder, ignore_errors=True)  # refused before anything worth reading was written
        raise
    except KeyboardInterrupt:
        shutil.rmtree(folder, ignore_errors=True)
        print("\nStopped: everything started has been stopped and the database dropped.", file=sys.stderr)
        raise SystemExit(130) from None
    if failed or arguments.keep:
        print(f"\nLogs and results are kept in {folder}.")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        raise SystemExit(1)


def run(arguments: argparse.Namespace, *, folder: Path, redis_url: str) -> bool:
    """The whole run; returns whether anything failed."""
    from django.conf import settings
    from django.db import OperationalError, connection

    from chat.services import QUESTIONS_PER_MINUTE
    from config.bench import throwaway_database
    from config.bench_api import database_url_for, gunicorn
    from config.load.seed import seed

    started = time.perf_counter()
    people_per_organisation = math.ceil(arguments.users / arguments.organisations)
    try:
        interval = question_interval(people_per_organisation=people_per_organisation, per_minute=QUESTIONS_PER_MINUTE)
    except ValueError as refusal:
        raise SystemExit(str(refusal)) from None
    logs = {name: folder / f"{name}.log" for name in ("gunicorn", "worker", "collectstatic", "locust")}

    # Entered in order and left in reverse, however the run ends: the servers stop before the database is
    # dropped, and the Redis keys go last.
    with ExitStack() as running:
        existing_keys = running.enter_context(stack.redis_keys_removed_after(redis_url))
        left_alone = f" ({existing_keys:,} keys already there are left alone)" if existing_keys else ""
        print(f"Greenlight load test, Redis database {stack.redis_db(redis_url)}{left_alone}.")
        with step("Created and migrated a throwaway database"):
            try:
                name = running.enter_context(throwaway_database(prefix="load"))
            except OperationalError as error:
                raise SystemExit(f"make load cannot use PostgreSQL: {error}".strip()) from None
        with step(f"Seeded {arguments.organisations} organisations (owner, frameworks, answers, evidence, API key)"):
            accounts = seed(organisations=arguments.organisations, password=secrets.token_urlsafe(16))
            connection.close()  # the servers use the database through their own connections
        plan = Plan(accounts=tuple(accounts), question_interval=interval, sign_ins_at_once=arguments.workers)
        plan.save(folder / PLAN)
        env = stack.environment(
            database_url=database_url_for(name),
            redis_url=redis_url,
            data_dir=folder,
            api_rate=cast(dict[str, Any], settings.REST_FRAMEWORK)["DEFAULT_THROTTLE_RATES"]["api"],
            people=arguments.users,
        )
        with step("Collected static files"):
            stack.collectstatic(env, log=logs["collectstatic"])
        with step(f"Started a Celery worker ({arguments.celery_concurrency} processes)"):
            running.enter_context(
                stack.celery_worker(
                    env,
                    log=logs["worker"],
                    concurrency=arguments.celery_concurrency,
                    ready_within=SERVICES_READY_SECONDS,
                )
            )
        with step(
            f"Started gunicorn ({arguments.workers} uvicorn workers, production settings with a database pool "
            f"of {arguments.users} a worker, offline AI)"
        ):
            server = running.enter_context(
                gunicorn(
                    name,
                    workers=arguments.workers,
                    log=logs["gunicorn"],
                    overrides=env,
                    ready_path="/readyz",
                    ready_within=SERVICES_READY_SECONDS,
                )
            )
        print(
            f"\nLocust against {server.url} for {arguments.seconds:g} s: {arguments.users} people "
            f"({people_per_organisation} per organisation), {arguments.spawn_rate:g} arriving a second and signing "
            f"in {plan.sign_ins_at_once} at a time; each asks the assistant at most every {interval:.1f} s.\n"
        )
        locust(arguments, host=server.url, folder=folder, log=logs["locust"])

    server_error = server.first_error()
    worker_error = stack.first_worker_error(logs["worker"])
    try:
        results = report.read(folder / RESULTS)
    except FileNotFoundError:
        tail = logs["locust"].read_text(encoding="utf-8", errors="replace")[-3000:]
        print(f"Locust wrote no results. The end of its log:\n{tail}", file=sys.stderr)
        return True
    print(report.table(results))
    signed_in = sum(r.requests - r.failures for r in results.routes if r.name == routes.LOGIN.label)
    if signed_in < arguments.users:
        # Sign-ins are the costliest request by design (the password hasher), so on a busy machine the
        # last people may still be at the door when the time is up; the table covers those who got in.
        print(f"{signed_in} of the {arguments.users} people had signed in when the time was up.")
    if results.failed:
        print("\nFailures, grouped, each with the first response of its kind:")
        print(report.failures(results, report.samples(folder / SAMPLES)))
    for who, logged in (("gunicorn", server_error), ("the Celery worker", worker_error)):
        if logged:
            print(f"\n{who} logged an error; the first: {logged}")
    print(f"\nDone in {time.perf_counter() - started:.0f} s: {results.total.failures:,} failed requests.")
    return results.failed or bool(server_error or worker_error)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Prints `what` and how long it took, once it is done."""
    began = time.perf_counter()
    yield
    print(f"{what}: {time.perf_counter() - began:.1f} s.", flush=True)


def locust(arguments: argparse.Namespace, *, host: str, folder: Path, log: Path) -> None:
    """Locust headless, in a process of its own (it patches the standard library with gevent)."""
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "SmallBusinessOwner", "--headless", "--only-summary"),
        *("--users", str(arguments.users), "--spawn-rate", f"{arguments.spawn_rate:g}"),
        *("--run-time", f"{math.ceil(arguments.seconds)}s", "--stop-timeout", str(STOP_TIMEOUT)),
        *("--host", host, "--loglevel", "WARNING"),
    ]
    env = {
        **os.environ,
        PLAN_ENV: str(folder / PLAN),
        RESULTS_ENV: str(folder / RESULTS),
        SAMPLES_ENV: str(folder / SAMPLES),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output, stderr=output)  # noqa: S603
    try:
        process.wait()
    finally:
        stack.stop(process, timeout=STOP_TIMEOUT + 10)
