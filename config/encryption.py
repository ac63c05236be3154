"""Secrets encrypted at rest with Fernet (AES-128-CBC with HMAC-SHA256): connector tokens, webhook
signing secrets.

Keys come from `settings.CONNECTOR_TOKEN_KEYS`: the first encrypts, every one decrypts, so a new key is
put first and the old one kept until everything has been re-encrypted. Outside production, with no
keys set, a key is derived from SECRET_KEY so a fresh checkout just works.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class Unreadable(Exception):
    """Stored ciphertext cannot be decrypted with the configured keys (a key was removed too early)."""


def fernet() -> MultiFernet:
    keys = list(settings.CONNECTOR_TOKEN_KEYS)
    if not keys:
        derived = hashlib.sha256(f"greenlight-connector-tokens:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt_text(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt_text(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise Unreadable("The stored secret cannot be read with the configured keys.") from error
