"""What the api, the worker's twilio provider and the mock share of Twilio's protocol: where
status callbacks go, and how they are signed.

The signature is HMAC-SHA1 over the full URL followed by the POST parameters sorted by name
(each name then its value), keyed by the account's auth token, in base64. The api checks it
on status callbacks and the mock carrier signs its callbacks with it; the tests hold both to
the official `twilio` package's RequestValidator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

SIGNATURE_HEADER = "X-Twilio-Signature"
#: The api's endpoint for Twilio's status callbacks, which the twilio provider hands the
#: carrier (behind VCS_PUBLIC_BASE_URL).
CALLBACK_PATH = "/api/v1/calls/callback/twilio"


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature of a form POST of `params` to `url`; a name given twice signs each value
    (sorted), as Twilio does."""
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    payload = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _with_and_without_port(url: str) -> set[str]:
    """Twilio signs some URLs with the default port and some without: accept either."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        bare = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])
        return {url, urlunsplit(bare)}
    default = 443 if parts.scheme == "https" else 80
    return {url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))} if host else {url}


def is_valid_twilio_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    if not signature:
        return False
    items = list(params)
    return any(
        hmac.compare_digest(twilio_signature(auth_token, candidate, items), signature.strip())
        for candidate in _with_and_without_port(url)
    )
