"""The cost of webhooks on the dial path, and how soon events arrive
(`python -m bench --part webhooks`).

The pipeline runs without any webhook, then with one receiver (aiohttp on 127.0.0.1, in this
process) subscribed to every event, alternating, in the same run. The receiver verifies each
signature with the standardwebhooks library, as a customer would, and notes how long after
the change (the event's `timestamp`, its transaction's time) the delivery arrived.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook

from bench.suppressions import Throughput, runs
from tests.support.api_client import ApiClient
from tests.support.waiting import wait_until

#: The paced run dials at this share of the unhooked run's rate.
PACED_SHARE = 0.5


@dataclass
class Receiver:
    secret: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        event = Webhook(self.secret).verify(body, dict(request.headers))
        arrived = datetime.now(UTC)
        self.ids.add(event["id"])
        changed = datetime.fromisoformat(event["timestamp"])
        self.latencies_ms.append((arrived - changed).total_seconds() * 1000)
        return web.Response(status=204)


@dataclass(frozen=True)
class WebhookResults:
    off: list[float]
    on: list[float]
    latencies_ms: list[float]
    drain_s: list[float]
    events: int
    campaigns: int
    numbers: int
    limit: int
    #: The run with the receiver at a pace below saturation.
    paced_per_second: float = 0.0
    paced_latencies_ms: list[float] = field(default_factory=list)
    paced_stages_ms: dict[str, float] = field(default_factory=dict)


async def measure(
    api: ApiClient,
    db: asyncpg.Pool,
    throughput: Throughput,
    *,
    campaigns: int,
    numbers: int,
    limit: int,
    runs: int,
) -> WebhookResults:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    off: list[float] = []
    on: list[float] = []

    async def drained() -> bool:
        pending = await db.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING'"
        )
        unfanned = await db.fetchval(
            "SELECT count(*) FROM webhook_events WHERE fanned_out_at IS NULL"
        )
        return bool(pending == 0 and unfanned == 0)

    drains: list[float] = []
    try:
        for _ in range(runs):
            off.append((await throughput(api, db, campaigns, numbers, limit))["per_second"])
            created = await api.request(
                "POST",
                "/api/v1/webhooks",
                json={"url": str(server.make_url("/hook")), "events": ["*"]},
            )
            assert created.status == 201, created.body
            receiver.secret = created.body["secret"]
            on.append((await throughput(api, db, campaigns, numbers, limit))["per_second"])
            finished = time.perf_counter()
            await wait_until(drained, timeout=600, interval=0.2, message="deliveries drained")
            drains.append(time.perf_counter() - finished)
            await api.request("DELETE", f"/api/v1/webhooks/{created.body['id']}")
        saturated = receiver.latencies_ms
        # The same campaigns dialled at a pace the machine has room for beside them
        # (PACED_SHARE of the unhooked rate): how soon events arrive when deliveries are
        # not queued behind a saturated pipeline.
        receiver.latencies_ms = []
        pace = max(1, round(statistics.median(off) * PACED_SHARE / campaigns))
        created = await api.request(
            "POST", "/api/v1/webhooks", json={"url": str(server.make_url("/hook")), "events": ["*"]}
        )
        assert created.status == 201, created.body
        receiver.secret = created.body["secret"]
        paced = (await throughput(api, db, campaigns, numbers, limit, callsPerSecond=pace))[
            "per_second"
        ]
        await wait_until(drained, timeout=600, interval=0.2, message="deliveries drained")
        stages = await db.fetchrow(_STAGES, UUID(created.body["id"]))
        await api.request("DELETE", f"/api/v1/webhooks/{created.body['id']}")
    finally:
        await server.close()
    return WebhookResults(
        off,
        on,
        saturated,
        drains,
        len(receiver.ids),
        campaigns,
        numbers,
        limit,
        paced_per_second=paced,
        paced_latencies_ms=receiver.latencies_ms,
        paced_stages_ms=dict(stages),
    )


#: Where a paced run's events spent their time, median ms: from the change to the fan-out,
#: from the fan-out to the first request, and that request.
_STAGES = """
    SELECT
      percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM e.fanned_out_at - e.created_at) * 1000) AS to_fan_out,
      percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM a.attempted_at - e.fanned_out_at) * 1000) AS to_request,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms) AS request
    FROM webhook_deliveries d
    JOIN webhook_events e ON e.id = d.event_id
    JOIN webhook_delivery_attempts a ON a.delivery_id = d.id AND a.attempt_no = 1
    WHERE d.endpoint_id = $1
"""


def report(r: WebhookResults) -> list[str]:
    off, on = statistics.median(r.off), statistics.median(r.on)
    return [
        f"| Calls completed/s ({r.campaigns} campaigns x {r.numbers:,} numbers, concurrency"
        f" {r.limit}), no webhook | {off:,.0f} | {runs(r.off, ',.0f')} | - |",
        f"| ... with one receiver subscribed to every event | {on:,.0f} | {runs(r.on, ',.0f')}"
        " | >= 85 % of the above |",
        f"| ... as a share of the run without | {on / off:.0%} | | >= 85 % |",
        f"| ms from a change to its delivery ({r.events:,} events) |"
        f" {statistics.median(r.latencies_ms):,.0f} | p90"
        f" {statistics.quantiles(r.latencies_ms, n=10)[-1]:,.0f} | < 200 |",
        f"| s after the last call until every delivery was made | "
        f"{statistics.median(r.drain_s):.1f} | {runs(r.drain_s, '.1f')} | - |",
        f"| ms from a change to its delivery, paced at {r.paced_per_second:,.0f} calls/s"
        f" ({len(r.paced_latencies_ms):,} events) | {statistics.median(r.paced_latencies_ms):,.0f}"
        f" | p90 {statistics.quantiles(r.paced_latencies_ms, n=10)[-1]:,.0f} | - |",
        "| ... of which: change to fan-out / fan-out to first request / the request (ms) | "
        + " / ".join(f"{r.paced_stages_ms.get(k) or 0:,.0f}" for k in _STAGE_NAMES)
        + " | | - |",
    ]


_STAGE_NAMES = ("to_fan_out", "to_request", "request")
