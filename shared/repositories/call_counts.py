"""Calls counted by status, per campaign and across all.

A finished campaign's calls are counted once and kept (final_call_counts); everything else is
counted from the calls themselves. So the cost of the campaign lists and the global metrics
follows the calls still in play, not every call ever made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from shared.domain.statuses import CallStatus
from shared.repositories.sql import FINAL_CALL_STATUSES_SQL, FINAL_CAMPAIGN_STATUSES_SQL
from shared.repositories.suppressions import SUPPRESSED


@dataclass(frozen=True)
class CallCounts:
    by_status: dict[CallStatus, int] = field(default_factory=dict)
    total_retries: int = 0
    #: Answered calls that reported a duration, and their durations added up.
    talked: int = 0
    talk_seconds: int = 0
    #: Calls ended because their number is on a do-not-call list (CANCELLED, SUPPRESSED).
    suppressed: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def __getitem__(self, status: CallStatus) -> int:
        return self.by_status.get(status, 0)

    @property
    def average_duration_seconds(self) -> float | None:
        return round(self.talk_seconds / self.talked, 1) if self.talked else None

    def __add__(self, other: CallCounts) -> CallCounts:
        statuses = self.by_status.keys() | other.by_status.keys()
        return CallCounts(
            {s: self[s] + other[s] for s in statuses},
            self.total_retries + other.total_retries,
            self.talked + other.talked,
            self.talk_seconds + other.talk_seconds,
            self.suppressed + other.suppressed,
        )


# The per-status figures of a set of calls `c`, grouped by `group`.
_COUNT_COLUMNS = f"""
    c.status, count(*) AS n, sum(greatest(c.dial_count - 1, 0)) AS retries,
    count(c.call_duration_seconds) FILTER (WHERE c.status = '{CallStatus.COMPLETED}') AS talked,
    coalesce(sum(c.call_duration_seconds)
             FILTER (WHERE c.status = '{CallStatus.COMPLETED}'), 0) AS talk_seconds,
    count(*) FILTER (WHERE c.status = '{CallStatus.CANCELLED}'
                     AND c.failure_reason = '{SUPPRESSED}') AS suppressed
"""


def _add_rows(counts: dict[UUID, CallCounts], rows: Sequence[asyncpg.Record]) -> None:
    for r in rows:
        one = CallCounts(
            {CallStatus(r["status"]): r["n"]},
            int(r["retries"] or 0),
            int(r["talked"] or 0),
            int(r["talk_seconds"] or 0),
            int(r["suppressed"] or 0),
        )
        counts[r["campaign_id"]] = counts[r["campaign_id"]] + one


_KEPT = "campaign_id, by_status::text AS by_status, retries, talked, talk_seconds, suppressed"


def _from_kept(r: asyncpg.Record) -> CallCounts:
    return CallCounts(
        {CallStatus(status): int(n) for status, n in json.loads(r["by_status"]).items()},
        int(r["retries"]),
        int(r["talked"]),
        int(r["talk_seconds"]),
        int(r["suppressed"]),
    )


# A campaign's calls are counted live until its counts are kept. The live calls are read
# before the kept counts, in two statements: a campaign kept in between shows in both reads,
# and its kept counts win; read the other way round, it showed in neither (the metrics once
# missed a finished campaign's 120 calls).


async def call_counts(
    conn: asyncpg.Connection, campaign_ids: Sequence[UUID]
) -> dict[UUID, CallCounts]:
    """Calls per status and retries made, for each campaign in `campaign_ids`."""
    ids = list(campaign_ids)
    counts = {cid: CallCounts() for cid in ids}
    rows = await conn.fetch(
        f"""
        WITH live AS (
            SELECT id FROM unnest($1::uuid[]) AS id
            WHERE NOT EXISTS (SELECT 1 FROM final_call_counts f WHERE f.campaign_id = id)
        )
        SELECT c.campaign_id, {_COUNT_COLUMNS}
        FROM live JOIN calls c ON c.campaign_id = live.id
        GROUP BY c.campaign_id, c.status
        """,
        ids,
    )
    _add_rows(counts, rows)
    kept = await conn.fetch(
        f"SELECT {_KEPT} FROM final_call_counts WHERE campaign_id = ANY($1::uuid[])", ids
    )
    for r in kept:
        counts[r["campaign_id"]] = _from_kept(r)
    return counts


async def call_totals(conn: asyncpg.Connection) -> CallCounts:
    """Every call of every campaign (single calls included)."""
    rows = await conn.fetch(
        f"""
        SELECT c.campaign_id, {_COUNT_COLUMNS}
        FROM campaigns k JOIN calls c ON c.campaign_id = k.id
        WHERE NOT EXISTS (SELECT 1 FROM final_call_counts f WHERE f.campaign_id = k.id)
        GROUP BY c.campaign_id, c.status
        """
    )
    counts = {r["campaign_id"]: CallCounts() for r in rows}
    _add_rows(counts, rows)
    for r in await conn.fetch(f"SELECT {_KEPT} FROM final_call_counts"):
        counts[r["campaign_id"]] = _from_kept(r)
    total = CallCounts()
    for one in counts.values():
        total = total + one
    return total


async def count_finished_campaigns(conn: asyncpg.Connection, limit: int = 20) -> int:
    """Count and keep the calls of up to `limit` finished campaigns not counted yet (or due a
    recount); how many were counted. A campaign is counted once every call is final and no
    line is held."""
    # One statement, so that a recount asked for meanwhile is either taken here or left due.
    await conn.execute(
        """
        WITH taken AS (DELETE FROM recounts_due RETURNING campaign_id)
        DELETE FROM final_call_counts f USING taken t WHERE f.campaign_id = t.campaign_id
        """
    )
    result = await conn.execute(
        f"""
        WITH due AS (
            SELECT k.id FROM campaigns k
            WHERE k.status IN {FINAL_CAMPAIGN_STATUSES_SQL} AND k.in_flight = 0
              AND NOT EXISTS (SELECT 1 FROM final_call_counts f WHERE f.campaign_id = k.id)
              AND NOT EXISTS (
                  SELECT 1 FROM calls c WHERE c.campaign_id = k.id
                  AND c.status NOT IN {FINAL_CALL_STATUSES_SQL})
            LIMIT $1
        ), counted AS (
            SELECT c.campaign_id, {_COUNT_COLUMNS}
            FROM calls c JOIN due d ON d.id = c.campaign_id
            GROUP BY c.campaign_id, c.status
        )
        INSERT INTO final_call_counts (campaign_id, by_status, retries, talked, talk_seconds,
                                       suppressed)
        SELECT d.id,
               coalesce(jsonb_object_agg(c.status, c.n) FILTER (WHERE c.status IS NOT NULL),
                        '{{}}'::jsonb),
               coalesce(sum(c.retries), 0), coalesce(sum(c.talked), 0),
               coalesce(sum(c.talk_seconds), 0), coalesce(sum(c.suppressed), 0)
        FROM due d LEFT JOIN counted c ON c.campaign_id = d.id
        GROUP BY d.id
        ON CONFLICT (campaign_id) DO NOTHING
        """,
        limit,
    )
    return int(result.split()[-1])
