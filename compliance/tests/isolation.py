"""The library is shared by every organisation: its URL arguments name library rows, not tenant data."""

from __future__ import annotations

from accounts.models import Organisation
from compliance.models import Control, Framework


def _framework_slug(organisation: Organisation) -> str:
    framework = Framework.objects.order_by("pk").first()
    return framework.slug if framework else "no-framework"


def _control_ref(organisation: Organisation) -> str:
    control = Control.objects.select_related("framework").order_by("pk").first()
    return control.ref if control else "no-control"


KWARG_RESOLVERS = {"framework_slug": _framework_slug, "control_ref": _control_ref}
