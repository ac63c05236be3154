"""List filters shared by the admin's review queues."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

ALL = "all"


class StatusQueueFilter(admin.SimpleListFilter):
    """Status, opening on the queue itself (`awaiting`) rather than on everything; "All" shows the rest."""

    title = "status"
    parameter_name = "status"
    statuses: ClassVar[type[models.TextChoices]]
    awaiting: ClassVar[str]
    awaiting_label: ClassVar[str]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        others = [(value, label) for value, label in self.statuses.choices if value != self.awaiting]
        return [(self.awaiting, self.awaiting_label), (ALL, "All"), *others]

    def _chosen(self) -> str:
        return self.value() or self.awaiting

    def choices(self, changelist: Any) -> Iterator[Any]:
        for value, label in self.lookup_choices:
            yield {
                "selected": self._chosen() == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self._chosen()
        if chosen == ALL or chosen not in self.statuses.values:
            return queryset
        return queryset.filter(status=chosen)
