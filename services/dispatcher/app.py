"""The active dispatcher's loop: stock job queues on every wake-up, do housekeeping on a tick."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from datetime import timedelta

import structlog

from services.dispatcher.bootstrap import Deps
from services.dispatcher.dead_letters import DeadLetterKeeper
from services.dispatcher.housekeeping import (
    cancel_leftover_calls,
    count_finished_campaigns,
    finish_campaigns,
    keep_schedules,
    remove_finished_queues,
    time_out_overdue_attempts,
)
from services.dispatcher.leases import LeaseStocker
from services.dispatcher.maintenance import keep_database_tidy
from shared.amqp import Consumer, Handler
from shared.messages import (
    CallsAdded,
    CampaignCancelled,
    CampaignEvent,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
    CampaignUpdated,
    Message,
)
from shared.repositories.dispatching import work_in_hand
from shared.topology import DEAD_LETTER_QUEUE, DISPATCHER_EVENTS_QUEUE
from shared.waits import wait_until_set

log = structlog.get_logger()

#: While jobs are being consumed fast, or paced campaigns wait for their rate, look again this
#: soon rather than after a full tick.
BUSY_PASS_INTERVAL_S = 0.05
#: A paced campaign's next call is due sooner than that: the pass comes when it is due (so
#: paced dials go out evenly), but never sooner than this after the last one, so that a high
#: rate costs at most 50 passes a second (a few calls each) rather than a pass per call.
SHORTEST_PASS_INTERVAL_S = 0.02


async def wake_up(event: CampaignEvent, deps: Deps) -> None:
    deps.wake.set()


#: Every message the dispatcher reacts to: each campaign event wakes the dispatch loop. (Its
#: dead-letter queue has a consumer of its own, DeadLetterKeeper, which takes any body.)
HANDLERS: dict[type[Message], Handler[Deps]] = {
    CampaignStarted: wake_up,
    CampaignPaused: wake_up,
    CampaignResumed: wake_up,
    CampaignCancelled: wake_up,
    CampaignFinished: wake_up,
    CampaignUpdated: wake_up,
    CallsAdded: wake_up,
}

#: Messages its events queue may carry that it acknowledges without acting: none today.
IGNORED: frozenset[type[Message]] = frozenset()


async def run_leader(deps: Deps, until: asyncio.Event) -> None:
    """Dispatch until `until` is set. Events wake the loop at once; a tick catches the rest."""
    async with deps.pool.acquire() as conn:
        taken_over = await work_in_hand(conn)
    log.info(
        "dispatching",
        running_campaigns=taken_over["running_campaigns"],
        calls_in_progress=taken_over["calls_in_progress"],
    )
    events_channel = await deps.connection.channel(publisher_confirms=False)
    await events_channel.set_qos(prefetch_count=50)
    events = await events_channel.get_queue(DISPATCHER_EVENTS_QUEUE, ensure=False)
    events_tag = await events.consume(Consumer(HANDLERS, deps, ignored=IGNORED))
    dead_channel = await deps.connection.channel(publisher_confirms=False)
    await dead_channel.set_qos(prefetch_count=10)
    dead = await dead_channel.get_queue(DEAD_LETTER_QUEUE, ensure=False)
    dead_tag = await dead.consume(DeadLetterKeeper(deps.pool, deps.clock))
    vacuum = asyncio.create_task(
        keep_database_tidy(
            deps.pool,
            deps.settings.vacuum_check_interval_ms / 1000,
            timedelta(days=deps.settings.webhook_retention_days),
        )
    )
    try:
        await _loop(deps, until)
    finally:
        vacuum.cancel()
        for queue, tag in ((events, events_tag), (dead, dead_tag)):
            with suppress(Exception):
                await queue.cancel(tag)
        for channel in (events_channel, dead_channel):
            with suppress(Exception):
                await channel.close()


async def _loop(deps: Deps, until: asyncio.Event) -> None:
    stocker = LeaseStocker(deps)
    # Apart from the passes, so that a slow housekeeping step (thousands of campaigns, a
    # database under load) never holds back the jobs of the next pass.
    housekeeping = asyncio.create_task(_keep_house(deps, until))
    try:
        await _passes(deps, stocker, until)
    finally:
        housekeeping.cancel()
        with suppress(asyncio.CancelledError):
            await housekeeping
        await stocker.close()


async def _passes(deps: Deps, stocker: LeaseStocker, until: asyncio.Event) -> None:
    tick_s = deps.settings.dispatch_interval_ms / 1000
    while not until.is_set():
        deps.wake.clear()
        pause = tick_s
        next_paced_at: float | None = None
        try:
            started = time.monotonic()
            stocked = await stocker.stock()
            if stocked.published > 0:
                pause = BUSY_PASS_INTERVAL_S
            next_paced_at = stocked.next_paced_at
            deps.metrics.pass_seconds.observe(time.monotonic() - started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("dispatch pass failed; trying again next tick", error=repr(exc))
        if next_paced_at is not None:
            due_in = max(next_paced_at - time.monotonic(), SHORTEST_PASS_INTERVAL_S)
            pause = min(pause, due_in)
        await _wait_any(deps.wake, until, pause)


async def _keep_house(deps: Deps, until: asyncio.Event) -> None:
    """Every tick: end overdue attempts, keep schedules, finish campaigns, remove their queues,
    count their calls. Each step that may free lines or start campaigns wakes the passes."""
    tick_s = deps.settings.dispatch_interval_ms / 1000
    while not until.is_set():
        started = time.monotonic()
        try:
            await time_out_overdue_attempts(deps)
            await cancel_leftover_calls(deps)
            if await keep_schedules(deps):
                deps.wake.set()
            if await finish_campaigns(deps):
                deps.wake.set()
            await remove_finished_queues(deps)
            await count_finished_campaigns(deps)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("housekeeping failed; trying again next tick", error=repr(exc))
        deps.metrics.pass_phase_seconds.labels("housekeeping").inc(time.monotonic() - started)
        await wait_until_set(until, tick_s)


async def _wait_any(first: asyncio.Event, second: asyncio.Event, within_s: float) -> None:
    waiters = [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())]
    try:
        await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
