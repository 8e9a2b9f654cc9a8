"""Response bodies of the statistics endpoints: a campaign's stats and the global metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from services.api.schemas import ResponseBody


class MinuteOut(ResponseBody):
    minute: datetime = Field(description="Start of the minute (UTC); the last one is partial")
    dials: int = Field(description="Attempts started")
    completed: int = Field(description="Attempts answered and ended")
    failed: int = Field(description="Attempts that ended unanswered (busy, no answer, failed,"
                        " rejected, no result in time)")  # fmt: skip


class CallCountsOut(ResponseBody):
    total: int
    pending: int
    scheduled: int
    in_progress: int
    completed: int
    failed: int = Field(description="Last attempt failed; a retry is due later")
    permanently_failed: int
    cancelled: int


class CampaignStatsOut(ResponseBody):
    campaign_id: UUID
    status: str
    calls: CallCountsOut
    progress_percent: float = Field(description="Numbers in a final state, out of all")
    in_progress_now: int = Field(description="Calls holding a line now")
    concurrency_limit: int
    allowed_lines: int = Field(
        description="Lines the campaign's share of the global capacity allows it now"
    )
    calls_per_second: float | None
    retries_scheduled: int = Field(description="Numbers waiting for a retry")
    total_retries: int
    dials: int = Field(description="Attempts that reached the carrier")
    answer_rate: float | None = Field(
        description="Answered attempts out of those that rang (0 to 1); null before any"
    )
    average_talk_seconds: float | None
    total_talk_seconds: int
    dials_per_minute: list[MinuteOut] = Field(description="Oldest first")
    finishing_per_minute: float = Field(
        description="Attempts ended a minute, over the last five minutes"
    )
    estimated_seconds_to_finish: int | None = Field(
        description="At the current pace; null when nothing moves or the campaign is not running"
    )
    estimated_finish_at: datetime | None
    inside_business_hours: bool
    next_window_opens_at: datetime | None = Field(
        description="When outside the calling hours: when they open next"
    )
    generated_at: datetime


class WorkerOut(ResponseBody):
    worker_id: str
    calls_in_flight: int = Field(description="Its attempts in progress (dialled, no result yet)")
    leases_held: int
    breaker_state: Literal["closed", "half-open", "open"]
    last_seen_at: datetime


class QueueOut(ResponseBody):
    campaign_id: UUID
    queue: str
    depth: int | None = Field(description="Jobs waiting; null if the broker could not say")


BreakerState = Literal["closed", "half-open", "open", "unknown"]


class GlobalMetricsOut(ResponseBody):
    # The seed's fields, with their meaning here.
    total_campaigns: int
    active_campaigns: int = Field(description="Campaigns IN_PROGRESS")
    completed_campaigns: int
    total_calls: int = Field(description="Every number of every campaign, and single calls")
    pending_calls: int
    in_progress_calls: int = Field(description="SCHEDULED or IN_PROGRESS")
    completed_calls: int
    failed_calls: int = Field(description="FAILED: waiting for a retry")
    permanently_failed_calls: int
    total_retries: int
    worker_pool_size: int = Field(
        description="Lines: the global capacity (VCS_MAX_CONCURRENT_CALLS). A line, not a"
        " thread, is what a call occupies here"
    )
    active_worker_threads: int = Field(description="Lines in use: calls in progress")
    worker_thread_utilization_percent: float
    queue_depth: int = Field(description="Jobs waiting in all campaign queues")
    total_concurrency_slots: int = Field(
        description="Running campaigns' own concurrency limits, added up"
    )
    active_concurrency_slots: int = Field(description="Running campaigns' calls in progress")
    concurrency_utilization_percent: float
    calls_per_second: float = Field(description="Dials over the last minute, a second")
    avg_call_duration_seconds: float = Field(
        description="Of completed calls; 0.0 before any completes"
    )
    # Ours.
    line_capacity: int
    lines_in_use: int = Field(description="Calls in progress across all campaigns")
    line_utilization_percent: float
    scheduling_strategy: str
    max_calls_per_second: float | None
    workers: list[WorkerOut] = Field(description="Workers heard from recently")
    queues: list[QueueOut] = Field(description="The job queue of each running or paused campaign")
    circuit_breaker: BreakerState = Field(
        description="The worst state among the workers' provider breakers"
    )
    calls_completed_last_minute: int
    completed_per_minute: list[MinuteOut] = Field(description="Oldest first")
    generated_at: datetime
