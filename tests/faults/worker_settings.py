"""Settings for a Celery worker started by a fault test: the project's own, with the evidence connectors'
endpoints pointed at the test's local fakes and the tasks the worker enqueues itself kept on the test's
private queue. Neither is an environment variable in the product (a deployment's connectors cannot be
pointed elsewhere by its environment), so the test passes them in GREENLIGHT_TEST_* variables.
"""

from __future__ import annotations

import json
import os

from config.settings import *  # noqa: F403
from config.settings import EVIDENCE_CONNECTORS

EVIDENCE_CONNECTORS = {**EVIDENCE_CONNECTORS, **json.loads(os.environ.get("GREENLIGHT_TEST_CONNECTORS", "{}"))}
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("GREENLIGHT_TEST_QUEUE", "celery")
