"""What the api reads to say why numbers are not dialled: one call's dial state, and a
campaign's numbers counted by what the claim (shared.repositories.claims) would do with them.

Both read the same conditions as the claim's statement: a new number (PENDING) or a due retry
(FAILED, next_retry_at <= now) is taken unless an open attempt holds its phone number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.statuses import CallStatus
from shared.repositories.live_calls import OPEN_ATTEMPT
from shared.repositories.number_dials import any_caps, capped_now
from shared.repositories.suppressions import suppressed_now


@dataclass(frozen=True)
class CallDialState:
    """The parts of one call row the claim looks at."""

    call_id: UUID
    campaign_id: UUID
    status: CallStatus
    next_retry_at: datetime | None
    #: The call whose open attempt holds this call's phone number now (it may be this one).
    number_held_by: UUID | None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    place: GroupPlace = field(default_factory=lambda: GroupPlace((), (), None))
    phone_number: str = ""


@dataclass(frozen=True)
class GroupPlace:
    """Where the numbers of a zone group are (empty and None when unknown)."""

    zones: tuple[str, ...]
    regions: tuple[str, ...]
    country: str | None


async def fetch_call_dial_state(conn: asyncpg.Connection, call_id: UUID) -> CallDialState | None:
    """The call's status, due time and the live call holding its number; None: no such call."""
    row = await conn.fetchrow(
        f"""
        SELECT c.id, c.campaign_id, c.status, c.next_retry_at, c.not_before, c.expires_at,
               c.phone_number, z.zones, z.regions, z.country,
               (SELECT a.call_id FROM call_attempts a
                WHERE a.phone_number = c.phone_number AND {OPEN_ATTEMPT} LIMIT 1) AS held_by
        FROM calls c LEFT JOIN zone_groups z ON z.id = c.zone_group_id WHERE c.id = $1
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
        row["not_before"],
        row["expires_at"],
        _place(row),
        row["phone_number"],
    )


def _place(row: asyncpg.Record) -> GroupPlace:
    return GroupPlace(tuple(row["zones"] or ()), tuple(row["regions"] or ()), row["country"])


@dataclass(frozen=True)
class GroupCounts:
    """The numbers of one zone group that the claim would pick but for the time-based rules:
    new ones and due retries, by what holds them (each counted once, in the claim's order)."""

    place: GroupPlace
    #: Not yet valid (notBefore ahead) or expired (expiresAt passed): the number's own rules.
    not_yet_valid: int
    expired: int
    #: Within their own validity; of those, the ones whose number an open attempt holds.
    valid: int
    valid_but_held: int
    #: Of the valid ones no attempt holds: those a frequency cap holds back, then those on a
    #: do-not-call list (which the claim ends when it takes them).
    capped: int = 0
    suppressed: int = 0


@dataclass(frozen=True)
class InventoryCounts:
    """A campaign's calls at one instant, counted once each."""

    by_status: dict[CallStatus, int]
    #: FAILED calls whose retry is due (next_retry_at <= now).
    due_retries: int
    #: New numbers and due retries, per zone group.
    ready_by_group: dict[int, GroupCounts]

    @property
    def ready(self) -> int:
        """New numbers and due retries: what the claim would pick, held numbers included."""
        return self.by_status[CallStatus.PENDING] + self.due_retries


# One pass over the campaign's calls. The open attempts are few (at most the lines in use), so
# they are read once into a hash rather than probed per call as the claim does for its few;
# zone groups are a few hundred rows at most.
_INVENTORY = f"""
    WITH capping AS (
        SELECT {any_caps("$1")} AS yes
    ), held AS (
        SELECT DISTINCT a.phone_number FROM call_attempts a WHERE {OPEN_ATTEMPT}
    ), counted AS (
        SELECT c.status, coalesce(c.zone_group_id, 0) AS zone_group_id, count(*) AS calls,
               count(*) FILTER (WHERE f.ready) AS ready,
               count(*) FILTER (WHERE f.ready AND f.early) AS not_yet_valid,
               count(*) FILTER (WHERE f.ready AND NOT f.early AND f.late) AS expired,
               count(*) FILTER (
                   WHERE f.ready AND NOT f.early AND NOT f.late AND h.phone_number IS NOT NULL
               ) AS held,
               count(*) FILTER (WHERE g.free AND g.capped) AS capped,
               count(*) FILTER (WHERE g.free AND NOT g.capped AND g.barred) AS suppressed
        FROM calls c LEFT JOIN held h ON h.phone_number = c.phone_number
        CROSS JOIN LATERAL (SELECT
            c.status = '{CallStatus.PENDING}'
                OR (c.status = '{CallStatus.FAILED}' AND c.next_retry_at <= $2) AS ready,
            coalesce(c.not_before > $2, false) AS early,
            coalesce(c.expires_at <= $2, false) AS late) f
        CROSS JOIN LATERAL (SELECT
            f.ready AND NOT f.early AND NOT f.late AND h.phone_number IS NULL AS free) r
        -- Looked up only for the numbers the claim would take but for them (CASE is lazy).
        CROSS JOIN LATERAL (SELECT r.free,
            CASE WHEN r.free AND (SELECT yes FROM capping)
                 THEN {capped_now("c", "$1", "$2")} ELSE false END AS capped,
            CASE WHEN r.free THEN {suppressed_now("c", "$1", "$2")} ELSE false END AS barred) g
        WHERE c.campaign_id = $1
        GROUP BY 1, 2
    )
    SELECT n.*, z.zones, z.regions, z.country
    FROM counted n LEFT JOIN zone_groups z ON z.id = n.zone_group_id
"""


async def campaign_inventory(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> InventoryCounts:
    """The campaign's calls by status, with its due retries and, per zone group, the numbers
    the claim would pick but for the time-based rules, at `now`."""
    rows = await conn.fetch(_INVENTORY, campaign_id, now)
    by_status = dict.fromkeys(CallStatus, 0)
    due = 0
    groups: dict[int, list[int]] = {}
    places: dict[int, GroupPlace] = {}
    for row in rows:
        status = CallStatus(row["status"])
        by_status[status] += row["calls"]
        if status is CallStatus.FAILED:
            due += row["ready"]
        if not row["ready"]:
            continue
        group = row["zone_group_id"]
        places[group] = _place(row)
        totals = groups.setdefault(group, [0, 0, 0, 0, 0, 0])
        not_yet, expired = row["not_yet_valid"], row["expired"]
        totals[0] += not_yet
        totals[1] += expired
        totals[2] += row["ready"] - not_yet - expired
        totals[3] += row["held"]
        totals[4] += row["capped"]
        totals[5] += row["suppressed"]
    return InventoryCounts(
        by_status,
        due,
        {g: GroupCounts(places[g], *totals) for g, totals in groups.items()},
    )
