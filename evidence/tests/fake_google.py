"""A local stand-in for Google's OAuth 2 endpoints and the Admin SDK Directory and Reports APIs, so
tests drive the real connector over HTTP.

`FakeGoogle` listens on 127.0.0.1 and serves a generated tenant whose numbers follow fixed rules (see
`make_users`), answering with Google's field names and shapes: `users`/`groups`/`items` listings paged
by `pageToken`/`nextPageToken`, RFC 3339 times, int64 counts as strings, and Google's error bodies.
It checks what the real services check: client credentials, one-use codes bound to their redirect URI
and PKCE challenge, bearer tokens (unknown, expired or revoked ones get a 401) and their scopes (a
missing scope gets a 403). Tests can script faults per path and read the request log.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from evidence.connectors.base import ConnectorSettings, TokenSet

TODAY = date(2026, 11, 22)
CLIENT_ID = "1234567890-fake.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-fake-secret"
CUSTOMER_ID = "C03fake42"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
USER_SCOPE = SCOPE_PREFIX + "admin.directory.user.readonly"
ROLE_SCOPE = SCOPE_PREFIX + "admin.directory.rolemanagement.readonly"
GROUP_SCOPE = SCOPE_PREFIX + "admin.directory.group.readonly"
AUDIT_SCOPE = SCOPE_PREFIX + "admin.reports.audit.readonly"
CUSTOMER_SCOPE = SCOPE_PREFIX + "admin.directory.customer.readonly"
ALL_SCOPES = (USER_SCOPE, ROLE_SCOPE, GROUP_SCOPE, AUDIT_SCOPE, CUSTOMER_SCOPE)

AUTHORISE_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"
REVOKE_PATH = "/revoke"
DIRECTORY = "/admin/directory/v1"
USERS_PATH = f"{DIRECTORY}/users"
CUSTOMER_PATH = f"{DIRECTORY}/customers/my_customer"
ROLES_PATH = f"{DIRECTORY}/customer/my_customer/roles"
ROLE_ASSIGNMENTS_PATH = f"{DIRECTORY}/customer/my_customer/roleassignments"
GROUPS_PATH = f"{DIRECTORY}/groups"
ACTIVITY_PATH = "/admin/reports/v1/activity/users/all/applications/"
LOGIN_PATH = ACTIVITY_PATH + "login"
ADMIN_PATH = ACTIVITY_PATH + "admin"

# path prefix → (scope needed, listing key or None, (default page size, largest page size), kind)
LISTINGS: dict[str, tuple[str, str, tuple[int, int], str]] = {
    USERS_PATH: (USER_SCOPE, "users", (100, 500), "admin#directory#users"),
    ROLES_PATH: (ROLE_SCOPE, "items", (100, 100), "admin#directory#roles"),
    ROLE_ASSIGNMENTS_PATH: (ROLE_SCOPE, "items", (100, 200), "admin#directory#roleAssignments"),
    GROUPS_PATH: (GROUP_SCOPE, "groups", (200, 200), "admin#directory#groups"),
    LOGIN_PATH: (AUDIT_SCOPE, "items", (1000, 1000), "admin#reports#activities"),
    ADMIN_PATH: (AUDIT_SCOPE, "items", (1000, 1000), "admin#reports#activities"),
}

FIRST_NAMES = ("Amelia", "Oliver", "Isla", "Harry", "Ava", "George", "Mia", "Noah", "Freya", "Arthur", "Priya", "Kwame")
LAST_NAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Patel", "Evans", "Khan", "Walker", "Hughes", "Okafor")


# --- Replies ---------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def google_error(
    status: int, message: str, *, status_text: str, reason: str, headers: dict[str, str] | None = None
) -> Reply:
    """Google's JSON error body: {"error": {code, message, errors: [{message, domain, reason}], status}}."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": status_text,
        }
    }
    return Reply(status=status, body=_json(body), headers=headers or {})


def unauthenticated() -> Reply:
    return google_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        status_text="UNAUTHENTICATED",
        reason="authError",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
    )


def insufficient_scope() -> Reply:
    return google_error(
        403,
        "Request had insufficient authentication scopes.",
        status_text="PERMISSION_DENIED",
        reason="insufficientPermissions",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'},
    )


def not_authorised() -> Reply:
    """What a signed-in user without the admin privilege gets from the Directory API."""
    return google_error(
        403, "Not Authorized to access this resource/api", status_text="PERMISSION_DENIED", reason="forbidden"
    )


def rate_limited(retry_after: int) -> Reply:
    return google_error(
        429,
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
        status_text="RESOURCE_EXHAUSTED",
        reason="rateLimitExceeded",
        headers={"Retry-After": str(retry_after)},
    )


def unavailable(status: int = 503) -> Reply:
    if status == 503:
        return google_error(
            503, "The service is currently unavailable.", status_text="UNAVAILABLE", reason="backendError"
        )
    return google_error(status, "Internal error encountered.", status_text="INTERNAL", reason="backendError")


def malformed() -> Reply:
    return Reply(body=b'{"kind": "admin#directory#users", "users": [{"primaryEmail": ')


def bad_request(message: str) -> Reply:
    return google_error(400, message, status_text="INVALID_ARGUMENT", reason="invalid")


def oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status=status, body=_json({"error": error, "error_description": description}))


# --- The tenant ------------------------------------------------------------------------------------
def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _at(today: date, days_ago: int, hour: int = 9) -> datetime:
    return datetime(today.year, today.month, today.day, hour, tzinfo=UTC) - timedelta(days=days_ago)


def make_users(count: int, *, domain: str = "example.co.uk", today: date = TODAY) -> list[dict[str, Any]]:
    """Users 0..count-1, by these rules (checks in tests are written against them):

    - super administrators: users 1, 2 and 3; delegated administrators: users 4 and 5
    - suspended: i % 100 == 99; archived: i % 100 == 98
    - not enrolled in 2-Step Verification: i % 20 == 0; not enforced: i % 10 == 0
    - dormant (last sign-in 120 days ago): i % 50 == 7
    - new starters, created 5 days ago and never signed in: i % 100 == 13
    - everyone else created two years ago and last signed in (i % 30) days ago, at 09:00
    """
    users = []
    for i in range(count):
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
        new_starter = i % 100 == 13
        created = _at(today, 5) if new_starter else _at(today, 730)
        last_login = datetime(1970, 1, 1, tzinfo=UTC) if new_starter else _at(today, 120 if i % 50 == 7 else i % 30)
        user: dict[str, Any] = {
            "kind": "admin#directory#user",
            "id": str(110_000_000_000_000_000_000 + i),
            "etag": f'"user-{i}"',
            "primaryEmail": f"{first.lower()}.{last.lower()}{i}@{domain}",
            "name": {"givenName": first, "familyName": last, "fullName": f"{first} {last}"},
            "isAdmin": i in (1, 2, 3),
            "isDelegatedAdmin": i in (4, 5),
            "lastLoginTime": _rfc3339(last_login),
            "creationTime": _rfc3339(created),
            "agreedToTerms": True,
            "suspended": i % 100 == 99,
            "archived": i % 100 == 98,
            "changePasswordAtNextLogin": False,
            "ipWhitelisted": False,
            "customerId": CUSTOMER_ID,
            "orgUnitPath": "/Staff" if i % 3 else "/",
            "isMailboxSetup": True,
            "isEnrolledIn2Sv": i % 20 != 0,
            "isEnforcedIn2Sv": i % 10 != 0,
            "includeInGlobalAddressList": True,
        }
        if user["suspended"]:
            user["suspensionReason"] = "ADMIN"
        users.append(user)
    return users


SYSTEM_ROLES = (
    ("91447453409034240", "_SEED_ADMIN_ROLE", "Google Apps Administrator Seed Role", True),
    ("91447453409034241", "_GROUPS_ADMIN_ROLE", "Groups Administrator", False),
    ("91447453409034242", "_USER_MANAGEMENT_ADMIN_ROLE", "User Management Administrator", False),
    ("91447453409034243", "_HELP_DESK_ADMIN_ROLE", "Help Desk Administrator", False),
    ("91447453409034244", "_SERVICE_ADMIN_ROLE", "Services Administrator", False),
    ("91447453409034245", "Finance reviewer", "Custom role for the finance team", False),
)


def make_roles(users: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The system roles plus one custom role; super admins hold the seed role, user 4 user management and
    user 5 help desk, the custom role is held by a group."""
    roles = [
        {
            "kind": "admin#directory#role",
            "roleId": role_id,
            "roleName": name,
            "roleDescription": description,
            "isSystemRole": name.startswith("_"),
            "isSuperAdminRole": is_super,
            "rolePrivileges": [{"serviceId": "00haapch16h1ysv", "privilegeName": "USERS_RETRIEVE"}],
        }
        for role_id, name, description, is_super in SYSTEM_ROLES
    ]
    holders = [(user["id"], SYSTEM_ROLES[0][0]) for user in users if user["isAdmin"]]
    holders += [(users[4]["id"], SYSTEM_ROLES[2][0]), (users[5]["id"], SYSTEM_ROLES[3][0])] if len(users) > 5 else []
    assignments = [
        {
            "kind": "admin#directory#roleAssignment",
            "roleAssignmentId": str(9_100_000 + index),
            "roleId": role_id,
            "assignedTo": user_id,
            "assigneeType": "user",
            "scopeType": "CUSTOMER",
        }
        for index, (user_id, role_id) in enumerate(holders)
    ]
    assignments.append(
        {
            "kind": "admin#directory#roleAssignment",
            "roleAssignmentId": str(9_100_000 + len(holders)),
            "roleId": SYSTEM_ROLES[5][0],
            "assignedTo": "03fake0group0finance",
            "assigneeType": "group",
            "scopeType": "ORG_UNIT",
            "orgUnitId": "03ph8a2z1fake",
        }
    )
    return roles, assignments


def make_groups(users: list[dict[str, Any]], *, domain: str = "example.co.uk") -> list[dict[str, Any]]:
    """all-staff (every active user), admins (users 1-5), one team per 25 users with 25 members (the last
    team holds the remainder), and an empty leftover group."""
    active = sum(1 for user in users if not user["suspended"] and not user["archived"])
    sizes = [("all-staff", "All staff", active), ("admins", "Administrators", min(len(users), 5))]
    sizes += [(f"team-{n + 1}", f"Team {n + 1}", min(25, len(users) - 25 * n)) for n in range((len(users) + 24) // 25)]
    sizes.append(("old-project", "Old project", 0))
    return [
        {
            "kind": "admin#directory#group",
            "id": f"03fake{index:04d}",
            "etag": f'"group-{index}"',
            "email": f"{slug}@{domain}",
            "name": name,
            "directMembersCount": str(members),  # int64, sent as a string
            "description": "",
            "adminCreated": True,
        }
        for index, (slug, name, members) in enumerate(sizes)
    ]


def _activity(
    application: str, moment: datetime, serial: int, actor: dict[str, Any], events: list[dict[str, Any]], ip: str
) -> dict[str, Any]:
    return {
        "kind": "admin#reports#activity",
        "id": {
            "time": _rfc3339(moment),
            "uniqueQualifier": str(-4_000_000_000 - serial),
            "applicationName": application,
            "customerId": CUSTOMER_ID,
        },
        "etag": f'"activity-{serial}"',
        "actor": {"email": actor["primaryEmail"], "profileId": actor["id"], "callerType": "USER"},
        "ipAddress": ip,
        "events": events,
    }


def _login_event(name: str, **parameters: Any) -> dict[str, Any]:
    values = [
        {"name": key, "boolValue": value} if isinstance(value, bool) else {"name": key, "value": value}
        for key, value in {"login_type": "google_password", **parameters}.items()
    ]
    return {"type": "login", "name": name, "parameters": values}


def make_login_activity(users: list[dict[str, Any]], *, today: date = TODAY) -> list[dict[str, Any]]:
    """A `login_success` at each user's lastLoginTime; users with i % 10 == 3 who have signed in also
    have a `login_failure` an hour earlier and another 45 days ago (outside a 30-day window); users with
    i % 100 == 42 have a `suspicious_login`. Newest first, as Google lists them."""
    serial = itertools.count()
    items = []
    for i, user in enumerate(users):
        last_login = datetime.fromisoformat(user["lastLoginTime"])
        if last_login.year == 1970:
            continue
        ip = f"203.0.113.{i % 250 + 1}"
        items.append(_activity("login", last_login, next(serial), user, [_login_event("login_success")], ip))
        if i % 10 == 3:
            failure = _login_event("login_failure", login_failure_type="login_failure_invalid_password")
            for moment in (last_login - timedelta(hours=1), _at(today, 45)):
                items.append(_activity("login", moment, next(serial), user, [failure], ip))
        if i % 100 == 42:
            suspicious = _login_event("suspicious_login", is_suspicious=True)
            items.append(_activity("login", _at(today, 2, 3), next(serial), user, [suspicious], "198.51.100.7"))
    items.sort(key=lambda item: item["id"]["time"], reverse=True)
    return items


def make_admin_activity(users: list[dict[str, Any]], *, today: date = TODAY) -> list[dict[str, Any]]:
    """Six admin console changes in the last 30 days by users 1 and 2, and one 40 days ago by user 3."""
    admin_1, admin_2, admin_3 = users[1], users[2], users[3]

    def event(event_type: str, name: str, **parameters: str) -> list[dict[str, Any]]:
        values = [{"name": key, "value": value} for key, value in parameters.items()]
        return [{"type": event_type, "name": name, "parameters": values}]

    target = users[-1]["primaryEmail"]
    changes = [
        (1, admin_1, event("USER_SETTINGS", "CREATE_USER", USER_EMAIL=target)),
        (3, admin_1, event("USER_SETTINGS", "CHANGE_PASSWORD", USER_EMAIL=target)),
        (5, admin_2, event("DELEGATED_ADMIN_SETTINGS", "ASSIGN_ROLE", ROLE_NAME="_HELP_DESK_ADMIN_ROLE")),
        (8, admin_2, event("USER_SETTINGS", "SUSPEND_USER", USER_EMAIL=target)),
        (12, admin_1, event("SECURITY_SETTINGS", "ENFORCE_STRONG_AUTHENTICATION", ORG_UNIT_NAME="/Staff")),
        (20, admin_1, event("GROUP_SETTINGS", "CREATE_GROUP", GROUP_EMAIL="team-1@example.co.uk")),
        (40, admin_3, event("USER_SETTINGS", "DELETE_USER", USER_EMAIL="leaver@example.co.uk")),
    ]
    return [
        _activity("admin", _at(today, days, 14), serial, actor, events, "192.0.2.10")
        for serial, (days, actor, events) in enumerate(changes)
    ]


# --- Server ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Grant:
    scopes: tuple[str, ...]
    refresh_token: str = ""
    expires_at: float = 0.0
    revoked: bool = False


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    offline: bool


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode())) if length else {}
        request = SeenRequest(
            method=method,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            form=form,
            headers={key.lower(): value for key, value in self.headers.items()},
        )
        reply = self.server.fake.handle(request)
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=UTF-8", **reply.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGoogle

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up leaves a broken pipe behind: expected, and silent


class FakeGoogle:
    """Google's sign-in service and Admin SDK for one tenant. Mutate `users`, `groups`, `roles`,
    `role_assignments`, `login_activity` or `admin_activity` to shape the data; `page_cap` makes
    listings return smaller pages than asked for, as Google may."""

    def __init__(self, *, users: int = 200, domain: str = "example.co.uk", today: date = TODAY) -> None:
        self.domain = domain
        self.users = make_users(users, domain=domain, today=today)
        self.roles, self.role_assignments = make_roles(self.users)
        self.groups = make_groups(self.users, domain=domain)
        self.login_activity = make_login_activity(self.users, today=today)
        self.admin_activity = make_admin_activity(self.users, today=today)
        self.page_cap: int | None = None
        self.requests: list[SeenRequest] = []
        self.codes: dict[str, _Code] = {}
        self.access_tokens: dict[str, _Grant] = {}
        self.refresh_tokens: dict[str, _Grant] = {}
        self._scripted: dict[str, deque[Reply]] = defaultdict(deque)
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval lets shutdown() return quickly at the end of each test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    # Lifecycle and helpers for tests ----------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGoogle:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def settings(self) -> ConnectorSettings:
        return ConnectorSettings(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            authorise_url=self.url + AUTHORISE_PATH,
            token_url=self.url + TOKEN_PATH,
            revoke_url=self.url + REVOKE_PATH,
            api_base_url=self.url,
        )

    def script(self, path: str, *replies: Reply) -> None:
        """The next requests whose path starts with `path` get these replies, in order, before the fake
        answers normally again."""
        with self._lock:
            self._scripted[path].extend(replies)

    def issue_tokens(self, scopes: tuple[str, ...] = ALL_SCOPES, *, expires_in: int = 3599) -> TokenSet:
        """A grant as if the administrator had just consented to `scopes`."""
        with self._lock:
            refresh = self._new_refresh(scopes)
            access = self._new_access(scopes, refresh, expires_in)
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
            scopes=scopes,
        )

    def expire(self, access_token: str) -> None:
        """Google stops accepting the token before the client expected (a clock skew, a password change)."""
        with self._lock:
            self.access_tokens[access_token].expires_at = 0.0

    def seen(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.path.startswith(path)]

    # Dispatch ---------------------------------------------------------------------------------------
    def handle(self, request: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = next(
                (queue for path, queue in self._scripted.items() if request.path.startswith(path) and queue), None
            )
            if scripted:
                return scripted.popleft()
            if request.path == AUTHORISE_PATH and request.method == "GET":
                return self._authorise(request.query)
            if request.path == TOKEN_PATH and request.method == "POST":
                return self._token(request.form)
            if request.path == REVOKE_PATH and request.method == "POST":
                return self._revoke(request.form.get("token") or request.query.get("token", ""))
            if request.method == "GET":
                return self._api(request)
            return google_error(
                405, "Method not allowed.", status_text="INVALID_ARGUMENT", reason="httpMethodNotAllowed"
            )

    # OAuth ------------------------------------------------------------------------------------------
    def _authorise(self, query: dict[str, str]) -> Reply:
        """Consent granted at once: redirects back with a code, as Google does after the admin approves."""
        scopes = tuple(query.get("scope", "").split())
        problems = [
            query.get("client_id") != CLIENT_ID and "unknown client_id",
            query.get("response_type") != "code" and "response_type must be code",
            query.get("code_challenge_method") != "S256" and "code_challenge_method must be S256",
            not query.get("code_challenge") and "missing code_challenge",
            not query.get("redirect_uri") and "missing redirect_uri",
            (not scopes or not set(scopes) <= set(ALL_SCOPES)) and "invalid scope",
        ]
        if any(problems):
            return oauth_error(400, "invalid_request", "; ".join(p for p in problems if p))
        code = f"4/0fake-code-{next(self._serial)}"
        self.codes[code] = _Code(
            client_id=CLIENT_ID,
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            scopes=scopes,
            offline=query.get("access_type") == "offline",
        )
        back = {"state": query.get("state", ""), "code": code, "scope": " ".join(scopes)}
        return Reply(status=302, body=b"", headers={"Location": f"{query['redirect_uri']}?{urlencode(back)}"})

    def _token(self, form: dict[str, str]) -> Reply:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token":
            grant = self.refresh_tokens.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked:
                return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            access = self._new_access(grant.scopes, form["refresh_token"], 3599)
            return self._token_reply(access, grant.scopes)
        return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange(self, form: dict[str, str]) -> Reply:
        code = self.codes.pop(form.get("code", ""), None)  # one use only
        if code is None:
            return oauth_error(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != code.challenge:
            return oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh = self._new_refresh(code.scopes) if code.offline else ""
        return self._token_reply(self._new_access(code.scopes, refresh, 3599), code.scopes, refresh)

    def _token_reply(self, access: str, scopes: tuple[str, ...], refresh: str = "") -> Reply:
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": 3599,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if refresh:
            body["refresh_token"] = refresh
        return Reply(body=_json(body), headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})

    def _new_refresh(self, scopes: tuple[str, ...]) -> str:
        token = f"1//0fake-refresh-{next(self._serial)}"
        self.refresh_tokens[token] = _Grant(scopes=scopes)
        return token

    def _new_access(self, scopes: tuple[str, ...], refresh: str, expires_in: int) -> str:
        token = f"ya29.fake-access-{next(self._serial)}"
        self.access_tokens[token] = _Grant(scopes=scopes, refresh_token=refresh, expires_at=time.time() + expires_in)
        return token

    def _revoke(self, token: str) -> Reply:
        grant = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if grant is None or grant.revoked:
            return oauth_error(400, "invalid_token", "Token expired or revoked")
        grant.revoked = True
        # Revoking either token of a grant ends the whole grant: the refresh token and its access tokens.
        refresh = token if token in self.refresh_tokens else grant.refresh_token
        if refresh:
            self.refresh_tokens[refresh].revoked = True
            for access in self.access_tokens.values():
                if access.refresh_token == refresh:
                    access.revoked = True
        return Reply(body=b"{}")

    # Admin SDK --------------------------------------------------------------------------------------
    def _api(self, request: SeenRequest) -> Reply:
        authorisation = request.headers.get("authorization", "")
        grant = self.access_tokens.get(authorisation.removeprefix("Bearer "))
        if not authorisation.startswith("Bearer ") or grant is None or grant.revoked or grant.expires_at < time.time():
            return unauthenticated()
        if request.path == CUSTOMER_PATH:
            return self._customer() if CUSTOMER_SCOPE in grant.scopes else insufficient_scope()
        listing = next((path for path in LISTINGS if request.path == path), None)
        if listing is None:
            return google_error(404, "Not Found", status_text="NOT_FOUND", reason="notFound")
        scope, key, (default_size, largest), kind = LISTINGS[listing]
        if scope not in grant.scopes:
            return insufficient_scope()
        if listing in (USERS_PATH, GROUPS_PATH) and request.query.get("customer") != "my_customer":
            return bad_request("Bad Request")
        try:
            size = int(request.query.get("maxResults", default_size))
        except ValueError:
            return bad_request("Invalid value for maxResults")
        if not 1 <= size <= largest:
            return bad_request(f"Invalid value '{size}'. Values must be within the range: [1, {largest}]")
        items = self._items(listing, request.query)
        if isinstance(items, Reply):
            return items
        return self._page(request, listing, key, kind, items, min(size, self.page_cap or size))

    def _items(self, listing: str, query: dict[str, str]) -> list[dict[str, Any]] | Reply:
        if listing in (LOGIN_PATH, ADMIN_PATH):
            activity = self.login_activity if listing == LOGIN_PATH else self.admin_activity
            start = query.get("startTime", "")
            try:
                since = datetime.fromisoformat(start) if start else datetime.min.replace(tzinfo=UTC)
            except ValueError:
                return bad_request(f"Invalid value for startTime: {start}")
            return [item for item in activity if datetime.fromisoformat(item["id"]["time"]) >= since]
        return {
            USERS_PATH: self.users,
            ROLES_PATH: self.roles,
            ROLE_ASSIGNMENTS_PATH: self.role_assignments,
            GROUPS_PATH: self.groups,
        }[listing]

    def _page(
        self, request: SeenRequest, listing: str, key: str, kind: str, items: list[dict[str, Any]], size: int
    ) -> Reply:
        offset = 0
        if token := request.query.get("pageToken"):
            try:
                issued_for, offset_text = base64.urlsafe_b64decode(token.encode()).decode().rsplit("|", 1)
                offset = int(offset_text)
            except ValueError:
                return bad_request("Invalid pageToken")
            if issued_for != listing:
                return bad_request("Invalid pageToken")
        body: dict[str, Any] = {"kind": kind, "etag": f'"{listing}-{offset}"'}
        if page := items[offset : offset + size]:
            body[key] = page  # Google leaves the key out of an empty listing
        if offset + size < len(items):
            body["nextPageToken"] = base64.urlsafe_b64encode(f"{listing}|{offset + size}".encode()).decode()
        return Reply(body=_json(body))

    def _customer(self) -> Reply:
        return Reply(
            body=_json(
                {
                    "kind": "admin#directory#customer",
                    "id": CUSTOMER_ID,
                    "etag": '"customer"',
                    "customerDomain": self.domain,
                    "alternateEmail": f"it@{self.domain}",
                    "customerCreationTime": "2019-03-04T10:11:12.000Z",
                    "language": "en-GB",
                    "postalAddress": {
                        "organizationName": "Example Trading Ltd",
                        "countryCode": "GB",
                        "locality": "Leeds",
                        "postalCode": "LS1 4AP",
                    },
                }
            )
        )
