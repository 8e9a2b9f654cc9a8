"""SQL of the live event stream (GET /api/v1/events): the events of the outbox in commit
order, after a cursor, and the interest that keeps events written while a stream may want
them (docs/webhooks.md, migration 0018).

A cursor is an event's (transaction, position). Only events of transactions older than
every transaction still running are read (`pg_snapshot_xmin`): none can commit behind the
cursor afterwards, so a reader that moves its cursor over what it read misses nothing. An
event is streamed once its body is rendered (the deliverer renders it within a poll
interval); the read stops at the first one not yet rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the stream: after the event of this transaction and position."""

    xact_id: int
    position: int


@dataclass(frozen=True)
class StreamedEvent:
    cursor: Cursor
    id: UUID
    type: str
    #: The rendered body, exactly as webhooks send it.
    body: str


async def keep_interest(conn: asyncpg.Connection, until: datetime) -> None:
    """Have events written until at least `until`."""
    await conn.execute(
        """
        INSERT INTO event_stream_interest (until) VALUES ($1)
        ON CONFLICT (only_row) DO UPDATE SET until = greatest(event_stream_interest.until, $1)
        """,
        until,
    )


async def current_cursor(conn: asyncpg.Connection) -> Cursor:
    """The cursor of "from now on": before every transaction still running."""
    xmin = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return Cursor(int(xmin) - 1, 2**63 - 1)


async def cursor_of(conn: asyncpg.Connection, event_id: UUID) -> Cursor | None:
    """The cursor just after this event, if it is still kept."""
    row = await conn.fetchrow(
        "SELECT xact_id::text::bigint AS xact_id, position FROM webhook_events WHERE id = $1",
        event_id,
    )
    return Cursor(row["xact_id"], row["position"]) if row else None


@dataclass(frozen=True)
class StreamRead:
    #: The events wanted, in commit order.
    events: list[StreamedEvent]
    #: Where the next read starts: past every event read, wanted or not.
    cursor: Cursor
    #: How many events the read moved over (a full batch: read again at once).
    scanned: int


async def events_after(
    conn: asyncpg.Connection,
    after: Cursor,
    *,
    campaign_id: UUID | None,
    types: list[str] | None,
    limit: int,
) -> StreamRead:
    """Up to `limit` events after `after` of finished transactions, in commit order; those
    of the campaign (and its calls) and of the types asked for (None: every one) returned
    whole. The read stops before the first event not yet rendered."""
    rows = await conn.fetch(
        """
        SELECT xact_id::text::bigint AS xact_id, position, id, type, body IS NOT NULL AS ready,
               CASE WHEN ($3::uuid IS NULL OR campaign_id = $3)
                     AND ($4::text[] IS NULL OR type = ANY($4))
                     AND type <> 'webhook.test'
                    THEN body END AS body
        FROM webhook_events
        WHERE (xact_id, position) > ($1::text::xid8, $2)
          AND xact_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY xact_id, position
        LIMIT $5
        """,
        str(after.xact_id),
        after.position,
        campaign_id,
        types,
        limit,
    )
    events = []
    cursor = after
    scanned = 0
    for r in rows:
        if not r["ready"]:  # what follows waits for it
            break
        scanned += 1
        cursor = Cursor(r["xact_id"], r["position"])
        if r["body"] is not None:
            events.append(StreamedEvent(cursor, r["id"], r["type"], r["body"]))
    return StreamRead(events, cursor, scanned)
