"""Who may call: API keys on every endpoint but the public ones, and a rate limit per client."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from services.api.http.problems import problem
from services.api.http.rate_limit import Limits
from shared.db.pool import DATABASE_UNAVAILABLE
from shared.repositories.api_keys import active_key_id, hash_key

#: No key needed: health checks, the API's documentation, and the provider callbacks (which
#: are signed instead). The web console's static files are public too; its API calls are not.
PUBLIC_PREFIXES = (
    "/health",
    "/actuator/health",
    "/api/docs",
    "/api/v1/openapi.json",
    "/api/v1/calls/callback",
)
#: Not counted against any rate limit: orchestrators poll the first three, and a carrier's
#: signed callbacks (a few per call, from a handful of addresses) must never be refused for
#: pace: a carrier that gives up on one loses a result, which costs the number a retry.
UNLIMITED = ("/health", "/actuator/health", "/metrics", "/api/v1/calls/callback")

CLIENT: web.RequestKey[str] = web.RequestKey("client", str)


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or not path.startswith("/api/")


@dataclass
class _Cached:
    client: str | None
    until: float


class KeyChecker:
    """Resolves `Authorization: Bearer <key>` to a client id. Database answers are cached for a
    few seconds, so a revoked key stops working within that time."""

    def __init__(self, pool: asyncpg.Pool, static_keys: list[str], ttl_s: float = 5.0) -> None:
        self._pool = pool
        self._static = {
            hash_key(k): "key:" + hashlib.sha256(k.encode()).hexdigest()[:16] for k in static_keys
        }
        self._ttl_s = ttl_s
        self._cache: dict[bytes, _Cached] = {}

    async def client_of(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        digest = hash_key(key.strip())
        if digest in self._static:
            return self._static[digest]
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.until > now:
            return cached.client
        async with self._pool.acquire() as conn:
            key_id = await active_key_id(conn, key.strip())
        client = f"key:{key_id}" if key_id else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = _Cached(client, now + self._ttl_s)
        return client


KEYS: web.AppKey[KeyChecker] = web.AppKey("keys", KeyChecker)


@dataclass(frozen=True)
class Admission:
    """Whether a request may go on (`refusal` is None), and the rate-limit headers to add."""

    refusal: web.Response | None
    headers: dict[str, str]


async def admit(request: web.Request, limiter: Limits) -> Admission:
    """Authenticate, then rate-limit per client (per address when there is no valid key)."""
    path = request.path
    if path.startswith(UNLIMITED):
        return Admission(None, {})
    try:
        client = None if is_public(path) else await request.app[KEYS].client_of(request)
    except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE):
        refusal = problem(503, "temporarily-unavailable", "cannot check the API key; try again")
        return Admission(refusal, {})
    identity = client or f"ip:{request.remote}"
    decision = await limiter.take(identity)
    headers = decision.headers()
    if not decision.allowed:
        detail = f"too many requests; try again in {decision.retry_after_s} s"
        return Admission(problem(429, "rate-limited", detail, headers=headers), {})
    if client is None and not is_public(path):
        refusal = problem(
            401,
            "unauthorized",
            "an API key is required: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="voice-campaign-service"'},
        )
        return Admission(refusal, headers)
    request[CLIENT] = identity
    return Admission(None, headers)
