"""Connector tokens encrypted at rest (config.encryption: Fernet under CONNECTOR_TOKEN_KEYS, the first
key encrypts and every one decrypts, so keys rotate with `rotate_connector_tokens`)."""

from __future__ import annotations

from cryptography.fernet import InvalidToken

from config.encryption import Unreadable, decrypt_text, encrypt_text, fernet
from evidence.connectors.base import TokenSet


class TokensUnreadable(Exception):
    """Stored tokens cannot be decrypted with the configured keys (a key was removed too early)."""


def encrypt_tokens(tokens: TokenSet) -> str:
    return encrypt_text(tokens.to_json())


def decrypt_tokens(ciphertext: str) -> TokenSet:
    try:
        return TokenSet.from_json(decrypt_text(ciphertext))
    except (Unreadable, ValueError, KeyError) as error:
        raise TokensUnreadable("The stored connection tokens cannot be read with the configured keys.") from error


def reencrypt(ciphertext: str) -> str:
    """The same tokens under the first (newest) key."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise TokensUnreadable("The stored connection tokens cannot be read with the configured keys.") from error
