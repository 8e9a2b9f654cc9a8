"""The broker and the database restarted mid-campaign, on servers of the test's own: the
campaigns finish on their own, and dialling resumes within seconds of their return."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.faults.harness import FaultRun, Prober, fault_run
from tests.support.infra import create_infra
from tests.support.own_postgres import OwnPostgres, own_postgres
from tests.support.own_processes import make_base_dir
from tests.support.own_rabbitmq import OwnRabbitNode, own_rabbit_node
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]

#: Dialling must resume this soon after the broker or database accepts connections again.
RESUME_WITHIN_S = 5.0
OUTAGE_S = 10.0


@pytest.fixture
def base() -> AsyncIterator[Path]:
    folder = make_base_dir("vcs-faults-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def broker(base: Path) -> AsyncIterator[OwnRabbitNode]:
    async with own_rabbit_node("faults", base) as node:
        yield node


@pytest_asyncio.fixture(loop_scope="session")
async def database(base: Path) -> AsyncIterator[OwnPostgres]:
    async with own_postgres("faults", base) as cluster:
        yield cluster


async def resumed_after(run: FaultRun, back_at: datetime, timeout: float = 30) -> float:
    """Seconds from `back_at` to the first dial the carrier received after it."""

    async def first_dial() -> float | None:
        ids = {c["id"] for c in run.campaigns}
        after = [
            datetime.fromisoformat(d["receivedAt"])
            for d in await run.mock.calls()
            if d["campaignId"] in ids and datetime.fromisoformat(d["receivedAt"]) > back_at
        ]
        return (min(after) - back_at).total_seconds() if after else None

    return await wait_until(first_dial, timeout=timeout, interval=0.2, message="a dial")


async def health_of_all(run: FaultRun, without: str = "") -> dict[str, int]:
    statuses = {}
    for name, service in run.stack.services.items():
        if service.module == without:
            continue
        try:
            async with run.http.get(f"{service.base_url}/health") as response:
                statuses[name] = response.status
        except aiohttp.ClientError:
            statuses[name] = 0
    return statuses


async def every_health_check_says(
    run: FaultRun, status: int, timeout: float = 20, without: str = ""
) -> None:
    """Every service's /health answers `status` (but the one named by its module in
    `without`: the mock carrier has no database)."""

    seen: dict[str, int] = {}

    async def all_say() -> bool:
        seen.update(await health_of_all(run, without))
        return set(seen.values()) == {status}

    try:
        await wait_until(all_say, timeout=timeout, interval=0.5, message=f"every /health {status}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; each service's last answer: {seen}") from None


async def test_rabbitmq_restart_mid_campaign(
    tmp_path_factory: pytest.TempPathFactory, broker: OwnRabbitNode
) -> None:
    infra = await create_infra(
        "vcs_fault_mq", amqp_url=broker.amqp_url, management_url=broker.management_url
    )
    async with fault_run(
        "rabbitmq-restart", tmp_path_factory, infra=infra, management_url=broker.management_url
    ) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.2)
        with Prober(run) as prober:
            await broker.stop_app()
            run.fault()
            await every_health_check_says(run, 503)
            await asyncio.sleep(OUTAGE_S)  # the outage's length
            await broker.start_app()
        await prober.finished()
        run.notes.append(f"api answers during the outage: {dict(prober.answers)}")
        back_at = datetime.now(UTC)
        run.fault()
        resumed = await resumed_after(run, back_at)
        await every_health_check_says(run, 200)
        run.notes.append(f"dialling resumed {resumed:.1f} s after the broker was back")
        assert resumed <= RESUME_WITHIN_S, f"dialling resumed {resumed:.1f} s after the broker"
        await run.verify(await run.wait_finished())


async def test_postgresql_restart_mid_campaign(
    tmp_path_factory: pytest.TempPathFactory, database: OwnPostgres
) -> None:
    infra = await create_infra("vcs_fault_pg", database_url=database.url("postgres"))
    async with fault_run("postgresql-restart", tmp_path_factory, infra=infra) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.2)
        with Prober(run) as prober:
            await database.stop(mode="fast")
            run.fault()
            await every_health_check_says(run, 503, without="telephony_mock")
            await asyncio.sleep(OUTAGE_S)  # the outage's length
            await database.start()
        await prober.finished()
        run.notes.append(f"api answers during the outage: {dict(prober.answers)}")
        back_at = datetime.now(UTC)
        run.fault()
        resumed = await resumed_after(run, back_at)
        await every_health_check_says(run, 200)
        run.notes.append(f"dialling resumed {resumed:.1f} s after the database was back")
        assert resumed <= RESUME_WITHIN_S, f"dialling resumed {resumed:.1f} s after the database"
        await run.verify(await run.wait_finished())
