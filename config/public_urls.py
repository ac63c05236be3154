"""The one list of URLs that anyone may open without signing in, each with the reason it is public.

Every other URL sends an anonymous visitor to the sign-in page (LoginRequiredMiddleware, or the admin's
own sign-in for admin pages), or answers 401/403 problem+json (the API, which needs a key), 404 or 405.
tests/test_anonymous_sweep.py walks every URL as an anonymous visitor and fails on a public one that is
not listed here, and on a listed one that is no longer public.

Not listed because they are not URL names, and public on purpose:
- static files under STATIC_URL, served by WhiteNoise before any view runs (no organisation's data);
- nothing else: uploaded files have no public path (there is no MEDIA_URL).

Not public, though reached from outside: an invitation link (`invitation_accept`) sends an anonymous
visitor to sign in or sign up first, then back to the invitation.
"""

from __future__ import annotations

PUBLIC_URLS: dict[str, str] = {
    # Signing in and getting an account (django-allauth). Each is rate-limited: see ACCOUNT_RATE_LIMITS.
    "account_login": "Signing in.",
    "account_signup": "Creating an account, before there is anyone to be signed in as.",
    "account_inactive": "Tells a person whose account is switched off why they cannot sign in; shows nothing else.",
    "account_email_verification_sent": "Says the verification email is on its way, before the address is verified.",
    "account_confirm_email": "The link in the verification email: its key is the credential.",
    "account_reset_password": "Asking for a password reset link, for someone who cannot sign in.",
    "account_reset_password_done": "Says the reset email is on its way; names no account.",
    "account_reset_password_from_key": "The link in the reset email: its key is the credential.",
    "account_reset_password_from_key_done": "Confirms the password was changed; names no account.",
    "admin:login": "The staff sign-in page of the admin; every other admin page sends anonymous visitors here.",
    # Operations: probes the platform calls without a session.
    "healthz": "Liveness probe; answers only that the process is up.",
    "readyz": "Readiness probe; answers which dependencies are reachable, and no data.",
    "metrics": "Prometheus scrape; guarded by METRICS_TOKEN or METRICS_ALLOWED_IPS rather than by signing in.",
    # The partner API's documentation: partners read it before they have a key.
    "api_schema": "The OpenAPI schema of the partner API; describes endpoints, holds no data.",
    "api_docs": "The partner API's reference page, rendered from the schema.",
}
