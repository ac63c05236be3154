"""Cursor pagination for every API list: stable under inserts, constant cost however deep the page."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` with the id as a tie-breaker: the cursor stands on the first field only, so rows sharing
    a title or a date must come in a fixed order or a page boundary could skip or repeat them. Use it in a
    view's `filter_backends` in place of DRF's OrderingFilter."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> list[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return None
        terms = list(ordering)
        if not any(term.lstrip("-") in ("id", "pk") for term in terms):
            terms.append("-id" if terms[0].startswith("-") else "id")
        return terms
