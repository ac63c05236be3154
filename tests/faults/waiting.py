"""Waiting on a real worker subprocess: poll a condition, and fail with the worker's log if it dies or is slow."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Protocol

import pytest


class WorkerProcess(Protocol):
    process: subprocess.Popen[bytes]

    def log(self) -> str: ...


def wait_for(
    condition: Callable[[], object], what: str, worker: WorkerProcess, *, timeout: float, poll: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.process.poll() is not None:
            pytest.fail(f"The worker exited while waiting for {what}. Worker log:\n{worker.log()}")
        time.sleep(poll)
    pytest.fail(f"Timed out waiting for {what}. Worker log:\n{worker.log()}")
