"""SIGKILL of every kind of process mid-campaign: nothing lost, nothing dialled twice."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest

from tests.faults.harness import FaultRun, fault_run

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]


async def test_twenty_worker_kills(tmp_path_factory: pytest.TempPathFactory) -> None:
    async with fault_run("worker-kills", tmp_path_factory, workers=3) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        rng = random.Random(20)
        for _ in range(20):
            victim = rng.choice(run.worker_names())
            run.stack.kill(victim)
            run.fault()
            await run.start_worker(victim)
            await asyncio.sleep(0.5)  # the faults' own pace
        await run.verify(await run.wait_finished())


async def active_dispatcher(run: FaultRun) -> str:
    async with aiohttp.ClientSession() as http:
        for name in run.dispatcher_names():
            if name not in run.stack.services:
                continue
            async with http.get(f"{run.stack.url(name)}/health") as response:
                body = await response.json()
                if body["components"]["dispatcher"]["role"] == "active":
                    return name
    raise AssertionError("no active dispatcher")


async def test_five_kills_of_the_active_dispatcher_with_a_standby(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with fault_run("dispatcher-standby", tmp_path_factory, dispatchers=2) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        for _ in range(5):
            victim = await active_dispatcher(run)
            run.stack.kill(victim)
            run.fault()
            await run.start_dispatcher(victim)  # comes back as the standby
            await asyncio.sleep(2)  # the faults' own pace
        await run.verify(await run.wait_finished())


async def test_dispatcher_kills_without_a_standby(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with fault_run("dispatcher-alone", tmp_path_factory, dispatchers=1) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        for _ in range(3):
            run.stack.kill("dispatcher-a")
            run.fault()
            await asyncio.sleep(1)  # dead for a while, as a crashed process is
            await run.start_dispatcher("dispatcher-a")
            await asyncio.sleep(3)
        await run.verify(await run.wait_finished())
