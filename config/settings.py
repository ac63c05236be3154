"""Greenlight settings: the one module that reads the environment.

With no environment set, Greenlight runs self-contained (SQLite, eager Celery, local files, console
email, offline AI). Setting `DATABASE_URL`, `REDIS_URL`, the S3 variables and provider keys moves the
same code onto real services. `GREENLIGHT_ENV=production` turns on the production guard rails: it
refuses to start without `SECRET_KEY` or `ALLOWED_HOSTS`, or with `DEBUG` on.

Every variable read here is listed in `.env.example` and the README's configuration table.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_required, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Mode -----------------------------------------------------------------------------------------
GREENLIGHT_ENV = env_str("GREENLIGHT_ENV", "development")
if GREENLIGHT_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("GREENLIGHT_ENV must be 'development' or 'production'.")
PRODUCTION = GREENLIGHT_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env_required("SECRET_KEY", "production signs sessions and links with it.")
    DEBUG = env_bool("DEBUG", False)
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production (unset DEBUG or set it to false).")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names Greenlight serves in production.")
else:
    # A fixed development key: sessions survive restarts, and nothing signed with it leaves the machine.
    SECRET_KEY = env_str("SECRET_KEY") or "development-only-key-never-used-in-production-greenlight-0123456789"
    DEBUG = env_bool("DEBUG", True)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

DATA_DIR = Path(env_str("DATA_DIR") or BASE_DIR / "data").resolve()

# --- Applications ---------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "django_celery_beat",
    "accounts",
    "compliance",
    "assessments",
    "policies",
    "evidence",
    "chat",
]

MIDDLEWARE = [
    "config.observability.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.limits.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.OrganisationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.organisation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10)
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # Fail fast when PostgreSQL is unreachable instead of hanging a worker.
        options["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
        if DATABASE_POOL_SIZE:
            # Under ASGI each request may run on a different thread, so persistent per-thread connections
            # pile up until PostgreSQL refuses more; Django's psycopg pool shares a few per process instead.
            options["pool"] = {
                "min_size": 1,
                "max_size": DATABASE_POOL_SIZE,
                # The longest a request waits for a connection: during an outage it is then answered 503
                # (config/database_outage.py) instead of hanging, and under overload it is shed.
                "timeout": env_int("DATABASE_POOL_TIMEOUT", 3),
                # psycopg_pool retries a lost connection with doubling pauses for this long; left at its
                # five minutes, the next try could come as long after PostgreSQL is back as it was away.
                # Giving up early lets the next request that finds the pool empty try again at once.
                "reconnect_timeout": 5,
            }
            DATABASES["default"]["CONN_MAX_AGE"] = 0
            # The pool checks each connection (an empty query) as it hands it out, so connections a
            # PostgreSQL restart broke are thrown away instead of failing the next request that gets them.
            DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        else:
            DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
            DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "greenlight.sqlite3"),
            "OPTIONS": {
                # WAL lets readers carry on while one writer commits; IMMEDIATE avoids the
                # "database is locked" error when two transactions upgrade to writers at once.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker and Celery ---------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, degrading (misses, dropped writes) rather than failing while Redis is down.
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "greenlight",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "greenlight"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without a broker, tasks run in the web process as they are enqueued, so everything still works.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # As the cache's: without them a Redis that hangs rather than refuses would hold a publish, and the
    # request making it, for ever (config/queueing.py keeps the whole publish to a few seconds).
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "Europe/London"

# --- Authentication (django-allauth) --------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory" if PRODUCTION else "optional")
if PRODUCTION and ACCOUNT_EMAIL_VERIFICATION != "mandatory":
    raise ImproperlyConfigured("Email verification is mandatory in production.")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PREVENT_ENUMERATION = True
# allauth's rate limits, stated rather than left to defaults (they need a shared cache: Redis in production).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Greenlight] "
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm", "signup": "accounts.forms.SignupForm"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Greenlight"
MFA_RECOVERY_CODE_COUNT = 10

SESSION_COOKIE_AGE = int(timedelta(days=14).total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Invitations to join an organisation are valid for this long.
INVITATION_MAX_AGE = timedelta(days=7)

# --- Email ----------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Greenlight <no-reply@greenlight.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Files ----------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
# Outside production, WhiteNoise serves straight from the source folders: no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
# No MEDIA_URL on purpose: stored files are never served from a public path, only through
# access-checked views.

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 300),
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": MEDIA_ROOT}}
STORAGES = {
    "default": default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Request size limits: bodies above MAX_REQUEST_BODY_BYTES are refused with 413 before they are read.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_MB", 50) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
# Days an organisation export (everything it holds, as a ZIP) stays downloadable before its file is deleted.
DATA_EXPORT_DAYS = env_int("DATA_EXPORT_DAYS", 7)
# Days between an owner asking for their organisation to be deleted and its deletion; they can cancel until then.
ORGANISATION_DELETION_GRACE_DAYS = env_int("ORGANISATION_DELETION_GRACE_DAYS", 14)

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"

# --- Security headers -----------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A strict policy everywhere, development included, so a script without its nonce fails early.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Keys first: a request with a Bearer key is the key's, whatever cookies it carries. Session calls
    # from the browser keep Django's CSRF protection.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.IsKeyOrSignedIn"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "config.problems.problem_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.ApiCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env_str("API_RATE_LIMIT", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.GreenlightAutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Greenlight API",
    "DESCRIPTION": (
        "Read readiness, push evidence, pull reports. Authenticate with an API key in the Authorization "
        "header (`Authorization: Bearer glk_...`); each operation lists the scope it needs. Errors are "
        "RFC 9457 problem details. Lists are cursor-paginated: follow `next`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_problem_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    # Choice sets named after their model, not their field: many models have a `kind` or a `status`, and
    # drf-spectacular warns when two different sets would share a name.
    "ENUM_NAME_OVERRIDES": {
        "ReportKindEnum": "assessments.models.ReportKind",
        "ReportStatusEnum": "assessments.models.ReportStatus",
        "ControlGroupKindEnum": "compliance.models.GroupKind",
        "MappingRelationshipEnum": "compliance.models.Relationship",
        "EvidenceKindEnum": "evidence.models.EvidenceForm",
        "EvidenceStatusEnum": "evidence.models.EvidenceStatus",
        "NewEvidenceStatusEnum": "evidence.serializers.NEW_STATUSES",
        "EvidenceTypeEnum": "evidence.kinds.EvidenceType",
        "EvidenceSourceEnum": "evidence.models.EvidenceSource",
        "PolicyStatusEnum": "policies.models.PolicyStatus",
        "PolicySectionOriginEnum": "policies.models.SectionOrigin",
        "WebhookEventEnum": "accounts.serializers_webhooks.EVENT_CHOICES",
        "WebhookDeliveryStatusEnum": "accounts.models.DeliveryStatus",
        "AnswerStatusEnum": "assessments.models.AnswerStatus",
        "TaskStatusEnum": "assessments.models.TaskStatus",
        "RegionEnum": "assessments.models.Region",
    },
}

# --- AI providers (the gateway in chat/ai tries them in order; see the README) ------------------
GEMINI_API_KEY = env_str("GEMINI_API_KEY")
GEMINI_MODEL = env_str("GEMINI_MODEL", "gemini-2.5-flash")
# Empty: Google's public endpoint. Set for a proxy or a regional gateway.
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL")
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4.1-mini")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
# Providers in the order they are tried. By default, configured providers come first; the built-in
# offline provider is always the last resort, whatever the list says.
AI_PROVIDERS = ("gemini", "openai", "offline")
AI_PROVIDER_ORDER = env_list("AI_PROVIDER_ORDER") or [
    *(["gemini"] if GEMINI_API_KEY else []),
    *(["openai"] if OPENAI_API_KEY else []),
]
if unknown_providers := sorted(set(AI_PROVIDER_ORDER) - set(AI_PROVIDERS)):
    raise ImproperlyConfigured(f"AI_PROVIDER_ORDER names unknown providers {unknown_providers}; known: {AI_PROVIDERS}.")
AI_PROVIDER_ORDER = [*dict.fromkeys(name for name in AI_PROVIDER_ORDER if name != "offline"), "offline"]
AI_PROVIDER = AI_PROVIDER_ORDER[0]
# Seconds one request to a provider may take, and how often a retryable failure is retried there
# (exponential backoff with jitter) before the next provider is tried.
AI_TIMEOUT_SECONDS = env_int("AI_TIMEOUT_SECONDS", 30)
AI_MAX_RETRIES = env_int("AI_MAX_RETRIES", 2)
# How long a person waiting on a page (the assistant) waits for providers in all: past it there are no
# more retries or providers, and the offline answer is given. Background work (drafting) has no deadline.
AI_INTERACTIVE_DEADLINE_SECONDS = env_int("AI_INTERACTIVE_DEADLINE_SECONDS", 20)
# The longest wait before a retry: a provider asking for a longer pause (Retry-After) is skipped instead.
AI_RETRY_MAX_WAIT_SECONDS = env_int("AI_RETRY_MAX_WAIT_SECONDS", 10)
# Circuit breaker per provider: after this many consecutive failures it is skipped for the cool-down.
AI_CIRCUIT_FAILURES = env_int("AI_CIRCUIT_FAILURES", 5)
AI_CIRCUIT_COOLDOWN_SECONDS = env_int("AI_CIRCUIT_COOLDOWN_SECONDS", 60)
# Per organisation, for external providers only (0 turns a limit off). Past either, offline answers.
AI_REQUESTS_PER_MINUTE = env_int("AI_REQUESTS_PER_MINUTE", 60)
AI_MONTHLY_TOKEN_BUDGET = env_int("AI_MONTHLY_TOKEN_BUDGET", 2_000_000)
# Keep the (redacted) prompts and the responses of AI calls. Off: only counts and outcomes are kept.
AI_STORE_PROMPTS = env_bool("AI_STORE_PROMPTS", False)

# --- Webhooks -------------------------------------------------------------------------------------
# Webhooks go only to public https addresses; allowing private ones (http, localhost, the LAN) is for
# development and tests, where the receiver runs on the same machine.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG)

# --- Evidence -------------------------------------------------------------------------------------
EVIDENCE_MAX_UPLOAD_MB = env_int("EVIDENCE_MAX_UPLOAD_MB", 25)
EVIDENCE_MAX_UPLOAD_BYTES = EVIDENCE_MAX_UPLOAD_MB * 1024 * 1024
if MAX_REQUEST_BODY_BYTES < EVIDENCE_MAX_UPLOAD_BYTES + 1024 * 1024:
    raise ImproperlyConfigured(
        "MAX_REQUEST_BODY_MB must be larger than EVIDENCE_MAX_UPLOAD_MB, or no upload could arrive."
    )
# Days before an item's valid-until date that its owner is reminded.
EVIDENCE_REMINDER_DAYS = env_int("EVIDENCE_REMINDER_DAYS", 14)
# Connector tokens are encrypted with Fernet keys (the first encrypts; all decrypt, so keys can rotate).
# Outside production a key is derived from SECRET_KEY; production needs its own when a connector is set.
EVIDENCE_GOOGLE_CLIENT_ID = env_str("GOOGLE_WORKSPACE_CLIENT_ID")
EVIDENCE_MICROSOFT_CLIENT_ID = env_str("MICROSOFT_365_CLIENT_ID")
CONNECTOR_TOKEN_KEYS = env_list("CONNECTOR_TOKEN_KEYS")
if PRODUCTION and (EVIDENCE_GOOGLE_CLIENT_ID or EVIDENCE_MICROSOFT_CLIENT_ID) and not CONNECTOR_TOKEN_KEYS:
    raise ImproperlyConfigured(
        "CONNECTOR_TOKEN_KEYS is required in production when a connector is configured: connector tokens are "
        "encrypted with it. Generate one with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'"
    )
# The providers' endpoints are settings, not environment variables, so tests point them at local fakes.
MICROSOFT_LOGIN_URL = "https://login.microsoftonline.com/" + env_str("MICROSOFT_365_TENANT", "organizations")
EVIDENCE_CONNECTORS: dict[str, dict[str, str]] = {
    "google_workspace": {
        "client_id": EVIDENCE_GOOGLE_CLIENT_ID,
        "client_secret": env_str("GOOGLE_WORKSPACE_CLIENT_SECRET"),
        "authorise_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revoke_url": "https://oauth2.googleapis.com/revoke",
        "api_base_url": "https://admin.googleapis.com",
    },
    "microsoft_365": {
        "client_id": EVIDENCE_MICROSOFT_CLIENT_ID,
        "client_secret": env_str("MICROSOFT_365_CLIENT_SECRET"),
        "authorise_url": f"{MICROSOFT_LOGIN_URL}/oauth2/v2.0/authorize",
        "token_url": f"{MICROSOFT_LOGIN_URL}/oauth2/v2.0/token",
        "revoke_url": "",
        "api_base_url": "https://graph.microsoft.com/v1.0",
    },
}

# --- Observability --------------------------------------------------------------------------------
METRICS_TOKEN = env_str("METRICS_TOKEN")
# A Celery worker's task counters live in its own process: with a port set, the worker serves them there.
CELERY_METRICS_PORT = env_int("CELERY_METRICS_PORT", 0)
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
SENTRY_DSN = env_str("SENTRY_DSN")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.observability.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.security.DisallowedHost": {"level": "ERROR"},
        # One INFO line per request with its full URL would flood the logs during a collection run.
        "httpx2": {"level": "WARNING"},
    },
}
if SENTRY_DSN:
    from config.observability.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", GREENLIGHT_ENV))

MESSAGE_TAGS = {message_constants.ERROR: "error"}
