"""The pipeline on a three-node RabbitMQ cluster with quorum queues, next to the machine's one
node with classic queues, alternating in the same run (`python -m bench --part cluster`).

The cluster is the test suite's (tests/support/own_rabbitmq.py: nodes of the bench's own on
spare ports, the machine's broker untouched), so this part needs root and rabbitmq-server, as
`make test-cluster` does. Both stacks stay up the whole run, so the idle one's ticks weigh on
both arms alike; the cluster's three Erlang VMs share the machine's two cores with
everything else, which a real cluster would not: the figure is what replication costs the
pipeline here, an upper bound on what it costs on machines of their own.
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from tests.support.api_client import ApiClient
from tests.support.infra import Infra, create_quorum_infra, destroy_infra
from tests.support.own_processes import make_base_dir
from tests.support.own_rabbitmq import own_rabbit_cluster

Throughput = Callable[..., Awaitable[dict[str, float]]]


@dataclass(frozen=True)
class ClusterResults:
    classic: list[float]
    quorum: list[float]
    campaigns: int
    numbers: int
    limit: int


@asynccontextmanager
async def quorum_infra() -> AsyncIterator[Infra]:
    """A database and a vhost of their own on a three-node cluster, quorum queues declared."""
    base = make_base_dir("vcs-bench-cluster-")
    try:
        async with own_rabbit_cluster("bench", base, 3) as cluster:
            infra = await create_quorum_infra("vcs_bench_qq", cluster)
            try:
                yield infra
            finally:
                await destroy_infra(infra)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def measure(
    arms: dict[str, tuple[ApiClient, asyncpg.Pool]],
    throughput: Throughput,
    *,
    campaigns: int,
    numbers: int,
    limit: int,
    runs: int,
) -> ClusterResults:
    """`arms["classic"]` and `arms["quorum"]`: each stack's api and database, run in turn."""
    rates: dict[str, list[float]] = {"classic": [], "quorum": []}
    for _ in range(runs):
        for name, (api, db) in arms.items():
            result = await throughput(api, db, campaigns, numbers, limit)
            rates[name].append(result["per_second"])
    return ClusterResults(rates["classic"], rates["quorum"], campaigns, numbers, limit)


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def report(r: ClusterResults) -> list[str]:
    classic, quorum = statistics.median(r.classic), statistics.median(r.quorum)
    shape = f"{r.campaigns} campaigns x {r.numbers:,} numbers, concurrency {r.limit}"
    return [
        f"| Calls completed/s ({shape}), one node, classic queues | {classic:,.0f}"
        f" | {_runs(r.classic)} | - |",
        f"| ... three nodes on this machine, quorum queues | {quorum:,.0f}"
        f" | {_runs(r.quorum)} | reported |",
        f"| ... as a share of one classic node | {quorum / classic:.0%} | | |",
    ]
