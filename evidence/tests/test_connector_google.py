"""Google Workspace connector, driven over HTTP against a local fake of Google's sign-in service and
Admin SDK. Expected numbers follow the rules of the fake's generated tenant (see `make_users`)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import yaml

from compliance.library_format import SafeLoader
from evidence.connectors import google as google_module
from evidence.connectors.base import (
    Finding,
    InsufficientScope,
    ProviderUnavailable,
    RateLimited,
    ReconnectNeeded,
    RunLog,
    TokenSet,
    UnexpectedResponse,
    pkce_pair,
)
from evidence.connectors.google import GoogleWorkspaceConnector
from evidence.tests.fake_google import (
    ACTIVITY_PATH,
    ALL_SCOPES,
    AUDIT_SCOPE,
    CLIENT_ID,
    CUSTOMER_PATH,
    GROUPS_PATH,
    LOGIN_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USER_SCOPE,
    USERS_PATH,
    FakeGoogle,
    Reply,
    insufficient_scope,
    malformed,
    not_authorised,
    rate_limited,
    unavailable,
)

TODAY = date(2026, 11, 22)
REDIRECT_URI = "https://greenlight.example/evidence/connectors/google/callback"
LIBRARY = Path(__file__).resolve().parents[2] / "compliance" / "library"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle().start()
    yield fake
    fake.stop()


@pytest.fixture
def transport() -> httpx2.HTTPTransport:
    # One plain-HTTP transport per test: a client of its own would load the CA bundle on every call.
    return httpx2.HTTPTransport(verify=False)


@pytest.fixture
def connector(google: FakeGoogle, transport: httpx2.HTTPTransport) -> GoogleWorkspaceConnector:
    return GoogleWorkspaceConnector(google.settings(), transport=transport)


def collect(
    connector: GoogleWorkspaceConnector, tokens: TokenSet, **options: Any
) -> tuple[dict[str, Finding], RunLog, list[TokenSet]]:
    refreshed: list[TokenSet] = []
    log = RunLog()
    with connector.api(tokens, on_refreshed=refreshed.append, **options) as api:
        findings = connector.collect(api, today=TODAY, log=log)
    return {finding.key: finding for finding in findings}, log, refreshed


def messages(log: RunLog, level: str) -> list[str]:
    return [line["message"] for line in log.lines if line["level"] == level]


# --- Settings and OAuth ----------------------------------------------------------------------------
def test_not_configured_without_client_credentials(settings: Any) -> None:
    settings.EVIDENCE_CONNECTORS = {"google_workspace": {"client_id": "", "client_secret": ""}}
    assert GoogleWorkspaceConnector.from_settings() is None


def test_configured_from_settings(settings: Any, google: FakeGoogle) -> None:
    settings.EVIDENCE_CONNECTORS = {"google_workspace": vars(google.settings())}
    connector = GoogleWorkspaceConnector.from_settings()
    assert connector is not None
    assert connector.config == google.settings()


def test_authorisation_url_asks_for_offline_read_only_access_with_pkce(connector: GoogleWorkspaceConnector) -> None:
    _verifier, challenge = pkce_pair()
    url = connector.authorisation_url(state="state-123", code_challenge=challenge, redirect_uri=REDIRECT_URI)

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == connector.config.authorise_url
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["response_type"] == "code"
    assert query["state"] == "state-123"
    assert query["code_challenge"] == challenge
    assert query["code_challenge_method"] == "S256"
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["include_granted_scopes"] == "true"
    assert set(query["scope"].split()) == set(ALL_SCOPES)
    assert all(scope.endswith(".readonly") for scope in query["scope"].split())


def test_code_exchange_returns_tokens_with_a_refresh_token(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    verifier, challenge = pkce_pair()
    url = connector.authorisation_url(state="state-abc", code_challenge=challenge, redirect_uri=REDIRECT_URI)
    consent = httpx2.get(url, verify=False)
    assert consent.status_code == 302
    back = {key: values[0] for key, values in parse_qs(urlsplit(consent.headers["location"]).query).items()}
    assert back["state"] == "state-abc"

    tokens = connector.exchange_code(code=back["code"], code_verifier=verifier, redirect_uri=REDIRECT_URI)

    assert tokens.access_token.startswith("ya29.")
    assert tokens.refresh_token.startswith("1//")
    assert set(tokens.scopes) == set(ALL_SCOPES)
    assert tokens.expires_at is not None
    assert timedelta(minutes=58) < tokens.expires_at - datetime.now(UTC) < timedelta(minutes=61)
    [exchange] = google.seen(TOKEN_PATH)
    assert exchange.form["grant_type"] == "authorization_code"
    assert exchange.form["code_verifier"] == verifier
    assert exchange.form["redirect_uri"] == REDIRECT_URI


def test_code_exchange_with_the_wrong_verifier_is_refused(connector: GoogleWorkspaceConnector) -> None:
    _verifier, challenge = pkce_pair()
    url = connector.authorisation_url(state="s", code_challenge=challenge, redirect_uri=REDIRECT_URI)
    code = parse_qs(urlsplit(httpx2.get(url, verify=False).headers["location"]).query)["code"][0]
    other_verifier, _challenge = pkce_pair()

    with pytest.raises(ReconnectNeeded):
        connector.exchange_code(code=code, code_verifier=other_verifier, redirect_uri=REDIRECT_URI)


def test_expired_token_is_refreshed_before_use(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    tokens = google.issue_tokens()
    expired = replace(tokens, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    refreshed: list[TokenSet] = []

    with connector.api(expired, on_refreshed=refreshed.append) as api:
        label = connector.account_label(api)

    assert label == "Example Trading Ltd (example.co.uk)"
    [renewed] = refreshed
    assert renewed.access_token != tokens.access_token
    assert renewed.refresh_token == tokens.refresh_token
    assert renewed.scopes == tokens.scopes
    assert google.seen(TOKEN_PATH)[0].form["grant_type"] == "refresh_token"
    [call] = google.seen(CUSTOMER_PATH)
    assert call.headers["authorization"] == f"Bearer {renewed.access_token}"


def test_token_refused_with_401_is_refreshed_and_the_call_retried(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    tokens = google.issue_tokens()
    google.expire(tokens.access_token)
    refreshed: list[TokenSet] = []

    with connector.api(tokens, on_refreshed=refreshed.append) as api:
        assert connector.account_label(api) == "Example Trading Ltd (example.co.uk)"

    assert len(refreshed) == 1
    first, second = google.seen(CUSTOMER_PATH)
    assert first.headers["authorization"] == f"Bearer {tokens.access_token}"
    assert second.headers["authorization"] == f"Bearer {refreshed[0].access_token}"


def test_invalid_grant_on_refresh_needs_reconnecting(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    tokens = google.issue_tokens()
    google.refresh_tokens[tokens.refresh_token].revoked = True

    with pytest.raises(ReconnectNeeded):
        connector.refresh(tokens)
    with pytest.raises(ReconnectNeeded):
        collect(connector, replace(tokens, expires_at=datetime.now(UTC) - timedelta(minutes=1)))


def test_refresh_without_a_refresh_token_needs_reconnecting(connector: GoogleWorkspaceConnector) -> None:
    with pytest.raises(ReconnectNeeded):
        connector.refresh(TokenSet(access_token="ya29.orphan"))


def test_revoke_ends_the_grant(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    tokens = google.issue_tokens()

    assert connector.revoke(tokens) is True

    assert google.seen(REVOKE_PATH)[0].form == {"token": tokens.refresh_token}
    with pytest.raises(ReconnectNeeded):
        connector.refresh(tokens)
    with connector.api(tokens, on_refreshed=lambda _: None) as api, pytest.raises(ReconnectNeeded):
        connector.account_label(api)
    assert connector.revoke(tokens) is False  # already revoked


def test_revoke_never_raises(google: FakeGoogle, transport: httpx2.HTTPTransport) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        closed_port = spare.getsockname()[1]
    unreachable = replace(google.settings(), revoke_url=f"http://127.0.0.1:{closed_port}/revoke")
    tokens = google.issue_tokens()

    assert GoogleWorkspaceConnector(unreachable, transport=transport).revoke(tokens) is False
    assert GoogleWorkspaceConnector(replace(google.settings(), revoke_url="")).revoke(tokens) is False
    assert GoogleWorkspaceConnector(google.settings()).revoke(TokenSet(access_token="")) is False


# --- Collecting ------------------------------------------------------------------------------------
def test_collect_reads_the_whole_tenant(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    findings, log, refreshed = collect(connector, google.issue_tokens())

    assert list(findings) == [
        "google.2sv_enrolment",
        "google.2sv_enforcement",
        "google.super_admins",
        "google.admins_without_2sv",
        "google.dormant_accounts",
        "google.suspended_admins",
        "google.user_register",
        "google.admin_roles",
        "google.groups",
        "google.login_activity",
        "google.admin_activity",
    ]
    assert refreshed == []
    assert messages(log, "warning") == []
    assert messages(log, "info") == [
        "Read 200 users in 1 page.",
        "Read 6 administrator roles and 6 role assignments.",
        "Read 11 groups in 1 page.",
        "Read 214 sign-in events from the last 30 days in 1 page.",
        "Read 6 admin console events from the last 30 days in 1 page.",
    ]
    [users_call] = google.seen(USERS_PATH)
    assert users_call.query == {"customer": "my_customer", "maxResults": "500", "projection": "basic"}
    assert google.seen(LOGIN_PATH)[0].query["startTime"] == "2026-10-23T00:00:00.000Z"


def test_2sv_enrolment_counts_active_users_only(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    enrolment = findings["google.2sv_enrolment"]
    assert enrolment.summary == "186 of 196 active users are enrolled in 2-Step Verification (22 November 2026)."
    assert enrolment.passed is False
    assert enrolment.evidence_type == "configuration"
    not_enrolled = [google.users[i]["primaryEmail"] for i in range(0, 200, 20)]
    assert enrolment.details == {
        "active_users": 196,
        "enrolled": 186,
        "not_enrolled": 10,
        "not_enrolled_sample": not_enrolled,
    }
    assert len(enrolment.snapshot) == 196
    assert enrolment.snapshot[0] == {
        "email": google.users[0]["primaryEmail"],
        "name": google.users[0]["name"]["fullName"],
        "enrolled_2sv": False,
    }

    enforcement = findings["google.2sv_enforcement"]
    assert enforcement.summary == "2-Step Verification is not enforced for 20 of 196 active users (22 November 2026)."
    assert enforcement.passed is False
    assert enforcement.details["enforced"] == 176


def test_2sv_checks_pass_when_every_active_user_is_enrolled_and_enforced(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    for user in google.users:
        user["isEnrolledIn2Sv"] = user["isEnforcedIn2Sv"] = not (user["suspended"] or user["archived"])

    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    assert findings["google.2sv_enrolment"].passed is True
    assert findings["google.2sv_enrolment"].details["not_enrolled_sample"] == []
    assert findings["google.2sv_enforcement"].passed is True
    assert findings["google.2sv_enforcement"].summary == (
        "2-Step Verification is enforced for all 196 active users (22 November 2026)."
    )


def test_admin_checks_on_a_healthy_tenant(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    supers = findings["google.super_admins"]
    assert supers.passed is True
    assert supers.summary == (
        "There are 3 active super administrators (22 November 2026): between 2 and 4 is the recommended number."
    )
    assert supers.details["super_admin_sample"] == [google.users[i]["primaryEmail"] for i in (1, 2, 3)]
    admins_2sv = findings["google.admins_without_2sv"]
    assert admins_2sv.passed is True
    assert admins_2sv.summary == (
        "All 5 active administrator accounts are enrolled in 2-Step Verification (22 November 2026)."
    )
    suspended = findings["google.suspended_admins"]
    assert suspended.passed is True
    assert suspended.summary == "No suspended or archived account holds an administrator role (22 November 2026)."


@pytest.mark.parametrize(
    ("super_admins", "passed", "reason"),
    [
        ((1,), False, "with fewer than 2, losing one account can lock the business out of its admin console"),
        ((1, 2), True, "between 2 and 4 is the recommended number"),
        ((1, 2, 3, 4), True, "between 2 and 4 is the recommended number"),
        ((1, 2, 3, 4, 5), False, "more than 4 widens what one stolen account can do"),
    ],
)
def test_super_admin_count_must_be_between_two_and_four(
    google: FakeGoogle,
    connector: GoogleWorkspaceConnector,
    super_admins: tuple[int, ...],
    passed: bool,
    reason: str,
) -> None:
    for i, user in enumerate(google.users):
        user["isAdmin"] = i in super_admins

    finding = collect(connector, google.issue_tokens())[0]["google.super_admins"]

    assert finding.passed is passed
    assert finding.details["super_admins"] == len(super_admins)
    assert finding.summary.endswith(f"(22 November 2026): {reason}.")


def test_admin_without_2sv_and_suspended_admin_fail(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.users[2]["isEnrolledIn2Sv"] = False
    google.users[99]["isAdmin"] = True  # suspended
    google.users[98]["isDelegatedAdmin"] = True  # archived

    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    admins_2sv = findings["google.admins_without_2sv"]
    assert admins_2sv.passed is False
    assert admins_2sv.summary == (
        "1 of 5 active administrator accounts is not enrolled in 2-Step Verification (22 November 2026)."
    )
    assert admins_2sv.details["without_2sv_sample"] == [google.users[2]["primaryEmail"]]
    suspended = findings["google.suspended_admins"]
    assert suspended.passed is False
    assert suspended.summary == (
        "2 suspended or archived accounts still hold an administrator role (22 November 2026)."
    )
    assert {row["email"]: row["status"] for row in suspended.snapshot} == {
        google.users[98]["primaryEmail"]: "archived",
        google.users[99]["primaryEmail"]: "suspended",
    }
    assert findings["google.super_admins"].details["super_admins"] == 3  # a suspended admin cannot act


def test_dormant_accounts_count_from_creation_when_never_used(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    google.users[113]["creationTime"] = "2025-01-06T10:00:00.000Z"  # never signed in, created long ago

    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    dormant = findings["google.dormant_accounts"]
    assert dormant.passed is False
    assert dormant.summary == "5 of 196 active users have not signed in for more than 90 days (22 November 2026)."
    assert dormant.details["never_signed_in"] == 2
    assert dormant.details["dormant_sample"] == [google.users[i]["primaryEmail"] for i in (7, 57, 107, 113, 157)]
    last_login = (TODAY - timedelta(days=120)).isoformat()
    assert dormant.snapshot[0] == {
        "email": google.users[7]["primaryEmail"],
        "name": google.users[7]["name"]["fullName"],
        "last_login": last_login,
        "created": "2024-11-22",
    }
    assert dormant.snapshot[3]["last_login"] is None  # user 13, a new starter, is not dormant


def test_register_roles_and_groups_are_evidence_only(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    register = findings["google.user_register"]
    assert register.passed is None
    assert register.evidence_type == "register"
    assert register.summary == (
        "Google Workspace has 200 user accounts: 196 active, 2 suspended and 2 archived (22 November 2026)."
    )
    assert len(register.snapshot) == 200
    assert set(register.snapshot[0]) == {
        "email", "name", "status", "super_admin", "delegated_admin", "enrolled_2sv", "enforced_2sv",
        "last_login", "created", "org_unit", "dormant",
    }  # fmt: skip

    roles = findings["google.admin_roles"]
    assert roles.passed is None
    assert roles.summary == "6 administrator role assignments across 4 roles, 3 of them Super Admin (22 November 2026)."
    assert roles.details["by_role"] == {
        "Super Admin": 3,
        "User Management Admin": 1,
        "Help Desk Admin": 1,
        "Finance reviewer": 1,
    }
    assert {"role": "User Management Admin", "super_admin_role": False, "assignee": google.users[4]["primaryEmail"],
            "assignee_type": "user", "scope": "CUSTOMER"} in roles.snapshot  # fmt: skip
    assert {"role": "Finance reviewer", "super_admin_role": False, "assignee": "03fake0group0finance",
            "assignee_type": "group", "scope": "ORG_UNIT"} in roles.snapshot  # fmt: skip

    groups = findings["google.groups"]
    assert groups.passed is None
    assert groups.summary == (
        "11 groups with 401 direct memberships in total; 1 group has no members (22 November 2026)."
    )
    assert groups.snapshot[0] == {"email": "all-staff@example.co.uk", "name": "All staff", "direct_members": 196}


def test_audit_logs_cover_the_last_30_days(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    findings, _log, _refreshed = collect(connector, google.issue_tokens())

    logins = findings["google.login_activity"]
    assert logins.evidence_type == "log"
    assert logins.passed is None
    assert logins.summary == (
        "In the 30 days to 22 November 2026: 194 successful sign-ins, 18 failed sign-ins and 2 suspicious sign-ins."
    )
    assert logins.details["failed"] == 18
    assert logins.details["most_failed_users"][0] == {"email": google.users[3]["primaryEmail"], "failures": 1}
    assert logins.snapshot["from"] == "2026-10-23"
    assert len(logins.snapshot["events"]) == 20  # failures and suspicious sign-ins only
    assert {row["event"] for row in logins.snapshot["events"]} == {"login_failure", "suspicious_login"}

    admin = findings["google.admin_activity"]
    assert admin.summary == (
        "In the 30 days to 22 November 2026, 2 administrators made 6 changes in the Google Workspace admin console."
    )
    assert admin.details["by_administrator"] == {google.users[1]["primaryEmail"]: 4, google.users[2]["primaryEmail"]: 2}
    assert admin.snapshot["events"][0]["event"] == "CREATE_USER"
    assert admin.snapshot["events"][0]["target"] == google.users[-1]["primaryEmail"]


def test_sign_in_flagged_suspicious_by_google_counts_as_suspicious(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    success = google.login_activity[0]["events"][0]
    assert success["name"] == "login_success"
    success["parameters"].append({"name": "is_suspicious", "boolValue": True})

    logins = collect(connector, google.issue_tokens())[0]["google.login_activity"]

    assert logins.details["suspicious"] == 3
    assert logins.details["successful"] == 194


def test_snapshot_rows_are_capped_with_a_warning(
    google: FakeGoogle, connector: GoogleWorkspaceConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(google_module, "EVENT_ROWS_LIMIT", 5)

    findings, log, _refreshed = collect(connector, google.issue_tokens())

    assert len(findings["google.login_activity"].snapshot["events"]) == 5
    assert findings["google.login_activity"].snapshot["events_not_listed"] == 15
    assert findings["google.login_activity"].details["failed"] == 18
    assert "The sign-in snapshot keeps the first 5 notable events; 15 more were counted but not listed." in (
        messages(log, "warning")
    )


def test_snapshots_hold_no_tokens(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    tokens = google.issue_tokens()
    findings, _log, _refreshed = collect(connector, tokens)

    dumped = json.dumps([finding.snapshot for finding in findings.values()])
    assert tokens.access_token not in dumped
    assert tokens.refresh_token not in dumped


def test_pagination_walks_every_page(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.page_cap = 30

    findings, log, _refreshed = collect(connector, google.issue_tokens())

    assert "Read 200 users in 7 pages." in messages(log, "info")
    assert "Read 214 sign-in events from the last 30 days in 8 pages." in messages(log, "info")
    calls = google.seen(USERS_PATH)
    assert len(calls) == 7
    assert "pageToken" not in calls[0].query
    assert all(call.query["pageToken"] for call in calls[1:])
    assert findings["google.user_register"].details["users"] == 200
    assert len({row["email"] for row in findings["google.user_register"].snapshot}) == 200
    assert findings["google.2sv_enrolment"].details["enrolled"] == 186


# --- Refusals and failures -------------------------------------------------------------------------
def test_403_on_the_user_listing_fails_the_run(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(USERS_PATH, not_authorised())

    with pytest.raises(InsufficientScope):
        collect(connector, google.issue_tokens())


def test_user_scope_not_granted_fails_the_run(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    scopes = tuple(scope for scope in ALL_SCOPES if scope != USER_SCOPE)

    with pytest.raises(InsufficientScope):
        collect(connector, google.issue_tokens(scopes))


def test_audit_scope_not_granted_skips_the_logs_with_a_warning(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    scopes = tuple(scope for scope in ALL_SCOPES if scope != AUDIT_SCOPE)

    findings, log, _refreshed = collect(connector, google.issue_tokens(scopes))

    assert "google.login_activity" not in findings
    assert "google.admin_activity" not in findings
    assert len(findings) == 9
    assert findings["google.2sv_enrolment"].details["enrolled"] == 186
    warnings = messages(log, "warning")
    assert len(warnings) == 2
    assert warnings[0].startswith("Google refused access to the sign-in audit log, so that evidence was skipped.")
    assert warnings[1].startswith("Google refused access to the admin console audit log")


def test_403_on_groups_skips_only_groups(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(GROUPS_PATH, insufficient_scope())

    findings, log, _refreshed = collect(connector, google.issue_tokens())

    assert "google.groups" not in findings
    assert "google.login_activity" in findings
    assert len(messages(log, "warning")) == 1


def test_429_waits_for_retry_after_then_succeeds(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(USERS_PATH, rate_limited(7))
    sleeps = Sleeps()

    findings, _log, _refreshed = collect(connector, google.issue_tokens(), sleep=sleeps)

    assert sleeps == [7.0]
    assert len(google.seen(USERS_PATH)) == 2
    assert findings["google.user_register"].details["users"] == 200


def test_429_with_a_long_retry_after_gives_up_for_later(
    google: FakeGoogle, connector: GoogleWorkspaceConnector
) -> None:
    google.script(ACTIVITY_PATH, rate_limited(3600))
    sleeps = Sleeps()

    with pytest.raises(RateLimited) as raised:
        collect(connector, google.issue_tokens(), sleep=sleeps)

    assert raised.value.retry_after == 3600
    assert sleeps == []


def test_5xx_is_retried_with_backoff(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(GROUPS_PATH, unavailable(503), unavailable(500))
    sleeps = Sleeps()

    findings, _log, _refreshed = collect(connector, google.issue_tokens(), sleep=sleeps)

    assert sleeps == [0.5, 1.0]
    assert findings["google.groups"].details["groups"] == 11


def test_persistent_5xx_means_provider_unavailable(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(USERS_PATH, *[unavailable()] * 5)

    with pytest.raises(ProviderUnavailable):
        collect(connector, google.issue_tokens(), sleep=Sleeps())

    assert len(google.seen(USERS_PATH)) == 5


def test_malformed_json_is_an_unexpected_response(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(USERS_PATH, malformed())

    with pytest.raises(UnexpectedResponse):
        collect(connector, google.issue_tokens())


def test_wrong_shape_is_an_unexpected_response(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    google.script(USERS_PATH, Reply(body=b'{"kind": "admin#directory#users", "users": "none"}'))

    with pytest.raises(UnexpectedResponse):
        collect(connector, google.issue_tokens())


# --- Library and scale -----------------------------------------------------------------------------
def library_controls() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    refs, auto_fail = set(), set()
    for path in LIBRARY.glob("*.yaml"):
        data = yaml.load(path.read_text(), Loader=SafeLoader)  # libyaml's safe loader: the same rules, faster
        slug = data["framework"]["slug"]
        for control in data["controls"]:
            refs.add((slug, str(control["ref"])))
            if control.get("auto_fail"):
                auto_fail.add((slug, str(control["ref"])))
    return refs, auto_fail


def test_every_control_ref_exists_in_the_library(google: FakeGoogle, connector: GoogleWorkspaceConnector) -> None:
    findings, _log, _refreshed = collect(connector, google.issue_tokens())
    refs, auto_fail = library_controls()

    used = {(control.framework, control.ref) for finding in findings.values() for control in finding.controls}
    assert used - refs == set()
    assert all(finding.controls for finding in findings.values())
    # Cyber Essentials fails outright without MFA on cloud services: the 2SV checks must reach that control.
    mfa = {(control.framework, control.ref) for control in findings["google.2sv_enrolment"].controls}
    assert mfa & auto_fail == {("cyber-essentials", "UA.4")}


def test_a_5000_user_tenant_is_read_in_full(transport: httpx2.HTTPTransport) -> None:
    fake = FakeGoogle(users=5000).start()
    try:
        connector = GoogleWorkspaceConnector(fake.settings(), transport=transport)
        findings, log, _refreshed = collect(connector, fake.issue_tokens())
    finally:
        fake.stop()

    assert messages(log, "info")[0] == "Read 5,000 users in 10 pages."
    assert "Read 5,350 sign-in events from the last 30 days in 6 pages." in messages(log, "info")
    enrolment = findings["google.2sv_enrolment"]
    assert enrolment.summary == "4,650 of 4,900 active users are enrolled in 2-Step Verification (22 November 2026)."
    assert enrolment.details["not_enrolled"] == 250
    assert len(enrolment.details["not_enrolled_sample"]) == 50
    assert findings["google.2sv_enforcement"].details["not_enforced"] == 500
    assert findings["google.dormant_accounts"].details["dormant"] == 100
    assert len(findings["google.dormant_accounts"].snapshot) == 100
    assert findings["google.user_register"].summary == (
        "Google Workspace has 5,000 user accounts: 4,900 active, 50 suspended and 50 archived (22 November 2026)."
    )
    assert findings["google.login_activity"].details["failed"] == 450
    assert findings["google.login_activity"].details["suspicious"] == 50
    assert findings["google.groups"].details["groups"] == 203
