"""The mock carrier's Twilio-compatible API, served in-process, with a receiver for its status
callbacks: what it refuses as Twilio would, and callbacks that Twilio's own validator accepts."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from services.telephony_mock.behaviour import Behaviour, MockConfig
from services.telephony_mock.carrier import Carrier, Result
from services.telephony_mock.http_api import create_app
from services.telephony_mock.twilio_api import TwilioAccount, add_twilio_routes
from services.telephony_mock.twilio_callbacks import TwilioCallbacks
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "mock-twilio-token"
MakeServer = Callable[..., Awaitable[TestServer]]


class Receiver:
    """Where the status callbacks go; keeps each with whether Twilio's validator accepts it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = RequestValidator(TOKEN).validate(str(request.url), form, signature)
        self.received.append({**form, "valid": valid, "query": dict(request.query)})
        return web.Response(status=204)

    def statuses(self, call_sid: str) -> list[str]:
        return [str(r["CallStatus"]) for r in self.received if r["CallSid"] == call_sid]


@pytest_asyncio.fixture(loop_scope="session")
async def carrier_and_receiver(
    aiohttp_server: MakeServer,
) -> AsyncIterator[tuple[str, Carrier, Receiver]]:
    receiver = Receiver()
    receiving = web.Application()
    receiving.router.add_post("/callback", receiver.handle)
    receiver_server = await aiohttp_server(receiving)
    receiver.url = str(receiver_server.make_url("/callback"))
    async with aiohttp.ClientSession() as http:
        callbacks = TwilioCallbacks(http, SID, TOKEN)

        async def report(result: Result) -> None:
            await callbacks.report(result)

        config = MockConfig(delayMinMs=10, delayMaxMs=30, failureRate=0, noCallbackRate=0)
        carrier = Carrier(Behaviour(config, random.Random(5)), report, callbacks.announce)
        app = create_app(carrier, {})
        add_twilio_routes(app, TwilioAccount(SID, TOKEN))
        server = await aiohttp_server(app)
        yield str(server.make_url(f"/2010-04-01/Accounts/{SID}/Calls.json")), carrier, receiver
        await carrier.close()


EVERY_EVENT = [
    ("StatusCallbackEvent", e) for e in ("initiated", "ringing", "answered", "completed")
]


async def dial(
    calls_url: str, form: list[tuple[str, str]], token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": aiohttp.encode_basic_auth(SID, token)}
    async with (
        aiohttp.ClientSession() as http,
        http.post(calls_url, data=form, headers=headers) as response,
    ):
        return response.status, await response.json()


def call_form(receiver: Receiver, to: str = "+14155550100") -> list[tuple[str, str]]:
    return [
        ("To", to),
        ("From", "+15005550006"),
        ("Url", "http://example.com/twiml"),
        ("StatusCallback", f"{receiver.url}?callId=c1&attemptNo=1&campaignId=k1"),
        *EVERY_EVENT,
    ]


async def test_refuses_what_twilio_refuses(
    carrier_and_receiver: tuple[str, Carrier, Receiver],
) -> None:
    calls_url, _, receiver = carrier_and_receiver
    form = call_form(receiver)
    status, body = await dial(calls_url, form, token="wrong")
    assert (status, body["code"]) == (401, 20003)
    status, body = await dial(calls_url.replace(SID, "AC" + "0" * 32), form)
    assert (status, body["code"]) == (404, 20404)
    status, body = await dial(calls_url, [f for f in form if f[0] != "To"])
    assert (status, body["code"]) == (400, 21201)
    status, body = await dial(calls_url, [f for f in form if f[0] != "Url"])
    assert (status, body["code"]) == (400, 21205)
    status, body = await dial(calls_url, call_form(receiver, to="555-0100"))
    assert (status, body["code"]) == (400, 21211)
    assert "555-0100" in body["message"]
    status, body = await dial(calls_url, [*form, ("StatusCallbackEvent", "exploded")])
    assert (status, body["code"]) == (400, 21626)


async def test_a_placed_call_reports_every_asked_event_signed(
    carrier_and_receiver: tuple[str, Carrier, Receiver],
) -> None:
    calls_url, carrier, receiver = carrier_and_receiver
    status, body = await dial(calls_url, call_form(receiver))
    assert status == 201
    assert body["sid"].startswith("CA") and len(body["sid"]) == 34
    assert body["status"] == "queued"

    async def ended() -> bool:
        return "completed" in receiver.statuses(body["sid"])

    await wait_until(ended, timeout=5, message="the final callback")
    assert receiver.statuses(body["sid"]) == ["initiated", "ringing", "in-progress", "completed"]
    mine = [r for r in receiver.received if r["CallSid"] == body["sid"]]
    assert all(r["valid"] for r in mine), "Twilio's validator refused a callback"
    assert mine[-1]["CallDuration"].isdigit()
    assert mine[-1]["SipResponseCode"] == "200"
    assert mine[-1]["query"] == {"callId": "c1", "attemptNo": "1", "campaignId": "k1"}
    [record] = carrier.calls(campaign_id="k1")[-1:]
    assert (record.call_id, record.attempt_no, record.channel) == ("c1", 1, "twilio")


async def test_only_the_asked_events_and_always_the_final_one(
    carrier_and_receiver: tuple[str, Carrier, Receiver],
) -> None:
    calls_url, carrier, receiver = carrier_and_receiver
    carrier.configure(
        MockConfig(delayMinMs=10, delayMaxMs=30, failureRate=1, noCallbackRate=0, syncErrorRate=0)
    )
    form = [f for f in call_form(receiver) if f[0] != "StatusCallbackEvent"]
    status, body = await dial(calls_url, [*form, ("StatusCallbackEvent", "ringing")])
    assert status == 201

    async def ended() -> bool:
        statuses = receiver.statuses(body["sid"])
        return len(statuses) == 2

    await wait_until(ended, timeout=5, message="two callbacks")
    ringing, final = receiver.statuses(body["sid"])
    assert ringing == "ringing"
    assert final in ("busy", "no-answer", "failed")


async def test_duplicates_and_disorder_on_request(
    carrier_and_receiver: tuple[str, Carrier, Receiver],
) -> None:
    calls_url, carrier, receiver = carrier_and_receiver
    carrier.configure(
        MockConfig(
            delayMinMs=10,
            delayMaxMs=30,
            failureRate=0,
            noCallbackRate=0,
            duplicateCallbackRate=1,
            outOfOrderCallbackRate=1,
        )
    )
    status, body = await dial(calls_url, call_form(receiver))
    assert status == 201

    async def all_sent() -> bool:
        return len(receiver.statuses(body["sid"])) == 5

    await wait_until(all_sent, timeout=5, message="five callbacks")
    assert receiver.statuses(body["sid"]) == [
        "initiated",
        "completed",
        "ringing",
        "in-progress",
        "completed",
    ]


async def test_sync_errors_are_503_and_429(
    carrier_and_receiver: tuple[str, Carrier, Receiver],
) -> None:
    calls_url, carrier, receiver = carrier_and_receiver
    carrier.configure(MockConfig(failureRate=0, noCallbackRate=0, syncErrorRate=1))
    assert (await dial(calls_url, call_form(receiver)))[0] == 503
    carrier.configure(
        MockConfig(failureRate=0, noCallbackRate=0, syncErrorRate=0, rateLimitedRate=1)
    )
    status, body = await dial(calls_url, call_form(receiver))
    assert (status, body["code"]) == (429, 20429)
