from __future__ import annotations

import pytest

from chat.tests.fakes import FakeAIServer


@pytest.fixture(autouse=True)
def _offline_ai_by_default(settings):
    """No test reaches a real provider: keys are blank unless a test points them at the fake server."""
    settings.GEMINI_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    settings.GEMINI_BASE_URL = ""
    settings.OPENAI_BASE_URL = ""
    settings.AI_PROVIDER_ORDER = ["offline"]
    settings.AI_STORE_PROMPTS = False
    settings.AI_REQUESTS_PER_MINUTE = 0
    settings.AI_MONTHLY_TOKEN_BUDGET = 0


@pytest.fixture
def fake_ai(settings):
    """Gemini then OpenAI, both served by a local fake; tiny timeouts and waits so failures are quick."""
    server = FakeAIServer().start()
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.GEMINI_MODEL = "gemini-2.5-flash"
    settings.GEMINI_BASE_URL = server.url
    settings.OPENAI_API_KEY = "test-openai-key"
    settings.OPENAI_MODEL = "gpt-4.1-mini"
    settings.OPENAI_BASE_URL = f"{server.url}/v1"
    settings.AI_PROVIDER_ORDER = ["gemini", "openai", "offline"]
    settings.AI_TIMEOUT_SECONDS = 0.25
    settings.AI_MAX_RETRIES = 1
    settings.AI_RETRY_MAX_WAIT_SECONDS = 0.05
    settings.AI_CIRCUIT_FAILURES = 5
    settings.AI_CIRCUIT_COOLDOWN_SECONDS = 60
    yield server
    server.stop()


@pytest.fixture(scope="module")
def library(django_db_setup, django_db_blocker):
    """The real framework library, loaded once per module and emptied after it."""
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from compliance.models import Control, ControlGroup, ControlMapping, Framework
    from compliance.search import FTS_TABLE

    with django_db_blocker.unblock():
        call_command("load_frameworks", stdout=StringIO())
        yield
        ControlMapping.objects.all().delete()
        Control.objects.all().delete()
        ControlGroup.objects.all().delete()
        Framework.objects.all().delete()
        # The SQLite full-text index is a table of its own: emptied too, or later tests in this worker
        # would search rows of controls that no longer exist.
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {FTS_TABLE}")
