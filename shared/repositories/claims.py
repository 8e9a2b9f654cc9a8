"""The claim that starts attempts: the concurrency fence and the next number to dial.

The fence is `campaigns.in_flight`: an attempt starts only by raising it while it is below the
concurrency limit, in the same statement that claims the call and records the attempt, and it
is lowered in the transaction that ends the attempt (see shared.repositories.endings). So
however many workers hold the campaign's jobs, the database never lets more calls start than
the limit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from shared.domain.attempts import AttemptRef, DialRules, NoDial, StartedAttempt
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.repositories.live_calls import NOT_IN_LIVE_CALL
from shared.repositories.number_dials import KEPT, any_caps, capped_now, count_since
from shared.repositories.outbox import CALLS_HOOKED, announce_calls, bump, insert_events, snapshot
from shared.repositories.suppressions import SUPPRESSED, suppressed_now
from shared.repositories.zone_windows import (
    callable_now,
    every_group_open,
    group_of,
    open_groups,
    valid_now,
)

#: The check that fails a claim that would take a number past a cap (migration 0015).
_WITHIN_CAPS = "number_dials_within_caps"

#: Slots the global line count is kept in (table line_slots, migration 0005).
LINE_SLOTS = 16

#: A slot's part of the capacity ($7): the parts add up to it.
_SLOT_PART = f"($7 / {LINE_SLOTS} + CASE WHEN slot < $7 % {LINE_SLOTS} THEN 1 ELSE 0 END)"

#: The calling rules (windows per zone group, the policy, holidays, schedule, the number's own
#: validity), as the dispatcher last worked them out for the settings version ($5) the worker
#: read: a window closes at its instant, whether or not a pass has come since.
_CALLABLE = callable_now("c", "$1", "$5", "$2")
_OPEN_GROUPS = open_groups("$1", "$5", "$2")
_EVERY_GROUP_OPEN = every_group_open("$1", "$5", "$2")
#: Numbers whose caps are reached wait where they are: passed over by the scans, so that
#: the numbers behind them are found. Looked up only when some group of the campaign has caps.
_UNDER_CAPS = f"(NOT (SELECT yes FROM capping) OR NOT {capped_now('c', '$1', '$2')})"
#: New numbers wanted: the jobs that have no number yet after the due retries.
_FRESH_WANTED = "(SELECT count(*) FROM wanted) - (SELECT count(*) FROM due_retry)"
#: Candidates read per wanted number when some group is closed (see fresh_candidate).
_CANDIDATES = 4
#: Whether this claim writes events (some enabled endpoint wants call events).
_HOOKED = "(SELECT yes FROM hooked)"

# One statement for several jobs of one campaign, so the rows it locks are locked only while it
# runs. For the jobs ($3) that have no attempt still open (a redelivery has one), pick as many
# numbers the calling rules allow now, most urgent first (due retries before new numbers); take
# lines of the global capacity from the slots that have room and that no other claim holds, as
# many as the picked numbers need; then take as many lines of the campaign as it has below its
# limit and its share (and the slots gave), if the settings are still the version the worker
# read. The first `granted` numbers are dialled, each under one job, each attempt recorded
# with the slot its line came from. Locks go calls and slots (neither ever waited for), then
# campaign: the order every statement here keeps.
_CLAIM = f"""
    WITH job AS (
        SELECT job_id, ord FROM unnest($3::uuid[]) WITH ORDINALITY AS j(job_id, ord)
    ), hooked AS (
        SELECT {CALLS_HOOKED} AS yes
    ), prior AS (
        SELECT job_id FROM call_attempts
        WHERE job_id = ANY($3::uuid[]) AND outcome IS NULL AND timed_out_at IS NULL
    ), wanted AS (
        SELECT job_id, row_number() OVER (ORDER BY ord) AS rank
        FROM job WHERE job_id NOT IN (SELECT job_id FROM prior)
    ), capping AS (
        SELECT {any_caps("$1")} AS yes
    ), due_retry AS (
        SELECT c.id, c.next_retry_at, c.phone_number FROM calls c
        WHERE c.campaign_id = $1 AND c.status = '{CallStatus.FAILED}' AND c.next_retry_at <= $2
          AND {_CALLABLE} AND {NOT_IN_LIVE_CALL} AND {_UNDER_CAPS}
        ORDER BY c.next_retry_at LIMIT (SELECT count(*) FROM wanted) FOR UPDATE SKIP LOCKED
    ), every_group_open AS (
        SELECT {_EVERY_GROUP_OPEN} AS yes
    ), fresh_candidate AS (
        -- Read without locks: the first numbers of each open group, then the first of those
        -- in load order; more than wanted, so that claims racing for the first ones still
        -- find enough. One index range per open group: never a walk past closed ones.
        SELECT p.id FROM ({_OPEN_GROUPS}) g CROSS JOIN LATERAL (
            SELECT c.id, c.seq FROM calls c
            WHERE c.campaign_id = $1 AND c.status = '{CallStatus.PENDING}'
              AND {group_of("c")} = g.zone_group_id AND {valid_now("c", "$2")}
              AND {_UNDER_CAPS}
            ORDER BY c.seq LIMIT {_CANDIDATES} * ({_FRESH_WANTED})
        ) p
        ORDER BY p.seq LIMIT {_CANDIDATES} * ({_FRESH_WANTED})
    ), fresh AS (
        -- Every group open (the usual case): one scan in load order, with no group to
        -- check (a load registers its groups with its numbers, in one transaction, so this
        -- snapshot has the group of every number it sees). Some closed: the candidates
        -- above. Only one branch runs (each is gated by a one-time filter).
        SELECT id, seq, phone_number FROM (
            SELECT c.id, c.seq, c.phone_number FROM calls c
            WHERE c.campaign_id = $1 AND c.status = '{CallStatus.PENDING}'
              AND {valid_now("c", "$2")} AND {NOT_IN_LIVE_CALL} AND {_UNDER_CAPS}
            ORDER BY c.seq LIMIT {_FRESH_WANTED}
            FOR UPDATE SKIP LOCKED
        ) in_order WHERE (SELECT yes FROM every_group_open)
        UNION ALL
        SELECT id, seq, phone_number FROM (
            SELECT c.id, c.seq, c.phone_number FROM calls c
            WHERE c.id IN (SELECT id FROM fresh_candidate)
              AND c.status = '{CallStatus.PENDING}' AND {NOT_IN_LIVE_CALL}
            ORDER BY c.seq LIMIT {_FRESH_WANTED}
            FOR UPDATE OF c SKIP LOCKED
        ) by_group WHERE NOT (SELECT yes FROM every_group_open)
    ), barred AS (
        -- Suppressed numbers among those taken: they end here, in the statement that would
        -- have dialled them, so a suppression is obeyed by every claim that starts after it.
        SELECT id FROM (
            SELECT id, phone_number FROM due_retry UNION ALL SELECT id, phone_number FROM fresh
        ) t WHERE {suppressed_now("t", "$1", "$2")}
    ), ended_barred AS (
        UPDATE calls c SET status = '{CallStatus.CANCELLED}', failure_reason = '{SUPPRESSED}',
            next_retry_at = NULL, updated_at = $2, event_seq = c.event_seq + {bump(_HOOKED)}
        WHERE c.id IN (SELECT id FROM barred)
        RETURNING c.id, c.campaign_id, c.event_seq, {snapshot("c", _HOOKED)} AS snap
    ), barred_events AS (
        {announce_calls("ended_barred", "'call.cancelled'")}
    ), picked AS (
        SELECT id, row_number() OVER (ORDER BY retry_at NULLS LAST, seq) AS rank FROM (
            SELECT id, next_retry_at AS retry_at, NULL::bigint AS seq FROM due_retry
            UNION ALL SELECT id, NULL, seq FROM fresh
        ) p WHERE id NOT IN (SELECT id FROM barred)
    ), planned_slot AS (
        -- Read without locks: the first slots (from a random one on, so that claims seldom
        -- meet) whose room covers the picked numbers. Only those are then locked.
        SELECT slot FROM (
            SELECT slot, sum(room) OVER (ORDER BY ord) - room AS before FROM (
                SELECT slot, {_SLOT_PART} - in_flight AS room,
                       (slot + $8) % {LINE_SLOTS} AS ord
                FROM line_slots
            ) s WHERE room > 0
        ) s WHERE before < (SELECT count(*) FROM picked)
    ), slot AS (
        SELECT slot, {_SLOT_PART} - in_flight AS room FROM line_slots
        WHERE slot IN (SELECT slot FROM planned_slot) AND in_flight < {_SLOT_PART}
        FOR UPDATE SKIP LOCKED
    ), fence_read AS (
        SELECT id, LEAST(
            (SELECT count(*) FROM picked),
            LEAST(concurrency_limit, allowed_lines) - in_flight,
            (SELECT sum(room) FROM slot),
            -- Keeps a lowered capacity from letting slots under their new part take lines
            -- while the total is still above it.
            $7 - (SELECT sum(in_flight) FROM line_slots)
        ) AS lines
        FROM campaigns
        WHERE id = $1 AND status = '{CampaignStatus.IN_PROGRESS}' AND settings_version = $5
          AND EXISTS (SELECT 1 FROM slot)
        FOR UPDATE
    ), fence AS (
        UPDATE campaigns k SET in_flight = k.in_flight + f.lines,
            lines_granted = k.lines_granted + f.lines
        FROM fence_read f WHERE k.id = f.id AND f.lines > 0
        RETURNING f.lines
    ), granted AS (
        SELECT coalesce((SELECT lines FROM fence), 0) AS lines
    ), lines_from AS (
        -- Numbers ranked (before, before + room] take their line from this slot.
        SELECT slot, room, coalesce(sum(room) OVER (
            ORDER BY slot ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
        FROM slot
    ), taken AS (
        UPDATE line_slots s SET in_flight = s.in_flight + LEAST(l.room, g.lines - l.before)
        FROM lines_from l, granted g
        WHERE s.slot = l.slot AND l.before < g.lines
        RETURNING s.slot
    ), dialled AS (
        UPDATE calls c SET status = '{CallStatus.SCHEDULED}',
            attempt_count = c.attempt_count + 1, dial_count = c.dial_count + 1,
            last_attempted_at = $2, next_retry_at = NULL, updated_at = $2,
            event_seq = c.event_seq + {bump(_HOOKED)}
        FROM picked p, granted g
        WHERE c.id = p.id AND p.rank <= g.lines AND EXISTS (SELECT 1 FROM taken)
        RETURNING c.id, c.campaign_id, c.phone_number, c.attempt_count, c.zone_group_id, p.rank,
                  c.event_seq, {snapshot("c", _HOOKED)} AS snap
    ), dialled_caps AS (
        SELECT d.phone_number, w.cap_attempts, w.cap_hours FROM dialled d
        JOIN campaign_zone_groups w
          ON w.campaign_id = $1 AND w.zone_group_id = {group_of("d")}
        WHERE w.cap_attempts <> '{{}}'
    ), counted AS (
        -- Every dial counts for its number, capped or not (a cap counts what other campaigns
        -- did). The row is locked and read as last committed: a claim that raced this one
        -- for the number shows here, and a cap it fills fails the check on over_cap.
        INSERT INTO number_dials AS n (phone_number, started)
        SELECT phone_number, ARRAY[$2::timestamptz] FROM dialled
        ON CONFLICT (phone_number) DO UPDATE SET
            started = ARRAY(SELECT t FROM unnest(n.started) t WHERE t > $2 - {KEPT})
                || $2::timestamptz,
            over_cap = EXISTS (
                SELECT 1 FROM dialled_caps x
                CROSS JOIN LATERAL unnest(x.cap_attempts, x.cap_hours) AS cap (m, h)
                WHERE x.phone_number = n.phone_number
                  AND {count_since("n.started", "cap.h", "$2")} >= cap.m)
    ), recorded AS (
        INSERT INTO call_attempts (call_id, attempt_no, campaign_id, phone_number, job_id,
                                   worker_id, started_at, expected_callback_by, line_slot)
        SELECT d.id, d.attempt_count, d.campaign_id, d.phone_number, w.job_id, $4, $2, $6,
               l.slot
        FROM dialled d
        JOIN wanted w ON w.rank = d.rank
        JOIN lines_from l ON d.rank > l.before AND d.rank <= l.before + l.room
        RETURNING call_id, attempt_no, phone_number, job_id,
                  {snapshot("call_attempts", _HOOKED)} AS snap
    ), started_events AS (
        {
    insert_events(
        "SELECT 'call.attempt.started', d.id, d.campaign_id, d.event_seq,"
        " jsonb_build_object('call', d.snap, 'attempt', r.snap)"
        " FROM dialled d JOIN recorded r ON r.call_id = d.id WHERE d.snap IS NOT NULL"
    )
}
    )
    SELECT j.job_id, j.job_id IN (SELECT job_id FROM prior) AS job_started,
           r.call_id, r.attempt_no, r.phone_number, k.status, k.settings_version,
           (SELECT count(*) FROM picked) AS picked,
           (SELECT count(*) FROM ended_barred) AS barred
    FROM job j CROSS JOIN campaigns k LEFT JOIN recorded r ON r.job_id = j.job_id
    WHERE k.id = $1
    ORDER BY j.ord
"""


async def start_attempts(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_ids: Sequence[UUID],
    worker_id: str,
    now: datetime,
    capacity: int,
    *,
    dial_window: timedelta = timedelta(0),
) -> list[StartedAttempt | NoDial]:
    """For each job, take a line of the campaign and record an attempt at its most urgent
    number; at most `capacity` calls are in progress across all campaigns. The answers come
    in the order of `job_ids`.

    The attempt's result is expected `callbackTimeoutMs` after the dial request's own window
    (`dial_window`, the worker's patience for the carrier's answer) closes: until then the
    request may still become a call, so its line must not be given to another.

    Only numbers the calling rules allow now are taken (`callable_now`). Due retries go
    before new numbers. A number already in a live call (in any campaign) is
    passed over. Two claims racing for one number, or a job given twice, break the shared
    statement on a unique index: then each job is claimed alone.
    """
    if len(job_ids) > 1:
        try:
            return await _claim(conn, rules, job_ids, worker_id, now, capacity, dial_window)
        except (
            asyncpg.UniqueViolationError,
            asyncpg.CheckViolationError,
            asyncpg.CardinalityViolationError,
        ):
            pass
    return [
        (await _claim_alone(conn, rules, job_id, worker_id, now, capacity, dial_window))
        for job_id in job_ids
    ]


async def _claim_alone(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_id: UUID,
    worker_id: str,
    now: datetime,
    capacity: int,
    dial_window: timedelta,
) -> StartedAttempt | NoDial:
    for _ in range(3):
        try:
            [answer] = await _claim(conn, rules, [job_id], worker_id, now, capacity, dial_window)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "call_attempts_one_open_per_job":
                return NoDial.JOB_STARTED
            if exc.constraint_name == "call_attempts_one_live_call_per_number":
                continue
            raise
        except asyncpg.CheckViolationError as exc:
            # Another claim gave the number its last attempt under a cap meanwhile: a new
            # statement sees it, and passes the number over.
            if exc.constraint_name == _WITHIN_CAPS:
                continue
            raise
        return answer
    return NoDial.NOTHING_TO_DIAL


async def _claim(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_ids: Sequence[UUID],
    worker_id: str,
    now: datetime,
    capacity: int,
    dial_window: timedelta,
) -> list[StartedAttempt | NoDial]:
    rows = await conn.fetch(
        _CLAIM,
        rules.campaign_id,
        now,
        job_ids,
        worker_id,
        rules.version,
        now + dial_window + timedelta(milliseconds=rules.retry.callback_timeout_ms),
        capacity,
        random.randrange(LINE_SLOTS),
    )
    if not rows:  # the campaign is gone
        return [NoDial.NO_FREE_LINE] * len(job_ids)
    started = sum(row["call_id"] is not None for row in rows)
    return [_answer(row, rules, started) for row in rows]


def _answer(row: asyncpg.Record, rules: DialRules, started: int) -> StartedAttempt | NoDial:
    if row["job_started"]:
        return NoDial.JOB_STARTED
    if row["call_id"] is not None:
        return StartedAttempt(
            AttemptRef(row["call_id"], row["attempt_no"]),
            rules.campaign_id,
            row["phone_number"],
            rules.retry,
            rules.version,
            machine_detection=rules.answering_machine.detect,
        )
    if row["settings_version"] != rules.version:
        return NoDial.RULES_CHANGED
    if row["status"] != CampaignStatus.IN_PROGRESS or row["picked"] > started:
        return NoDial.NO_FREE_LINE
    if row["barred"]:
        return NoDial.NUMBERS_BARRED
    return NoDial.NOTHING_TO_DIAL
