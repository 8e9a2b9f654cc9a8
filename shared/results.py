"""The one idempotent function through which every attempt ends.

A provider's result (a message from the mock, an HTTP callback), the watchdog's timeout and the
worker's own verdict on a dial all end attempts here. Duplicates change nothing, a final state
never regresses, and a real result that arrives after the watchdog timed the attempt out is
still recorded and withdraws the retry that the timeout scheduled, if it has not been dialled.

Endings are applied in batches: one read and one write for any number of attempts. Concurrent
endings of one attempt (a result racing the watchdog, a duplicate callback) are settled by
compare-and-set on the attempt row, not by locks held across round trips: the loser reads
again and finds the attempt already ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.campaign import retry_config_from_row
from shared.domain.retry_policy import after_attempt
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus
from shared.messages.telephony import ProviderStatus
from shared.repositories.attempts import (
    LOCK_INPUT_ATTEMPTS,
    AttemptRef,
    find_attempt_by_external_id,
)

TIMEOUT_REASON = "no result within callbackTimeoutMs"

_FINAL_PROVIDER_STATUSES: dict[str, AttemptOutcome] = {
    "COMPLETED": AttemptOutcome.COMPLETED,
    "BUSY": AttemptOutcome.BUSY,
    "NO_ANSWER": AttemptOutcome.NO_ANSWER,
    "FAILED": AttemptOutcome.FAILED,
    "CANCELED": AttemptOutcome.CANCELED,
}


def outcome_of(status: ProviderStatus) -> AttemptOutcome | None:
    """The attempt outcome a provider status means; None for progress (queued, ringing...)."""
    return _FINAL_PROVIDER_STATUSES.get(status)


@dataclass(frozen=True)
class Ending:
    """How an attempt ended. `outcome` None means no result came in time."""

    outcome: AttemptOutcome | None
    reason: str | None = None
    duration_seconds: int | None = None
    external_call_id: str | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None


@dataclass(frozen=True)
class EndEffect:
    """What ending an attempt changed, for the caller to tell the worker and the dispatcher."""

    ref: AttemptRef
    campaign_id: UUID
    #: The worker holding the attempt's job.
    worker_id: str
    #: False for a duplicate: nothing changed.
    applied: bool
    #: True if the attempt held a line until now: its job may be acknowledged.
    released_line: bool
    call_status: CallStatus | None


_READ_ATTEMPTS = """
    SELECT a.call_id, a.attempt_no, a.campaign_id, a.worker_id, a.outcome, a.timed_out_at,
           c.status AS call_status, c.attempt_count, c.dial_count,
           k.status AS campaign_status, k.max_retries, k.sync_initial_backoff_ms,
           k.sync_backoff_multiplier, k.callback_retry_delay_ms, k.callback_timeout_ms
    FROM unnest($1::uuid[], $2::int[]) AS u(call_id, attempt_no)
    JOIN call_attempts a ON a.call_id = u.call_id AND a.attempt_no = u.attempt_no
    JOIN calls c ON c.id = a.call_id
    JOIN campaigns k ON k.id = a.campaign_id
"""

# Everything the endings change, in one statement: each attempt is updated only if it is still
# as it was read, and its call and the fences (global and the campaign's) only if that
# succeeded. Attempt columns are written once (coalesce), as the append-only trigger demands.
# Locks are taken in the order every statement keeps: attempts, calls, line slots, campaigns.
_APPLY_ENDINGS = f"""
    WITH input AS (
        SELECT * FROM unnest(
            $1::uuid[], $2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::int[],
            $7::timestamptz[], $8::text[], $9::text[], $10::timestamptz[], $11::int[],
            $12::text[], $13::int[], $14::uuid[], $15::bool[], $16::text[],
            $17::timestamptz[], $18::text[], $20::text[], $21::int[]
        ) AS u(call_id, attempt_no, timed_out_at, outcome, reason, duration_seconds, ended_at,
               external_call_id, call_status, next_retry_at, dial_count, failure_reason,
               call_duration_seconds, campaign_id, releases_line, seen_outcome,
               seen_timed_out_at, expected_call_status, answered_by, sip_response_code)
    ), locked AS ({LOCK_INPUT_ATTEMPTS}
    ), attempt AS (
        UPDATE call_attempts a SET
            timed_out_at = coalesce(a.timed_out_at, u.timed_out_at),
            outcome = coalesce(a.outcome, u.outcome),
            reason = coalesce(a.reason, u.reason),
            duration_seconds = coalesce(a.duration_seconds, u.duration_seconds),
            ended_at = coalesce(a.ended_at, u.ended_at),
            external_call_id = coalesce(a.external_call_id, u.external_call_id),
            answered_by = coalesce(a.answered_by, u.answered_by),
            sip_response_code = coalesce(a.sip_response_code, u.sip_response_code)
        FROM input u
        WHERE a.call_id = u.call_id AND a.attempt_no = u.attempt_no
          AND (SELECT count(*) FROM locked) >= 0
          AND a.outcome IS NOT DISTINCT FROM u.seen_outcome
          AND a.timed_out_at IS NOT DISTINCT FROM u.seen_timed_out_at
        RETURNING a.call_id, a.attempt_no, a.line_slot
    ), call AS (
        UPDATE calls c SET status = u.call_status, next_retry_at = u.next_retry_at,
            dial_count = u.dial_count, failure_reason = u.failure_reason,
            call_duration_seconds = u.call_duration_seconds,
            external_call_id = coalesce(u.external_call_id, c.external_call_id),
            updated_at = $19
        FROM input u JOIN attempt t ON t.call_id = u.call_id AND t.attempt_no = u.attempt_no
        WHERE c.id = u.call_id AND c.attempt_count = u.attempt_no AND u.call_status IS NOT NULL
          AND (u.expected_call_status IS NULL OR c.status = u.expected_call_status)
        RETURNING c.id
    ), recount AS (
        -- A late real result changed a call after its campaign may have been counted.
        INSERT INTO recounts_due (campaign_id)
        SELECT DISTINCT u.campaign_id FROM input u JOIN call c ON c.id = u.call_id
        WHERE u.expected_call_status IS NOT NULL
        ON CONFLICT DO NOTHING
    ), released AS (
        SELECT u.campaign_id, t.line_slot
        FROM input u JOIN attempt t ON t.call_id = u.call_id AND t.attempt_no = u.attempt_no
        WHERE u.releases_line
    ), slots AS (
        -- After the calls (the subquery on `call` makes it wait for them), before campaigns.
        UPDATE line_slots s SET in_flight = s.in_flight - d.lines
        FROM (
            SELECT line_slot, count(*) AS lines FROM released GROUP BY line_slot ORDER BY line_slot
        ) d
        WHERE s.slot = d.line_slot AND (SELECT count(*) FROM call) >= 0
        RETURNING s.slot
    ), fence AS (
        UPDATE campaigns k SET in_flight = k.in_flight - d.lines
        FROM (
            SELECT campaign_id, count(*) AS lines FROM released
            GROUP BY campaign_id ORDER BY campaign_id
        ) d
        WHERE k.id = d.campaign_id AND (SELECT count(*) FROM slots) >= 0
    )
    SELECT call_id, attempt_no FROM attempt
"""


@dataclass(frozen=True)
class _CallChange:
    status: CallStatus
    next_retry_at: datetime | None
    dial_count: int
    failure_reason: str | None
    duration_seconds: int | None
    #: The call must still be in this status (a late result must not overtake a retry).
    expected_status: CallStatus | None = None


@dataclass(frozen=True)
class _Plan:
    """One ending, decided against what was read, ready to be written."""

    index: int
    ref: AttemptRef
    ending: Ending
    row: asyncpg.Record
    releases_line: bool
    change: _CallChange | None

    def effect(self) -> EndEffect:
        return EndEffect(
            self.ref,
            self.row["campaign_id"],
            self.row["worker_id"],
            True,
            self.releases_line,
            self.change.status if self.change else None,
        )


async def end_attempt(
    conn: asyncpg.Connection, ref: AttemptRef, ending: Ending, now: datetime
) -> EndEffect | None:
    """Record how the attempt `ref` ended and move its call on; None if there is no such attempt."""
    [effect] = await end_attempts(conn, [(ref, ending)], now)
    return effect


async def end_attempts(
    conn: asyncpg.Connection, endings: Sequence[tuple[AttemptRef, Ending]], now: datetime
) -> list[EndEffect | None]:
    """end_attempt for many attempts at once; the effects come back in the same order."""
    effects: dict[int, EndEffect | None] = {}
    todo = list(enumerate(endings))
    while todo:
        # One ending per attempt per round; a second one for the same attempt goes next round
        # and meets the first as already applied.
        this_round: dict[AttemptRef, tuple[int, Ending]] = {}
        later: list[tuple[int, tuple[AttemptRef, Ending]]] = []
        for index, (ref, ending) in todo:
            if ref in this_round:
                later.append((index, (ref, ending)))
            else:
                this_round[ref] = (index, ending)
        rows = await _read(conn, list(this_round))
        plans: list[_Plan] = []
        for ref, (index, ending) in this_round.items():
            row = rows.get(ref)
            if row is None:
                effects[index] = None
                continue
            plan = _decide(index, ref, ending, row, now)
            if plan is None:
                effects[index] = EndEffect(
                    ref, row["campaign_id"], row["worker_id"], False, False, None
                )
            else:
                plans.append(plan)
        written = await _write(conn, plans, now) if plans else set()
        for plan in plans:
            if plan.ref in written:
                effects[plan.index] = plan.effect()
            else:  # ended by someone else between our read and our write: read it again
                later.append((plan.index, (plan.ref, plan.ending)))
        todo = later
    return [effects[index] for index in range(len(endings))]


async def _read(
    conn: asyncpg.Connection, refs: list[AttemptRef]
) -> dict[AttemptRef, asyncpg.Record]:
    rows = await conn.fetch(_READ_ATTEMPTS, [r.call_id for r in refs], [r.attempt_no for r in refs])
    return {AttemptRef(r["call_id"], r["attempt_no"]): r for r in rows}


def _decide(
    index: int, ref: AttemptRef, ending: Ending, row: asyncpg.Record, now: datetime
) -> _Plan | None:
    """What this ending should write, or None if it changes nothing (a duplicate)."""
    was_open = row["outcome"] is None and row["timed_out_at"] is None
    timing_out = ending.outcome is None
    if (timing_out and not was_open) or (not timing_out and row["outcome"] is not None):
        return None
    is_current = row["attempt_count"] == ref.attempt_no
    change: _CallChange | None = None
    if was_open and is_current:
        change = _next_call_state(row, ending, now)
    elif ending.outcome is AttemptOutcome.COMPLETED and is_current:
        # A late real success after the watchdog gave up: the retry it scheduled has not been
        # dialled (this is still the call's latest attempt), so withdraw it.
        change = _late_completion(row, ending)
    return _Plan(index, ref, ending, row, was_open, change)


def _next_call_state(row: asyncpg.Record, ending: Ending, now: datetime) -> _CallChange:
    dials = row["dial_count"] - (1 if ending.outcome is AttemptOutcome.NOT_PLACED else 0)
    step = after_attempt(
        ending.outcome,
        dials,
        retry_config_from_row(row),
        now,
        campaign_cancelled=row["campaign_status"] == CampaignStatus.CANCELLED,
    )
    failure = None
    if ending.outcome is not AttemptOutcome.COMPLETED:
        failure = ending.reason or (ending.outcome.value if ending.outcome else TIMEOUT_REASON)
    return _CallChange(step.status, step.next_retry_at, dials, failure, ending.duration_seconds)


def _late_completion(row: asyncpg.Record, ending: Ending) -> _CallChange | None:
    status = CallStatus(row["call_status"])
    if status not in (CallStatus.FAILED, CallStatus.PERMANENTLY_FAILED, CallStatus.CANCELLED):
        return None
    return _CallChange(
        CallStatus.COMPLETED,
        None,
        row["dial_count"],
        None,
        ending.duration_seconds,
        expected_status=status,
    )


async def _write(conn: asyncpg.Connection, plans: list[_Plan], now: datetime) -> set[AttemptRef]:
    """Apply the plans in one statement; the attempts it could write (compare and set)."""

    def change_of(p: _Plan) -> _CallChange | None:
        return p.change

    timing_out = [p.ending.outcome is None for p in plans]
    rows = await conn.fetch(
        _APPLY_ENDINGS,
        [p.ref.call_id for p in plans],
        [p.ref.attempt_no for p in plans],
        [now if t else None for t in timing_out],
        [p.ending.outcome.value if p.ending.outcome else None for p in plans],
        [None if t else p.ending.reason for p, t in zip(plans, timing_out, strict=True)],
        [p.ending.duration_seconds for p in plans],
        [None if t else now for t in timing_out],
        [p.ending.external_call_id for p in plans],
        [c.status.value if (c := change_of(p)) else None for p in plans],
        [c.next_retry_at if (c := change_of(p)) else None for p in plans],
        [c.dial_count if (c := change_of(p)) else None for p in plans],
        [c.failure_reason if (c := change_of(p)) else None for p in plans],
        [c.duration_seconds if (c := change_of(p)) else None for p in plans],
        [p.row["campaign_id"] for p in plans],
        [p.releases_line for p in plans],
        [p.row["outcome"] for p in plans],
        [p.row["timed_out_at"] for p in plans],
        [
            c.expected_status.value if (c := change_of(p)) and c.expected_status else None
            for p in plans
        ],
        now,
        [p.ending.answered_by for p in plans],
        [p.ending.sip_response_code for p in plans],
    )
    return {AttemptRef(r["call_id"], r["attempt_no"]) for r in rows}


@dataclass(frozen=True)
class ProviderReport:
    """A provider's status for one attempt, however it reached us."""

    external_call_id: str
    status: ProviderStatus
    ref: AttemptRef | None = None
    duration_seconds: int | None = None
    failure_reason: str | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None


async def apply_provider_report(
    conn: asyncpg.Connection, report: ProviderReport, now: datetime
) -> EndEffect | None:
    """Apply a provider's status report; None if it names no attempt we know."""
    [effect] = await apply_provider_reports(conn, [report], now)
    return effect


async def apply_provider_reports(
    conn: asyncpg.Connection, reports: Sequence[ProviderReport], now: datetime
) -> list[EndEffect | None]:
    """apply_provider_report for many reports; final results are ended in one batch."""
    effects: list[EndEffect | None] = [None] * len(reports)
    finals: list[tuple[int, tuple[AttemptRef, Ending]]] = []
    for index, report in enumerate(reports):
        ref = report.ref or await find_attempt_by_external_id(conn, report.external_call_id)
        if ref is None:
            continue
        outcome = outcome_of(report.status)
        if outcome is None:
            effects[index] = await _record_progress(conn, ref, report)
            continue
        reason = report.failure_reason
        if outcome is not AttemptOutcome.COMPLETED and not reason:
            reason = outcome.value
        ending = Ending(
            outcome,
            reason,
            report.duration_seconds,
            report.external_call_id,
            report.answered_by,
            report.sip_response_code,
        )
        finals.append((index, (ref, ending)))
    if finals:
        ended = await end_attempts(conn, [item for _, item in finals], now)
        for (index, _), effect in zip(finals, ended, strict=True):
            effects[index] = effect
    return effects


async def _record_progress(
    conn: asyncpg.Connection, ref: AttemptRef, report: ProviderReport
) -> EndEffect | None:
    """Progress (ringing...) of an attempt without a result yet; ignored once it has one."""
    row = await conn.fetchrow(
        """
        WITH progressed AS (
            UPDATE call_attempts SET provider_status = $3,
                external_call_id = coalesce(external_call_id, $4),
                answered_by = coalesce(answered_by, $5)
            WHERE call_id = $1 AND attempt_no = $2 AND outcome IS NULL
            RETURNING call_id
        ), moved AS (
            UPDATE calls SET status = 'IN_PROGRESS', updated_at = now(),
                external_call_id = coalesce(external_call_id, $4)
            WHERE id = $1 AND attempt_count = $2 AND status = 'SCHEDULED'
              AND EXISTS (SELECT 1 FROM progressed)
        )
        SELECT campaign_id, worker_id, EXISTS (SELECT 1 FROM progressed) AS applied
        FROM call_attempts WHERE call_id = $1 AND attempt_no = $2
        """,
        ref.call_id,
        ref.attempt_no,
        report.status,
        report.external_call_id,
        report.answered_by,
    )
    if row is None:
        return None
    return EndEffect(ref, row["campaign_id"], row["worker_id"], row["applied"], False, None)
