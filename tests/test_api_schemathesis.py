"""The API does what its OpenAPI schema says, for requests generated from that schema (Schemathesis).

Every operation of the OpenAPI schema (what `/api/schema/` serves) is called through the real WSGI
application with a key holding every scope for a seeded organisation, with a bounded number of
generated requests each, and checked for: no server error, a documented status code and content type,
and a body matching the documented schema.

About 25 seconds of CPU on SQLite; skip it while iterating with `pytest -m "not schemathesis"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tests.factories import ApiKeyFactory, api_secret
from compliance.models import Control, Framework
from tests.api_routes import refuse_network
from tests.isolation import build_tenant_data, tenant_model_by_kwarg

pytestmark = [pytest.mark.django_db, pytest.mark.schemathesis, pytest.mark.usefixtures("library")]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 15
REPORTED_CHARACTERS = 2_000


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The project's WSGI application, called in-process inside the test's transaction. Like Django's
    test client, it must not close the database connection at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(personas, wsgi_app, settings, monkeypatch) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """The schema bound to the WSGI app, the key's headers, and path arguments naming real objects."""
    # Hundreds of calls with one key: the limit has its own tests.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": None}}
    refuse_network(monkeypatch)
    organisation = personas.organisation
    build_tenant_data(organisation)
    key = ApiKeyFactory(organisation=organisation)
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = wsgi_app
    return loaded, {"Authorization": f"Bearer {api_secret(key)}"}, _real_path_parameters(organisation)


def _real_path_parameters(organisation: Any) -> dict[str, Any]:
    """Path arguments that name this organisation's real objects, so detail operations answer 200 and
    their bodies are checked too (404s are the isolation and scope tests' business)."""
    parameters: dict[str, Any] = {"organisation_slug": organisation.slug}
    for kwarg, model in tenant_model_by_kwarg().items():
        row = model.objects.filter(organisation=organisation).order_by("pk").first()
        if row is not None:
            parameters[kwarg] = row.pk
    framework = Framework.objects.order_by("pk").first()
    if framework is not None:
        parameters["framework_slug"] = framework.slug
        control = Control.objects.filter(framework=framework).order_by("pk").first()
        if control is not None:
            parameters.update({"control_id": control.pk, "control_ref": control.ref})
    return parameters


# Schemathesis's own pytest integration (`schemathesis.pytest.from_fixture`) relies on a pytest internal
# that pytest 9.2 removed, so each operation runs as a plain Hypothesis test here.
def test_every_operation_keeps_the_promises_of_its_schema(api_schema):
    schema, headers, path_parameters = api_schema
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        wanted = {name: value for name, value in path_parameters.items() if name in _path_names(operation)}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, mode, headers, wanted)
            except Unsatisfiable:
                continue  # nothing to make invalid: its path is fixed to real objects and it takes no input
            except (Exception, BaseExceptionGroup) as error:  # every operation's findings, reported together
                failures.append(f"{operation.label} ({mode} data): {str(error)[:REPORTED_CHARACTERS]}")
    assert operations, "the schema has no operations"
    assert not failures, "\n\n".join(failures)


def _path_names(operation: Any) -> set[str]:
    return {parameter.name for parameter in operation.path_parameters}


def _exercise(operation: Any, mode: GenerationMode, headers: dict[str, str], path_parameters: dict[str, Any]) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: report, don't minimise
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
