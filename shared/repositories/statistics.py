"""Figures for the stats and metrics endpoints, read from the database's own records.

Time series come from the attempt history. An attempt that ended inside a window started at
most the longest callback timeout (plus the watchdog's slack) before it, which bounds every
scan by the start-time indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from shared.domain.statuses import AttemptOutcome, CampaignStatus
from shared.repositories.sql import sql_list, sql_literal
from shared.settings import MAX_CALLBACK_TIMEOUT_MS

#: How far before a window an attempt that ends inside it may have started.
LONGEST_ATTEMPT = timedelta(milliseconds=MAX_CALLBACK_TIMEOUT_MS) + timedelta(minutes=2)

#: Outcomes of attempts that reached a callee's network, answered or not: the answer rate's
#: denominator (with timed-out ones). Rejected, not placed and cancelled calls rang nobody. A
#: machine's answer (MACHINE, with detection on) rang the number but is not a person's answer.
_RANG = sql_list(
    [
        AttemptOutcome.COMPLETED,
        AttemptOutcome.MACHINE,
        AttemptOutcome.BUSY,
        AttemptOutcome.NO_ANSWER,
        AttemptOutcome.FAILED,
    ]
)
_ANSWERED = sql_literal(AttemptOutcome.COMPLETED)
_NOT_PLACED = sql_literal(AttemptOutcome.NOT_PLACED)
_CANCELLED = sql_literal(AttemptOutcome.CANCELLED)
_RUNNING = sql_literal(CampaignStatus.IN_PROGRESS)


@dataclass(frozen=True)
class AttemptTotals:
    #: Attempts whose dial reached the carrier (placed, whatever came of them).
    dialled: int
    #: Attempts that rang and ended (including those whose result never came).
    rang: int
    answered: int
    talk_seconds: int

    @property
    def answer_rate(self) -> float | None:
        return round(self.answered / self.rang, 4) if self.rang else None

    @property
    def average_talk_seconds(self) -> float | None:
        return round(self.talk_seconds / self.answered, 1) if self.answered else None


async def attempt_totals(conn: asyncpg.Connection, campaign_id: UUID) -> AttemptTotals:
    row = await conn.fetchrow(
        f"""
        SELECT count(*) FILTER (WHERE external_call_id IS NOT NULL) AS dialled,
               count(*) FILTER (WHERE outcome IN {_RANG} OR timed_out_at IS NOT NULL) AS rang,
               count(*) FILTER (WHERE outcome = {_ANSWERED}) AS answered,
               coalesce(sum(duration_seconds) FILTER (WHERE outcome = {_ANSWERED}), 0) AS talk
        FROM call_attempts WHERE campaign_id = $1
        """,
        campaign_id,
    )
    return AttemptTotals(row["dialled"], row["rang"], row["answered"], int(row["talk"]))


@dataclass(frozen=True)
class MinuteActivity:
    minute: datetime
    #: Attempts started in this minute.
    dials: int
    #: Attempts that ended in this minute, answered or not.
    completed: int
    failed: int


async def activity_by_minute(
    conn: asyncpg.Connection, now: datetime, minutes: int, campaign_id: UUID | None = None
) -> list[MinuteActivity]:
    """Dials and results for each of the last `minutes` whole minutes up to `now` (the
    current, partial minute last), oldest first; minutes without any are there with zeros."""
    this_minute = now.replace(second=0, microsecond=0)
    first = this_minute - timedelta(minutes=minutes - 1)
    rows = await conn.fetch(
        f"""
        WITH recent AS MATERIALIZED (
            SELECT started_at, coalesce(ended_at, timed_out_at) AS ended_at, outcome
            FROM call_attempts
            WHERE started_at >= $1::timestamptz - $2::interval
              AND ($3::uuid IS NULL OR campaign_id = $3)
        ), dials AS (
            SELECT date_trunc('minute', started_at) AS m, count(*) AS n
            FROM recent WHERE started_at >= $1 GROUP BY 1
        ), ends AS (
            SELECT date_trunc('minute', ended_at) AS m,
                   count(*) FILTER (WHERE outcome = {_ANSWERED}) AS completed,
                   count(*) FILTER (WHERE outcome IS DISTINCT FROM {_ANSWERED}
                                    AND outcome IS DISTINCT FROM {_NOT_PLACED}
                                    AND outcome IS DISTINCT FROM {_CANCELLED}) AS failed
            FROM recent WHERE ended_at >= $1 GROUP BY 1
        )
        SELECT s.m AS minute, coalesce(d.n, 0) AS dials,
               coalesce(e.completed, 0) AS completed, coalesce(e.failed, 0) AS failed
        FROM generate_series($1::timestamptz, $4::timestamptz, interval '1 minute') AS s(m)
        LEFT JOIN dials d ON d.m = s.m LEFT JOIN ends e ON e.m = s.m
        ORDER BY s.m
        """,
        first,
        LONGEST_ATTEMPT,
        campaign_id,
        this_minute,
    )
    return [MinuteActivity(r["minute"], r["dials"], r["completed"], r["failed"]) for r in rows]


async def attempts_ended_since(
    conn: asyncpg.Connection, since: datetime, campaign_id: UUID | None = None
) -> int:
    """Attempts that ended (or timed out) since `since`, whatever their outcome, not counting
    those never placed: the pace at which the campaign works through its numbers."""
    count: int = await conn.fetchval(
        f"""
        SELECT count(*) FROM call_attempts
        WHERE started_at >= $1::timestamptz - $2::interval
          AND ($3::uuid IS NULL OR campaign_id = $3)
          AND coalesce(ended_at, timed_out_at) >= $1
          AND outcome IS DISTINCT FROM {_NOT_PLACED}
        """,
        since,
        LONGEST_ATTEMPT,
        campaign_id,
    )
    return count


async def dials_since(conn: asyncpg.Connection, since: datetime) -> int:
    """Attempts started since `since`, across all campaigns."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM call_attempts WHERE started_at >= $1", since
    )
    return count


@dataclass(frozen=True)
class CampaignTotals:
    by_status: dict[str, int]
    #: Of running campaigns: their own limits added up, and their calls in progress.
    running_limits: int
    running_in_flight: int


async def campaign_totals(conn: asyncpg.Connection) -> CampaignTotals:
    rows = await conn.fetch(
        f"""
        SELECT status, count(*) AS n,
               sum(concurrency_limit) FILTER (WHERE status = {_RUNNING}) AS limits,
               sum(in_flight) FILTER (WHERE status = {_RUNNING}) AS in_flight
        FROM campaigns WHERE kind = 'CAMPAIGN' GROUP BY status
        """
    )
    return CampaignTotals(
        {r["status"]: r["n"] for r in rows},
        sum(int(r["limits"] or 0) for r in rows),
        sum(int(r["in_flight"] or 0) for r in rows),
    )


async def lines_in_use(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT sum(in_flight)::int FROM line_slots")
    return value


async def open_attempts_by_worker(conn: asyncpg.Connection) -> dict[str, int]:
    """Calls in progress, by the worker holding each one's job."""
    rows = await conn.fetch(
        """
        SELECT worker_id, count(*) AS n FROM call_attempts
        WHERE outcome IS NULL AND timed_out_at IS NULL GROUP BY worker_id
        """
    )
    return {r["worker_id"]: r["n"] for r in rows}
