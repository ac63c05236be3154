"""The sub-processors page, read from the live configuration: each permutation of AI keys and order, file
storage, Sentry and email, the redaction statement read from the gateway's redactor, the services an
organisation connected (its own only), who may read it, and its queries."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts import subprocessors
from chat.ai.redaction import Redactor
from config.observability.sentry import SENSITIVE_KEYS
from evidence.models import ConnectionStatus
from evidence.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

PAGE = "/settings/sub-processors/"
REQUEST_BASELINE = 3  # session, user, memberships
S3 = "storages.backends.s3.S3Storage"
ALL_REDACTED = (
    "email addresses",
    "UK phone numbers",
    "postcodes",
    "National Insurance numbers",
    "payment card numbers",
    "the names of your organisation's members",
)


def s3_storage(settings, **options: object) -> None:
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3, "OPTIONS": {"bucket_name": "b", **options}}}


def category(key: str) -> subprocessors.Category:
    return {
        "ai": lambda: subprocessors.ai_providers(subprocessors.redacted_kinds()),
        "storage": subprocessors.file_storage,
        "errors": subprocessors.error_reporting,
        "email": subprocessors.email_delivery,
    }[key]()


@pytest.fixture
def browser(personas, client_for):
    browser = client_for(personas.viewer)
    browser.get("/")
    return browser


# --- AI providers ----------------------------------------------------------------------------------------
def test_without_keys_ai_runs_on_our_own_servers(settings, browser):
    settings.AI_PROVIDER_ORDER = ["offline"]

    assert category("ai").recipients == ()
    body = browser.get(PAGE).content.decode()
    assert "AI features run on our own servers; nothing is sent to an AI provider." in body
    assert "Gemini" not in body
    assert "OpenAI" not in body


def test_a_gemini_key_makes_google_the_primary_provider(settings):
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.AI_PROVIDER_ORDER = ["gemini", "offline"]

    (gemini,) = category("ai").recipients

    assert gemini.name == "Google (Gemini API)"
    assert gemini.role.startswith("Primary AI provider")
    assert "gemini-2.5-flash" in gemini.role
    assert gemini.where == "generativelanguage.googleapis.com: Google's global infrastructure"
    assert any("policies and evidence" in item for item in gemini.sent)


def test_with_both_keys_the_second_in_the_order_is_the_fallback(settings):
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.AI_PROVIDER_ORDER = ["openai", "gemini", "offline"]

    primary, fallback = category("ai").recipients

    assert primary.name == "OpenAI"
    assert primary.role.startswith("Primary AI provider")
    assert primary.where == "api.openai.com: United States"
    assert fallback.name == "Google (Gemini API)"
    assert fallback.role.startswith("Fallback AI provider: used only when OpenAI cannot answer")


def test_a_provider_in_the_order_without_its_key_is_not_listed(settings):
    settings.GEMINI_API_KEY = ""
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.AI_PROVIDER_ORDER = ["gemini", "openai", "offline"]

    assert [recipient.name for recipient in category("ai").recipients] == ["OpenAI"]


def test_a_key_the_order_leaves_out_is_not_listed(settings):
    """The gateway only tries what AI_PROVIDER_ORDER names: a key alone sends nothing."""
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.AI_PROVIDER_ORDER = ["openai", "offline"]

    assert [recipient.name for recipient in category("ai").recipients] == ["OpenAI"]


def test_another_endpoint_is_named_by_its_host(settings):
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.OPENAI_BASE_URL = "https://llm-gateway.example.co.uk/v1"
    settings.AI_PROVIDER_ORDER = ["openai", "offline"]

    (openai,) = category("ai").recipients

    assert openai.where.startswith("llm-gateway.example.co.uk")
    assert "United States" not in openai.where


def test_stored_prompts_are_said_when_kept(settings):
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.AI_PROVIDER_ORDER = ["openai", "offline"]
    settings.AI_STORE_PROMPTS = True
    assert any("keeps the redacted prompts" in note for note in category("ai").notes)

    settings.AI_STORE_PROMPTS = False
    assert category("ai").notes == ()


# --- Redaction ---------------------------------------------------------------------------------------------
def test_the_redaction_statement_is_read_from_the_gateways_redactor(settings, browser):
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.AI_PROVIDER_ORDER = ["gemini", "offline"]

    assert subprocessors.redacted_kinds() == ALL_REDACTED
    body = browser.get(PAGE).content.decode()
    assert "Before anything is sent to an AI provider, email addresses, UK phone numbers, postcodes" in body
    assert "payment card numbers and the names of your organisation&#x27;s members are replaced" in body


def test_the_statement_claims_only_what_the_redactor_takes_out(monkeypatch):
    """If the redactor stopped taking out postcodes, the page would stop saying it does."""

    class WithoutPostcodes(Redactor):
        def redact(self, text: str) -> str:
            return text if text == "SW1A 1AA" else super().redact(text)

    monkeypatch.setattr(subprocessors, "Redactor", WithoutPostcodes)

    kinds = subprocessors.redacted_kinds()
    assert "postcodes" not in kinds
    assert "postcodes" not in subprocessors.redaction_sentence(kinds)
    assert "email addresses" in kinds


def test_every_probe_is_something_the_redactor_really_replaces():
    redactor = Redactor(names=[subprocessors.PROBE_NAME])
    for _label, sample in subprocessors.REDACTION_PROBES:
        assert redactor.redact(f"Contact: {sample}.") != f"Contact: {sample}."


# --- File storage -----------------------------------------------------------------------------------------
def test_local_files_stay_on_our_servers(browser):
    assert category("storage").recipients == ()
    assert "Files stay on our own servers." in browser.get(PAGE).content.decode()


def test_s3_on_aws_names_the_region(settings, browser):
    s3_storage(settings, region_name="eu-west-2", object_parameters={"ServerSideEncryption": "AES256"})

    (aws,) = category("storage").recipients

    assert aws.name == "Amazon Web Services (S3)"
    assert aws.where == "AWS region eu-west-2 (London)"
    assert "Encrypted at rest (AES256)." in aws.notes
    body = browser.get(PAGE).content.decode()
    assert "AWS region eu-west-2 (London)" in body
    assert "Files stay on our own servers." not in body


def test_s3_compatible_storage_is_named_by_its_endpoints_host(settings):
    s3_storage(settings, endpoint_url="https://s3.fr-par.scw.cloud", region_name="fr-par")

    (store,) = category("storage").recipients

    assert store.name == "S3-compatible storage at s3.fr-par.scw.cloud"
    assert store.where == "s3.fr-par.scw.cloud, region fr-par"


# --- Error reports -------------------------------------------------------------------------------------------
def test_without_sentry_no_error_reports_leave(settings, browser):
    settings.SENTRY_DSN = ""

    assert category("errors").recipients == ()
    assert "no error-reporting service receives them" in browser.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("dsn", "where"),
    [
        ("https://abc@o12.ingest.sentry.io/34", "o12.ingest.sentry.io: United States"),
        ("https://abc@o12.ingest.de.sentry.io/34", "o12.ingest.de.sentry.io: European Union (Germany)"),
        ("https://abc@sentry.internal.example.co.uk/3", "sentry.internal.example.co.uk"),
    ],
)
def test_sentry_is_listed_with_where_and_what_is_scrubbed(settings, browser, dsn, where):
    settings.SENTRY_DSN = dsn

    (sentry,) = category("errors").recipients

    assert sentry.where == where
    (scrubbed,) = sentry.notes
    assert "who was signed in, cookies and form contents are removed" in scrubbed
    assert all(f"“{key}”" in scrubbed for key in SENSITIVE_KEYS)
    assert where in browser.get(PAGE).content.decode()


# --- Email ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "backend",
    ["django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.locmem.EmailBackend"],
)
def test_console_and_memory_email_leave_nothing(settings, browser, backend):
    settings.EMAIL_BACKEND = backend

    assert category("email").recipients == ()
    body = browser.get(PAGE).content.decode()
    assert "Emails are not sent to an outside provider in this installation." in body


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("smtp.sendgrid.net", "SendGrid (Twilio)"),
        ("email-smtp.eu-west-2.amazonaws.com", "Amazon SES (eu-west-2)"),
        ("mail.acme.example", "The mail server at mail.acme.example"),
    ],
)
def test_smtp_names_the_provider_from_its_host(settings, browser, host, name):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = host

    (email,) = category("email").recipients

    assert email.name == name
    assert email.where == f"{host} (SMTP)"
    assert name in browser.get(PAGE).content.decode()


# --- Services the organisation connected ------------------------------------------------------------------------
def test_connected_services_are_listed_apart_and_only_the_organisations_own(personas, browser):
    ConnectionFactory(organisation=personas.organisation, provider="google_workspace", account_label="acme.example")
    ConnectionFactory(
        organisation=personas.organisation, provider="microsoft_365", status=ConnectionStatus.DISCONNECTED
    )
    ConnectionFactory(organisation=personas.other_organisation, provider="microsoft_365", account_label="rival.example")

    response = browser.get(PAGE)

    (google,) = response.context["disclosure"].connected
    assert google.name == "Google Workspace"
    assert google.account == "acme.example"
    body = response.content.decode()
    assert "Services you connected" in body
    assert "Google Workspace (acme.example)" in body
    assert "rival.example" not in body
    assert "Microsoft 365" not in body


def test_without_connections_the_page_says_so(browser):
    assert "You have not connected any services." in browser.get(PAGE).content.decode()


# --- The page ---------------------------------------------------------------------------------------------------------
def test_the_page_says_when_it_was_checked(browser):
    response = browser.get(PAGE)

    assert response.context["section"] == "subprocessors"
    today = timezone.localtime(response.context["disclosure"].checked_at)
    assert f'Last checked: now, <time datetime="{today.isoformat()}">{today:%-d %B %Y}' in response.content.decode()


def test_with_nothing_configured_nothing_leaves(browser):
    assert "None at the moment: your data stays on our own servers." in browser.get(PAGE).content.decode()


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer", "consultant"])
def test_every_member_can_read_it(personas, client_for, role):
    assert client_for(getattr(personas, role)).get(PAGE).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_only_reads(personas, client_for):
    assert client_for(personas.owner).post(PAGE).status_code == 405


@pytest.mark.parametrize("connections", [0, 2])
def test_the_page_queries_are_pinned(personas, browser, django_assert_num_queries, connections):
    for provider in ["google_workspace", "microsoft_365"][:connections]:
        ConnectionFactory(organisation=personas.organisation, provider=provider)

    # + the organisation's connections
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        response = browser.get(PAGE)
    assert len(response.context["disclosure"].connected) == connections
