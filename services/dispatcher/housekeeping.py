"""The dispatcher's slower duties: the callback watchdog, schedules, finishing campaigns,
removing queues."""

from __future__ import annotations

import structlog

from services.dispatcher.bootstrap import Deps
from shared.attempt_signals import signal_attempt_ended
from shared.domain.endings import TIMEOUT_REASON, Ending
from shared.messages import CampaignFinished, CampaignStarted
from shared.repositories import call_counts, schedules, zone_windows
from shared.repositories.attempts import overdue_attempts
from shared.repositories.campaigns import (
    campaigns_with_removable_queue,
    cancel_stragglers,
    finish_campaign,
    finishable_campaign_ids,
    forget_queue_removal,
    mark_queue_removed,
    queue_removals_due,
)
from shared.repositories.endings import end_attempts
from shared.topology import (
    CAMPAIGN_EVENTS,
    declare_campaign_queue,
    delete_campaign_queue,
    event_routing_key,
)

log = structlog.get_logger()


async def time_out_overdue_attempts(deps: Deps) -> int:
    """End every open attempt whose result is overdue, as a failure that may be retried."""
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        overdue = await overdue_attempts(conn, now)
        if not overdue:
            return 0
        effects = await end_attempts(
            conn, [(ref, Ending(None, TIMEOUT_REASON)) for ref in overdue], now
        )
    timed_out = 0
    for effect in effects:
        if effect is None or not effect.applied:
            continue
        timed_out += 1
        log.warning(
            "no result in time; attempt timed out",
            call_id=str(effect.ref.call_id),
            attempt_no=effect.ref.attempt_no,
            call_status=effect.call_status,
        )
        await signal_attempt_ended(deps.publisher, effect)
    return timed_out


async def cancel_leftover_calls(deps: Deps) -> int:
    async with deps.pool.acquire() as conn:
        cancelled = await cancel_stragglers(conn)
    if cancelled:
        log.info("cancelled calls left waiting in cancelled campaigns", calls=cancelled)
    return cancelled


async def keep_schedules(deps: Deps) -> int:
    """Start campaigns due by autoStart, end numbers past their expiresAt and the waiting
    numbers of campaigns past their endAt; how many campaigns started."""
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        started = await schedules.start_scheduled_campaigns(conn, now)
        expired = await schedules.expire_calls(conn, now)
        ended = await schedules.end_past_campaigns(conn, now)
        await zone_windows.forget_finished(conn)
    for campaign_id in started:
        log.info("campaign started at its startAt", campaign_id=str(campaign_id))
        await declare_campaign_queue(deps.connection, campaign_id, deps.settings.queue_type)
        event = CampaignStarted(campaign_id=campaign_id)
        await deps.publisher.publish(event, CAMPAIGN_EVENTS, event_routing_key(event.type))
    if expired:
        log.info("numbers past their expiresAt ended", calls=expired)
    if ended:
        log.info("waiting numbers of campaigns past their endAt ended", calls=ended)
    return len(started)


async def finish_campaigns(deps: Deps) -> int:
    """Mark running campaigns whose calls are all final as COMPLETED (or FAILED)."""
    finished = 0
    async with deps.pool.acquire() as conn:
        for campaign_id in await finishable_campaign_ids(conn):
            async with conn.transaction():
                status = await finish_campaign(conn, campaign_id)
            if status is None:
                continue
            finished += 1
            log.info("campaign finished", campaign_id=str(campaign_id), status=status)
            event = CampaignFinished(campaign_id=campaign_id, status=status.value)
            await deps.publisher.publish(event, CAMPAIGN_EVENTS, event_routing_key(event.type))
    return finished


async def count_finished_campaigns(deps: Deps) -> int:
    """Count the calls of campaigns that have finished, once, for the lists and metrics."""
    async with deps.pool.acquire() as conn:
        return await call_counts.count_finished_campaigns(conn)


async def remove_finished_queues(deps: Deps) -> int:
    """Delete the job queue of every final campaign that no call holds a line of any more, and
    of every deleted campaign whose queue the api could not remove."""
    removed = 0
    async with deps.pool.acquire() as conn:
        for campaign_id in await campaigns_with_removable_queue(conn):
            await delete_campaign_queue(deps.admin_channel, campaign_id)
            await mark_queue_removed(conn, campaign_id)
            removed += 1
            log.info("campaign queue removed", campaign_id=str(campaign_id))
        for campaign_id in await queue_removals_due(conn):
            await delete_campaign_queue(deps.admin_channel, campaign_id)
            await forget_queue_removal(conn, campaign_id)
            removed += 1
            log.info("queue of a deleted campaign removed", campaign_id=str(campaign_id))
    return removed
