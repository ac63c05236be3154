"""URL arguments of the SMB journey that are not tenant object ids."""

from __future__ import annotations

from accounts.models import Organisation
from assessments.models import FrameworkAdoption
from compliance.models import Control


def _onboarding_step(organisation: Organisation) -> str:
    return "company"


def _adopted_control(organisation: Organisation) -> int:
    """A control of a framework the other organisation adopted: answering it must not touch that organisation."""
    adoption = FrameworkAdoption.objects.filter(organisation=organisation).order_by("pk").first()
    control = Control.objects.filter(framework_id=adoption.framework_id).order_by("pk").first() if adoption else None
    return control.pk if control else 0


KWARG_RESOLVERS = {"step": _onboarding_step, "control_id": _adopted_control}
