"""/metrics is reachable from allowed addresses or with the bearer token, and from nowhere else."""

from __future__ import annotations

import pytest

SCRAPER_IP = "10.0.0.5"
STRANGER_IP = "203.0.113.9"
TOKEN = "metrics-token-for-tests-5b1f"


@pytest.fixture(autouse=True)
def _metrics_access(settings):
    settings.METRICS_ALLOWED_IPS = [SCRAPER_IP]
    settings.METRICS_TOKEN = TOKEN


def test_allowed_address_reads_request_latency_by_route(client):
    client.get("/healthz")

    response = client.get("/metrics", REMOTE_ADDR=SCRAPER_IP)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "# TYPE greenlight_http_request_duration_seconds histogram" in body
    assert 'greenlight_http_request_duration_seconds_count{method="GET",route="healthz",status="200"}' in body


def test_other_address_is_forbidden(client):
    response = client.get("/metrics", REMOTE_ADDR=STRANGER_IP)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert b"greenlight_" not in response.content


def test_valid_bearer_token_opens_metrics_from_any_address(client):
    response = client.get("/metrics", REMOTE_ADDR=STRANGER_IP, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert b"greenlight_http_request_duration_seconds" in response.content


@pytest.mark.parametrize("authorization", ["Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_wrong_token_is_forbidden(client, authorization):
    response = client.get("/metrics", REMOTE_ADDR=STRANGER_IP, HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 403


def test_empty_token_setting_never_matches_an_empty_bearer(client, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", REMOTE_ADDR=STRANGER_IP, HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 403
