"""The built-in provider: no network, no model. Each feature supplies its own deterministic drafter
(templates, the control library); this runs it and the gateway validates the result like any other."""

from __future__ import annotations

from chat.ai.task import AITask, JSONObject

NAME = "offline"
MODEL = "offline"


class OfflineUnavailable(Exception):
    """The task has no offline drafter."""


def generate(task: AITask) -> JSONObject:
    if task.offline is None:
        raise OfflineUnavailable("this task has no offline answer")
    return task.offline()
