"""What several views share: the status filter."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from shared.domain.statuses import CallStatus, CampaignStatus
from shared.errors import InvalidInput

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
