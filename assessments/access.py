"""Fetching the SMB journey's objects for a request: 404 for other organisations, 403 for roles."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from accounts.access import get_tenant_object_or_404, require_membership
from accounts.roles import Capability
from assessments.models import FrameworkAdoption, PlanTask, ReportRun, ReportSchedule
from compliance.models import Control, Framework


def get_adoption_for(request: HttpRequest, pk: Any, *, write: bool = False) -> FrameworkAdoption:
    return get_tenant_object_or_404(
        request,
        FrameworkAdoption.objects.select_related("framework"),
        pk,
        capability=Capability.EDIT if write else Capability.VIEW,
    )


def get_task_for(request: HttpRequest, pk: Any, *, write: bool = False) -> PlanTask:
    return get_tenant_object_or_404(
        request,
        PlanTask.objects.select_related("owner").prefetch_related("controls__framework"),
        pk,
        capability=Capability.EDIT if write else Capability.VIEW,
    )


def get_adopted_framework_for(request: HttpRequest, slug: str) -> FrameworkAdoption:
    """The organisation's adoption of a framework: a framework it has not adopted is a 404 here."""
    membership = require_membership(request)
    adoption = (
        FrameworkAdoption.objects.select_related("framework")
        .filter(organisation_id=membership.organisation_id, framework__slug=slug)
        .first()
    )
    if adoption is None:
        raise Http404("Your organisation has not adopted this framework.")
    return adoption


def get_assessable_control_for(request: HttpRequest, pk: Any, *, write: bool = False) -> Control:
    """A live, assessable control of a framework the organisation has adopted; anything else is a 404."""
    membership = require_membership(request)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such control.") from None
    control = (
        Control.objects.live()
        .select_related("framework", "group")
        .filter(
            pk=pk,
            assessable=True,
            framework__in=Framework.objects.filter(
                pk__in=FrameworkAdoption.objects.filter(organisation_id=membership.organisation_id).values(
                    "framework_id"
                )
            ),
        )
        .first()
    )
    if control is None:
        raise Http404("This control is not part of a framework your organisation has adopted.")
    # Existence is settled before permission, so a 403 never confirms anything about other data.
    if write:
        require_membership(request, Capability.EDIT)
    return control


def get_report_for(request: HttpRequest, pk: Any) -> ReportRun:
    return get_tenant_object_or_404(request, ReportRun.objects.select_related("requested_by"), pk)


def get_schedule_for(request: HttpRequest, pk: Any) -> ReportSchedule:
    """Only those who may edit reach a schedule's own pages; everyone sees the list on /reports/."""
    return get_tenant_object_or_404(
        request, ReportSchedule.objects.select_related("organisation"), pk, capability=Capability.EDIT
    )
