"""Endpoint secrets: made in the Standard Webhooks format, stored encrypted.

The encryption is `cryptography`'s Fernet (AES-128-CBC with HMAC-SHA256, authenticated)
under the operator's VCS_WEBHOOK_SECRET_KEY; several comma-separated keys make a MultiFernet,
so the operator can rotate the key (the first encrypts, every one decrypts). A database dump
alone reveals no secret; the key lives only in the api's environment.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.errors import TransientError

PREFIX = "whsec_"
#: 32 random bytes: the HMAC-SHA256 key size.
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh secret: `whsec_` and the base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretsUnavailable(TransientError):
    """The api has no VCS_WEBHOOK_SECRET_KEY (or not the one the secrets were stored with)."""

    code = "webhook-secret-key-missing"


class SecretBox:
    """Encrypts and decrypts endpoint secrets with the operator's key(s)."""

    def __init__(self, keys: SecretStr | None) -> None:
        parts = [k.strip() for k in keys.get_secret_value().split(",")] if keys else []
        self._fernet = MultiFernet([Fernet(k) for k in parts if k]) if any(parts) else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def encrypt(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._box().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretsUnavailable(
                "a webhook secret cannot be decrypted with VCS_WEBHOOK_SECRET_KEY"
            ) from exc

    def _box(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsUnavailable(
                "webhooks need VCS_WEBHOOK_SECRET_KEY (a Fernet key) on the api"
            )
        return self._fernet
