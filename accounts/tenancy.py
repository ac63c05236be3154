"""Tenancy by construction.

Every model that holds an organisation's data inherits `TenantModel`: a non-null, indexed
`organisation` foreign key. `tenant_models()` lists them, so the isolation test and the factories
check covers every one without anybody remembering to add it.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models


class TenantQuerySet(models.QuerySet):
    def for_organisation(self, organisation: models.Model) -> TenantQuerySet:
        return self.filter(organisation=organisation)


class TenantModel(models.Model):
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=True,
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


def tenant_models() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if issubclass(model, TenantModel)]
