"""Fetching evidence objects for a request: 404 for other organisations, 403 for roles that may not act."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.access import get_tenant_object_or_404
from accounts.roles import Capability
from evidence.models import CollectionRun, Connection, Evidence, EvidenceRevision


def get_evidence_for(request: HttpRequest, pk: Any, *, capability: Capability = Capability.VIEW) -> Evidence:
    return get_tenant_object_or_404(
        request,
        Evidence.objects.select_related("owner", "current_revision", "reviewed_by", "created_by", "organisation"),
        pk,
        capability=capability,
    )


def get_revision_for(request: HttpRequest, pk: Any) -> EvidenceRevision:
    return get_tenant_object_or_404(request, EvidenceRevision.objects.select_related("evidence"), pk)


def get_connection_for(request: HttpRequest, pk: Any, *, capability: Capability = Capability.VIEW) -> Connection:
    return get_tenant_object_or_404(
        request, Connection.objects.select_related("connected_by", "organisation"), pk, capability=capability
    )


def get_run_for(request: HttpRequest, pk: Any) -> CollectionRun:
    return get_tenant_object_or_404(request, CollectionRun.objects.select_related("connection", "requested_by"), pk)
