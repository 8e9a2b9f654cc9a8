"""HMAC-SHA256 signatures of callback bodies, as the mock carrier makes and the api checks."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex digest>` of `body` keyed by `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` signs `body`; the `sha256=` prefix may be left out."""
    if not header:
        return False
    given = header.strip().removeprefix("sha256=")
    expected = sign(secret, body).removeprefix("sha256=")
    return hmac.compare_digest(given.lower(), expected)
