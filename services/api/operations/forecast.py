"""When a campaign is expected to finish: the calling domain's forecast, fed with the
campaign, the operator's line and pacing settings, its numbers not final per zone group and
its recent attempts."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from services.api.forecast_schemas import ForecastOut
from services.api.operations.campaigns import get_visible_campaign
from shared.domain.calling import CallingPolicy
from shared.domain.calling.forecast import RECENT_ATTEMPTS, forecast
from shared.domain.calling.forecast_model import CampaignFacts
from shared.repositories import forecast as forecast_repo
from shared.settings import Settings


async def campaign_forecast(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    now: datetime,
    policy: CallingPolicy | None,
    settings: Settings,
) -> ForecastOut:
    """The campaign's expected finish, per zone group and in all, with its assumptions and
    caveats; NotFound if there is no such campaign."""
    campaign = await get_visible_campaign(conn, campaign_id)
    facts = CampaignFacts(
        status=campaign.status,
        rules=campaign.calling_rules,
        max_retries=campaign.retry.most_retries,
        retry_delay=timedelta(milliseconds=campaign.retry.callback_retry_delay_ms),
        concurrency_limit=campaign.concurrency_limit,
        allowed_lines=campaign.allowed_lines,
        max_concurrent_calls=settings.max_concurrent_calls,
        calls_per_second=campaign.calls_per_second,
        max_calls_per_second=settings.max_calls_per_second,
        auto_start=campaign.auto_start,
        finished_at=campaign.finished_at,
    )
    if campaign.status.is_final:
        backlog, tallies = [], []
    else:
        backlog = await forecast_repo.campaign_backlog(conn, campaign.id, now)
        tallies = await forecast_repo.recent_attempt_tallies(conn, campaign.id, RECENT_ATTEMPTS)
    answer = forecast(facts, backlog, tallies, policy, now)
    return ForecastOut.model_validate({"campaignId": campaign.id, **answer.as_json()})
