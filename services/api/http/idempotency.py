"""Idempotency-Key: a retried request returns the first answer and creates nothing twice.

The key's row is written in the same transaction as the request's own writes. A concurrent
retry therefore waits on the row's unique index until the first request commits (and then
replays its answer) or rolls back (and then runs itself): exactly one of them acts. Requests
that fail with an error commit nothing, so a retry runs again. Keys are kept for 24 hours
(the dispatcher forgets older ones).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from services.api.http.access import CLIENT
from shared.errors import InvalidInput
from shared.repositories.idempotency_keys import claim_key, fetch_answer, record_answer

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any
    location: str | None

    def response(self) -> web.Response:
        headers = {"Idempotent-Replayed": "true"}
        if self.location:
            headers["Location"] = self.location
        return web.Response(
            status=self.status,
            text=json.dumps(self.body),
            content_type="application/json",
            headers=headers,
        )


@dataclass(frozen=True)
class Claim:
    """This request owns the key: record its answer before the transaction commits."""

    conn: asyncpg.Connection
    client: str
    key: str

    async def record(self, status: int, body: Any, location: str | None = None) -> None:
        await record_answer(self.conn, self.client, self.key, status, body, location)


async def begin(
    conn: asyncpg.Connection, request: web.Request, raw_body: bytes
) -> Claim | Replay | None:
    """Inside the request's transaction: None without the header, a Replay of the first answer,
    or a Claim on the key. InvalidInput if the key was used for a different request."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise _key_error(f"must be 1 to {MAX_KEY_LENGTH} characters")
    client = request[CLIENT]
    fingerprint = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + raw_body
    ).digest()
    if await claim_key(conn, client, key, fingerprint):
        return Claim(conn, client, key)
    row = await fetch_answer(conn, client, key)
    if row["request_hash"] != fingerprint:
        raise _key_error("was already used for a different request")
    return Replay(row["status"], row["response"], row["location"])


def _key_error(message: str) -> InvalidInput:
    return InvalidInput(f"{HEADER} {message}", errors=[{"field": HEADER, "message": message}])
