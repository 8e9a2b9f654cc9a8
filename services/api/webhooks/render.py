"""An event's body, rendered once when it is fanned out, from the rows its change captured.

`data` is what GET /api/v1/calls/{id} (without `attempts`) or GET /api/v1/campaigns/{id}
answers, built by the same presenters from the row as the change left it; an attempt event
adds the attempt as it then was. A campaign's `metrics` and `nextDialAt` are counted when
the event is rendered (normally within a poll interval of the change): counting a
campaign's calls in the statement that changes it would cost the change an aggregate over
every call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.api.operations.campaigns import next_dials
from services.api.presenters import attempt_out, call_out, campaign_out
from services.api.webhook_schemas import WebhookOut
from shared.domain.campaign import Campaign
from shared.repositories.call_counts import call_counts
from shared.repositories.webhook_deliveries import EventToFanOut


def envelope(
    event_id: UUID, event_type: str, timestamp: datetime, sequence: int, data: dict[str, Any]
) -> str:
    """The exact bytes every delivery of an event sends (compact JSON)."""
    return json.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "timestamp": timestamp.isoformat(),
            "sequence": sequence,
            "data": data,
        },
        separators=(",", ":"),
    )


def body(event: EventToFanOut, data: dict[str, Any]) -> str:
    return envelope(event.id, event.type, event.created_at, event.sequence, data)


def _call_data(event: EventToFanOut) -> dict[str, Any]:
    assert event.call is not None
    data = call_out(event.call, []).model_dump(mode="json", by_alias=True, exclude={"attempts"})
    if event.attempt is not None:
        data["attempt"] = attempt_out(event.attempt).model_dump(mode="json", by_alias=True)
    return data


async def render_all(conn: asyncpg.Connection, events: Sequence[EventToFanOut]) -> dict[int, str]:
    """Each event's body, by its position."""
    campaigns = {
        e.position: Campaign.from_row(e.campaign) for e in events if e.campaign is not None
    }
    counts = await call_counts(conn, list({c.id for c in campaigns.values()}))
    dials = await next_dials(conn, list(campaigns.values()))
    bodies: dict[int, str] = {}
    for event in events:
        if event.call is not None:
            data = _call_data(event)
        elif (campaign := campaigns.get(event.position)) is not None:
            out = campaign_out(campaign, counts[campaign.id], dials.get(campaign.id))
            data = out.model_dump(mode="json", by_alias=True)
        elif "webhook" in event.payload:  # webhook.disabled: the endpoint, as the API shows it
            data = WebhookOut.model_validate(event.payload["webhook"]).model_dump(
                mode="json", by_alias=True
            )
        else:  # an event of a kind this version does not render: its payload as it is
            data = event.payload
        bodies[event.position] = body(event, data)
    return bodies
