"""The cost of do-not-call lists and frequency caps on the dial path, and the speed of a
1,000,000-number list import (`python -m bench --part suppressions`).

The pipeline runs with both off (an empty list, no cap), then with a 1,000,000-entry global
list and a cap on every number (3 attempts in 24 h), alternating, in the same run. The cap is
the campaigns' `contactPolicy`: the claim reads it exactly as it reads a policy file's (both
are worked out into each zone group's caps by the dispatcher), and the bench's stack runs with
the policy off so that its hours do not close the campaigns at night. No listed number is in a
campaign, so every claim looks each candidate up in the list and in number_dials and finds it
free: the cost measured is the look-ups', not that of fewer calls.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg

from bench.api import settled
from tests.support.api_client import ApiClient

LIST_NUMBERS = 1_000_000
CAP = {"frequencyCaps": [{"maxAttempts": 3, "periodHours": 24}]}

Throughput = Callable[..., Awaitable[dict[str, float]]]


@dataclass(frozen=True)
class SuppressionResults:
    off: list[float]
    on: list[float]
    imports: list[float]
    campaigns: int
    numbers: int
    limit: int


def list_file() -> bytes:
    """1,000,000 distinct New York numbers, one a line: none is in a bench campaign."""
    return "".join(f"+1212{n:07d}\n" for n in range(LIST_NUMBERS)).encode()


async def import_list(api: ApiClient, body: bytes) -> float:
    """Seconds for POST /api/v1/suppressions/import of the whole list into the global list."""
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(body), filename="dnc.txt")
    form.add_field("reason", "BENCH")
    started = time.perf_counter()
    response = await api.request("POST", "/api/v1/suppressions/import", data=form)
    elapsed = time.perf_counter() - started
    assert response.status == 200, response.body
    assert response.body["added"] == LIST_NUMBERS, response.body
    return elapsed


async def measure(
    api: ApiClient,
    db: asyncpg.Pool,
    throughput: Throughput,
    *,
    campaigns: int,
    numbers: int,
    limit: int,
    runs: int,
) -> SuppressionResults:
    body = list_file()
    settle = settled(db)
    off: list[float] = []
    on: list[float] = []
    imports: list[float] = []
    for _ in range(runs):
        await db.execute("TRUNCATE suppressions")
        off.append((await throughput(api, db, campaigns, numbers, limit))["per_second"])
        # On a settled server, as every timed load: the throughput run before it leaves dead
        # calls, which the dispatcher's upkeep vacuums at once.
        await settle()
        imports.append(await import_list(api, body))
        await db.execute("ANALYZE suppressions")
        rate = await throughput(api, db, campaigns, numbers, limit, contactPolicy=CAP)
        on.append(rate["per_second"])
    await db.execute("TRUNCATE suppressions")
    return SuppressionResults(off, on, imports, campaigns, numbers, limit)


def runs(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def report(r: SuppressionResults) -> list[str]:
    off, on = statistics.median(r.off), statistics.median(r.on)
    return [
        f"| Calls completed/s ({r.campaigns} campaigns x {r.numbers:,} numbers, concurrency"
        f" {r.limit}), no do-not-call list and no cap | {off:,.0f} | {runs(r.off, ',.0f')} | - |",
        f"| ... with a 1,000,000-entry global list and a cap of 3 in 24 h on every number |"
        f" {on:,.0f} | {runs(r.on, ',.0f')} | >= 90 % of the above |",
        f"| ... as a share of the run without | {on / off:.0%} | | >= 90 % |",
        f"| s to import 1,000,000 numbers into the global list (file upload) |"
        f" {statistics.median(r.imports):.2f} | {runs(r.imports, '.2f')} | < 5 |",
    ]
