"""SQL of loading numbers into a campaign: the campaign held, the load serialised, the numbers
it has read, and the new calls copied in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from shared.db.ids import time_ordered_ids

#: The columns a load writes, in the order of each record given to copy_new_calls (which
#: puts the id in front).
NEW_CALL_COLUMNS = (
    "campaign_id",
    "phone_number",
    "status",
    "attributes",
    "zone_group_id",
    "not_before",
    "expires_at",
    "failure_reason",
)
_COPIED_COLUMNS = ["id", *NEW_CALL_COLUMNS]


async def hold_campaign_for_load(
    conn: asyncpg.Connection, campaign_id: UUID
) -> asyncpg.Record | None:
    """The campaign's status and kind, its row held with FOR KEY SHARE until the transaction
    ends: workers keep dialling, but finishing or deleting the campaign waits for the load."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT status, kind FROM campaigns WHERE id = $1 FOR KEY SHARE", campaign_id
    )
    return row


async def lock_campaign_loads(conn: asyncpg.Connection, campaign_id: UUID) -> None:
    """One load into a campaign at a time, until the transaction ends (duplicates are dropped
    against what the campaign has, which a concurrent load would change)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 0))", campaign_id
    )


async def deduplicated_numbers(conn: asyncpg.Connection, campaign_id: UUID) -> set[str]:
    """The numbers the campaign has that a new one must not repeat (single calls may)."""
    numbers: list[str] = await conn.fetchval(
        "SELECT coalesce(array_agg(phone_number), '{}') FROM calls"
        " WHERE campaign_id = $1 AND deduplicate",
        campaign_id,
    )
    return set(numbers)


async def copy_new_calls(conn: asyncpg.Connection, records: Sequence[tuple[Any, ...]]) -> None:
    """COPY new calls in, each record in NEW_CALL_COLUMNS' order, with ids made here (in
    load order; shared/db/ids.py says why not by the column's default)."""
    ids = time_ordered_ids(len(records))
    await conn.copy_records_to_table(
        "calls",
        records=[(call_id, *record) for call_id, record in zip(ids, records, strict=True)],
        columns=_COPIED_COLUMNS,
    )
