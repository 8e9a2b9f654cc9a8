"""API keys: created once (the plaintext is shown then and never stored), listed, revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

KEY_PREFIX = "vcs_"


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


async def create_key(conn: asyncpg.Connection, name: str) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which only the caller will ever see."""
    key = new_key()
    row = await conn.fetchrow(
        "INSERT INTO api_keys (id, name, prefix, key_hash) VALUES ($1, $2, $3, $4)"
        " RETURNING id, name, prefix, created_at, revoked_at",
        uuid4(),
        name,
        key[: len(KEY_PREFIX) + 6],
        hash_key(key),
    )
    return ApiKey(**dict(row)), key


async def list_keys(conn: asyncpg.Connection) -> list[ApiKey]:
    rows = await conn.fetch(
        "SELECT id, name, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at"
    )
    return [ApiKey(**dict(r)) for r in rows]


async def revoke_key(conn: asyncpg.Connection, id_or_prefix: str) -> int:
    """Revoke the key with this id or prefix; how many keys were revoked."""
    result = await conn.execute(
        "UPDATE api_keys SET revoked_at = now()"
        " WHERE revoked_at IS NULL AND (id::text = $1 OR prefix = $1)",
        id_or_prefix,
    )
    return int(result.split()[-1])


async def active_key_id(conn: asyncpg.Connection, key: str) -> UUID | None:
    """The id of the active key `key`, or None."""
    value: UUID | None = await conn.fetchval(
        "SELECT id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key)
    )
    return value
