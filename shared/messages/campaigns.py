"""Events about a campaign's lifecycle, published by the api and the dispatcher."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from shared.messages.base import Message


class CampaignEvent(Message):
    campaign_id: UUID


class CampaignStarted(CampaignEvent):
    type: Literal["CampaignStarted"] = "CampaignStarted"


class CampaignPaused(CampaignEvent):
    type: Literal["CampaignPaused"] = "CampaignPaused"


class CampaignResumed(CampaignEvent):
    type: Literal["CampaignResumed"] = "CampaignResumed"


class CampaignCancelled(CampaignEvent):
    type: Literal["CampaignCancelled"] = "CampaignCancelled"


class CampaignFinished(CampaignEvent):
    """All of the campaign's calls are final (status COMPLETED or FAILED)."""

    type: Literal["CampaignFinished"] = "CampaignFinished"
    status: str


class CampaignUpdated(CampaignEvent):
    """Settings changed: concurrency limit, priority, retry config or business hours."""

    type: Literal["CampaignUpdated"] = "CampaignUpdated"


class CallsAdded(CampaignEvent):
    """New numbers became dialable: an import, or a single call."""

    type: Literal["CallsAdded"] = "CallsAdded"
    count: int
