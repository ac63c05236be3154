"""Requests to act ("draft a breach policy", "add a task to enable MFA") become proposals.

The assistant never acts by itself: a proposal is stored on the answer and runs only when the member
confirms it with a button. Proposals come from the member's own question, read by code, never from the
model's output or from the documents retrieved.
"""

from __future__ import annotations

from typing import Any

from accounts.models import Organisation


def proposal_for(question: str, *, organisation: Organisation) -> dict[str, Any] | None:
    """The action the question asks for, or None when it only asks for information."""
    return None
