"""The write side of the webhook outbox: the SQL that statements changing a call or a
campaign embed, so that their events are rows of the same transaction (docs/webhooks.md).

A statement that changes a subject's row also, in the same statement:

- reads once whether any enabled endpoint wants events of that family, or an event stream
  may (`CALLS_HOOKED` / `CAMPAIGNS_HOOKED`: indexed reads of two small tables), and only then
- raises the row's `event_seq` by the events it writes (the row is locked by the update
  anyway, so the numbers of one subject never race), returns the row as it leaves it
  (`to_jsonb`), and inserts the events with `insert_events`.

With no endpoint the statement writes nothing more than before, so dialling pays only the
read. Every piece is text built at import from our own constants.
"""

from __future__ import annotations

from shared.domain.statuses import CampaignStatus
from shared.domain.webhook_events import (
    CALL_EVENTS,
    CALL_STATUS_EVENTS,
    CAMPAIGN_EVENTS,
    CAMPAIGN_STATUS_EVENTS,
    EVERY_EVENT,
    EventType,
)

#: True while an event stream may want every event (a client connected within the
#: retention period: it may come back with Last-Event-ID).
STREAMED = "EXISTS (SELECT 1 FROM event_stream_interest WHERE until > now())"


def _wanted(types: frozenset[EventType]) -> str:
    names = ", ".join(f"'{t.value}'" for t in sorted(types)) + f", '{EVERY_EVENT}'"
    return (
        "(EXISTS (SELECT 1 FROM webhook_endpoints"
        f" WHERE enabled AND events && ARRAY[{names}]::text[]) OR {STREAMED})"
    )


#: True when some enabled endpoint wants some call event (evaluate once per statement, in a CTE).
CALLS_HOOKED = _wanted(CALL_EVENTS)
#: True when some enabled endpoint wants some campaign event.
CAMPAIGNS_HOOKED = _wanted(CAMPAIGN_EVENTS)


def bump(hooked: str, events: str = "1") -> str:
    """The events to add to a row's event_seq: `events` when `hooked` (an SQL boolean), else 0."""
    return f"CASE WHEN {hooked} THEN {events} ELSE 0 END"


def snapshot(row: str, hooked: str) -> str:
    """The row as this statement leaves it, as jsonb, when hooked (else null: never built)."""
    return f"CASE WHEN {hooked} THEN to_jsonb({row}) END"


def call_status_event(status: str) -> str:
    """The event type announcing a call's new status `status`, null for a status with none."""
    whens = " ".join(
        f"WHEN '{s.value}' THEN '{t.value}'" for s, t in sorted(CALL_STATUS_EVENTS.items())
    )
    return f"(CASE {status} {whens} END)"


def campaign_status_event(old_status: str, new_status: str) -> str:
    """The event type announcing a campaign's move from `old_status` to `new_status`."""
    whens = " ".join(
        f"WHEN '{s.value}' THEN '{t.value}'" for s, t in sorted(CAMPAIGN_STATUS_EVENTS.items())
    )
    return (
        f"(CASE WHEN {old_status} = '{CampaignStatus.PAUSED}'"
        f" AND {new_status} = '{CampaignStatus.IN_PROGRESS}'"
        f" THEN '{EventType.CAMPAIGN_RESUMED}' ELSE CASE {new_status} {whens} END END)"
    )


def insert_events(select: str) -> str:
    """An INSERT of events from `select`, whose columns are (type, call_id, campaign_id,
    sequence, payload)."""
    return "INSERT INTO webhook_events (type, call_id, campaign_id, sequence, payload) " + select


#: Statuses whose event a call's status change announces, for a WHERE (`IN`).
ANNOUNCED_CALL_STATUSES = "(" + ", ".join(f"'{s.value}'" for s in CALL_STATUS_EVENTS) + ")"


def announce_calls(source: str, event_type: str) -> str:
    """An INSERT of one event of type `event_type` (an SQL expression) per row of the CTE
    `source`, which returns id, campaign_id, event_seq and the call's snapshot `snap`."""
    return insert_events(
        f"SELECT {event_type}, id, campaign_id, event_seq, jsonb_build_object('call', snap)"
        f" FROM {source} WHERE snap IS NOT NULL"
    )


def announce_campaigns(source: str, event_type: str) -> str:
    """An INSERT of one event of type `event_type` (an SQL expression over the CTE's columns)
    per row of the CTE `source`, which returns id, event_seq and the campaign's snapshot
    `snap`."""
    return insert_events(
        f"SELECT {event_type}, NULL::uuid, id, event_seq, jsonb_build_object('campaign', snap)"
        f" FROM {source} WHERE snap IS NOT NULL"
    )
