"""What the forecast reads: a campaign's numbers not final, per zone group, and how its recent
attempts ended and how long they held a line (shared.domain.calling.forecast)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.calling.forecast_model import AttemptTally, GroupBacklog
from shared.domain.calling.rules import Recipient
from shared.domain.statuses import AttemptOutcome, CallStatus

_NOT_FINAL = ", ".join(
    f"'{s}'"
    for s in (CallStatus.PENDING, CallStatus.SCHEDULED, CallStatus.IN_PROGRESS, CallStatus.FAILED)
)

# The index on (campaign_id, status, seq) reads only the calls not final; a few rows come out
# per zone group (one per status and dials made, which are at most maxRetries + 1).
_BACKLOG = f"""
    WITH counted AS (
        SELECT coalesce(c.zone_group_id, 0) AS zone_group_id, c.status, c.dial_count,
               count(*) AS calls,
               count(*) FILTER (WHERE c.not_before > $2) AS not_yet_valid,
               count(*) FILTER (WHERE c.expires_at IS NOT NULL) AS expiring,
               max(c.next_retry_at) FILTER (
                   WHERE c.status = '{CallStatus.FAILED}' AND c.next_retry_at > $2
               ) AS latest_retry_at
        FROM calls c
        WHERE c.campaign_id = $1 AND c.status IN ({_NOT_FINAL})
        GROUP BY 1, 2, 3
    )
    SELECT n.*, z.zones, z.regions, z.country
    FROM counted n LEFT JOIN zone_groups z ON z.id = n.zone_group_id
"""


async def campaign_backlog(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> list[GroupBacklog]:
    """The campaign's calls not final, per zone group, by status and dials made so far."""
    rows = await conn.fetch(_BACKLOG, campaign_id, now)
    places: dict[int, Recipient] = {}
    calls: dict[int, dict[tuple[CallStatus, int], int]] = {}
    early: dict[int, int] = {}
    expiring: dict[int, int] = {}
    latest: dict[int, datetime] = {}
    for row in rows:
        group = row["zone_group_id"]
        places[group] = Recipient(
            tuple(row["zones"] or ()), tuple(row["regions"] or ()), row["country"]
        )
        counts = calls.setdefault(group, {})
        key = (CallStatus(row["status"]), row["dial_count"])
        counts[key] = counts.get(key, 0) + row["calls"]
        early[group] = early.get(group, 0) + row["not_yet_valid"]
        expiring[group] = expiring.get(group, 0) + row["expiring"]
        retry_at = row["latest_retry_at"]
        if retry_at is not None and (group not in latest or retry_at > latest[group]):
            latest[group] = retry_at
    return [GroupBacklog(places[g], calls[g], early[g], expiring[g], latest.get(g)) for g in places]


# The campaign's latest ended attempts, newest first by the (campaign_id, started_at) index.
# A line is given back when the attempt ends or times out, whichever comes first.
_RECENT_ATTEMPTS = """
    SELECT outcome, count(*) AS attempts,
           coalesce(sum(extract(epoch FROM least(ended_at, timed_out_at) - started_at)), 0)
               AS seconds
    FROM (
        SELECT outcome, ended_at, timed_out_at, started_at FROM call_attempts
        WHERE campaign_id = $1 AND (ended_at IS NOT NULL OR timed_out_at IS NOT NULL)
        ORDER BY started_at DESC LIMIT $2
    ) recent
    GROUP BY outcome
"""


async def recent_attempt_tallies(
    conn: asyncpg.Connection, campaign_id: UUID, limit: int
) -> list[AttemptTally]:
    """How the campaign's `limit` most recent ended attempts ended (None: timed out), each
    outcome with its count and the seconds its attempts held a line."""
    rows = await conn.fetch(_RECENT_ATTEMPTS, campaign_id, limit)
    return [
        AttemptTally(
            AttemptOutcome(row["outcome"]) if row["outcome"] else None,
            row["attempts"],
            float(row["seconds"]),
        )
        for row in rows
    ]
