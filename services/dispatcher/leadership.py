"""One active dispatcher: the holder of a PostgreSQL advisory lock. Standbys wait for it."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import asyncpg
import structlog

from shared.db.pool import DATABASE_UNAVAILABLE
from shared.waits import wait_until_set

log = structlog.get_logger()

LOCK_KEY = 0x7663_735F_6469  # "vcs_di"


class Leadership:
    """Holds the advisory lock on a dedicated connection; `lost` is set if that connection dies,
    because the lock dies with it."""

    def __init__(self, database_url: str, retry_interval_s: float) -> None:
        self._database_url = database_url
        self._retry_interval_s = retry_interval_s
        self._conn: asyncpg.Connection | None = None
        self.lost = asyncio.Event()
        self._holding = False

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lock now: not once its connection has died, even
        while the pass under way finishes (by then another dispatcher may hold it)."""
        return self._holding and not self.lost.is_set()

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this process holds the lock (True) or `stop` is set (False)."""
        while not stop.is_set():
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self._database_url)
                if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                    self.lost.clear()
                    self._conn.add_termination_listener(lambda _: self.lost.set())
                    self._holding = True
                    log.info("became the active dispatcher")
                    return True
            except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE) as exc:
                log.warning("cannot reach the database for leadership", error=repr(exc))
                await self._drop_connection()
            await wait_until_set(stop, self._retry_interval_s)
        return False

    async def watch(self) -> None:
        """Return when the lock's connection stops answering."""
        while not self.lost.is_set():
            try:
                assert self._conn is not None
                await self._conn.fetchval("SELECT 1", timeout=2)
            except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE, AssertionError) as exc:
                log.error("lost the leadership connection", error=repr(exc))
                self.lost.set()
                break
            await wait_until_set(self.lost, 1.0)

    async def release(self) -> None:
        self._holding = False
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                await self._conn.close(timeout=2)
        self._conn = None
