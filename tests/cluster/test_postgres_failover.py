"""PostgreSQL failover mid-campaign: the services name a primary and its synchronous standby
in one multi-host URL (`target_session_attrs=read-write`); the primary is stopped with `-m
immediate` (a machine lost), the standby promoted, and the services find the new primary by
themselves. Counted at the carrier: nothing lost, no number dialled twice at once, the
campaigns finish (FaultRun.verify)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.faults.harness import Prober, fault_run
from tests.faults.test_restarts import every_health_check_says, resumed_after
from tests.support.infra import create_infra
from tests.support.own_postgres import OwnPostgres, own_postgres_pair

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="session")]

#: Dialling must resume this soon after the standby takes writes.
RESUME_WITHIN_S = 10.0


def multi_host_url(primary: OwnPostgres, standby: OwnPostgres) -> str:
    """Both servers, the writable one chosen at each connection (libpq's syntax, which
    asyncpg reads)."""
    hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
    return f"postgresql://postgres@{hosts}/postgres?target_session_attrs=read-write"


async def test_the_standby_is_promoted_mid_campaign(
    tmp_path_factory: pytest.TempPathFactory, base: Path
) -> None:
    async with own_postgres_pair("failover", base) as (primary, standby):
        infra = await create_infra("vcs_failover", database_url=multi_host_url(primary, standby))
        assert "target_session_attrs=read-write" in infra.database_url
        async with fault_run("postgresql-failover", tmp_path_factory, infra=infra) as run:
            await run.create_and_start()
            await run.dialled_at_least(0.2)
            with Prober(run) as prober:
                await primary.stop("immediate")
                run.fault()
                lost_at = time.monotonic()
                await every_health_check_says(run, 503, without="telephony_mock")
                await standby.promote()
                promoted_after = time.monotonic() - lost_at
            await prober.finished()
            back_at = datetime.now(UTC)
            run.fault()
            resumed = await resumed_after(run, back_at)
            await every_health_check_says(run, 200, without="telephony_mock")
            run.notes.append(
                f"standby promoted {promoted_after:.1f} s after the primary was lost;"
                f" dialling resumed {resumed:.1f} s after the promotion;"
                f" api answers meanwhile: {dict(prober.answers)}"
            )
            assert resumed <= RESUME_WITHIN_S, f"dialling resumed {resumed:.1f} s after"
            await run.verify(await run.wait_finished())
            # Nothing the services committed was lost: the new primary holds every call.
            conn = await standby.connect(infra.name)
            try:
                assert await conn.fetchval("SELECT pg_is_in_recovery()") is False
            finally:
                await conn.close()
