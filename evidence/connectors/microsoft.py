"""The Microsoft 365 connector: reads a tenant through Microsoft Graph with delegated, read-only permissions
and turns what it finds into evidence and checks.

It reads users (with last sign-in where the tenant's licence allows), MFA registration, administrator
roles, security defaults and conditional access policies, and Intune device compliance. Users are the core:
if Microsoft refuses them the run fails. Every other area depends on a licence (Microsoft Entra ID P1,
Intune) or a permission the tenant may not have, so a refusal there is logged and the run carries on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode

from config.formatting import long_date
from evidence.connectors.base import (
    SAMPLE_LIMIT,
    ApiClient,
    Connector,
    ConnectorError,
    ConnectorSettings,
    ControlRef,
    Finding,
    InsufficientScope,
    ReconnectNeeded,
    RunLog,
    TokenSet,
    UnexpectedResponse,
    token_request,
)

if TYPE_CHECKING:
    import httpx2

GRAPH = "https://graph.microsoft.com/"
GRAPH_PERMISSIONS = (
    "User.Read.All",
    "AuditLog.Read.All",
    "Directory.Read.All",
    "Policy.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Reports.Read.All",
)
# Without offline_access Microsoft issues no refresh token, and every run after the first hour would fail.
OFFLINE_ACCESS = "offline_access"

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
# At least two so that one person's absence or a locked account does not lock the business out of its own
# tenant; no more than four because each is a route to everything (Microsoft advises fewer than five).
GLOBAL_ADMINS_MIN = 2
GLOBAL_ADMINS_MAX = 4
DORMANT_DAYS = 90
PAGE_SIZE = 999  # the most Graph returns per page of users and registration details
# Graph expands at most 20 members of a directory object; a role that size may have more.
EXPAND_LIMIT = 20
# Reading sign-in methods one user at a time costs a request each: fine for a small business, not thousands.
METHODS_FALLBACK_LIMIT = 300
MFA_METHOD_TYPES = frozenset(
    {
        "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
        "#microsoft.graph.phoneAuthenticationMethod",
        "#microsoft.graph.fido2AuthenticationMethod",
        "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
        "#microsoft.graph.softwareOathAuthenticationMethod",
        "#microsoft.graph.hardwareOathAuthenticationMethod",
        "#microsoft.graph.platformCredentialAuthenticationMethod",
    }
)
USER_FIELDS = "id,displayName,userPrincipalName,mail,accountEnabled,userType,createdDateTime"
DEVICE_FIELDS = "id,deviceName,operatingSystem,complianceState,lastSyncDateTime"
# Intune states that mean a device fails its compliance policy, whatever the reason.
NONCOMPLIANT_STATES = frozenset({"noncompliant", "conflict", "error", "inGracePeriod"})
P1_LICENCE = "a Microsoft Entra ID P1 licence"


def _refs(*pairs: tuple[str, str]) -> tuple[ControlRef, ...]:
    return tuple(ControlRef(framework, ref) for framework, ref in pairs)


CE, ISO, SOC2, NIST = "cyber-essentials", "iso27001-2022", "soc2-tsc-2017", "nist-csf-2.0"
MFA_CONTROLS = _refs((CE, "UA.4"), (ISO, "5.17"), (ISO, "8.5"), (SOC2, "CC6.1"), (NIST, "PR.AA-03"))
ADMIN_MFA_CONTROLS = _refs((CE, "UA.4"), (ISO, "8.2"), (ISO, "8.5"), (SOC2, "CC6.1"), (NIST, "PR.AA-03"))
ADMIN_CONTROLS = _refs((CE, "UA.6"), (ISO, "8.2"), (SOC2, "CC6.3"), (NIST, "PR.AA-05"))
DORMANT_CONTROLS = _refs((CE, "UA.3"), (CE, "SC.1"), (ISO, "5.18"), (SOC2, "CC6.2"), (NIST, "PR.AA-01"))
GUEST_CONTROLS = _refs((CE, "SCOPE.6"), (ISO, "5.18"), (SOC2, "CC6.2"), (NIST, "PR.AA-01"))
REGISTER_CONTROLS = _refs((CE, "UA.1"), (ISO, "5.16"), (ISO, "5.18"), (SOC2, "CC6.2"), (NIST, "PR.AA-01"))
ACCESS_POLICY_CONTROLS = _refs((CE, "UA.4"), (ISO, "5.15"), (ISO, "8.5"), (SOC2, "CC6.1"), (NIST, "PR.AA-03"))
# Intune compliance policies usually demand a screen lock, encryption and running anti-malware.
DEVICE_CONTROLS = _refs((CE, "SC.6"), (CE, "MP.1"), (ISO, "8.1"), (SOC2, "CC6.8"), (NIST, "PR.PS-01"))


# --- What a run reads ------------------------------------------------------------------------------
@dataclass
class _User:
    id: str
    email: str
    name: str
    guest: bool
    enabled: bool
    created: date | None
    last_sign_in: date | None
    mfa_registered: bool | None = None  # None until registration data is read, and if it cannot be
    methods: tuple[str, ...] = ()
    admin: bool = False

    @property
    def enabled_member(self) -> bool:
        return self.enabled and not self.guest

    def row(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "type": "guest" if self.guest else "member",
            "enabled": self.enabled,
            "created": _iso(self.created),
            "last_sign_in": _iso(self.last_sign_in),
            "admin": self.admin,
            "mfa_registered": self.mfa_registered,
            "methods": list(self.methods),
        }


@dataclass(frozen=True)
class _Member:
    id: str
    name: str
    kind: str  # "user", "servicePrincipal" or "group"


@dataclass(frozen=True)
class _Role:
    name: str
    template_id: str
    members: tuple[_Member, ...]


@dataclass
class _Tenant:
    users: dict[str, _User]
    sign_ins_known: bool
    roles: list[_Role] | None = None  # None: Microsoft refused them
    mfa_source: str = ""  # "registration report", "sign-in methods", or "" when unknown
    security_defaults: bool | None = None
    policies: list[dict[str, Any]] | None = None
    devices: list[dict[str, Any]] | None = None

    def enabled_members(self) -> list[_User]:
        return [user for user in self.users.values() if user.enabled_member]


# --- Connector -------------------------------------------------------------------------------------
class Microsoft365Connector(Connector):
    provider: ClassVar[str] = "microsoft_365"
    name: ClassVar[str] = "Microsoft 365"
    scopes: ClassVar[tuple[str, ...]] = tuple(GRAPH + permission for permission in GRAPH_PERMISSIONS)
    reads: ClassVar[tuple[str, ...]] = (
        "Your organisation's name and domains",
        "User accounts: names, sign-in names, member or guest, enabled or not, when created and last signed in",
        "Which multi-factor authentication methods each user has registered (never the secrets themselves)",
        "Administrator roles and who holds them",
        "Security defaults and conditional access policies",
        "Intune-managed devices: name, operating system and compliance state",
    )
    revoke_help: ClassVar[str] = (
        "Microsoft does not let an app withdraw its own access, so to finish disconnecting a Global "
        "Administrator should remove Greenlight's consent by deleting it from Enterprise applications in the "
        "Microsoft Entra admin centre."
    )

    @classmethod
    def from_settings(cls, *, transport: httpx2.BaseTransport | None = None) -> Microsoft365Connector | None:
        config = ConnectorSettings.for_provider(cls.provider)
        return cls(config, transport=transport) if config else None

    def _scope_param(self) -> str:
        return " ".join((OFFLINE_ACCESS, *self.scopes))

    def authorisation_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "response_type": "code",
                "response_mode": "query",
                "redirect_uri": redirect_uri,
                "scope": self._scope_param(),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                # An administrator is often signed in with several accounts; let them pick the tenant's.
                "prompt": "select_account",
            }
        )
        return f"{self.config.authorise_url}?{query}"

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        data = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "scope": self._scope_param(),
        }
        return token_request(self.config.token_url, data, transport=self.transport)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise ReconnectNeeded("The connection has no refresh token. Please connect Microsoft 365 again.")
        data = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "scope": self._scope_param(),
        }
        return token_request(self.config.token_url, data, transport=self.transport)

    def revoke(self, tokens: TokenSet) -> bool:
        # Microsoft's identity platform has no endpoint for an app to revoke its own grant: see revoke_help.
        return False

    def account_label(self, api: ApiClient) -> str:
        body = api.get("organization", {"$select": "id,displayName,verifiedDomains"})
        organisations = _values(body, "organization")
        if not organisations:
            raise UnexpectedResponse("Microsoft Graph returned no organisation for this account.")
        organisation = organisations[0]
        name = str(organisation.get("displayName") or "")
        domains = [d for d in organisation.get("verifiedDomains") or [] if isinstance(d, dict)]
        default = next((str(d.get("name")) for d in domains if d.get("isDefault")), "")
        if name and default:
            return f"{name} ({default})"
        return name or default or "Microsoft 365 tenant"

    def collect(self, api: ApiClient, *, today: date, log: RunLog) -> list[Finding]:
        users, sign_ins_known = _read_users(api, log)
        tenant = _Tenant(users=users, sign_ins_known=sign_ins_known)
        tenant.roles = _optional(
            lambda: _read_roles(api, log), log, "administrator roles", "the Directory.Read.All permission"
        )
        _mark_admins(tenant)
        tenant.mfa_source = _read_registration(api, tenant, log)
        tenant.security_defaults = _optional(
            lambda: _read_security_defaults(api, log), log, "security defaults", "the Policy.Read.All permission"
        )
        tenant.policies = _optional(
            lambda: _read_policies(api, log),
            log,
            "conditional access policies",
            f"{P1_LICENCE} and the Policy.Read.All permission",
        )
        tenant.devices = _optional(
            lambda: _read_devices(api, log),
            log,
            "Intune device compliance",
            "a Microsoft Intune licence and the DeviceManagementManagedDevices.Read.All permission",
        )
        builders = (
            _mfa_registration,
            _mfa_enforced,
            _global_admins,
            _admin_mfa,
            _dormant_accounts,
            _guest_users,
            _user_register,
            _directory_roles,
            _conditional_access,
            _device_compliance,
        )
        return [finding for build in builders if (finding := build(tenant, today)) is not None]


# --- Reading Graph ---------------------------------------------------------------------------------
def _values(body: dict[str, Any], what: str) -> list[dict[str, Any]]:
    items = body.get("value")
    if not isinstance(items, list):
        raise UnexpectedResponse(f"Microsoft Graph sent an unexpected shape of data for {what}.")
    return [item for item in items if isinstance(item, dict)]


def _pages(api: ApiClient, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Each page of a Graph listing, following `@odata.nextLink` (a full URL) until there is none."""
    url = api.url(path, params)
    followed: set[str] = set()
    while True:
        body = api.get(url)
        yield _values(body, path)
        next_link = body.get("@odata.nextLink")
        if not next_link or next_link in followed:  # a repeated link would loop for ever
            return
        # The bearer token goes wherever the link points: only ever to the API we were given.
        if not isinstance(next_link, str) or not next_link.startswith(api.base_url + "/"):
            raise UnexpectedResponse(f"Microsoft Graph sent a next-page link for {path} that points elsewhere.")
        followed.add(next_link)
        url = next_link


def _is_refusal(error: ConnectorError) -> bool:
    # A 403, or another 4xx such as Intune's "not applicable to target tenant"; not outages or lost sign-ins.
    return isinstance(error, InsufficientScope) or type(error) is ConnectorError


def _optional[T](read: Callable[[], T], log: RunLog, area: str, needs: str) -> T | None:
    try:
        return read()
    except ConnectorError as error:
        if not _is_refusal(error):
            raise
        log(f"Skipped {area}: Microsoft refused access. It needs {needs}.", level="warning")
        return None


def _read_users(api: ApiClient, log: RunLog) -> tuple[dict[str, _User], bool]:
    try:
        return _list_users(api, log, with_sign_ins=True), True
    except InsufficientScope:
        log(
            f"Microsoft refused last sign-in times (they need {P1_LICENCE} and the AuditLog.Read.All "
            "permission); reading users without them, so the dormant account check is skipped.",
            level="warning",
        )
    return _list_users(api, log, with_sign_ins=False), False


def _list_users(api: ApiClient, log: RunLog, *, with_sign_ins: bool) -> dict[str, _User]:
    select = f"{USER_FIELDS},signInActivity" if with_sign_ins else USER_FIELDS
    users: dict[str, _User] = {}
    pages = 0
    for page in _pages(api, "users", {"$select": select, "$top": PAGE_SIZE}):
        pages += 1
        for item in page:
            user = _parse_user(item)
            users[user.id] = user
    log(f"Read {len(users):,} users in {_plural(pages, 'page')}.")
    return users


def _parse_user(item: dict[str, Any]) -> _User:
    if not item.get("id"):
        raise UnexpectedResponse("Microsoft Graph listed a user without an id.")
    guest = str(item.get("userType") or "Member").lower() == "guest"
    upn = str(item.get("userPrincipalName") or "")
    activity = item.get("signInActivity") or {}
    sign_ins = [_parse_time(activity.get(name)) for name in ("lastSignInDateTime", "lastNonInteractiveSignInDateTime")]
    known = [moment for moment in sign_ins if moment is not None]
    created = _parse_time(item.get("createdDateTime"))
    return _User(
        id=str(item["id"]),
        # A guest's sign-in name is an unreadable "jo_partner.com#EXT#@..."; their mail address is not.
        email=str(item.get("mail") or upn) if guest else upn or str(item.get("mail") or ""),
        name=str(item.get("displayName") or ""),
        guest=guest,
        enabled=item.get("accountEnabled") is not False,
        created=created.date() if created else None,
        last_sign_in=max(known).date() if known else None,
    )


def _read_roles(api: ApiClient, log: RunLog) -> list[_Role]:
    roles = []
    for page in _pages(api, "directoryRoles", {"$expand": "members"}):
        for item in page:
            members = [_parse_member(member) for member in item.get("members") or [] if isinstance(member, dict)]
            if len(members) >= EXPAND_LIMIT:
                members = _role_members(api, str(item.get("id")))
            name = str(item.get("displayName") or "Unnamed role")
            roles.append(_Role(name=name, template_id=str(item.get("roleTemplateId") or ""), members=tuple(members)))
    log(f"Read {_plural(len(roles), 'active administrator role')}.")
    return roles


def _role_members(api: ApiClient, role_id: str) -> list[_Member]:
    path = f"directoryRoles/{quote(role_id, safe='')}/members"
    params = {"$select": "id,displayName,userPrincipalName"}
    return [_parse_member(item) for page in _pages(api, path, params) for item in page]


def _parse_member(item: dict[str, Any]) -> _Member:
    kind = str(item.get("@odata.type") or "#microsoft.graph.user").rsplit(".", 1)[-1]
    name = str(item.get("userPrincipalName") or item.get("displayName") or item.get("id") or "")
    return _Member(id=str(item.get("id") or ""), name=name, kind=kind)


def _mark_admins(tenant: _Tenant) -> None:
    # Every Entra directory role opens an admin centre, so each holder counts as an administrator here.
    for role in tenant.roles or []:
        for member in role.members:
            if member.id in tenant.users:
                tenant.users[member.id].admin = True


def _read_registration(api: ApiClient, tenant: _Tenant, log: RunLog) -> str:
    try:
        _registration_report(api, tenant, log)
        return "registration report"
    except ConnectorError as error:
        if not _is_refusal(error):
            raise
    people = [user for user in tenant.users.values() if user.enabled_member or user.admin]
    if len(people) > METHODS_FALLBACK_LIMIT:
        log(
            f"Skipped MFA registration: Microsoft refused the registration report (it needs {P1_LICENCE} and "
            f"the AuditLog.Read.All permission), and {len(people):,} users are too many to read one at a time.",
            level="warning",
        )
        return ""
    log(
        f"Microsoft refused the MFA registration report (it needs {P1_LICENCE}); reading the sign-in methods of "
        f"{_plural(len(people), 'user')} one at a time instead.",
        level="warning",
    )
    read = _optional(
        lambda: _read_methods(api, people), log, "MFA registration", "the UserAuthenticationMethod.Read.All permission"
    )
    return "" if read is None else "sign-in methods"


def _registration_report(api: ApiClient, tenant: _Tenant, log: RunLog) -> None:
    rows = pages = 0
    path = "reports/authenticationMethods/userRegistrationDetails"
    for page in _pages(api, path, {"$top": PAGE_SIZE}):
        pages += 1
        for item in page:
            rows += 1
            user = tenant.users.get(str(item.get("id")))
            if user is None:
                continue
            user.mfa_registered = bool(item.get("isMfaRegistered"))
            user.methods = tuple(str(method) for method in item.get("methodsRegistered") or [])
            user.admin = user.admin or bool(item.get("isAdmin"))
    log(f"Read MFA registration details of {_plural(rows, 'user')} in {_plural(pages, 'page')}.")


def _read_methods(api: ApiClient, people: Iterable[_User]) -> int:
    read = 0
    for user in people:
        body = api.get(f"users/{quote(user.id, safe='')}/authentication/methods")
        kinds = [str(method.get("@odata.type") or "") for method in _values(body, "authentication methods")]
        user.methods = tuple(kind.rsplit(".", 1)[-1].removesuffix("AuthenticationMethod") for kind in kinds)
        user.mfa_registered = any(kind in MFA_METHOD_TYPES for kind in kinds)
        read += 1
    return read


def _read_security_defaults(api: ApiClient, log: RunLog) -> bool:
    body = api.get("policies/identitySecurityDefaultsEnforcementPolicy")
    enabled = body.get("isEnabled")
    if not isinstance(enabled, bool):
        raise UnexpectedResponse("Microsoft Graph did not say whether security defaults are on.")
    log(f"Security defaults are {'on' if enabled else 'off'}.")
    return enabled


def _read_policies(api: ApiClient, log: RunLog) -> list[dict[str, Any]]:
    policies = [_policy_summary(item) for page in _pages(api, "identity/conditionalAccess/policies") for item in page]
    log(f"Read {_plural(len(policies), 'conditional access policy', 'conditional access policies')}.")
    return policies


def _policy_summary(item: dict[str, Any]) -> dict[str, Any]:
    conditions = item.get("conditions") or {}
    users = conditions.get("users") or {}
    applications = conditions.get("applications") or {}
    grant = item.get("grantControls") or {}
    controls = [str(control) for control in grant.get("builtInControls") or []]
    strength = (grant.get("authenticationStrength") or {}).get("displayName")
    # With "OR", another control (a compliant device, say) lets people in without MFA.
    demands_mfa = ("mfa" in controls or bool(strength)) and (grant.get("operator") != "OR" or len(controls) <= 1)
    everyone = "All" in (users.get("includeUsers") or [])
    every_app = bool({"All", "Office365"} & set(applications.get("includeApplications") or []))
    return {
        "name": str(item.get("displayName") or ""),
        "state": str(item.get("state") or ""),
        "include_users": list(users.get("includeUsers") or []),
        "include_groups": len(users.get("includeGroups") or []),
        "excluded_users": len(users.get("excludeUsers") or []),
        "excluded_groups": len(users.get("excludeGroups") or []),
        "applications": list(applications.get("includeApplications") or []),
        "grant_controls": controls,
        "authentication_strength": strength,
        "operator": grant.get("operator"),
        "requires_mfa": demands_mfa,
        "requires_mfa_for_everyone": demands_mfa and everyone and every_app,
    }


def _read_devices(api: ApiClient, log: RunLog) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    pages = 0
    for page in _pages(api, "deviceManagement/managedDevices", {"$select": DEVICE_FIELDS}):
        pages += 1
        devices.extend(
            {
                "name": str(item.get("deviceName") or ""),
                "os": str(item.get("operatingSystem") or ""),
                "compliance": str(item.get("complianceState") or "unknown"),
                "last_sync": _iso(_parse_time(item.get("lastSyncDateTime"))),
            }
            for item in page
        )
    log(f"Read {_plural(len(devices), 'Intune-managed device')} in {_plural(pages, 'page')}.")
    return devices


# --- Findings --------------------------------------------------------------------------------------
def _mfa_registration(tenant: _Tenant, today: date) -> Finding | None:
    if not tenant.mfa_source:
        return None
    members = tenant.enabled_members()
    missing = [user for user in members if not user.mfa_registered]
    registered = len(members) - len(missing)
    return Finding(
        key="microsoft.mfa_registration",
        title="MFA registration",
        summary=(
            f"{registered:,} of {_plural(len(members), 'enabled member account')} "
            f"{'has' if registered == 1 else 'have'} registered a multi-factor authentication method "
            f"({long_date(today)})."
        ),
        evidence_type="report",
        controls=MFA_CONTROLS,
        passed=bool(members) and not missing,
        details={
            "enabled_members": len(members),
            "registered": registered,
            "not_registered": len(missing),
            "source": tenant.mfa_source,
            "not_registered_sample": _sample(missing),
        },
        snapshot=[
            {"email": u.email, "name": u.name, "mfa_registered": bool(u.mfa_registered), "methods": list(u.methods)}
            for u in members
        ],
    )


def _mfa_enforced(tenant: _Tenant, today: date) -> Finding | None:
    if tenant.security_defaults is None:
        return None
    policies = tenant.policies or []
    enforcing = [p["name"] for p in policies if p["state"] == "enabled" and p["requires_mfa_for_everyone"]]
    report_only = [p["name"] for p in policies if p["state"] != "enabled" and p["requires_mfa_for_everyone"]]
    if tenant.security_defaults:
        summary = "Security defaults are on, so Microsoft requires multi-factor authentication of every user"
    elif enforcing:
        summary = (
            f"Conditional access policy “{enforcing[0]}” requires multi-factor authentication of all users "
            "for all cloud apps"
        )
    elif tenant.policies is None:
        summary = (
            "Multi-factor authentication is not enforced: security defaults are off, and conditional access "
            f"policies could not be read without {P1_LICENCE}"
        )
    else:
        summary = (
            "Multi-factor authentication is not enforced: security defaults are off and no enabled conditional "
            "access policy requires it of all users"
        )
    return Finding(
        key="microsoft.mfa_enforced",
        title="MFA enforcement",
        summary=f"{summary} ({long_date(today)}).",
        evidence_type="configuration",
        controls=MFA_CONTROLS,
        passed=tenant.security_defaults or bool(enforcing),
        details={
            "security_defaults": tenant.security_defaults,
            "conditional_access_read": tenant.policies is not None,
            "enforcing_policies": enforcing[:SAMPLE_LIMIT],
            "not_enforced_mfa_policies": report_only[:SAMPLE_LIMIT],
        },
        snapshot={
            "security_defaults_enabled": tenant.security_defaults,
            "conditional_access_policies": tenant.policies,
        },
    )


def _global_admins(tenant: _Tenant, today: date) -> Finding | None:
    if tenant.roles is None:
        return None
    holders = [
        member
        for role in tenant.roles
        if role.template_id == GLOBAL_ADMINISTRATOR
        for member in role.members
        if member.kind == "user"
    ]
    count = len(holders)
    disabled = [m.name for m in holders if m.id in tenant.users and not tenant.users[m.id].enabled]
    verb = "holds" if count == 1 else "hold"
    return Finding(
        key="microsoft.global_admins",
        title="Global Administrators",
        summary=(
            f"{_plural(count, 'account')} {verb} the Global Administrator role; between {GLOBAL_ADMINS_MIN} and "
            f"{GLOBAL_ADMINS_MAX} is recommended ({long_date(today)})."
        ),
        evidence_type="configuration",
        controls=ADMIN_CONTROLS,
        passed=GLOBAL_ADMINS_MIN <= count <= GLOBAL_ADMINS_MAX,
        details={
            "count": count,
            "recommended_min": GLOBAL_ADMINS_MIN,
            "recommended_max": GLOBAL_ADMINS_MAX,
            "global_admins": [m.name for m in holders][:SAMPLE_LIMIT],
            "disabled": disabled[:SAMPLE_LIMIT],
        },
        snapshot=[{"name": m.name, "type": m.kind} for m in holders],
    )


def _admin_mfa(tenant: _Tenant, today: date) -> Finding | None:
    if tenant.roles is None or not tenant.mfa_source:
        return None
    admins = [user for user in tenant.users.values() if user.admin and user.enabled]
    missing = [user for user in admins if not user.mfa_registered]
    if missing:
        verb = "has" if len(missing) == 1 else "have"
        summary = f"{len(missing):,} of {_plural(len(admins), 'administrator account')} {verb} not registered"
    else:
        summary = f"{_every(len(admins), 'administrator account')} registered"
    return Finding(
        key="microsoft.admin_mfa",
        title="Administrators without MFA",
        summary=f"{summary} a multi-factor authentication method ({long_date(today)}).",
        evidence_type="report",
        controls=ADMIN_MFA_CONTROLS,
        passed=not missing,
        details={"admins": len(admins), "without_mfa": len(missing), "without_mfa_sample": _sample(missing)},
        snapshot=[{"email": u.email, "name": u.name, "mfa_registered": bool(u.mfa_registered)} for u in admins],
    )


def _dormant_accounts(tenant: _Tenant, today: date) -> Finding | None:
    if not tenant.sign_ins_known:
        return None
    cutoff = today - timedelta(days=DORMANT_DAYS)
    enabled = [user for user in tenant.users.values() if user.enabled]
    dormant = [user for user in enabled if _dormant(user, cutoff)]
    if dormant:
        verb = "has" if len(dormant) == 1 else "have"
        summary = f"{len(dormant):,} of {_plural(len(enabled), 'enabled account')} {verb} not signed in"
    else:
        summary = f"{_every(len(enabled), 'enabled account')} signed in, or been created,"
    return Finding(
        key="microsoft.dormant_accounts",
        title="Dormant accounts",
        summary=f"{summary} within the last {DORMANT_DAYS} days ({long_date(today)}).",
        evidence_type="report",
        controls=DORMANT_CONTROLS,
        passed=not dormant,
        details={
            "enabled": len(enabled),
            "dormant": len(dormant),
            "never_signed_in": sum(1 for user in dormant if user.last_sign_in is None),
            "days": DORMANT_DAYS,
            "dormant_sample": _sample(dormant),
        },
        snapshot=[
            {"email": u.email, "name": u.name, "last_sign_in": _iso(u.last_sign_in), "created": _iso(u.created)}
            for u in dormant
        ],
    )


def _dormant(user: _User, cutoff: date) -> bool:
    if user.last_sign_in is not None:
        return user.last_sign_in < cutoff
    # A new starter who has not signed in yet is not dormant.
    return user.created is None or user.created < cutoff


def _guest_users(tenant: _Tenant, today: date) -> Finding:
    guests = [user for user in tenant.users.values() if user.guest]
    enabled = sum(1 for user in guests if user.enabled)
    return Finding(
        key="microsoft.guest_users",
        title="Guest accounts",
        summary=f"The tenant has {_plural(len(guests), 'guest account')}, {enabled:,} enabled ({long_date(today)}).",
        evidence_type="register",
        controls=GUEST_CONTROLS,
        details={"guests": len(guests), "enabled": enabled, "guest_sample": _sample(guests)},
        snapshot=[
            {"email": u.email, "name": u.name, "enabled": u.enabled, "last_sign_in": _iso(u.last_sign_in)}
            for u in guests
        ],
    )


def _user_register(tenant: _Tenant, today: date) -> Finding:
    kinds = Counter(
        "disabled" if not user.enabled else "guest" if user.guest else "member" for user in tenant.users.values()
    )
    return Finding(
        key="microsoft.user_register",
        title="User register",
        summary=(
            f"{_plural(len(tenant.users), 'user account')}: {kinds['member']:,} enabled "
            f"{'member' if kinds['member'] == 1 else 'members'}, {kinds['guest']:,} enabled "
            f"{'guest' if kinds['guest'] == 1 else 'guests'} and {kinds['disabled']:,} disabled "
            f"({long_date(today)})."
        ),
        evidence_type="register",
        controls=REGISTER_CONTROLS,
        details={
            "total": len(tenant.users),
            "enabled_members": kinds["member"],
            "enabled_guests": kinds["guest"],
            "disabled": kinds["disabled"],
            "admins": sum(1 for user in tenant.users.values() if user.admin),
        },
        snapshot=[user.row() for user in tenant.users.values()],
    )


def _directory_roles(tenant: _Tenant, today: date) -> Finding | None:
    if tenant.roles is None:
        return None
    assignments = sum(len(role.members) for role in tenant.roles)
    return Finding(
        key="microsoft.directory_roles",
        title="Administrator roles",
        summary=(
            f"{_plural(len(tenant.roles), 'active administrator role')} with "
            f"{_plural(assignments, 'assignment')} ({long_date(today)})."
        ),
        evidence_type="configuration",
        controls=ADMIN_CONTROLS,
        details={"roles": {role.name: len(role.members) for role in tenant.roles}, "assignments": assignments},
        snapshot=[
            {"role": role.name, "members": [{"name": m.name, "type": m.kind} for m in role.members]}
            for role in tenant.roles
        ],
    )


def _conditional_access(tenant: _Tenant, today: date) -> Finding | None:
    if tenant.policies is None:
        return None
    states = Counter(policy["state"] for policy in tenant.policies)
    return Finding(
        key="microsoft.conditional_access",
        title="Conditional access policies",
        summary=(
            f"{_plural(len(tenant.policies), 'conditional access policy', 'conditional access policies')}: "
            f"{states['enabled']:,} on, {states['enabledForReportingButNotEnforced']:,} report-only and "
            f"{states['disabled']:,} off ({long_date(today)})."
        ),
        evidence_type="configuration",
        controls=ACCESS_POLICY_CONTROLS,
        details={
            "policies": len(tenant.policies),
            "enabled": states["enabled"],
            "report_only": states["enabledForReportingButNotEnforced"],
            "disabled": states["disabled"],
            "security_defaults": tenant.security_defaults,
        },
        snapshot={"security_defaults_enabled": tenant.security_defaults, "policies": tenant.policies},
    )


def _device_compliance(tenant: _Tenant, today: date) -> Finding | None:
    if tenant.devices is None:
        return None
    devices = tenant.devices
    noncompliant = [d for d in devices if d["compliance"] in NONCOMPLIANT_STATES]
    compliant = sum(1 for d in devices if d["compliance"] == "compliant")
    unknown = len(devices) - compliant - len(noncompliant)
    if devices:
        summary = (
            f"{compliant:,} of {_plural(len(devices), 'Intune-managed device')} "
            f"{'is' if compliant == 1 else 'are'} compliant; {len(noncompliant):,} non-compliant and "
            f"{unknown:,} unknown"
        )
    else:
        summary = "No devices are enrolled in Intune"
    return Finding(
        key="microsoft.device_compliance",
        title="Device compliance",
        summary=f"{summary} ({long_date(today)}).",
        evidence_type="report",
        controls=DEVICE_CONTROLS,
        # No enrolled devices proves nothing either way, so there is nothing to pass or fail.
        passed=compliant == len(devices) if devices else None,
        details={
            "devices": len(devices),
            "compliant": compliant,
            "noncompliant": len(noncompliant),
            "unknown": unknown,
            "states": dict(Counter(d["compliance"] for d in devices)),
            "noncompliant_sample": [d["name"] for d in noncompliant[:SAMPLE_LIMIT]],
        },
        snapshot=devices,
    )


# --- Helpers ---------------------------------------------------------------------------------------
def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if moment.year < 1971 else moment  # Graph writes "0001-01-01T00:00:00Z" for never


def _iso(day: date | datetime | None) -> str | None:
    return day.isoformat() if day else None


def _plural(count: int, singular: str, plural: str = "") -> str:
    return f"{count:,} {singular if count == 1 else plural or singular + 's'}"


def _every(count: int, noun: str) -> str:
    """The start of a sentence saying something holds for every one of `count` things."""
    return f"The only {noun} has" if count == 1 else f"All {count:,} {noun}s have"


def _sample(users: list[_User]) -> list[str]:
    return [user.email for user in users[:SAMPLE_LIMIT]]
