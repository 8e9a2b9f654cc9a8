"""Keeps each running campaign's job queue stocked: one PlaceCall per free line, plus a buffer."""

from __future__ import annotations

import asyncio
from uuid import UUID

import structlog

from services.dispatcher.bootstrap import Deps
from services.dispatcher.credit import jobs_to_publish
from shared.amqp import Unroutable
from shared.messages import PlaceCall
from shared.repositories.campaigns import dispatch_candidates
from shared.topology import (
    CALL_JOBS,
    campaign_queue,
    campaign_queue_arguments,
    campaign_routing_key,
)

log = structlog.get_logger()


class JobStocker:
    """Publishes the jobs that campaigns inside their business hours have credit for."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._declared: set[UUID] = set()

    async def stock(self) -> int:
        """One pass over the running campaigns; returns how many jobs it published."""
        deps = self._deps
        now = deps.clock()
        async with deps.pool.acquire() as conn:
            candidates = await dispatch_candidates(conn, now)
        published = 0
        for candidate in candidates:
            campaign = candidate.campaign
            if not campaign.hours.is_open(now):
                continue
            queued = await self._queued_jobs(campaign.id)
            count = jobs_to_publish(
                lines=campaign.concurrency_limit,
                in_flight=campaign.in_flight,
                queued=queued,
                dialable=candidate.dialable,
                queued_per_line=deps.settings.queued_jobs_per_line,
            )
            if count:
                await self._publish_jobs(campaign.id, count)
                published += count
        return published

    async def _queued_jobs(self, campaign_id: UUID) -> int:
        """Jobs waiting in the campaign's queue; declares the queue on first sight."""
        channel = await self._deps.admin_channel.get_underlay_channel()
        declared = await channel.queue_declare(
            campaign_queue(campaign_id), durable=True, arguments=campaign_queue_arguments()
        )
        if campaign_id not in self._declared:
            await channel.queue_bind(
                campaign_queue(campaign_id),
                CALL_JOBS,
                routing_key=campaign_routing_key(campaign_id),
            )
            self._declared.add(campaign_id)
        return int(declared.message_count or 0)

    async def _publish_jobs(self, campaign_id: UUID, count: int) -> None:
        publisher = self._deps.publisher
        key = campaign_routing_key(campaign_id)
        # Transient: a job is only a line's worth of credit. If the broker restarts and loses
        # it, the queue is short and the next pass publishes another.
        try:
            await asyncio.gather(
                *(
                    publisher.publish(
                        PlaceCall(campaign_id=campaign_id), CALL_JOBS, key, persistent=False
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
