"""A thousand requests that must be refused, sent while campaigns run: malformed, oversized,
unauthenticated, or carrying forged carrier signatures. None gets a 5xx, none changes
anything, and the campaigns finish as they would have."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import aiohttp
import pytest

from shared.signatures import sign
from tests.faults.harness import FaultRun, fault_run
from tests.support.numbers import fresh_numbers

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]

MAX_BODY = 256 * 1024
TWILIO_PATH = "/api/v1/calls/callback/twilio"

Probe = Callable[[FaultRun, random.Random], Awaitable[tuple[str, int]]]


async def _send(
    run: FaultRun,
    method: str,
    path: str,
    *,
    key: str | None = "valid",
    **kwargs: Any,
) -> int:
    headers = dict(kwargs.pop("headers", {}))
    if key == "valid":
        headers["Authorization"] = f"Bearer {run.api.key}"
    elif key is not None:
        headers["Authorization"] = f"Bearer {key}"
    try:
        async with run.http.request(
            method, f"{run.stack.url('api')}{path}", headers=headers, **kwargs
        ) as response:
            await response.read()
            return response.status
    except aiohttp.ServerDisconnectedError:
        # The server may close after refusing a body it would not read (413).
        return 413


def _campaign(run: FaultRun, rng: random.Random) -> str:
    return str(rng.choice(run.campaigns)["id"])


async def unauthenticated(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    campaign = _campaign(run, rng)
    method, path = rng.choice(
        [
            ("POST", "/api/v1/campaigns"),
            ("POST", f"/api/v1/campaigns/{campaign}/pause"),
            ("POST", f"/api/v1/campaigns/{campaign}/cancel"),
            ("PATCH", f"/api/v1/campaigns/{campaign}"),
            ("DELETE", f"/api/v1/campaigns/{campaign}"),
            ("POST", f"/api/v1/campaigns/{campaign}/import/batch"),
            ("POST", "/api/v1/calls"),
            ("GET", "/api/v1/metrics"),
        ]
    )
    key = rng.choice([None, "wrong-key", "", "Bearer", "x" * 300])
    body = {"name": "intruder", "phoneNumbers": fresh_numbers(1), "concurrencyLimit": 999}
    return "unauthenticated", await _send(run, method, path, key=key, json=body)


async def malformed_json(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    campaign = _campaign(run, rng)
    path = rng.choice(
        [
            "/api/v1/campaigns",
            f"/api/v1/campaigns/{campaign}",
            f"/api/v1/campaigns/{campaign}/import/batch",
            "/api/v1/calls",
        ]
    )
    method = "PATCH" if path.count("/") == 4 else "POST"
    body = rng.choice([b"{", b"not json", b'{"name": }', b"\xff\xfe\x00", b"[1, 2", b'"x"'])
    headers = {"Content-Type": "application/json"}
    return "malformed JSON", await _send(run, method, path, data=body, headers=headers)


async def invalid_fields(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    campaign = _campaign(run, rng)
    body = rng.choice(
        [
            {"concurrencyLimit": -5},
            {"concurrencyLimit": "ten"},
            {"priority": 99},
            {"retryConfig": {"callbackTimeoutMs": 99_999_999}},
            {"businessHours": {"startTime": "25:00", "endTime": "26:00"}},
            {"businessHours": {"startTime": "09:00", "endTime": "17:00", "timezone": "Mars/X"}},
            {"businessHours": {"startTime": "09:00", "endTime": "09:00"}},
            {"callsPerSecond": 0},
            {"unknownField": True},
            {"name": ""},
        ]
    )
    if rng.random() < 0.5:
        return "invalid fields", await _send(
            run, "PATCH", f"/api/v1/campaigns/{campaign}", json=body
        )
    return "invalid fields", await _send(
        run, "POST", "/api/v1/campaigns", json={"name": "bad", **body}
    )


async def oversized(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    campaign = _campaign(run, rng)
    body = b'{"phoneNumbers": ["' + b"1" * (MAX_BODY + 1000) + b'"]}'
    return "oversized body", await _send(
        run,
        "POST",
        f"/api/v1/campaigns/{campaign}/import/batch",
        data=body,
        headers={"Content-Type": "application/json"},
    )


async def oversized_head(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    host, port = "127.0.0.1", int(run.stack.services["api"].port)
    line = rng.choice(
        [
            b"GET /api/v1/" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/v1/metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
            b"GET /api/v1/metrics HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # TLS spoken to a plain port
        ]
    )
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(line)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(64), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    status = int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/") else 400
    return "oversized or broken head", status


async def forged_callback(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    dials = [d for d in run.recent_dials if d.get("externalCallId")]
    external = rng.choice(dials)["externalCallId"] if dials else f"mock-{uuid4()}"
    raw = json.dumps({"externalCallId": external, "status": "FAILED"}).encode()
    signature = rng.choice([None, "sha256=" + "0" * 64, sign("not-the-secret", raw), "garbage"])
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature"] = signature
    return "forged callback", await _send(
        run, "POST", "/api/v1/calls/callback", key=None, data=raw, headers=headers
    )


async def forged_twilio_callback(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    form = {"CallSid": f"CA{uuid4().hex}", "CallStatus": "completed", "CallDuration": "9"}
    headers = {"X-Twilio-Signature": rng.choice(["", "bm90IGEgc2lnbmF0dXJl", "x" * 28])}
    return "forged Twilio callback", await _send(
        run, "POST", TWILIO_PATH, key=None, data=form, headers=headers
    )


async def broken_upload(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    campaign = _campaign(run, rng)
    content_type, body = rng.choice(
        [
            ("multipart/form-data; boundary=xyz", b"--xyz\r\ngarbage"),
            ("multipart/form-data", b"--xyz\r\n\r\n+14155550100\r\n--xyz--\r\n"),
            ("multipart/form-data; boundary=xyz", b""),
            ("text/csv", b"+14155550100\n"),
        ]
    )
    return "broken upload", await _send(
        run,
        "POST",
        f"/api/v1/campaigns/{campaign}/import",
        data=body,
        headers={"Content-Type": content_type},
    )


async def nowhere(run: FaultRun, rng: random.Random) -> tuple[str, int]:
    method, path = rng.choice(
        [
            ("GET", f"/api/v1/campaigns/{uuid4()}"),
            ("GET", "/api/v1/campaigns/not-a-uuid"),
            ("POST", f"/api/v1/campaigns/{uuid4()}/start"),
            ("GET", f"/api/v1/calls/{uuid4()}"),
            ("PUT", "/api/v1/campaigns"),
            ("DELETE", "/api/v1/metrics"),
            ("GET", "/api/v2/anything"),
        ]
    )
    return "no such thing", await _send(run, method, path)


PROBES: list[Probe] = [
    unauthenticated,
    malformed_json,
    invalid_fields,
    oversized,
    oversized_head,
    forged_callback,
    forged_twilio_callback,
    broken_upload,
    nowhere,
]


async def campaigns_as_they_are(run: FaultRun) -> dict[str, tuple[Any, ...]]:
    rows = await run.db.fetch(
        "SELECT id, name, concurrency_limit, priority, settings_version, max_retries,"
        " (SELECT count(*) FROM calls c WHERE c.campaign_id = k.id) AS numbers FROM campaigns k"
    )
    return {str(r["id"]): tuple(r.values())[1:] for r in rows}


async def test_a_thousand_bad_requests_while_campaigns_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = {"VCS_MAX_REQUEST_BYTES": str(MAX_BODY)}
    async with fault_run("bad-requests", tmp_path_factory, settings=settings) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        before = await campaigns_as_they_are(run)
        run.recent_dials = await run.mock.calls()
        rng = random.Random(1000)
        limit = asyncio.Semaphore(16)
        answers: Counter[tuple[str, int]] = Counter()

        async def one(index: int) -> None:
            async with limit:
                kind, status = await PROBES[index % len(PROBES)](run, rng)
                answers[(kind, status)] += 1

        await asyncio.gather(*(one(i) for i in range(1000)))
        run.fault()
        server_errors = {k: n for k, n in answers.items() if k[1] >= 500}
        assert not server_errors, f"5xx answers: {server_errors}"
        refused = {k: n for k, n in answers.items() if not 400 <= k[1] < 500}
        assert not refused, f"accepted: {refused}"
        after = await campaigns_as_they_are(run)
        assert after == before, "a refused request changed a campaign"
        run.notes.append(
            "answers: "
            + ", ".join(f"{kind} {status} x{n}" for (kind, status), n in sorted(answers.items()))
        )
        await run.verify(await run.wait_finished())
        # No forged result was taken: every attempt ended as the carrier said it did.
        reported = {
            d["externalCallId"]: d["reportedStatus"]
            for d in await run.mock.calls()
            if d["externalCallId"] and d["reportedStatus"]
        }
        rows = await run.db.fetch(
            "SELECT external_call_id, outcome FROM call_attempts"
            " WHERE external_call_id = ANY($1::text[]) AND outcome IS NOT NULL",
            list(reported),
        )
        wrong = [r for r in rows if r["outcome"] != reported[r["external_call_id"]]]
        assert not wrong, f"{len(wrong)} attempts ended otherwise than the carrier reported"
