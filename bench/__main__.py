"""`make bench`: the pipeline's throughput and start-to-first-dial latency, the api's
ingestion, call reads and filtered lists, each next to a baseline measured in the same run, and
the calling rules' cost (bench/calling.py).

Starts its own stack (api, dispatcher, two workers, the mock with no delay and no failures) on
a database and vhost of its own, and prints a Markdown report for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from bench import calling, campaigns, cluster, suppressions, webhooks
from bench.api import call_reads, filtered_lists, ingestion, settled
from bench.baseline import measure as baseline_round_trips
from bench.metrics import console_reads
from shared.db.pool import init_connection
from tests.support.api_client import TEST_API_KEY, ApiClient, MockClient
from tests.support.infra import Infra, create_infra, destroy_infra
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import wait_until

BENCH_SETTINGS = {
    "VCS_API_KEYS": TEST_API_KEY,
    # The benchmark measures the api, not its rate limit.
    "VCS_RATE_LIMIT_PER_SECOND": "1000000",
    "VCS_RATE_LIMIT_BURST": "1000000",
    "VCS_MOCK_DELAY_MIN_MS": "0",
    "VCS_MOCK_DELAY_MAX_MS": "0",
    "VCS_MOCK_FAILURE_RATE": "0",
    "VCS_MOCK_NO_CALLBACK_RATE": "0",
    "VCS_MOCK_SYNC_ERROR_RATE": "0",
    "VCS_LOG_LEVEL": "WARNING",
}


async def wait_all_finished(db: asyncpg.Pool, ids: list[str], deadline_s: float) -> None:
    """Ask the database directly, with a query too small to disturb what is measured."""
    wanted = [UUID(i) for i in ids]

    async def all_completed() -> bool:
        done = await db.fetchval(
            "SELECT count(*) FROM campaigns WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'",
            wanted,
        )
        return bool(done == len(ids))

    await wait_until(all_completed, timeout=deadline_s, interval=0.1, message="every campaign")


async def throughput(
    api: ApiClient, db: asyncpg.Pool, campaigns: int, numbers: int, limit: int, **fields: Any
) -> dict[str, float]:
    ids = []
    for index in range(campaigns):
        created = await api.create_campaign(
            name=f"bench {index}",
            phoneNumbers=fresh_numbers(numbers),
            concurrencyLimit=limit,
            **fields,
        )
        ids.append(created["id"])
    started = time.perf_counter()
    await asyncio.gather(*(api.action(campaign_id, "start") for campaign_id in ids))
    await wait_all_finished(db, ids, deadline_s=600)
    elapsed = time.perf_counter() - started
    return {
        "calls": campaigns * numbers,
        "seconds": elapsed,
        "per_second": campaigns * numbers / elapsed,
    }


async def first_dial_latency(api: ApiClient, mock: MockClient) -> float:
    """Milliseconds from sending `start` to the carrier receiving the first dial."""
    numbers = fresh_numbers(3)
    created = await api.create_campaign(name="latency", phoneNumbers=numbers)
    sent = datetime.now(UTC)
    await api.action(created["id"], "start")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        dials = await mock.calls(campaignId=created["id"])
        if dials:
            first = min(datetime.fromisoformat(d["receivedAt"]) for d in dials)
            return (first - sent).total_seconds() * 1000
        await asyncio.sleep(0.005)
    raise RuntimeError("no dial within 10 s")


async def start_stack(infra: Infra, args: argparse.Namespace) -> Stack:
    """The four processes (and `args.workers` workers) on `infra`, set up for benchmarks."""
    log_dir = Path(tempfile.mkdtemp(prefix="vcs-bench-"))
    # A trunk as large as the campaigns' limits together: the global fence is in the path of
    # every call, but the benchmark measures the pipeline, not a smaller trunk.
    lines = args.campaigns * args.limit
    if args.part == "campaigns":
        lines = max(args.many_campaigns) * args.many_limit
    capacity = {"VCS_MAX_CONCURRENT_CALLS": str(lines)}
    stack = Stack(infra, log_dir, {**BENCH_SETTINGS, **capacity})
    try:
        await stack.start("telephony_mock")
        await stack.start("api")
        await stack.start("dispatcher")
        for n in range(args.workers):
            await stack.start("worker", f"worker-{n + 1}")
    except BaseException:
        await stack.stop_all()
        raise
    return stack


async def cluster_part(
    args: argparse.Namespace, http: aiohttp.ClientSession, classic: tuple[ApiClient, asyncpg.Pool]
) -> list[str]:
    """The pipeline on a cluster of the bench's own with quorum queues, beside `classic`."""
    async with cluster.quorum_infra() as infra:
        stack = await start_stack(infra, args)
        try:
            db = await asyncpg.create_pool(
                infra.database_url, min_size=1, max_size=2, init=init_connection
            )
            async with db:
                api = ApiClient(http, stack.url("api"))
                await MockClient(http, stack.url("telephony_mock")).configure(
                    delayMinMs=0, delayMaxMs=0
                )
                results = await cluster.measure(
                    {"classic": classic, "quorum": (api, db)},
                    throughput,
                    campaigns=args.campaigns,
                    numbers=args.numbers,
                    limit=args.limit,
                    runs=args.runs,
                )
        finally:
            await stack.stop_all()
    return cluster.report(results)


async def run(args: argparse.Namespace) -> str:
    infra = await create_infra("vcs_bench")
    lines: list[str] = []
    stack: Stack | None = None
    try:
        stack = await start_stack(infra, args)
        db = await asyncpg.create_pool(
            infra.database_url, min_size=1, max_size=2, init=init_connection
        )
        async with aiohttp.ClientSession() as http, db:
            api = ApiClient(http, stack.url("api"))
            mock = MockClient(http, stack.url("telephony_mock"))
            await mock.configure(delayMinMs=0, delayMaxMs=0)
            if args.part in ("all", "pipeline"):
                baseline = [
                    await baseline_round_trips(infra.amqp_url, args.baseline_jobs) for _ in range(3)
                ]
                latencies = [
                    await first_dial_latency(api, mock) for _ in range(args.latency_samples)
                ]
                runs = [
                    await throughput(api, db, args.campaigns, args.numbers, args.limit)
                    for _ in range(args.runs)
                ]
                lines += pipeline_report(args, baseline, runs, latencies)
            if args.part in ("all", "api"):
                lines += await api_report(stack, api, db, args.runs)
            if args.part in ("all", "metrics"):
                lines += metrics_report(await console_reads(api, db))
            if args.part == "ingestion":
                lines += await ingestion_report(api, db, args.calling_numbers, args.runs)
            if args.part in ("all", "calling"):
                # One campaign with the lines the pipeline part spreads over its campaigns.
                limit = min(1000, args.campaigns * args.limit)
                results = await calling.measure(api, db, args.calling_numbers, limit, args.runs)
                lines += calling.report(results)
            if args.part in ("all", "suppressions"):
                listed = await suppressions.measure(
                    api,
                    db,
                    throughput,
                    campaigns=args.campaigns,
                    numbers=args.numbers,
                    limit=args.limit,
                    runs=args.runs,
                )
                lines += suppressions.report(listed)
            if args.part in ("all", "webhooks"):
                hooked = await webhooks.measure(
                    api,
                    db,
                    throughput,
                    campaigns=args.campaigns,
                    numbers=args.numbers,
                    limit=args.limit,
                    runs=args.runs,
                )
                lines += webhooks.report(hooked)
            if args.part == "cluster":  # not in "all": it needs root and a cluster's boot
                lines += await cluster_part(args, http, (api, db))
            if args.part == "campaigns":  # not in "all": it dials 160,000 numbers
                many = await campaigns.measure(
                    stack,
                    http,
                    db,
                    sizes=args.many_campaigns,
                    numbers=args.many_numbers,
                    limit=args.many_limit,
                    call_ms=args.many_call_ms,
                    window_s=args.many_window_s,
                    arms=args.many_arms,
                )
                lines += campaigns.report(many)
    finally:
        if stack is not None:
            await stack.stop_all()
        await destroy_infra(infra)
    header = (
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()},"
        f" Python {platform.python_version()}, {args.workers} workers."
    )
    return "\n".join(
        [header, "", "| Measure | Median | Runs | Target |", "|---|---|---|---|", *lines]
    )


def pipeline_report(
    args: argparse.Namespace,
    baseline: list[float],
    runs: list[dict[str, float]],
    latencies: list[float],
) -> list[str]:
    rates = [r["per_second"] for r in runs]
    median_rate = statistics.median(rates)
    median_baseline = statistics.median(baseline)
    return [
        f"| Baseline: bare aio-pika job -> result round trips/s | {median_baseline:,.0f}"
        f" | {', '.join(f'{b:,.0f}' for b in baseline)} | - |",
        f"| Calls completed/s end to end ({args.campaigns} campaigns x {args.numbers:,} numbers,"
        f" concurrency {args.limit}) | {median_rate:,.0f} | {', '.join(f'{r:,.0f}' for r in rates)}"
        " | >= 500 |",
        f"| ... as a share of the baseline | {median_rate / median_baseline:.0%} | | |",
        f"| ms from `start` to first dial | {statistics.median(latencies):.1f}"
        f" | {', '.join(f'{x:.1f}' for x in latencies)} | < 100 |",
    ]


async def api_report(stack: Stack, api: ApiClient, db: asyncpg.Pool, runs: int) -> list[str]:
    ingest = await ingestion(api, runs, settled(db))
    reads = await call_reads(stack, api, TEST_API_KEY, runs)
    lists = await filtered_lists(api, db)
    api_rate = statistics.median(r for r, _ in reads["api"])
    base_rate = statistics.median(r for r, _ in reads["baseline"])

    def runs_of(values: list[float], fmt: str) -> str:
        return ", ".join(format(v, fmt) for v in values)

    return [
        f"| s to add 100,000 numbers by JSON (import/batch) |"
        f" {statistics.median(ingest['json']):.2f} | {runs_of(ingest['json'], '.2f')} | < 2 |",
        f"| s to add 100,000 numbers by CSV upload (import) |"
        f" {statistics.median(ingest['csv']):.2f} | {runs_of(ingest['csv'], '.2f')} | < 2 |",
        f"| Baseline: bare aiohttp + one asyncpg primary-key read, req/s (wrk -t2 -c64) |"
        f" {base_rate:,.0f} | {runs_of([r for r, _ in reads['baseline']], ',.0f')} | - |",
        f"| ... its p99 ms | {statistics.median(p for _, p in reads['baseline']):.1f}"
        f" | {runs_of([p for _, p in reads['baseline']], '.1f')} | - |",
        f"| GET /api/v1/calls/{{id}} req/s (wrk -t2 -c64, API key) | {api_rate:,.0f}"
        f" | {runs_of([r for r, _ in reads['api']], ',.0f')} | >= 75 % of baseline |",
        f"| ... as a share of the baseline | {api_rate / base_rate:.0%} | | >= 75 % |",
        f"| ... its p99 ms | {statistics.median(p for _, p in reads['api']):.1f}"
        f" | {runs_of([p for _, p in reads['api']], '.1f')} | - |",
        f"| ms for a page of `calls?status=FAILED` (100,000-number campaign) |"
        f" {lists['FAILED']:.1f} | median of 21 | < 50 |",
        f"| ms for a page of `calls?status=PENDING` (99,000 pending) |"
        f" {lists['PENDING']:.1f} | median of 21 | < 50 |",
    ]


async def ingestion_report(api: ApiClient, db: asyncpg.Pool, count: int, runs: int) -> list[str]:
    """Only the loads of the api and calling parts, in one run (a few minutes, not the half
    hour the calling part's campaigns take), each on a settled server (bench.api.settled)."""
    settle = settled(db)
    plain = await ingestion(api, runs, settle)
    zoned = await calling.ingestion(api, count, runs, settle)
    rows = [
        ("100,000 numbers by JSON (import/batch)", plain["json"]),
        ("100,000 numbers by CSV upload (import)", plain["csv"]),
        (f"{count:,} contacts with a `timezone` attribute by JSON (import/batch)", zoned["json"]),
        (f"{count:,} numbers by CSV upload with a `timezone` column", zoned["csv_timezone"]),
        (f"{count:,} numbers by CSV upload, zones from 20 area codes", zoned["csv_area_codes"]),
    ]
    return [
        f"| s to add {what} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)}"
        " | < 2 |"
        for what, v in rows
    ]


def metrics_report(reads: dict[str, float]) -> list[str]:
    return [
        "| Baseline: the whole-table count GET /api/v1/metrics used to run, ms (1,000,000 calls)"
        f" | {reads['whole_table']:.1f} | median of 7 | - |",
        f"| ms for GET /api/v1/metrics on those calls (90 of 100 campaigns finished) |"
        f" {reads['metrics']:.1f} | median of 7 | cheap |",
        f"| ms for GET /api/v1/campaigns?size=100 on those calls | {reads['page']:.1f}"
        " | median of 7 | cheap |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--numbers", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=7)
    parser.add_argument("--baseline-jobs", type=int, default=20_000)
    parser.add_argument(
        "--calling-numbers",
        type=int,
        default=100_000,
        help="numbers per campaign of the calling part (a quick trial: 10000)",
    )
    parser.add_argument(
        "--many-campaigns",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1000, 3000],
        help="running campaigns at once in the campaigns part, comma-separated",
    )
    parser.add_argument("--many-numbers", type=int, default=20)
    parser.add_argument("--many-limit", type=int, default=2)
    parser.add_argument(
        "--many-call-ms",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=campaigns.CALL_DELAY_MS,
        help="shortest,longest call at the carrier in the campaigns part (ms)",
    )
    parser.add_argument(
        "--many-window-s",
        type=float,
        default=None,
        help="measure the campaigns part for this long after the starts, then cancel",
    )
    parser.add_argument(
        "--many-arms",
        type=lambda text: text.split(","),
        default=None,
        help="when-changed,every-pass (both by default)",
    )
    parser.add_argument(
        "--part",
        choices=(
            "all",
            "pipeline",
            "api",
            "metrics",
            "calling",
            "ingestion",
            "suppressions",
            "webhooks",
            "cluster",
            "campaigns",
        ),
        default="all",
    )
    args = parser.parse_args()
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
