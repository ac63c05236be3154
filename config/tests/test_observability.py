"""Structured JSON logs and the Sentry scrubber that keeps personal data out of error reports."""

from __future__ import annotations

import json
import logging
import sys

from config.observability.logs import JsonFormatter
from config.observability.sentry import before_send


def _record(message: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("greenlight.test", logging.WARNING, __file__, 1, message, args, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_log_line_is_one_json_object_with_the_message_and_extras():
    line = JsonFormatter().format(_record("%s members invited", 3, organisation_id=42, request_id="abc"))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "greenlight.test"
    assert entry["message"] == "3 members invited"
    assert entry["organisation_id"] == 42
    assert entry["request_id"] == "abc"
    assert entry["time"].endswith("+00:00")


def test_log_line_carries_the_exception_and_stringifies_odd_extras():
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()

    entry = json.loads(JsonFormatter().format(_record("failed", exc_info=exc_info, payload={"a": {1, 2}})))

    assert "ValueError: boom" in entry["exception"]
    assert isinstance(entry["payload"], str)


def _event() -> dict:
    return {
        "message": "Invitation for jane.doe@acme.example failed",
        "user": {"id": 7, "email": "jane.doe@acme.example", "ip_address": "198.51.100.4"},
        "request": {
            "url": "https://greenlight.example/settings/members/",
            "cookies": {"sessionid": "session-secret-value", "csrftoken": "csrf-secret-value"},
            "data": {"password": "hunter2-password-value", "email": "jane.doe@acme.example"},
            "headers": {
                "Cookie": "sessionid=session-secret-value",
                "Authorization": "Bearer token-secret-value",
                "User-Agent": "pytest",
            },
        },
        "extra": {"new_password": "another-password-value", "note": "contact bob@example.co.uk"},
        "exception": {"values": [{"type": "ValueError", "value": "no account for jane.doe@acme.example"}]},
    }


def test_sentry_event_loses_emails_cookies_passwords_and_tokens():
    scrubbed = json.dumps(before_send(_event(), {}))

    for secret in (
        "jane.doe@acme.example",
        "bob@example.co.uk",
        "session-secret-value",
        "csrf-secret-value",
        "hunter2-password-value",
        "another-password-value",
        "token-secret-value",
        "198.51.100.4",
    ):
        assert secret not in scrubbed


def test_sentry_event_keeps_what_is_needed_to_debug():
    scrubbed = before_send(_event(), {})

    assert scrubbed["request"]["url"] == "https://greenlight.example/settings/members/"
    assert scrubbed["request"]["headers"]["User-Agent"] == "pytest"
    assert scrubbed["exception"]["values"][0]["type"] == "ValueError"
    assert scrubbed["message"] == "Invitation for [email] failed"
