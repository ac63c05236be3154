"""A local stand-in for Microsoft Entra sign-in and Microsoft Graph, so the Microsoft 365 connector's tests
drive real HTTP against the documented shapes.

`FakeMicrosoft(tenant)` listens on 127.0.0.1 and serves:
- sign-in under `/{tenant id}/oauth2/v2.0/`: `authorize` (PKCE S256; answers with a redirect carrying the
  code, as if an administrator had consented) and `token` (authorization_code and refresh_token grants,
  rotating refresh tokens, Entra's AADSTS error bodies, a refresh token only when offline_access was asked);
- Graph under `/v1.0/`: organization, users ($select, $top, signInActivity), users/{id}/authentication/methods,
  the MFA registration report, directoryRoles ($expand=members, capped at 20 like Graph), conditional access
  policies, security defaults and Intune managed devices, paginated with full-URL `@odata.nextLink`s.

Bearer tokens are checked (an expired one gets Graph's 401 body), each endpoint needs one of its documented
permissions (403 Authorization_RequestDenied otherwise), and P1-only areas answer a tenant without premium
the way Graph does. `settings()` points a connector here, `issue_tokens()` starts a test connected, and
`script(path, *replies)` queues faults (403, 429, 5xx, malformed JSON) per path; every
request is kept for assertions.

`FakeTenant.generate(n)` builds a deterministic tenant. For user index i, by i % 20:
  19 → guest, enabled, MFA registered;   18 → member, disabled, not registered;
   0 → enabled member without MFA;       10 → last signed in 120 days ago;
  11 → never signed in, created 400 days ago;  12 → never signed in, created 10 days ago;
  anything else → signed in 2 days ago, created 500 days ago, MFA registered.
Roles: Global Administrator users 1, 2, 3; User Administrator user 0; Directory Readers a service principal.
Devices (n // 2 by default), by j % 10: 0 → noncompliant, 5 → inGracePeriod, 1 → unknown, else compliant.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from evidence.connectors.base import ConnectorSettings, TokenSet

TODAY = date(2026, 11, 22)
TENANT_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
CLIENT_ID = "3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c1d"
CLIENT_SECRET = "fake-microsoft-client-secret"
GRAPH = "https://graph.microsoft.com/"
ALL_PERMISSIONS = frozenset(
    {
        "User.Read.All",
        "AuditLog.Read.All",
        "Directory.Read.All",
        "Policy.Read.All",
        "DeviceManagementManagedDevices.Read.All",
        "UserAuthenticationMethod.Read.All",
        "Reports.Read.All",
    }
)
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # the same for every user in Entra
DEFAULT_USER_FIELDS = ("id", "displayName", "userPrincipalName", "mail")
EXPAND_LIMIT = 20
_IDS = uuid.UUID("0b8f5a52-7d1e-4b8a-9f21-3c4d5e6f7a8b")

# Which permissions open each Graph path (any one of them), and the default and largest page sizes.
PERMISSIONS = {
    "organization": {"User.Read", "User.Read.All", "Directory.Read.All"},
    "users": {"User.Read.All", "Directory.Read.All"},
    "methods": {"UserAuthenticationMethod.Read.All"},
    "registration": {"AuditLog.Read.All"},
    "roles": {"Directory.Read.All", "RoleManagement.Read.Directory"},
    "policies": {"Policy.Read.All"},
    "devices": {"DeviceManagementManagedDevices.Read.All"},
}
PAGE_SIZES = {"users": (100, 999), "registration": (100, 999), "devices": (1000, 1000), "members": (100, 999)}


def stable_id(label: str) -> str:
    return str(uuid.uuid5(_IDS, label))


def graph_time(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


# --- Tenant ----------------------------------------------------------------------------------------
@dataclass
class FakeUser:
    id: str
    upn: str
    name: str
    mail: str | None
    guest: bool = False
    enabled: bool = True
    created: datetime | None = None
    last_sign_in: datetime | None = None
    mfa_registered: bool = True

    def resource(self, fields: tuple[str, ...]) -> dict[str, Any]:
        everything = {
            "id": self.id,
            "displayName": self.name,
            "userPrincipalName": self.upn,
            "mail": self.mail,
            "accountEnabled": self.enabled,
            "userType": "Guest" if self.guest else "Member",
            "createdDateTime": graph_time(self.created),
            "signInActivity": self.sign_in_activity(),
        }
        return {name: everything[name] for name in ("id", *fields) if name in everything}

    def sign_in_activity(self) -> dict[str, Any] | None:
        if self.last_sign_in is None:
            return None
        return {
            "lastSignInDateTime": graph_time(self.last_sign_in),
            "lastSignInRequestId": stable_id(f"sign-in-{self.id}"),
            "lastNonInteractiveSignInDateTime": graph_time(self.last_sign_in - timedelta(hours=3)),
            "lastNonInteractiveSignInRequestId": stable_id(f"token-{self.id}"),
        }

    def methods(self) -> list[dict[str, Any]]:
        methods: list[dict[str, Any]] = [
            {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": PASSWORD_METHOD_ID}
        ]
        if self.mfa_registered:
            methods.append(
                {
                    "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                    "id": stable_id(f"authenticator-{self.id}"),
                    "displayName": "iPhone 15",
                    "deviceTag": "SoftwareTokenActivated",
                    "phoneAppVersion": "6.8.7",
                }
            )
        return methods

    def registration(self, *, admin: bool) -> dict[str, Any]:
        methods = ["microsoftAuthenticatorPush", "softwareOneTimePasscode"] if self.mfa_registered else []
        return {
            "id": self.id,
            "userPrincipalName": self.upn,
            "userDisplayName": self.name,
            "userType": "guest" if self.guest else "member",
            "isAdmin": admin,
            "isSsprRegistered": self.mfa_registered,
            "isSsprEnabled": True,
            "isSsprCapable": self.mfa_registered,
            "isMfaRegistered": self.mfa_registered,
            "isMfaCapable": self.mfa_registered,
            "isPasswordlessCapable": False,
            "methodsRegistered": methods,
            "isSystemPreferredAuthenticationMethodEnabled": True,
            "systemPreferredAuthenticationMethods": ["push"] if self.mfa_registered else [],
            "userPreferredMethodForSecondaryAuthentication": "push" if self.mfa_registered else "none",
            "lastUpdatedDateTime": "2026-11-21T03:00:00Z",
        }


@dataclass
class FakeRole:
    name: str
    template_id: str
    members: list[dict[str, Any]]  # Graph directoryObjects: users, service principals, groups
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or stable_id(f"role-{self.template_id}")


def user_member(user: FakeUser) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "displayName": user.name,
        "userPrincipalName": user.upn,
    }


def service_principal(name: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": stable_id(f"sp-{name}"),
        "displayName": name,
        "appId": stable_id(f"app-{name}"),
    }


def ca_policy(
    name: str,
    *,
    state: str = "enabled",
    include_users: tuple[str, ...] = ("All",),
    exclude_users: tuple[str, ...] = (),
    applications: tuple[str, ...] = ("All",),
    controls: tuple[str, ...] = ("mfa",),
    operator: str = "OR",
) -> dict[str, Any]:
    """A conditional access policy in Graph's shape."""
    return {
        "id": stable_id(f"policy-{name}"),
        "templateId": None,
        "displayName": name,
        "createdDateTime": "2025-03-01T10:00:00Z",
        "modifiedDateTime": "2026-06-01T10:00:00Z",
        "state": state,
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": ["all"],
            "platforms": None,
            "locations": None,
            "devices": None,
            "applications": {
                "includeApplications": list(applications),
                "excludeApplications": [],
                "includeUserActions": [],
            },
            "users": {
                "includeUsers": list(include_users),
                "excludeUsers": list(exclude_users),
                "includeGroups": [],
                "excludeGroups": [],
                "includeRoles": [],
                "excludeRoles": [],
            },
        },
        "grantControls": {
            "operator": operator,
            "builtInControls": list(controls),
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": None,
        },
    }


def managed_device(index: int, state: str, *, today: date = TODAY) -> dict[str, Any]:
    synced = datetime.combine(today, clock(8), tzinfo=UTC) - timedelta(days=index % 3)
    return {
        "id": stable_id(f"device-{index}"),
        "deviceName": f"LAPTOP-{index:04d}",
        "operatingSystem": "Windows" if index % 4 else "iOS",
        "complianceState": state,
        "lastSyncDateTime": graph_time(synced),
        "userPrincipalName": f"user{index:04d}@contoso.co.uk",
        "managedDeviceOwnerType": "company",
    }


@dataclass
class FakeTenant:
    users: list[FakeUser] = field(default_factory=list)
    roles: list[FakeRole] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    name: str = "Contoso Ltd"
    domain: str = "contoso.co.uk"
    security_defaults: bool = False
    premium: bool = True  # Microsoft Entra ID P1: sign-in activity, registration report, conditional access
    intune: bool = True
    consented: frozenset[str] = ALL_PERMISSIONS

    @classmethod
    def generate(cls, users: int = 40, *, devices: int | None = None, today: date = TODAY) -> FakeTenant:
        people = [_generated_user(index, today) for index in range(users)]
        roles = [
            FakeRole("Global Administrator", GLOBAL_ADMINISTRATOR, [user_member(u) for u in people[1:4]]),
            FakeRole("User Administrator", USER_ADMINISTRATOR, [user_member(u) for u in people[:1]]),
            FakeRole("Directory Readers", DIRECTORY_READERS, [service_principal("Backup service")]),
        ]
        policies = [
            ca_policy("Require MFA for all users", exclude_users=(stable_id("break-glass"),)),
            ca_policy("Block legacy authentication", controls=("block",)),
            ca_policy(
                "Require compliant devices", state="enabledForReportingButNotEnforced", controls=("compliantDevice",)
            ),
        ]
        count = users // 2 if devices is None else devices
        fleet = [managed_device(j, _device_state(j), today=today) for j in range(count)]
        return cls(users=people, roles=roles, policies=policies, devices=fleet)

    def admin_ids(self) -> set[str]:
        return {member["id"] for role in self.roles for member in role.members}

    def organisation(self) -> dict[str, Any]:
        initial = f"{self.domain.split('.')[0]}.onmicrosoft.com"
        return {
            "id": TENANT_ID,
            "displayName": self.name,
            "countryLetterCode": "GB",
            "verifiedDomains": [
                {"capabilities": "Email, OfficeCommunicationsOnlineService", "isDefault": False, "isInitial": True,
                 "name": initial, "type": "Managed"},
                {"capabilities": "Email, OfficeCommunicationsOnlineService", "isDefault": True, "isInitial": False,
                 "name": self.domain, "type": "Managed"},
            ],
        }  # fmt: skip


def _generated_user(index: int, today: date) -> FakeUser:
    bucket = index % 20
    now = datetime.combine(today, clock(9), tzinfo=UTC)
    user = FakeUser(
        id=stable_id(f"user-{index}"),
        upn=f"user{index:04d}@contoso.co.uk",
        name=f"User {index:04d}",
        mail=f"user{index:04d}@contoso.co.uk",
        created=now - timedelta(days=500),
        last_sign_in=now - timedelta(days=2),
    )
    if bucket == 19:
        user.guest = True
        user.upn = f"guest{index:04d}_partner.example#EXT#@contoso.onmicrosoft.com"
        user.mail = f"guest{index:04d}@partner.example"
        user.last_sign_in = now - timedelta(days=5)
    elif bucket == 18:
        user.enabled, user.mfa_registered = False, False
        user.last_sign_in = now - timedelta(days=300)
    elif bucket == 0:
        user.mfa_registered = False
    elif bucket == 10:
        user.last_sign_in = now - timedelta(days=120)
    elif bucket == 11:
        user.last_sign_in, user.created = None, now - timedelta(days=400)
    elif bucket == 12:
        user.last_sign_in, user.created = None, now - timedelta(days=10)
    return user


def _device_state(index: int) -> str:
    return {0: "noncompliant", 5: "inGracePeriod", 1: "unknown"}.get(index % 10, "compliant")


# --- Replies ---------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def ok(body: dict[str, Any]) -> Reply:
    return Reply(body=_json(body))


def graph_error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> Reply:
    inner = {"date": "2026-11-22T10:00:00", "request-id": stable_id(code), "client-request-id": stable_id(message)}
    return Reply(status, _json({"error": {"code": code, "message": message, "innerError": inner}}), headers or {})


def denied() -> Reply:
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def not_premium() -> Reply:
    return graph_error(
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    )


def throttled(retry_after: float) -> Reply:
    return graph_error(
        429,
        "TooManyRequests",
        "Too many requests are being made. Please retry after the time in the Retry-After header.",
        headers={"Retry-After": f"{retry_after:g}"},
    )


def unavailable(status: int = 503) -> Reply:
    return graph_error(status, "serviceNotAvailable", "The service is temporarily unavailable.")


def malformed() -> Reply:
    return Reply(body=b'{"value": [{"id": "truncated", ')


def oauth_error(status: int, error: str, aadsts: int, description: str) -> Reply:
    return Reply(
        status,
        _json(
            {
                "error": error,
                "error_description": f"AADSTS{aadsts}: {description} Trace ID: {stable_id(error)}",
                "error_codes": [aadsts],
                "timestamp": "2026-11-22 10:00:00Z",
                "trace_id": stable_id(error),
                "correlation_id": stable_id(description),
                "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
            }
        ),
    )


EXPIRED = graph_error(
    401,
    "InvalidAuthenticationToken",
    "Lifetime validation failed, the token is expired.",
    headers={"WWW-Authenticate": 'Bearer realm="", client_id="00000003-0000-0000-c000-000000000000"'},
)


# --- Server ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str  # "authorize", "token", or the Graph path after /v1.0/, e.g. "users"
    query: dict[str, list[str]]
    form: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass
class _Code:
    challenge: str
    redirect_uri: str
    scopes: frozenset[str]
    offline: bool


class FakeMicrosoft:
    def __init__(self, tenant: FakeTenant | None = None, *, token_lifetime: int = 3599) -> None:
        self.tenant = tenant or FakeTenant.generate()
        self.token_lifetime = token_lifetime
        self.page_cap: int | None = None  # forces small pages to exercise pagination
        self.requests: list[SeenRequest] = []
        self._replies: dict[str, deque[Reply]] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[float, frozenset[str]]] = {}
        self._refresh: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval lets shutdown() return quickly at the end of each test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    # Lifecycle and configuration
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    @property
    def login_url(self) -> str:
        return f"{self.url}/{TENANT_ID}/oauth2/v2.0"

    def settings_entry(self) -> dict[str, str]:
        """An `EVIDENCE_CONNECTORS["microsoft_365"]` entry pointing at this fake."""
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorise_url": f"{self.login_url}/authorize",
            "token_url": f"{self.login_url}/token",
            "revoke_url": "",
            "api_base_url": self.graph_url,
        }

    def settings(self) -> ConnectorSettings:
        return ConnectorSettings(**self.settings_entry())

    def start(self) -> FakeMicrosoft:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # Scripting and inspection
    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests for `path` ("token", "users", ...) with these replies, in order."""
        with self._lock:
            self._replies.setdefault(path, deque()).extend(replies)

    def scripted(self, path: str) -> Reply | None:
        with self._lock:
            queue = self._replies.get(path)
            return queue.popleft() if queue else None

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def issue_tokens(self, *, expires_in: int | None = None, scopes: frozenset[str] | None = None) -> TokenSet:
        """Tokens as if an administrator had just signed in, for tests that start connected; a negative
        `expires_in` gives tokens the client already knows to have expired."""
        lifetime = self.token_lifetime if expires_in is None else expires_in
        body = self._tokens(self.tenant.consented if scopes is None else scopes, offline=True, lifetime=lifetime)
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            scopes=tuple(body["scope"].split()),
        )

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = {token: (0.0, scopes) for token, (_, scopes) in self._access.items()}

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()

    def sign_in(self, authorisation_url: str) -> dict[str, str]:
        """Follow the authorisation URL as a consenting administrator; the redirect's query parameters."""
        parts = urlsplit(authorisation_url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            response.read()
            location = response.getheader("Location") or ""
        finally:
            connection.close()
        if response.status != 302:
            raise AssertionError(f"The fake refused the sign-in (HTTP {response.status}).")
        return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

    # OAuth
    def authorise(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}
        requested = query.get("scope", "").split()
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                challenge=query["code_challenge"],
                redirect_uri=query.get("redirect_uri", ""),
                scopes=self._granted(requested),
                offline="offline_access" in requested,
            )
        target = urlencode({"code": code, "state": query.get("state", ""), "session_state": stable_id("session")})
        return 302, {"Location": f"{query.get('redirect_uri', '')}?{target}"}

    def token(self, form: dict[str, str]) -> Reply:
        if form.get("client_id") != CLIENT_ID:
            return oauth_error(400, "unauthorized_client", 700016, "Application was not found in the directory.")
        if form.get("client_secret") != CLIENT_SECRET:
            return oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._redeem_code(form)
        if grant == "refresh_token":
            return self._redeem_refresh(form)
        return oauth_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")

    def _redeem_code(self, form: dict[str, str]) -> Reply:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)
        if code is None:
            return oauth_error(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed.")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error(400, "invalid_grant", 500117, "The reply uri specified in the request does not match.")
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if challenge != code.challenge:
            return oauth_error(400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge.")
        return ok(self._tokens(code.scopes, offline=code.offline))

    def _redeem_refresh(self, form: dict[str, str]) -> Reply:
        with self._lock:
            scopes = self._refresh.get(form.get("refresh_token", ""))
        if scopes is None:
            return oauth_error(400, "invalid_grant", 50173, "The provided grant has expired due to it being revoked.")
        requested = form.get("scope", "").split()
        granted = self._granted(requested) & scopes if requested else scopes
        return ok(self._tokens(granted, offline=True))

    def _granted(self, requested: list[str]) -> frozenset[str]:
        names = {scope.removeprefix(GRAPH) for scope in requested}
        return frozenset(names & self.tenant.consented)

    def _tokens(self, scopes: frozenset[str], *, offline: bool, lifetime: int | None = None) -> dict[str, Any]:
        lifetime = self.token_lifetime if lifetime is None else lifetime
        access = f"eyJ0eXAiOiJKV1QiLCJub25jZSI6.{secrets.token_urlsafe(32)}"
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(sorted(GRAPH + scope for scope in scopes)),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }
        with self._lock:
            self._access[access] = (time.time() + lifetime, scopes)
            if offline:
                body["refresh_token"] = f"0.AXoA{secrets.token_urlsafe(48)}"
                self._refresh[body["refresh_token"]] = scopes
        return body

    # Graph
    def bearer_scopes(self, header: str) -> frozenset[str] | None:
        token = header.removeprefix("Bearer ").strip()
        with self._lock:
            expires, scopes = self._access.get(token, (0.0, frozenset()))
        return scopes if expires > time.time() else None

    def graph(self, path: str, query: dict[str, str], scopes: frozenset[str]) -> Reply:
        segments = path.split("/")
        routes = {
            "organization": lambda: self._organization(scopes),
            "users": lambda: self._users(query, scopes),
            "reports/authenticationMethods/userRegistrationDetails": lambda: self._registration(query, scopes),
            "directoryRoles": lambda: self._roles(query, scopes),
            "identity/conditionalAccess/policies": lambda: self._policies(scopes),
            "policies/identitySecurityDefaultsEnforcementPolicy": lambda: self._security_defaults(scopes),
            "deviceManagement/managedDevices": lambda: self._devices(query, scopes),
        }
        if path in routes:
            return routes[path]()
        if len(segments) == 4 and segments[0] == "users" and segments[2:] == ["authentication", "methods"]:
            return self._methods(segments[1], scopes)
        if len(segments) == 3 and segments[0] == "directoryRoles" and segments[2] == "members":
            return self._role_members(segments[1], query, scopes)
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{segments[-1]}'.")

    def _organization(self, scopes: frozenset[str]) -> Reply:
        return _needs(scopes, "organization") or ok({"value": [self.tenant.organisation()]})

    def _users(self, query: dict[str, str], scopes: frozenset[str]) -> Reply:
        if refused := _needs(scopes, "users"):
            return refused
        fields = tuple(query["$select"].split(",")) if "$select" in query else DEFAULT_USER_FIELDS
        if "signInActivity" in fields:
            if "AuditLog.Read.All" not in scopes:
                return denied()
            if not self.tenant.premium:
                return not_premium()
        return self._page("users", self.tenant.users, query, kind="users", render=lambda u: u.resource(fields))

    def _registration(self, query: dict[str, str], scopes: frozenset[str]) -> Reply:
        if refused := _needs(scopes, "registration"):
            return refused
        if not self.tenant.premium:
            return not_premium()
        admins = self.tenant.admin_ids()
        path = "reports/authenticationMethods/userRegistrationDetails"
        render = lambda user: user.registration(admin=user.id in admins)  # noqa: E731
        return self._page(path, self.tenant.users, query, kind="registration", render=render)

    def _methods(self, user_id: str, scopes: frozenset[str]) -> Reply:
        if refused := _needs(scopes, "methods"):
            return refused
        user = next((user for user in self.tenant.users if user.id == user_id), None)
        if user is None:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist.")
        return ok({"value": user.methods()})

    def _roles(self, query: dict[str, str], scopes: frozenset[str]) -> Reply:
        expand = query.get("$expand") == "members"
        items = [
            {
                "id": role.id,
                "displayName": role.name,
                "roleTemplateId": role.template_id,
                **({"members": role.members[:EXPAND_LIMIT]} if expand else {}),
            }
            for role in self.tenant.roles
        ]
        return _needs(scopes, "roles") or ok({"value": items})

    def _role_members(self, role_id: str, query: dict[str, str], scopes: frozenset[str]) -> Reply:
        role = next((role for role in self.tenant.roles if role.id == role_id), None)
        if role is None:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{role_id}' does not exist.")
        path = f"directoryRoles/{role_id}/members"
        return _needs(scopes, "roles") or self._page(path, role.members, query, kind="members", render=dict)

    def _policies(self, scopes: frozenset[str]) -> Reply:
        if refused := _needs(scopes, "policies"):
            return refused
        return ok({"value": self.tenant.policies}) if self.tenant.premium else not_premium()

    def _security_defaults(self, scopes: frozenset[str]) -> Reply:
        body = {
            "id": "00000000-0000-0000-0000-000000000005",
            "displayName": "Security Defaults",
            "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft.",
            "isEnabled": self.tenant.security_defaults,
        }
        return _needs(scopes, "policies") or ok(body)

    def _devices(self, query: dict[str, str], scopes: frozenset[str]) -> Reply:
        if refused := _needs(scopes, "devices"):
            return refused
        if not self.tenant.intune:
            return graph_error(400, "BadRequest", "Request not applicable to target tenant.")
        fields = query["$select"].split(",") if "$select" in query else list(managed_device(0, "unknown"))
        render = lambda device: {name: device.get(name) for name in fields}  # noqa: E731
        return self._page("deviceManagement/managedDevices", self.tenant.devices, query, kind="devices", render=render)

    def _page[T](
        self, path: str, items: list[T], query: dict[str, str], *, kind: str, render: Callable[[T], dict[str, Any]]
    ) -> Reply:
        """One page of a listing, cut by $top and $skiptoken, with a nextLink that keeps the other options."""
        default, largest = PAGE_SIZES[kind]
        size = min(int(query.get("$top") or default), largest, self.page_cap or largest)
        start = int(base64.urlsafe_b64decode(query["$skiptoken"]).decode()) if "$skiptoken" in query else 0
        page = [render(item) for item in items[start : start + size]]
        body: dict[str, Any] = {"@odata.context": f"{GRAPH}v1.0/$metadata#{path}", "value": page}
        if start + size < len(items):
            rest = {key: value for key, value in query.items() if key != "$skiptoken"}
            rest["$skiptoken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            body["@odata.nextLink"] = f"{self.graph_url}/{path}?{urlencode(rest, safe='$,')}"
        return ok(body)


def _needs(scopes: frozenset[str], area: str) -> Reply | None:
    return None if scopes & PERMISSIONS[area] else denied()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, path: str, query: dict[str, list[str]], form: dict[str, str]) -> None:
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.fake.record(SeenRequest(self.command, path, query, form, headers, time.monotonic()))

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        flat = {key: values[0] for key, values in query.items()}
        if parts.path == f"/{TENANT_ID}/oauth2/v2.0/authorize":
            self._record("authorize", query, {})
            status, headers = fake.authorise(flat)
            self._send(Reply(status, b"" if status == 302 else b"Bad request", headers))
            return
        if not parts.path.startswith("/v1.0/"):
            self._send(graph_error(404, "NotFound", "No such endpoint on the fake."))
            return
        path = parts.path.removeprefix("/v1.0/").rstrip("/")
        self._record(path, query, {})
        scopes = fake.bearer_scopes(self.headers.get("Authorization") or "")
        if scopes is None:
            self._send(EXPIRED)
            return
        self._send(fake.scripted(path) or fake.graph(path, flat, scopes))

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        form = {key: values[0] for key, values in parse_qs(raw).items()}
        if urlsplit(self.path).path != f"/{TENANT_ID}/oauth2/v2.0/token":
            self._send(graph_error(404, "NotFound", "No such endpoint on the fake."))
            return
        self._record("token", {}, form)
        self._send(fake.scripted("token") or fake.token(form))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeMicrosoft

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up leaves a broken pipe behind: expected, and silent.
        pass
