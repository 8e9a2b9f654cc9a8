"""Keeps each running campaign's job queue stocked: one LeaseLine per line of its share that is
free, plus a buffer; paced campaigns get theirs no faster than their rate allows."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import structlog

from services.dispatcher.bootstrap import Deps
from services.dispatcher.credit import jobs_to_publish
from services.dispatcher.metrics import CampaignLines
from services.dispatcher.pacing import Pacer
from services.dispatcher.shares import plan_lines
from services.dispatcher.strategies import STRATEGIES
from services.dispatcher.windows import refresh_windows
from shared.amqp import Unroutable
from shared.messages import LeaseLine
from shared.repositories.dispatching import dispatch_snapshot, set_allowed_lines
from shared.topology import (
    CALL_JOBS,
    campaign_queue,
    campaign_queue_arguments,
    campaign_routing_key,
    declare_campaign_queue,
)

log = structlog.get_logger()


#: How far the remaining_calls strategy counts a campaign's open numbers to rank it.
REMAINING_COUNT_CAP = 10_000


@dataclass(frozen=True)
class StockingPass:
    published: int
    #: When some paced campaign could use more jobs than its rate let out: when (on
    #: time.monotonic) the first of them may have another. None when none waits for its rate.
    next_paced_at: float | None = None


class LeaseStocker:
    """Shares the lines among campaigns that have numbers the calling rules allow now (some
    zone group open) and publishes the jobs
    they have credit for."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._declared: set[UUID] = set()
        self._strategy = STRATEGIES[deps.settings.scheduling_strategy]
        self._pacer = Pacer(deps.settings.max_calls_per_second)
        self._turn = 0

    async def stock(self) -> StockingPass:
        """One pass over the running campaigns."""
        deps = self._deps
        now = deps.clock()
        remaining_cap = (
            REMAINING_COUNT_CAP if deps.settings.scheduling_strategy == "remaining_calls" else 0
        )
        async with deps.pool.acquire() as conn:
            await refresh_windows(conn, deps.policy, now)
            snapshot = await dispatch_snapshot(conn, now, remaining_cap=remaining_cap)
            open_now = {c.campaign.id for c in snapshot.candidates if c.window_open}
            allowed = plan_lines(
                snapshot, open_now, deps.settings.max_concurrent_calls, self._strategy
            )
            await set_allowed_lines(conn, allowed)
        self._pacer.forget_all_but(open_now)
        # The global rate is drawn on in turn, so that no campaign always comes first.
        candidates = [c for c in snapshot.candidates if c.campaign.id in open_now]
        self._turn = (self._turn + 1) % max(len(candidates), 1)
        candidates = candidates[self._turn :] + candidates[: self._turn]
        published = 0
        next_paced_at: float | None = None
        seen: dict[UUID, CampaignLines] = {}
        for candidate in candidates:
            campaign = candidate.campaign
            paced = self._pacer.paces(campaign.calls_per_second)
            queued = await self._queued_jobs(campaign.id)
            count = jobs_to_publish(
                lines=allowed[campaign.id],
                in_flight=campaign.in_flight,
                queued=queued,
                dialable=candidate.dialable,
                # A paced job is one call; jobs waiting for a line would only be sent late.
                queued_per_line=0 if paced else deps.settings.queued_jobs_per_line,
            )
            if paced and count:
                wanted = count
                count = self._pacer.allow(
                    campaign.id, campaign.calls_per_second, wanted, time.monotonic()
                )
                if count < wanted:
                    due = self._pacer.next_call_at(campaign.id)
                    next_paced_at = due if next_paced_at is None else min(due, next_paced_at)
            if count:
                await self._publish_jobs(campaign.id, count, one_call=paced)
                published += count
            seen[campaign.id] = CampaignLines(allowed[campaign.id], campaign.in_flight, queued)
        metrics = deps.metrics
        metrics.last_pass.campaigns = seen
        metrics.lines_in_use.set(snapshot.lines_in_use)
        metrics.leases_published.inc(published)
        return StockingPass(published, next_paced_at)

    async def _queued_jobs(self, campaign_id: UUID) -> int:
        """Jobs waiting in the campaign's queue; declares (and binds) the queue on first sight."""
        channel = await self._deps.admin_channel.get_underlay_channel()
        if campaign_id not in self._declared:
            queued = await declare_campaign_queue(
                self._deps.connection, campaign_id, self._deps.settings.queue_type
            )
            self._declared.add(campaign_id)
            return queued
        declared = await channel.queue_declare(
            campaign_queue(campaign_id),
            durable=True,
            arguments=campaign_queue_arguments(self._deps.settings.queue_type),
        )
        return int(declared.message_count or 0)

    async def _publish_jobs(self, campaign_id: UUID, count: int, *, one_call: bool) -> None:
        publisher = self._deps.publisher
        key = campaign_routing_key(campaign_id)
        # Transient: a job is only a line's worth of credit. If the broker restarts and loses
        # it, the queue is short and the next pass publishes another.
        try:
            await asyncio.gather(
                *(
                    publisher.publish(
                        LeaseLine(campaign_id=campaign_id, one_call=one_call),
                        CALL_JOBS,
                        key,
                        persistent=False,
                    )
                    for _ in range(count)
                )
            )
        except Unroutable:
            # Someone deleted the queue behind our back: declare it again next pass.
            self._declared.discard(campaign_id)
            log.warning("campaign queue missing; will declare again", campaign_id=str(campaign_id))

    def forget(self, campaign_id: UUID) -> None:
        self._declared.discard(campaign_id)
