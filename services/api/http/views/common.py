"""What several views share: the campaign answer and the status filter."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

import asyncpg
from aiohttp import web

from services.api.operations.campaigns import get_visible_campaign
from services.api.presenters import campaign_out
from services.api.schemas import CampaignOut
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.errors import InvalidInput
from shared.repositories.call_counts import call_counts

Status = TypeVar("Status", CampaignStatus, CallStatus)


def status_filter(request: web.Request, enum: type[Status]) -> Status | None:
    raw = request.query.get("status")
    if not raw:
        return None
    try:
        return enum(raw.upper())
    except ValueError:
        message = "must be one of " + ", ".join(s.value for s in enum)
        raise InvalidInput(
            f"status {message}", errors=[{"field": "status", "message": message}]
        ) from None


async def campaign_body(conn: asyncpg.Connection, campaign_id: UUID) -> CampaignOut:
    campaign = await get_visible_campaign(conn, campaign_id)
    counts = await call_counts(conn, [campaign.id])
    return campaign_out(campaign, counts[campaign.id])
