"""What the statistics endpoints compute: a campaign's progress and pace, and global figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from services.api.operations.broker import Broker
from services.api.operations.campaigns import get_visible_campaign
from services.api.stats_schemas import (
    BreakerState,
    CallCountsOut,
    CampaignStatsOut,
    GlobalMetricsOut,
    MinuteOut,
    QueueOut,
    WorkerOut,
)
from shared.domain.campaign import Campaign
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.repositories import campaigns as campaign_repo
from shared.repositories import statistics as stats_repo
from shared.repositories import zone_windows
from shared.repositories.call_counts import call_counts, call_totals
from shared.repositories.workers import live_workers
from shared.settings import Settings
from shared.topology import campaign_queue

#: The pace used for the estimate: attempts ended over this many recent minutes.
PACE_WINDOW_MINUTES = 5


async def campaign_stats(
    pool: asyncpg.Pool, campaign_id: UUID, now: datetime, minutes: int
) -> CampaignStatsOut:
    async with pool.acquire() as conn:
        campaign = await get_visible_campaign(conn, campaign_id)
        counts = (await call_counts(conn, [campaign_id]))[campaign_id]
        retries_scheduled = counts[CallStatus.FAILED]
        attempts = await stats_repo.attempt_totals(conn, campaign_id)
        series = await stats_repo.activity_by_minute(conn, now, minutes, campaign_id)
        pace_since = now - timedelta(minutes=PACE_WINDOW_MINUTES)
        recently_ended = await stats_repo.attempts_ended_since(conn, pace_since, campaign_id)
        next_dial_at = (await zone_windows.next_openings(conn, [campaign_id], now))[campaign_id]
    final = sum(counts[s] for s in CallStatus if s.is_final)
    open_calls = counts.total - final
    per_minute = recently_ended / PACE_WINDOW_MINUTES
    eta = _seconds_to_finish(campaign, open_calls, final, attempts.rang, per_minute)
    inside, next_opening = _window(campaign, next_dial_at, now)
    return CampaignStatsOut(
        campaign_id=campaign.id,
        status=campaign.status.value,
        calls=CallCountsOut(
            total=counts.total,
            pending=counts[CallStatus.PENDING],
            scheduled=counts[CallStatus.SCHEDULED],
            in_progress=counts[CallStatus.IN_PROGRESS],
            completed=counts[CallStatus.COMPLETED],
            failed=counts[CallStatus.FAILED],
            permanently_failed=counts[CallStatus.PERMANENTLY_FAILED],
            cancelled=counts[CallStatus.CANCELLED],
        ),
        progress_percent=_percent(final, counts.total),
        in_progress_now=campaign.in_flight,
        concurrency_limit=campaign.concurrency_limit,
        allowed_lines=campaign.allowed_lines,
        calls_per_second=campaign.calls_per_second,
        retries_scheduled=retries_scheduled,
        total_retries=counts.total_retries,
        dials=attempts.dialled,
        answer_rate=attempts.answer_rate,
        average_talk_seconds=attempts.average_talk_seconds,
        total_talk_seconds=attempts.talk_seconds,
        dials_per_minute=_minutes_out(series),
        finishing_per_minute=round(per_minute, 2),
        estimated_seconds_to_finish=eta,
        estimated_finish_at=now + timedelta(seconds=eta) if eta is not None else None,
        inside_business_hours=inside,
        next_window_opens_at=next_opening,
        generated_at=now,
    )


def _window(
    campaign: Campaign, next_dial_at: datetime | None, now: datetime
) -> tuple[bool, datetime | None]:
    """Whether the calling rules allow some number of the campaign now, and if not when they
    next do: as the dispatcher last worked out its zone groups' windows while it runs; from
    the seed's window in the campaign's zone otherwise (no windows are kept for it then)."""
    if campaign.status is CampaignStatus.IN_PROGRESS:
        inside = next_dial_at is not None and next_dial_at <= now
        return inside, None if inside else next_dial_at
    inside = campaign.hours.is_open(now)
    return inside, None if inside else campaign.hours.next_opening(now)


def _seconds_to_finish(
    campaign: Campaign, open_calls: int, final_calls: int, rang: int, per_minute: float
) -> int | None:
    """Open numbers times the attempts a number has taken so far (at least one, at most all
    its tries), at the pace attempts ended lately."""
    if open_calls == 0:
        return 0
    if campaign.status is not CampaignStatus.IN_PROGRESS or per_minute <= 0:
        return None
    tries = campaign.retry.most_retries + 1
    attempts_per_number = min(max(rang / final_calls, 1.0), tries) if final_calls else 1.0
    return round(open_calls * attempts_per_number / per_minute * 60)


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _minutes_out(series: Sequence[stats_repo.MinuteActivity]) -> list[MinuteOut]:
    return [
        MinuteOut(minute=m.minute, dials=m.dials, completed=m.completed, failed=m.failed)
        for m in series
    ]


async def global_metrics(
    pool: asyncpg.Pool, broker: Broker, settings: Settings, now: datetime
) -> GlobalMetricsOut:
    async with pool.acquire() as conn:
        campaigns = await stats_repo.campaign_totals(conn)
        calls = await call_totals(conn)
        lines = await stats_repo.lines_in_use(conn)
        dials_last_minute = await stats_repo.dials_since(conn, now - timedelta(minutes=1))
        series = await stats_repo.activity_by_minute(conn, now, 15)
        by_worker = await stats_repo.open_attempts_by_worker(conn)
        heartbeat = timedelta(milliseconds=settings.worker_heartbeat_interval_ms)
        beats = await live_workers(conn, now - 3 * heartbeat)
        queued_campaigns = await campaign_repo.consumable_campaigns(conn)
        ended_last_minute = await stats_repo.attempts_ended_since(conn, now - timedelta(minutes=1))
    depths = await broker.queue_depths([c.id for c in queued_campaigns])
    capacity = settings.max_concurrent_calls
    return GlobalMetricsOut(
        total_campaigns=sum(campaigns.by_status.values()),
        active_campaigns=campaigns.by_status.get(CampaignStatus.IN_PROGRESS, 0),
        completed_campaigns=campaigns.by_status.get(CampaignStatus.COMPLETED, 0),
        total_calls=sum(calls.by_status.values()),
        pending_calls=calls.by_status.get(CallStatus.PENDING, 0),
        in_progress_calls=calls.by_status.get(CallStatus.SCHEDULED, 0)
        + calls.by_status.get(CallStatus.IN_PROGRESS, 0),
        completed_calls=calls.by_status.get(CallStatus.COMPLETED, 0),
        failed_calls=calls.by_status.get(CallStatus.FAILED, 0),
        permanently_failed_calls=calls.by_status.get(CallStatus.PERMANENTLY_FAILED, 0),
        total_retries=calls.total_retries,
        worker_pool_size=capacity,
        active_worker_threads=lines,
        worker_thread_utilization_percent=_percent(lines, capacity),
        queue_depth=sum(d for d in depths.values() if d is not None),
        total_concurrency_slots=campaigns.running_limits,
        active_concurrency_slots=campaigns.running_in_flight,
        concurrency_utilization_percent=_percent(
            campaigns.running_in_flight, campaigns.running_limits
        ),
        calls_per_second=round(dials_last_minute / 60, 2),
        # 0.0, not null, before any call completes: the seed's console shows it as a number.
        avg_call_duration_seconds=calls.average_duration_seconds or 0.0,
        line_capacity=capacity,
        lines_in_use=lines,
        line_utilization_percent=_percent(lines, capacity),
        scheduling_strategy=settings.scheduling_strategy,
        max_calls_per_second=settings.max_calls_per_second,
        workers=[
            WorkerOut(
                worker_id=b.worker_id,
                calls_in_flight=by_worker.get(b.worker_id, 0),
                leases_held=b.leases_held,
                breaker_state=b.breaker_state,
                last_seen_at=b.seen_at,
            )
            for b in beats
        ],
        queues=[
            QueueOut(campaign_id=c.id, queue=campaign_queue(c.id), depth=depths.get(c.id))
            for c in queued_campaigns
        ],
        circuit_breaker=_worst_breaker([b.breaker_state for b in beats]),
        calls_completed_last_minute=ended_last_minute,
        completed_per_minute=_minutes_out(series),
        generated_at=now,
    )


def _worst_breaker(states: Sequence[str]) -> BreakerState:
    for state in ("open", "half-open", "closed"):
        if state in states:
            return state
    return "unknown"
