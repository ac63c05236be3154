"""Automated collection through its pages: connecting Google Workspace against the local fake, the
callback's refusals, disconnecting, collecting now, the run page, and who may do what."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from evidence.connectors.microsoft import Microsoft365Connector
from evidence.models import CheckResult, CollectionRun, Connection, ConnectionStatus, Evidence, Provider, RunStatus
from evidence.services.collection import SESSION_KEY
from evidence.tests.factories import CheckResultFactory, CollectionRunFactory, ConnectionFactory, EvidenceFactory
from evidence.tests.fake_google import AUTHORISE_PATH, TOKEN_PATH, FakeGoogle
from evidence.tokens import decrypt_tokens, encrypt_tokens
from evidence.views.connections import collection_schedule

pytestmark = pytest.mark.django_db

GOOGLE = Provider.GOOGLE_WORKSPACE
MICROSOFT = Provider.MICROSOFT_365
HTMX = {"HTTP_HX_REQUEST": "true"}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def fake_google(settings):
    fake = FakeGoogle(users=40).start()
    settings.EVIDENCE_CONNECTORS = {**settings.EVIDENCE_CONNECTORS, GOOGLE: asdict(fake.settings())}
    yield fake
    fake.stop()


@pytest.fixture
def microsoft_unconfigured(settings):
    settings.EVIDENCE_CONNECTORS = {
        **settings.EVIDENCE_CONNECTORS,
        MICROSOFT: {**settings.EVIDENCE_CONNECTORS[MICROSOFT], "client_id": "", "client_secret": ""},
    }


@pytest.fixture
def microsoft_configured(settings):
    # Microsoft has no revocation endpoint, so disconnecting never calls out: no fake needed for that.
    settings.EVIDENCE_CONNECTORS = {
        **settings.EVIDENCE_CONNECTORS,
        MICROSOFT: {
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "fake-secret",
            "authorise_url": "http://127.0.0.1:9/authorize",
            "token_url": "http://127.0.0.1:9/token",
            "revoke_url": "",
            "api_base_url": "http://127.0.0.1:9/v1.0",
        },
    }


@pytest.fixture
def mfa_control(db):
    """The library control the Google connector maps its 2-Step Verification check to."""
    framework = FrameworkFactory(slug="cyber-essentials", name="Cyber Essentials")
    return ControlFactory(framework=framework, group=ControlGroupFactory(framework=framework), ref="UA.4")


@pytest.fixture
def browser_for(client_for):
    def make(user):
        browser = client_for(user)
        browser.get(reverse("evidence_connections"))  # settle the session's current organisation
        return browser

    return make


def connected(organisation, fake: FakeGoogle, **fields) -> Connection:
    fields = {
        "status": ConnectionStatus.CONNECTED,
        "account_label": "Example Trading Ltd (example.co.uk)",
        "encrypted_tokens": encrypt_tokens(fake.issue_tokens()),
        **fields,
    }
    return ConnectionFactory(organisation=organisation, provider=GOOGLE, **fields)


def start_connecting(browser) -> dict[str, str]:
    response = browser.post(reverse("connection_connect", args=[GOOGLE]))
    assert response.status_code == 302
    return dict(parse_qsl(urlsplit(response["Location"]).query)) | {"_location": response["Location"]}


def consent_at_provider(authorise: dict[str, str]) -> dict[str, str]:
    """The administrator approves at the (fake) provider, which redirects back with a code."""
    reply = httpx2.get(authorise["_location"], follow_redirects=False)
    assert reply.status_code == 302
    return dict(parse_qsl(urlsplit(reply.headers["Location"]).query))


# --- Connecting end to end ------------------------------------------------------------------------
def test_connecting_google_stores_encrypted_tokens_and_collects_evidence(
    personas, browser_for, fake_google, mfa_control, django_capture_on_commit_callbacks
):
    browser = browser_for(personas.owner)
    authorise = start_connecting(browser)
    assert authorise["_location"].startswith(fake_google.url + AUTHORISE_PATH)
    assert len(authorise["state"]) >= 32
    assert authorise["code_challenge"]
    assert authorise["code_challenge_method"] == "S256"
    assert authorise["redirect_uri"] == "http://testserver" + reverse("connection_callback", args=[GOOGLE])
    assert browser.session[SESSION_KEY]["state"] == authorise["state"]

    back = consent_at_provider(authorise)
    assert back["state"] == authorise["state"]
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.get(reverse("connection_callback", args=[GOOGLE]), back)

    assert response.status_code == 302
    assert response.url == reverse("evidence_connections")
    assert "Connected. Collecting evidence now…" in messages_of(response)
    connection = Connection.objects.get(organisation=personas.organisation, provider=GOOGLE)
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.connected_by == personas.owner
    assert connection.account_label == "Example Trading Ltd (example.co.uk)"
    # Encrypted at rest: neither token appears in the stored value, yet both decrypt.
    tokens = decrypt_tokens(connection.encrypted_tokens)
    assert tokens.access_token in fake_google.access_tokens
    assert tokens.refresh_token in fake_google.refresh_tokens
    assert tokens.access_token not in connection.encrypted_tokens
    assert not Connection.objects.filter(encrypted_tokens__contains="fake-refresh").exists()
    assert SESSION_KEY not in browser.session

    run = CollectionRun.objects.get(connection=connection)
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
    assert run.requested_by == personas.owner
    assert run.findings > 0
    assert run.checks_passed + run.checks_failed > 0
    assert Evidence.objects.filter(organisation=personas.organisation, source=GOOGLE).count() == run.findings
    enrolment = CheckResult.objects.get(run=run, key="google.2sv_enrolment")
    assert list(enrolment.controls.all()) == [mfa_control]
    assert enrolment.evidence is not None
    assert enrolment.evidence.source == GOOGLE

    page = text_of(browser.get(reverse("evidence_connections")))
    assert "Connected to <strong>Example Trading Ltd (example.co.uk)</strong>" in page
    assert escape(personas.owner.display_name) in page
    assert reverse("collection_run_detail", args=[run.pk]) in page


def test_a_forged_state_is_refused_and_nothing_is_stored(personas, browser_for, fake_google):
    browser = browser_for(personas.owner)
    back = consent_at_provider(start_connecting(browser))
    response = browser.get(reverse("connection_callback", args=[GOOGLE]), {**back, "state": "forged-by-someone"})

    assert response.url == reverse("evidence_connections")
    assert any("does not match one started here" in message for message in messages_of(response))
    assert not Connection.objects.exists()
    assert fake_google.seen(TOKEN_PATH) == []  # the code was never exchanged
    # The state is used up: replaying the genuine one now fails too.
    again = browser.get(reverse("connection_callback", args=[GOOGLE]), back)
    assert any("does not match" in message for message in messages_of(again))
    assert not Connection.objects.exists()


def test_a_provider_error_is_shown_in_plain_words(personas, browser_for, fake_google):
    browser = browser_for(personas.owner)
    authorise = start_connecting(browser)
    response = browser.get(
        reverse("connection_callback", args=[GOOGLE]),
        {"state": authorise["state"], "error": "access_denied", "error_description": "The administrator said no"},
    )
    assert messages_of(response) == ["The provider did not grant access: The administrator said no"]
    assert not Connection.objects.exists()
    page = text_of(browser.get(response.url))
    assert "The provider did not grant access: The administrator said no" in page


def test_an_unconfigured_provider_says_so_and_refuses_to_connect(personas, browser_for, microsoft_unconfigured):
    browser = browser_for(personas.owner)
    page = text_of(browser.get(reverse("evidence_connections")))
    card = page.split('id="provider-microsoft_365"')[1]
    assert "Not configured on this server" in card
    for variable in ("MICROSOFT_365_CLIENT_ID", "MICROSOFT_365_CLIENT_SECRET", "CONNECTOR_TOKEN_KEYS"):
        assert variable in card
    assert reverse("connection_connect", args=[MICROSOFT]) not in page

    response = browser.post(reverse("connection_connect", args=[MICROSOFT]))
    assert response.status_code == 302
    assert response.url == reverse("evidence_connections")
    assert messages_of(response) == ["Microsoft 365 is not configured on this server."]
    assert SESSION_KEY not in browser.session


def test_an_unknown_provider_is_not_found(personas, browser_for):
    browser = browser_for(personas.owner)
    assert browser.post(reverse("connection_connect", args=["myspace"])).status_code == 404
    assert browser.get(reverse("connection_callback", args=["myspace"])).status_code == 404


# --- The connections page ---------------------------------------------------------------------------
def test_the_page_lists_what_each_provider_reads_and_its_scopes(personas, browser_for, fake_google):
    page = text_of(browser_for(personas.viewer).get(reverse("evidence_connections")))
    for item in Microsoft365Connector.reads:
        assert escape(item) in page
    for scope in Microsoft365Connector.scopes:
        assert scope in page
    assert "Who holds administrator roles" in page  # Google's list
    assert reverse("connection_connect", args=[GOOGLE]) not in page  # viewers see no Connect button


def test_a_connected_card_shows_who_connected_it_the_last_run_and_the_schedule(personas, browser_for, fake_google):
    connection = connected(personas.organisation, fake_google, connected_by=personas.admin)
    run = CollectionRunFactory(organisation=personas.organisation, connection=connection, run_on=date.today())
    page = text_of(browser_for(personas.member).get(reverse("evidence_connections")))
    card = page.split('id="provider-google_workspace"')[1].split('id="provider-microsoft_365"')[0]
    assert "Connected to <strong>Example Trading Ltd (example.co.uk)</strong>" in card
    today = timezone.localdate()
    assert (
        f'by {escape(personas.admin.display_name)} on <time datetime="{today:%Y-%m-%d}">{today:%-d %B %Y}</time>'
        in card
    )
    assert reverse("collection_run_detail", args=[run.pk]) in card
    assert "Daily at 03:10" in card
    assert reverse("connection_run", args=[connection.pk]) in card  # members may collect now
    assert reverse("connection_disconnect", args=[connection.pk]) not in card  # but not disconnect


def test_a_connection_that_needs_connecting_again_gives_the_reason(personas, browser_for, fake_google):
    connection = connected(personas.organisation, fake_google, status=ConnectionStatus.NEEDS_RECONNECT)
    CollectionRunFactory(
        organisation=personas.organisation,
        connection=connection,
        status=RunStatus.FAILED,
        error="The connection's sign-in has expired or was withdrawn. Please connect again.",
    )
    page = text_of(browser_for(personas.owner).get(reverse("evidence_connections")))
    assert "Needs connecting again" in page
    assert escape("The connection's sign-in has expired or was withdrawn. Please connect again.") in page
    assert "Connect again" in page


def test_the_schedule_reads_the_periodic_task_and_finds_the_next_run():
    before = collection_schedule(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    after = collection_schedule(datetime(2026, 11, 22, 4, 0, tzinfo=UTC))
    assert before.time == after.time == "03:10"
    assert before.next_run is not None
    assert before.next_run.date() == date(2026, 11, 22)
    assert after.next_run is not None
    assert after.next_run.date() == date(2026, 11, 23)


def test_a_paused_schedule_has_no_next_run():
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(task="evidence.collect_all").update(enabled=False)
    schedule = collection_schedule()
    assert PeriodicTask.objects.filter(task="evidence.collect_all").exists()
    assert schedule.enabled is False
    assert schedule.next_run is None


def test_the_connections_page_query_count_does_not_grow_with_runs(
    personas, browser_for, fake_google, django_assert_num_queries
):
    connection = connected(personas.organisation, fake_google, connected_by=personas.owner)
    browser = browser_for(personas.member)
    url = reverse("evidence_connections")
    CollectionRunFactory.create_batch(3, organisation=personas.organisation, connection=connection)
    browser.get(url)
    # session, user, memberships, connections, who connected them, the runs, the schedule
    with django_assert_num_queries(7):
        assert browser.get(url).status_code == 200
    CollectionRunFactory.create_batch(40, organisation=personas.organisation, connection=connection)
    with django_assert_num_queries(7):
        assert text_of(browser.get(url)).count("View run<") == 30


# --- Disconnecting ----------------------------------------------------------------------------------
def test_disconnecting_google_revokes_at_the_provider_and_deletes_the_tokens(personas, browser_for, fake_google):
    connection = connected(personas.organisation, fake_google)
    refresh_token = decrypt_tokens(connection.encrypted_tokens).refresh_token
    response = browser_for(personas.admin).post(reverse("connection_disconnect", args=[connection.pk]))

    assert response.url == reverse("evidence_connections")
    assert fake_google.refresh_tokens[refresh_token].revoked
    connection.refresh_from_db()
    assert connection.encrypted_tokens == ""
    assert connection.status == ConnectionStatus.DISCONNECTED
    assert any("Google Workspace confirmed" in message for message in messages_of(response))


def test_disconnecting_when_the_provider_does_not_confirm_says_so(personas, browser_for, fake_google):
    connection = connected(personas.organisation, fake_google)
    refresh_token = decrypt_tokens(connection.encrypted_tokens).refresh_token
    fake_google.refresh_tokens[refresh_token].revoked = True  # already withdrawn: Google answers 400
    response = browser_for(personas.owner).post(reverse("connection_disconnect", args=[connection.pk]))
    [message] = messages_of(response)
    assert "did not confirm" in message
    assert "connected apps" in message
    connection.refresh_from_db()
    assert connection.encrypted_tokens == ""


def test_disconnecting_microsoft_explains_how_to_remove_its_consent(personas, browser_for, microsoft_configured):
    connection = ConnectionFactory(
        organisation=personas.organisation,
        provider=MICROSOFT,
        encrypted_tokens=encrypt_tokens(_tokens()),
    )
    browser = browser_for(personas.owner)
    assert escape(Microsoft365Connector.revoke_help) in text_of(browser.get(reverse("evidence_connections")))
    response = browser.post(reverse("connection_disconnect", args=[connection.pk]))
    [message] = messages_of(response)
    assert Microsoft365Connector.revoke_help in message
    connection.refresh_from_db()
    assert connection.encrypted_tokens == ""
    assert connection.status == ConnectionStatus.DISCONNECTED


def _tokens():
    from evidence.connectors.base import TokenSet

    return TokenSet(
        access_token="eyJ0eXAi.fake", refresh_token="0.AAAA-fake", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )


# --- Collecting now ---------------------------------------------------------------------------------
def test_collect_now_queues_a_run_and_shows_it(personas, browser_for, fake_google, django_capture_on_commit_callbacks):
    connection = connected(personas.organisation, fake_google, connected_by=personas.owner)
    browser = browser_for(personas.member)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("connection_run", args=[connection.pk]))
    run = CollectionRun.objects.get(connection=connection)
    assert response.url == reverse("collection_run_detail", args=[run.pk])
    assert messages_of(response) == ["Collecting evidence from Google Workspace now…"]
    run.refresh_from_db()
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
    assert run.requested_by == personas.member
    page = text_of(browser.get(response.url))
    assert f"Checks ({run.checks_passed + run.checks_failed})" in page


def test_collect_now_on_an_inactive_connection_is_refused(personas, browser_for, fake_google):
    connection = ConnectionFactory(organisation=personas.organisation, status=ConnectionStatus.DISCONNECTED)
    response = browser_for(personas.owner).post(reverse("connection_run", args=[connection.pk]))
    assert response.url == reverse("evidence_connections")
    assert messages_of(response) == ["Connect Google Workspace before collecting evidence from it."]
    assert not CollectionRun.objects.exists()


# --- The run page -----------------------------------------------------------------------------------
def test_the_run_page_shows_checks_controls_evidence_and_the_log(personas, browser_for, mfa_control):
    run = CollectionRunFactory(
        organisation=personas.organisation,
        status=RunStatus.PARTIAL,
        attempts=2,
        findings=3,
        checks_passed=1,
        checks_failed=1,
        log=[
            {"at": "2026-11-22T03:10:05+00:00", "level": "info", "message": "Read 40 users."},
            {"at": "2026-11-22T03:10:06+00:00", "level": "warning", "message": "The audit log was refused."},
        ],
    )
    evidence = EvidenceFactory(organisation=personas.organisation, title="Google Workspace: 2-Step Verification")
    failed = CheckResultFactory(organisation=personas.organisation, run=run, passed=False, evidence=evidence)
    failed.controls.set([mfa_control])
    CheckResultFactory(organisation=personas.organisation, run=run, passed=True)

    page = text_of(browser_for(personas.viewer).get(reverse("collection_run_detail", args=[run.pk])))
    assert "Succeeded with warnings" in page
    assert "<dt>Attempts</dt><dd>2</dd>" in page
    assert escape(failed.summary) in page
    assert reverse("control_detail", args=["cyber-essentials", "UA.4"]) in page
    assert 'Cyber Essentials <span class="run-check-ref">UA.4</span>' in page
    assert reverse("evidence_detail", args=[evidence.pk]) in page
    assert 'class="run-log-warning"' in page
    assert "The audit log was refused." in page
    assert "every 2s" not in page  # finished: nothing polls


def test_a_failed_run_explains_the_error(personas, browser_for):
    connection = ConnectionFactory(organisation=personas.organisation, status=ConnectionStatus.NEEDS_RECONNECT)
    run = CollectionRunFactory(
        organisation=personas.organisation,
        connection=connection,
        status=RunStatus.FAILED,
        error="The provider no longer accepts this connection. Please connect again.",
    )
    page = text_of(browser_for(personas.owner).get(reverse("collection_run_detail", args=[run.pk])))
    assert 'role="alert">The provider no longer accepts this connection. Please connect again.</p>' in page
    assert "connect Google Workspace again" in page


def test_a_run_in_progress_polls_until_it_finishes(personas, browser_for):
    run = CollectionRunFactory(organisation=personas.organisation, status=RunStatus.RUNNING, started_at=timezone.now())
    browser = browser_for(personas.member)
    url = reverse("collection_run_detail", args=[run.pk])
    page = text_of(browser.get(url))
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in page

    fragment = browser.get(url, **HTMX)
    assert 'hx-trigger="every 2s"' in text_of(fragment)
    assert "<html" not in text_of(fragment)
    assert "HX-Refresh" not in fragment.headers

    CollectionRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    done = browser.get(url, **HTMX)
    assert "hx-trigger" not in text_of(done)
    assert done.headers["HX-Refresh"] == "true"


def test_the_run_page_query_count_does_not_grow_with_checks(personas, browser_for, django_assert_num_queries):
    run = CollectionRunFactory(organisation=personas.organisation)
    framework = FrameworkFactory()
    controls = ControlFactory.create_batch(3, framework=framework, group=ControlGroupFactory(framework=framework))

    def add_checks(count: int) -> None:
        for check in CheckResultFactory.create_batch(
            count,
            organisation=personas.organisation,
            run=run,
            evidence=EvidenceFactory(organisation=personas.organisation),
        ):
            check.controls.set(controls)

    add_checks(3)
    browser = browser_for(personas.member)
    url = reverse("collection_run_detail", args=[run.pk])
    browser.get(url)
    # session, user, memberships, the run, its checks, their controls
    with django_assert_num_queries(6):
        browser.get(url)
    add_checks(27)
    with django_assert_num_queries(6):
        assert text_of(browser.get(url)).count('class="run-check ') == 30


# --- Who may do what --------------------------------------------------------------------------------
@pytest.fixture
def world(personas, fake_google):
    connection = connected(personas.organisation, fake_google)
    run = CollectionRunFactory(organisation=personas.organisation, connection=connection)
    return connection, run


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer", "consultant"])
def test_every_role_reads_the_pages(personas, browser_for, world, role):
    _connection, run = world
    browser = browser_for(getattr(personas, role))
    assert browser.get(reverse("evidence_connections")).status_code == 200
    assert browser.get(reverse("collection_run_detail", args=[run.pk])).status_code == 200


@pytest.mark.parametrize("role", ["member", "viewer", "consultant"])
def test_only_owners_and_admins_connect_or_disconnect(personas, browser_for, world, role):
    connection, _run = world
    browser = browser_for(getattr(personas, role))
    assert browser.post(reverse("connection_connect", args=[GOOGLE])).status_code == 403
    assert browser.get(reverse("connection_callback", args=[GOOGLE]), {"code": "x", "state": "y"}).status_code == 403
    assert browser.post(reverse("connection_disconnect", args=[connection.pk])).status_code == 403
    connection.refresh_from_db()
    assert connection.is_active
    assert SESSION_KEY not in browser.session


def test_viewers_cannot_collect(personas, browser_for, world):
    connection, _run = world
    assert browser_for(personas.viewer).post(reverse("connection_run", args=[connection.pk])).status_code == 403
    assert CollectionRun.objects.filter(connection=connection).count() == 1


def test_outsiders_get_404_for_another_organisations_connection_and_run(personas, browser_for, world):
    connection, run = world
    browser = browser_for(personas.outsider)
    assert browser.post(reverse("connection_disconnect", args=[connection.pk])).status_code == 404
    assert browser.post(reverse("connection_run", args=[connection.pk])).status_code == 404
    assert browser.get(reverse("collection_run_detail", args=[run.pk])).status_code == 404
    assert "Example Trading" not in text_of(browser.get(reverse("evidence_connections")))
    connection.refresh_from_db()
    assert connection.is_active


def test_anonymous_visitors_are_sent_to_sign_in(client_for, world):
    connection, run = world
    anonymous = client_for(None)
    for method, url in [
        ("get", reverse("evidence_connections")),
        ("get", reverse("collection_run_detail", args=[run.pk])),
        ("post", reverse("connection_connect", args=[GOOGLE])),
        ("get", reverse("connection_callback", args=[GOOGLE])),
        ("post", reverse("connection_run", args=[connection.pk])),
    ]:
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("account_login")), url


def test_wrong_methods_are_refused(personas, browser_for, world):
    connection, run = world
    browser = browser_for(personas.owner)
    assert browser.get(reverse("connection_connect", args=[GOOGLE])).status_code == 405
    assert browser.post(reverse("connection_callback", args=[GOOGLE])).status_code == 405
    assert browser.get(reverse("connection_disconnect", args=[connection.pk])).status_code == 405
    assert browser.get(reverse("connection_run", args=[connection.pk])).status_code == 405
    assert browser.post(reverse("collection_run_detail", args=[run.pk])).status_code == 405
    assert browser.post(reverse("evidence_connections")).status_code == 405


def test_malformed_ids_are_not_found(personas, browser_for):
    browser = browser_for(personas.owner)
    assert browser.get("/evidence/runs/not-a-number/").status_code == 404
    assert browser.get(reverse("collection_run_detail", args=[987654])).status_code == 404
    assert browser.post(reverse("connection_run", args=[987654])).status_code == 404
