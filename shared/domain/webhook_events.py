"""The events a webhook can subscribe to, and which call status each status event reports."""

from __future__ import annotations

from enum import StrEnum

from shared.domain.statuses import CallStatus, CampaignStatus


class EventType(StrEnum):
    CALL_ATTEMPT_STARTED = "call.attempt.started"
    CALL_ATTEMPT_ENDED = "call.attempt.ended"
    CALL_COMPLETED = "call.completed"
    #: Failed, and a retry is scheduled.
    CALL_FAILED = "call.failed"
    CALL_PERMANENTLY_FAILED = "call.permanently_failed"
    CALL_CANCELLED = "call.cancelled"
    CAMPAIGN_STARTED = "campaign.started"
    CAMPAIGN_PAUSED = "campaign.paused"
    CAMPAIGN_RESUMED = "campaign.resumed"
    #: Finished: COMPLETED, or FAILED when no call was answered (the data's status says which).
    CAMPAIGN_COMPLETED = "campaign.completed"
    CAMPAIGN_CANCELLED = "campaign.cancelled"
    #: The service disabled an endpoint (410 Gone, or failing for the whole retry period);
    #: told to the other endpoints and the event stream (the console shows a banner).
    WEBHOOK_DISABLED = "webhook.disabled"
    #: Sent only by POST /api/v1/webhooks/{id}/test, to that endpoint.
    WEBHOOK_TEST = "webhook.test"


#: What an endpoint subscribes to for every event.
EVERY_EVENT = "*"

#: Types a client may subscribe to (webhook.test goes to the endpoint tested, whatever it
#: subscribed to).
SUBSCRIBABLE = frozenset(t.value for t in EventType if t is not EventType.WEBHOOK_TEST)
#: Types the event stream sends (and filters by).
STREAMED_TYPES = SUBSCRIBABLE

CALL_EVENTS = frozenset(t for t in EventType if t.value.startswith("call."))
CAMPAIGN_EVENTS = frozenset(t for t in EventType if t.value.startswith("campaign."))

#: The event a call's new status is announced by.
CALL_STATUS_EVENTS: dict[CallStatus, EventType] = {
    CallStatus.COMPLETED: EventType.CALL_COMPLETED,
    CallStatus.FAILED: EventType.CALL_FAILED,
    CallStatus.PERMANENTLY_FAILED: EventType.CALL_PERMANENTLY_FAILED,
    CallStatus.CANCELLED: EventType.CALL_CANCELLED,
}

#: The event a campaign's new status is announced by (from PAUSED to IN_PROGRESS: resumed).
CAMPAIGN_STATUS_EVENTS: dict[CampaignStatus, EventType] = {
    CampaignStatus.IN_PROGRESS: EventType.CAMPAIGN_STARTED,
    CampaignStatus.PAUSED: EventType.CAMPAIGN_PAUSED,
    CampaignStatus.COMPLETED: EventType.CAMPAIGN_COMPLETED,
    CampaignStatus.FAILED: EventType.CAMPAIGN_COMPLETED,
    CampaignStatus.CANCELLED: EventType.CAMPAIGN_CANCELLED,
}


def subscribed(events: list[str] | tuple[str, ...], event_type: str) -> bool:
    """Whether an endpoint subscribed to `events` wants an event of this type."""
    return EVERY_EVENT in events or event_type in events
