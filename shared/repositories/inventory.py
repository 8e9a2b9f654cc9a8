"""What the api reads to say why numbers are not dialled: one call's dial state, and a
campaign's numbers counted by what the claim (shared.repositories.claims) would do with them.

Both read the same conditions as the claim's statement: a new number (PENDING) or a due retry
(FAILED, next_retry_at <= now) is taken unless an open attempt holds its phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.statuses import CallStatus
from shared.repositories.live_calls import OPEN_ATTEMPT


@dataclass(frozen=True)
class CallDialState:
    """The parts of one call row the claim looks at."""

    call_id: UUID
    campaign_id: UUID
    status: CallStatus
    next_retry_at: datetime | None
    #: The call whose open attempt holds this call's phone number now (it may be this one).
    number_held_by: UUID | None


async def fetch_call_dial_state(conn: asyncpg.Connection, call_id: UUID) -> CallDialState | None:
    """The call's status, due time and the live call holding its number; None: no such call."""
    row = await conn.fetchrow(
        f"""
        SELECT c.id, c.campaign_id, c.status, c.next_retry_at,
               (SELECT a.call_id FROM call_attempts a
                WHERE a.phone_number = c.phone_number AND {OPEN_ATTEMPT} LIMIT 1) AS held_by
        FROM calls c WHERE c.id = $1
        """,
        call_id,
    )
    if row is None:
        return None
    return CallDialState(
        row["id"],
        row["campaign_id"],
        CallStatus(row["status"]),
        row["next_retry_at"],
        row["held_by"],
    )


@dataclass(frozen=True)
class InventoryCounts:
    """A campaign's calls at one instant, counted once each."""

    by_status: dict[CallStatus, int]
    #: FAILED calls whose retry is due (next_retry_at <= now).
    due_retries: int
    #: Of the new numbers and due retries, those whose number an open attempt holds.
    ready_but_held: int

    @property
    def ready(self) -> int:
        """New numbers and due retries: what the claim would pick, held numbers included."""
        return self.by_status[CallStatus.PENDING] + self.due_retries


# One pass over the campaign's calls. The open attempts are few (at most the lines in use), so
# they are read once into a hash rather than probed per call as the claim does for its few.
_INVENTORY = f"""
    WITH held AS (
        SELECT DISTINCT a.phone_number FROM call_attempts a WHERE {OPEN_ATTEMPT}
    )
    SELECT c.status, count(*) AS calls,
           count(*) FILTER (WHERE c.next_retry_at <= $2) AS due,
           count(*) FILTER (
               WHERE h.phone_number IS NOT NULL
                 AND (c.status = '{CallStatus.PENDING}'
                      OR (c.status = '{CallStatus.FAILED}' AND c.next_retry_at <= $2))
           ) AS held
    FROM calls c LEFT JOIN held h ON h.phone_number = c.phone_number
    WHERE c.campaign_id = $1
    GROUP BY c.status
"""


async def campaign_inventory(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> InventoryCounts:
    """The campaign's calls by status, with its due retries and held numbers, at `now`."""
    rows = await conn.fetch(_INVENTORY, campaign_id, now)
    by_status = dict.fromkeys(CallStatus, 0)
    due = held = 0
    for row in rows:
        status = CallStatus(row["status"])
        by_status[status] = row["calls"]
        if status is CallStatus.FAILED:
            due = row["due"]
        held += row["held"]
    return InventoryCounts(by_status, due, held)
