"""Thousands of running campaigns at once (`python -m bench --part campaigns`).

For each size (1,000 and 3,000 campaigns of 20 numbers by default), the dispatcher is run
twice in turn: asking the broker for every campaign queue's depth on every pass
(`VCS_QUEUE_DEPTH_REFRESH_MS=0`, what it did before) and asking only where a worker may have
taken a job (the default, services/dispatcher/queue_depths.py). Each arm reports the
dispatcher's pass median while at least 90 % of the campaigns are running (from its own
`vcs_dispatcher_tick_seconds` histogram, interpolated within a bucket as Prometheus'
histogram_quantile does), how long the campaigns took, the peak live calls of any campaign
at the carrier against its limit, the workers' memory and broker connections at the peak,
and whether the broker is back to where it was (queues, consumers, channels) once they end.

With `--many-call-ms 60000,120000 --many-window-s 60`, calls last minutes instead of seconds:
thousands of campaigns then ask the machine for tens of calls a second, not hundreds, so the
pass is measured on a machine that the calls themselves do not saturate. Such a run measures
for the window once the first calls can have ended (the steady state: calls ending and
others starting), then cancels the campaigns (they would take most of an hour) and checks
the broker is back once their calls in progress have ended.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import aiohttp
import asyncpg

from tests.faults.harness import BrokerState, Management
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import wait_until

#: Calls last 3 to 9 s at the carrier (real ones last longer): long enough for thousands of
#: campaigns to have calls in progress together without the calls alone saturating the
#: machine's two cores, short enough for a run of 60,000 calls to last minutes.
CALL_DELAY_MS = (3000, 9000)
ARMS = {"when changed": None, "every pass": "0"}
ARM_NAMES = {"when-changed": "when changed", "every-pass": "every pass"}


@dataclass(frozen=True)
class CampaignsRun:
    arm: str
    campaigns: int
    numbers: int
    limit: int
    pass_median_ms: float
    passes: int
    #: Means per pass: depths asked of the broker, ms in each phase.
    reads_per_pass: float
    phase_ms: dict[str, float]
    seconds: float
    #: Set when the campaigns were measured for this many seconds and then cancelled.
    window_s: float | None
    max_live_over_limit: int
    worker_rss_mb: list[float]
    worker_connections: int
    broker_back: str
    #: Each worker's RSS once the campaigns ended and the broker was back.
    worker_rss_after_mb: list[float]
    #: CPU milliseconds (user and system) each of our processes spent per call made.
    cpu_ms_per_call: dict[str, float]


async def measure(
    stack: Stack,
    http: aiohttp.ClientSession,
    db: asyncpg.Pool,
    *,
    sizes: list[int],
    numbers: int,
    limit: int,
    call_ms: tuple[int, int] = CALL_DELAY_MS,
    window_s: float | None = None,
    arms: list[str] | None = None,
) -> list[CampaignsRun]:
    api = ApiClient(http, stack.url("api"))
    mock = MockClient(http, stack.url("telephony_mock"))
    management = Management(http, stack.infra.management_url, stack.infra.vhost)
    chosen = {ARM_NAMES[a]: ARMS[ARM_NAMES[a]] for a in arms} if arms else ARMS
    results = []
    try:
        for size in sizes:
            for arm, refresh in chosen.items():
                await _restart_dispatcher(stack, refresh)
                await mock.configure(delayMinMs=CALL_DELAY_MS[0], delayMaxMs=CALL_DELAY_MS[1])
                await _warm_up(api, db)
                await mock.configure(delayMinMs=call_ms[0], delayMaxMs=call_ms[1])
                run = Run(stack, api, mock, management, db)
                results.append(await run.one(arm, size, numbers, limit, call_ms, window_s))
    finally:
        await mock.configure(delayMinMs=0, delayMaxMs=0)
        await _restart_dispatcher(stack, None)
    return results


async def _restart_dispatcher(stack: Stack, refresh_ms: str | None) -> None:
    await stack.stop("dispatcher")
    settings = {} if refresh_ms is None else {"VCS_QUEUE_DEPTH_REFRESH_MS": refresh_ms}
    await stack.start("dispatcher", **settings)


async def _warm_up(api: ApiClient, db: asyncpg.Pool) -> None:
    """One small campaign through the fresh dispatcher, so that the broker's state taken next
    holds what stays open between campaigns (its read channels, its consumers)."""
    created = await api.create_campaign(name="warm-up", phoneNumbers=fresh_numbers(4))
    await api.action(str(created["id"]), "start")

    async def queue_removed() -> bool:
        removed = await db.fetchval(
            "SELECT queue_removed_at IS NOT NULL FROM campaigns WHERE id = $1",
            UUID(str(created["id"])),
        )
        return bool(removed)

    await wait_until(queue_removed, timeout=120, interval=0.5, message="the warm-up campaign")


async def _settled(management: Management) -> BrokerState:
    """The broker's state once two reads a second apart agree (workers close the channels of
    a removed queue on their next refresh)."""
    last = await management.state()

    async def same_again() -> BrokerState | None:
        nonlocal last
        now, previous = await management.state(), last
        last = now
        return now if now == previous else None

    return await wait_until(same_again, timeout=60, interval=1, message="a settled broker")


@dataclass
class Run:
    stack: Stack
    api: ApiClient
    mock: MockClient
    management: Management
    db: asyncpg.Pool

    async def one(
        self,
        arm: str,
        size: int,
        numbers: int,
        limit: int,
        call_ms: tuple[int, int],
        window_s: float | None,
    ) -> CampaignsRun:
        stack, api, mock, management, db = (
            self.stack, self.api, self.mock, self.management, self.db
        )  # fmt: skip
        before = await _settled(management)
        gate = asyncio.Semaphore(16)

        async def create(index: int) -> str:
            async with gate:
                created = await api.create_campaign(
                    name=f"many {index}",
                    phoneNumbers=fresh_numbers(numbers),
                    concurrencyLimit=limit,
                    # Longer than the longest call: a result later than this is presumed
                    # lost and the number retried, with its first call still live.
                    retryConfig={"callbackTimeoutMs": max(120_000, call_ms[1] + 60_000)},
                )
                return str(created["id"])

        async def act(campaign_id: str, verb: str) -> None:
            async with gate:
                await api.action(campaign_id, verb)

        ids = await asyncio.gather(*(create(i) for i in range(size)))
        wanted = [UUID(i) for i in ids]
        cpu_before = _cpu_seconds(stack)
        started = time.perf_counter()
        await asyncio.gather(*(act(i, "start") for i in ids))
        rss: list[float] = []
        connections = 0

        async def sample_until(done: Callable[[], Awaitable[bool]]) -> None:
            nonlocal rss, connections
            while not await done():
                rss = _workers_rss_mb(stack)
                connections = max(connections, await _worker_connections(management))
                await asyncio.sleep(0.5)

        if window_s:
            # Measured once calls end and new ones start (the steady state), for window_s.
            steady_at = time.perf_counter() + call_ms[0] / 1000

            async def steady() -> bool:
                return time.perf_counter() >= steady_at

            await sample_until(steady)
        first = await _dispatcher_samples(stack)
        window_start = time.perf_counter()

        async def measured() -> bool:
            if window_s:
                return time.perf_counter() - window_start >= window_s
            return await _completed(db, wanted) >= size * 0.1

        await sample_until(measured)
        last = await _dispatcher_samples(stack)
        window = _difference(_pass_buckets(last), _pass_buckets(first))
        passes = window[-1][1] if window else 0.0

        def per_pass(name: str) -> float:
            return (last.get(name, 0.0) - first.get(name, 0.0)) / passes if passes else 0.0

        reads = per_pass("vcs_dispatcher_queue_depth_reads_total")
        phases = {
            phase: per_pass(f'vcs_dispatcher_pass_phase_seconds_total{{phase="{phase}"}}') * 1000
            for phase in ("database", "sharing", "queue depths", "publishing", "housekeeping")
        }
        if window_s:
            await asyncio.gather(*(act(i, "cancel") for i in ids))
        final = "CANCELLED" if window_s else "COMPLETED"

        async def all_done() -> bool:
            return await _finished(db, wanted, final) == size

        await wait_until(all_done, timeout=1800, interval=0.5, message=f"{size} campaigns")
        seconds = time.perf_counter() - started
        cpu_after = _cpu_seconds(stack)
        stats = await mock.stats()
        calls_made = sum(stats["campaigns"].get(i, {}).get("placed", 0) for i in ids)
        cpu_ms_per_call = {
            name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(calls_made, 1)
            for name in cpu_after
        }
        over = max(stats["campaigns"].get(i, {"maxLive": 0})["maxLive"] - limit for i in ids)
        # A cancelled campaign's queue goes once its calls in progress have ended.
        back = await _broker_back(management, before, patience=60 + call_ms[1] / 1000)
        rss_after = _workers_rss_mb(stack)
        await mock.reset()
        return CampaignsRun(
            arm,
            size,
            numbers,
            limit,
            _median_ms(window),
            int(passes),
            reads,
            phases,
            seconds,
            window_s,
            over,
            rss,
            connections,
            back,
            rss_after,
            cpu_ms_per_call,
        )


async def _completed(db: asyncpg.Pool, ids: list[UUID]) -> int:
    return await _finished(db, ids, "COMPLETED")


async def _finished(db: asyncpg.Pool, ids: list[UUID], status: str) -> int:
    done = await db.fetchval(
        "SELECT count(*) FROM campaigns WHERE id = ANY($1::uuid[]) AND status = $2", ids, status
    )
    return int(done)


async def _broker_back(management: Management, before: BrokerState, patience: float) -> str:
    """ "yes", or how the broker differs from `before` after `patience` s of waiting."""
    now = before

    async def back() -> bool:
        nonlocal now
        now = await management.state()
        return (now.queues, now.consumers, now.channels) == (
            before.queues,
            before.consumers,
            before.channels,
        )

    try:
        await wait_until(back, timeout=patience, interval=1, message="broker as before")
    except AssertionError:
        return f"NO: {before.describe()} before, {now.describe()} after"
    return "yes"


async def _worker_connections(management: Management) -> int:
    connections = await management.connections()
    return sum(1 for c in connections if "worker" in (c.get("user_provided_name") or ""))


def _cpu_seconds(stack: Stack) -> dict[str, float]:
    """User and system CPU seconds of each running service so far (/proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for name, service in stack.services.items():
        fields = Path(f"/proc/{service.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are the 14th and 15th fields; 12th and 13th after the name.
        seconds[name] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def _workers_rss_mb(stack: Stack) -> list[float]:
    return [_rss_mb(s.process.pid) for name, s in stack.services.items() if "worker" in name]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


Buckets = list[tuple[float, float]]
Samples = dict[str, float]


async def _dispatcher_samples(stack: Stack) -> Samples:
    """The dispatcher's metrics as `name{labels}` -> value."""
    url = f"{stack.url('dispatcher')}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def _pass_buckets(samples: Samples) -> Buckets:
    """The pass histogram's cumulative buckets: (upper bound in s, passes at most that long)."""
    prefix = 'vcs_dispatcher_tick_seconds_bucket{le="'
    return [
        (float(name[len(prefix) : -2]), value)
        for name, value in samples.items()
        if name.startswith(prefix)
    ]


def _difference(later: Buckets, earlier: Buckets) -> Buckets:
    counts = dict(earlier)
    return [(bound, count - counts.get(bound, 0.0)) for bound, count in later]


def _median_ms(buckets: Buckets) -> float:
    """Interpolated linearly within the bucket holding the middle pass."""
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan")
    half = total / 2
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= half:
            if bound == float("inf"):
                return lower_bound * 1000
            share = (half - lower_count) / (count - lower_count)
            return (lower_bound + (bound - lower_bound) * share) * 1000
        lower_bound, lower_count = bound, count
    return float("nan")


def report(runs: list[CampaignsRun]) -> list[str]:
    lines = []
    targets = {1000: "< 50", 3000: "< 150"}
    for run in runs:
        shape = f"{run.campaigns:,} campaigns x {run.numbers} numbers, limit {run.limit}"
        lines += [
            f"| Dispatcher pass ms, {shape}, depths asked {run.arm}"
            f" | {run.pass_median_ms:.1f} | median of {run.passes:,} passes"
            f" | {targets.get(run.campaigns, '-')} |",
            f"| ... per pass on average: depths asked; ms in"
            f" {', '.join(run.phase_ms)} | {run.reads_per_pass:,.0f};"
            f" {', '.join(f'{v:.0f}' for v in run.phase_ms.values())} | | - |",
            (
                f"| ... measured for {run.window_s:.0f} s, then cancelled; s until all were"
                f" | {run.seconds:.0f} | | all cancelled |"
                if run.window_s
                else f"| ... s for all to finish; calls/s | {run.seconds:.0f};"
                f" {run.campaigns * run.numbers / run.seconds:,.0f} | | all finish |"
            ),
            f"| ... most live calls of a campaign over its limit | {run.max_live_over_limit}"
            " | | <= 0 |",
            f"| ... workers' RSS MB while they ran, after; their broker connections at most"
            f" | {', '.join(f'{m:.0f}' for m in run.worker_rss_mb)};"
            f" {', '.join(f'{m:.0f}' for m in run.worker_rss_after_mb)};"
            f" {run.worker_connections} | | bounded |",
            f"| ... CPU ms per call: {', '.join(run.cpu_ms_per_call)}"
            f" | {', '.join(f'{v:.1f}' for v in run.cpu_ms_per_call.values())} | | - |",
            f"| ... broker back to its queues, consumers and channels"
            f" | {run.broker_back} | | yes |",
        ]
    return lines
