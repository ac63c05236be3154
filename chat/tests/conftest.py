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
