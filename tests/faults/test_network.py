"""A bad network between the services and their broker and database: latency, connections
reset, a blackhole, refused connections. A TCP proxy sits on each path."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.faults.harness import fault_run
from tests.support.chaos_proxy import ChaosProxy
from tests.support.infra import create_infra

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]


def through(url: str, proxy: ChaosProxy) -> str:
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def test_latency_resets_blackholes_and_refusals_on_both_paths(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    infra = await create_infra("vcs_fault_net")
    amqp, pg = urlsplit(infra.amqp_url), urlsplit(infra.database_url)
    async with (
        ChaosProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672, seed=7) as broker_path,
        ChaosProxy(pg.hostname or "127.0.0.1", pg.port or 5432, seed=8) as database_path,
    ):
        settings = {
            "VCS_AMQP_URL": through(infra.amqp_url, broker_path),
            "VCS_DATABASE_URL": through(infra.database_url, database_path),
        }
        async with fault_run("network", tmp_path_factory, infra=infra, settings=settings) as run:
            await run.create_and_start()
            await run.dialled_at_least(0.1)

            async def pace() -> None:
                await asyncio.sleep(3)  # the faults' own schedule

            for path in (broker_path, database_path):
                path.latency_ms, path.jitter_ms = 80, 40
            run.fault()
            await asyncio.sleep(5)  # a slow network for a while
            for path in (broker_path, database_path):
                path.latency_ms = path.jitter_ms = 0
            run.fault()
            await pace()
            for path in (broker_path, database_path):
                await path.reset_all()
                run.fault()
                await pace()
            await broker_path.outage(5, "blackhole")
            run.fault()
            await pace()
            await database_path.outage(5, "blackhole")
            run.fault()
            await pace()
            await asyncio.gather(broker_path.outage(3, "reset"), database_path.outage(3, "reset"))
            run.fault()
            run.notes.append(
                f"broker path: {broker_path.stats.accepted} connections, {broker_path.stats.resets}"
                f" resets; database path: {database_path.stats.accepted} connections,"
                f" {database_path.stats.resets} resets"
            )
            await run.verify(await run.wait_finished())
