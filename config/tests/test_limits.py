"""Oversized request bodies are refused with 413 before anything reads them."""

from __future__ import annotations


def test_body_over_the_limit_is_refused_with_a_problem_document(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024

    response = client.post("/healthz", data=b"x" * 2048, content_type="application/octet-stream")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 413
    assert problem["title"] == "Request too large"


def test_body_within_the_limit_reaches_the_view(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024

    response = client.post("/healthz", data=b"x" * 512, content_type="application/octet-stream")

    # /healthz only answers GET, so reaching it at all shows the body was let through.
    assert response.status_code == 405


def test_limit_applies_to_signed_in_pages_too(client, settings, django_user_model, db):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    client.force_login(django_user_model.objects.create_user(email="big@example.co.uk", password=None))

    response = client.post("/settings/", data={"name": "x" * 4096})

    assert response.status_code == 413
