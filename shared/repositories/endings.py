"""The one idempotent way every attempt ends: read, decide (shared.domain.endings), write.

Endings are applied in batches: one read and one write for any number of attempts. Concurrent
endings of one attempt (a result racing the watchdog, a duplicate callback) are settled by
compare-and-set on the attempt row, not by locks held across round trips: the loser reads
again and finds the attempt already ended.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.domain.answering_machine import answered_by as normalised_answer
from shared.domain.attempts import AttemptRef
from shared.domain.campaign import answering_machine_from_row, retry_config_from_row
from shared.domain.endings import (
    AttemptState,
    EndEffect,
    Ending,
    EndingPlan,
    ProviderReport,
    decide,
    ending_of_report,
)
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus
from shared.repositories.attempts import LOCK_INPUT_ATTEMPTS, find_attempt_by_external_id
from shared.repositories.outbox import (
    ANNOUNCED_CALL_STATUSES,
    CALLS_HOOKED,
    bump,
    call_status_event,
    insert_events,
    snapshot,
)
from shared.repositories.sql import after

#: Whether this statement writes events (some enabled endpoint wants call events).
_HOOKED = "(SELECT yes FROM hooked)"


def _moves(call: str) -> str:
    """The ending moves the call (`call`, as it was) on: its attempt is the call's latest and
    the plan changes the call (and, for a late result, the call is still as the plan saw it)."""
    return (
        f"({call}.attempt_count = u.attempt_no AND u.call_status IS NOT NULL"
        f" AND (u.expected_call_status IS NULL OR {call}.status = u.expected_call_status))"
    )


def _announces(call: str) -> str:
    """... and gives it a new status that an event announces."""
    return (
        f"({_moves(call)} AND u.call_status IS DISTINCT FROM {call}.status"
        f" AND u.call_status IN {ANNOUNCED_CALL_STATUSES})"
    )


# In SET and WHERE the target row `c` is the call as it is now (re-read if a concurrent
# statement changed it); RETURNING sees `c` as updated, so it reads the flags from `o`, the
# call as this statement's snapshot saw it. They differ only if a concurrent statement moved
# the call between the two, which the attempt lock leaves to progress reports (SCHEDULED to
# IN_PROGRESS, which changes neither flag).
_MOVES = _moves("c")
_ANNOUNCES = _announces("c")

_READ_ATTEMPTS = """
    SELECT a.call_id, a.attempt_no, a.campaign_id, a.worker_id, a.outcome, a.timed_out_at,
           a.answered_by, c.status AS call_status, c.attempt_count, c.dial_count,
           k.status AS campaign_status, k.max_retries, k.sync_initial_backoff_ms,
           k.sync_backoff_multiplier, k.callback_retry_delay_ms, k.callback_timeout_ms,
           k.retry_outcomes, k.retry_jitter_ratio, k.machine_detection, k.on_machine
    FROM unnest($1::uuid[], $2::int[]) AS u(call_id, attempt_no)
    JOIN call_attempts a ON a.call_id = u.call_id AND a.attempt_no = u.attempt_no
    JOIN calls c ON c.id = a.call_id
    JOIN campaigns k ON k.id = a.campaign_id
"""

# Everything the endings change, in one statement: each attempt is updated only if it is still
# as it was read, and its call and the fences (global and the campaign's) only if that
# succeeded. Attempt columns are written once (coalesce), as the append-only trigger demands.
# Locks are taken in the order every statement keeps: attempts, calls, line slots, campaigns.
# The rows come as one JSON array ($1, built by _input_rows); json rather than jsonb because
# pooled connections carry their own jsonb codec and test connections do not.
_APPLY_ENDINGS = f"""
    WITH input AS (
        SELECT * FROM json_to_recordset($1::json) AS u(
            call_id uuid, attempt_no int, timed_out_at timestamptz, outcome text, reason text,
            duration_seconds int, ended_at timestamptz, external_call_id text,
            call_status text, next_retry_at timestamptz, dial_count int, failure_reason text,
            call_duration_seconds int, campaign_id uuid, releases_line boolean,
            seen_outcome text, seen_timed_out_at timestamptz, expected_call_status text,
            answered_by text, sip_response_code int, call_answered_by text)
    ), hooked AS (
        SELECT {CALLS_HOOKED} AS yes
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
          AND {after("locked")}
          AND a.outcome IS NOT DISTINCT FROM u.seen_outcome
          AND a.timed_out_at IS NOT DISTINCT FROM u.seen_timed_out_at
        RETURNING a.call_id, a.attempt_no, a.line_slot, {snapshot("a", _HOOKED)} AS snap
    ), call AS (
        -- With events wanted the row is also updated when the ending does not move the call
        -- on (a late result), to number the attempt's event.
        UPDATE calls c SET
            status = CASE WHEN {_MOVES} THEN u.call_status ELSE c.status END,
            next_retry_at = CASE WHEN {_MOVES} THEN u.next_retry_at ELSE c.next_retry_at END,
            dial_count = CASE WHEN {_MOVES} THEN u.dial_count ELSE c.dial_count END,
            failure_reason = CASE WHEN {_MOVES} THEN u.failure_reason ELSE c.failure_reason END,
            call_duration_seconds = CASE WHEN {_MOVES} THEN u.call_duration_seconds
                                         ELSE c.call_duration_seconds END,
            answered_by = CASE WHEN {_MOVES} THEN u.call_answered_by ELSE c.answered_by END,
            external_call_id = CASE WHEN {_MOVES}
                THEN coalesce(u.external_call_id, c.external_call_id) ELSE c.external_call_id END,
            updated_at = CASE WHEN {_MOVES} THEN $2 ELSE c.updated_at END,
            event_seq = c.event_seq + {bump(_HOOKED, f"1 + ({_ANNOUNCES})::int")}
        FROM input u JOIN attempt t ON t.call_id = u.call_id AND t.attempt_no = u.attempt_no
        JOIN calls o ON o.id = u.call_id
        WHERE c.id = u.call_id AND ({_MOVES} OR {_HOOKED})
        RETURNING c.id, c.campaign_id, c.status, c.event_seq, u.attempt_no,
                  {_moves("o")} AS moved, {_announces("o")} AS announced,
                  {snapshot("c", _HOOKED)} AS snap
    ), ended_events AS (
        {
    insert_events(
        "SELECT 'call.attempt.ended', k.id, k.campaign_id,"
        " k.event_seq - k.announced::int, jsonb_build_object('call', k.snap, 'attempt', t.snap)"
        " FROM call k JOIN attempt t ON t.call_id = k.id AND t.attempt_no = k.attempt_no"
        " WHERE k.snap IS NOT NULL"
        f" UNION ALL SELECT {call_status_event('k.status')}, k.id, k.campaign_id,"
        " k.event_seq, jsonb_build_object('call', k.snap)"
        " FROM call k WHERE k.snap IS NOT NULL AND k.announced"
    )
}
    ), recount AS (
        -- A late real result changed a call after its campaign may have been counted.
        INSERT INTO recounts_due (campaign_id)
        SELECT DISTINCT u.campaign_id FROM input u JOIN call c ON c.id = u.call_id
        WHERE u.expected_call_status IS NOT NULL AND c.moved
        ON CONFLICT DO NOTHING
    ), released AS (
        SELECT u.campaign_id, t.line_slot
        FROM input u JOIN attempt t ON t.call_id = u.call_id AND t.attempt_no = u.attempt_no
        WHERE u.releases_line
    ), slots AS (
        -- After the calls, before campaigns.
        UPDATE line_slots s SET in_flight = s.in_flight - d.lines
        FROM (
            SELECT line_slot, count(*) AS lines FROM released GROUP BY line_slot ORDER BY line_slot
        ) d
        WHERE s.slot = d.line_slot AND {after("call")}
        RETURNING s.slot
    ), fence AS (
        UPDATE campaigns k SET in_flight = k.in_flight - d.lines
        FROM (
            SELECT campaign_id, count(*) AS lines FROM released
            GROUP BY campaign_id ORDER BY campaign_id
        ) d
        WHERE k.id = d.campaign_id AND {after("slots")}
    )
    SELECT call_id, attempt_no FROM attempt
"""

# Who answered is kept from the first report that says it (write once, like the attempt's
# history); the campaign's answering-machine setting comes back to decide on a hang-up.
_RECORD_PROGRESS = f"""
    WITH progressed AS (
        UPDATE call_attempts SET provider_status = $3,
            external_call_id = coalesce(external_call_id, $4),
            answered_by = coalesce(answered_by, $5)
        WHERE call_id = $1 AND attempt_no = $2 AND outcome IS NULL
        RETURNING call_id
    ), moved AS (
        UPDATE calls SET status = '{CallStatus.IN_PROGRESS}', updated_at = now(),
            external_call_id = coalesce(external_call_id, $4)
        WHERE id = $1 AND attempt_count = $2 AND status = '{CallStatus.SCHEDULED}'
          AND EXISTS (SELECT 1 FROM progressed)
    )
    SELECT a.campaign_id, a.worker_id, EXISTS (SELECT 1 FROM progressed) AS applied,
           coalesce(a.external_call_id, $4) AS external_call_id,
           k.machine_detection, k.on_machine
    FROM call_attempts a JOIN campaigns k ON k.id = a.campaign_id
    WHERE a.call_id = $1 AND a.attempt_no = $2
"""


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
        # One attempt per call, too: the statement updates each call row once, and two
        # endings of one call in it would number their events alike.
        this_round: dict[AttemptRef, tuple[int, Ending]] = {}
        calls_this_round: set[UUID] = set()
        later: list[tuple[int, tuple[AttemptRef, Ending]]] = []
        for index, (ref, ending) in todo:
            if ref in this_round or ref.call_id in calls_this_round:
                later.append((index, (ref, ending)))
            else:
                this_round[ref] = (index, ending)
                calls_this_round.add(ref.call_id)
        states = await _read(conn, list(this_round))
        plans: list[tuple[int, EndingPlan]] = []
        for ref, (index, ending) in this_round.items():
            seen = states.get(ref)
            if seen is None:
                effects[index] = None
                continue
            # Drawn here so that the decision stays a function of its inputs.
            plan = decide(ref, ending, seen, now, random.uniform(-1.0, 1.0))
            if plan is None:
                effects[index] = seen.unchanged(ref)
            else:
                plans.append((index, plan))
        written = await _write(conn, [p for _, p in plans], now) if plans else set()
        for index, plan in plans:
            if plan.ref in written:
                effects[index] = plan.effect()
            else:  # ended by someone else between our read and our write: read it again
                later.append((index, (plan.ref, plan.ending)))
        todo = later
    return [effects[index] for index in range(len(endings))]


async def _read(conn: asyncpg.Connection, refs: list[AttemptRef]) -> dict[AttemptRef, AttemptState]:
    rows = await conn.fetch(_READ_ATTEMPTS, [r.call_id for r in refs], [r.attempt_no for r in refs])
    return {AttemptRef(r["call_id"], r["attempt_no"]): _state_of(r) for r in rows}


def _state_of(row: asyncpg.Record) -> AttemptState:
    return AttemptState(
        campaign_id=row["campaign_id"],
        worker_id=row["worker_id"],
        outcome=AttemptOutcome(row["outcome"]) if row["outcome"] is not None else None,
        timed_out_at=row["timed_out_at"],
        call_status=CallStatus(row["call_status"]),
        call_attempt_count=row["attempt_count"],
        dial_count=row["dial_count"],
        campaign_status=CampaignStatus(row["campaign_status"]),
        retry=retry_config_from_row(row),
        answering_machine=answering_machine_from_row(row),
        answered_by=row["answered_by"],
    )


def _json_time(moment: datetime | None) -> str | None:
    """ISO 8601 with its offset (microseconds kept), as timestamptz reads it back exactly; a
    naive time is taken as UTC, as asyncpg takes it for a timestamptz parameter."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _input_row(plan: EndingPlan, now: datetime) -> dict[str, Any]:
    """One row of _APPLY_ENDINGS's input: what the plan writes and what it saw."""
    ending, change, seen = plan.ending, plan.change, plan.seen
    timing_out = ending.outcome is None
    return {
        "call_id": str(plan.ref.call_id),
        "attempt_no": plan.ref.attempt_no,
        "timed_out_at": _json_time(now if timing_out else None),
        "outcome": ending.outcome.value if ending.outcome else None,
        "reason": None if timing_out else ending.reason,
        "duration_seconds": ending.duration_seconds,
        "ended_at": _json_time(None if timing_out else now),
        "external_call_id": ending.external_call_id,
        "call_status": change.status.value if change else None,
        "next_retry_at": _json_time(change.next_retry_at if change else None),
        "dial_count": change.dial_count if change else None,
        "failure_reason": change.failure_reason if change else None,
        "call_duration_seconds": change.duration_seconds if change else None,
        "campaign_id": str(seen.campaign_id),
        "releases_line": plan.releases_line,
        "seen_outcome": seen.outcome.value if seen.outcome else None,
        "seen_timed_out_at": _json_time(seen.timed_out_at),
        "expected_call_status": (
            change.expected_status.value if change and change.expected_status else None
        ),
        "answered_by": ending.answered_by,
        "sip_response_code": ending.sip_response_code,
        "call_answered_by": change.answered_by if change else None,
    }


async def _write(
    conn: asyncpg.Connection, plans: list[EndingPlan], now: datetime
) -> set[AttemptRef]:
    """Apply the plans in one statement; the attempts it could write (compare and set)."""
    rows = await conn.fetch(_APPLY_ENDINGS, json.dumps([_input_row(p, now) for p in plans]), now)
    return {AttemptRef(r["call_id"], r["attempt_no"]) for r in rows}


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
        ending = ending_of_report(report)
        if ending is None:
            effects[index] = await _record_progress(conn, ref, report)
        else:
            finals.append((index, (ref, ending)))
    if finals:
        ended = await end_attempts(conn, [item for _, item in finals], now)
        for (index, _), effect in zip(finals, ended, strict=True):
            effects[index] = effect
    return effects


async def _record_progress(
    conn: asyncpg.Connection, ref: AttemptRef, report: ProviderReport
) -> EndEffect | None:
    """Progress (ringing, answered...) of an attempt without a result yet; ignored once it has
    one. An answer by a machine, under a campaign that hangs up on machines, asks for the
    hang-up (EndEffect.machine_hang_up)."""
    who = normalised_answer(report.answered_by)
    row = await conn.fetchrow(
        _RECORD_PROGRESS,
        ref.call_id,
        ref.attempt_no,
        report.status,
        report.external_call_id,
        who.value if who else None,
    )
    if row is None:
        return None
    hang_up = row["applied"] and answering_machine_from_row(row).hangs_up_on(who)
    return EndEffect(
        ref,
        row["campaign_id"],
        row["worker_id"],
        row["applied"],
        False,
        None,
        machine_hang_up=row["external_call_id"] if hang_up else None,
    )
