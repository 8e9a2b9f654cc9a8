from __future__ import annotations

from uuid import uuid4

import pytest

from shared.messages import CallResultReported, InvalidMessage, LeaseLine, parse_message
from shared.topology import campaign_queue, event_routing_key


def test_messages_round_trip_as_json() -> None:
    job = LeaseLine(campaign_id=uuid4())
    assert parse_message(job.to_json()) == job
    result = CallResultReported(external_call_id="x", status="BUSY", call_id=uuid4(), attempt_no=2)
    assert parse_message(result.to_json()) == result


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"type": "Unknown"}',
        b'{"type": "LeaseLine"}',
        b'{"type": "LeaseLine", "campaign_id": "' + str(uuid4()).encode() + b'", "extra": 1}',
    ],
)
def test_anything_else_is_an_invalid_message(body: bytes) -> None:
    with pytest.raises(InvalidMessage):
        parse_message(body)


def test_names_read_well_in_the_management_console() -> None:
    campaign_id = uuid4()
    assert campaign_queue(campaign_id) == f"vcs.campaign.{campaign_id}.jobs"
    assert event_routing_key("CampaignStarted") == "campaign.started"
    assert event_routing_key("CallsAdded") == "campaign.calls-added"


def test_a_lease_published_under_its_old_name_is_still_read() -> None:
    """Leases queued before the rename from PlaceCall wait in campaign queues over an upgrade."""
    campaign_id = uuid4()
    body = b'{"type": "PlaceCall", "campaign_id": "' + str(campaign_id).encode() + b'"}'
    lease = parse_message(body)
    assert isinstance(lease, LeaseLine) and lease.campaign_id == campaign_id
    assert LeaseLine(campaign_id=campaign_id).type == "LeaseLine"


def test_a_result_spelled_the_carriers_way_is_read_in_ours() -> None:
    body = CallResultReported(external_call_id="x", status="CANCELLED").to_json()
    legacy = body.replace(b'"CANCELLED"', b'"CANCELED"')
    assert parse_message(legacy) == parse_message(body)
