"""What the dispatcher reads on every pass, and the line shares it writes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.statuses import CallStatus, CampaignStatus
from shared.repositories.live_calls import NOT_IN_LIVE_CALL
from shared.repositories.sql import OPEN_CALL_STATUSES_SQL
from shared.repositories.zone_windows import (
    callable_now,
    every_group_open,
    group_of,
    open_groups,
    valid_now,
)

_CALLABLE = callable_now("c", "k.id", "k.settings_version", "$1")
_OPEN_GROUPS = open_groups("k.id", "k.settings_version", "$1")
_EVERY_GROUP_OPEN = every_group_open("k.id", "k.settings_version", "$1")


@dataclass(frozen=True)
class RunningCampaign:
    """What a pass needs of a running campaign's row: read for thousands of campaigns on every
    pass, so only these columns (no settings documents to decode)."""

    id: UUID
    concurrency_limit: int
    priority: int
    in_flight: int
    settings_version: int
    calls_per_second: float | None


@dataclass(frozen=True)
class DispatchCandidate:
    """A running campaign as the dispatcher sees it on one pass."""

    campaign: RunningCampaign
    #: Numbers it could dial now (new ones and due retries), counted up to twice its limit.
    dialable: int
    #: Numbers not final yet, counted up to the cap the pass asked for (0: not counted).
    remaining: int
    #: Some zone group of it is open now (its calling rules allow some number).
    window_open: bool = True
    #: Lines its claims have granted, ever: it moves whenever a worker takes one of its jobs
    #: and dials.
    lines_granted: int = 0


@dataclass(frozen=True)
class DispatchSnapshot:
    candidates: list[DispatchCandidate]
    #: Calls in progress across all campaigns (running or not).
    lines_in_use: int


async def dispatch_snapshot(
    conn: asyncpg.Connection, now: datetime, *, remaining_cap: int = 0
) -> DispatchSnapshot:
    """Running campaigns with what they could dial now, and the lines in use everywhere.

    Counts are capped so that a campaign with 100,000 numbers costs a pass no more than a
    small one: the dispatcher never wants more than twice a campaign's limit queued, and
    `remaining_cap` is as far as the remaining_calls strategy needs to tell campaigns apart.
    """
    rows = await conn.fetch(
        f"""
        SELECT k.id, k.concurrency_limit, k.priority, k.in_flight, k.settings_version,
            k.calls_per_second, k.lines_granted,
            CASE WHEN {_EVERY_GROUP_OPEN} THEN (SELECT count(*) FROM (
                SELECT 1 FROM calls c
                WHERE c.campaign_id = k.id AND c.status = '{CallStatus.PENDING}'
                AND {valid_now("c", "$1")} AND {NOT_IN_LIVE_CALL}
                LIMIT k.concurrency_limit * 2) p)
            -- Some group closed: counted group by group, never past the closed ones' numbers.
            ELSE (SELECT count(*) FROM (
                SELECT 1 FROM ({_OPEN_GROUPS}) g CROSS JOIN LATERAL (
                    SELECT 1 FROM calls c
                    WHERE c.campaign_id = k.id AND c.status = '{CallStatus.PENDING}'
                      AND {group_of("c")} = g.zone_group_id AND {valid_now("c", "$1")}
                      AND {NOT_IN_LIVE_CALL} LIMIT k.concurrency_limit * 2) n
                LIMIT k.concurrency_limit * 2) p) END
          + (SELECT count(*) FROM (
                SELECT 1 FROM calls c
                WHERE c.campaign_id = k.id AND c.status = '{CallStatus.FAILED}'
                AND c.next_retry_at <= $1 AND {_CALLABLE} AND {NOT_IN_LIVE_CALL}
                LIMIT k.concurrency_limit * 2) r) AS dialable,
            EXISTS (SELECT 1 FROM campaign_zone_groups w
                    WHERE w.campaign_id = k.id AND w.settings_version = k.settings_version
                      AND w.open_until > $1) AS window_open,
            (SELECT count(*) FROM (
                SELECT 1 FROM calls c WHERE c.campaign_id = k.id
                AND c.status IN {OPEN_CALL_STATUSES_SQL}
                LIMIT $2) o) AS remaining,
            (SELECT sum(in_flight)::int FROM line_slots) AS lines_in_use
        FROM campaigns k WHERE k.status = '{CampaignStatus.IN_PROGRESS}'
        ORDER BY k.id
        """,
        now,
        remaining_cap,
    )
    if rows:
        lines_in_use = rows[0]["lines_in_use"]
    else:
        lines_in_use = await conn.fetchval("SELECT sum(in_flight)::int FROM line_slots")
    return DispatchSnapshot(
        [
            DispatchCandidate(
                RunningCampaign(
                    r["id"],
                    r["concurrency_limit"],
                    r["priority"],
                    r["in_flight"],
                    r["settings_version"],
                    r["calls_per_second"],
                ),
                r["dialable"],
                r["remaining"],
                r["window_open"],
                r["lines_granted"],
            )
            for r in rows
        ],
        lines_in_use,
    )


async def set_allowed_lines(conn: asyncpg.Connection, allowed: Mapping[UUID, int]) -> int:
    """Give each campaign in `allowed` its lines and every other campaign none; writes only
    the rows that change, locked in id order like every statement that locks several."""
    result = await conn.execute(
        """
        WITH target AS (
            SELECT * FROM unnest($1::uuid[], $2::int[]) AS t(id, lines)
        ), changed AS (
            SELECT k.id, coalesce(t.lines, 0) AS lines
            FROM campaigns k LEFT JOIN target t ON t.id = k.id
            WHERE (k.allowed_lines > 0 OR t.id IS NOT NULL)
              AND k.allowed_lines <> coalesce(t.lines, 0)
            ORDER BY k.id
            FOR UPDATE OF k
        )
        UPDATE campaigns k SET allowed_lines = changed.lines
        FROM changed WHERE k.id = changed.id
        """,
        list(allowed),
        list(allowed.values()),
    )
    return int(result.split()[-1])


async def work_in_hand(conn: asyncpg.Connection, worker_id: str | None = None) -> dict[str, int]:
    """What a (re)started process takes over, for its first log line: running campaigns, calls
    in progress, and (for a worker) the attempts recorded as held by its id."""
    row = await conn.fetchrow(
        f"""
        SELECT (SELECT count(*) FROM campaigns WHERE status = '{CampaignStatus.IN_PROGRESS}')
                   AS running,
               (SELECT coalesce(sum(in_flight), 0) FROM line_slots) AS in_progress,
               (SELECT count(*) FROM call_attempts
                WHERE worker_id = $1 AND outcome IS NULL AND timed_out_at IS NULL) AS held
        """,
        worker_id or "",
    )
    return {
        "running_campaigns": int(row["running"]),
        "calls_in_progress": int(row["in_progress"]),
        "attempts_held_before": int(row["held"]),
    }
