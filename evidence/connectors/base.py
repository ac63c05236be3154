"""What every evidence connector shares: tokens, findings, errors, the OAuth 2 code flow with PKCE, and
an API client that refreshes expired tokens, waits out 429s and retries 5xx responses.

A connector (one class per provider) knows its provider's endpoints and turns API data into findings:
evidence snapshots and pass/fail checks mapped to library controls. It never touches the database; the
collection service in `evidence/services/collection.py` stores what it returns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx2

# A token this close to expiry is refreshed before use rather than sent and refused.
EXPIRY_MARGIN = timedelta(seconds=60)


# --- Data ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str = ""
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()

    def expired(self, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return (now or datetime.now(UTC)) >= self.expires_at - EXPIRY_MARGIN

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "scopes": list(self.scopes),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        expires = data.get("expires_at")
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or "",
            expires_at=datetime.fromisoformat(expires) if expires else None,
            scopes=tuple(data.get("scopes") or ()),
        )


@dataclass(frozen=True)
class ControlRef:
    framework: str  # library framework slug, e.g. "cyber-essentials"
    ref: str  # control ref within it, e.g. "UA.4"


@dataclass(frozen=True)
class Finding:
    """One thing a collection run learned, stored as an evidence snapshot and, when `passed` is not
    None, as a pass/fail check on the mapped controls."""

    key: str  # stable across runs, e.g. "google.2sv_enrolment": a second run the same day updates it
    title: str  # "2-Step Verification enrolment"
    summary: str  # "38 of 40 users are enrolled in 2-Step Verification (21 November 2026)."
    evidence_type: str  # an evidence.kinds.EvidenceType value
    controls: tuple[ControlRef, ...]
    passed: bool | None = None  # None: evidence only, no check
    # Figures behind the summary and up to SAMPLE_LIMIT named exceptions, shown on the run page.
    details: dict[str, Any] = field(default_factory=dict)
    # The collected data itself, stored as a JSON file on the evidence item so an auditor can check it.
    snapshot: Any = None


SAMPLE_LIMIT = 50


class RunLog:
    """Lines a run writes for the person who connected the account: what was read, what went wrong."""

    def __init__(self) -> None:
        self.lines: list[dict[str, str]] = []

    def __call__(self, message: str, *, level: str = "info") -> None:
        self.lines.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), "level": level, "message": message})


# --- Errors ----------------------------------------------------------------------------------------
class ConnectorError(Exception):
    """A failure the user is shown in the run history. `message` is written for them."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReconnectNeeded(ConnectorError):
    """The refresh token is missing, expired or revoked: only the user connecting again can fix it."""


class InsufficientScope(ConnectorError):
    """The provider refused a call (403): the account lacks an admin role or a scope was not granted."""


class RateLimited(ConnectorError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnavailable(ConnectorError):
    """Timeouts, connection failures and 5xx after our retries: worth another go later."""

    retryable = True


class UnexpectedResponse(ConnectorError):
    """The provider answered with something we cannot read (not JSON, wrong shape)."""


# --- OAuth 2 ---------------------------------------------------------------------------------------
def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) for the authorisation code flow."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def token_request(
    url: str, data: dict[str, str], *, transport: httpx2.BaseTransport | None = None, timeout: float = 20
) -> TokenSet:
    """POST to a token endpoint (code exchange or refresh) and read the token response (RFC 6749 §5)."""
    try:
        with httpx2.Client(transport=transport, timeout=timeout) as client:
            response = client.post(url, data=data, headers={"Accept": "application/json"})
    except httpx2.HTTPError as error:
        raise ProviderUnavailable(f"Could not reach the sign-in service ({type(error).__name__}).") from error
    try:
        body = response.json()
    except ValueError as error:
        raise UnexpectedResponse("The sign-in service sent a response we could not read.") from error
    if response.status_code >= 500:
        raise ProviderUnavailable(f"The sign-in service is unavailable (HTTP {response.status_code}).")
    if response.status_code == 429:
        raise RateLimited("The sign-in service asked us to slow down.", retry_after=_retry_after(response))
    if response.status_code >= 400 or not isinstance(body, dict) or "access_token" not in body:
        error_code = body.get("error", "") if isinstance(body, dict) else ""
        if error_code == "invalid_grant" or data.get("grant_type") == "refresh_token":
            raise ReconnectNeeded("The connection's sign-in has expired or was withdrawn. Please connect again.")
        raise ConnectorError(f"The sign-in service refused the request ({error_code or response.status_code}).")
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or data.get("refresh_token") or ""),
        expires_at=datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None,
        scopes=tuple(str(body.get("scope", "")).split()),
    )


def _retry_after(response: httpx2.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 30.0


# --- API client ------------------------------------------------------------------------------------
class ApiClient:
    """GETs JSON from a provider's API with the connection's tokens.

    - An expired token is refreshed before use, and a 401 triggers one refresh and one retry; every new
      token set is handed to `on_refreshed` so the caller stores it (encrypted) at once.
    - 429: waits for Retry-After (up to `max_wait` seconds) and tries again; a longer wait, or too many,
      raises RateLimited so the Celery task can come back later instead of holding a worker.
    - 5xx, timeouts and connection errors: retried with exponential backoff, then ProviderUnavailable.
    - 403: InsufficientScope, naming what was refused. Anything not JSON: UnexpectedResponse.
    """

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSet,
        refresh: Callable[[TokenSet], TokenSet],
        on_refreshed: Callable[[TokenSet], None],
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20,
        max_attempts: int = 5,
        max_wait: float = 60,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._refresh = refresh
        self._on_refreshed = on_refreshed
        self._client = httpx2.Client(transport=transport, timeout=timeout)
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self._sleep = sleep
        self.requests_made = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            return path  # a provider's own next-page link
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return f"{self.base_url}/{path.lstrip('/')}{query}"

    def _renew(self) -> None:
        self.tokens = self._refresh(self.tokens)
        self._on_refreshed(self.tokens)

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.url(path, params)
        refreshed = False
        for attempt in range(1, self.max_attempts + 1):
            if self.tokens.expired():
                self._renew()
                refreshed = True
            try:
                self.requests_made += 1
                response = self._client.get(
                    url, headers={"Authorization": f"Bearer {self.tokens.access_token}", "Accept": "application/json"}
                )
            except httpx2.HTTPError as error:
                if attempt == self.max_attempts:
                    raise ProviderUnavailable(
                        f"Could not reach the provider's API ({type(error).__name__}) after {attempt} attempts."
                    ) from error
                self._sleep(min(2 ** (attempt - 1) * 0.5, 8))
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                self._renew()
                refreshed = True
                continue
            if status == 401:
                raise ReconnectNeeded("The provider no longer accepts this connection. Please connect again.")
            if status == 403:
                raise InsufficientScope(
                    f"The provider refused access to {_describe(path)}. The account that connected needs an "
                    "administrator role, and every requested permission must be granted."
                )
            if status == 429:
                wait = _retry_after(response)
                if wait > self.max_wait or attempt == self.max_attempts:
                    raise RateLimited(
                        "The provider asked us to slow down; the run will try again later.", retry_after=wait
                    )
                self._sleep(wait)
                continue
            if status >= 500:
                if attempt == self.max_attempts:
                    raise ProviderUnavailable(f"The provider's API kept failing (HTTP {status}).")
                self._sleep(min(2 ** (attempt - 1) * 0.5, 8))
                continue
            if status >= 400:
                raise ConnectorError(f"The provider refused a request for {_describe(path)} (HTTP {status}).")
            try:
                body = response.json()
            except ValueError as error:
                raise UnexpectedResponse(
                    f"The provider sent something other than JSON for {_describe(path)}."
                ) from error
            if not isinstance(body, dict):
                raise UnexpectedResponse(f"The provider sent an unexpected shape of data for {_describe(path)}.")
            return body
        raise ProviderUnavailable("The provider's API did not answer after several attempts.")


def _describe(path: str) -> str:
    return path.split("?")[0].rstrip("/").rsplit("/", 2)[-1] if "/" in path else path


# --- Connector -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectorSettings:
    """One provider's entry of `settings.EVIDENCE_CONNECTORS` (the URLs are settings, not environment
    variables, so tests point them at local fake servers)."""

    client_id: str
    client_secret: str
    authorise_url: str
    token_url: str
    revoke_url: str  # "" when the provider has no revocation endpoint (Microsoft)
    api_base_url: str

    @classmethod
    def for_provider(cls, provider: str) -> ConnectorSettings | None:
        from django.conf import settings

        entry = settings.EVIDENCE_CONNECTORS.get(provider) or {}
        if not entry.get("client_id") or not entry.get("client_secret"):
            return None
        return cls(**{name: entry.get(name, "") for name in cls.__dataclass_fields__})


class Connector(ABC):
    provider: ClassVar[str]  # "google_workspace" | "microsoft_365"
    name: ClassVar[str]  # "Google Workspace"
    scopes: ClassVar[tuple[str, ...]]
    # Plain-English list of what is read, shown before the user connects.
    reads: ClassVar[tuple[str, ...]]

    def __init__(self, config: ConnectorSettings, *, transport: httpx2.BaseTransport | None = None) -> None:
        self.config = config
        self.transport = transport

    @classmethod
    @abstractmethod
    def from_settings(cls, *, transport: httpx2.BaseTransport | None = None) -> Connector | None:
        """The connector configured by settings, or None when this server has no OAuth client for it."""

    @abstractmethod
    def authorisation_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str: ...

    @abstractmethod
    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet: ...

    @abstractmethod
    def refresh(self, tokens: TokenSet) -> TokenSet: ...

    @abstractmethod
    def revoke(self, tokens: TokenSet) -> bool:
        """Withdraw the grant at the provider. True when the provider confirmed it; never raises."""

    def api(self, tokens: TokenSet, *, on_refreshed: Callable[[TokenSet], None], **options: Any) -> ApiClient:
        return ApiClient(
            base_url=self.config.api_base_url,
            tokens=tokens,
            refresh=self.refresh,
            on_refreshed=on_refreshed,
            transport=self.transport,
            **options,
        )

    @abstractmethod
    def account_label(self, api: ApiClient) -> str:
        """What was connected, for the page: the primary domain or tenant name."""

    @abstractmethod
    def collect(self, api: ApiClient, *, today: date, log: RunLog) -> list[Finding]:
        """Read the provider's data and return findings. Raises ConnectorError subclasses."""


def paged(fetch: Callable[[str | None], tuple[list[Any], str | None]]) -> Iterator[Any]:
    """Walk a paginated listing: `fetch(cursor)` returns (items, next cursor or None)."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        items, cursor = fetch(cursor)
        yield from items
        if not cursor or cursor in seen:  # a provider repeating a cursor would loop for ever
            return
        seen.add(cursor)
