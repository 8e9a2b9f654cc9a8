"""SQL of the dispatcher's schedule duties: campaigns that start by themselves at startAt,
numbers past their expiresAt, and campaigns past their endAt."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.statuses import CallStatus, CampaignStatus
from shared.domain.webhook_events import EventType
from shared.repositories.outbox import (
    CALLS_HOOKED,
    CAMPAIGNS_HOOKED,
    announce_calls,
    announce_campaigns,
    bump,
    snapshot,
)
from shared.repositories.sql import sql_list

#: Why a waiting number ended (calls.failure_reason), as the eligibility codes name them.
EXPIRED = "EXPIRED"
CAMPAIGN_ENDED = "CAMPAIGN_ENDED"

#: Whether the statement writes events (CTE `hooked`).
_HOOKED = "(SELECT yes FROM hooked)"
_CANCELLED_EVENT = f"'{EventType.CALL_CANCELLED}'"
_WAITING = sql_list([CallStatus.PENDING, CallStatus.FAILED])
_RUNNING_OR_PAUSED = sql_list([CampaignStatus.IN_PROGRESS, CampaignStatus.PAUSED])


async def start_scheduled_campaigns(conn: asyncpg.Connection, now: datetime) -> list[UUID]:
    """Start every PENDING campaign with autoStart whose startAt has come and that has
    numbers; the ids of those started."""
    rows = await conn.fetch(
        f"""
        WITH hooked AS (
            SELECT {CAMPAIGNS_HOOKED} AS yes
        ), started AS (
            UPDATE campaigns k SET status = '{CampaignStatus.IN_PROGRESS}',
                started_at = coalesce(k.started_at, $1), updated_at = $1,
                event_seq = k.event_seq + {bump(_HOOKED)}
            WHERE k.status = '{CampaignStatus.PENDING}' AND k.auto_start AND k.start_at <= $1
              AND EXISTS (SELECT 1 FROM calls c WHERE c.campaign_id = k.id)
            RETURNING k.id, k.event_seq, {snapshot("k", _HOOKED)} AS snap
        ), events AS (
            {announce_campaigns("started", f"'{EventType.CAMPAIGN_STARTED}'")}
        )
        SELECT id FROM started
        """,
        now,
    )
    return [r["id"] for r in rows]


async def expire_calls(conn: asyncpg.Connection, now: datetime) -> int:
    """End CANCELLED (reason EXPIRED) every waiting number whose expiresAt has passed."""
    return int(
        await conn.fetchval(
            f"""
            WITH hooked AS (
                SELECT {CALLS_HOOKED} AS yes
            ), ended AS (
                UPDATE calls c SET status = '{CallStatus.CANCELLED}', failure_reason = '{EXPIRED}',
                    next_retry_at = NULL, updated_at = $1, event_seq = c.event_seq + {bump(_HOOKED)}
                WHERE c.expires_at <= $1 AND c.status IN {_WAITING}
                RETURNING c.id, c.campaign_id, c.event_seq, {snapshot("c", _HOOKED)} AS snap
            ), events AS (
                {announce_calls("ended", _CANCELLED_EVENT)}
            )
            SELECT count(*) FROM ended
            """,
            now,
        )
    )


async def end_past_campaigns(conn: asyncpg.Connection, now: datetime) -> int:
    """End CANCELLED (reason CAMPAIGN_ENDED) every waiting number of a running or paused
    campaign whose endAt has passed; calls in progress finish, and a retry they schedule is
    ended by the next sweep. The campaign then finishes COMPLETED (finish_campaign)."""
    return int(
        await conn.fetchval(
            f"""
            WITH hooked AS (
                SELECT {CALLS_HOOKED} AS yes
            ), ended AS (
                UPDATE calls c SET status = '{CallStatus.CANCELLED}',
                    failure_reason = '{CAMPAIGN_ENDED}', next_retry_at = NULL, updated_at = $1,
                    event_seq = c.event_seq + {bump(_HOOKED)}
                FROM campaigns k
                WHERE k.id = c.campaign_id AND k.status IN {_RUNNING_OR_PAUSED}
                  AND k.end_at <= $1 AND c.status IN {_WAITING}
                RETURNING c.id, c.campaign_id, c.event_seq, {snapshot("c", _HOOKED)} AS snap
            ), events AS (
                {announce_calls("ended", _CANCELLED_EVENT)}
            )
            SELECT count(*) FROM ended
            """,
            now,
        )
    )
