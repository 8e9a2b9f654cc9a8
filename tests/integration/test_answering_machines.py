"""Answering machines through the API and the real database: the campaign setting (create,
PATCH, refusals), and carriers' callbacks that say a machine answered, under each onMachine
(docs/answering-machines.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from services.api.app import create_app
from shared.messages import HangUpCall, parse_message
from shared.repositories.attempts import fetch_dial_rules, record_dials_accepted
from shared.settings import Settings
from shared.signatures import sign
from shared.topology import WORKER_SIGNALS
from tests.integration.test_attempts import call_row, running_campaign, start
from tests.integration.test_twilio_callbacks import PUBLIC, TOKEN, Callbacks, attempt_row
from tests.support.api_client import TEST_API_KEY, TEST_CALLBACK_SECRET
from tests.support.numbers import fresh_numbers
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    changes = {"twilio_auth_token": SecretStr(TOKEN), "public_base_url": PUBLIC}
    return await aiohttp_client(
        create_app(settings.model_copy(update=changes)),
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
    )


async def machine_campaign(db: asyncpg.Pool, on_machine: str, detect: bool = True) -> UUID:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    await db.execute(
        "UPDATE campaigns SET machine_detection = $2, on_machine = $3 WHERE id = $1",
        campaign_id,
        detect,
        on_machine,
    )
    return campaign_id


# -- the campaign setting -------------------------------------------------------------------


async def test_the_setting_is_created_shown_and_patched(client: Client, db: asyncpg.Pool) -> None:
    plain = await (await client.post("/api/v1/campaigns", json={"name": "no amd"})).json()
    assert plain["answeringMachine"] == {"detect": False, "onMachine": "COMPLETE"}

    body = {
        "name": "amd",
        "answeringMachine": {"detect": True, "onMachine": "RETRY"},
        "retryConfig": {"outcomes": {"MACHINE": {"maxRetries": 1, "delayMs": 60000}}},
    }
    created = await client.post("/api/v1/campaigns", json=body)
    assert created.status == 201, await created.text()
    campaign = await created.json()
    path = f"/api/v1/campaigns/{campaign['id']}"
    shown = await (await client.get(path)).json()
    assert shown["answeringMachine"] == {"detect": True, "onMachine": "RETRY"}
    assert shown["retryConfig"]["outcomes"]["MACHINE"]["maxRetries"] == 1

    async with db.acquire() as conn:
        rules = await fetch_dial_rules(conn, UUID(campaign["id"]))
    version = await db.fetchval(
        "SELECT settings_version FROM campaigns WHERE id = $1", UUID(campaign["id"])
    )
    assert rules is not None and rules.answering_machine.detect is True

    patched = await client.patch(path, json={"answeringMachine": {"onMachine": "HANG_UP"}})
    assert patched.status == 200, await patched.text()
    # A field left out keeps its value; the change bumps the settings version.
    assert (await patched.json())["answeringMachine"] == {"detect": True, "onMachine": "HANG_UP"}
    after = await db.fetchval(
        "SELECT settings_version FROM campaigns WHERE id = $1", UUID(campaign["id"])
    )
    assert after == version + 1

    reset = await client.patch(path, json={"answeringMachine": None})
    assert (await reset.json())["answeringMachine"] == {"detect": False, "onMachine": "COMPLETE"}


@pytest.mark.parametrize(
    ("machine", "field"),
    [
        ({"detect": True, "onMachine": "VOICEMAIL"}, "answeringMachine.onMachine"),
        ({"onMachine": "complete"}, "answeringMachine.onMachine"),
        ({"detect": "yes"}, "answeringMachine.detect"),
        ({"detect": True, "beep": True}, "answeringMachine.beep"),
        (["HANG_UP"], "answeringMachine"),
    ],
)
async def test_bad_settings_are_refused_by_field_and_change_nothing(
    client: Client, db: asyncpg.Pool, machine: Any, field: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM campaigns")
    refused = await client.post(
        "/api/v1/campaigns", json={"name": "bad", "answeringMachine": machine}
    )
    assert refused.status == 422, await refused.text()
    assert field in {e["field"] for e in (await refused.json())["errors"]}
    assert await db.fetchval("SELECT count(*) FROM campaigns") == before

    created = await client.post("/api/v1/campaigns", json={"name": "kept"})
    path = f"/api/v1/campaigns/{(await created.json())['id']}"
    kept = await (await client.get(path)).json()
    patched = await client.patch(path, json={"answeringMachine": machine})
    assert patched.status == 422
    assert field in {e["field"] for e in (await patched.json())["errors"]}
    assert await (await client.get(path)).json() == kept


# -- callbacks that say who answered ----------------------------------------------------------


@pytest.fixture
async def signals(settings: Settings) -> AsyncIterator[tuple[str, aio_pika.abc.AbstractQueue]]:
    """A worker's signals queue under a fresh worker id: what the api asks that worker."""
    worker_id = f"amd-{uuid4().hex[:8]}"
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(WORKER_SIGNALS)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, worker_id)
        yield worker_id, queue


async def next_signal(queue: aio_pika.abc.AbstractQueue) -> Any:
    """The next signal on the queue, waited for up to 10 s."""
    message = await wait_until(
        lambda: queue.get(fail=False), timeout=10, message="a signal to the worker"
    )
    await message.ack()
    return parse_message(message.body)


async def held_by(db: asyncpg.Pool, call_id: UUID, worker_id: str) -> None:
    await db.execute(
        "UPDATE call_attempts SET worker_id = $2 WHERE call_id = $1", call_id, worker_id
    )


async def test_complete_completes_a_call_a_machine_answered(
    client: Client, db: asyncpg.Pool
) -> None:
    started = await start(db, await machine_campaign(db, "COMPLETE"))
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)
    await carrier.status("in-progress", AnsweredBy="machine_start")
    await carrier.status("completed", CallDuration="25", AnsweredBy="machine_end_beep")

    call = await call_row(db, started.ref.call_id)
    assert (call["status"], call["failure_reason"], call["answered_by"]) == (
        "COMPLETED",
        None,
        "machine",
    )
    attempt = await attempt_row(db, started.ref.call_id)
    assert (attempt["outcome"], attempt["answered_by"]) == ("MACHINE", "machine")
    shown = await (await client.get(f"/api/v1/calls/{started.ref.call_id}")).json()
    assert shown["answeredBy"] == "machine"
    assert shown["attempts"][0]["answeredBy"] == "machine"
    assert shown["attempts"][0]["outcome"] == "MACHINE"


async def test_retry_schedules_the_machine_rule(client: Client, db: asyncpg.Pool) -> None:
    started = await start(db, await machine_campaign(db, "RETRY"))
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)
    answer = await carrier.status("completed", CallDuration="25", AnsweredBy="machine_start")
    assert answer["callStatus"] == "FAILED"
    call = await call_row(db, started.ref.call_id)
    assert call["failure_reason"] == "MACHINE" and call["next_retry_at"] is not None


async def test_hang_up_asks_the_holder_to_hang_up_and_fails_the_call(
    client: Client, db: asyncpg.Pool, signals: tuple[str, aio_pika.abc.AbstractQueue]
) -> None:
    worker_id, queue = signals
    started = await start(db, await machine_campaign(db, "HANG_UP"))
    await held_by(db, started.ref.call_id, worker_id)
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)
    await carrier.status("ringing")
    await carrier.status("in-progress", AnsweredBy="machine_start")

    signal = await next_signal(queue)
    assert isinstance(signal, HangUpCall)
    assert (signal.call_id, signal.attempt_no) == (started.ref.call_id, started.ref.attempt_no)
    assert signal.external_call_id == carrier.sid

    answer = await carrier.status("completed", CallDuration="2", AnsweredBy="machine_start")
    assert answer["callStatus"] == "PERMANENTLY_FAILED"
    call = await call_row(db, started.ref.call_id)
    assert (call["failure_reason"], call["next_retry_at"]) == ("MACHINE", None)


async def test_a_person_is_never_hung_up_on(
    client: Client, db: asyncpg.Pool, signals: tuple[str, aio_pika.abc.AbstractQueue]
) -> None:
    worker_id, queue = signals
    started = await start(db, await machine_campaign(db, "HANG_UP"))
    await held_by(db, started.ref.call_id, worker_id)
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)
    await carrier.status("in-progress", AnsweredBy="human")
    answer = await carrier.status("completed", CallDuration="40", AnsweredBy="human")
    assert answer["callStatus"] == "COMPLETED"
    # The end of the attempt is signalled, and nothing else.
    signal = await next_signal(queue)
    assert type(signal).__name__ == "AttemptEnded"
    assert await queue.get(fail=False) is None


async def test_without_detection_the_answer_is_reported_and_the_call_completes(
    client: Client, db: asyncpg.Pool
) -> None:
    started = await start(db, await machine_campaign(db, "HANG_UP", detect=False))
    carrier = Callbacks(client, started.ref.call_id, started.ref.attempt_no)
    answer = await carrier.status("completed", CallDuration="9", AnsweredBy="machine_start")
    assert answer["callStatus"] == "COMPLETED"
    attempt = await attempt_row(db, started.ref.call_id)
    assert (attempt["outcome"], attempt["answered_by"]) == ("COMPLETED", "machine")


async def post_json_callback(client: Client, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Signature": sign(TEST_CALLBACK_SECRET, raw)}
    return await client.post("/api/v1/calls/callback", data=raw, headers=headers)


@pytest.mark.parametrize(
    ("on_machine", "status"),
    [("COMPLETE", "COMPLETED"), ("RETRY", "FAILED"), ("HANG_UP", "PERMANENTLY_FAILED")],
)
async def test_the_json_callback_takes_answered_by(
    client: Client, db: asyncpg.Pool, on_machine: str, status: str
) -> None:
    started = await start(db, await machine_campaign(db, on_machine))
    external = f"ext-{uuid4()}"
    async with db.acquire() as conn:
        await record_dials_accepted(conn, [(started.ref, external)])
    response = await post_json_callback(
        client,
        {"externalCallId": external, "status": "COMPLETED", "answeredBy": "machine"},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["callStatus"] == status
    assert (await call_row(db, started.ref.call_id))["answered_by"] == "machine"


async def test_a_json_callback_with_a_bad_answer_is_422_and_changes_nothing(
    client: Client, db: asyncpg.Pool
) -> None:
    started = await start(db, await machine_campaign(db, "COMPLETE"))
    external = f"ext-{uuid4()}"
    async with db.acquire() as conn:
        await record_dials_accepted(conn, [(started.ref, external)])
    for bad in ("m" * 41, 7):
        body = {"externalCallId": external, "status": "COMPLETED", "answeredBy": bad}
        response = await post_json_callback(client, body)
        assert response.status == 422
        assert "answeredBy" in {e["field"] for e in (await response.json())["errors"]}
    assert (await attempt_row(db, started.ref.call_id))["outcome"] is None
