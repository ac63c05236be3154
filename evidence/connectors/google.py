"""Google Workspace connector: reads users, administrator roles, groups and the sign-in and admin audit
logs through the Admin SDK (Directory and Reports APIs) and turns them into evidence and checks.

Only read-only scopes are requested. The user listing is the core of every run: if Google refuses it,
the run fails. Roles, groups and the audit logs are optional areas: a refusal there (a scope the
administrator did not grant, or an edition without the Reports API) is logged as a warning and the
run carries on with what it could read.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx2

from config.formatting import long_date
from evidence.connectors.base import (
    SAMPLE_LIMIT,
    ApiClient,
    Connector,
    ConnectorSettings,
    ControlRef,
    Finding,
    InsufficientScope,
    ReconnectNeeded,
    RunLog,
    TokenSet,
    UnexpectedResponse,
    paged,
    token_request,
)

logger = logging.getLogger(__name__)

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
DIRECTORY = "admin/directory/v1"
REPORTS = "admin/reports/v1/activity/users/all/applications"

# The largest pages each listing allows, so a big tenant takes as few requests as possible.
USERS_PAGE = 500
ROLES_PAGE = 100
ROLE_ASSIGNMENTS_PAGE = 200
GROUPS_PAGE = 200
ACTIVITY_PAGE = 1000

# CE UA.3 suggests disabling accounts unused for "say, 60 days" each quarter; 90 days leaves room for
# long holidays and parental leave, so what is flagged is worth someone's attention.
DORMANT_DAYS = 90
ACTIVITY_DAYS = 30
# At least two super administrators, so one person's absence or lost phone does not lock the business
# out of its own admin console; no more than four, because each is an account whose theft gives an
# attacker everything (NCSC advice, and CE UA.5's guidance, is to keep top-level admins few).
MIN_SUPER_ADMINS = 2
MAX_SUPER_ADMINS = 4
# Audit-log rows kept in a snapshot: enough for an auditor to sample, bounded for a noisy month.
EVENT_ROWS_LIMIT = 2000
# Google's value for "never signed in".
NEVER = datetime(1970, 1, 1, tzinfo=UTC)

SUSPICIOUS_PREFIX = "suspicious_"
# Sign-in events worth a row in the snapshot: failures and Google's own warnings about the account.
NOTABLE_LOGIN_EVENTS = frozenset({"login_failure", "gov_attack_warning"})
NOTABLE_LOGIN_PREFIXES = (SUSPICIOUS_PREFIX, "account_disabled_")
ADMIN_TARGET_PARAMETERS = ("USER_EMAIL", "GROUP_EMAIL", "ROLE_NAME", "ORG_UNIT_NAME", "SETTING_NAME")

# Google's system roles have internal names; these are the names shown in the Admin console.
SYSTEM_ROLE_NAMES = {
    "_SEED_ADMIN_ROLE": "Super Admin",
    "_GROUPS_ADMIN_ROLE": "Groups Admin",
    "_USER_MANAGEMENT_ADMIN_ROLE": "User Management Admin",
    "_HELP_DESK_ADMIN_ROLE": "Help Desk Admin",
    "_SERVICE_ADMIN_ROLE": "Services Admin",
    "_MOBILE_ADMIN_ROLE": "Mobile Admin",
    "_GOOGLE_VOICE_ADMIN_ROLE": "Google Voice Admin",
}


def _refs(*refs: str) -> tuple[ControlRef, ...]:
    return tuple(ControlRef(*ref.split(":", 1)) for ref in refs)


# Every ref below exists in compliance/library/*.yaml (a test loads the YAML and checks).
MFA_CONTROLS = _refs(
    "cyber-essentials:UA.4", "iso27001-2022:5.17", "iso27001-2022:8.5", "soc2-tsc-2017:CC6.1", "nist-csf-2.0:PR.AA-03"
)
ADMIN_MFA_CONTROLS = _refs(
    "cyber-essentials:UA.4", "iso27001-2022:8.2", "iso27001-2022:8.5", "soc2-tsc-2017:CC6.1", "nist-csf-2.0:PR.AA-03"
)
SUPER_ADMIN_CONTROLS = _refs(
    "cyber-essentials:UA.5",
    "cyber-essentials:UA.6",
    "iso27001-2022:8.2",
    "soc2-tsc-2017:CC6.3",
    "nist-csf-2.0:PR.AA-05",
)
DORMANT_CONTROLS = _refs(
    "cyber-essentials:UA.3", "iso27001-2022:5.16", "iso27001-2022:5.18", "soc2-tsc-2017:CC6.2", "nist-csf-2.0:PR.AA-01"
)
SUSPENDED_ADMIN_CONTROLS = _refs(
    "cyber-essentials:UA.6", "iso27001-2022:5.18", "iso27001-2022:8.2", "soc2-tsc-2017:CC6.3", "nist-csf-2.0:PR.AA-05"
)
REGISTER_CONTROLS = _refs("cyber-essentials:UA.1", "iso27001-2022:5.16", "soc2-tsc-2017:CC6.2", "nist-csf-2.0:PR.AA-01")
ROLE_CONTROLS = _refs("cyber-essentials:UA.6", "iso27001-2022:8.2", "soc2-tsc-2017:CC6.3", "nist-csf-2.0:PR.AA-05")
GROUP_CONTROLS = _refs("iso27001-2022:5.15", "soc2-tsc-2017:CC6.3", "nist-csf-2.0:PR.AA-05")
LOG_CONTROLS = _refs(
    "iso27001-2022:8.15",
    "iso27001-2022:8.16",
    "soc2-tsc-2017:CC7.2",
    "nist-csf-2.0:DE.CM-03",
    "nist-csf-2.0:PR.PS-04",
)


# --- Small helpers -----------------------------------------------------------------------------------


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else plural or singular + 's'}"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class _Tally:
    """A count with the first SAMPLE_LIMIT names behind it, so 5,000 exceptions cost 50 strings."""

    count: int = 0
    sample: list[str] = field(default_factory=list)

    def add(self, name: str) -> None:
        self.count += 1
        if len(self.sample) < SAMPLE_LIMIT:
            self.sample.append(name)


class _Listing:
    """One Google listing walked page by page (`pageToken` in, `nextPageToken` out)."""

    def __init__(self, api: ApiClient, path: str, params: dict[str, Any], key: str) -> None:
        self.api, self.path, self.params, self.key = api, path, params, key
        self.pages = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return paged(self._fetch)

    def _fetch(self, cursor: str | None) -> tuple[list[Any], str | None]:
        params = {**self.params, "pageToken": cursor} if cursor else self.params
        body = self.api.get(self.path, params)
        self.pages += 1
        items = body.get(self.key, [])  # Google leaves the key out of an empty page
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise UnexpectedResponse(f"Google sent an unexpected shape of data for {self.key}.")
        token = body.get("nextPageToken")
        return items, str(token) if token else None


# --- Users -----------------------------------------------------------------------------------------
@dataclass
class _Users:
    """What the user listing taught us, built one page at a time."""

    today: date
    total: int = 0
    active: int = 0
    suspended: int = 0
    archived: int = 0
    enrolled: int = 0
    enforced: int = 0
    never_signed_in: int = 0
    admins: int = 0
    not_enrolled: _Tally = field(default_factory=_Tally)
    not_enforced: _Tally = field(default_factory=_Tally)
    super_admins: _Tally = field(default_factory=_Tally)
    admins_without_2sv: _Tally = field(default_factory=_Tally)
    dormant: _Tally = field(default_factory=_Tally)
    inactive_admins: _Tally = field(default_factory=_Tally)
    rows: list[dict[str, Any]] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)  # user id → email, for role assignments

    @property
    def dormant_before(self) -> datetime:
        return datetime.combine(self.today - timedelta(days=DORMANT_DAYS), time.min, tzinfo=UTC)

    def add(self, user: dict[str, Any]) -> None:
        email = str(user.get("primaryEmail") or user.get("id") or "unknown")
        self.total += 1
        self.emails[str(user.get("id", ""))] = email
        last_login = _parse_time(user.get("lastLoginTime"))
        if last_login is not None and last_login <= NEVER:
            last_login = None
        created = _parse_time(user.get("creationTime"))
        status = "archived" if user.get("archived") else "suspended" if user.get("suspended") else "active"
        # An account never used counts from its creation, so last week's new starter is not "dormant".
        last_seen = last_login or created
        row = {
            "email": email,
            "name": str((user.get("name") or {}).get("fullName") or ""),
            "status": status,
            "super_admin": bool(user.get("isAdmin")),
            "delegated_admin": bool(user.get("isDelegatedAdmin")),
            "enrolled_2sv": bool(user.get("isEnrolledIn2Sv")),
            "enforced_2sv": bool(user.get("isEnforcedIn2Sv")),
            "last_login": last_login.date().isoformat() if last_login else None,
            "created": created.date().isoformat() if created else None,
            "org_unit": str(user.get("orgUnitPath") or "/"),
            "dormant": status == "active" and (last_seen is None or last_seen < self.dormant_before),
        }
        self.rows.append(row)
        if status == "active":
            self._count_active(row)
            return
        setattr(self, status, getattr(self, status) + 1)
        if row["super_admin"] or row["delegated_admin"]:
            self.inactive_admins.add(email)

    def _count_active(self, row: dict[str, Any]) -> None:
        email = row["email"]
        self.active += 1
        self.enrolled += row["enrolled_2sv"]
        self.enforced += row["enforced_2sv"]
        self.never_signed_in += row["last_login"] is None
        if not row["enrolled_2sv"]:
            self.not_enrolled.add(email)
        if not row["enforced_2sv"]:
            self.not_enforced.add(email)
        if row["super_admin"]:
            self.super_admins.add(email)
        if row["super_admin"] or row["delegated_admin"]:
            self.admins += 1
            if not row["enrolled_2sv"]:
                self.admins_without_2sv.add(email)
        if row["dormant"]:
            self.dormant.add(email)

    def active_rows(self, *fields: str) -> list[dict[str, Any]]:
        return [{name: row[name] for name in fields} for row in self.rows if row["status"] == "active"]


# --- Audit logs ------------------------------------------------------------------------------------
@dataclass
class _Activity:
    """Counts and capped rows from one Reports API application (login or admin)."""

    events: int = 0
    suspicious: int = 0
    by_name: Counter[str] = field(default_factory=Counter)
    by_actor: Counter[str] = field(default_factory=Counter)
    failures_by_actor: Counter[str] = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)
    rows_dropped: int = 0

    def keep(self, row: dict[str, Any]) -> None:
        if len(self.rows) < EVENT_ROWS_LIMIT:
            self.rows.append(row)
        else:
            self.rows_dropped += 1


def _parameters(event: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for parameter in event.get("parameters") or ():
        if isinstance(parameter, dict) and "name" in parameter:
            values[str(parameter["name"])] = parameter.get("value", parameter.get("boolValue"))
    return values


def _is_suspicious(name: str, parameters: dict[str, Any]) -> bool:
    return name.startswith(SUSPICIOUS_PREFIX) or parameters.get("is_suspicious") is True


# --- Connector -------------------------------------------------------------------------------------
class GoogleWorkspaceConnector(Connector):
    provider: ClassVar[str] = "google_workspace"
    name: ClassVar[str] = "Google Workspace"
    scopes: ClassVar[tuple[str, ...]] = tuple(
        SCOPE_PREFIX + scope
        for scope in (
            "admin.directory.user.readonly",
            "admin.directory.rolemanagement.readonly",
            "admin.directory.group.readonly",
            "admin.reports.audit.readonly",
            "admin.directory.customer.readonly",
        )
    )
    reads: ClassVar[tuple[str, ...]] = (
        "Your users: names, email addresses, whether they are suspended, when they last signed in, and "
        "whether they use 2-Step Verification",
        "Who holds administrator roles",
        "Your groups and how many members each has",
        "The last 30 days of sign-in and admin console activity from the audit log",
        "Your organisation's primary domain",
    )

    @classmethod
    def from_settings(cls, *, transport: httpx2.BaseTransport | None = None) -> GoogleWorkspaceConnector | None:
        config = ConnectorSettings.for_provider(cls.provider)
        return cls(config, transport=transport) if config else None

    # OAuth ------------------------------------------------------------------------------------------
    def authorisation_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        params = {
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            # offline: Google issues a refresh token; consent: it issues one again on reconnecting.
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
        return f"{self.config.authorise_url}?{urlencode(params)}"

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        return token_request(
            self.config.token_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            },
            transport=self.transport,
        )

    def refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise ReconnectNeeded("The connection has no refresh token. Please connect again.")
        renewed = token_request(
            self.config.token_url,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            },
            transport=self.transport,
        )
        # Google may leave `scope` out of a refresh response; the grant itself has not changed.
        return renewed if renewed.scopes else replace(renewed, scopes=tokens.scopes)

    def revoke(self, tokens: TokenSet) -> bool:
        # Revoking the refresh token also ends every access token issued from it.
        token = tokens.refresh_token or tokens.access_token
        if not self.config.revoke_url or not token:
            return False
        try:
            with httpx2.Client(transport=self.transport, timeout=20) as client:
                response = client.post(self.config.revoke_url, data={"token": token})
        except (httpx2.HTTPError, httpx2.InvalidURL) as error:
            logger.warning("Google token revocation failed: %s", type(error).__name__)
            return False
        return response.status_code == 200

    # Reading ----------------------------------------------------------------------------------------
    def account_label(self, api: ApiClient) -> str:
        customer = api.get(f"{DIRECTORY}/customers/my_customer")
        domain = customer.get("customerDomain")
        if not domain:
            raise UnexpectedResponse("Google did not say which domain this account belongs to.")
        organisation = (customer.get("postalAddress") or {}).get("organizationName")
        return f"{organisation} ({domain})" if organisation else str(domain)

    def collect(self, api: ApiClient, *, today: date, log: RunLog) -> list[Finding]:
        users = self._read_users(api, today=today, log=log)
        findings = self._user_findings(users)
        optional: tuple[tuple[str, Callable[[], Finding]], ...] = (
            ("administrator roles", lambda: self._roles(api, users, log=log)),
            ("groups", lambda: self._groups(api, today=today, log=log)),
            ("sign-in audit log", lambda: self._login_activity(api, today=today, log=log)),
            ("admin console audit log", lambda: self._admin_activity(api, today=today, log=log)),
        )
        for area, read in optional:
            try:
                findings.append(read())
            except InsufficientScope:
                log(
                    f"Google refused access to the {area}, so that evidence was skipped. The permission may "
                    "not have been granted, or your Google Workspace edition may not include it.",
                    level="warning",
                )
        return findings

    def _read_users(self, api: ApiClient, *, today: date, log: RunLog) -> _Users:
        users = _Users(today=today)
        listing = _Listing(
            api,
            f"{DIRECTORY}/users",
            {"customer": "my_customer", "maxResults": USERS_PAGE, "projection": "basic"},
            "users",
        )
        for user in listing:
            users.add(user)
        log(f"Read {_plural(users.total, 'user')} in {_plural(listing.pages, 'page')}.")
        return users

    def _user_findings(self, users: _Users) -> list[Finding]:
        return [
            self._enrolment(users),
            self._enforcement(users),
            self._super_admins(users),
            self._admins_without_2sv(users),
            self._dormant(users),
            self._inactive_admins(users),
            self._register(users),
        ]

    def _enrolment(self, users: _Users) -> Finding:
        return Finding(
            key="google.2sv_enrolment",
            title="2-Step Verification enrolment",
            summary=f"{users.enrolled:,} of {_plural(users.active, 'active user')} "
            f"{'is' if users.enrolled == 1 else 'are'} enrolled in 2-Step Verification ({long_date(users.today)}).",
            evidence_type="configuration",
            controls=MFA_CONTROLS,
            passed=users.enrolled == users.active,
            details={
                "active_users": users.active,
                "enrolled": users.enrolled,
                "not_enrolled": users.not_enrolled.count,
                "not_enrolled_sample": users.not_enrolled.sample,
            },
            snapshot=users.active_rows("email", "name", "enrolled_2sv"),
        )

    def _enforcement(self, users: _Users) -> Finding:
        missing = users.not_enforced.count
        summary = (
            f"2-Step Verification is enforced for all {_plural(users.active, 'active user')}"
            if not missing
            else f"2-Step Verification is not enforced for {missing:,} of {_plural(users.active, 'active user')}"
        )
        return Finding(
            key="google.2sv_enforcement",
            title="2-Step Verification enforcement",
            summary=f"{summary} ({long_date(users.today)}).",
            evidence_type="configuration",
            controls=MFA_CONTROLS,
            passed=missing == 0,
            details={
                "active_users": users.active,
                "enforced": users.enforced,
                "not_enforced": missing,
                "not_enforced_sample": users.not_enforced.sample,
            },
            snapshot=users.active_rows("email", "org_unit", "enforced_2sv"),
        )

    def _super_admins(self, users: _Users) -> Finding:
        count = users.super_admins.count
        if count < MIN_SUPER_ADMINS:
            why = (
                f"with fewer than {MIN_SUPER_ADMINS}, losing one account can lock the business out of its admin console"
            )
        elif count > MAX_SUPER_ADMINS:
            why = f"more than {MAX_SUPER_ADMINS} widens what one stolen account can do"
        else:
            why = f"between {MIN_SUPER_ADMINS} and {MAX_SUPER_ADMINS} is the recommended number"
        return Finding(
            key="google.super_admins",
            title="Super administrator accounts",
            summary=f"There {'is' if count == 1 else 'are'} {_plural(count, 'active super administrator')} "
            f"({long_date(users.today)}): {why}.",
            evidence_type="configuration",
            controls=SUPER_ADMIN_CONTROLS,
            passed=MIN_SUPER_ADMINS <= count <= MAX_SUPER_ADMINS,
            details={
                "super_admins": count,
                "minimum": MIN_SUPER_ADMINS,
                "maximum": MAX_SUPER_ADMINS,
                "super_admin_sample": users.super_admins.sample,
            },
            snapshot=[
                {"email": row["email"], "name": row["name"], "enrolled_2sv": row["enrolled_2sv"]}
                for row in users.rows
                if row["status"] == "active" and row["super_admin"]
            ],
        )

    def _admins_without_2sv(self, users: _Users) -> Finding:
        missing = users.admins_without_2sv.count
        summary = (
            f"All {_plural(users.admins, 'active administrator account')} are enrolled in 2-Step Verification"
            if not missing
            else f"{missing:,} of {_plural(users.admins, 'active administrator account')} "
            f"{'is' if missing == 1 else 'are'} not enrolled in 2-Step Verification"
        )
        return Finding(
            key="google.admins_without_2sv",
            title="Administrator accounts without 2-Step Verification",
            summary=f"{summary} ({long_date(users.today)}).",
            evidence_type="configuration",
            controls=ADMIN_MFA_CONTROLS,
            passed=missing == 0,
            details={
                "admins": users.admins,
                "without_2sv": missing,
                "without_2sv_sample": users.admins_without_2sv.sample,
            },
            snapshot=[
                {key: row[key] for key in ("email", "super_admin", "delegated_admin", "enrolled_2sv")}
                for row in users.rows
                if row["status"] == "active" and (row["super_admin"] or row["delegated_admin"])
            ],
        )

    def _dormant(self, users: _Users) -> Finding:
        count = users.dormant.count
        summary = (
            f"No active user has gone more than {DORMANT_DAYS} days without signing in"
            if not count
            else f"{count:,} of {_plural(users.active, 'active user')} {'has' if count == 1 else 'have'} "
            f"not signed in for more than {DORMANT_DAYS} days"
        )
        return Finding(
            key="google.dormant_accounts",
            title="Dormant accounts",
            summary=f"{summary} ({long_date(users.today)}).",
            evidence_type="configuration",
            controls=DORMANT_CONTROLS,
            passed=count == 0,
            details={
                "active_users": users.active,
                "dormant": count,
                "never_signed_in": users.never_signed_in,
                "threshold_days": DORMANT_DAYS,
                "dormant_sample": users.dormant.sample,
            },
            snapshot=[
                {key: row[key] for key in ("email", "name", "last_login", "created")}
                for row in users.rows
                if row["dormant"]
            ],
        )

    def _inactive_admins(self, users: _Users) -> Finding:
        count = users.inactive_admins.count
        summary = (
            "No suspended or archived account holds an administrator role"
            if not count
            else f"{_plural(count, 'suspended or archived account')} still "
            f"{'holds' if count == 1 else 'hold'} an administrator role"
        )
        return Finding(
            key="google.suspended_admins",
            title="Suspended accounts with administrator roles",
            summary=f"{summary} ({long_date(users.today)}).",
            evidence_type="configuration",
            controls=SUSPENDED_ADMIN_CONTROLS,
            passed=count == 0,
            details={"suspended_admins": count, "suspended_admin_sample": users.inactive_admins.sample},
            snapshot=[
                {key: row[key] for key in ("email", "status", "super_admin", "delegated_admin")}
                for row in users.rows
                if row["status"] != "active" and (row["super_admin"] or row["delegated_admin"])
            ],
        )

    def _register(self, users: _Users) -> Finding:
        return Finding(
            key="google.user_register",
            title="Google Workspace user register",
            summary=f"Google Workspace has {_plural(users.total, 'user account')}: {users.active:,} active, "
            f"{users.suspended:,} suspended and {users.archived:,} archived ({long_date(users.today)}).",
            evidence_type="register",
            controls=REGISTER_CONTROLS,
            details={
                "users": users.total,
                "active": users.active,
                "suspended": users.suspended,
                "archived": users.archived,
                "never_signed_in": users.never_signed_in,
            },
            snapshot=users.rows,
        )

    def _roles(self, api: ApiClient, users: _Users, *, log: RunLog) -> Finding:
        roles: dict[str, tuple[str, bool]] = {}
        for role in _Listing(api, f"{DIRECTORY}/customer/my_customer/roles", {"maxResults": ROLES_PAGE}, "items"):
            name = str(role.get("roleName") or role.get("roleId"))
            roles[str(role.get("roleId"))] = (SYSTEM_ROLE_NAMES.get(name, name), bool(role.get("isSuperAdminRole")))
        rows: list[dict[str, Any]] = []
        by_role: Counter[str] = Counter()
        listing = _Listing(
            api, f"{DIRECTORY}/customer/my_customer/roleassignments", {"maxResults": ROLE_ASSIGNMENTS_PAGE}, "items"
        )
        for assignment in listing:
            role_name, is_super = roles.get(str(assignment.get("roleId")), (str(assignment.get("roleId")), False))
            assignee = str(assignment.get("assignedTo") or "")
            by_role[role_name] += 1
            rows.append(
                {
                    "role": role_name,
                    "super_admin_role": is_super,
                    "assignee": users.emails.get(assignee, assignee),
                    "assignee_type": str(assignment.get("assigneeType") or "user"),
                    "scope": str(assignment.get("scopeType") or ""),
                }
            )
        log(f"Read {_plural(len(roles), 'administrator role')} and {_plural(len(rows), 'role assignment')}.")
        supers = sum(1 for row in rows if row["super_admin_role"])
        return Finding(
            key="google.admin_roles",
            title="Administrator role assignments",
            summary=f"{_plural(len(rows), 'administrator role assignment')} across "
            f"{_plural(len(by_role), 'role')}, {supers:,} of them Super Admin ({long_date(users.today)}).",
            evidence_type="configuration",
            controls=ROLE_CONTROLS,
            details={"assignments": len(rows), "roles_defined": len(roles), "by_role": dict(by_role.most_common())},
            snapshot=rows,
        )

    def _groups(self, api: ApiClient, *, today: date, log: RunLog) -> Finding:
        rows: list[dict[str, Any]] = []
        listing = _Listing(api, f"{DIRECTORY}/groups", {"customer": "my_customer", "maxResults": GROUPS_PAGE}, "groups")
        for group in listing:
            rows.append(
                {
                    "email": str(group.get("email") or ""),
                    "name": str(group.get("name") or ""),
                    # Google sends this int64 as a string.
                    "direct_members": _int(group.get("directMembersCount")),
                }
            )
        log(f"Read {_plural(len(rows), 'group')} in {_plural(listing.pages, 'page')}.")
        members = sum(row["direct_members"] for row in rows)
        empty = sum(1 for row in rows if row["direct_members"] == 0)
        return Finding(
            key="google.groups",
            title="Groups",
            summary=f"{_plural(len(rows), 'group')} with {_plural(members, 'direct membership')} in total; "
            f"{_plural(empty, 'group')} {'has' if empty == 1 else 'have'} no members ({long_date(today)}).",
            evidence_type="configuration",
            controls=GROUP_CONTROLS,
            details={"groups": len(rows), "direct_memberships": members, "empty_groups": empty},
            snapshot=rows,
        )

    def _activity(self, api: ApiClient, application: str, *, today: date) -> tuple[_Activity, int]:
        start = datetime.combine(today - timedelta(days=ACTIVITY_DAYS), time.min, tzinfo=UTC)
        listing = _Listing(
            api, f"{REPORTS}/{application}", {"startTime": _rfc3339(start), "maxResults": ACTIVITY_PAGE}, "items"
        )
        activity = _Activity()
        for item in listing:
            person = item.get("actor") or {}
            # Changes made by Google itself or an API key carry no email address.
            actor = str(person.get("email") or person.get("profileId") or person.get("callerType") or "unknown")
            when = str((item.get("id") or {}).get("time") or "")
            for event in item.get("events") or ():
                if isinstance(event, dict):
                    self._count_event(activity, application, event, actor=actor, when=when, ip=item.get("ipAddress"))
        return activity, listing.pages

    @staticmethod
    def _count_event(
        activity: _Activity, application: str, event: dict[str, Any], *, actor: str, when: str, ip: Any
    ) -> None:
        name = str(event.get("name") or "")
        parameters = _parameters(event)
        activity.events += 1
        activity.by_name[name] += 1
        activity.by_actor[actor] += 1
        if application == "admin":
            target = next((str(parameters[p]) for p in ADMIN_TARGET_PARAMETERS if parameters.get(p)), "")
            row = {"time": when, "actor": actor, "type": str(event.get("type") or ""), "event": name, "target": target}
            activity.keep(row)
            return
        suspicious = _is_suspicious(name, parameters)
        activity.suspicious += suspicious
        if name == "login_failure":
            activity.failures_by_actor[actor] += 1
        if suspicious or name in NOTABLE_LOGIN_EVENTS or name.startswith(NOTABLE_LOGIN_PREFIXES):
            activity.keep({"time": when, "email": actor, "event": name, "ip_address": str(ip or "")})

    def _login_activity(self, api: ApiClient, *, today: date, log: RunLog) -> Finding:
        activity, pages = self._activity(api, "login", today=today)
        log(
            f"Read {_plural(activity.events, 'sign-in event')} from the last {ACTIVITY_DAYS} days "
            f"in {_plural(pages, 'page')}."
        )
        _warn_if_capped(activity, log, "sign-in")
        succeeded, failed, suspicious = (
            activity.by_name["login_success"],
            activity.by_name["login_failure"],
            activity.suspicious,
        )
        return Finding(
            key="google.login_activity",
            title="Sign-in activity (last 30 days)",
            summary=f"In the {ACTIVITY_DAYS} days to {long_date(today)}: {_plural(succeeded, 'successful sign-in')}, "
            f"{_plural(failed, 'failed sign-in')} and {_plural(suspicious, 'suspicious sign-in')}.",
            evidence_type="log",
            controls=LOG_CONTROLS,
            details={
                "events": activity.events,
                "successful": succeeded,
                "failed": failed,
                "suspicious": suspicious,
                "by_event": dict(activity.by_name.most_common()),
                "most_failed_users": [
                    {"email": email, "failures": count} for email, count in activity.failures_by_actor.most_common(10)
                ],
            },
            snapshot=_activity_snapshot(activity, today),
        )

    def _admin_activity(self, api: ApiClient, *, today: date, log: RunLog) -> Finding:
        activity, pages = self._activity(api, "admin", today=today)
        log(
            f"Read {_plural(activity.events, 'admin console event')} from the last {ACTIVITY_DAYS} days "
            f"in {_plural(pages, 'page')}."
        )
        _warn_if_capped(activity, log, "admin console")
        actors = len(activity.by_actor)
        return Finding(
            key="google.admin_activity",
            title="Admin console activity (last 30 days)",
            summary=f"In the {ACTIVITY_DAYS} days to {long_date(today)}, {_plural(actors, 'administrator')} "
            f"made {_plural(activity.events, 'change')} in the Google Workspace admin console.",
            evidence_type="log",
            controls=LOG_CONTROLS,
            details={
                "events": activity.events,
                "administrators": actors,
                "by_event": dict(activity.by_name.most_common(SAMPLE_LIMIT)),
                "by_administrator": dict(activity.by_actor.most_common(SAMPLE_LIMIT)),
            },
            snapshot=_activity_snapshot(activity, today),
        )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _warn_if_capped(activity: _Activity, log: RunLog, what: str) -> None:
    if activity.rows_dropped:
        log(
            f"The {what} snapshot keeps the first {EVENT_ROWS_LIMIT:,} notable events; "
            f"{activity.rows_dropped:,} more were counted but not listed.",
            level="warning",
        )


def _activity_snapshot(activity: _Activity, today: date) -> dict[str, Any]:
    start = today - timedelta(days=ACTIVITY_DAYS)
    return {
        "from": start.isoformat(),
        "to": today.isoformat(),
        "counts": dict(activity.by_name.most_common()),
        "events": activity.rows,
        "events_not_listed": activity.rows_dropped,
    }
