"""Content negotiation for views that answer with a file (downloads, exports).

Their success is the file itself, whatever `Accept` says, and their errors are problem+json. DRF's
default negotiation would refuse `Accept: application/pdf` (406) and read `?format=pdf` as a renderer
name (404), so these views skip it and always render errors with the first renderer (JSON).
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FileResponseNegotiation(BaseContentNegotiation):
    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type or "application/json"
