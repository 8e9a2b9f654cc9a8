"""Every message a service's queues can carry is handled, or listed as ignored, by it."""

from __future__ import annotations

from typing import get_args

import pytest

from services.dispatcher import app as dispatcher
from services.telephony_mock import amqp_endpoint as telephony_mock
from services.worker import handlers as worker
from shared.messages import (
    AnyMessage,
    AttemptEnded,
    CallResultReported,
    CampaignEvent,
    DialAccepted,
    DialCall,
    DialRefused,
    HangUpCall,
    LeaseLine,
    Message,
)
from shared.topology import (
    CALL_JOBS,
    CALL_RESULTS,
    CAMPAIGN_EVENTS,
    TELEPHONY,
    WORKER_SIGNALS,
    event_routing_key,
)

#: Every message class on the wire.
ALL_MESSAGES: frozenset[type[Message]] = frozenset(get_args(get_args(AnyMessage)[0]))
CAMPAIGN_EVENTS_ALL = frozenset(m for m in ALL_MESSAGES if issubclass(m, CampaignEvent))

#: Which messages are published to which exchange (see the publishers: services/api/events.py,
#: services/dispatcher/leases.py and housekeeping.py, shared/attempt_signals.py, the carriers).
PUBLISHED_TO: dict[str, frozenset[type[Message]]] = {
    CAMPAIGN_EVENTS: CAMPAIGN_EVENTS_ALL,
    CALL_JOBS: frozenset({LeaseLine}),
    # HangUpCall: the api (or another worker) asks the holder of a call to hang it up, and
    # the worker's mock provider asks the carrier.
    WORKER_SIGNALS: frozenset({AttemptEnded, HangUpCall}),
    CALL_RESULTS: frozenset({CallResultReported}),
    TELEPHONY: frozenset({DialCall, HangUpCall}),
}
#: Answers to a DialCall, sent through direct reply-to to the worker's mock provider, which
#: waits for them by correlation id rather than through a registry.
REPLIES = frozenset({DialAccepted, DialRefused})

#: The exchanges each service's queues are bound to (shared/topology.py, and the campaign
#: queues bound to CALL_JOBS), with the service's registry and ignored set.
SERVICES = {
    "worker": (
        {CAMPAIGN_EVENTS, CALL_JOBS, WORKER_SIGNALS, CALL_RESULTS},
        worker.HANDLERS,
        worker.IGNORED,
    ),
    "dispatcher": ({CAMPAIGN_EVENTS}, dispatcher.HANDLERS, dispatcher.IGNORED),
    "telephony_mock": ({TELEPHONY}, telephony_mock.HANDLERS, telephony_mock.IGNORED),
}


def test_every_message_class_is_published_somewhere_known() -> None:
    """A new message class must be placed in PUBLISHED_TO (or REPLIES), which then makes the
    test below demand a handler in each service that receives it."""
    placed = frozenset().union(*PUBLISHED_TO.values())
    assert placed | REPLIES == ALL_MESSAGES
    assert not placed & REPLIES


def test_every_campaign_event_matches_the_events_binding() -> None:
    # Both the dispatcher's and each worker's events queue are bound with `campaign.#`.
    for event in CAMPAIGN_EVENTS_ALL:
        assert event_routing_key(event.__name__).startswith("campaign.")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_message_a_service_receives_is_handled_or_ignored(service: str) -> None:
    exchanges, handlers, ignored = SERVICES[service]
    receives = frozenset().union(*(PUBLISHED_TO[exchange] for exchange in exchanges))
    assert not set(handlers) & ignored, "a class is both handled and ignored"
    assert set(handlers) | ignored == receives
