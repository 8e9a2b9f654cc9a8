"""SQL about how often a number has been called (table number_dials), for frequency caps.

The claim keeps the table: it adds an attempt's start in the statement that records the
attempt, and leaves out a number whose caps are reached (`capped_now`). An attempt the
provider never placed gives its start back (`forget_unplaced`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.frequency_caps import MAX_PERIOD_HOURS
from shared.domain.statuses import AttemptOutcome
from shared.repositories.zone_windows import group_of

#: How long a start is kept: the longest period any cap may count over.
KEPT = f"interval '{MAX_PERIOD_HOURS} hours'"


def count_since(starts: str, hours: str, now: str) -> str:
    """How many of the starts (a timestamptz[] expression) are within `hours` before `now`."""
    since = f"{now} - make_interval(hours => {hours})"
    return f"(SELECT count(*) FROM unnest({starts}) t WHERE t > {since})"


def capped_now(call: str, campaign_id: str, now: str) -> str:
    """True for a call row whose number has reached, at `now`, a cap of its zone group in the
    campaign (as the dispatcher wrote the group's caps with its window)."""
    return f"""EXISTS (
            SELECT 1 FROM campaign_zone_groups w
            JOIN number_dials d ON d.phone_number = {call}.phone_number
            CROSS JOIN LATERAL unnest(w.cap_attempts, w.cap_hours) AS cap (m, h)
            WHERE w.campaign_id = {campaign_id} AND w.zone_group_id = {group_of(call)}
              AND {count_since("d.started", "cap.h", now)} >= cap.m)"""


def any_caps(campaign_id: str) -> str:
    """True when some zone group of the campaign has a cap."""
    return f"""EXISTS (SELECT 1 FROM campaign_zone_groups w
            WHERE w.campaign_id = {campaign_id} AND w.cap_attempts <> '{{}}')"""


async def forget_unplaced(conn: asyncpg.Connection, call_id: UUID, attempt_no: int) -> None:
    """The attempt ended NOT_PLACED (the provider never placed it): its start no longer counts
    against the number's caps. Its own statement, after the ending committed: ending attempts
    never wait for these rows, which claims lock."""
    await conn.execute(
        f"""
        UPDATE number_dials n SET started = array_remove(n.started, a.started_at)
        FROM call_attempts a
        WHERE a.call_id = $1 AND a.attempt_no = $2 AND a.phone_number = n.phone_number
          AND a.outcome = '{AttemptOutcome.NOT_PLACED}'
        """,
        call_id,
        attempt_no,
    )


async def recent_starts(conn: asyncpg.Connection, phone_number: str) -> list[datetime]:
    """The starts of the number's attempts that count (within the longest cap period)."""
    starts: list[datetime] | None = await conn.fetchval(
        "SELECT started FROM number_dials WHERE phone_number = $1", phone_number
    )
    return list(starts or ())


async def forget_old_dials(conn: asyncpg.Connection, now: datetime) -> int:
    """Drop the rows of numbers not called within the longest cap period: nothing counts them."""
    result = await conn.execute(
        f"""
        DELETE FROM number_dials
        WHERE NOT EXISTS (SELECT 1 FROM unnest(started) t WHERE t > $1::timestamptz - {KEPT})
        """,
        now,
    )
    return int(result.split()[-1])
