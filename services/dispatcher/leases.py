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
from services.dispatcher.depth_reads import DepthReader
from services.dispatcher.metrics import CampaignLines
from services.dispatcher.pacing import Pacer
from services.dispatcher.queue_depths import QueueDepths, Signature, Wanted
from services.dispatcher.shares import plan_lines
from services.dispatcher.strategies import STRATEGIES
from services.dispatcher.windows import refresh_windows
from shared.amqp import Unroutable
from shared.messages import LeaseLine
from shared.repositories.dispatching import (
    DispatchCandidate,
    dispatch_snapshot,
    set_allowed_lines,
)
from shared.topology import (
    CALL_JOBS,
    campaign_routing_key,
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
    zone group open) and publishes the jobs they have credit for."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._reader = DepthReader(deps.connection, deps.settings.queue_type)
        self._strategy = STRATEGIES[deps.settings.scheduling_strategy]
        self._pacer = Pacer(deps.settings.max_calls_per_second)
        self._depths = QueueDepths(deps.settings.queue_depth_refresh_ms / 1000)
        self._turn = 0

    async def stock(self) -> StockingPass:
        """One pass over the running campaigns."""
        deps = self._deps
        started = time.monotonic()
        now = deps.clock()
        remaining_cap = (
            REMAINING_COUNT_CAP if deps.settings.scheduling_strategy == "remaining_calls" else 0
        )
        async with deps.pool.acquire() as conn:
            await refresh_windows(conn, deps.policy, now)
            snapshot = await dispatch_snapshot(conn, now, remaining_cap=remaining_cap)
            sharing_started = time.monotonic()
            open_now = {c.campaign.id for c in snapshot.candidates if c.window_open}
            allowed = plan_lines(
                snapshot, open_now, deps.settings.max_concurrent_calls, self._strategy
            )
            sharing_s = time.monotonic() - sharing_started
            await set_allowed_lines(conn, allowed)
        self._pacer.forget_all_but(open_now)
        self._depths.forget_all_but(open_now)
        self._reader.forget_all_but(open_now)
        # The global rate is drawn on in turn, so that no campaign always comes first.
        candidates = [c for c in snapshot.candidates if c.campaign.id in open_now]
        self._turn = (self._turn + 1) % max(len(candidates), 1)
        candidates = candidates[self._turn :] + candidates[: self._turn]
        read_started = time.monotonic()
        paced = {c.campaign.id: self._pacer.paces(c.campaign.calls_per_second) for c in candidates}
        targets = {
            c.campaign.id: jobs_to_publish(
                lines=allowed[c.campaign.id],
                in_flight=c.campaign.in_flight,
                queued=0,
                dialable=c.dialable,
                # A paced job is one call; jobs waiting for a line would only be sent late.
                queued_per_line=0 if paced[c.campaign.id] else deps.settings.queued_jobs_per_line,
            )
            for c in candidates
        }
        queued = await self._queued_jobs(candidates, allowed, targets, snapshot.lines_in_use)
        publish_started = time.monotonic()
        next_paced_at: float | None = None
        jobs: dict[UUID, tuple[int, bool]] = {}
        seen: dict[UUID, CampaignLines] = {}
        for candidate in candidates:
            campaign = candidate.campaign
            if campaign.id not in queued:
                continue  # its queue is declared on a later pass
            count = max(targets[campaign.id] - queued[campaign.id], 0)
            if paced[campaign.id] and count:
                wanted = count
                count = self._pacer.allow(
                    campaign.id, campaign.calls_per_second, wanted, time.monotonic()
                )
                if count < wanted:
                    due = self._pacer.next_call_at(campaign.id)
                    next_paced_at = due if next_paced_at is None else min(due, next_paced_at)
            if count:
                jobs[campaign.id] = (count, paced[campaign.id])
            seen[campaign.id] = CampaignLines(
                allowed[campaign.id], campaign.in_flight, queued[campaign.id]
            )
        # Published together: each campaign's confirms would otherwise be a round trip.
        await asyncio.gather(
            *(self._publish_jobs(c, n, one_call=one_call) for c, (n, one_call) in jobs.items())
        )
        published = sum(count for count, _ in jobs.values())
        metrics = deps.metrics
        metrics.last_pass.campaigns = seen
        metrics.lines_in_use.set(snapshot.lines_in_use)
        metrics.leases_published.inc(published)
        phases = metrics.pass_phase_seconds
        phases.labels("database").inc(read_started - started - sharing_s)
        phases.labels("sharing").inc(sharing_s)
        phases.labels("queue depths").inc(publish_started - read_started)
        phases.labels("publishing").inc(time.monotonic() - publish_started)
        return StockingPass(published, next_paced_at)

    async def _queued_jobs(
        self,
        candidates: list[DispatchCandidate],
        allowed: dict[UUID, int],
        targets: dict[UUID, int],
        lines_in_use: int,
    ) -> dict[UUID, int]:
        """Jobs in each campaign's queue, as far as the dispatcher can tell (queue_depths.py):
        the broker is asked where its answer matters. A campaign left out has no queue yet."""
        wanted = [
            Wanted(
                c.campaign.id,
                _signature(c, allowed[c.campaign.id], lines_in_use),
                targets[c.campaign.id],
            )
            for c in candidates
        ]
        read = await self._reader.read(self._depths.to_read(wanted, time.monotonic()))
        answered_at = time.monotonic()
        signatures = {w.campaign_id: w.signature for w in wanted}
        for campaign_id, depth in read.items():
            self._depths.answered(campaign_id, signatures[campaign_id], depth, answered_at)
        self._deps.metrics.queue_depth_reads.inc(len(read))
        depths = {w.campaign_id: self._depths.depth(w.campaign_id) for w in wanted}
        return {c: d for c, d in depths.items() if d is not None}

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
            self.forget(campaign_id)
            log.warning("campaign queue missing; will declare again", campaign_id=str(campaign_id))
        else:
            self._depths.published(campaign_id, count)

    def forget(self, campaign_id: UUID) -> None:
        self._reader.forget(campaign_id)
        self._depths.forget(campaign_id)

    async def close(self) -> None:
        await self._reader.close()


def _signature(candidate: DispatchCandidate, allowed_lines: int, lines_in_use: int) -> Signature:
    campaign = candidate.campaign
    return (
        # A job a worker dropped because every line of the trunk was busy shows in nothing of
        # the campaign's own: a line freed anywhere may let its next job through.
        lines_in_use,
        allowed_lines,
        campaign.in_flight,
        candidate.lines_granted,
        campaign.settings_version,
        candidate.dialable,
    )
