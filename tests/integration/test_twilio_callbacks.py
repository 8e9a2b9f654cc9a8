"""POST /api/v1/calls/callback/twilio against the real database: signatures computed by the
official `twilio` package, progress versus results, duplicates and disorder, and a proxy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from services.api.app import create_app
from shared.settings import Settings
from tests.integration.test_attempts import call_row, running_campaign, start
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]

TOKEN = "twilio-test-token"
PUBLIC = "https://calls.example.com/vcs"
PATH = "/api/v1/calls/callback/twilio"


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    changes = {"twilio_auth_token": SecretStr(TOKEN), "public_base_url": PUBLIC}
    return await aiohttp_client(create_app(settings.model_copy(update=changes)))


class Callbacks:
    """Posts status callbacks for one attempt as a carrier would: to the URL the adapter gave
    it, signed by Twilio's own RequestValidator over the public URL."""

    def __init__(self, client: Client, call_id: Any, attempt_no: int) -> None:
        self.client = client
        self.sid = f"CA{uuid4().hex}"
        self.query = "?" + urlencode({"callId": str(call_id), "attemptNo": attempt_no})

    async def post(self, token: str = TOKEN, url: str | None = None, **form: str) -> Any:
        signed_url = url or f"{PUBLIC}{PATH}{self.query}"
        signature = RequestValidator(token).compute_signature(signed_url, form)
        return await self.client.post(
            f"{PATH}{self.query}", data=form, headers={"X-Twilio-Signature": signature}
        )

    async def status(self, status: str, **extra: str) -> Any:
        response = await self.post(CallSid=self.sid, CallStatus=status, **extra)
        assert response.status == 200, await response.text()
        return await response.json()


async def attempt_row(db: asyncpg.Pool, call_id: Any) -> asyncpg.Record:
    row = await db.fetchrow("SELECT * FROM call_attempts WHERE call_id = $1", call_id)
    assert row is not None
    return row


async def test_bad_or_missing_signatures_are_403_and_change_nothing(
    client: Client, db: asyncpg.Pool
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    started = await start(db, campaign_id)
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)
    form = {"CallSid": "CAfeed", "CallStatus": "completed", "CallDuration": "9"}

    unsigned = await client.post(f"{PATH}{carrier.query}", data=form)
    wrong_token = await carrier.post(token="not-the-token", **form)
    # Signed over the socket's address instead of the public URL the carrier was given.
    socket_url = await carrier.post(url=str(client.make_url(f"{PATH}{carrier.query}")), **form)
    for response in (unsigned, wrong_token, socket_url):
        assert response.status == 403
        problem = await response.json()
        assert problem["type"] == "/problems/forbidden"
    # A signature for one attempt's URL does not carry over to another's.
    other = Callbacks(client, started.ref.call_id, started.ref.attempt_no + 1)
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{PATH}{other.query}", form)
    moved = await client.post(
        f"{PATH}{carrier.query}", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert moved.status == 403

    row = await attempt_row(db, started.ref.call_id)
    assert row["outcome"] is None and row["provider_status"] is None
    assert (await call_row(db, started.ref.call_id))["status"] == "SCHEDULED"


async def test_progress_then_result(client: Client, db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    started = await start(db, campaign_id)
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)

    for status in ("initiated", "ringing", "in-progress"):
        answer = await carrier.status(status)
        assert answer["applied"] is True
        assert answer["callStatus"] is None
        row = await attempt_row(db, started.ref.call_id)
        assert row["outcome"] is None
        assert row["provider_status"] == status.upper().replace("-", "_")
    call = await call_row(db, started.ref.call_id)
    assert call["status"] == "IN_PROGRESS"
    assert call["external_call_id"] == carrier.sid

    answer = await carrier.status(
        "completed", CallDuration="42", SipResponseCode="200", AnsweredBy="human"
    )
    assert answer == {
        "externalCallId": carrier.sid,
        "applied": True,
        "callId": str(started.ref.call_id),
        "callStatus": "COMPLETED",
    }
    row = await attempt_row(db, started.ref.call_id)
    assert (row["outcome"], row["duration_seconds"]) == ("COMPLETED", 42)
    assert (row["answered_by"], row["sip_response_code"]) == ("human", 200)
    call = await call_row(db, started.ref.call_id)
    assert (call["status"], call["call_duration_seconds"]) == ("COMPLETED", 42)


@pytest.mark.parametrize("final", ["busy", "no-answer", "failed"])
async def test_a_failure_schedules_one_retry_whatever_the_order_and_repeats(
    client: Client, db: asyncpg.Pool, final: str
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    started = await start(db, campaign_id)
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)

    # The result first, then late progress, then the result again.
    first = await carrier.status(final, SipResponseCode="486")
    assert (first["applied"], first["callStatus"]) == (True, "FAILED")
    after_first = await call_row(db, started.ref.call_id)
    for status in ("ringing", "initiated"):
        late = await carrier.status(status)
        assert late["applied"] is False
    again = await carrier.status(final, SipResponseCode="486")
    assert again["applied"] is False

    call = await call_row(db, started.ref.call_id)
    assert call["status"] == "FAILED"
    assert call["failure_reason"] == f"{final} (SIP 486)"
    assert call["next_retry_at"] == after_first["next_retry_at"] is not None
    assert call["dial_count"] == 1
    attempts = await db.fetch("SELECT * FROM call_attempts WHERE call_id = $1", started.ref.call_id)
    assert len(attempts) == 1
    assert attempts[0]["outcome"] == final.upper().replace("-", "_")
    assert attempts[0]["provider_status"] is None  # late progress never touched it
    assert await db.fetchval("SELECT in_flight FROM campaigns WHERE id = $1", campaign_id) == 0


async def test_a_callback_by_sid_alone_finds_its_attempt(client: Client, db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    started = await start(db, campaign_id)
    await db.execute(
        "UPDATE call_attempts SET external_call_id = 'CAbysid' WHERE call_id = $1",
        started.ref.call_id,
    )
    form = {"CallSid": "CAbysid", "CallStatus": "completed", "CallDuration": "3"}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{PATH}", form)
    response = await client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status == 200, await response.text()
    assert (await response.json())["callStatus"] == "COMPLETED"

    unknown = {"CallSid": "CAnobody", "CallStatus": "completed"}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{PATH}", unknown)
    response = await client.post(PATH, data=unknown, headers={"X-Twilio-Signature": signature})
    assert response.status == 404


async def test_a_sid_of_another_attempt_is_a_conflict(client: Client, db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    first, second = await start(db, campaign_id), await start(db, campaign_id)
    one = Callbacks(client, first.ref.call_id, first.ref.attempt_no)
    await one.status("ringing")
    other = Callbacks(client, second.ref.call_id, second.ref.attempt_no)
    response = await other.post(CallSid=one.sid, CallStatus="completed")
    assert response.status == 409
    assert (await attempt_row(db, second.ref.call_id))["outcome"] is None


async def test_signed_nonsense_is_422(client: Client) -> None:
    form = {"CallSid": "CA1", "CallStatus": "exploded"}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{PATH}", form)
    response = await client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status == 422
    assert "CallStatus" in await response.text()


async def test_without_a_token_every_callback_is_refused(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"twilio_auth_token": None}))
    )
    form = {"CallSid": "CA1", "CallStatus": "completed"}
    signature = RequestValidator(TOKEN).compute_signature(str(client.make_url(PATH)), form)
    response = await client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status == 403
    assert "VCS_TWILIO_AUTH_TOKEN" in (await response.json())["detail"]


async def test_without_a_public_url_the_request_url_is_signed(
    aiohttp_client: MakeClient, settings: Settings, db: asyncpg.Pool
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"twilio_auth_token": SecretStr(TOKEN)}))
    )
    form = {"CallSid": "CAnobody2", "CallStatus": "ringing"}
    signature = RequestValidator(TOKEN).compute_signature(str(client.make_url(PATH)), form)
    response = await client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status == 404  # signed correctly; names no attempt


async def test_anything_but_a_form_is_415(client: Client) -> None:
    response = await client.post(PATH, json={"CallSid": "CA1", "CallStatus": "completed"})
    assert response.status == 415
