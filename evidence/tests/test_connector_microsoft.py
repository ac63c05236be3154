"""The Microsoft 365 connector against a local fake of Entra sign-in and Microsoft Graph."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from compliance.library_format import SafeLoader
from evidence.connectors.base import (
    SAMPLE_LIMIT,
    ConnectorError,
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
from evidence.connectors.microsoft import Microsoft365Connector
from evidence.tests.fake_microsoft import (
    ALL_PERMISSIONS,
    CLIENT_ID,
    TODAY,
    FakeMicrosoft,
    FakeTenant,
    ca_policy,
    denied,
    malformed,
    ok,
    throttled,
    unavailable,
    user_member,
)

REDIRECT_URI = "https://greenlight.example/evidence/connections/microsoft/callback"
GRAPH_SCOPES = [
    f"https://graph.microsoft.com/{name}"
    for name in (
        "User.Read.All",
        "AuditLog.Read.All",
        "Directory.Read.All",
        "Policy.Read.All",
        "DeviceManagementManagedDevices.Read.All",
        "UserAuthenticationMethod.Read.All",
        "Reports.Read.All",
    )
]
REGISTRATION = "reports/authenticationMethods/userRegistrationDetails"
LIBRARY = Path(__file__).resolve().parents[2] / "compliance" / "library"


@pytest.fixture
def microsoft():
    server = FakeMicrosoft(FakeTenant.generate(40)).start()
    yield server
    server.stop()


@pytest.fixture
def connector(microsoft):
    return Microsoft365Connector(microsoft.settings())


def signed_in(microsoft: FakeMicrosoft, *, expired: bool = False) -> TokenSet:
    return microsoft.issue_tokens(expires_in=-300 if expired else None)


@dataclass
class Run:
    findings: dict[str, Finding] = field(default_factory=dict)
    log: RunLog = field(default_factory=RunLog)
    sleeps: list[float] = field(default_factory=list)
    refreshed: list[TokenSet] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [line["message"] for line in self.log.lines if line["level"] == "warning"]

    def messages(self) -> list[str]:
        return [line["message"] for line in self.log.lines]


def collect(connector: Microsoft365Connector, microsoft: FakeMicrosoft, run: Run | None = None) -> Run:
    run = run or Run()
    tokens = signed_in(microsoft)
    with connector.api(tokens, on_refreshed=run.refreshed.append, sleep=run.sleeps.append) as api:
        findings = connector.collect(api, today=TODAY, log=run.log)
    run.findings = {finding.key: finding for finding in findings}
    assert len(run.findings) == len(findings), "finding keys must be unique"
    return run


# --- Signing in ------------------------------------------------------------------------------------
def test_authorisation_url_asks_for_offline_access_the_graph_scopes_pkce_and_state(connector, microsoft):
    url = connector.authorisation_url(state="st4te", code_challenge="ch4llenge", redirect_uri=REDIRECT_URI)

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == microsoft.settings_entry()["authorise_url"]
    assert query["scope"].split() == ["offline_access", *GRAPH_SCOPES]
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["response_mode"] == "query"
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["state"] == "st4te"
    assert query["code_challenge"] == "ch4llenge"
    assert query["code_challenge_method"] == "S256"


def test_the_code_flow_returns_tokens_with_a_refresh_token(connector, microsoft):
    verifier, challenge = pkce_pair()
    url = connector.authorisation_url(state="st4te", code_challenge=challenge, redirect_uri=REDIRECT_URI)
    redirect = microsoft.sign_in(url)

    tokens = connector.exchange_code(code=redirect["code"], code_verifier=verifier, redirect_uri=REDIRECT_URI)

    assert redirect["state"] == "st4te"
    assert tokens.access_token
    assert tokens.refresh_token
    assert set(tokens.scopes) == set(GRAPH_SCOPES)
    assert timedelta(minutes=55) < tokens.expires_at - datetime.now(UTC) <= timedelta(seconds=3599)
    form = microsoft.seen("token")[0].form
    assert form["grant_type"] == "authorization_code"
    assert form["code_verifier"] == verifier
    assert form["client_secret"] == microsoft.settings_entry()["client_secret"]


def test_a_code_exchanged_with_the_wrong_verifier_is_refused(connector, microsoft):
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    redirect = microsoft.sign_in(
        connector.authorisation_url(state="s", code_challenge=challenge, redirect_uri=REDIRECT_URI)
    )

    with pytest.raises(ConnectorError):
        connector.exchange_code(code=redirect["code"], code_verifier=other_verifier, redirect_uri=REDIRECT_URI)


def test_an_expired_token_is_refreshed_before_use_and_handed_back(connector, microsoft):
    tokens = signed_in(microsoft, expired=True)
    refreshed: list[TokenSet] = []

    with connector.api(tokens, on_refreshed=refreshed.append) as api:
        label = connector.account_label(api)

    assert label == "Contoso Ltd (contoso.co.uk)"
    assert len(refreshed) == 1
    assert refreshed[0].refresh_token not in ("", tokens.refresh_token)  # Entra rotates refresh tokens
    form = microsoft.seen("token")[0].form
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == tokens.refresh_token
    assert form["scope"].split() == ["offline_access", *GRAPH_SCOPES]
    assert len(microsoft.seen("organization")) == 1


def test_a_401_triggers_one_refresh_and_a_retry(connector, microsoft):
    tokens = signed_in(microsoft)
    microsoft.expire_access_tokens()
    refreshed: list[TokenSet] = []

    with connector.api(tokens, on_refreshed=refreshed.append) as api:
        label = connector.account_label(api)

    assert label == "Contoso Ltd (contoso.co.uk)"
    first, second = microsoft.seen("organization")
    assert first.headers["authorization"] == f"Bearer {tokens.access_token}"
    assert second.headers["authorization"] == f"Bearer {refreshed[0].access_token}"


def test_a_revoked_refresh_token_asks_the_user_to_reconnect(connector, microsoft):
    tokens = signed_in(microsoft, expired=True)
    microsoft.revoke_refresh_tokens()

    with connector.api(tokens, on_refreshed=lambda _: None) as api, pytest.raises(ReconnectNeeded):
        connector.account_label(api)


def test_refreshing_without_a_refresh_token_asks_to_reconnect_without_calling_microsoft(connector, microsoft):
    with pytest.raises(ReconnectNeeded):
        connector.refresh(TokenSet(access_token="only-access"))

    assert microsoft.seen("token") == []


def test_revoke_is_not_possible_and_says_how_to_remove_consent(connector, microsoft):
    assert connector.revoke(signed_in(microsoft)) is False
    assert microsoft.requests == []
    assert "Enterprise applications" in Microsoft365Connector.revoke_help
    assert "Microsoft Entra" in Microsoft365Connector.revoke_help


def test_from_settings_needs_a_client_id_and_secret(settings, microsoft):
    settings.EVIDENCE_CONNECTORS = {"microsoft_365": {**microsoft.settings_entry(), "client_secret": ""}}
    assert Microsoft365Connector.from_settings() is None

    settings.EVIDENCE_CONNECTORS = {"microsoft_365": microsoft.settings_entry()}
    connector = Microsoft365Connector.from_settings()
    assert connector is not None
    assert connector.config.api_base_url == microsoft.graph_url


# --- Collecting ------------------------------------------------------------------------------------
def test_collect_reports_exact_figures_for_a_40_user_tenant(connector, microsoft):
    run = collect(connector, microsoft)
    found = run.findings

    assert list(found) == [
        "microsoft.mfa_registration",
        "microsoft.mfa_enforced",
        "microsoft.global_admins",
        "microsoft.admin_mfa",
        "microsoft.dormant_accounts",
        "microsoft.guest_users",
        "microsoft.user_register",
        "microsoft.directory_roles",
        "microsoft.conditional_access",
        "microsoft.device_compliance",
    ]
    mfa = found["microsoft.mfa_registration"]
    assert mfa.summary == (
        "34 of 36 enabled member accounts have registered a multi-factor authentication method (22 November 2026)."
    )
    assert mfa.passed is False
    assert mfa.evidence_type == "report"
    assert mfa.details["not_registered_sample"] == ["user0000@contoso.co.uk", "user0020@contoso.co.uk"]
    assert mfa.details["source"] == "registration report"
    assert len(mfa.snapshot) == 36

    enforced = found["microsoft.mfa_enforced"]
    assert enforced.passed is True
    assert "“Require MFA for all users”" in enforced.summary

    admins = found["microsoft.global_admins"]
    assert admins.passed is True
    assert admins.summary == (
        "3 accounts hold the Global Administrator role; between 2 and 4 is recommended (22 November 2026)."
    )
    assert admins.details["global_admins"] == [f"user000{n}@contoso.co.uk" for n in (1, 2, 3)]

    admin_mfa = found["microsoft.admin_mfa"]
    assert admin_mfa.passed is False
    assert admin_mfa.summary == (
        "1 of 4 administrator accounts has not registered a multi-factor authentication method (22 November 2026)."
    )
    assert admin_mfa.details["without_mfa_sample"] == ["user0000@contoso.co.uk"]

    dormant = found["microsoft.dormant_accounts"]
    assert dormant.passed is False
    assert dormant.summary == (
        "4 of 38 enabled accounts have not signed in within the last 90 days (22 November 2026)."
    )
    assert dormant.details["never_signed_in"] == 2
    assert dormant.details["dormant_sample"] == [f"user00{n}@contoso.co.uk" for n in (10, 11, 30, 31)]

    guests = found["microsoft.guest_users"]
    assert guests.passed is None
    assert guests.summary == "The tenant has 2 guest accounts, 2 enabled (22 November 2026)."
    assert guests.details["guest_sample"] == ["guest0019@partner.example", "guest0039@partner.example"]

    register = found["microsoft.user_register"]
    assert register.evidence_type == "register"
    assert register.summary == (
        "40 user accounts: 36 enabled members, 2 enabled guests and 2 disabled (22 November 2026)."
    )
    assert len(register.snapshot) == 40
    assert register.snapshot[0] == {
        "email": "user0000@contoso.co.uk",
        "name": "User 0000",
        "type": "member",
        "enabled": True,
        "created": "2025-07-10",
        "last_sign_in": "2026-11-20",
        "admin": True,
        "mfa_registered": False,
        "methods": [],
    }

    roles = found["microsoft.directory_roles"]
    assert roles.summary == "3 active administrator roles with 5 assignments (22 November 2026)."
    assert roles.evidence_type == "configuration"

    policies = found["microsoft.conditional_access"]
    assert policies.summary == ("3 conditional access policies: 2 on, 1 report-only and 0 off (22 November 2026).")

    devices = found["microsoft.device_compliance"]
    assert devices.passed is False
    assert devices.summary == (
        "14 of 20 Intune-managed devices are compliant; 4 non-compliant and 2 unknown (22 November 2026)."
    )
    assert devices.details["noncompliant_sample"] == ["LAPTOP-0000", "LAPTOP-0005", "LAPTOP-0010", "LAPTOP-0015"]

    assert run.warnings() == []
    assert "Read 40 users in 1 page." in run.messages()
    assert "Read 20 Intune-managed devices in 1 page." in run.messages()


def test_collect_asks_graph_for_large_pages_and_sign_in_activity(connector, microsoft):
    collect(connector, microsoft)

    query = microsoft.seen("users")[0].query
    assert query["$top"] == ["999"]
    assert "signInActivity" in query["$select"][0].split(",")
    assert "accountEnabled" in query["$select"][0].split(",")
    assert microsoft.seen(REGISTRATION)[0].query["$top"] == ["999"]
    assert microsoft.seen("directoryRoles")[0].query["$expand"] == ["members"]


def test_collect_follows_next_links_across_several_pages(connector, microsoft):
    microsoft.page_cap = 7

    run = collect(connector, microsoft)

    users = microsoft.seen("users")
    assert len(users) == 6
    assert all("$skiptoken" in request.query for request in users[1:])
    assert all("signInActivity" in request.query["$select"][0] for request in users)
    assert len(microsoft.seen(REGISTRATION)) == 6
    assert len(microsoft.seen("deviceManagement/managedDevices")) == 3
    assert "Read 40 users in 6 pages." in run.messages()
    assert run.findings["microsoft.user_register"].details["total"] == 40
    assert run.findings["microsoft.mfa_registration"].details["registered"] == 34
    assert run.findings["microsoft.device_compliance"].details["devices"] == 20


def test_a_next_link_to_another_host_is_refused_so_the_token_stays_home(connector, microsoft):
    microsoft.script("users", ok({"value": [], "@odata.nextLink": "https://attacker.example/v1.0/users?$skiptoken=x"}))

    with pytest.raises(UnexpectedResponse):
        collect(connector, microsoft)


def test_collect_reads_a_5000_user_tenant(connector):
    big = FakeMicrosoft(FakeTenant.generate(5000)).start()
    try:
        run = collect(Microsoft365Connector(big.settings()), big)
        pages = {path: len(big.seen(path)) for path in ("users", REGISTRATION, "deviceManagement/managedDevices")}
    finally:
        big.stop()

    found = run.findings
    assert pages == {"users": 6, REGISTRATION: 6, "deviceManagement/managedDevices": 3}
    assert found["microsoft.mfa_registration"].summary.startswith("4,250 of 4,500 enabled member accounts have")
    assert len(found["microsoft.mfa_registration"].details["not_registered_sample"]) == SAMPLE_LIMIT
    assert found["microsoft.dormant_accounts"].details == {
        "enabled": 4750,
        "dormant": 500,
        "never_signed_in": 250,
        "days": 90,
        "dormant_sample": found["microsoft.dormant_accounts"].details["dormant_sample"],
    }
    assert len(found["microsoft.dormant_accounts"].details["dormant_sample"]) == SAMPLE_LIMIT
    assert found["microsoft.user_register"].summary == (
        "5,000 user accounts: 4,500 enabled members, 250 enabled guests and 250 disabled (22 November 2026)."
    )
    assert len(found["microsoft.user_register"].snapshot) == 5000
    assert found["microsoft.guest_users"].details["guests"] == 250
    assert found["microsoft.admin_mfa"].details["admins"] == 4
    assert found["microsoft.device_compliance"].details["compliant"] == 1750
    assert found["microsoft.device_compliance"].details["noncompliant"] == 500
    assert found["microsoft.device_compliance"].details["unknown"] == 250
    assert "Read 5,000 users in 6 pages." in run.messages()


# --- Licences and permissions ------------------------------------------------------------------------
def test_a_403_on_the_user_listing_raises_insufficient_scope(connector, microsoft):
    microsoft.tenant.consented = ALL_PERMISSIONS - {"User.Read.All", "Directory.Read.All"}

    with pytest.raises(InsufficientScope):
        collect(connector, microsoft)


def test_without_entra_p1_the_run_falls_back_and_says_what_it_skipped(connector, microsoft):
    microsoft.tenant.premium = False

    run = collect(connector, microsoft)

    first, second = microsoft.seen("users")
    assert "signInActivity" in first.query["$select"][0]
    assert "signInActivity" not in second.query["$select"][0]
    assert "microsoft.dormant_accounts" not in run.findings
    assert "microsoft.conditional_access" not in run.findings
    # The registration report needs P1 too: each user's sign-in methods are read instead.
    assert len([r for r in microsoft.requests if r.path.endswith("/authentication/methods")]) == 36
    mfa = run.findings["microsoft.mfa_registration"]
    assert mfa.details["source"] == "sign-in methods"
    assert mfa.details["registered"] == 34
    assert run.findings["microsoft.admin_mfa"].details["without_mfa"] == 1
    enforced = run.findings["microsoft.mfa_enforced"]
    assert enforced.passed is False
    assert "could not be read without a Microsoft Entra ID P1 licence" in enforced.summary
    warnings = run.warnings()
    assert len(warnings) == 3
    assert "dormant account check is skipped" in warnings[0]
    assert "one at a time" in warnings[1]
    assert warnings[2].startswith("Skipped conditional access policies")


def test_without_p1_a_large_tenant_skips_mfa_registration_rather_than_read_each_user(connector):
    big = FakeMicrosoft(FakeTenant.generate(400, devices=0)).start()
    big.tenant.premium = False
    try:
        run = collect(Microsoft365Connector(big.settings()), big)
        method_reads = [r for r in big.requests if r.path.endswith("/authentication/methods")]
    finally:
        big.stop()

    assert method_reads == []
    assert "microsoft.mfa_registration" not in run.findings
    assert "microsoft.admin_mfa" not in run.findings
    assert any("360 users are too many to read one at a time" in warning for warning in run.warnings())
    assert run.findings["microsoft.device_compliance"].passed is None  # no devices enrolled


@pytest.mark.parametrize("refusal", ["no_intune_licence", "permission_not_granted"])
def test_a_refused_intune_area_is_a_warning_and_the_rest_is_still_collected(connector, microsoft, refusal):
    if refusal == "no_intune_licence":
        microsoft.tenant.intune = False
    else:
        microsoft.tenant.consented = ALL_PERMISSIONS - {"DeviceManagementManagedDevices.Read.All"}

    run = collect(connector, microsoft)

    assert "microsoft.device_compliance" not in run.findings
    assert len(run.findings) == 9
    assert run.findings["microsoft.mfa_registration"].details["registered"] == 34
    [warning] = run.warnings()
    assert warning.startswith("Skipped Intune device compliance")


def test_a_refused_role_listing_skips_the_role_findings_only(connector, microsoft):
    microsoft.script("directoryRoles", denied())

    run = collect(connector, microsoft)

    assert {"microsoft.global_admins", "microsoft.admin_mfa", "microsoft.directory_roles"}.isdisjoint(run.findings)
    assert run.findings["microsoft.mfa_registration"].details["registered"] == 34
    assert run.warnings()[0].startswith("Skipped administrator roles")


# --- Checks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("security_defaults", "policies", "passed"),
    [
        (True, [], True),
        (False, [], False),
        (False, [ca_policy("MFA", state="enabledForReportingButNotEnforced")], False),
        (False, [ca_policy("MFA", state="disabled")], False),
        (False, [ca_policy("MFA for one person", include_users=("00000000-0000-0000-0000-000000000001",))], False),
        (False, [ca_policy("MFA or a compliant device", controls=("mfa", "compliantDevice"))], False),
        (False, [ca_policy("MFA and a compliant device", controls=("mfa", "compliantDevice"), operator="AND")], True),
        (False, [ca_policy("MFA for Office 365", applications=("Office365",))], True),
        (False, [ca_policy("MFA for one app", applications=("00000002-0000-0ff1-ce00-000000000000",))], False),
    ],
)
def test_mfa_is_enforced_by_security_defaults_or_an_enabled_policy_for_everyone(
    connector, microsoft, security_defaults, policies, passed
):
    microsoft.tenant.security_defaults = security_defaults
    microsoft.tenant.policies = policies

    enforced = collect(connector, microsoft).findings["microsoft.mfa_enforced"]

    assert enforced.passed is passed
    assert enforced.summary.endswith("(22 November 2026).")


@pytest.mark.parametrize(("count", "passed"), [(1, False), (2, True), (4, True), (5, False), (25, False)])
def test_two_to_four_global_administrators_pass(connector, microsoft, count, passed):
    tenant = microsoft.tenant
    tenant.roles[0].members = [user_member(user) for user in tenant.users[1 : 1 + count]]

    admins = collect(connector, microsoft).findings["microsoft.global_admins"]

    assert admins.details["count"] == count
    assert admins.passed is passed


def test_a_role_with_more_members_than_graph_expands_is_read_in_full(connector, microsoft):
    tenant = microsoft.tenant
    tenant.roles[0].members = [user_member(user) for user in tenant.users[:30]]

    run = collect(connector, microsoft)

    assert len(microsoft.seen(f"directoryRoles/{tenant.roles[0].id}/members")) == 1
    assert run.findings["microsoft.global_admins"].details["count"] == 30
    assert run.findings["microsoft.admin_mfa"].details["without_mfa"] == 2  # users 0 and 20


def test_a_tenant_with_everything_in_order_passes_every_check(connector, microsoft):
    tenant = microsoft.tenant
    for user in tenant.users:
        user.mfa_registered = True
        user.last_sign_in = datetime(2026, 11, 20, 9, tzinfo=UTC)
    for device in tenant.devices:
        device["complianceState"] = "compliant"

    run = collect(connector, microsoft)

    checks = {key: finding.passed for key, finding in run.findings.items() if finding.passed is not None}
    assert checks == dict.fromkeys(
        [
            "microsoft.mfa_registration",
            "microsoft.mfa_enforced",
            "microsoft.global_admins",
            "microsoft.admin_mfa",
            "microsoft.dormant_accounts",
            "microsoft.device_compliance",
        ],
        True,
    )
    assert run.findings["microsoft.dormant_accounts"].summary == (
        "All 38 enabled accounts have signed in, or been created, within the last 90 days (22 November 2026)."
    )


# --- Faults ----------------------------------------------------------------------------------------
def test_a_429_is_waited_out_for_its_retry_after_then_the_run_succeeds(connector, microsoft):
    microsoft.script("directoryRoles", throttled(7))

    run = collect(connector, microsoft)

    assert run.sleeps == [7.0]
    assert len(microsoft.seen("directoryRoles")) == 2
    assert run.findings["microsoft.global_admins"].details["count"] == 3


def test_a_429_with_a_long_retry_after_gives_up_for_later(connector, microsoft):
    microsoft.script("users", throttled(3600))

    with pytest.raises(RateLimited) as raised:
        collect(connector, microsoft)

    assert raised.value.retry_after == 3600
    assert len(microsoft.seen("users")) == 1


def test_5xx_responses_are_retried_with_backoff(connector, microsoft):
    microsoft.script(REGISTRATION, unavailable(503), unavailable(500))

    run = collect(connector, microsoft)

    assert run.sleeps == [0.5, 1.0]
    assert run.findings["microsoft.mfa_registration"].details["registered"] == 34


def test_persistent_5xx_means_the_provider_is_unavailable(connector, microsoft):
    microsoft.script("users", *[unavailable(503)] * 5)
    run = Run()

    with pytest.raises(ProviderUnavailable):
        collect(connector, microsoft, run)

    assert len(microsoft.seen("users")) == 5
    assert run.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_malformed_json_is_an_unexpected_response_even_in_an_optional_area(connector, microsoft):
    microsoft.script("identity/conditionalAccess/policies", malformed())

    with pytest.raises(UnexpectedResponse):
        collect(connector, microsoft)


# --- What findings carry -----------------------------------------------------------------------------
def _library_refs() -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()
    for path in LIBRARY.glob("*.yaml"):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)  # the C loader: a second, not five
        refs.update((data["framework"]["slug"], control["ref"]) for control in data["controls"])
    return refs


def test_every_control_a_finding_maps_to_exists_in_the_library(connector, microsoft):
    run = collect(connector, microsoft)
    library = _library_refs()

    mapped = {(ref.framework, ref.ref) for finding in run.findings.values() for ref in finding.controls}
    assert mapped - library == set()
    mfa_refs = {(ref.framework, ref.ref) for ref in run.findings["microsoft.mfa_registration"].controls}
    assert ("cyber-essentials", "UA.4") in mfa_refs  # the Cyber Essentials auto-fail MFA control


def test_findings_are_json_and_carry_no_tokens(connector, microsoft):
    tokens = signed_in(microsoft)
    with connector.api(tokens, on_refreshed=lambda _: None) as api:
        findings = connector.collect(api, today=TODAY, log=RunLog())

    text = json.dumps([{"details": f.details, "snapshot": f.snapshot, "summary": f.summary} for f in findings])
    assert tokens.access_token not in text
    assert tokens.refresh_token not in text
    assert {f.evidence_type for f in findings} <= {"configuration", "log", "register", "report"}
