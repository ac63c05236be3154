"""What the orchestrator tells the simulated users: who they can sign in as, and how to pace questions.

Written as JSON by `config.load.run` and read by the locustfile, which runs in Locust's own process
without Django, so this module imports nothing from the project.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

# The environment variable naming the plan file for the locustfile.
PLAN_ENV = "GREENLIGHT_LOAD_PLAN"
# The environment variables naming the files the locustfile writes: the results (config/load/report.py)
# and the first response of each kind of failure.
RESULTS_ENV = "GREENLIGHT_LOAD_RESULTS"
SAMPLES_ENV = "GREENLIGHT_LOAD_SAMPLES"


@dataclass(frozen=True)
class Account:
    """A seeded organisation's owner, and the organisation's read-only API key."""

    email: str
    password: str
    organisation: str
    api_key: str
    frameworks: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    accounts: tuple[Account, ...]
    # Seconds a simulated user leaves between two questions to the assistant, so that the people
    # sharing an organisation stay inside its questions-per-minute limit (see run.question_interval).
    question_interval: float
    # How many people may be signing in at the same moment (see the locustfile's `sign_in_gate`): the
    # orchestrator allows one for each gunicorn worker.
    sign_ins_at_once: int = 1
    # Seconds one request may take before it counts as failed.
    request_timeout: float = 60.0
    # Seconds a policy draft may take in the worker before the journey gives up on it.
    job_timeout: float = 120.0

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Plan:
        raw = json.loads(path.read_text(encoding="utf-8"))
        accounts = tuple(
            Account(**{**account, "frameworks": tuple(account["frameworks"])}) for account in raw.pop("accounts")
        )
        return cls(accounts=accounts, **raw)
