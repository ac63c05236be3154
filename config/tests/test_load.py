"""`make load` (config/load/) without a load: the orchestrator's arguments and refusals, the pacing that
keeps the assistant's limit, the routes the simulated people request, and the real locustfile taking
every step once against the live test server, behind the HTTPS proxy it expects (secure requests,
Secure cookies)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from chat.services import QUESTIONS_PER_MINUTE
from config.load import report, routes
from config.load.plan import PLAN_ENV, RESULTS_ENV, SAMPLES_ENV, Plan
from config.load.run import LOCUSTFILE, main, parse, question_interval
from config.load.seed import seed

BASE_DIR = Path(__file__).resolve().parents[2]
# A value for every placeholder the routes use, of the type its URL converter takes.
SAMPLE_VALUES = {
    "framework_slug": "cyber-essentials",
    "control_id": 7,
    "policy_id": 8,
    "generationjob_id": 9,
    "conversation_id": 10,
    "message_id": 11,
    "organisation_slug": "acme-bakery",
}


# --- Arguments and refusals -------------------------------------------------------------------------
def test_defaults_are_fifty_people_for_a_minute_two_to_an_organisation():
    arguments = parse([])

    assert (arguments.users, arguments.seconds, arguments.spawn_rate) == (50, 60, 10)
    assert (arguments.workers, arguments.organisations, arguments.redis_db) == (4, 25, None)
    assert parse(["--users", "7"]).organisations == 4


@pytest.mark.parametrize(
    "argv",
    [
        ["--users", "0"],
        ["--seconds", "0"],
        ["--spawn-rate", "-1"],
        ["--workers", "0"],
        ["--organisations", "0"],
        ["--redis-db", "-1"],
        ["--users", "many"],
    ],
)
def test_nonsense_arguments_are_refused_with_the_option_named(argv, capsys):
    with pytest.raises(SystemExit) as refused:
        parse(argv)

    assert refused.value.code == 2
    assert argv[0] in capsys.readouterr().err


@pytest.mark.parametrize("database_url", ["", "sqlite:///data/greenlight.sqlite3"])
def test_it_refuses_to_run_without_postgresql(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")

    with pytest.raises(SystemExit) as refused:
        main([])

    assert "make load" in str(refused.value)
    assert "DATABASE_URL=postgres://" in str(refused.value)


@pytest.mark.parametrize("redis_url", ["", "memory://"])
def test_it_refuses_to_run_without_redis(redis_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/greenlight")
    monkeypatch.setenv("REDIS_URL", redis_url)

    with pytest.raises(SystemExit) as refused:
        main([])

    assert "REDIS_URL=redis://" in str(refused.value)


@pytest.mark.parametrize("people", [1, 2, 3, 7, 10, 20])
def test_paced_questions_keep_an_organisation_within_its_limit_in_any_minute(people):
    interval = question_interval(people_per_organisation=people, per_minute=QUESTIONS_PER_MINUTE)

    # Questions at least `interval` apart: one person's most in any minute is ceil(60 / interval).
    assert people * math.ceil(60 / interval) <= QUESTIONS_PER_MINUTE


def test_too_many_people_in_one_organisation_to_keep_the_limit_is_refused():
    with pytest.raises(ValueError, match="use more organisations"):
        question_interval(people_per_organisation=QUESTIONS_PER_MINUTE + 1, per_minute=QUESTIONS_PER_MINUTE)


# --- Routes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", routes.ROUTES, ids=lambda route: route.label)
def test_every_route_is_the_path_its_url_name_reverses_to(route):
    values = {name: SAMPLE_VALUES[name] for name in route.placeholders}

    assert reverse(route.url_name, kwargs=values or None) == route.path(**values)
    assert route.values(route.path(**values)) == {name: str(value) for name, value in values.items()}


def test_a_route_reads_its_values_back_from_a_path_and_no_other():
    assert routes.POLICY_DETAIL.values("/policies/12/") == {"policy_id": "12"}
    assert routes.POLICY_DETAIL.values("/policies/12/edit/") is None
    assert routes.ASSISTANT_CONVERSATION.values("/assistant/5/#message-9") == {"conversation_id": "5"}
    assert routes.ANSWER_SAVE.label == "POST /assessment/answers/[control_id]/"


# --- The locustfile, every step once --------------------------------------------------------------
@pytest.fixture
def behind_https_proxy(settings):
    """Production's security settings the locustfile is written for: it says it came through the
    HTTPS proxy, and the session and CSRF cookies are Secure."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True


# The live test server speaks WSGI, so Django collects the assistant's event stream before sending it.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_the_locustfile_takes_every_step_once_without_a_failure(live_server, behind_https_proxy, tmp_path):
    accounts = seed(organisations=1, password="load-test-password")
    Plan(accounts=tuple(accounts), question_interval=0, sign_ins_at_once=1, job_timeout=30).save(tmp_path / "plan.json")
    results_path, samples, log = tmp_path / "results.json", tmp_path / "samples.jsonl", tmp_path / "locust.log"

    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "EveryStepOnce", "--headless", "--only-summary"),
        *("--users", "1", "--spawn-rate", "1", "--run-time", "60s", "--loglevel", "WARNING"),
        *("--host", f"http://127.0.0.1:{live_server.thread.port}"),
    ]
    env = {
        **os.environ,
        PLAN_ENV: str(tmp_path / "plan.json"),
        RESULTS_ENV: str(results_path),
        SAMPLES_ENV: str(samples),
    }
    with log.open("wb") as output:
        subprocess.run(command, cwd=BASE_DIR, env=env, stdout=output, stderr=output, timeout=120, check=False)

    assert results_path.exists(), log.read_text()[-3000:]
    results = report.read(results_path)
    assert not results.failed, f"{report.failures(results, report.samples(samples))}\n{log.read_text()[-3000:]}"
    requested = {stats.name for stats in results.routes if stats.requests}
    # A first draft needs no redraft, and the eager worker has written it before the page could poll.
    expected = {route.label for route in routes.ROUTES} - {routes.POLICY_REDRAFT.label, routes.POLICY_JOB.label}
    assert expected <= requested, f"never requested: {sorted(expected - requested)}"
