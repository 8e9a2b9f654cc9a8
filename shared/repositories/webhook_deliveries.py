"""SQL of the deliverer: fan events out to endpoints, claim due deliveries, record what each
request did, and forget old events. Safe with deliverers in several api replicas: work is
taken with FOR UPDATE SKIP LOCKED, and a claimed delivery is leased (its next_attempt_at moved
past the request's timeout), so a deliverer that dies leaves it due again, never lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from shared.domain.webhook_events import EVERY_EVENT, EventType
from shared.repositories.calls import CALL_COLUMNS
from shared.repositories.campaigns import COLUMNS as CAMPAIGN_COLUMNS
from shared.repositories.outbox import STREAMED

#: The events to fan out, oldest first, locked so that another deliverer takes the next ones.
_EVENTS_TO_FAN_OUT = """
    SELECT position, id, type, call_id, campaign_id, sequence, payload::text AS payload,
           created_at
    FROM webhook_events WHERE fanned_out_at IS NULL
    ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED
"""

#: The calls as the events captured them, with what the API shows beside a call row (the
#: campaign's kind, the zone group): exactly GET /api/v1/calls/{id}'s columns.
_CALL_SNAPSHOTS = f"""
    SELECT c.position, {CALL_COLUMNS}
    FROM (
        SELECT e.position, s.* FROM webhook_events e,
            jsonb_populate_record(NULL::calls, e.payload -> 'call') s
        WHERE e.position = ANY($1::bigint[]) AND e.payload ? 'call'
    ) c
    LEFT JOIN campaigns k ON k.id = c.campaign_id
    LEFT JOIN zone_groups z ON z.id = c.zone_group_id
"""

_ATTEMPT_SNAPSHOTS = """
    SELECT e.position, a.* FROM webhook_events e,
        jsonb_populate_record(NULL::call_attempts, e.payload -> 'attempt') a
    WHERE e.position = ANY($1::bigint[]) AND e.payload ? 'attempt'
"""

_CAMPAIGN_SNAPSHOTS = f"""
    SELECT position, {CAMPAIGN_COLUMNS} FROM (
        SELECT e.position, s.* FROM webhook_events e,
            jsonb_populate_record(NULL::campaigns, e.payload -> 'campaign') s
        WHERE e.position = ANY($1::bigint[]) AND e.payload ? 'campaign'
    ) k
"""

#: Store each event's body and give it to every enabled endpoint that subscribed to it and
#: existed when it happened (an endpoint hears of what happens from its creation on). The
#: first deliveries of each endpoint, up to its room in the deliverer ($2, else $3), are
#: created claimed (leased until $4, their first attempt counted): the deliverer sends them
#: at once, without claiming them in another statement.
_FAN_OUT = f"""
    WITH rendered AS (
        SELECT * FROM json_to_recordset($1::json) AS r(position bigint, body text)
    ), event AS (
        UPDATE webhook_events e SET body = r.body, fanned_out_at = now()
        FROM rendered r WHERE e.position = r.position
        RETURNING e.id, e.type, e.created_at, e.position, e.body
    ), room AS (
        SELECT * FROM json_to_recordset($2::json) AS b(endpoint_id uuid, slots int)
    ), endpoint AS (
        -- Locked for the deliveries' foreign key: an endpoint deleted meanwhile drops out
        -- here instead of failing the statement.
        SELECT id, events, created_at FROM webhook_endpoints WHERE enabled FOR KEY SHARE
    ), wanted AS (
        SELECT w.id AS endpoint_id, e.id AS event_id,
               row_number() OVER (PARTITION BY w.id ORDER BY e.position)
                 <= coalesce((SELECT slots FROM room WHERE room.endpoint_id = w.id), $3)
                 AS taken
        FROM event e
        JOIN endpoint w ON w.events && ARRAY[e.type, '{EVERY_EVENT}']
          AND w.created_at <= e.created_at
    ), delivery AS (
        INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, retry_since,
                                        attempt_count)
        SELECT endpoint_id, event_id, CASE WHEN taken THEN $4 ELSE now() END, now(),
               CASE WHEN taken THEN 1 ELSE 0 END
        FROM wanted
        ON CONFLICT DO NOTHING
        RETURNING id, endpoint_id, event_id, attempt_count, retry_since
    )
    SELECT d.id, d.endpoint_id, d.event_id, d.attempt_count, d.retry_since, e.body,
           w.url, w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_until
    FROM delivery d
    JOIN event e ON e.id = d.event_id
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
"""


@dataclass(frozen=True)
class EventToFanOut:
    position: int
    id: UUID
    type: str
    sequence: int
    created_at: datetime
    payload: dict[str, Any]
    call: asyncpg.Record | None
    attempt: asyncpg.Record | None
    campaign: asyncpg.Record | None


async def lock_events_to_fan_out(conn: asyncpg.Connection, limit: int) -> list[EventToFanOut]:
    """The oldest events not yet fanned out (locked until the transaction ends), each with
    its subject's rows as the change left them. Call inside a transaction."""
    events = await conn.fetch(_EVENTS_TO_FAN_OUT, limit)
    if not events:
        return []
    positions = [e["position"] for e in events]
    calls = {r["position"]: r for r in await conn.fetch(_CALL_SNAPSHOTS, positions)}
    attempts = {r["position"]: r for r in await conn.fetch(_ATTEMPT_SNAPSHOTS, positions)}
    campaigns = {r["position"]: r for r in await conn.fetch(_CAMPAIGN_SNAPSHOTS, positions)}
    return [
        EventToFanOut(
            position=e["position"],
            id=e["id"],
            type=e["type"],
            sequence=e["sequence"],
            created_at=e["created_at"],
            payload=json.loads(e["payload"]),
            call=calls.get(e["position"]),
            attempt=attempts.get(e["position"]),
            campaign=campaigns.get(e["position"]),
        )
        for e in events
    ]


async def fan_out(
    conn: asyncpg.Connection,
    bodies: Mapping[int, str],
    *,
    room: Mapping[UUID, int],
    default_room: int,
    lease_until: datetime,
) -> tuple[int, list[DueDelivery]]:
    """Store the rendered bodies (by event position) and create the deliveries: how many,
    and those created claimed for the caller (up to `room[endpoint]`, else `default_room`,
    of each endpoint), leased until `lease_until`."""
    rows = [{"position": p, "body": b} for p, b in bodies.items()]
    slots = [{"endpoint_id": str(k), "slots": v} for k, v in room.items()]
    made = await conn.fetch(
        _FAN_OUT, json.dumps(rows), json.dumps(slots), default_room, lease_until
    )
    return len(made), [_due(r) for r in made if r["attempt_count"] == 1]


_CLAIM_DUE = """
    WITH busy AS (
        SELECT * FROM json_to_recordset($2::json) AS b(endpoint_id uuid, slots int)
    ), due AS (
        SELECT d.id FROM webhook_endpoints w CROSS JOIN LATERAL (
            SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
            WHERE d.endpoint_id = w.id AND d.status = 'PENDING' AND d.next_attempt_at <= $1
            ORDER BY d.next_attempt_at
            LIMIT coalesce((SELECT slots FROM busy WHERE busy.endpoint_id = w.id), $3)
            FOR UPDATE OF d SKIP LOCKED
        ) d
        WHERE w.enabled
        ORDER BY d.next_attempt_at
        LIMIT $4
    ), claimed AS (
        UPDATE webhook_deliveries d SET next_attempt_at = $5, attempt_count = d.attempt_count + 1
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.endpoint_id, d.event_id, d.attempt_count, d.retry_since
    )
    SELECT c.id, c.endpoint_id, c.event_id, c.attempt_count, c.retry_since, e.body,
           w.url, w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_until
    FROM claimed c
    JOIN webhook_events e ON e.id = c.event_id
    JOIN webhook_endpoints w ON w.id = c.endpoint_id
"""


@dataclass(frozen=True)
class DueDelivery:
    id: UUID
    endpoint_id: UUID
    event_id: UUID
    attempt_no: int
    retry_since: datetime
    body: str
    url: str
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_until: datetime | None


async def claim_due(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    free_slots: Mapping[UUID, int],
    slots_per_endpoint: int,
    limit: int,
    lease: timedelta,
) -> list[DueDelivery]:
    """Take up to `limit` due deliveries, at most `free_slots[endpoint]` (else
    `slots_per_endpoint`) of each endpoint, oldest due first, leased until `now + lease`."""
    busy = [{"endpoint_id": str(k), "slots": v} for k, v in free_slots.items()]
    rows = await conn.fetch(
        _CLAIM_DUE, now, json.dumps(busy), slots_per_endpoint, limit, now + lease
    )
    return [_due(r) for r in rows]


def _due(r: asyncpg.Record) -> DueDelivery:
    return DueDelivery(
        id=r["id"],
        endpoint_id=r["endpoint_id"],
        event_id=r["event_id"],
        attempt_no=r["attempt_count"],
        retry_since=r["retry_since"],
        body=r["body"],
        url=r["url"],
        secret_encrypted=r["secret_encrypted"],
        previous_secret_encrypted=r["previous_secret_encrypted"],
        previous_secret_until=r["previous_secret_until"],
    )


@dataclass(frozen=True)
class DeliveryResult:
    """What one request for a delivery did, and what follows."""

    delivery_id: UUID
    endpoint_id: UUID
    attempt_no: int
    attempted_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    #: DELIVERED, FAILED (given up), or PENDING with `next_retry_at`.
    status: str
    next_retry_at: datetime | None
    #: When the delivery's retry period began.
    retry_since: datetime | None = None
    #: The endpoint answered 410 Gone: disable it at once.
    gone: bool = False


# A success always counts (at least once: a second sender may have sent it too); a failure
# moves the delivery on only if no later request for it has started since (a lease expired).
_RECORD = """
    WITH r AS (
        SELECT * FROM json_to_recordset($1::json) AS r(
            delivery_id uuid, attempt_no int, attempted_at timestamptz, latency_ms int,
            status_code int, error text, status text, next_retry_at timestamptz)
    ), kept AS (
        -- Locked for the attempts' foreign key: a delivery deleted meanwhile (its endpoint
        -- was) drops out here instead of failing the statement, and with it every result.
        SELECT d.id FROM webhook_deliveries d JOIN r ON d.id = r.delivery_id FOR KEY SHARE OF d
    ), moved AS (
        UPDATE webhook_deliveries d SET status = r.status, next_attempt_at = r.next_retry_at,
            finished_at = CASE WHEN r.status = 'PENDING' THEN NULL ELSE r.attempted_at END
        FROM r
        WHERE d.id = r.delivery_id AND d.status = 'PENDING'
          AND (r.status = 'DELIVERED' OR d.attempt_count = r.attempt_no)
        RETURNING d.id
    )
    INSERT INTO webhook_delivery_attempts (delivery_id, attempt_no, attempted_at, status_code,
                                           latency_ms, error, next_retry_at)
    SELECT r.delivery_id, r.attempt_no, r.attempted_at, r.status_code, r.latency_ms, r.error,
           r.next_retry_at
    FROM r JOIN kept ON kept.id = r.delivery_id
    ON CONFLICT DO NOTHING
"""


async def release(conn: asyncpg.Connection, deliveries: Sequence[DueDelivery]) -> None:
    """Give back claimed deliveries that were not sent: due now, their claim not counted
    as an attempt (unless the lease ran out and another claim has taken them since)."""
    await conn.execute(
        """
        UPDATE webhook_deliveries d SET next_attempt_at = now(), attempt_count = r.attempt_no - 1
        FROM json_to_recordset($1::json) AS r(id uuid, attempt_no int)
        WHERE d.id = r.id AND d.status = 'PENDING' AND d.attempt_count = r.attempt_no
        """,
        json.dumps([{"id": str(d.id), "attempt_no": d.attempt_no} for d in deliveries]),
    )


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def record_results(conn: asyncpg.Connection, results: Sequence[DeliveryResult]) -> None:
    """Record the requests made (one statement for all) and move their deliveries on."""
    rows = [
        {
            "delivery_id": str(r.delivery_id),
            "attempt_no": r.attempt_no,
            "attempted_at": _time(r.attempted_at),
            "latency_ms": r.latency_ms,
            "status_code": r.status_code,
            "error": r.error,
            "status": r.status,
            "next_retry_at": _time(r.next_retry_at),
        }
        for r in results
    ]
    await conn.execute(_RECORD, json.dumps(rows))


_WEBHOOK_DISABLED_WANTED = (
    "(EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled"
    f" AND events && ARRAY['{EventType.WEBHOOK_DISABLED}', '{EVERY_EVENT}']::text[])"
    f" OR {STREAMED})"
)

# The endpoint as the API shows it, never its secrets.
_DISABLE = f"""
    WITH hooked AS (
        SELECT {_WEBHOOK_DISABLED_WANTED} AS yes
    ), disabled AS (
        UPDATE webhook_endpoints w SET enabled = false, disabled_reason = $2,
            disabled_at = now(), updated_at = now(),
            event_seq = w.event_seq + CASE WHEN (SELECT yes FROM hooked) THEN 1 ELSE 0 END
        WHERE w.id = $1 AND w.enabled
        RETURNING w.*
    ), events AS (
        INSERT INTO webhook_events (type, sequence, payload)
        SELECT '{EventType.WEBHOOK_DISABLED}', d.event_seq, jsonb_build_object(
            'webhook', to_jsonb(d) - 'secret_encrypted' - 'previous_secret_encrypted')
        FROM disabled d WHERE (SELECT yes FROM hooked)
    )
    SELECT count(*) > 0 FROM disabled
"""


async def disable_endpoint(conn: asyncpg.Connection, endpoint_id: UUID, reason: str) -> bool:
    """Disable an endpoint the deliverer gave up on, and tell of it (webhook.disabled) in the
    same statement; whether it was enabled."""
    return bool(await conn.fetchval(_DISABLE, endpoint_id, reason))


async def failing_for_whole_period(
    conn: asyncpg.Connection, given_up: Mapping[UUID, datetime]
) -> list[UUID]:
    """Of these enabled endpoints, each of which just gave up a delivery whose retry period
    began at `given_up[endpoint]`, those that received nothing since then: failing for the
    whole period."""
    rows = await conn.fetch(
        """
        SELECT w.id FROM json_to_recordset($1::json) AS g(endpoint_id uuid, since timestamptz)
        JOIN webhook_endpoints w ON w.id = g.endpoint_id AND w.enabled
        WHERE NOT EXISTS (
            SELECT 1 FROM webhook_deliveries d
            WHERE d.endpoint_id = w.id AND d.status = 'DELIVERED' AND d.finished_at > g.since)
        """,
        json.dumps([{"endpoint_id": str(k), "since": v.isoformat()} for k, v in given_up.items()]),
    )
    return [r["id"] for r in rows]


async def forget_old_events(conn: asyncpg.Connection, before: datetime, batch: int = 500) -> int:
    """Remove up to `batch` events created before `before` that no enabled endpoint waits
    for (their deliveries and attempts go with them: a disabled endpoint's pending ones too,
    else an endpoint left disabled would keep its events for ever); how many."""
    return int(
        await conn.fetchval(
            """
            WITH gone AS (
                DELETE FROM webhook_events WHERE position IN (
                    SELECT e.position FROM webhook_events e
                    WHERE e.created_at < $1 AND e.fanned_out_at IS NOT NULL
                      AND NOT EXISTS (
                          SELECT 1 FROM webhook_deliveries d
                          JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
                          WHERE d.event_id = e.id AND d.status = 'PENDING')
                    ORDER BY e.position LIMIT $2
                )
                RETURNING 1
            )
            SELECT count(*) FROM gone
            """,
            before,
            batch,
        )
    )
