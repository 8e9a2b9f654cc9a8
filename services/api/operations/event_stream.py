"""The live event stream: where a client starts (now, or after the event it last saw) and
the events that follow, as their transactions commit (docs/webhooks.md)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from shared.errors import Gone, NotFound
from shared.repositories import event_stream as repo
from shared.repositories.campaigns import campaign_exists
from shared.repositories.event_stream import Cursor, StreamedEvent

#: Events read per statement.
STREAM_BATCH = 500
#: How often a connected stream renews the interest that keeps events written.
INTEREST_RENEWAL_S = 60.0


@dataclass(frozen=True)
class StreamFilter:
    #: Only this campaign's events and its calls' (None: all).
    campaign_id: UUID | None
    #: Only events of these types (None: all).
    types: list[str] | None


async def start(
    pool: asyncpg.Pool, wanted: StreamFilter, last_event_id: UUID | None, retention: timedelta
) -> Cursor:
    """Where a stream starts: after `last_event_id`, else from now on. Events are written
    from now until a retention period after the client leaves, so it can come back."""
    async with pool.acquire() as conn:
        if wanted.campaign_id is not None and not await campaign_exists(conn, wanted.campaign_id):
            raise NotFound(f"no campaign with id {wanted.campaign_id}")
        await repo.keep_interest(conn, datetime.now(UTC) + retention)
        if last_event_id is None:
            return await repo.current_cursor(conn)
        cursor = await repo.cursor_of(conn, last_event_id)
    if cursor is None:
        raise Gone(
            f"event {last_event_id} is not kept (past the retention period, or never"
            " existed): connect without Last-Event-ID to follow from now on"
        )
    return cursor


async def follow(
    pool: asyncpg.Pool,
    cursor: Cursor,
    wanted: StreamFilter,
    *,
    poll_s: float,
    retention: timedelta,
    stop: asyncio.Event,
) -> AsyncIterator[list[StreamedEvent]]:
    """Batches of events after `cursor`, in commit order, until `stop` is set; an empty
    batch after each poll that found nothing. A connection is held only for each read."""
    renewed = time.monotonic()
    while not stop.is_set():
        async with pool.acquire() as conn:
            if time.monotonic() - renewed >= INTEREST_RENEWAL_S:
                await repo.keep_interest(conn, datetime.now(UTC) + retention)
                renewed = time.monotonic()
            read = await repo.events_after(
                conn,
                cursor,
                campaign_id=wanted.campaign_id,
                types=wanted.types,
                limit=STREAM_BATCH,
            )
        cursor = read.cursor
        yield read.events
        if read.scanned < STREAM_BATCH:
            # asyncio.timeout, not wait_for (which can swallow a cancellation on 3.11).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await stop.wait()
