"""The OpenAPI schema (`/api/schema/`) and its readable docs page (`/api/docs/`), open to everyone: they
describe the API, they hold no data."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny

schema = SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[])
docs = SpectacularRedocView.as_view(url_name="api_schema", permission_classes=[AllowAny], authentication_classes=[])
