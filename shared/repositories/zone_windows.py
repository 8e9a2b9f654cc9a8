"""SQL about which of a campaign's zone groups are open now (table campaign_zone_groups).

Loads register the groups a campaign has numbers in; the dispatcher works out each group's
window and writes it when it changes; the claim and the dispatcher's counts read it through
`CALLABLE_NOW`, so that no statement does time-zone arithmetic per number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.frequency_caps import FrequencyCap
from shared.domain.statuses import CampaignStatus
from shared.repositories.sql import FINAL_CAMPAIGN_STATUSES_SQL

#: The group a call loaded before zone groups existed stands in (calls.zone_group_id null).
LEGACY_GROUP = 0


def group_of(call: str) -> str:
    """A call row's zone group, the legacy one standing in for none (as the index has it)."""
    return f"coalesce({call}.zone_group_id, {LEGACY_GROUP})"


def open_groups(campaign_id: str, version: str, now: str) -> str:
    """The zone groups of campaign `campaign_id` open at `now` under settings `version`."""
    return f"""SELECT w.zone_group_id FROM campaign_zone_groups w
            WHERE w.campaign_id = {campaign_id} AND w.settings_version = {version}
              AND w.open_until > {now}"""


def every_group_open(campaign_id: str, version: str, now: str) -> str:
    """True when no zone group of the campaign is closed at `now` (the usual case: then a
    pick in load order never walks past numbers it may not take)."""
    return f"""NOT EXISTS (
            SELECT 1 FROM campaign_zone_groups w WHERE w.campaign_id = {campaign_id}
              AND NOT coalesce(w.settings_version = {version} AND w.open_until > {now}, false))"""


def valid_now(call: str, now: str) -> str:
    """The call's own notBefore and expiresAt allow a dial at `now`."""
    return f"""({call}.not_before IS NULL OR {call}.not_before <= {now})
          AND ({call}.expires_at IS NULL OR {call}.expires_at > {now})"""


def callable_now(call: str, campaign_id: str, version: str, now: str) -> str:
    """A condition true for a call row `call` whose time-based rules allow a dial at `now`:
    its group open under settings `version` of campaign `campaign_id`, and the number within
    its own notBefore/expiresAt. The arguments are SQL expressions of our own code."""
    return f"""{group_of(call)} IN ({open_groups(campaign_id, version, now)})
          AND {valid_now(call, now)}"""


async def register_groups(
    conn: asyncpg.Connection, campaign_id: UUID, group_ids: Iterable[int]
) -> None:
    """The campaign has numbers in these groups: a new one waits for the dispatcher's window."""
    await conn.execute(
        """
        INSERT INTO campaign_zone_groups (campaign_id, zone_group_id)
        SELECT $1, g FROM unnest($2::smallint[]) AS g
        ON CONFLICT DO NOTHING
        """,
        campaign_id,
        sorted(set(group_ids)),
    )


async def recheck_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> None:
    """The campaign's rules changed: every window of it is worked out again on the next pass
    (until then its rows carry the old settings version, which the claim does not accept)."""
    await conn.execute(
        "UPDATE campaign_zone_groups SET recheck_at = '-infinity' WHERE campaign_id = $1",
        campaign_id,
    )


async def forget_finished(conn: asyncpg.Connection) -> int:
    """Drop the windows of final campaigns: nothing reads them again (a final campaign never
    runs), and the table stays as small as the running campaigns' groups."""
    result = await conn.execute(
        f"""
        DELETE FROM campaign_zone_groups w USING campaigns k
        WHERE k.id = w.campaign_id AND k.status IN {FINAL_CAMPAIGN_STATUSES_SQL}
        """
    )
    return int(result.split()[-1])


@dataclass(frozen=True)
class DueWindow:
    """A group of a running campaign whose window must be worked out again."""

    campaign_id: UUID
    zone_group_id: int
    #: The group's place; empty and None for an unknown place (or the legacy group).
    zones: tuple[str, ...]
    regions: tuple[str, ...]
    country: str | None


@dataclass(frozen=True)
class ComputedWindow:
    campaign_id: UUID
    zone_group_id: int
    settings_version: int
    open_until: datetime | None
    opens_at: datetime | None
    recheck_at: datetime
    #: Every frequency cap on the group's numbers in the campaign.
    caps: tuple[FrequencyCap, ...] = ()


async def due_windows(conn: asyncpg.Connection, now: datetime, limit: int) -> list[DueWindow]:
    """Groups of running campaigns whose window may have changed by `now`, at most `limit`."""
    rows = await conn.fetch(
        f"""
        SELECT w.campaign_id, w.zone_group_id, z.zones, z.regions, z.country
        FROM campaign_zone_groups w
        JOIN campaigns k ON k.id = w.campaign_id AND k.status = '{CampaignStatus.IN_PROGRESS}'
        LEFT JOIN zone_groups z ON z.id = w.zone_group_id
        WHERE w.recheck_at <= $1
        ORDER BY w.recheck_at
        LIMIT $2
        """,
        now,
        limit,
    )
    return [
        DueWindow(
            r["campaign_id"],
            r["zone_group_id"],
            tuple(r["zones"] or ()),
            tuple(r["regions"] or ()),
            r["country"],
        )
        for r in rows
    ]


async def write_windows(conn: asyncpg.Connection, windows: Sequence[ComputedWindow]) -> None:
    """Store worked-out windows; a row whose campaign's settings changed meanwhile (its
    version moved on) is left due, so the next pass works it out under the new ones."""
    if not windows:
        return
    await conn.execute(
        """
        UPDATE campaign_zone_groups w SET settings_version = v.version,
            open_until = v.open_until, opens_at = v.opens_at, recheck_at = v.recheck_at,
            cap_attempts = v.cap_attempts::int[], cap_hours = v.cap_hours::int[]
        FROM unnest($1::uuid[], $2::smallint[], $3::int[], $4::timestamptz[],
                    $5::timestamptz[], $6::timestamptz[], $7::text[], $8::text[])
             AS v (campaign_id, zone_group_id, version, open_until, opens_at, recheck_at,
                   cap_attempts, cap_hours)
        JOIN campaigns k ON k.id = v.campaign_id AND k.settings_version = v.version
        WHERE w.campaign_id = v.campaign_id AND w.zone_group_id = v.zone_group_id
        """,
        [w.campaign_id for w in windows],
        [w.zone_group_id for w in windows],
        [w.settings_version for w in windows],
        [w.open_until for w in windows],
        [w.opens_at for w in windows],
        [w.recheck_at for w in windows],
        # Arrays of arrays of different lengths do not unnest: each group's caps go as the
        # text of an int[] ('{3,7}').
        [_int_array(c.max_attempts for c in w.caps) for w in windows],
        [_int_array(c.period_hours for c in w.caps) for w in windows],
    )


def _int_array(values: Iterable[int]) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


async def next_openings(
    conn: asyncpg.Connection, campaign_ids: Sequence[UUID], now: datetime
) -> dict[UUID, datetime | None]:
    """For each campaign: `now` when some group of it is open, else when the first opens
    (None: none opens within the search horizon, or it has no numbers)."""
    rows = await conn.fetch(
        """
        SELECT k.id,
               CASE WHEN bool_or(w.open_until > $2 AND w.settings_version = k.settings_version)
                    THEN $2 ELSE min(w.opens_at) FILTER (
                        WHERE w.settings_version = k.settings_version) END AS next_at
        FROM campaigns k JOIN campaign_zone_groups w ON w.campaign_id = k.id
        WHERE k.id = ANY($1::uuid[])
        GROUP BY k.id
        """,
        list(campaign_ids),
        now,
    )
    found = {r["id"]: r["next_at"] for r in rows}
    return {campaign_id: found.get(campaign_id) for campaign_id in campaign_ids}
