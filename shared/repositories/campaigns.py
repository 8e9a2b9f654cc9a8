"""SQL about campaigns. Every function takes a connection; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from shared.domain.answering_machine import AnsweringMachine
from shared.domain.business_hours import BusinessHours
from shared.domain.campaign import CAMPAIGN, Campaign
from shared.domain.retry_policy import RetryConfig, outcomes_to_json
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.domain.webhook_events import EventType
from shared.repositories import zone_windows
from shared.repositories.outbox import (
    CALLS_HOOKED,
    CAMPAIGNS_HOOKED,
    announce_calls,
    announce_campaigns,
    bump,
    campaign_status_event,
    snapshot,
)
from shared.repositories.sql import (
    FINAL_CAMPAIGN_STATUSES_SQL,
    OPEN_CALL_STATUSES_SQL,
    sql_list,
)

COLUMNS = """
    id, kind, name, description, status, concurrency_limit, priority, max_retries,
    sync_initial_backoff_ms, sync_backoff_multiplier, callback_retry_delay_ms,
    callback_timeout_ms, window_start_minute, window_end_minute, timezone, allowed_days,
    in_flight, settings_version, allowed_lines, calls_per_second, created_at, updated_at,
    started_at, finished_at, calling, start_at, end_at, auto_start, retry_outcomes,
    retry_jitter_ratio, contact_policy, machine_detection, on_machine
"""

#: Whether the statement writes events (CTE `hooked`: some enabled endpoint wants them).
_CALLS_HOOKED = _CAMPAIGNS_HOOKED = "(SELECT yes FROM hooked)"
_CANCELLED_EVENT = f"'{EventType.CALL_CANCELLED}'"

#: Calls that no attempt is dialling: new, or failed with a retry to come.
_WAITING_CALL_STATUSES_SQL = sql_list([CallStatus.PENDING, CallStatus.FAILED])
#: Campaigns whose job queues workers consume.
_CONSUMED_CAMPAIGN_STATUSES_SQL = sql_list([CampaignStatus.IN_PROGRESS, CampaignStatus.PAUSED])


@dataclass(frozen=True)
class NewCampaign:
    name: str
    description: str | None
    concurrency_limit: int
    priority: int
    retry: RetryConfig
    hours: BusinessHours
    kind: str = CAMPAIGN
    status: CampaignStatus = CampaignStatus.PENDING
    calls_per_second: float | None = None
    schedule: Schedule = field(default_factory=lambda: Schedule({}))
    #: {"frequencyCaps": [...]}, in the API's camelCase; {} for none.
    contact_policy: Mapping[str, Any] = field(default_factory=dict)
    answering_machine: AnsweringMachine = field(default_factory=AnsweringMachine)


@dataclass(frozen=True)
class Schedule:
    """A campaign's calling rules beyond the seed's window (see Campaign.calling)."""

    calling: Mapping[str, Any]
    start_at: datetime | None = None
    end_at: datetime | None = None
    auto_start: bool = False


async def insert_campaign(conn: asyncpg.Connection, new: NewCampaign) -> Campaign:
    row = await conn.fetchrow(
        f"""
        INSERT INTO campaigns (
            id, kind, name, description, status, concurrency_limit, priority, max_retries,
            sync_initial_backoff_ms, sync_backoff_multiplier, callback_retry_delay_ms,
            callback_timeout_ms, window_start_minute, window_end_minute, timezone, allowed_days,
            calls_per_second, started_at, calling, start_at, end_at, auto_start,
            retry_outcomes, retry_jitter_ratio, contact_policy, machine_detection, on_machine
        ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                  CASE WHEN $5 = '{CampaignStatus.IN_PROGRESS}' THEN now() END,
                  $18, $19, $20, $21, $22, $23, $24, $25, $26)
        RETURNING {COLUMNS}
        """,
        uuid4(),
        new.kind,
        new.name,
        new.description,
        new.status.value,
        new.concurrency_limit,
        new.priority,
        new.retry.max_retries,
        new.retry.sync_initial_backoff_ms,
        new.retry.sync_backoff_multiplier,
        new.retry.callback_retry_delay_ms,
        new.retry.callback_timeout_ms,
        new.hours.start_minute,
        new.hours.end_minute,
        new.hours.timezone,
        sorted(new.hours.allowed_days),
        new.calls_per_second,
        dict(new.schedule.calling),
        new.schedule.start_at,
        new.schedule.end_at,
        new.schedule.auto_start,
        outcomes_to_json(new.retry.outcomes),
        new.retry.jitter_ratio,
        dict(new.contact_policy),
        new.answering_machine.detect,
        new.answering_machine.on_machine.value,
    )
    return Campaign.from_row(row)


async def fetch_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> Campaign | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM campaigns WHERE id = $1", campaign_id)
    return Campaign.from_row(row) if row else None


async def fetch_campaigns(conn: asyncpg.Connection, ids: Iterable[UUID]) -> dict[UUID, Campaign]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM campaigns WHERE id = ANY($1::uuid[])", list(ids)
    )
    return {row["id"]: Campaign.from_row(row) for row in rows}


async def list_campaigns(
    conn: asyncpg.Connection,
    *,
    limit: int,
    offset: int = 0,
    status: CampaignStatus | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> list[Campaign]:
    """Newest first: by offset, or after a given (created_at, id)."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM campaigns
        WHERE kind = 'CAMPAIGN' AND ($1::text IS NULL OR status = $1)
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
        ORDER BY created_at DESC, id DESC
        OFFSET $4 LIMIT $5
        """,
        status.value if status else None,
        after[0] if after else None,
        after[1] if after else None,
        offset,
        limit,
    )
    return [Campaign.from_row(r) for r in rows]


async def count_campaigns(conn: asyncpg.Connection, status: CampaignStatus | None) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM campaigns"
        " WHERE kind = 'CAMPAIGN' AND ($1::text IS NULL OR status = $1)",
        status.value if status else None,
    )
    return count


async def ensure_single_calls_campaign(conn: asyncpg.Connection, template: NewCampaign) -> Campaign:
    """The built-in campaign that carries single calls, created on first use."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM campaigns WHERE kind = 'SINGLE_CALLS'")
    if row:
        return Campaign.from_row(row)
    async with conn.transaction():
        await conn.execute("LOCK TABLE campaigns IN SHARE ROW EXCLUSIVE MODE")
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM campaigns WHERE kind = 'SINGLE_CALLS'")
        if row:
            return Campaign.from_row(row)
        return await insert_campaign(conn, template)


@dataclass(frozen=True)
class CampaignChanges:
    """New values for the fields a PATCH names; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    clear_description: bool = False
    concurrency_limit: int | None = None
    priority: int | None = None
    retry: RetryConfig | None = None
    hours: BusinessHours | None = None
    calls_per_second: float | None = None
    clear_calls_per_second: bool = False
    #: Replaces the whole schedule when given (the caller merges what the PATCH left out).
    schedule: Schedule | None = None
    #: Replaces the whole contactPolicy when given.
    contact_policy: Mapping[str, Any] | None = None
    #: Replaces the answering-machine setting when given (the caller merges what it left out).
    answering_machine: AnsweringMachine | None = None

    @property
    def changes_dialling(self) -> bool:
        changed = (
            self.concurrency_limit,
            self.retry,
            self.hours,
            self.calls_per_second,
            self.schedule,
            self.contact_policy,
            self.answering_machine,
        )
        return any(v is not None for v in changed) or self.clear_calls_per_second


async def update_campaign(
    conn: asyncpg.Connection, campaign_id: UUID, changes: CampaignChanges
) -> Campaign | None:
    """Apply the changes to a campaign that is not final; None if it is final (or gone).

    Changing how it dials raises `settings_version`, so that no worker dials with rules read
    before the change.
    """
    retry, hours, schedule = changes.retry, changes.hours, changes.schedule
    machine = changes.answering_machine
    row = await conn.fetchrow(
        f"""
        UPDATE campaigns SET
            name = coalesce($2, name),
            description = CASE WHEN $4 THEN NULL ELSE coalesce($3, description) END,
            concurrency_limit = coalesce($5, concurrency_limit),
            priority = coalesce($6, priority),
            max_retries = coalesce($7, max_retries),
            sync_initial_backoff_ms = coalesce($8, sync_initial_backoff_ms),
            sync_backoff_multiplier = coalesce($9, sync_backoff_multiplier),
            callback_retry_delay_ms = coalesce($10, callback_retry_delay_ms),
            callback_timeout_ms = coalesce($11, callback_timeout_ms),
            window_start_minute = coalesce($12, window_start_minute),
            window_end_minute = coalesce($13, window_end_minute),
            timezone = coalesce($14, timezone),
            allowed_days = coalesce($15, allowed_days),
            calls_per_second = CASE WHEN $18 THEN NULL ELSE coalesce($17, calls_per_second) END,
            calling = CASE WHEN $19 THEN $20 ELSE calling END,
            start_at = CASE WHEN $19 THEN $21 ELSE start_at END,
            end_at = CASE WHEN $19 THEN $22 ELSE end_at END,
            auto_start = CASE WHEN $19 THEN $23 ELSE auto_start END,
            retry_outcomes = coalesce($24, retry_outcomes),
            retry_jitter_ratio = coalesce($25, retry_jitter_ratio),
            contact_policy = coalesce($26, contact_policy),
            machine_detection = coalesce($27, machine_detection),
            on_machine = coalesce($28, on_machine),
            settings_version = settings_version + CASE WHEN $16 THEN 1 ELSE 0 END,
            updated_at = now()
        WHERE id = $1 AND kind = 'CAMPAIGN'
          AND status NOT IN {FINAL_CAMPAIGN_STATUSES_SQL}
        RETURNING {COLUMNS}
        """,
        campaign_id,
        changes.name,
        changes.description,
        changes.clear_description,
        changes.concurrency_limit,
        changes.priority,
        retry.max_retries if retry else None,
        retry.sync_initial_backoff_ms if retry else None,
        retry.sync_backoff_multiplier if retry else None,
        retry.callback_retry_delay_ms if retry else None,
        retry.callback_timeout_ms if retry else None,
        hours.start_minute if hours else None,
        hours.end_minute if hours else None,
        hours.timezone if hours else None,
        sorted(hours.allowed_days) if hours else None,
        changes.changes_dialling,
        changes.calls_per_second,
        changes.clear_calls_per_second,
        schedule is not None,
        dict(schedule.calling) if schedule else None,
        schedule.start_at if schedule else None,
        schedule.end_at if schedule else None,
        schedule.auto_start if schedule else None,
        outcomes_to_json(retry.outcomes) if retry else None,
        retry.jitter_ratio if retry else None,
        dict(changes.contact_policy) if changes.contact_policy is not None else None,
        machine.detect if machine else None,
        machine.on_machine.value if machine else None,
    )
    if row is not None and changes.changes_dialling:
        await zone_windows.recheck_campaign(conn, campaign_id)
    return Campaign.from_row(row) if row else None


async def delete_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> bool:
    """Delete a campaign that is not running and holds no line, with its calls and history,
    and ask for its job queue to be removed (see queue_removals)."""
    deleted = await conn.fetchval(
        f"""
        WITH gone AS (
            DELETE FROM campaigns
            WHERE id = $1 AND kind = 'CAMPAIGN' AND status <> '{CampaignStatus.IN_PROGRESS}'
              AND in_flight = 0
            RETURNING id
        )
        INSERT INTO queue_removals (campaign_id) SELECT id FROM gone
        RETURNING true
        """,
        campaign_id,
    )
    return bool(deleted)


async def queue_removals_due(conn: asyncpg.Connection, limit: int = 100) -> list[UUID]:
    """Deleted campaigns whose job queue may still exist, oldest first."""
    rows = await conn.fetch(
        "SELECT campaign_id FROM queue_removals ORDER BY requested_at LIMIT $1", limit
    )
    return [r["campaign_id"] for r in rows]


async def forget_queue_removal(conn: asyncpg.Connection, campaign_id: UUID) -> None:
    """The queue of this deleted campaign is gone from the broker."""
    await conn.execute("DELETE FROM queue_removals WHERE campaign_id = $1", campaign_id)


async def has_calls(conn: asyncpg.Connection, campaign_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM calls WHERE campaign_id = $1)", campaign_id
        )
    )


async def set_status(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    status: CampaignStatus,
    *,
    allowed_from: Iterable[CampaignStatus],
) -> Campaign | None:
    """Move the campaign to `status` if it is in one of `allowed_from`; None otherwise."""
    row = await conn.fetchrow(
        f"""
        WITH hooked AS (
            SELECT {CAMPAIGNS_HOOKED} AS yes
        ), moved AS (
            UPDATE campaigns k SET status = $2, updated_at = now(),
                started_at = CASE WHEN $2 = '{CampaignStatus.IN_PROGRESS}'
                                  THEN coalesce(k.started_at, now()) ELSE k.started_at END,
                finished_at = CASE WHEN $2 IN {FINAL_CAMPAIGN_STATUSES_SQL} THEN now()
                                   ELSE k.finished_at END,
                event_seq = k.event_seq + {bump(_CAMPAIGNS_HOOKED)}
            FROM campaigns o
            WHERE k.id = $1 AND o.id = k.id AND k.status = ANY($3::text[])
            RETURNING k.*, o.status AS old_status, {snapshot("k", _CAMPAIGNS_HOOKED)} AS snap
        ), events AS (
            {announce_campaigns("moved", campaign_status_event("old_status", "status"))}
        )
        SELECT {COLUMNS} FROM moved
        """,
        campaign_id,
        status.value,
        [s.value for s in allowed_from],
    )
    return Campaign.from_row(row) if row else None


async def cancel_waiting_calls(conn: asyncpg.Connection, campaign_id: UUID) -> int:
    """Cancel every call of the campaign that no attempt is dialling now."""
    result = await conn.fetchval(
        f"""
        WITH hooked AS (
            SELECT {CALLS_HOOKED} AS yes
        ), cancelled AS (
            UPDATE calls c SET status = '{CallStatus.CANCELLED}', next_retry_at = NULL,
                updated_at = now(), event_seq = c.event_seq + {bump(_CALLS_HOOKED)}
            WHERE c.campaign_id = $1 AND c.status IN {_WAITING_CALL_STATUSES_SQL}
            RETURNING c.id, c.campaign_id, c.event_seq, {snapshot("c", _CALLS_HOOKED)} AS snap
        ), events AS (
            {announce_calls("cancelled", _CANCELLED_EVENT)}
        )
        SELECT count(*) FROM cancelled
        """,
        campaign_id,
    )
    return int(result)


async def cancel_stragglers(conn: asyncpg.Connection) -> int:
    """Cancel waiting calls of cancelled campaigns.

    Cancelling a campaign cancels its waiting calls at once; a call whose result was being
    recorded at that moment may still have been scheduled for a retry. This sweep, run on the
    dispatcher's tick, makes sure such a call also ends CANCELLED.
    """
    result = await conn.fetchval(
        f"""
        WITH hooked AS (
            SELECT {CALLS_HOOKED} AS yes
        ), cancelled AS (
            UPDATE calls c SET status = '{CallStatus.CANCELLED}', next_retry_at = NULL,
                updated_at = now(), event_seq = c.event_seq + {bump(_CALLS_HOOKED)}
            FROM campaigns k
            WHERE k.id = c.campaign_id AND k.status = '{CampaignStatus.CANCELLED}'
              AND c.status IN {_WAITING_CALL_STATUSES_SQL}
            RETURNING c.id, c.campaign_id, c.event_seq, {snapshot("c", _CALLS_HOOKED)} AS snap
        ), events AS (
            {announce_calls("cancelled", _CANCELLED_EVENT)}
        )
        SELECT count(*) FROM cancelled
        """
    )
    return int(result)


@dataclass(frozen=True)
class ActiveCampaign:
    """What a worker needs to consume a campaign's queue."""

    id: UUID
    status: CampaignStatus
    concurrency_limit: int


async def consumable_campaigns(conn: asyncpg.Connection) -> list[ActiveCampaign]:
    """Campaigns whose queues workers consume: running or paused."""
    rows = await conn.fetch(
        "SELECT id, status, concurrency_limit FROM campaigns"
        f" WHERE status IN {_CONSUMED_CAMPAIGN_STATUSES_SQL}"
    )
    return [
        ActiveCampaign(r["id"], CampaignStatus(r["status"]), r["concurrency_limit"]) for r in rows
    ]


async def finishable_campaign_ids(conn: asyncpg.Connection) -> list[UUID]:
    """Running campaigns with nothing left to dial and no call in progress; paused ones too
    once their endAt has passed."""
    rows = await conn.fetch(
        f"""
        SELECT k.id FROM campaigns k
        WHERE (k.status = '{CampaignStatus.IN_PROGRESS}'
               OR (k.status = '{CampaignStatus.PAUSED}' AND k.end_at <= now()))
          AND k.kind = 'CAMPAIGN' AND k.in_flight = 0
          AND NOT EXISTS (
              SELECT 1 FROM calls c WHERE c.campaign_id = k.id
              AND c.status IN {OPEN_CALL_STATUSES_SQL})
        """
    )
    return [r["id"] for r in rows]


async def finish_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> CampaignStatus | None:
    """Mark a running campaign COMPLETED (or FAILED when no call completed) if all its calls
    are final; None if it is not finishable. A campaign whose endAt has passed (paused or
    not) ends COMPLETED: it ran its course. Call inside a transaction."""
    # FOR UPDATE waits for an import in progress (which holds FOR KEY SHARE).
    locked = await conn.fetchrow(
        "SELECT status, end_at <= now() AS ended FROM campaigns WHERE id = $1 FOR UPDATE",
        campaign_id,
    )
    if locked is None:
        return None
    ended = bool(locked["ended"])
    running = locked["status"] == CampaignStatus.IN_PROGRESS
    if not (running or (ended and locked["status"] == CampaignStatus.PAUSED)):
        return None
    # A fresh statement after the lock sees numbers an import committed while we waited.
    summary = await conn.fetchrow(
        f"""
        SELECT bool_or(status IN {OPEN_CALL_STATUSES_SQL}) AS open,
               bool_or(status = '{CallStatus.COMPLETED}') AS any_completed
        FROM calls WHERE campaign_id = $1
        """,
        campaign_id,
    )
    if summary["open"]:
        return None
    completed = summary["any_completed"] or ended
    status = CampaignStatus.COMPLETED if completed else CampaignStatus.FAILED
    await set_status(
        conn, campaign_id, status, allowed_from=[CampaignStatus.IN_PROGRESS, CampaignStatus.PAUSED]
    )
    return status


#: A final campaign's job queue outlives its end by this long. A worker subscribes only on a
#: read of running campaigns younger than half of it (services/worker/subscriptions.py), so
#: it never asks for a queue that is gone: the broker answers that by closing the channel,
#: which aiormq cannot always acknowledge under load (docs/scaling.md).
QUEUE_REMOVAL_GRACE_S = 10


async def campaigns_with_removable_queue(conn: asyncpg.Connection) -> list[UUID]:
    """Final campaigns whose job queue still exists and holds no line, ended a while ago."""
    rows = await conn.fetch(
        f"""
        SELECT id FROM campaigns
        WHERE status IN {FINAL_CAMPAIGN_STATUSES_SQL} AND queue_removed_at IS NULL
          AND in_flight = 0 AND finished_at < now() - make_interval(secs => $1)
        """,
        QUEUE_REMOVAL_GRACE_S,
    )
    return [r["id"] for r in rows]


async def mark_queue_removed(conn: asyncpg.Connection, campaign_id: UUID) -> None:
    await conn.execute("UPDATE campaigns SET queue_removed_at = now() WHERE id = $1", campaign_id)


async def campaign_exists(conn: asyncpg.Connection, campaign_id: UUID) -> bool:
    """Whether a campaign (not the carrier of single calls) has this id."""
    return bool(
        await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM campaigns WHERE id = $1 AND kind = '{CAMPAIGN}')",
            campaign_id,
        )
    )
