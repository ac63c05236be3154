"""Fetching policy objects for a request: 404 for other organisations, 403 for roles that may not act."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.access import get_tenant_object_or_404
from accounts.roles import Capability
from policies.models import GenerationJob, Policy, PolicyVersion


def get_policy_for(request: HttpRequest, pk: Any, *, capability: Capability = Capability.VIEW) -> Policy:
    return get_tenant_object_or_404(request, Policy.objects.select_related("owner"), pk, capability=capability)


def get_version_for(request: HttpRequest, pk: Any, *, write: bool = False) -> PolicyVersion:
    return get_tenant_object_or_404(
        request,
        PolicyVersion.objects.select_related("policy", "approved_by", "created_by"),
        pk,
        capability=Capability.EDIT if write else Capability.VIEW,
    )


def get_job_for(request: HttpRequest, pk: Any, *, write: bool = False) -> GenerationJob:
    return get_tenant_object_or_404(
        request,
        GenerationJob.objects.select_related("policy"),
        pk,
        capability=Capability.EDIT if write else Capability.VIEW,
    )
