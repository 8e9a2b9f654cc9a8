"""The response body of a campaign's forecast: when it is expected to finish, the assumptions
behind it, and what it cannot know (docs/forecast.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from services.api.schemas import ResponseBody

SourceOut = Literal["OBSERVED", "DEFAULT"]


class ForecastAssumptionsOut(ResponseBody):
    lines: int = Field(description="Lines the campaign is assumed to hold while it dials")
    lines_source: Literal["SHARE", "LIMIT"] = Field(
        description="SHARE: its share of the carrier's lines now, capped by its"
        " concurrencyLimit; LIMIT: it has no share now (not running, or outside its hours), so"
        " its concurrencyLimit capped by VCS_MAX_CONCURRENT_CALLS, as if it ran alone"
    )
    calls_per_second: float | None = Field(
        description="The pacing that caps it: the campaign's callsPerSecond or"
        " VCS_MAX_CALLS_PER_SECOND, whichever is lower; null: none"
    )
    attempts_per_second: float = Field(
        description="Attempts it makes a second while some of its numbers may be called:"
        " lines / meanAttemptSeconds, or the pacing if lower"
    )
    mean_attempt_seconds: float = Field(
        description="How long an attempt holds a line, from start to end or timeout"
    )
    mean_attempt_seconds_source: SourceOut = Field(
        description="OBSERVED: the mean of its most recent ended attempts (up to 1,000);"
        " DEFAULT: fewer than 20 were observed"
    )
    retry_rate: float = Field(
        description="The share of attempts that end busy, unanswered, failed or timed out, and"
        " so are retried while the number has retries left"
    )
    retry_rate_source: SourceOut = Field(description="As meanAttemptSecondsSource")
    attempts_observed: int = Field(
        description="Recent ended attempts the observations come from (not placed and"
        " cancelled attempts are left out)"
    )
    max_retries: int = Field(description="The campaign's retryConfig.maxRetries")
    retry_delay_seconds: float = Field(description="The wait before a retry")
    horizon_days: int = Field(description="How far ahead the windows are read")


class ZoneForecastOut(ResponseBody):
    timezone: str | list[str] | None = Field(
        description="The zone group's IANA zone (a list when its numbers map to several: each"
        " must allow a call), as eligibility shows it; null when unknown"
    )
    regions: list[str] = Field(description="ISO 3166-2 regions of the group (US-FL)")
    country: str | None = Field(description="ISO 3166-1 alpha-2 country, when known")
    remaining_numbers: int = Field(description="Numbers of the group not final")
    expected_attempts: float = Field(description="Attempts still expected, retries included")
    open_now: bool = Field(description="Whether the group's numbers may be called now")
    next_opening_at: datetime | None = Field(
        description="The first instant from now at which they may be called (now when open"
        " now); null: not within a year"
    )
    open_hours_next_7_days: float = Field(
        description="Hours in the next 7 days during which they may be called"
    )
    expected_finish_at: datetime | None = Field(
        description="When the group's last call is expected to end; null when not within the"
        " horizon, or when the campaign is not running"
    )


class ForecastOut(ResponseBody):
    campaign_id: UUID
    status: str = Field(description="The campaign's status now")
    generated_at: datetime
    expected_finish_at: datetime | None = Field(
        description="When the campaign's last call is expected to end (its finishedAt when"
        " final; its endAt when work is left then); null when it cannot be told: not within"
        " the horizon, some numbers never callable, or the campaign paused or not started."
        " The caveats say which"
    )
    expected_finish_if_running_now_at: datetime | None = Field(
        description="For a paused or not started campaign: when it would finish were it running"
        " from now; null otherwise"
    )
    remaining_numbers: int = Field(description="Numbers not final")
    expected_attempts: float = Field(
        description="Dials still expected, retries expected at the retry rate included"
    )
    assumptions: ForecastAssumptionsOut
    zones: list[ZoneForecastOut] = Field(
        description="One entry per zone group with numbers not final, the largest first"
    )
    caveats: list[str] = Field(description="What the forecast cannot know, in words")
