"""Who outside Greenlight receives an organisation's data in this installation, read from the live
configuration each time the page asks: AI providers only when their key is set (in the order the gateway
tries them), file storage, error reports, email, and the services the organisation itself connected.

Nothing here is a fixed list to keep in step by hand: a key removed from the environment removes the
provider from the page, and the list of what is redacted before AI calls is read from the gateway's own
redactor by trying it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from accounts.models import Organisation
from chat.ai.providers import EXTERNAL_PROVIDERS
from chat.ai.redaction import Redactor
from config.observability.sentry import SENSITIVE_KEYS
from evidence.models import Connection, ConnectionStatus

AI_SENT = (
    "Questions asked of the assistant, with the passages its answer draws on: framework controls, your "
    "policies and evidence, your readiness figures and your business profile.",
    "Policy sections being drafted, with a summary of your business profile, so the wording fits your business.",
)
# The provider's public endpoint, and where it processes requests when we know it.
AI_DEFAULTS: dict[str, tuple[str, str, str]] = {
    "gemini": ("Google (Gemini API)", "generativelanguage.googleapis.com", "Google's global infrastructure"),
    "openai": ("OpenAI", "api.openai.com", "United States"),
}
AI_BASE_URL_SETTING = {"gemini": "GEMINI_BASE_URL", "openai": "OPENAI_BASE_URL"}
AI_MODEL_SETTING = {"gemini": "GEMINI_MODEL", "openai": "OPENAI_MODEL"}

# What the gateway's redactor is tried on, with how the page names each kind of personal data.
PROBE_NAME = "Ada Lovelace"
REDACTION_PROBES: tuple[tuple[str, str], ...] = (
    ("email addresses", "ada.lovelace@example.com"),
    ("UK phone numbers", "07700 900123"),
    ("postcodes", "SW1A 1AA"),
    ("National Insurance numbers", "AB 12 34 56 C"),
    ("payment card numbers", "4111 1111 1111 1111"),
    ("the names of your organisation's members", PROBE_NAME),
)

AWS_REGIONS = {
    "eu-west-2": "London",
    "eu-west-1": "Ireland",
    "eu-central-1": "Frankfurt",
    "eu-west-3": "Paris",
    "eu-north-1": "Stockholm",
    "us-east-1": "North Virginia",
    "us-east-2": "Ohio",
    "us-west-2": "Oregon",
}
EMAIL_PROVIDERS = {
    "smtp.sendgrid.net": "SendGrid (Twilio)",
    "smtp.postmarkapp.com": "Postmark",
    "smtp.mailgun.org": "Mailgun",
    "smtp.eu.mailgun.org": "Mailgun (EU)",
    "smtp.office365.com": "Microsoft 365",
    "smtp.gmail.com": "Google",
    "smtp-relay.gmail.com": "Google",
    "smtp.mailjet.com": "Mailjet",
    "in-v3.mailjet.com": "Mailjet",
}
LOCAL_EMAIL_BACKENDS = ("console", "locmem", "dummy", "filebased")

CONNECTED_READS = {
    "google_workspace": "users, administrator roles, groups, and the sign-in and admin audit logs, read-only.",
    "microsoft_365": "users and their sign-ins, MFA registration, administrator roles, security defaults, "
    "conditional access policies and Intune device compliance, read-only.",
}


@dataclass(frozen=True)
class Recipient:
    """One outside service that receives data: who, for what, what it gets and where it is."""

    name: str
    role: str
    sent: tuple[str, ...]
    where: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    recipients: tuple[Recipient, ...]
    # Said instead when nobody outside receives this kind of data in this installation.
    none: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectedService:
    name: str
    account: str
    status: str
    connected_at: datetime
    reads: str


@dataclass(frozen=True)
class Disclosure:
    categories: tuple[Category, ...]
    connected: tuple[ConnectedService, ...]
    redacted: tuple[str, ...]
    checked_at: datetime = field(default_factory=timezone.now)

    @property
    def recipients(self) -> list[Recipient]:
        return [recipient for category in self.categories for recipient in category.recipients]


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _listing(items: list[str] | tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + (items[-1] if items else "")


# --- AI -------------------------------------------------------------------------------------------------
def redacted_kinds() -> tuple[str, ...]:
    """The kinds of personal data the AI gateway's redactor takes out, found by trying it on an example of
    each: whatever it leaves untouched is not claimed."""
    redactor = Redactor(names=[PROBE_NAME])
    return tuple(label for label, sample in REDACTION_PROBES if sample not in redactor.redact(sample))


def ai_providers(redacted: tuple[str, ...]) -> Category:
    """The external providers the gateway would try, in its order, that have a key: the first is primary."""
    configured = [
        name
        for name in dict.fromkeys(settings.AI_PROVIDER_ORDER)
        if name in EXTERNAL_PROVIDERS and EXTERNAL_PROVIDERS[name].from_settings() is not None
    ]
    recipients = []
    for position, name in enumerate(configured):
        title, default_host, default_region = AI_DEFAULTS.get(name, (name, "", ""))
        base_url = getattr(settings, AI_BASE_URL_SETTING.get(name, ""), "")
        host = _host(base_url) if base_url else default_host
        region = default_region if host == default_host else "wherever that endpoint's operator runs it"
        if position == 0:
            role = "Primary AI provider"
        else:
            role = f"Fallback AI provider: used only when {_title(configured[position - 1])} cannot answer"
        model = getattr(settings, AI_MODEL_SETTING.get(name, ""), "")
        recipients.append(
            Recipient(
                name=title,
                role=role + (f" (model {model})" if model else ""),
                sent=AI_SENT,
                where=f"{host}: {region}" if host else region,
                notes=("Personal data is redacted first (see below).",) if redacted else (),
            )
        )
    notes = []
    if recipients and getattr(settings, "AI_STORE_PROMPTS", False):
        notes.append(
            "This installation keeps the redacted prompts and the answers in its own database, as AI request "
            "records, for as long as your retention settings say."
        )
    return Category(
        key="ai",
        title="AI providers",
        recipients=tuple(recipients),
        none="AI features run on our own servers; nothing is sent to an AI provider.",
        notes=tuple(notes),
    )


def _title(name: str) -> str:
    return AI_DEFAULTS.get(name, (name, "", ""))[0]


# --- Files ------------------------------------------------------------------------------------------------
def file_storage() -> Category:
    storages: dict[str, dict[str, Any]] = getattr(settings, "STORAGES", {})
    default = storages.get("default", {})
    recipients: tuple[Recipient, ...] = ()
    if "s3" in str(default.get("BACKEND", "")).lower():
        options: dict[str, Any] = default.get("OPTIONS", {})
        region = options.get("region_name") or ""
        endpoint = options.get("endpoint_url") or ""
        host = _host(endpoint)
        if not endpoint or host.endswith(".amazonaws.com"):
            name = "Amazon Web Services (S3)"
            where = f"AWS region {region}" + (f" ({AWS_REGIONS[region]})" if region in AWS_REGIONS else "")
            if not region:
                where = "AWS, in the bucket's own region"
        else:
            name = f"S3-compatible storage at {host}"
            where = host + (f", region {region}" if region else "")
        encrypted = (options.get("object_parameters") or {}).get("ServerSideEncryption")
        notes = ["Private: files are never public; each download is a signed link that expires within minutes."]
        if encrypted:
            notes.append(f"Encrypted at rest ({encrypted}).")
        recipients = (
            Recipient(
                name=name,
                role="File storage",
                sent=(
                    "Every file you upload or Greenlight makes for you: evidence files, reports, policy exports, "
                    "your logo and organisation exports.",
                ),
                where=where,
                notes=tuple(notes),
            ),
        )
    return Category(
        key="storage",
        title="File storage",
        recipients=recipients,
        none="Files stay on our own servers.",
    )


# --- Error reports ------------------------------------------------------------------------------------------
def _sentry_where(host: str) -> tuple[str, str]:
    if host == "sentry.io" or host.endswith(".sentry.io"):
        region = "European Union (Germany)" if ".de.sentry.io" in f".{host}" else "United States"
        return "Sentry (Functional Software, Inc.)", f"{host}: {region}"
    return f"Sentry at {host}", host


def error_reporting() -> Category:
    dsn = getattr(settings, "SENTRY_DSN", "")
    recipients: tuple[Recipient, ...] = ()
    if dsn:
        name, where = _sentry_where(_host(dsn))
        recipients = (
            Recipient(
                name=name,
                role="Error reports",
                sent=(
                    "When something fails: the error, where in our code it happened, and the page address and "
                    "request headers involved.",
                ),
                where=where,
                notes=(
                    "Scrubbed before sending: who was signed in, cookies and form contents are removed, email "
                    "addresses are replaced, and any value named like "
                    f"{_listing([f'“{key}”' for key in SENSITIVE_KEYS])} is blanked.",
                ),
            ),
        )
    return Category(
        key="errors",
        title="Error reports",
        recipients=recipients,
        none="Errors are logged on our own servers only; no error-reporting service receives them.",
    )


# --- Email ----------------------------------------------------------------------------------------------------
def email_delivery() -> Category:
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    recipients: tuple[Recipient, ...] = ()
    if not any(f".{local}." in f".{backend.lower()}." for local in LOCAL_EMAIL_BACKENDS):
        host = (getattr(settings, "EMAIL_HOST", "") or "").lower()
        if backend.endswith("smtp.EmailBackend"):
            name, where = _email_provider(host), f"{host} (SMTP)"
        else:
            # An email service's own backend ("anymail.backends.sendgrid.EmailBackend"): named by its module.
            parts = backend.split(".")
            name, where = (parts[-2] if len(parts) > 1 else backend), "the email service's own servers"
        recipients = (
            Recipient(
                name=name,
                role="Email delivery",
                sent=(
                    "The emails Greenlight sends: invitations, sign-in and password emails, notifications and "
                    "digests, and scheduled reports (with the PDF when a schedule attaches it), with each "
                    "recipient's email address.",
                ),
                where=where,
            ),
        )
    return Category(
        key="email",
        title="Email",
        recipients=recipients,
        none="Emails are not sent to an outside provider in this installation.",
    )


def _email_provider(host: str) -> str:
    if host in EMAIL_PROVIDERS:
        return EMAIL_PROVIDERS[host]
    if host.startswith("email-smtp.") and host.endswith(".amazonaws.com"):
        return f"Amazon SES ({host.split('.')[1]})"
    return f"The mail server at {host}"


# --- What the organisation connected ------------------------------------------------------------------------
def connected_services(organisation: Organisation) -> tuple[ConnectedService, ...]:
    """Services the organisation authorised Greenlight to read from (one query). A disconnected one no
    longer exchanges anything and is not listed."""
    rows = Connection.objects.filter(organisation=organisation).exclude(status=ConnectionStatus.DISCONNECTED)
    return tuple(
        ConnectedService(
            name=connection.get_provider_display(),
            account=connection.account_label,
            status=connection.get_status_display(),
            connected_at=connection.connected_at,
            reads=CONNECTED_READS.get(connection.provider, ""),
        )
        for connection in rows.order_by("provider")
    )


def disclosure(organisation: Organisation) -> Disclosure:
    redacted = redacted_kinds()
    return Disclosure(
        categories=(ai_providers(redacted), file_storage(), error_reporting(), email_delivery()),
        connected=connected_services(organisation),
        redacted=redacted,
    )


def redaction_sentence(redacted: tuple[str, ...]) -> str:
    if not redacted:
        return "Text sent to an AI provider is not redacted."
    return (
        f"Before anything is sent to an AI provider, {_listing(list(redacted))} are replaced with placeholders "
        "such as [EMAIL_1]. The provider never sees them; our servers put them back into the answer."
    )
