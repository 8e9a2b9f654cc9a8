"""API keys, the rate limit, callback signatures and the keys CLI."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.settings import Settings
from shared.signatures import sign
from tests.support.api_client import TEST_API_KEY, TEST_CALLBACK_SECRET
from tests.support.infra import Infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]


async def app_client(aiohttp_client: MakeClient, settings: Settings, **changes: Any) -> Client:
    return await aiohttp_client(create_app(settings.model_copy(update=changes)))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    assert (await response.json())["type"] == f"/problems/{code}"


async def test_every_api_endpoint_needs_a_key(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    client = await app_client(aiohttp_client, settings)
    missing = await client.get("/api/v1/campaigns")
    await assert_problem(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    await assert_problem(
        await client.post(
            "/api/v1/calls", json={"phoneNumber": "+14155550100"}, headers=bearer("wrong")
        ),
        401,
        "unauthorized",
    )
    await assert_problem(
        await client.get("/api/v1/campaigns", headers={"Authorization": TEST_API_KEY}),
        401,
        "unauthorized",
    )
    assert (await client.get("/api/v1/campaigns", headers=bearer(TEST_API_KEY))).status == 200
    assert (await client.get("/health")).status == 200


async def run_keys_cli(infra: Infra, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.api",
        "keys",
        *args,
        env={"VCS_DATABASE_URL": infra.database_url, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_keys_made_by_the_cli_work_until_revoked(
    aiohttp_client: MakeClient, settings: Settings, infra: Infra
) -> None:
    client = await app_client(aiohttp_client, settings, api_key_cache_ms=0)
    created = await run_keys_cli(infra, "create", "--name", "integration test")
    key = created.strip().splitlines()[-1]
    assert key.startswith("vcs_")
    assert (await client.get("/api/v1/campaigns", headers=bearer(key))).status == 200
    listing = await run_keys_cli(infra, "list")
    assert "integration test" in listing and key not in listing
    await run_keys_cli(infra, "revoke", key[:10])
    await assert_problem(
        await client.get("/api/v1/campaigns", headers=bearer(key)), 401, "unauthorized"
    )


async def test_rate_limit_refuses_then_recovers(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    client = await app_client(
        aiohttp_client, settings, rate_limit_per_second=5.0, rate_limit_burst=5
    )
    statuses = []
    last: Any = None
    for _ in range(8):
        last = await client.get("/api/v1/campaigns?size=1", headers=bearer(TEST_API_KEY))
        statuses.append(last.status)
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    assert last.status == 429
    await assert_problem(last, 429, "rate-limited")
    assert int(last.headers["Retry-After"]) >= 1
    assert last.headers["RateLimit-Limit"] == "5"
    assert last.headers["RateLimit-Remaining"] == "0"

    async def allowed_again() -> bool:
        response = await client.get("/api/v1/campaigns?size=1", headers=bearer(TEST_API_KEY))
        return response.status == 200

    await wait_until(allowed_again, timeout=3, interval=0.25, message="the bucket to refill")
    # Another client, and unauthenticated callers (per address), have buckets of their own.
    assert (await client.get("/health")).status == 200


async def test_carrier_callbacks_are_not_rate_limited(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    client = await app_client(
        aiohttp_client, settings, rate_limit_per_second=1.0, rate_limit_burst=2
    )
    body = json.dumps({"externalCallId": "nobody", "status": "COMPLETED"}).encode()
    headers = {"Content-Type": "application/json", "X-Signature": sign(TEST_CALLBACK_SECRET, body)}
    statuses = [
        (await client.post("/api/v1/calls/callback", data=body, headers=headers)).status
        for _ in range(6)
    ]
    assert statuses == [404] * 6  # each read and answered; none refused for pace
    twilio = [
        (await client.post("/api/v1/calls/callback/twilio", data={"CallSid": "CA1"})).status
        for _ in range(4)
    ]
    assert 429 not in twilio


async def test_callbacks_must_be_signed(aiohttp_client: MakeClient, settings: Settings) -> None:
    client = await app_client(aiohttp_client, settings)
    body = json.dumps({"externalCallId": "nobody", "status": "COMPLETED"}).encode()
    headers = {"Content-Type": "application/json"}

    async def post(raw: bytes, signature: str | None) -> Any:
        extra = {"X-Signature": signature} if signature else {}
        return await client.post("/api/v1/calls/callback", data=raw, headers={**headers, **extra})

    await assert_problem(await post(body, None), 401, "unauthorized")
    await assert_problem(await post(body, sign("another secret", body)), 401, "unauthorized")
    changed = body.replace(b"COMPLETED", b"FAILED")
    await assert_problem(await post(changed, sign(TEST_CALLBACK_SECRET, body)), 401, "unauthorized")
    # Correctly signed, the callback is read (and refers to no call).
    await assert_problem(await post(body, sign(TEST_CALLBACK_SECRET, body)), 404, "not-found")
    bare_hex = sign(TEST_CALLBACK_SECRET, body).removeprefix("sha256=")
    await assert_problem(await post(body, bare_hex), 404, "not-found")

    unconfigured = await app_client(aiohttp_client, settings, callback_secret=None)
    response = await unconfigured.post(
        "/api/v1/calls/callback",
        data=body,
        headers={**headers, "X-Signature": sign(TEST_CALLBACK_SECRET, body)},
    )
    await assert_problem(response, 401, "unauthorized")


async def test_a_query_parameter_without_a_name_is_malformed(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    client = await app_client(aiohttp_client, settings)
    refused = await client.get("/api/v1/campaigns?=false&size=1", headers=bearer(TEST_API_KEY))
    assert refused.status == 400
    assert refused.content_type == "application/problem+json"
    assert "no name" in (await refused.json())["detail"]
    # An unknown parameter with a name is ignored, as the seed's API ignored it.
    assert (await client.get("/api/v1/campaigns?_=1", headers=bearer(TEST_API_KEY))).status == 200
    assert (await client.get("/api/v1/campaigns?page=", headers=bearer(TEST_API_KEY))).status == 200
