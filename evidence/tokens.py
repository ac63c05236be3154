"""Connector tokens encrypted at rest with Fernet (AES-128-CBC with HMAC-SHA256).

Keys come from `settings.CONNECTOR_TOKEN_KEYS`: the first encrypts, every one decrypts, so a new key is
put first and the old one kept until `rotate_connector_tokens` has re-encrypted everything. Outside
production, with no keys set, a key is derived from SECRET_KEY so a fresh checkout just works.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from evidence.connectors.base import TokenSet


class TokensUnreadable(Exception):
    """Stored tokens cannot be decrypted with the configured keys (a key was removed too early)."""


def _fernet() -> MultiFernet:
    keys = list(settings.CONNECTOR_TOKEN_KEYS)
    if not keys:
        derived = hashlib.sha256(f"greenlight-connector-tokens:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt_tokens(tokens: TokenSet) -> str:
    return _fernet().encrypt(tokens.to_json().encode()).decode()


def decrypt_tokens(ciphertext: str) -> TokenSet:
    try:
        return TokenSet.from_json(_fernet().decrypt(ciphertext.encode()).decode())
    except (InvalidToken, ValueError, KeyError) as error:
        raise TokensUnreadable("The stored connection tokens cannot be read with the configured keys.") from error


def reencrypt(ciphertext: str) -> str:
    """The same tokens under the first (newest) key."""
    return _fernet().rotate(ciphertext.encode()).decode()
