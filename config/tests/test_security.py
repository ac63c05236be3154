"""Production guard rails and security headers.

Production mode is exercised in subprocesses: settings are read once at start-up, so the only honest
way to test them is to start Greenlight with a production environment.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
STRONG_SECRET_KEY = secrets.token_urlsafe(64)

# Asked inside a production process: the settings that matter and the headers a real response carries.
PRODUCTION_PROBE = """
import json
import django
from django.conf import settings
django.setup()
from django.test import Client
response = Client(HTTP_HOST="greenlight.example").get("/healthz", secure=True)
insecure = Client(HTTP_HOST="greenlight.example").get("/settings/")
print(json.dumps({
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "DEBUG": settings.DEBUG,
    "hsts": response.headers.get("Strict-Transport-Security"),
    "referrer_policy": response.headers.get("Referrer-Policy"),
    "insecure_status": insecure.status_code,
    "insecure_location": insecure.headers.get("Location"),
}))
"""


def _production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"}
    }
    env.update(
        GREENLIGHT_ENV="production",
        SECRET_KEY=STRONG_SECRET_KEY,
        ALLOWED_HOSTS="greenlight.example",
        DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        ACCOUNT_EMAIL_VERIFICATION="mandatory",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_deploy_checks_pass_in_production_mode(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"DEBUG": "true"}, "DEBUG must be off in production"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must list"),
        ({"ACCOUNT_EMAIL_VERIFICATION": "optional"}, "Email verification is mandatory"),
    ],
    ids=["no-secret-key", "empty-secret-key", "debug-on", "no-allowed-hosts", "optional-verification"],
)
def test_production_refuses_to_start_when_misconfigured(tmp_path, overrides, message):
    result = _run(["manage.py", "check"], _production_env(tmp_path, **overrides))

    assert result.returncode != 0
    assert message in result.stderr


def test_production_sends_hsts_secure_cookies_and_redirects_to_https(tmp_path):
    result = _run(["-c", PRODUCTION_PROBE], _production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["DEBUG"] is False
    assert probe["SESSION_COOKIE_SECURE"] is True
    assert probe["CSRF_COOKIE_SECURE"] is True
    assert probe["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert probe["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert probe["referrer_policy"] == "strict-origin-when-cross-origin"
    assert probe["insecure_status"] == 301
    assert probe["insecure_location"] == "https://greenlight.example/settings/"


def _csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in directives}


def _assert_strict(response) -> None:
    policy = _csp(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    nonces = [value for value in policy["script-src"] if value.startswith("'nonce-")]
    assert len(nonces) == 1
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    # Every script on the page carries the nonce of this response.
    nonce = nonces[0].removeprefix("'nonce-").removesuffix("'")
    scripts = re.findall(rb"<script\b[^>]*>", response.content)
    assert scripts
    for tag in scripts:
        assert f'nonce="{nonce}"'.encode() in tag, tag


@pytest.mark.django_db
def test_login_page_has_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    _assert_strict(response)
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.django_db
def test_signed_in_page_has_a_strict_policy_with_a_fresh_nonce(personas, client_for):
    browser = client_for(personas.owner)

    first, second = browser.get("/"), browser.get("/")

    assert first.status_code == 200
    _assert_strict(first)
    assert _csp(first)["script-src"] != _csp(second)["script-src"]
