"""SQL of the do-not-call lists (table suppressions): the global list and each campaign's.

An entry of the global list (campaign_id null) bars the number from every campaign and single
call; a campaign's, from that campaign. An entry past its expiresAt bars nothing and is
deleted by the dispatcher's upkeep. The claim ends a barred call (`suppressed_now`); loads end
barred numbers as they copy them (`suppressed_among`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

#: calls.failure_reason of a call ended because its number is suppressed.
SUPPRESSED = "SUPPRESSED"
#: The reason of an entry made by an opt-out (the recipient asked, during a call).
OPT_OUT = "OPT_OUT"

#: The columns a load writes, in the order of each record given to copy_entries.
ENTRY_COLUMNS = ("phone_number", "campaign_id", "reason", "source_call_id", "expires_at")

_IN_FORCE = "(s.expires_at IS NULL OR s.expires_at > {now})"


def suppressed_now(row: str, campaign_id: str, now: str) -> str:
    """True for a row with a `phone_number` that the global list or the campaign's bars at
    `now`. The arguments are SQL expressions of our own code."""
    return f"""EXISTS (
            SELECT 1 FROM suppressions s WHERE s.phone_number = {row}.phone_number
              AND (s.campaign_id IS NULL OR s.campaign_id = {campaign_id})
              AND {_IN_FORCE.format(now=now)})"""


@dataclass(frozen=True)
class Entry:
    phone_number: str
    campaign_id: UUID | None
    reason: str | None
    source_call_id: UUID | None
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Entry:
        return cls(
            row["phone_number"],
            row["campaign_id"],
            row["reason"],
            row["source_call_id"],
            row["expires_at"],
            row["created_at"],
        )


_ENTRY = "phone_number, campaign_id, reason, source_call_id, expires_at, created_at"


async def lock_list(conn: asyncpg.Connection, campaign_id: UUID | None) -> None:
    """One writer of a list at a time, until the transaction ends: a load checks which numbers
    the list has, then copies the others in, which a concurrent writer would break."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('suppressions:' || $1, 0))",
        str(campaign_id) if campaign_id else "global",
    )


async def listed_among(
    conn: asyncpg.Connection, numbers: Sequence[str], campaign_id: UUID | None
) -> dict[str, datetime | None]:
    """Which of the numbers the list has, with each entry's expiry (expired ones included)."""
    rows = await conn.fetch(
        """
        SELECT phone_number, expires_at FROM suppressions
        WHERE phone_number = ANY($1::text[]) AND campaign_id IS NOT DISTINCT FROM $2
        """,
        numbers,
        campaign_id,
    )
    return {r["phone_number"]: r["expires_at"] for r in rows}


async def copy_entries(conn: asyncpg.Connection, records: Sequence[tuple[object, ...]]) -> None:
    """COPY new entries in, each record in ENTRY_COLUMNS' order; none may be listed yet."""
    await conn.copy_records_to_table("suppressions", records=records, columns=list(ENTRY_COLUMNS))


async def renew_entries(
    conn: asyncpg.Connection,
    numbers: Sequence[str],
    campaign_id: UUID | None,
    reason: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> None:
    """Entries added again: an expired one starts afresh with the new reason; one in force
    keeps its reason and is kept as long as the longer of the two asks (null: for ever)."""
    await conn.execute(
        """
        UPDATE suppressions SET
            reason = CASE WHEN expires_at <= $5 THEN $3 ELSE coalesce(reason, $3) END,
            created_at = CASE WHEN expires_at <= $5 THEN $5 ELSE created_at END,
            expires_at = CASE
                WHEN expires_at <= $5 OR $4::timestamptz IS NULL THEN $4
                WHEN expires_at IS NULL THEN NULL
                ELSE greatest(expires_at, $4) END
        WHERE phone_number = ANY($1::text[]) AND campaign_id IS NOT DISTINCT FROM $2
        """,
        numbers,
        campaign_id,
        reason,
        expires_at,
        now,
    )


async def add_entry(
    conn: asyncpg.Connection,
    phone_number: str,
    campaign_id: UUID | None,
    reason: str,
    source_call_id: UUID | None,
    now: datetime,
) -> Entry:
    """Put one number on a list for ever (an opt-out); an entry it has already becomes
    permanent, keeping its reason. The entry as it now is."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO suppressions AS s (phone_number, campaign_id, reason, source_call_id,
                                       created_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (phone_number, campaign_id) DO UPDATE SET
            expires_at = NULL,
            reason = CASE WHEN s.expires_at <= $5 THEN $3 ELSE coalesce(s.reason, $3) END,
            source_call_id = coalesce(s.source_call_id, $4)
        RETURNING {_ENTRY}
        """,
        phone_number,
        campaign_id,
        reason,
        source_call_id,
        now,
    )
    assert row is not None
    return Entry.from_row(row)


async def any_in_force(conn: asyncpg.Connection) -> bool:
    """Whether any list has an entry at all (a load with none to check skips the look-up)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM suppressions)"))


async def suppressed_among(
    conn: asyncpg.Connection, numbers: Sequence[str], campaign_id: UUID, now: datetime
) -> set[str]:
    """Which of the numbers the global list or the campaign's bars at `now`."""
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT phone_number FROM suppressions s
        WHERE phone_number = ANY($1::text[])
          AND (campaign_id IS NULL OR campaign_id = $2) AND {_IN_FORCE.format(now="$3")}
        """,
        numbers,
        campaign_id,
        now,
    )
    return {r["phone_number"] for r in rows}


async def barring_entry(
    conn: asyncpg.Connection, phone_number: str, campaign_id: UUID, now: datetime
) -> Entry | None:
    """The entry that bars the number in the campaign at `now` (the global one first)."""
    row = await conn.fetchrow(
        f"""
        SELECT {_ENTRY} FROM suppressions s
        WHERE phone_number = $1 AND (campaign_id IS NULL OR campaign_id = $2)
          AND {_IN_FORCE.format(now="$3")}
        ORDER BY campaign_id NULLS FIRST LIMIT 1
        """,
        phone_number,
        campaign_id,
        now,
    )
    return Entry.from_row(row) if row else None


async def list_entries(
    conn: asyncpg.Connection,
    campaign_id: UUID | None,
    phone_number: str | None,
    limit: int,
    offset: int,
    after: str | None,
) -> tuple[list[Entry], int]:
    """One list's entries in number order (from after `after`, else skipping `offset`), and
    how many the list (or the one number asked for) has in all."""
    rows = await conn.fetch(
        f"""
        SELECT {_ENTRY} FROM suppressions
        WHERE campaign_id IS NOT DISTINCT FROM $1
          AND ($2::text IS NULL OR phone_number = $2)
          AND ($3::text IS NULL OR phone_number > $3)
        ORDER BY phone_number
        LIMIT $4 OFFSET $5
        """,
        campaign_id,
        phone_number,
        after,
        limit,
        offset,
    )
    total: int = await conn.fetchval(
        """
        SELECT count(*) FROM suppressions
        WHERE campaign_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR phone_number = $2)
        """,
        campaign_id,
        phone_number,
    )
    return [Entry.from_row(r) for r in rows], total


async def delete_entry(
    conn: asyncpg.Connection, phone_number: str, campaign_id: UUID | None
) -> bool:
    """Take the number off the list; False when the list did not have it."""
    result = await conn.execute(
        "DELETE FROM suppressions WHERE phone_number = $1 AND campaign_id IS NOT DISTINCT FROM $2",
        phone_number,
        campaign_id,
    )
    return bool(result != "DELETE 0")


async def forget_expired(conn: asyncpg.Connection, now: datetime) -> int:
    """Delete the entries past their expiresAt: they bar nothing any more."""
    result = await conn.execute("DELETE FROM suppressions WHERE expires_at <= $1", now)
    return int(result.split()[-1])
