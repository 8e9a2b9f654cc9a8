"""The api's own figures: ingestion of 100,000 numbers, call reads under load, filtered lists."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from services.dispatcher.maintenance import tables_needing_vacuum
from tests.support.api_client import ApiClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack, free_port
from tests.support.waiting import wait_until


async def ingestion(
    api: ApiClient, runs: int, settle: Callable[[], Awaitable[None]] | None = None
) -> dict[str, list[float]]:
    """Seconds to add 100,000 numbers to a campaign, by JSON and by CSV upload, end to end
    (after `settle`, when given: see settled)."""
    timings: dict[str, list[float]] = {"json": [], "csv": []}
    for _ in range(runs):
        for kind in ("json", "csv"):
            campaign = await api.create_campaign(name=f"ingest {kind}")
            numbers = fresh_numbers(100_000)
            path = f"/api/v1/campaigns/{campaign['id']}/import"
            if kind == "json":
                body: Any = io.BytesIO(json.dumps({"phoneNumbers": numbers}).encode())
                kwargs: dict[str, Any] = {
                    "data": body,
                    "headers": {"Content-Type": "application/json"},
                }
                path += "/batch"
            else:
                form = aiohttp.FormData()
                text = "phone,name\n" + "".join(f"{n},n{i}\n" for i, n in enumerate(numbers))
                form.add_field("file", io.BytesIO(text.encode()), filename="list.csv")
                kwargs = {"data": form}
            if settle is not None:
                await settle()
            started = time.perf_counter()
            response = await api.request("POST", path, **kwargs)
            timings[kind].append(time.perf_counter() - started)
            assert response.status == 200 and response.body["totalImported"] == 100_000
    return timings


def settled(db: asyncpg.Pool) -> Callable[[], Awaitable[None]]:
    """Before a timed load: wait until the dispatcher's upkeep has vacuumed what the loads
    before left (the server's autovacuum is off here, and the dispatcher vacuums a table
    whose inserted rows pass a tenth of it), then CHECKPOINT. Otherwise a load shares the
    machine with the vacuum of the one before, and the server's own checkpoints (every 1 GB of
    WAL, about ten loads) land in some loads and not others: the same load took 1.5-3.0 s."""

    async def settle() -> None:
        async with db.acquire() as conn:
            await conn.execute("SELECT pg_stat_force_next_flush()")

            async def quiet() -> bool:
                vacuuming = await conn.fetchval("SELECT count(*) FROM pg_stat_progress_vacuum")
                return not vacuuming and not await tables_needing_vacuum(conn)

            await wait_until(quiet, timeout=300, interval=0.5, message="vacuumed")
            await conn.execute("CHECKPOINT")

    return settle


async def wrk(url: str, key: str | None, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) from wrk -t2 -c64 against `url`."""
    command = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url]
    if key:
        command[1:1] = ["-H", f"Authorization: Bearer {key}"]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out = (await process.communicate())[0].decode()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


async def call_reads(
    stack: Stack, api: ApiClient, key: str, runs: int
) -> dict[str, list[tuple[float, float]]]:
    """GET /api/v1/calls/{id} and the bare baseline, alternately, under wrk."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it from Debian's packages)")
    campaign = await api.create_campaign(name="reads", phoneNumbers=fresh_numbers(10))
    [call] = (await api.request("GET", f"/api/v1/campaigns/{campaign['id']}/calls?size=1")).body
    port = free_port()
    baseline = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.baseline_http", stack.infra.database_url, str(port)
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def baseline_answers() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/calls/{call['id']}") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_until(baseline_answers, timeout=10, interval=0.1, message="the baseline")
        results: dict[str, list[tuple[float, float]]] = {"api": [], "baseline": []}
        for _ in range(runs):
            results["baseline"].append(
                await wrk(f"http://127.0.0.1:{port}/calls/{call['id']}", None, 10)
            )
            results["api"].append(await wrk(f"{api.base_url}/api/v1/calls/{call['id']}", key, 10))
        return results
    finally:
        baseline.terminate()
        await baseline.wait()


async def filtered_lists(api: ApiClient, db: asyncpg.Pool) -> dict[str, float]:
    """Median ms for a page of a 100,000-number campaign's calls, by status."""
    campaign = await api.create_campaign(name="filtered", phoneNumbers=fresh_numbers(100_000))
    await db.execute(
        "UPDATE calls SET status = 'FAILED', next_retry_at = now() + interval '1 day'"
        " WHERE id IN (SELECT id FROM calls WHERE campaign_id = $1 LIMIT 1000)",
        UUID(campaign["id"]),
    )
    await db.execute("ANALYZE calls")
    medians = {}
    for status in ("FAILED", "PENDING"):
        timings = []
        for _ in range(21):
            started = time.perf_counter()
            response = await api.request(
                "GET", f"/api/v1/campaigns/{campaign['id']}/calls?status={status}&size=20"
            )
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status == 200 and len(response.body) == 20
        medians[status] = statistics.median(timings)
    return medians
