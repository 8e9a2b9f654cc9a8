"""Standard Webhooks signatures (https://www.standardwebhooks.com), made with the
specification's reference library."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook


def signature_header(secrets: Sequence[str], msg_id: str, at: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per secret
    (several during a rotation), space-separated."""
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)


def headers(secrets: Sequence[str], msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The headers of one delivery; `at` is when this request is made (UTC)."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, at, body),
    }
