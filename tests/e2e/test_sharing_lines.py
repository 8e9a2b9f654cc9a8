"""Sharing a global line capacity of 30 among campaigns, pacing, and isolation, measured at
the mock carrier on a stack of their own."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from services.dispatcher.maintenance import tables_needing_vacuum
from shared.db.pool import init_connection
from tests.conftest import E2E_SETTINGS
from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack, full_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

CAPACITY = 30
#: Calls long enough for a steady state to be seen between a call's end and the next dial.
STEADY_CALLS = {"delayMinMs": 1000, "delayMaxMs": 1400}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shared_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    settings = {**E2E_SETTINGS, "VCS_MAX_CONCURRENT_CALLS": str(CAPACITY)}
    async with full_stack(tmp_path_factory, request, "vcs_lines", settings) as running:
        yield running


@pytest.fixture
def api(shared_stack: Stack, http: aiohttp.ClientSession) -> ApiClient:
    return ApiClient(http, shared_stack.url("api"))


@pytest_asyncio.fixture(loop_scope="session")
async def mock(shared_stack: Stack, http: aiohttp.ClientSession) -> AsyncIterator[MockClient]:
    """The mock, idle and with its peaks forgotten, before and after each test."""
    client = MockClient(http, shared_stack.url("telephony_mock"))
    await client.configure(**STEADY_CALLS)
    await _idle(client)
    yield client
    await _idle(client)


async def _idle(mock: MockClient) -> None:
    async def no_live_calls() -> bool:
        return (await mock.stats())["liveNow"] == 0

    await wait_until(no_live_calls, timeout=30, interval=0.2, message="the carrier idle")
    async with mock.http.post(f"{mock.base_url}/mock/reset") as response:
        assert response.status == 204


async def _use_strategy(stack: Stack, **settings: str) -> None:
    """Restart the dispatcher with these settings (the strategy is a process setting)."""
    await stack.stop("dispatcher")
    await stack.start("dispatcher", **settings)


async def _start_campaigns(api: ApiClient, *specs: dict[str, Any]) -> list[str]:
    ids = []
    for spec in specs:
        campaign = await api.create_campaign(**spec)
        ids.append(campaign["id"])
    for campaign_id in ids:
        await api.action(campaign_id, "start")
    return ids


async def _cancel(api: ApiClient, ids: list[str]) -> None:
    for campaign_id in ids:
        campaign = await api.campaign(campaign_id)
        if campaign["status"] in ("IN_PROGRESS", "PAUSED", "PENDING"):
            await api.action(campaign_id, "cancel")


async def _live_samples(
    mock: MockClient, ids: list[str], seconds: float, interval: float = 0.2
) -> tuple[dict[str, list[int]], list[int]]:
    """Live calls per campaign and in all, sampled at the carrier for `seconds`."""
    per_campaign: dict[str, list[int]] = {c: [] for c in ids}
    total: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stats = await mock.stats()
        total.append(stats["liveNow"])
        for campaign_id in ids:
            per_campaign[campaign_id].append(
                stats["campaigns"].get(campaign_id, {}).get("liveNow", 0)
            )
        await asyncio.sleep(interval)
    return per_campaign, total


async def _steady(mock: MockClient, at_least: int) -> None:
    async def busy() -> bool:
        return (await mock.stats())["liveNow"] >= at_least

    await wait_until(busy, timeout=20, interval=0.1, message=f"{at_least} live calls")


def _medians(samples: dict[str, list[int]]) -> list[float]:
    return [statistics.median(values) for values in samples.values()]


async def _vacuumed(stack: Stack) -> None:
    """Wait until the dispatcher's upkeep has vacuumed the rows a test left dead (the server's
    autovacuum may be off): a vacuum of 100,000 cancelled calls takes a core for seconds,
    which the next test's measurement would count against the dial path."""
    conn = await asyncpg.connect(stack.infra.database_url)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")

        async def nothing_to_vacuum() -> bool:
            return not await tables_needing_vacuum(conn)

        await wait_until(nothing_to_vacuum, timeout=90, interval=0.5, message="vacuumed")
    finally:
        await conn.close()


async def test_equal_priorities_share_the_capacity_equally_even_with_a_huge_backlog(
    api: ApiClient, mock: MockClient, shared_stack: Stack
) -> None:
    # One of the three has 100,000 numbers: a backlog that must not buy it more lines.
    ids = await _start_campaigns(
        api,
        {"name": "a", "phoneNumbers": fresh_numbers(400), "concurrencyLimit": 25},
        {"name": "b", "phoneNumbers": fresh_numbers(400), "concurrencyLimit": 25},
        {"name": "huge", "phoneNumbers": fresh_numbers(100_000), "concurrencyLimit": 25},
    )
    try:
        await _steady(mock, CAPACITY - 2)
        samples, total = await _live_samples(mock, ids, seconds=5)
    finally:
        await _cancel(api, ids)
        await _vacuumed(shared_stack)

    assert all(9 <= m <= 11 for m in _medians(samples)), samples
    assert max(total) <= CAPACITY
    assert (await mock.stats())["maxLive"] <= CAPACITY


async def test_priority_shares_follow_the_weights(
    api: ApiClient, mock: MockClient, shared_stack: Stack
) -> None:
    await _use_strategy(shared_stack, VCS_SCHEDULING_STRATEGY="priority")
    try:
        ids = await _start_campaigns(
            api,
            *(
                {
                    "name": f"p{p}",
                    "phoneNumbers": fresh_numbers(500),
                    "concurrencyLimit": 25,
                    "priority": p,
                }
                for p in (1, 3, 6)
            ),
        )
        try:
            await _steady(mock, CAPACITY - 2)
            samples, _ = await _live_samples(mock, ids, seconds=5)
        finally:
            await _cancel(api, ids)
    finally:
        await _use_strategy(shared_stack)

    low, middle, high = _medians(samples)
    assert 2 <= low <= 4, samples
    assert 8 <= middle <= 10, samples
    assert 17 <= high <= 19, samples


async def test_a_finished_campaigns_lines_flow_to_the_others(
    api: ApiClient, mock: MockClient
) -> None:
    short, *long_ = await _start_campaigns(
        api,
        {"name": "short", "phoneNumbers": fresh_numbers(40), "concurrencyLimit": 25},
        {"name": "long-1", "phoneNumbers": fresh_numbers(400), "concurrencyLimit": 25},
        {"name": "long-2", "phoneNumbers": fresh_numbers(400), "concurrencyLimit": 25},
    )
    try:
        await finished(api, short, timeout=60)
        finished_at = time.monotonic()

        async def shared_between_the_two() -> bool:
            campaigns = (await mock.stats())["campaigns"]
            return all(campaigns[c]["liveNow"] >= 14 for c in long_)

        await wait_until(shared_between_the_two, timeout=10, interval=0.1, message="15 lines each")
        flowed_within = time.monotonic() - finished_at
        samples, _ = await _live_samples(mock, long_, seconds=3)
    finally:
        await _cancel(api, [short, *long_])

    assert flowed_within <= 2.5, f"lines took {flowed_within:.1f} s to flow"
    assert all(14 <= m <= 16 for m in _medians(samples)), samples


async def test_the_global_capacity_holds_whatever_the_campaigns_limits_add_up_to(
    api: ApiClient, mock: MockClient
) -> None:
    # Short calls, so that lines change hands often (37 calls a second); not so short that a
    # line's turnaround between a call's end and the next dial (tens of milliseconds on two
    # cores, measured by the benchmarks) decides the median.
    await mock.configure(delayMinMs=400, delayMaxMs=1200)
    ids = await _start_campaigns(
        api,
        *(
            {"name": f"c{i}", "phoneNumbers": fresh_numbers(300), "concurrencyLimit": 18}
            for i in range(5)
        ),
    )
    try:
        await _steady(mock, CAPACITY - 2)
        _, total = await _live_samples(mock, ids, seconds=6, interval=0.05)
    finally:
        await _cancel(api, ids)

    assert max(total) <= CAPACITY
    stats = await mock.stats()
    assert stats["maxLive"] <= CAPACITY, stats
    assert statistics.median(total) >= CAPACITY - 3, "the capacity should be in use"


async def _dial_times(mock: MockClient, ids: list[str]) -> list[datetime]:
    """When the carrier placed each call of these campaigns, in order."""
    dials = [d for campaign_id in ids for d in await mock.calls(campaignId=campaign_id)]
    return sorted(datetime.fromisoformat(d["receivedAt"]) for d in dials if d["placed"])


async def _dialled_for(mock: MockClient, ids: list[str], seconds: float) -> None:
    """Wait until the carrier has placed these campaigns' calls for `seconds`."""

    async def long_enough() -> bool:
        times = await _dial_times(mock, ids)
        return bool(times) and times[-1] - times[0] >= timedelta(seconds=seconds)

    await wait_until(long_enough, timeout=seconds + 20, interval=0.5, message=f"{seconds} s")


async def _dials_per_second(
    mock: MockClient, ids: list[str], skip_s: float, span_s: float
) -> float:
    """Placed calls a second over `span_s` seconds, from `skip_s` after the first one."""
    times = await _dial_times(mock, ids)
    start = times[0] + timedelta(seconds=skip_s)
    end = start + timedelta(seconds=span_s)
    return sum(1 for t in times if start <= t < end) / span_s


async def test_a_failing_campaign_does_not_slow_a_healthy_one(
    api: ApiClient, mock: MockClient
) -> None:
    """A campaign whose every number the carrier refuses at once churns through the pipeline
    as fast as it can lease; the healthy campaign beside it must still keep its own lines busy.
    Lines in use, not calls a second, so the check does not depend on how fast this machine is."""
    failing_numbers = fresh_numbers(3000)
    await mock.configure(
        delayMinMs=400, delayMaxMs=600, scenarios={n: ["invalid"] for n in failing_numbers}
    )
    limit = 10
    beside, failing = await _start_campaigns(
        api,
        {"name": "beside", "phoneNumbers": fresh_numbers(400), "concurrencyLimit": limit},
        {"name": "failing", "phoneNumbers": failing_numbers, "concurrencyLimit": limit},
    )
    try:
        await _dialled_for(mock, [beside], 2)
        samples, _ = await _live_samples(mock, [beside], seconds=6, interval=0.1)
        rejected = (await api.campaign(failing))["metrics"]["permanentlyFailedCalls"]
    finally:
        await _cancel(api, [beside, failing])

    assert rejected > 100, "the failing campaign should have been dialling"
    assert statistics.median(samples[beside]) >= limit - 1, samples[beside]


async def test_calls_per_second_holds_over_twenty_seconds(api: ApiClient, mock: MockClient) -> None:
    await mock.configure(delayMinMs=50, delayMaxMs=200)
    [paced] = await _start_campaigns(
        api,
        {
            "name": "paced",
            "phoneNumbers": fresh_numbers(300),
            "concurrencyLimit": 20,
            "callsPerSecond": 5,
        },
    )
    try:
        await _dialled_for(mock, [paced], 22)
    finally:
        await _cancel(api, [paced])

    rate = await _dials_per_second(mock, [paced], skip_s=1, span_s=20)
    assert 4.5 <= rate <= 5.5, rate
    dials = await _dial_times(mock, [paced])
    closest = min(later - earlier for earlier, later in itertools.pairwise(dials[5:-5]))
    assert closest >= timedelta(milliseconds=30), "dials should be spread, not bursted"


async def test_the_global_rate_caps_all_campaigns_together(
    api: ApiClient, mock: MockClient, shared_stack: Stack
) -> None:
    await mock.configure(delayMinMs=50, delayMaxMs=200)
    await _use_strategy(shared_stack, VCS_MAX_CALLS_PER_SECOND="10")
    try:
        ids = await _start_campaigns(
            api,
            {"name": "g1", "phoneNumbers": fresh_numbers(200), "concurrencyLimit": 20},
            {"name": "g2", "phoneNumbers": fresh_numbers(200), "concurrencyLimit": 20},
        )
        await _dialled_for(mock, ids, 11)
        await _cancel(api, ids)
    finally:
        await _use_strategy(shared_stack)

    rate = await _dials_per_second(mock, ids, skip_s=1, span_s=10)
    assert 9 <= rate <= 11, rate


async def test_stats_and_metrics_match_the_database(
    api: ApiClient, mock: MockClient, shared_stack: Stack
) -> None:
    numbers = fresh_numbers(120)
    await mock.configure(
        delayMinMs=50,
        delayMaxMs=150,
        scenarios={
            **{n: ["busy", "completed"] for n in numbers[:20]},
            **{n: ["invalid"] for n in numbers[20:30]},
            **{n: ["no_answer"] for n in numbers[30:40]},
        },
    )
    [campaign_id] = await _start_campaigns(
        api,
        {
            "name": "counted",
            "phoneNumbers": numbers,
            "concurrencyLimit": 10,
            "retryConfig": {"maxRetries": 1, "callbackRetryDelayMs": 0},
        },
    )
    await finished(api, campaign_id, timeout=60)
    stats = (await api.request("GET", f"/api/v1/campaigns/{campaign_id}/stats")).body
    metrics = (await api.request("GET", "/api/v1/metrics")).body

    pool = await asyncpg.create_pool(
        shared_stack.infra.database_url, min_size=1, max_size=2, init=init_connection
    )
    assert pool is not None
    async with pool:
        by_status = {
            r["status"]: r["n"]
            for r in await pool.fetch(
                "SELECT status, count(*) AS n FROM calls WHERE campaign_id = $1 GROUP BY status",
                campaign_id,
            )
        }
        attempts = await pool.fetchrow(
            """
            SELECT count(*) FILTER (WHERE outcome = 'COMPLETED') AS answered,
                   count(*) FILTER (WHERE outcome IN ('COMPLETED', 'BUSY', 'NO_ANSWER', 'FAILED')
                                    OR timed_out_at IS NOT NULL) AS rang,
                   coalesce(sum(duration_seconds) FILTER (WHERE outcome = 'COMPLETED'), 0)
                       AS talk
            FROM call_attempts WHERE campaign_id = $1
            """,
            campaign_id,
        )
        everywhere = {
            r["status"]: r["n"]
            for r in await pool.fetch("SELECT status, count(*) AS n FROM calls GROUP BY status")
        }
        retries = await pool.fetchval("SELECT sum(greatest(dial_count - 1, 0)) FROM calls")
        campaigns = await pool.fetchval("SELECT count(*) FROM campaigns WHERE kind = 'CAMPAIGN'")

    assert by_status == {"COMPLETED": 100, "PERMANENTLY_FAILED": 20}
    assert stats["calls"]["total"] == 120
    assert stats["calls"]["completed"] == 100
    assert stats["calls"]["permanentlyFailed"] == 20
    assert stats["progressPercent"] == 100.0
    assert stats["inProgressNow"] == 0
    assert stats["retriesScheduled"] == 0
    assert stats["totalRetries"] == 30  # 20 busy and 10 no-answer numbers dialled twice
    assert stats["answerRate"] == round(attempts["answered"] / attempts["rang"], 4)
    assert stats["totalTalkSeconds"] == attempts["talk"]
    assert stats["estimatedSecondsToFinish"] == 0
    assert stats["insideBusinessHours"] is True
    assert stats["nextWindowOpensAt"] is None
    # 80 answered at once, 20 busy then answered, 10 no answer twice, 10 rejected.
    assert sum(m["dials"] for m in stats["dialsPerMinute"]) == 150

    assert metrics["totalCalls"] == sum(everywhere.values())
    assert metrics["completedCalls"] == everywhere.get("COMPLETED", 0)
    assert metrics["permanentlyFailedCalls"] == everywhere.get("PERMANENTLY_FAILED", 0)
    assert metrics["pendingCalls"] == everywhere.get("PENDING", 0)
    assert metrics["totalRetries"] == retries
    assert metrics["totalCampaigns"] == campaigns
    assert metrics["workerPoolSize"] == metrics["lineCapacity"] == CAPACITY
    assert metrics["linesInUse"] == metrics["activeWorkerThreads"] == 0
    assert len(metrics["workers"]) == 2
    assert all(w["callsInFlight"] == 0 for w in metrics["workers"])
    assert metrics["circuitBreaker"] == "closed"
