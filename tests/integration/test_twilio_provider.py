"""The twilio provider over real HTTP: what it sends, and how it reads a carrier that answers,
refuses, hangs or is not there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from uuid import uuid4

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.worker.telephony.base import DialRequest, HangUpRequest
from services.worker.telephony.providers.twilio import TwilioConfig, TwilioProvider
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from tests.support.stack import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

MakeServer = Callable[..., Awaitable[TestServer]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def config(base_url: str, timeout_s: float = 2.0) -> TwilioConfig:
    return TwilioConfig(
        base_url=base_url,
        account_sid="AC1",
        auth_token="token-1",
        caller_id="+15005550006",
        twiml_url="https://voice.example.com/twiml",
        twiml=None,
        ring_timeout_s=25,
        machine_detection="Enable",
        public_base_url="https://voice.example.com",
        request_timeout_s=timeout_s,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def carrier(aiohttp_server: MakeServer, handler: Handler) -> str:
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/AC1/Calls.json", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


def request() -> DialRequest:
    return DialRequest(uuid4(), 1, uuid4(), "+14155550100")


async def test_sends_the_form_with_basic_auth_and_reads_the_sid(
    aiohttp_server: MakeServer, http: aiohttp.ClientSession
) -> None:
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    async def created(incoming: web.Request) -> web.Response:
        form = await incoming.post()
        seen.append((incoming.headers["Authorization"], [(k, str(v)) for k, v in form.items()]))
        return web.json_response({"sid": "CA77", "status": "queued"}, status=201)

    provider = TwilioProvider(http, config(await carrier(aiohttp_server, created)))
    assert await provider.place_call(request()) == "CA77"
    [(auth, form)] = seen
    assert auth == aiohttp.encode_basic_auth("AC1", "token-1")
    assert ("Timeout", "25") in form
    # Only a campaign that detects machines asks for detection.
    assert "MachineDetection" not in dict(form)
    assert [v for k, v in form if k == "StatusCallbackEvent"] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert await provider.place_call(replace(request(), machine_detection=True)) == "CA77"
    assert ("MachineDetection", "Enable") in seen[1][1]


async def test_a_hang_up_posts_status_completed_to_the_call(
    aiohttp_server: MakeServer, http: aiohttp.ClientSession
) -> None:
    seen: list[tuple[str, str, dict[str, str]]] = []

    async def updated(incoming: web.Request) -> web.Response:
        form = await incoming.post()
        sid = incoming.match_info["sid"]
        seen.append((incoming.headers["Authorization"], sid, {k: str(v) for k, v in form.items()}))
        if sid == "CAgone":
            return web.json_response({"code": 20404, "message": "not found"}, status=404)
        if sid == "CAbusy":
            return web.json_response({"code": 20503, "message": "unavailable"}, status=503)
        return web.json_response({"sid": sid, "status": "completed"})

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/AC1/Calls/{sid}.json", updated)
    server = await aiohttp_server(app)
    provider = TwilioProvider(http, config(str(server.make_url("")).rstrip("/")))
    call = request()

    def hang_up(sid: str) -> HangUpRequest:
        return HangUpRequest(call.call_id, 1, call.campaign_id, sid)

    await provider.hang_up(hang_up("CA77"))
    assert seen == [(aiohttp.encode_basic_auth("AC1", "token-1"), "CA77", {"Status": "completed"})]
    with pytest.raises(ProviderRejected, match="not found"):
        await provider.hang_up(hang_up("CAgone"))
    with pytest.raises(ProviderUnavailable, match="503"):
        await provider.hang_up(hang_up("CAbusy"))


async def test_an_invalid_number_is_rejected_with_the_carriers_words(
    aiohttp_server: MakeServer, http: aiohttp.ClientSession
) -> None:
    async def invalid(_: web.Request) -> web.Response:
        body = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
        return web.json_response(body, status=400)

    provider = TwilioProvider(http, config(await carrier(aiohttp_server, invalid)))
    with pytest.raises(ProviderRejected, match="21211: Invalid 'To' Phone Number"):
        await provider.place_call(request())


async def test_a_carrier_that_is_not_there_did_not_place_the_call(
    http: aiohttp.ClientSession,
) -> None:
    provider = TwilioProvider(http, config(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        await provider.place_call(request())


async def test_a_carrier_that_hangs_may_have_placed_the_call(
    aiohttp_server: MakeServer, http: aiohttp.ClientSession
) -> None:
    async def hang(_: web.Request) -> web.Response:
        await asyncio.Event().wait()  # never answers
        return web.json_response({"sid": "CA-late"}, status=201)

    provider = TwilioProvider(http, config(await carrier(aiohttp_server, hang), timeout_s=0.3))
    with pytest.raises(ProviderOutcomeUnknown):
        await provider.place_call(request())


async def test_a_carrier_that_drops_the_connection_may_have_placed_the_call(
    aiohttp_server: MakeServer, http: aiohttp.ClientSession
) -> None:
    async def drop(incoming: web.Request) -> web.Response:
        await incoming.read()
        assert incoming.transport is not None
        incoming.transport.close()
        return web.Response()

    provider = TwilioProvider(http, config(await carrier(aiohttp_server, drop)))
    with pytest.raises(ProviderOutcomeUnknown):
        await provider.place_call(request())
