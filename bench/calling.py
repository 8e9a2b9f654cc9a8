"""The calling rules' cost on the pipeline and the api (issue 14, "Speed"), measured in one run:

- calls/s of a campaign of numbers spread over 20 zones, all open, in RECIPIENT mode against
  the same campaign in CAMPAIGN mode, the modes alternating;
- ingestion of those numbers with zone resolution, by JSON contacts, by CSV with a `timezone`
  column and by CSV without one (zones from 20 area codes);
- inventory and eligibility latency on the RECIPIENT campaign, pending and running;
- the claim's worst case: 90 % of the numbers first in load order in groups closed now, the
  last 10 % open, against a campaign of those open numbers alone.

The business hours are 00:00-24:00 every day (the policy is off in the bench), so that all
groups are open at any hour; the worst case sets a window around the current UTC time.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg

from bench.api import settled
from bench.zones import us_numbers
from shared.domain.statuses import FINAL_CALL_STATUSES
from tests.support.api_client import ApiClient
from tests.support.numbers import fresh_numbers
from tests.support.waiting import wait_until

#: Zones without daylight saving time, so that which are open around a UTC hour never
#: depends on the date. Their offsets run from -10:00 to +10:00.
ZONES = [
    "UTC",
    "Africa/Lagos",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Brisbane",
    "Pacific/Guam",
    "Pacific/Honolulu",
    "America/Phoenix",
    "America/Bogota",
    "America/Lima",
    "America/Regina",
]
ALL_DAY = {"startTime": "00:00", "endTime": "24:00", "timezone": "UTC"}
#: The worst case's window: this much either side of the current time in UTC, read in each
#: recipient's zone. A zone within 1:30 of UTC is open, one 4:30 or more away is closed,
#: whatever the hour; the bench keeps a measurement well inside the margins.
HALF_WINDOW = timedelta(hours=3)
OPEN_WITHIN = timedelta(hours=1, minutes=30)
CLOSED_BEYOND = timedelta(hours=4, minutes=30)
SAMPLES = 20
FINAL = sorted(FINAL_CALL_STATUSES)


@dataclass(frozen=True)
class CallingResults:
    numbers: int
    limit: int
    #: calls/s per run, by mode (RECIPIENT, CAMPAIGN).
    modes: dict[str, list[float]]
    #: seconds per run, by way of loading (json, csv_timezone, csv_area_codes).
    ingestion: dict[str, list[float]]
    #: median ms, by "inventory"/"eligibility" and "PENDING"/"running".
    latency: dict[tuple[str, str], float]
    #: calls/s of the open numbers, per run: behind closed ones, and alone.
    worst: dict[str, list[float]]
    open_numbers: int


def contacts(numbers: Sequence[str], zones: Sequence[str]) -> list[dict[str, Any]]:
    """Each number with a `timezone` attribute, the zones taken in turn."""
    return [
        {"phoneNumber": n, "attributes": {"timezone": zones[i % len(zones)]}}
        for i, n in enumerate(numbers)
    ]


async def create(
    api: ApiClient, db: asyncpg.Pool, name: str, rows: list[dict[str, Any]], **fields: Any
) -> str:
    created = await api.create_campaign(name=name, contacts=rows, **fields)
    assert created["importSummary"]["totalImported"] == len(rows), created["importSummary"]
    # The planner's figures as autovacuum would soon have them, so runs do not depend on
    # whether it came by before the start.
    await db.execute("ANALYZE calls")
    return str(created["id"])


async def final_calls(db: asyncpg.Pool, campaign_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM calls WHERE campaign_id = $1 AND status = ANY($2::text[])",
            UUID(campaign_id),
            FINAL,
        )
    )


async def calls_per_second(
    api: ApiClient, db: asyncpg.Pool, campaign_id: str, expected_final: int
) -> float:
    """Calls/s from `start` until `expected_final` of the campaign's calls are final."""

    async def done() -> bool:
        return await final_calls(db, campaign_id) >= expected_final

    started = time.perf_counter()
    await api.action(campaign_id, "start")
    await wait_until(done, timeout=max(600, expected_final / 20), interval=0.1, message="calls")
    return expected_final / (time.perf_counter() - started)


async def modes(
    api: ApiClient, db: asyncpg.Pool, count: int, limit: int, runs: int
) -> dict[str, list[float]]:
    """RECIPIENT and CAMPAIGN mode, alternating, each on numbers of its own."""
    # Unmeasured: the first campaign after the stack starts pays for cold caches and pools,
    # which would count against whichever mode goes first.
    warm_up = await create(api, db, "calling warm-up", contacts(fresh_numbers(1000), ZONES))
    await calls_per_second(api, db, warm_up, 1000)
    rates: dict[str, list[float]] = {"RECIPIENT": [], "CAMPAIGN": []}
    for run in range(runs):
        order = ("RECIPIENT", "CAMPAIGN") if run % 2 == 0 else ("CAMPAIGN", "RECIPIENT")
        for mode in order:
            campaign_id = await create(
                api,
                db,
                f"calling {mode}",
                contacts(fresh_numbers(count), ZONES),
                concurrencyLimit=limit,
                businessHours={**ALL_DAY, "timezoneMode": mode},
            )
            rates[mode].append(await calls_per_second(api, db, campaign_id, count))
    return rates


def _csv(rows: list[tuple[str, str | None]]) -> aiohttp.FormData:
    with_zone = rows[0][1] is not None
    text = ("phone,timezone\n" if with_zone else "phone\n") + "".join(
        f"{n},{z}\n" if with_zone else f"{n}\n" for n, z in rows
    )
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(text.encode()), filename="list.csv")
    return form


def area_code_numbers(count: int) -> list[str]:
    """Distinct valid US numbers over 20 area codes: no attribute, zones from the number."""
    found = dict.fromkeys(n for n, _ in us_numbers(count + count // 20, 20, 50))
    assert len(found) >= count, "too few distinct numbers"
    return list(found)[:count]


async def ingestion(
    api: ApiClient, count: int, runs: int, settle: Callable[[], Awaitable[None]] | None = None
) -> dict[str, list[float]]:
    """Seconds to add `count` numbers to an empty campaign, end to end, each way in turn
    (after `settle`, when given: bench.api.settled)."""
    numbers = fresh_numbers(count)
    zoned = [(n, ZONES[i % len(ZONES)]) for i, n in enumerate(numbers)]
    plain: list[tuple[str, str | None]] = [(n, None) for n in area_code_numbers(count)]
    timings: dict[str, list[float]] = {"json": [], "csv_timezone": [], "csv_area_codes": []}
    for _ in range(runs):
        for kind in timings:
            campaign = await api.create_campaign(name=f"ingest {kind}")
            path = f"/api/v1/campaigns/{campaign['id']}/import"
            if kind == "json":
                body = json.dumps({"contacts": contacts(numbers, ZONES)}).encode()
                kwargs: dict[str, Any] = {
                    "data": io.BytesIO(body),
                    "headers": {"Content-Type": "application/json"},
                }
                path += "/batch"
            else:
                kwargs = {"data": _csv(list(zoned) if kind == "csv_timezone" else plain)}
            if settle is not None:
                await settle()
            started = time.perf_counter()
            response = await api.request("POST", path, **kwargs)
            timings[kind].append(time.perf_counter() - started)
            assert response.status == 200, response.body
            assert response.body["totalImported"] == count, response.body
    return timings


async def median_ms(api: ApiClient, paths: Sequence[str]) -> float:
    timings = []
    for path in paths:
        started = time.perf_counter()
        response = await api.request("GET", path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.body
    return statistics.median(timings)


async def read_latencies(api: ApiClient, campaign_id: str) -> dict[str, float]:
    """Median ms of SAMPLES inventory reads, of SAMPLES eligibility reads (pending calls) and
    of SAMPLES forecast reads."""
    page = await api.request(
        "GET", f"/api/v1/campaigns/{campaign_id}/calls?status=PENDING&size={SAMPLES}"
    )
    assert page.status == 200 and len(page.body) == SAMPLES, page.body
    return {
        "inventory": await median_ms(api, [f"/api/v1/campaigns/{campaign_id}/inventory"] * SAMPLES),
        "eligibility": await median_ms(
            api, [f"/api/v1/calls/{call['id']}/eligibility" for call in page.body]
        ),
        "forecast": await median_ms(api, [f"/api/v1/campaigns/{campaign_id}/forecast"] * SAMPLES),
    }


async def latencies(
    api: ApiClient, db: asyncpg.Pool, count: int, limit: int
) -> dict[tuple[str, str], float]:
    """Inventory and eligibility on a RECIPIENT campaign of `count` numbers over 20 zones,
    before it starts and while it dials (then it is cancelled)."""
    campaign_id = await create(
        api,
        db,
        "calling reads",
        contacts(fresh_numbers(count), ZONES),
        concurrencyLimit=limit,
        businessHours={**ALL_DAY, "timezoneMode": "RECIPIENT"},
    )
    result = {(k, "PENDING"): v for k, v in (await read_latencies(api, campaign_id)).items()}
    await api.action(campaign_id, "start")

    async def dialling() -> bool:
        return await final_calls(db, campaign_id) >= min(1000, count // 10)

    await wait_until(dialling, timeout=60, interval=0.1, message="dialling")
    result |= {(k, "running"): v for k, v in (await read_latencies(api, campaign_id)).items()}
    status = (await api.campaign(campaign_id))["status"]
    assert status == "IN_PROGRESS", f"the campaign finished while read ({status})"
    await api.action(campaign_id, "cancel")
    return result


def _offset(zone: str, now: datetime) -> timedelta:
    offset = now.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None
    # The distance from UTC around the clock: +14:00 is as far as -10:00.
    return min(abs(offset), timedelta(hours=24) - abs(offset))


def worst_case_window(now: datetime) -> tuple[dict[str, Any], list[str], list[str]]:
    """The worst case's business hours at `now`, and the zones they leave open and closed."""
    start, end = now - HALF_WINDOW, now + HALF_WINDOW
    hours = {
        "startTime": f"{start:%H:%M}",
        "endTime": f"{end:%H:%M}",
        "timezone": "UTC",
        "timezoneMode": "RECIPIENT",
    }
    open_zones = [z for z in ZONES if _offset(z, now) <= OPEN_WITHIN]
    closed = [z for z in ZONES if _offset(z, now) >= CLOSED_BEYOND]
    assert len(open_zones) >= 2 and len(closed) >= 10, (open_zones, closed)
    return hours, open_zones, closed


async def worst_case(
    api: ApiClient, db: asyncpg.Pool, count: int, limit: int, runs: int
) -> tuple[dict[str, list[float]], int]:
    """Calls/s of the open tenth behind 90 % closed numbers, and of the open tenth alone."""
    open_count = count // 10
    rates: dict[str, list[float]] = {"behind_closed": [], "alone": []}
    for run in range(runs):
        order = ("behind_closed", "alone") if run % 2 == 0 else ("alone", "behind_closed")
        for kind in order:
            hours, open_zones, closed = worst_case_window(datetime.now(UTC))
            rows = contacts(fresh_numbers(open_count), open_zones)
            if kind == "behind_closed":
                rows = contacts(fresh_numbers(count - open_count), closed) + rows
            campaign_id = await create(
                api, db, f"worst case {kind}", rows, concurrencyLimit=limit, businessHours=hours
            )
            rates[kind].append(await calls_per_second(api, db, campaign_id, open_count))
            if kind == "behind_closed":
                # Its closed numbers would wait hours: the next measurement must not share
                # the pipeline with it.
                await api.action(campaign_id, "cancel")
    return rates, open_count


async def measure(
    api: ApiClient, db: asyncpg.Pool, count: int, limit: int, runs: int
) -> CallingResults:
    rates = await modes(api, db, count, limit, runs)
    loads = await ingestion(api, count, runs, settled(db))
    reads = await latencies(api, db, count, limit)
    worst, open_numbers = await worst_case(api, db, count, limit, runs)
    return CallingResults(count, limit, rates, loads, reads, worst, open_numbers)


def _runs(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def report(r: CallingResults) -> list[str]:
    """Rows of the bench's Markdown table."""
    n = f"{r.numbers:,}"
    recipient = statistics.median(r.modes["RECIPIENT"])
    campaign = statistics.median(r.modes["CAMPAIGN"])
    behind = statistics.median(r.worst["behind_closed"])
    alone = statistics.median(r.worst["alone"])
    ingest = {k: statistics.median(v) for k, v in r.ingestion.items()}
    lines = [
        f"| Calls completed/s, {n} numbers over 20 zones, CAMPAIGN mode (concurrency"
        f" {r.limit}) | {campaign:,.0f} | {_runs(r.modes['CAMPAIGN'], ',.0f')} | - |",
        f"| ... the same in RECIPIENT mode, all zones open | {recipient:,.0f}"
        f" | {_runs(r.modes['RECIPIENT'], ',.0f')} | >= 90 % of CAMPAIGN |",
        f"| ... RECIPIENT as a share of CAMPAIGN | {recipient / campaign:.0%} | | >= 90 % |",
        f"| s to add {n} contacts with a `timezone` attribute by JSON (import/batch) |"
        f" {ingest['json']:.2f} | {_runs(r.ingestion['json'], '.2f')} | < 2 |",
        f"| s to add {n} numbers by CSV upload with a `timezone` column |"
        f" {ingest['csv_timezone']:.2f} | {_runs(r.ingestion['csv_timezone'], '.2f')} | < 2 |",
        f"| s to add {n} numbers by CSV upload, zones from 20 area codes |"
        f" {ingest['csv_area_codes']:.2f} | {_runs(r.ingestion['csv_area_codes'], '.2f')}"
        " | < 2 |",
    ]
    for state, label in (("PENDING", "before the start"), ("running", "while it dials")):
        lines += [
            f"| ms for GET .../inventory, {n}-number RECIPIENT campaign, {label} |"
            f" {r.latency[('inventory', state)]:.1f} | median of {SAMPLES} | < 200 |",
            f"| ms for GET /api/v1/calls/{{id}}/eligibility on it, {label} |"
            f" {r.latency[('eligibility', state)]:.1f} | median of {SAMPLES} | < 20 |",
            f"| ms for GET .../forecast on it, {label} |"
            f" {r.latency[('forecast', state)]:.1f} | median of {SAMPLES} | < 100 (ours) |",
        ]
    o = f"{r.open_numbers:,}"
    return [
        *lines,
        f"| Calls completed/s, a campaign of {o} open numbers alone (worst case's reference) |"
        f" {alone:,.0f} | {_runs(r.worst['alone'], ',.0f')} | - |",
        f"| ... the same {o} loaded after {r.numbers - r.open_numbers:,} numbers of closed"
        f" zones | {behind:,.0f} | {_runs(r.worst['behind_closed'], ',.0f')} | - |",
        f"| ... as a share of the campaign alone | {behind / alone:.0%} | | - |",
    ]
