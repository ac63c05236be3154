"""Absolute links in API responses: partners follow them as they are, so they carry the scheme and host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse


def absolute(context: Mapping[str, Any], path: str) -> str:
    """`path` made absolute with the serializer context's request (left as it is without one)."""
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def absolute_reverse(context: Mapping[str, Any], name: str, **kwargs: Any) -> str:
    return absolute(context, reverse(name, kwargs=kwargs))
