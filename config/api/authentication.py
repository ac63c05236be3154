"""API keys in the `Authorization: Bearer glk_...` header, and nowhere else."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.services_api import KEY_MARK, api_key_touch, key_matching

QUERY_KEY_NAMES = ("api_key", "apikey", "key", "token", "access_token")


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates a request carrying a Greenlight API key; `request.auth` is the ApiKey.

    A key has no user: `request.user` stays anonymous, and what the key may do comes from its scopes
    (config.api.access). A key in the query string is refused outright, so it never lands in logs.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        for name in QUERY_KEY_NAMES:
            if str(request.query_params.get(name, "")).startswith(KEY_MARK):
                raise exceptions.AuthenticationFailed(
                    "API keys go in the Authorization header, never in the URL. Revoke this key: it may "
                    "have been logged."
                )
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("That is not a Greenlight API key.") from None
        key = key_matching(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("That API key is not recognised.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("That API key has been revoked.")
        if key.is_expired:
            raise exceptions.AuthenticationFailed("That API key has expired.")
        if key.partner_id and not key.partner.is_active:  # type: ignore[union-attr]
            raise exceptions.AuthenticationFailed("That partner's API access has been suspended.")
        api_key_touch(key)
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
