"""Webhooks with the four services as processes: receivers on 127.0.0.1 verify every delivery
with the standardwebhooks library (docs/webhooks.md)."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook

from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

FINAL_EVENTS = {"call.completed", "call.permanently_failed", "call.cancelled"}


@dataclass
class Receiver:
    """A customer's endpoint. It answers 500 to the first request for each event whose id
    hashes into `fail_first_share`, and hangs on every request when `hang`."""

    fail_first_share: float = 0.0
    hang: bool = False
    #: Seconds each answer takes (a slow receiver keeps requests in flight).
    delay_s: float = 0.0
    secret: str = ""
    url: str = ""
    requests: int = 0
    #: Every verified body, by webhook-id (duplicates on the wire collapse here).
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries_per_id: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: set[str] = field(default_factory=set)
    bad_signatures: int = 0

    def _fails_first(self, msg_id: str) -> bool:
        digest = hashlib.sha256(msg_id.encode()).digest()[0]
        return digest < 256 * self.fail_first_share

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang:
            await asyncio.Event().wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        body = await request.text()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return web.Response(status=400)
        msg_id = request.headers["webhook-id"]
        assert event["id"] == msg_id
        if self._fails_first(msg_id) and msg_id not in self.refused:
            self.refused.add(msg_id)
            return web.Response(status=500)
        self.deliveries_per_id[msg_id] += 1
        self.events[msg_id] = event
        return web.Response(status=204)

    def of_campaign(self, campaign_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events.values()
            if e["data"].get("campaignId") == campaign_id or e["data"].get("id") == campaign_id
        ]


@pytest_asyncio.fixture(loop_scope="session")
async def serve() -> AsyncIterator[Any]:
    servers: list[TestServer] = []

    async def start(receiver: Receiver) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        receiver.url = str(server.make_url("/hook"))
        return receiver

    yield start
    for server in servers:
        await server.close()


async def subscribe(api: ApiClient, receiver: Receiver, events: list[str]) -> str:
    response = await api.request(
        "POST", "/api/v1/webhooks", json={"url": receiver.url, "events": events}
    )
    assert response.status == 201, response.body
    receiver.secret = response.body["secret"]
    return str(response.body["id"])


async def unsubscribe(api: ApiClient, webhook_id: str) -> None:
    assert (await api.request("DELETE", f"/api/v1/webhooks/{webhook_id}")).status == 204


async def pending_deliveries(api: ApiClient, webhook_id: str) -> int:
    response = await api.request(
        "GET", f"/api/v1/webhooks/{webhook_id}/deliveries?status=PENDING&size=1"
    )
    assert response.status == 200, response.body
    return int(response.headers["X-Total-Count"])


async def all_delivered(
    api: ApiClient, webhook_id: str, receiver: Receiver, campaign_id: str, timeout: float
) -> None:
    """Every event of the finished campaign delivered: its last one (campaign.completed)
    received, which also means every earlier event has its delivery (fan-out goes in the
    order events were written), and none pending. Pending alone is not enough: right after
    the campaign finished its last events may not be fanned out yet."""

    async def nothing_pending() -> bool:
        told = any(e["type"] == "campaign.completed" for e in receiver.of_campaign(campaign_id))
        return told and await pending_deliveries(api, webhook_id) == 0

    try:
        await wait_until(nothing_pending, timeout=timeout, interval=0.5, message="deliveries done")
    except AssertionError as exc:
        waiting = await api.request(
            "GET", f"/api/v1/webhooks/{webhook_id}/deliveries?status=PENDING&size=3"
        )
        raise AssertionError(f"{exc}; still pending, newest first: {waiting.body}") from None


def check_call_events(events: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    """Each call's events: numbered 1..n without a gap, exactly one final event, and the last
    one shows the call as the API does now."""
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["type"].startswith("call."):
            by_call[event["data"]["id"]].append(event)
    assert set(by_call) == {c["id"] for c in calls}
    for call in calls:
        told = sorted(by_call[call["id"]], key=lambda e: e["sequence"])
        assert [e["sequence"] for e in told] == list(range(1, len(told) + 1)), told
        finals = [e for e in told if e["type"] in FINAL_EVENTS]
        assert len(finals) == 1, (call["status"], call["retryCount"], [e["type"] for e in told])
        assert told[-1] is finals[0]
        assert finals[0]["data"]["status"] == call["status"]
        assert finals[0]["data"]["retryCount"] == call["retryCount"]
        started = [e for e in told if e["type"] == "call.attempt.started"]
        ended = [e for e in told if e["type"] == "call.attempt.ended"]
        assert len(started) == len(call["attempts"]) and len(ended) >= len(started)
        # Every attempt but the last failed and scheduled a retry (no carrier here refuses
        # a dial, and a lost result is never reported late).
        retried = [e for e in told if e["type"] == "call.failed"]
        assert len(retried) == len(started) - 1, [e["type"] for e in told]


async def test_a_campaign_is_told_whole_to_a_receiver_that_fails_at_first(
    api: ApiClient, mock: MockClient, serve: Any
) -> None:
    receiver = await serve(Receiver(fail_first_share=0.1))
    webhook_id = await subscribe(api, receiver, ["*"])
    try:
        await mock.configure(failureRate=0.2, noCallbackRate=0.02, syncErrorRate=0.0)
        numbers = fresh_numbers(500)
        campaign = await api.create_campaign(
            name="webhooks 500",
            phoneNumbers=numbers,
            concurrencyLimit=50,
            retryConfig={"maxRetries": 2, "callbackRetryDelayMs": 100, "callbackTimeoutMs": 1000},
        )
        await api.action(campaign["id"], "start")
        done = await finished(api, campaign["id"], timeout=240)
        await all_delivered(api, webhook_id, receiver, campaign["id"], timeout=120)
        given_up = await api.request(
            "GET", f"/api/v1/webhooks/{webhook_id}/deliveries?status=FAILED&size=3"
        )
        assert given_up.body == [], given_up.body
    finally:
        await unsubscribe(api, webhook_id)

    assert receiver.bad_signatures == 0
    assert receiver.refused, "no delivery was answered 500 first"
    assert all(receiver.deliveries_per_id[i] >= 1 for i in receiver.refused)
    calls = await api.calls(campaign["id"], size=1000)
    assert len(calls) == 500
    assert sum(c["retryCount"] for c in calls) > 0, "no retries"
    events = receiver.of_campaign(campaign["id"])
    check_call_events(events, calls)
    campaign_events = sorted(
        (e for e in events if e["type"].startswith("campaign.")), key=lambda e: e["sequence"]
    )
    assert [e["type"] for e in campaign_events] == ["campaign.started", "campaign.completed"]
    assert campaign_events[-1]["data"]["status"] == done["status"]
    assert campaign_events[-1]["data"]["metrics"]["totalCalls"] == 500


async def test_a_receiver_down_for_20_s_mid_campaign_misses_nothing(
    api: ApiClient, mock: MockClient
) -> None:
    """The receiver's port refuses connections for 20 s while the campaign runs, then the
    receiver is back on the same port: every event still arrives (retried with backoff)."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    port = server.port
    webhook_id = await subscribe(api, receiver, ["*"])
    try:
        await mock.configure(failureRate=0.1, noCallbackRate=0.0, syncErrorRate=0.0)
        campaign = await api.create_campaign(
            name="webhooks receiver down",
            # One line: about 40 s of dialling (the mock answers in 50-200 ms), so the
            # outage falls inside it.
            phoneNumbers=fresh_numbers(300),
            concurrencyLimit=1,
            retryConfig={"maxRetries": 1, "callbackRetryDelayMs": 100},
        )
        await api.action(campaign["id"], "start")

        async def some_received() -> bool:
            return len(receiver.events) >= 20

        await wait_until(some_received, timeout=60, message="first deliveries")
        await server.close()
        down_at = len(receiver.events)
        await asyncio.sleep(20)  # the outage itself, not a wait for a condition
        progressed = await api.campaign(campaign["id"])
        assert progressed["status"] == "IN_PROGRESS", "the campaign ended during the outage"
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        await finished(api, campaign["id"], timeout=180)
        await all_delivered(api, webhook_id, receiver, campaign["id"], timeout=120)
        log = await api.request("GET", f"/api/v1/webhooks/{webhook_id}/deliveries?size=1000")
    finally:
        await unsubscribe(api, webhook_id)
        await server.close()

    refused = [a for d in log.body for a in d["attempts"] if a["statusCode"] is None]
    assert refused and all(a["error"] and a["nextRetryAt"] for a in refused)
    calls = await api.calls(campaign["id"], size=1000)
    check_call_events(receiver.of_campaign(campaign["id"]), calls)
    assert len(receiver.events) > down_at + 100, "the outage was not mid-campaign"
    assert receiver.bad_signatures == 0


async def _dial(api: ApiClient, name: str) -> tuple[dict[str, Any], float]:
    """A campaign of 200 numbers run to its end; it and its dials per second (first to last
    attempt started)."""
    campaign = await api.create_campaign(
        name=name, phoneNumbers=fresh_numbers(200), concurrencyLimit=10
    )
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"], timeout=120)
    calls = await api.calls(campaign["id"], size=1000)
    starts = sorted(datetime.fromisoformat(a["startedAt"]) for c in calls for a in c["attempts"])
    return campaign, len(starts) / (starts[-1] - starts[0]).total_seconds()


async def test_a_hanging_receiver_times_out_while_another_receives_everything(
    api: ApiClient, mock: MockClient, serve: Any
) -> None:
    """The same campaign dialled beside a healthy receiver, then beside it and one that
    hangs: the dial rate holds (within 30 %, this machine's spread between two runs of two
    cores), the healthy one gets everything, the hanging one's requests time out."""
    hanging = await serve(Receiver(hang=True))
    healthy = await serve(Receiver())
    healthy_id = await subscribe(api, healthy, ["*"])
    hanging_id = ""
    try:
        await mock.configure(failureRate=0.0, noCallbackRate=0.0, syncErrorRate=0.0)
        control, alone = await _dial(api, "webhooks healthy only")
        await all_delivered(api, healthy_id, healthy, control["id"], timeout=60)
        hanging_id = await subscribe(api, hanging, ["*"])
        campaign, beside = await _dial(api, "webhooks hanging")
        await all_delivered(api, healthy_id, healthy, campaign["id"], timeout=60)
        calls = await api.calls(campaign["id"], size=1000)
        check_call_events(healthy.of_campaign(campaign["id"]), calls)
        assert beside >= 0.7 * alone, (beside, alone)

        async def timed_out() -> list[dict[str, Any]]:
            response = await api.request(
                "GET", f"/api/v1/webhooks/{hanging_id}/deliveries?size=1000"
            )
            return [
                a
                for d in response.body
                for a in d["attempts"]
                if a["statusCode"] is None and "no answer within" in (a["error"] or "")
            ]

        attempts = await wait_until(timed_out, timeout=30, message="timed-out attempts")
        assert all(a["nextRetryAt"] for a in attempts)
        assert hanging.events == {} and hanging.requests > 0
    finally:
        if hanging_id:
            await unsubscribe(api, hanging_id)
        await unsubscribe(api, healthy_id)


async def test_a_deliverer_killed_mid_delivery_loses_nothing(
    api: ApiClient, mock: MockClient, serve: Any, stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Two api replicas deliver; one is SIGKILLed while its requests are in flight (the
    receiver is slow), and its leased deliveries are sent by the other when the leases run
    out."""
    replica = await stack.start("api", "api-replica")
    other = ApiClient(http, replica.base_url)
    receiver = await serve(Receiver(delay_s=0.05))
    webhook_id = await subscribe(other, receiver, ["*"])
    try:
        await mock.configure(failureRate=0.0, noCallbackRate=0.0, syncErrorRate=0.0)
        campaign = await other.create_campaign(
            name="webhooks killed", phoneNumbers=fresh_numbers(200), concurrencyLimit=20
        )
        await other.action(campaign["id"], "start")

        async def some_delivered() -> bool:
            return len(receiver.events) >= 50

        await wait_until(some_delivered, timeout=60, message="first deliveries")
        gone = stack.kill("api")
        await finished(other, campaign["id"], timeout=120)
        await stack.start_again(gone)
        await all_delivered(other, webhook_id, receiver, campaign["id"], timeout=90)
        calls = await other.calls(campaign["id"], size=1000)
        check_call_events(receiver.of_campaign(campaign["id"]), calls)
        assert receiver.bad_signatures == 0
    finally:
        await unsubscribe(other, webhook_id)
        await stack.stop("api-replica")
