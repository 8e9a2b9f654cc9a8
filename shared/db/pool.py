"""The one asyncpg pool of a process."""

from __future__ import annotations

import json

import asyncpg

from shared.settings import Settings

#: Errors that mean the database cannot be used right now, not that a statement is wrong: no
#: connection (refused, reset, "the database system is starting up" or shutting down), too
#: many connections, a standby that cannot take writes (after a failover), a pool or
#: statement timeout. Callers answer "try again later" (HTTP 503) or retry.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.InterfaceError,
    # "cannot switch to state ...; another operation is in progress": a connection left
    # mid-operation when the server went away; the pool discards it, the next one works.
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)


class RawJson(bytes):
    """JSON already encoded, written to a jsonb column as it is: bulk loads encode their own
    values more cheaply than json.dumps can."""


def _jsonb_out(value: object) -> bytes:
    # jsonb's binary format: a version byte, then the text.
    if isinstance(value, RawJson):
        return b"\x01" + value
    return b"\x01" + json.dumps(value).encode()


def _jsonb_in(data: bytes) -> object:
    return json.loads(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """Every pool of ours, tests' included: jsonb read and written as Python values."""
    # Binary, so that COPY (always binary in asyncpg) can carry jsonb too.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset: pooled connections never hold session state (LISTEN, SET, advisory
    locks, cursors). asyncpg still rolls back a transaction left open; skipping its reset
    query saves a round trip on every release."""


async def create_pool(settings: Settings, *, max_size: int | None = None) -> asyncpg.Pool:
    """A pool to `VCS_DATABASE_URL` with JSON codecs installed."""
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=min(settings.db_pool_min_size, max_size or settings.db_pool_max_size),
        max_size=max_size or settings.db_pool_max_size,
        init=init_connection,
        reset=_keep_session,
        command_timeout=30,
        # Our statements are short and run again and again; PostgreSQL's JIT compiles any
        # whose estimated cost passes jit_above_cost, on every execution. The dispatcher's
        # snapshot over 3,000 running campaigns crossed it: 54 ms of compiling for 26 ms of
        # work, each pass (EXPLAIN ANALYZE). Off for every connection of ours.
        server_settings={"jit": "off"},
    )
    assert pool is not None
    return pool


async def check_database(pool: asyncpg.Pool) -> None:
    """Raise unless the database answers a trivial query."""
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1", timeout=2)
