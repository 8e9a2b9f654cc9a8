"""Request and response bodies of the webhooks (/api/v1/webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args
from uuid import UUID

from pydantic import AfterValidator, Field

from services.api.schemas import WITHOUT_NUL, RequestBody, ResponseBody
from services.api.webhooks.addresses import MAX_URL_LENGTH
from shared.domain.webhook_events import EVERY_EVENT, SUBSCRIBABLE

#: What `events` may name.
EVENT_NAMES = [*sorted(SUBSCRIBABLE), EVERY_EVENT]


def _known_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_NAMES]
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_NAMES)}")
    return sorted(set(events), key=events.index)


Events = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        min_length=1,
        max_length=len(EVENT_NAMES),
        description='Event types to receive, or ["*"] for every one',
        json_schema_extra={"items": {"enum": EVENT_NAMES}},
    ),
    AfterValidator(_known_events),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=r"^[hH][tT][tT][pP][sS]?://[^\x00\s]+$",
        description="Where events are POSTed: http(s), a public address (unless the operator"
        " allows private ones)",
    ),
]
Description = Annotated[str, Field(max_length=2000, pattern=WITHOUT_NUL)]


class WebhookCreate(RequestBody):
    url: Url
    events: Events
    description: Description | None = None


class WebhookPatch(RequestBody):
    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None
    rotate_secret: bool = Field(
        False,
        description="true: a new secret is made and shown in this answer only; the previous"
        " one signs beside it for VCS_WEBHOOK_SECRET_OVERLAP_HOURS",
    )


class WebhookOut(ResponseBody):
    id: UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: Literal["GONE", "FAILING"] | None = Field(
        description="Why the service disabled it: GONE (the endpoint answered 410), FAILING"
        " (nothing delivered for the whole retry period); null otherwise"
    )
    disabled_at: datetime | None
    previous_secret_until: datetime | None = Field(
        description="After a rotation, until when the previous secret still signs"
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="whsec_ and base64: the Standard Webhooks signing secret. Shown only in"
        " this answer"
    )


class WebhookUpdated(WebhookOut):
    secret: str | None = Field(
        None, description="The new secret after `rotateSecret: true`, shown only then; else null"
    )


class DeliveryAttemptOut(ResponseBody):
    attempt_number: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    next_retry_at: datetime | None


DeliveryStatus = Literal["PENDING", "DELIVERED", "FAILED"]
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)


class DeliveryOut(ResponseBody):
    id: UUID
    event_id: UUID = Field(description="The event's id, sent as webhook-id")
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[DeliveryAttemptOut]


class WebhookTestOut(ResponseBody):
    event_id: UUID
    delivery_id: UUID
